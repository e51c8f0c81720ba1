import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Users and workspace sessions. Raw SQL limited to what PostgreSQL 15 has, so the same migration
 * serves a PostgreSQL server and the embedded PGlite (PostgreSQL 18).
 */
export class InitialSchema1733000000000 implements MigrationInterface {
  name = 'InitialSchema1733000000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE users (
        id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        email         text NOT NULL,
        password_hash text NOT NULL,
        created_at    timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT users_email_lowercase CHECK (email = lower(email))
      )`);
    await queryRunner.query(`CREATE UNIQUE INDEX users_email_key ON users (email)`);

    await queryRunner.query(
      `CREATE TYPE workspace_status AS ENUM ('creating', 'running', 'stopping', 'stopped', 'error')`,
    );
    await queryRunner.query(`
      CREATE TABLE workspace_sessions (
        id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        user_id             uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        container_id        text,
        container_name      text NOT NULL,
        preview_url         text,
        port                integer CHECK (port BETWEEN 1 AND 65535),
        status              workspace_status NOT NULL DEFAULT 'creating',
        desired_status      workspace_status NOT NULL DEFAULT 'running',
        template_name       text NOT NULL,
        build_step          text,
        created_at          timestamptz NOT NULL DEFAULT now(),
        expires_at          timestamptz NOT NULL,
        last_activity_at    timestamptz NOT NULL DEFAULT now(),
        resource_allocation jsonb NOT NULL,
        error_message       text,
        preview_token       text NOT NULL,
        updated_at          timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query(`CREATE INDEX workspace_sessions_user_id_idx ON workspace_sessions (user_id)`);
    await queryRunner.query(`CREATE INDEX workspace_sessions_status_idx ON workspace_sessions (status)`);
    // The database, not process memory, guarantees that two active sessions never share a port,
    // even with several backend processes. Ended sessions keep no claim on their port.
    await queryRunner.query(`
      CREATE UNIQUE INDEX workspace_sessions_active_port_key ON workspace_sessions (port)
        WHERE status IN ('creating', 'running', 'stopping')`);
    await queryRunner.query(
      `CREATE UNIQUE INDEX workspace_sessions_preview_token_key ON workspace_sessions (preview_token)`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE workspace_sessions`);
    await queryRunner.query(`DROP TYPE workspace_status`);
    await queryRunner.query(`DROP TABLE users`);
  }
}
