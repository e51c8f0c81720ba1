import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { ProjectVersionEntity } from './project-version.entity';

/**
 * One line of a version's manifest: a path and the content-addressed blob (sha256, hex) holding its
 * bytes in the object store. Blobs are shared by every version and project with the same content.
 */
@Entity({ name: 'project_version_files' })
@Index('project_version_files_blob_hash_idx', ['blobHash'])
export class ProjectVersionFileEntity {
  @PrimaryColumn({ name: 'version_id', type: 'uuid' })
  versionId: string;

  @ManyToOne(() => ProjectVersionEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'version_id', foreignKeyConstraintName: 'project_version_files_version_id_fkey' })
  version?: ProjectVersionEntity;

  @PrimaryColumn({ type: 'text' })
  path: string;

  @Column({ name: 'blob_hash', type: 'text' })
  blobHash: string;

  @Column({ type: 'integer' })
  size: number;
}
