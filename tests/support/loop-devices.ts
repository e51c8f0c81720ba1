import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** Attached loop devices whose backing file lies under `dir` (read from sysfs). */
export function loopDevicesUnder(dir: string): string[] {
  const names = (() => {
    try {
      return readdirSync('/sys/block').filter((name) => /^loop\d+$/.test(name));
    } catch {
      return [];
    }
  })();
  return names.flatMap((name) => {
    try {
      const backing = readFileSync(`/sys/block/${name}/loop/backing_file`, 'utf8').trim();
      return backing.startsWith(`${dir}/`) ? [`/dev/${name}`] : [];
    } catch {
      return []; // not attached
    }
  });
}

/**
 * Detaches the loop devices of workspace file systems a backend made under its DATA_DIR `dir`
 * (the kernel-enforced storage limit), for a test's clean-up after a failure; the backend releases
 * them itself with each workspace.
 */
export function releaseLoopDevicesUnder(dir: string): void {
  for (const device of loopDevicesUnder(dir)) {
    try {
      execFileSync('losetup', ['--detach', device], { stdio: 'ignore' });
    } catch {
      // detached meanwhile
    }
  }
}
