import { Module } from '@nestjs/common';
import type { Logger } from 'pino';
import { ROOT_LOGGER } from '../shared/logging/logging.module';
import { TypeOrmModule, type TypeOrmModuleOptions } from '@nestjs/typeorm';
import { AppConfig } from '../config/app-config';
import { EmbeddedPostgresService } from './embedded-postgres.service';
import { TYPEORM_SCHEMA_OPTIONS } from './typeorm-options';
import { TypeOrmPinoLogger } from './typeorm-pino.logger';

@Module({ providers: [EmbeddedPostgresService], exports: [EmbeddedPostgresService] })
class EmbeddedPostgresModule {}

/**
 * TypeORM on PostgreSQL: a server when DATABASE_URL is set, otherwise the embedded PGlite.
 * Schema changes only through migrations, run at start-up.
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
          migrationsRun: true,
          applicationName: 'builder-nest',
          logging: ['error' as const, 'warn' as const, 'migration' as const],
          logger: new TypeOrmPinoLogger(logger),
          maxQueryExecutionTime: 2000,
        };
        if (config.database.kind === 'postgres') {
          return {
            ...common,
            url: config.database.url,
            extra: { max: 10, connectionTimeoutMillis: 10_000 },
            retryAttempts: 2,
            retryDelay: 1000,
          };
        }
        const port = await embedded.start(config.database.dataDir);
        return {
          ...common,
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
    }),
  ],
})
export class DatabaseModule {}
