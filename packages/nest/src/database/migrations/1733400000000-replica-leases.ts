import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Several API replicas on one database:
 * - `workspace_leases`: work one replica must own (a running session's relay, log follower and
 *   health checks; a start in progress; the replica's own presence), held until `expires_at` and
 *   renewed by its `owner`, taken over by another replica once it has expired;
 * - a trigger announcing every session status change on channel `workspace_session_status`
 *   (LISTEN/NOTIFY, sent at commit), so every replica's preview proxy and relays hear that a
 *   session ended whoever ended it;
 * - `socket_io_attachments`: the Socket.IO PostgreSQL adapter's table for payloads too large for a
 *   NOTIFY (its schema as the adapter documents it).
 */
export class ReplicaLeases1733400000000 implements MigrationInterface {
  name = 'ReplicaLeases1733400000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE workspace_leases (
        name        text PRIMARY KEY,
        owner       text NOT NULL,
        expires_at  timestamptz NOT NULL,
        acquired_at timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query(`CREATE INDEX workspace_leases_owner_idx ON workspace_leases (owner)`);
    await queryRunner.query(`
      CREATE FUNCTION workspace_session_status_notify() RETURNS trigger AS $$
      BEGIN
        PERFORM pg_notify('workspace_session_status',
          json_build_object('sessionId', NEW.id, 'status', NEW.status, 'previous', OLD.status)::text);
        RETURN NEW;
      END
      $$ LANGUAGE plpgsql`);
    await queryRunner.query(`
      CREATE TRIGGER workspace_session_status_notify
        AFTER UPDATE OF status ON workspace_sessions
        FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
        EXECUTE FUNCTION workspace_session_status_notify()`);
    await queryRunner.query(`
      CREATE TABLE socket_io_attachments (
        id         bigserial UNIQUE,
        created_at timestamptz DEFAULT now(),
        payload    bytea
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE socket_io_attachments`);
    await queryRunner.query(`DROP TRIGGER workspace_session_status_notify ON workspace_sessions`);
    await queryRunner.query(`DROP FUNCTION workspace_session_status_notify()`);
    await queryRunner.query(`DROP TABLE workspace_leases`);
  }
}
