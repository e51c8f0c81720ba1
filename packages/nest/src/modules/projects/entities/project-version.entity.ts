import type { VersionKind } from '@builder/shared';
import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
} from 'typeorm';
import { ProjectEntity } from './project.entity';

/** One saved state of a project's files; its manifest is in `project_version_files`. */
@Entity({ name: 'project_versions' })
@Index('project_versions_project_number_key', ['projectId', 'number'], { unique: true })
export class ProjectVersionEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'project_id', type: 'uuid' })
  projectId: string;

  @ManyToOne(() => ProjectEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'project_id', foreignKeyConstraintName: 'project_versions_project_id_fkey' })
  project?: ProjectEntity;

  @Column({ type: 'integer' })
  number: number;

  @Column({ type: 'text' })
  kind: VersionKind;

  /** The session whose change made it; sessions are never deleted, but this is history, not a link. */
  @Column({ name: 'author_session_id', type: 'uuid', nullable: true })
  authorSessionId: string | null;

  @Column({ name: 'restored_from_version_id', type: 'uuid', nullable: true })
  restoredFromVersionId: string | null;

  @Column({ name: 'changed_paths', type: 'text', array: true })
  changedPaths: string[];

  @Column({ name: 'file_count', type: 'integer' })
  fileCount: number;

  @Column({ name: 'total_size', type: 'bigint' })
  totalSize: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  /** Later than `createdAt` when quick writes of one file were grouped into this version. */
  @Column({ name: 'updated_at', type: 'timestamptz', default: () => 'now()' })
  updatedAt: Date;
}
