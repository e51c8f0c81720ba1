import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Projects and their versions: a version is a manifest (path → sha256 of the content, size) in
 * PostgreSQL; the bytes are content-addressed blobs in the object store, shared by every version
 * and project with the same content. Sessions point at the project they preview.
 */
export class Projects1733300000000 implements MigrationInterface {
  name = 'Projects1733300000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE projects (
        id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        name            text NOT NULL,
        template_name   text NOT NULL,
        created_at      timestamptz NOT NULL DEFAULT now(),
        updated_at      timestamptz NOT NULL DEFAULT now(),
        head_version_id uuid,
        head_number     integer NOT NULL DEFAULT 0
      )`);
    await queryRunner.query(`CREATE INDEX projects_user_id_updated_at_idx ON projects (user_id, updated_at)`);
    await queryRunner.query(`
      CREATE TABLE project_versions (
        id                       uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        project_id               uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
        number                   integer NOT NULL,
        kind                     text NOT NULL,
        author_session_id        uuid,
        restored_from_version_id uuid,
        changed_paths            text[] NOT NULL,
        file_count               integer NOT NULL,
        total_size               bigint NOT NULL,
        created_at               timestamptz NOT NULL DEFAULT now(),
        updated_at               timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query(
      `CREATE UNIQUE INDEX project_versions_project_number_key ON project_versions (project_id, number)`,
    );
    await queryRunner.query(`
      CREATE TABLE project_version_files (
        version_id uuid NOT NULL REFERENCES project_versions (id) ON DELETE CASCADE,
        path       text NOT NULL,
        blob_hash  text NOT NULL,
        size       integer NOT NULL,
        PRIMARY KEY (version_id, path)
      )`);
    // Deleting a project keeps every blob another version still names: found through this index.
    await queryRunner.query(
      `CREATE INDEX project_version_files_blob_hash_idx ON project_version_files (blob_hash)`,
    );
    await queryRunner.query(
      `ALTER TABLE workspace_sessions ADD COLUMN project_id uuid REFERENCES projects (id) ON DELETE SET NULL`,
    );
    await queryRunner.query(`ALTER TABLE workspace_sessions ADD COLUMN layout_version_id uuid`);
    await queryRunner.query(
      `CREATE INDEX workspace_sessions_project_id_idx ON workspace_sessions (project_id)`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX workspace_sessions_project_id_idx`);
    await queryRunner.query(`ALTER TABLE workspace_sessions DROP COLUMN layout_version_id`);
    await queryRunner.query(`ALTER TABLE workspace_sessions DROP COLUMN project_id`);
    await queryRunner.query(`DROP TABLE project_version_files`);
    await queryRunner.query(`DROP TABLE project_versions`);
    await queryRunner.query(`DROP TABLE projects`);
  }
}
