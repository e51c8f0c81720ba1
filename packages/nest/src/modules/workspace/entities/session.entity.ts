import type { BuildStep, ResourceAllocation } from '@builder/shared';
import { WORKSPACE_STATUSES, WorkspaceStatus } from '@builder/shared';
import {
  Check,
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
} from 'typeorm';
import { UserEntity } from '../../auth/entities/user.entity';
import { ProjectEntity } from '../../projects/entities/project.entity';

/**
 * One preview session: a workspace (container or local process), its port and its lifecycle.
 * Constraints and indexes carry the names the migrations gave them, so a generated migration finds
 * nothing to change (test/database/migrations.test.ts holds this). TypeORM compares indexes by
 * name and columns, not by their WHERE clause: change a partial index's condition under a new name.
 */
@Entity({ name: 'workspace_sessions' })
@Check('workspace_sessions_port_check', 'port BETWEEN 1 AND 65535')
// The database, not process memory, keeps two active sessions off one port.
@Index('workspace_sessions_active_port_key', ['port'], {
  unique: true,
  where: `status IN ('creating', 'running', 'stopping')`,
})
// The warm pool's claim looks for the oldest running pooled session of a template (POOL_USER_ID).
@Index('workspace_sessions_pool_idx', ['templateName', 'createdAt'], {
  where: `user_id = '00000000-0000-4000-8000-00000000b001' AND status = 'running'`,
})
export class WorkspaceSessionEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Index('workspace_sessions_user_id_idx')
  @Column({ name: 'user_id', type: 'uuid' })
  userId: string;

  @ManyToOne(() => UserEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'workspace_sessions_user_id_fkey' })
  user?: UserEntity;

  /** The project this session previews (null for a warm-pool workspace not yet claimed). */
  @Index('workspace_sessions_project_id_idx')
  @Column({ name: 'project_id', type: 'uuid', nullable: true })
  projectId: string | null;

  @ManyToOne(() => ProjectEntity, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'project_id', foreignKeyConstraintName: 'workspace_sessions_project_id_fkey' })
  project?: ProjectEntity;

  /**
   * The project version whose files were laid out in the workspace. Set once they are, and cleared
   * when a later change of the project could not be applied to it: only a workspace that mirrors
   * its project has its files captured as a version when it stops.
   */
  @Column({ name: 'layout_version_id', type: 'uuid', nullable: true })
  layoutVersionId: string | null;

  @Column({ name: 'container_id', type: 'text', nullable: true })
  containerId: string | null;

  @Column({ name: 'container_name', type: 'text' })
  containerName: string;

  @Column({ name: 'preview_url', type: 'text', nullable: true })
  previewUrl: string | null;

  @Column({ type: 'integer', nullable: true })
  port: number | null;

  @Index('workspace_sessions_status_idx')
  @Column({
    type: 'enum',
    enum: WORKSPACE_STATUSES,
    enumName: 'workspace_status',
    default: WorkspaceStatus.Creating,
  })
  status: WorkspaceStatus;

  /** What the session should become; a reconcile job moves `status` toward it. */
  @Column({
    name: 'desired_status',
    type: 'enum',
    enum: WORKSPACE_STATUSES,
    enumName: 'workspace_status',
    default: WorkspaceStatus.Running,
  })
  desiredStatus: WorkspaceStatus;

  @Column({ name: 'template_name', type: 'text' })
  templateName: string;

  @Column({ name: 'build_step', type: 'text', nullable: true })
  buildStep: BuildStep | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt: Date;

  @Column({ name: 'last_activity_at', type: 'timestamptz', default: () => 'now()' })
  lastActivityAt: Date;

  @Column({ name: 'resource_allocation', type: 'jsonb' })
  resourceAllocation: ResourceAllocation;

  @Column({ name: 'error_message', type: 'text', nullable: true })
  errorMessage: string | null;

  /** Capability for the authenticated preview proxy: random and unguessable. Never returned by the API. */
  @Index('workspace_sessions_preview_token_key', { unique: true })
  @Column({ name: 'preview_token', type: 'text', select: false })
  previewToken: string;

  /**
   * Restarts the health monitor has given this workspace. Kept with the session, so a restarted
   * backend (or another one) does not grant a crashing workspace a fresh budget.
   */
  @Column({ name: 'restart_count', type: 'integer', default: 0 })
  restartCount: number;

  @Column({ name: 'updated_at', type: 'timestamptz', default: () => 'now()' })
  updatedAt: Date;
}
