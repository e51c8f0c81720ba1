import type { DataSource } from 'typeorm';

/** First key of the migrations' advisory lock ("bld" + 3). */
const LOCK_NAMESPACE = 0x626c6403;
const MIGRATIONS_KEY = 1;

/**
 * Runs the pending migrations on a PostgreSQL server, one process at a time. Replicas started
 * together on an empty database (a stack's first deploy) each ran the first migration, and all but
 * one failed on its `CREATE TYPE` (a duplicate key in pg_type) and were restarted. The lock is a
 * session lock on a connection of its own, so it goes with a process that dies holding it; the
 * next holder finds the migrations done and runs none.
 */
export async function runMigrationsOnce(dataSource: DataSource): Promise<void> {
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    await runner.query('SELECT pg_advisory_lock($1::int, $2::int)', [LOCK_NAMESPACE, MIGRATIONS_KEY]);
    await dataSource.runMigrations({ transaction: 'each' });
  } finally {
    await runner.query('SELECT pg_advisory_unlock($1::int, $2::int)', [LOCK_NAMESPACE, MIGRATIONS_KEY]).catch(() => undefined);
    await runner.release();
  }
}
