import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The health monitor's restart budget moves from process memory to the session row, so a
 * restarted backend (or a second one) no longer gives a crashing workspace a fresh restart.
 * Generated with `npm run migration:generate -- -n RestartBudget -t 1733200000000`.
 */
export class RestartBudget1733200000000 implements MigrationInterface {
  name = 'RestartBudget1733200000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "workspace_sessions" ADD "restart_count" integer NOT NULL DEFAULT '0'`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "workspace_sessions" DROP COLUMN "restart_count"`);
  }
}
