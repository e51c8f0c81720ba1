import { Global, Inject, Logger, Module, type OnApplicationShutdown } from '@nestjs/common';
import { AppConfig } from '../../config/app-config';
import { FsObjectStore } from './fs.object-store';
import { OBJECT_STORE, type ObjectStore } from './object-store.interface';
import { S3ObjectStore } from './s3.object-store';

/** The object store the configuration names, initialized (bucket or folder created) before use. */
export async function createObjectStore(config: AppConfig['objectStore']): Promise<ObjectStore> {
  const store =
    config.kind === 's3'
      ? new S3ObjectStore({
          endpoint: config.endpoint,
          bucket: config.bucket,
          region: config.region,
          accessKeyId: config.accessKeyId,
          secretAccessKey: config.secretAccessKey,
          forcePathStyle: config.forcePathStyle,
        })
      : new FsObjectStore(config.dir);
  await store.init();
  new Logger('StorageModule').log(
    config.kind === 's3'
      ? `object store: s3 bucket ${config.bucket}${config.endpoint ? ` at ${config.endpoint}` : ''}`
      : `object store: folder ${config.dir}`,
  );
  return store;
}

/**
 * Provides {@link OBJECT_STORE}: `s3` or `fs`, chosen by OBJECT_STORE (see env.schema.ts), exactly
 * as the runtime module chooses a workspace runtime. Start-up fails with the store's message when it
 * cannot be reached: a backend that cannot save versions must not accept edits.
 */
@Global()
@Module({
  providers: [
    {
      provide: OBJECT_STORE,
      inject: [AppConfig],
      useFactory: (config: AppConfig) => createObjectStore(config.objectStore),
    },
  ],
  exports: [OBJECT_STORE],
})
export class StorageModule implements OnApplicationShutdown {
  constructor(@Inject(OBJECT_STORE) private readonly store: ObjectStore) {}

  onApplicationShutdown(): void {
    if (this.store instanceof S3ObjectStore) this.store.destroy();
  }
}
