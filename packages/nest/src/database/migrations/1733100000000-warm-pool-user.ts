import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The system account owning the warm pool's sessions (POOL_USER_ID in
 * modules/workspace/pool/warm-pool.constants.ts; repeated here so the migration never changes with
 * the code). Its password hash is well-formed bcrypt that matches no password: it cannot log in.
 */
export class WarmPoolUser1733100000000 implements MigrationInterface {
  name = 'WarmPoolUser1733100000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `INSERT INTO users (id, email, password_hash) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
      ['00000000-0000-4000-8000-00000000b001', 'warm-pool@system.invalid', `$2b$10$${'.'.repeat(53)}`],
    );
    // The claim looks for the oldest running pooled session of a template.
    await queryRunner.query(
      `CREATE INDEX workspace_sessions_pool_idx ON workspace_sessions (template_name, created_at)
         WHERE user_id = '00000000-0000-4000-8000-00000000b001' AND status = 'running'`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX IF EXISTS workspace_sessions_pool_idx`);
    await queryRunner.query(`DELETE FROM users WHERE id = '00000000-0000-4000-8000-00000000b001'`);
  }
}
