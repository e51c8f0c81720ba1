import { Module } from '@nestjs/common';
import type { Logger } from 'pino';
import { ROOT_LOGGER } from '../shared/logging/logging.module';
import { TypeOrmModule, type TypeOrmModuleOptions } from '@nestjs/typeorm';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { AppConfig } from '../config/app-config';
import { EmbeddedPostgresService } from './embedded-postgres.service';
import { runMigrationsOnce } from './run-migrations';
import { TYPEORM_SCHEMA_OPTIONS } from './typeorm-options';
import { TypeOrmPinoLogger } from './typeorm-pino.logger';

@Module({ providers: [EmbeddedPostgresService], exports: [EmbeddedPostgresService] })
class EmbeddedPostgresModule {}

/**
 * TypeORM on PostgreSQL: a server when DATABASE_URL is set, otherwise the embedded PGlite.
 * Schema changes only through migrations, run at start-up: on a server by one replica at a time
 * (runMigrationsOnce), on the embedded database (one process) by TypeORM itself.
 */
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      imports: [EmbeddedPostgresModule],
      inject: [AppConfig, EmbeddedPostgresService, ROOT_LOGGER],
      useFactory: async (
        config: AppConfig,
        embedded: EmbeddedPostgresService,
        logger: Logger,
      ): Promise<TypeOrmModuleOptions> => {
        const common = {
          ...TYPEORM_SCHEMA_OPTIONS,
          applicationName: 'builder-nest',
          logging: ['error' as const, 'warn' as const, 'migration' as const],
          logger: new TypeOrmPinoLogger(logger),
          maxQueryExecutionTime: 2000,
        };
        if (config.database.kind === 'postgres') {
          return {
            ...common,
            url: config.database.url,
            migrationsRun: false,
            extra: { max: 10, connectionTimeoutMillis: 10_000 },
            retryAttempts: 2,
            retryDelay: 1000,
          };
        }
        const port = await embedded.start(config.database.dataDir);
        return {
          ...common,
          migrationsRun: true,
          host: '127.0.0.1',
          port,
          username: 'postgres',
          password: 'postgres',
          database: 'postgres',
          // PGlite is a single session: more than one client connection interleaves statements.
          extra: { max: 1, idleTimeoutMillis: 0, connectionTimeoutMillis: 10_000 },
          retryAttempts: 0,
        };
      },
      // A server's migrations under a lock: its pool has a connection for the lock and one for them
      // (PGlite's single connection has not, and needs no lock).
      dataSourceFactory: async (options?: DataSourceOptions) => {
        const dataSource = await new DataSource(options!).initialize();
        if (!options!.migrationsRun) {
          await runMigrationsOnce(dataSource).catch(async (error: unknown) => {
            await dataSource.destroy();
            throw error;
          });
        }
        return dataSource;
      },
    }),
  ],
})
export class DatabaseModule {}
