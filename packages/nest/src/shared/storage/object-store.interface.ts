import type { Readable } from 'node:stream';

/** Injection token of the active {@link ObjectStore}. */
export const OBJECT_STORE = Symbol('OBJECT_STORE');

export type ObjectStoreKind = 'fs' | 's3';

/**
 * A flat key → bytes store for project blobs: S3-compatible services (MinIO, AWS S3, Cloudflare R2)
 * or a folder of the data directory. Keys are plain relative names (`a-z0-9`, `/`, `.`, `_`, `-`).
 * A `put` that resolved is durable: the bytes survive a crash of this process or the machine.
 * Every method throws {@link ObjectStoreUnavailableError} when the store does not answer.
 */
export interface ObjectStore {
  readonly kind: ObjectStoreKind;
  /** Makes the store usable: the bucket or folder is created when missing. */
  init(): Promise<void>;
  /** Stores `body` under `key`, replacing what was there. */
  put(key: string, body: Buffer | Readable): Promise<void>;
  /** The bytes under `key`; {@link ObjectNotFoundError} when there are none. */
  get(key: string): Promise<Buffer>;
  /** The bytes under `key` as a stream; {@link ObjectNotFoundError} when there are none. */
  getStream(key: string): Promise<Readable>;
  has(key: string): Promise<boolean>;
  /** Removes `key`; a missing key is not an error. */
  delete(key: string): Promise<void>;
  /** Every key starting with `prefix`, in no particular order. */
  list(prefix: string): AsyncIterable<string>;
}

export class ObjectNotFoundError extends Error {
  constructor(readonly key: string) {
    super(`object ${key} not found`);
    this.name = 'ObjectNotFoundError';
  }
}

/** The object store did not answer or refused the request. 503 for the API. */
export class ObjectStoreUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ObjectStoreUnavailableError';
  }
}

const KEY = /^[a-z0-9][a-z0-9/_.-]{0,1023}$/;

/** Refuses keys that could name something outside the store (`..`, absolute, odd characters). */
export function assertObjectKey(key: string): string {
  if (
    !KEY.test(key) ||
    key.split('/').some((segment) => segment === '' || segment === '.' || segment === '..')
  ) {
    throw new Error(`invalid object key ${JSON.stringify(key)}`);
  }
  return key;
}
