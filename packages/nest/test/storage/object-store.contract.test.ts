import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FsObjectStore } from '../../src/shared/storage/fs.object-store';
import {
  ObjectNotFoundError,
  type ObjectStore,
  ObjectStoreUnavailableError,
} from '../../src/shared/storage/object-store.interface';
import { S3ObjectStore } from '../../src/shared/storage/s3.object-store';
import { S3RVER_KEY, startS3Server, type TestS3Server } from '../support/s3-server';

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function keys(store: ObjectStore, prefix: string): Promise<string[]> {
  const found: string[] = [];
  for await (const key of store.list(prefix)) found.push(key);
  return found.sort();
}

/** The one contract both drivers pass. */
function contract(name: string, make: () => Promise<ObjectStore>): void {
  describe(`object store contract: ${name}`, () => {
    let store: ObjectStore;
    beforeAll(async () => {
      store = await make();
      await store.init();
      await store.init(); // idempotent: a second backend starting on the same store
    });

    it('stores bytes and answers them back, binary and empty included', async () => {
      const binary = Buffer.from([0, 255, 1, 254, 10, 13, 0]);
      await store.put('blobs/a/binary', binary);
      await store.put('blobs/a/empty', Buffer.alloc(0));
      expect(await store.get('blobs/a/binary')).toEqual(binary);
      expect(await store.get('blobs/a/empty')).toEqual(Buffer.alloc(0));
      expect(await collect(await store.getStream('blobs/a/binary'))).toEqual(binary);
    });

    it('takes a stream, replaces what was there, and knows what it has', async () => {
      await store.put('blobs/b/one', Readable.from([Buffer.from('hello '), Buffer.from('world')]));
      expect((await store.get('blobs/b/one')).toString()).toBe('hello world');
      await store.put('blobs/b/one', Buffer.from('replaced'));
      expect((await store.get('blobs/b/one')).toString()).toBe('replaced');
      expect(await store.has('blobs/b/one')).toBe(true);
      expect(await store.has('blobs/b/none')).toBe(false);
    });

    it('answers ObjectNotFoundError for a missing key, in get and getStream', async () => {
      await expect(store.get('blobs/missing/x')).rejects.toBeInstanceOf(ObjectNotFoundError);
      await expect(store.getStream('blobs/missing/x')).rejects.toBeInstanceOf(ObjectNotFoundError);
    });

    it('deletes, and deleting a missing key is not an error', async () => {
      await store.put('blobs/c/gone', Buffer.from('x'));
      await store.delete('blobs/c/gone');
      expect(await store.has('blobs/c/gone')).toBe(false);
      await expect(store.delete('blobs/c/gone')).resolves.toBeUndefined();
    });

    it('lists keys by prefix', async () => {
      for (const key of ['list/x/1', 'list/x/2', 'list/y/1']) await store.put(key, Buffer.from(key));
      expect(await keys(store, 'list/x/')).toEqual(['list/x/1', 'list/x/2']);
      expect(await keys(store, 'list/')).toEqual(['list/x/1', 'list/x/2', 'list/y/1']);
      expect(await keys(store, 'nothing/')).toEqual([]);
    });

    it('refuses keys that could leave the store', async () => {
      for (const key of ['../escape', '/absolute', 'a/../b', 'a//b', 'A/Upper', '']) {
        await expect(store.put(key, Buffer.from('x'))).rejects.toThrow(/invalid object key/);
      }
    });
  });
}

const cleanups: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'builder-objects-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

let s3: TestS3Server | undefined;
async function s3Server(): Promise<TestS3Server> {
  if (!s3) {
    s3 = await startS3Server();
    const server = s3;
    cleanups.push(() => server.close());
  }
  return s3;
}

function s3Store(
  server: TestS3Server,
  bucket: string,
  credentials = { key: S3RVER_KEY, secret: S3RVER_KEY },
): S3ObjectStore {
  const store = new S3ObjectStore({
    endpoint: server.endpoint,
    bucket,
    region: 'us-east-1',
    accessKeyId: credentials.key,
    secretAccessKey: credentials.secret,
    forcePathStyle: true,
  });
  cleanups.push(() => store.destroy());
  return store;
}

contract('fs (a folder of the data directory)', async () => new FsObjectStore(join(tempDir(), 'objects')));
contract('s3 (a real S3-compatible server on loopback: s3rver)', async () =>
  s3Store(await s3Server(), 'contract-bucket'),
);

describe('object store drivers: their own promises', () => {
  it('fs: a put lands in place with no staging file left, and the staging folder is never listed', async () => {
    const root = join(tempDir(), 'objects');
    const store = new FsObjectStore(root);
    await store.init();
    await store.put('blobs/sha256/ab/abc', Buffer.from('content'));
    expect(readdirSync(join(root, '.staging'))).toEqual([]);
    expect(readdirSync(join(root, 'blobs/sha256/ab'))).toEqual(['abc']);
    expect(await keys(store, '')).toEqual(['blobs/sha256/ab/abc']);
  });

  it('fs: a root that cannot be created answers ObjectStoreUnavailableError', async () => {
    const file = join(tempDir(), 'a-file');
    writeFileSync(file, 'not a folder');
    await expect(new FsObjectStore(join(file, 'objects')).init()).rejects.toBeInstanceOf(
      ObjectStoreUnavailableError,
    );
  });

  it('s3: creates a missing bucket, and a second init finds it', async () => {
    const server = await s3Server();
    const store = s3Store(server, 'made-on-init');
    await store.init();
    await store.put('k', Buffer.from('v'));
    const again = s3Store(server, 'made-on-init');
    await again.init();
    expect((await again.get('k')).toString()).toBe('v');
  });

  it('s3: a service that does not answer or refuses is ObjectStoreUnavailableError; a secret never shows in a message', async () => {
    const server = await s3Server();
    const secret = 'not-the-secret-0123456789';
    const wrong = s3Store(server, 'contract-bucket', { key: 'UNKNOWNKEY', secret });
    const error = await wrong.put('k', Buffer.from('v')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ObjectStoreUnavailableError);
    expect(String((error as Error).message)).not.toContain(secret);

    // A loopback port nothing listens on (the server's own, once closed).
    const closed = await startS3Server();
    const endpoint = closed.endpoint;
    await closed.close();
    const down = new S3ObjectStore({
      endpoint,
      bucket: 'b',
      region: 'us-east-1',
      accessKeyId: 'a',
      secretAccessKey: 'b',
      forcePathStyle: true,
    });
    cleanups.push(() => down.destroy());
    await expect(down.get('k')).rejects.toBeInstanceOf(ObjectStoreUnavailableError);
  });
});
