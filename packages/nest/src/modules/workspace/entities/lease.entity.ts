import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * Work held by one API replica: `session:<id>` (a running session's relay, log follower and health
 * checks), `start:<id>` (a start queued or running there), `replica:<id>` (the replica is alive).
 * Names and indexes match migration 1733400000000.
 */
@Entity({ name: 'workspace_leases' })
export class LeaseEntity {
  @PrimaryColumn({ type: 'text' })
  name: string;

  @Index('workspace_leases_owner_idx')
  @Column({ type: 'text' })
  owner: string;

  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt: Date;

  @Column({ name: 'acquired_at', type: 'timestamptz', default: () => 'now()' })
  acquiredAt: Date;
}
