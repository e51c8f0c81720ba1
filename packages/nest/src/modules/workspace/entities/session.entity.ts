import type { BuildStep, ResourceAllocation } from '@builder/shared';
import { WORKSPACE_STATUSES, WorkspaceStatus } from '@builder/shared';
import {
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

/** One preview session: a workspace (container or local process), its port and its lifecycle. */
@Entity({ name: 'workspace_sessions' })
export class WorkspaceSessionEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Index('workspace_sessions_user_id_idx')
  @Column({ name: 'user_id', type: 'uuid' })
  userId: string;

  @ManyToOne(() => UserEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id' })
  user?: UserEntity;

  /** The project this session previews (null for a warm-pool workspace not yet claimed). */
  @Index('workspace_sessions_project_id_idx')
  @Column({ name: 'project_id', type: 'uuid', nullable: true })
  projectId: string | null;

  @ManyToOne(() => ProjectEntity, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'project_id' })
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

  @Column({ name: 'last_activity_at', type: 'timestamptz' })
  lastActivityAt: Date;

  @Column({ name: 'resource_allocation', type: 'jsonb' })
  resourceAllocation: ResourceAllocation;

  @Column({ name: 'error_message', type: 'text', nullable: true })
  errorMessage: string | null;

  /** Capability for the authenticated preview proxy: random and unguessable. Never returned by the API. */
  @Column({ name: 'preview_token', type: 'text', select: false })
  previewToken: string;

  @Column({ name: 'updated_at', type: 'timestamptz', default: () => 'now()' })
  updatedAt: Date;
}
