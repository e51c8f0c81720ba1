import { execFile } from 'node:child_process';
import { constants as fsConstants, existsSync } from 'node:fs';
import { access, mkdir, open, readdir, readFile, realpath, rename, rm, rmdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { Inject, Injectable } from '@nestjs/common';
import { RUNTIME_OPTIONS, type RuntimeOptions } from './runtime-options';
import { assertSessionId } from './workspace-path.util';
import { WORKSPACE_GID, WORKSPACE_UID } from './workspace-tar.util';

const run = promisify(execFile);
const MIB = 1024 * 1024;
/**
 * Room between the storage limit and the end of the file system. The files API (413) and the
 * health monitor (ends the workspace) act at the limit; the kernel stops what gets past them
 * (a process inside writing faster than a health interval) this much later. It also keeps an API
 * write, at most MAX_FILE_BYTES, from meeting ENOSPC half-way.
 */
const HEADROOM_BYTES = 64 * MIB;
/** ext4's own share of its image (inode tables, journal, reserve for delayed allocation): ~4% at 1 GiB. */
const EXT4_OVERHEAD = 0.05;
const IMAGE_SUFFIX = '.ext4';
const TOOL_DIRS = ['/usr/sbin', '/sbin', '/usr/bin', '/bin'];
const TOOLS = ['mkfs.ext4', 'debugfs', 'losetup'] as const;

/** Size of the image giving a workspace `limitBytes` of files plus the headroom. */
export function loopImageBytes(limitBytes: number): number {
  const bytes = Math.ceil((limitBytes + HEADROOM_BYTES) * (1 + EXT4_OVERHEAD));
  return Math.ceil(bytes / MIB) * MIB;
}

/** Attached loop devices and their backing files, read from sysfs (no process started). */
export async function attachedLoopDevices(): Promise<Array<{ device: string; backingFile: string }>> {
  const names = (await readdir('/sys/block').catch(() => [] as string[])).filter((name) => /^loop\d+$/.test(name));
  const found = await Promise.all(
    names.map(async (name) => {
      // Present only while the device is attached; the kernel appends " (deleted)" to a removed file.
      const backing = await readFile(`/sys/block/${name}/loop/backing_file`, 'utf8').catch(() => null);
      return backing === null ? null : { device: `/dev/${name}`, backingFile: backing.trim().replace(/ \(deleted\)$/, '') };
    }),
  );
  return found.filter((entry): entry is { device: string; backingFile: string } => entry !== null);
}

/**
 * A kernel-enforced storage limit for Docker workspaces: each session's volume is an ext4 file
 * system of its own, in a sparse image (`<dataDir>/workspace-volumes/<deployment>/<sessionId>.ext4`,
 * taking only the space written) attached to a loop device that the engine mounts as a local
 * volume (`type=ext4, device=/dev/loopN`). A writer inside stops with "No space left on device".
 *
 * Needs root, the engine on this host (a unix socket) and e2fsprogs + util-linux; see
 * {@link unavailable}. Docker's own `StorageOpt.size` limits only a container's writable layer
 * (read-only here; the files live on the volume) and only on overlay over XFS with pquota.
 * Images and devices go with the workspace (DockerRuntime.remove / removeBySession) and are found
 * again by reconciliation after a crash (`sessions()`).
 */
@Injectable()
export class LoopVolumes {
  private support: Promise<string | null> | null = null;
  private readonly tools = new Map<string, Promise<string | null>>();

  constructor(@Inject(RUNTIME_OPTIONS) private readonly options: RuntimeOptions) {}

  /** This deployment's folder of images (several deployments may share one data folder). */
  get dir(): string {
    return join(this.options.dataDir, 'workspace-volumes', this.options.deploymentId ?? 'default');
  }

  imageOf(sessionId: string): string {
    return join(this.dir, `${assertSessionId(sessionId)}${IMAGE_SUFFIX}`);
  }

  /** Null when workspaces get a file system of their own here, else why not. Checked once. */
  unavailable(): Promise<string | null> {
    this.support ??= this.check();
    return this.support;
  }

  /**
   * The loop device of the session's file system, made (sized for `limitBytes`, see
   * {@link loopImageBytes}) and attached when needed. An image already there keeps its files.
   */
  async attach(sessionId: string, limitBytes: number): Promise<string> {
    const reason = await this.unavailable();
    if (reason) throw new Error(`no kernel-enforced storage limit on this host: ${reason}`);
    const image = this.imageOf(sessionId);
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const attached = await this.devicesOf(image);
    if (attached.length > 0) return attached[0];
    if (!existsSync(image)) await this.makeImage(image, loopImageBytes(limitBytes));
    const { stdout } = await run(await this.tool('losetup'), ['--find', '--show', image]);
    return stdout.trim();
  }

  /** Detaches the session's loop devices and deletes its image. Idempotent; call once the volume is gone. */
  async release(sessionId: string): Promise<void> {
    const image = this.imageOf(sessionId);
    for (const device of await this.devicesOf(image)) {
      await run(await this.tool('losetup'), ['--detach', device]).catch(async (error: unknown) => {
        // Detached meanwhile by a concurrent release: fine. Anything else is a leak: say so.
        if ((await this.devicesOf(image)).includes(device)) throw error;
      });
    }
    await rm(image, { force: true });
    await rm(`${image}.tmp`, { force: true });
    // The deployment's folder goes with its last image (a test database's deployment is short-lived).
    await rmdir(this.dir).catch(() => undefined);
  }

  /** Sessions with an image (or a half-made one) in this deployment's folder. */
  async sessions(): Promise<string[]> {
    const files = await readdir(this.dir).catch(() => [] as string[]);
    const ids = files
      .map((file) => /^(.+)\.ext4(\.tmp)?$/.exec(file)?.[1])
      .filter((id): id is string => id !== undefined);
    return [...new Set(ids)];
  }

  private async makeImage(image: string, bytes: number): Promise<void> {
    // Made under another name and renamed, so an image under the session's name is always whole.
    const partial = `${image}.tmp`;
    try {
      // The folder may go between our mkdir and this open (a release of the deployment's last image).
      const handle = await open(partial, 'w', 0o600).catch(async (error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') throw error;
        await mkdir(this.dir, { recursive: true, mode: 0o700 });
        return open(partial, 'w', 0o600);
      });
      await handle.truncate(bytes).finally(() => handle.close());
      // No reserved blocks (they are root's), a small journal, the root folder the workspace user's.
      await run(await this.tool('mkfs.ext4'), [
        '-q',
        '-F',
        '-m',
        '0',
        '-J',
        'size=4',
        '-E',
        `root_owner=${WORKSPACE_UID}:${WORKSPACE_GID},lazy_itable_init=1`,
        partial,
      ]);
      // The engine fills a volume from the image's /app (the template, the node_modules link) only
      // while the volume is empty: mkfs's lost+found would leave the workspace without its files.
      await run(await this.tool('debugfs'), ['-w', '-R', 'rmdir lost+found', partial]);
      await rename(partial, image);
    } catch (error) {
      await rm(partial, { force: true });
      throw error;
    }
  }

  private async devicesOf(image: string): Promise<string[]> {
    // The kernel reports the backing file by its canonical path.
    const real = join(await realpath(this.dir).catch(() => this.dir), basename(image));
    return (await attachedLoopDevices()).filter((loop) => loop.backingFile === real).map((loop) => loop.device);
  }

  /** Where a tool is (sbin folders are not on every PATH), or null. */
  private locate(name: (typeof TOOLS)[number]): Promise<string | null> {
    let found = this.tools.get(name);
    if (!found) {
      found = firstExecutable(TOOL_DIRS.map((dir) => join(dir, name)));
      this.tools.set(name, found);
    }
    return found;
  }

  private async tool(name: (typeof TOOLS)[number]): Promise<string> {
    return (await this.locate(name)) ?? name;
  }

  private async check(): Promise<string | null> {
    if (this.options.storageHardLimit === 'off') return 'turned off (WORKSPACE_STORAGE_HARD_LIMIT=off)';
    if (this.options.dockerSocket.startsWith('tcp://') || this.options.dockerSocket.startsWith('http://')) {
      return `the engine is reached over the network (${this.options.dockerSocket}), not on this host`;
    }
    if (process.getuid?.() !== 0) return 'the backend does not run as root (loop devices need it)';
    if (!existsSync('/dev/loop-control')) return 'this host has no loop devices (/dev/loop-control)';
    for (const name of TOOLS) {
      if (!(await this.locate(name))) return `${name} is not installed (Debian packages e2fsprogs and util-linux)`;
    }
    return null;
  }
}

async function firstExecutable(paths: string[]): Promise<string | null> {
  for (const path of paths) {
    if (await access(path, fsConstants.X_OK).then(() => true, () => false)) return path;
  }
  return null;
}
