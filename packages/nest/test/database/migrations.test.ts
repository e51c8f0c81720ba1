import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataSource } from 'typeorm';
import { MIGRATIONS } from '../../src/database/migrations';
import { runMigrationsOnce } from '../../src/database/run-migrations';
import { TYPEORM_SCHEMA_OPTIONS } from '../../src/database/typeorm-options';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

const NEST_DIR = resolve(__dirname, '../..');

/** `npm run <script> -- <args>` in packages/nest, as a developer types it; never throws. */
function npmRun(script: string, args: string[], databaseUrl: string): Promise<{ code: number; output: string }> {
  return new Promise((done) => {
    execFile(
      'npm',
      ['run', '--silent', script, '--', ...args],
      { cwd: NEST_DIR, env: { ...process.env, DATABASE_URL: databaseUrl }, timeout: 120_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        done({ code, output: `${stdout}${stderr}` });
      },
    );
  });
}

/** Tables, columns, types, constraints and indexes of the public schema, in a comparable form. */
async function schemaOf(db: TestDatabase): Promise<string[]> {
  const rows = await db.query<{ item: string }>(`
    SELECT format('column %s.%s %s null=%s default=%s', table_name, column_name, udt_name, is_nullable, column_default) AS item
      FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> 'migrations'
    UNION ALL
    SELECT format('constraint %s %s', conname, pg_get_constraintdef(c.oid))
      FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
     WHERE n.nspname = 'public' AND conrelid <> 'public.migrations'::regclass
    UNION ALL
    SELECT format('index %s', indexdef) FROM pg_indexes WHERE schemaname = 'public' AND tablename <> 'migrations'
    UNION ALL
    SELECT format('type %s (%s)', t.typname, string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder))
      FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid JOIN pg_namespace n ON n.oid = t.typnamespace
     WHERE n.nspname = 'public' GROUP BY t.typname`);
  return rows.map((row) => row.item).sort();
}

describe('TypeORM migrations through the CLI scripts (PostgreSQL 15)', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
  });

  afterAll(async () => {
    await db?.drop();
  });

  it('on a fresh database migrated to the head, generating a migration finds no change: entities and migrations agree', async () => {
    const run = await npmRun('migration:run', [], db.url);
    expect(run.code, run.output).toBe(0);
    for (const migration of MIGRATIONS) expect(run.output).toContain(`Migration ${migration.name} has been executed successfully`);

    const check = await npmRun('migration:generate', ['--check'], db.url);
    expect(check.output).toContain('No changes in database schema were found');
    expect(check.code, check.output).toBe(0);

    const shown = await npmRun('migration:show', [], db.url);
    for (const migration of MIGRATIONS) expect(shown.output).toMatch(new RegExp(`\\[X\\] \\d+ ${migration.name}`));

    // The check notices drift: a database without one column the entities declare fails it,
    // as a schema without the migration for a new entity column would.
    await db.query(`ALTER TABLE workspace_sessions DROP COLUMN restart_count`);
    const drifted = await npmRun('migration:generate', ['--check'], db.url);
    expect(drifted.code).not.toBe(0);
    expect(drifted.output).toMatch(/restart_count/);
    await db.query(`ALTER TABLE workspace_sessions ADD COLUMN restart_count integer NOT NULL DEFAULT 0`);
  });

  it('runs every migration down and up again, back to the same schema', async () => {
    const up = await npmRun('migration:run', [], db.url);
    expect(up.code, up.output).toBe(0);
    const head = await schemaOf(db);
    expect(head.length).toBeGreaterThan(20);

    for (let step = MIGRATIONS.length - 1; step >= 0; step--) {
      const reverted = await npmRun('migration:revert', [], db.url);
      expect(reverted.code, reverted.output).toBe(0);
      expect(reverted.output).toContain(`Migration ${MIGRATIONS[step].name} has been reverted successfully`);
    }
    // All the way down: nothing but TypeORM's own bookkeeping is left.
    expect(await schemaOf(db)).toEqual([]);
    const [{ count }] = await db.query<{ count: string }>(`SELECT count(*) FROM migrations`);
    expect(Number(count)).toBe(0);

    const again = await npmRun('migration:run', [], db.url);
    expect(again.code, again.output).toBe(0);
    expect(await schemaOf(db)).toEqual(head);
    const check = await npmRun('migration:generate', ['--check'], db.url);
    expect(check.code, check.output).toBe(0);
  });

  it('refuses to run without DATABASE_URL, saying why', async () => {
    const answer = await npmRun('migration:show', [], '');
    expect(answer.code).not.toBe(0);
    expect(answer.output).toMatch(/DATABASE_URL is not set/);
  });

  it('migrates a fresh database from several replicas starting at once: each waits its turn, none fails', async () => {
    const fresh = await createTestDatabase();
    const replicas = Array.from({ length: 3 }, () => new DataSource({ ...TYPEORM_SCHEMA_OPTIONS, url: fresh.url, extra: { max: 3 } }));
    try {
      await Promise.all(replicas.map((replica) => replica.initialize()));
      const outcomes = await Promise.allSettled(replicas.map((replica) => runMigrationsOnce(replica)));
      expect(outcomes.filter((o) => o.status === 'rejected')).toEqual([]);
      const applied = await fresh.query<{ name: string }>('SELECT name FROM migrations ORDER BY id');
      expect(applied.map((row) => row.name)).toEqual(MIGRATIONS.map((migration) => migration.name));
      expect(await schemaOf(fresh)).toEqual(await schemaOf(db));
    } finally {
      await Promise.all(replicas.map((replica) => (replica.isInitialized ? replica.destroy() : undefined)));
      await fresh.drop();
    }
  });
});
