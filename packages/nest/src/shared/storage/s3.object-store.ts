import { Readable } from 'node:stream';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import {
  assertObjectKey,
  ObjectNotFoundError,
  type ObjectStore,
  ObjectStoreUnavailableError,
} from './object-store.interface';

export interface S3ObjectStoreOptions {
  /** e.g. `http://minio:9000`; unset for AWS S3 itself. */
  endpoint?: string;
  bucket: string;
  region: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  /** `http://endpoint/bucket/key` instead of `http://bucket.endpoint/key` (MinIO, s3rver). */
  forcePathStyle: boolean;
  /** Bound of one request, including retries' waits per attempt. */
  requestTimeoutMs?: number;
}

/**
 * Objects in a bucket of any S3-compatible service, through the AWS SDK v3. Checksums are sent and
 * checked only where the protocol requires them, which every S3-compatible service accepts.
 * Credentials never reach a log line: errors carry the operation, key and the service's message.
 */
export class S3ObjectStore implements ObjectStore {
  readonly kind = 's3' as const;
  private readonly client: S3Client;

  constructor(private readonly options: S3ObjectStoreOptions) {
    this.client = new S3Client({
      endpoint: options.endpoint,
      region: options.region,
      forcePathStyle: options.forcePathStyle,
      credentials:
        options.accessKeyId && options.secretAccessKey
          ? { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey }
          : undefined,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: 3,
      requestHandler: { connectionTimeout: 5_000, requestTimeout: options.requestTimeoutMs ?? 30_000 },
    });
  }

  get bucket(): string {
    return this.options.bucket;
  }

  async init(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
      return;
    } catch (error) {
      if (statusOf(error) !== 404) throw this.unavailable(error, `check bucket ${this.bucket}`);
    }
    try {
      await this.client.send(new CreateBucketCommand({ Bucket: this.bucket }));
    } catch (error) {
      // Another backend created it meanwhile.
      const name = (error as { name?: string }).name;
      if (name === 'BucketAlreadyOwnedByYou' || name === 'BucketAlreadyExists') return;
      throw this.unavailable(error, `create bucket ${this.bucket}`);
    }
  }

  async put(key: string, body: Buffer | Readable): Promise<void> {
    // PutObject needs the length up front; blobs are small (at most the largest workspace file).
    const bytes = Buffer.isBuffer(body) ? body : await collect(body);
    await this.call(`put ${key}`, () =>
      this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: assertObjectKey(key),
          Body: bytes,
          ContentLength: bytes.length,
        }),
      ),
    );
  }

  async get(key: string): Promise<Buffer> {
    return collect(await this.getStream(key));
  }

  async getStream(key: string): Promise<Readable> {
    const result = await this.call(`get ${key}`, () =>
      this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: assertObjectKey(key) })),
    );
    const body = result.Body;
    if (body instanceof Readable) return body;
    if (body && typeof (body as { transformToByteArray?: unknown }).transformToByteArray === 'function') {
      return Readable.from([
        Buffer.from(await (body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray()),
      ]);
    }
    throw new ObjectStoreUnavailableError(`get ${key}: the service answered without a body`);
  }

  async has(key: string): Promise<boolean> {
    try {
      await this.call(`head ${key}`, () =>
        this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: assertObjectKey(key) })),
      );
      return true;
    } catch (error) {
      if (error instanceof ObjectNotFoundError) return false;
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    await this.call(`delete ${key}`, () =>
      this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: assertObjectKey(key) })),
    ).catch((error: unknown) => {
      if (!(error instanceof ObjectNotFoundError)) throw error;
    });
  }

  async *list(prefix: string): AsyncIterable<string> {
    let token: string | undefined;
    do {
      const page = await this.call(`list ${prefix}`, () =>
        this.client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }),
        ),
      );
      for (const object of page.Contents ?? []) if (object.Key) yield object.Key;
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  /** Closes the client's kept connections. */
  destroy(): void {
    this.client.destroy();
  }

  private async call<T>(what: string, send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (error) {
      if (statusOf(error) === 404 || (error as { name?: string }).name === 'NoSuchKey') {
        throw new ObjectNotFoundError(what.slice(what.indexOf(' ') + 1));
      }
      throw this.unavailable(error, what);
    }
  }

  private unavailable(error: unknown, what: string): ObjectStoreUnavailableError {
    const message = error instanceof Error ? error.message : String(error);
    return new ObjectStoreUnavailableError(
      `object store (s3, bucket ${this.bucket}): ${what} failed: ${message}`,
      { cause: error },
    );
  }
}

function statusOf(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

async function collect(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream)
    chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}
