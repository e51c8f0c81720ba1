import { Check, Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

// Constraints and indexes carry the names the migrations gave them, so a generated migration finds
// nothing to change (test/database/migrations.test.ts holds this).
@Entity({ name: 'users' })
@Check('users_email_lowercase', 'email = lower(email)')
export class UserEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  /** Always stored lower-cased (a CHECK constraint holds it). */
  @Index('users_email_key', { unique: true })
  @Column({ type: 'text' })
  email: string;

  @Column({ name: 'password_hash', type: 'text', select: false })
  passwordHash: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
