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

/** A user's project: its files live in versions; `headVersionId` is the current one. */
@Entity({ name: 'projects' })
@Index('projects_user_id_updated_at_idx', ['userId', 'updatedAt'])
export class ProjectEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'user_id', type: 'uuid' })
  userId: string;

  @ManyToOne(() => UserEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'projects_user_id_fkey' })
  user?: UserEntity;

  @Column({ type: 'text' })
  name: string;

  @Column({ name: 'template_name', type: 'text' })
  templateName: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column({ name: 'updated_at', type: 'timestamptz', default: () => 'now()' })
  updatedAt: Date;

  /** The current version; null only while the project's first version is being written. */
  @Column({ name: 'head_version_id', type: 'uuid', nullable: true })
  headVersionId: string | null;

  /** Number of the current version (versions count 1, 2, 3… per project). */
  @Column({ name: 'head_number', type: 'integer', default: 0 })
  headNumber: number;
}
