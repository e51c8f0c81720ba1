import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { Inject, Injectable } from '@nestjs/common';
import { OBJECT_STORE, type ObjectStore } from '../../shared/storage/object-store.interface';

/** How many blobs move to or from the store at once. */
const PARALLEL = 8;

/** The sha256 of some bytes, in hex: a blob's name. */
export function blobHash(content: Buffer): string {
  return createHash('sha256').update(content).digest('hex');
}

/** Where a blob lives in the store; the two-letter folder keeps `fs` folders small. */
export function blobKey(hash: string): string {
  if (!/^[0-9a-f]{64}$/.test(hash)) throw new Error(`invalid blob hash ${JSON.stringify(hash)}`);
  return `blobs/sha256/${hash.slice(0, 2)}/${hash}`;
}

/**
 * File contents of every project, content-addressed in the object store: one blob per distinct
 * content however many versions and projects hold it (git's object model, without a git server).
 * Which blobs may be deleted is decided by {@link ProjectVersionsService} under its GC lock.
 */
@Injectable()
export class BlobStore {
  constructor(@Inject(OBJECT_STORE) private readonly store: ObjectStore) {}

  get storeKind(): ObjectStore['kind'] {
    return this.store.kind;
  }

  /** Stores each content that is not in the store yet; answers the bytes newly stored. */
  async ensure(contents: Iterable<[hash: string, content: Buffer]>): Promise<number> {
    let stored = 0;
    await eachLimited([...contents], async ([hash, content]) => {
      const key = blobKey(hash);
      if (await this.store.has(key)) return;
      await this.store.put(key, content);
      stored += content.length;
    });
    return stored;
  }

  get(hash: string): Promise<Buffer> {
    return this.store.get(blobKey(hash));
  }

  getStream(hash: string): Promise<Readable> {
    return this.store.getStream(blobKey(hash));
  }

  /** The contents of several blobs, by hash. */
  async getMany(hashes: Iterable<string>): Promise<Map<string, Buffer>> {
    const result = new Map<string, Buffer>();
    await eachLimited([...new Set(hashes)], async (hash) => {
      result.set(hash, await this.get(hash));
    });
    return result;
  }

  async deleteMany(hashes: Iterable<string>): Promise<void> {
    await eachLimited([...hashes], (hash) => this.store.delete(blobKey(hash)));
  }
}

/** Runs `work` on every item, at most {@link PARALLEL} at once; the first failure rejects. */
async function eachLimited<T>(items: T[], work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await work(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, items.length) }, worker));
}
