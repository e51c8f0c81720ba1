import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import type { Readable } from 'node:stream';
import {
  assertObjectKey,
  ObjectNotFoundError,
  type ObjectStore,
  ObjectStoreUnavailableError,
} from './object-store.interface';

/** Where an object is written before it is renamed into place (never listed). */
const STAGING = '.staging';

/**
 * Objects as files under one folder of the data directory: the embedded default, so the builder
 * keeps projects with no S3 service. A put writes a staging file, flushes it to disk, renames it
 * into place and flushes the folder, so a crash leaves either the old object or the new one.
 */
export class FsObjectStore implements ObjectStore {
  readonly kind = 'fs' as const;

  constructor(private readonly root: string) {}

  async init(): Promise<void> {
    try {
      await mkdir(join(this.root, STAGING), { recursive: true, mode: 0o700 });
    } catch (error) {
      throw new ObjectStoreUnavailableError(
        `cannot create the object folder ${this.root}: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }

  async put(key: string, body: Buffer | Readable): Promise<void> {
    const target = this.path(key);
    const staging = join(this.root, STAGING, `${randomBytes(8).toString('hex')}.tmp`);
    const handle = await open(staging, 'wx', 0o600);
    try {
      if (Buffer.isBuffer(body)) {
        await handle.writeFile(body);
      } else {
        for await (const chunk of body) await handle.write(chunk as Buffer);
      }
      await handle.sync();
    } catch (error) {
      await handle.close();
      await rm(staging, { force: true });
      throw error;
    }
    await handle.close();
    try {
      await mkdir(dirname(target), { recursive: true, mode: 0o700 });
      await rename(staging, target);
      await syncDir(dirname(target));
    } catch (error) {
      await rm(staging, { force: true });
      throw error;
    }
  }

  async get(key: string): Promise<Buffer> {
    try {
      return await readFile(this.path(key));
    } catch (error) {
      throw this.missing(error, key);
    }
  }

  async getStream(key: string): Promise<Readable> {
    // Opened before it is handed out, so a missing object is an error here, not in the stream.
    const handle = await open(this.path(key), 'r').catch((error: unknown) => {
      throw this.missing(error, key);
    });
    return handle.createReadStream({ autoClose: true });
  }

  async has(key: string): Promise<boolean> {
    try {
      return (await stat(this.path(key))).isFile();
    } catch {
      return false;
    }
  }

  async delete(key: string): Promise<void> {
    await unlink(this.path(key)).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
  }

  async *list(prefix: string): AsyncIterable<string> {
    const walk = async function* (dir: string, root: string): AsyncIterable<string> {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw error;
      }
      for (const entry of entries) {
        const absolute = join(dir, entry.name);
        const key = relative(root, absolute).split('\\').join('/');
        if (key === STAGING) continue;
        if (entry.isDirectory()) yield* walk(absolute, root);
        else if (entry.isFile()) yield key;
      }
    };
    for await (const key of walk(this.root, this.root)) if (key.startsWith(prefix)) yield key;
  }

  private path(key: string): string {
    return join(this.root, assertObjectKey(key));
  }

  private missing(error: unknown, key: string): unknown {
    return (error as NodeJS.ErrnoException).code === 'ENOENT' ? new ObjectNotFoundError(key) : error;
  }
}

/** Flushes a folder's entries (the rename) to disk. */
async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
