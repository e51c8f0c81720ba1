import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { skipOutsideCi } from './skips';

const exec = promisify(execFile);
export const DOCKER = '/usr/bin/docker';

export async function docker(...args: string[]): Promise<string> {
  const { stdout } = await exec(DOCKER, args, { maxBuffer: 16 * 1024 * 1024 });
  return stdout.trim();
}

export async function dockerAvailable(): Promise<boolean> {
  if (!existsSync('/var/run/docker.sock')) return false;
  try {
    await docker('version', '--format', '{{.Server.Version}}');
    return true;
  } catch {
    return false;
  }
}

/**
 * Outside CI a suite that needs Docker may skip, saying why; in CI a missing engine is a failure.
 */
export async function requireDocker(suite: string): Promise<boolean> {
  if (await dockerAvailable()) return true;
  skipOutsideCi(suite, 'no Docker engine answers on /var/run/docker.sock');
  return false;
}

/**
 * Force-removes every container (with its anonymous volumes) and every volume carrying `label`
 * (`key=value`): what a test started goes by its label, also when the command that made it failed
 * half-way and no id came back.
 */
export async function removeLabelled(label: string): Promise<void> {
  const containers = (await docker('ps', '-aq', '--filter', `label=${label}`)).split('\n').filter(Boolean);
  if (containers.length > 0) await docker('rm', '-f', '-v', ...containers);
  const volumes = (await docker('volume', 'ls', '-q', '--filter', `label=${label}`)).split('\n').filter(Boolean);
  if (volumes.length > 0) await docker('volume', 'rm', '-f', ...volumes);
}
