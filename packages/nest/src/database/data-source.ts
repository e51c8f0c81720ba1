import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { parseEnv } from '../config/app-config';
import { TYPEORM_SCHEMA_OPTIONS } from './typeorm-options';

/**
 * The data source of the TypeORM CLI (`npm run migration:generate|create|run|revert|show` in
 * packages/nest): the app's entities and migrations, on the PostgreSQL of DATABASE_URL, with the
 * environment validated exactly as the app validates it. The embedded database (no DATABASE_URL)
 * has no CLI: the app migrates it at start-up, and a second client would break its one session.
 */
function databaseUrl(): string {
  const url = parseEnv(process.env).DATABASE_URL;
  if (!url) {
    throw new Error(
      'DATABASE_URL is not set: the migrations CLI works on a PostgreSQL server (postgres://user:password@host:5432/db); ' +
        'the embedded database is migrated by the app itself when it starts',
    );
  }
  return url;
}

export default new DataSource({ ...TYPEORM_SCHEMA_OPTIONS, url: databaseUrl() });
