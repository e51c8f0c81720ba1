import { Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { ACTIVE_WORKSPACE_STATUSES, type ResourceAllocation, type WorkspaceStatus } from '@builder/shared';
import { type EntityManager, In, type Repository } from 'typeorm';
import { AppConfig } from '../../config/app-config';
import { SessionNotFoundError } from '../../shared/errors/session-not-found.error';
import { WorkspaceSessionEntity } from './entities/session.entity';

/** Columns a transition may set besides `status`. */
export type SessionPatch = Partial<
  Pick<
    WorkspaceSessionEntity,
    | 'containerId'
    | 'previewUrl'
    | 'port'
    | 'desiredStatus'
    | 'buildStep'
    | 'errorMessage'
    | 'lastActivityAt'
    | 'layoutVersionId'
  >
>;

/**
 * Persistence of workspace sessions. Every status change goes through {@link transition}: an
 * UPDATE conditional on the previous status, so that of two concurrent moves exactly one wins.
 */
@Injectable()
export class WorkspaceSessionRepository {
  private readonly log = new Logger(WorkspaceSessionRepository.name);
  /** When each session's activity was last written by this process. */
  private readonly lastActivityWrite = new Map<string, number>();

  constructor(
    @InjectRepository(WorkspaceSessionEntity) private readonly repo: Repository<WorkspaceSessionEntity>,
    private readonly config: AppConfig,
  ) {}

  /**
   * Moves a session from one of `from` to `to`, setting `patch` with it. Answers whether this call
   * won (false: the session was not in any of `from`, someone else moved it first).
   */
  async transition(
    id: string,
    from: readonly WorkspaceStatus[],
    to: WorkspaceStatus,
    patch: SessionPatch = {},
  ): Promise<boolean> {
    const result = await this.repo
      .createQueryBuilder()
      .update()
      .set({ ...patch, status: to, updatedAt: () => 'now()' })
      .where('id = :id AND status IN (:...from)', { id, from })
      .execute();
    return (result.affected ?? 0) > 0;
  }

  /** Updates columns without a status change, only while the session is in one of `whileIn`. */
  async patch(id: string, whileIn: readonly WorkspaceStatus[], patch: SessionPatch): Promise<boolean> {
    const result = await this.repo
      .createQueryBuilder()
      .update()
      .set({ ...patch, updatedAt: () => 'now()' })
      .where('id = :id AND status IN (:...whileIn)', { id, whileIn })
      .execute();
    return (result.affected ?? 0) > 0;
  }

  /**
   * Takes one restart from a running session's budget of `budget` restarts. The count lives in the
   * row, so a restarted backend or a second one sees the restarts already given. Answers false when
   * the budget is spent (or the session is no longer running).
   */
  async takeRestart(id: string, budget: number): Promise<boolean> {
    const [rows]: [unknown[], number] = await this.repo.query(
      `UPDATE workspace_sessions SET restart_count = restart_count + 1, updated_at = now()
        WHERE id = $1 AND status = 'running' AND restart_count < $2
      RETURNING id`,
      [id, budget],
    );
    return rows.length > 0;
  }

  /** The session if it belongs to `userId`, else {@link SessionNotFoundError} (same answer for both). */
  async findOwned(userId: string, id: string): Promise<WorkspaceSessionEntity> {
    const session = await this.repo.findOne({ where: { id, userId } });
    if (!session) throw new SessionNotFoundError(id);
    return session;
  }

  /**
   * What the preview proxy needs of a session: its status, workspace and preview token (a column
   * never selected otherwise). Null when there is no such session.
   */
  findPreviewTarget(
    id: string,
  ): Promise<Pick<WorkspaceSessionEntity, 'id' | 'status' | 'containerId' | 'previewToken'> | null> {
    return this.repo
      .createQueryBuilder('s')
      .select(['s.id', 's.status', 's.containerId'])
      .addSelect('s.previewToken')
      .where('s.id = :id', { id })
      .getOne();
  }

  /**
   * Records activity for the idle timeout from a hot path (file edits, status polls, socket
   * heartbeats, preview traffic): fire-and-forget, at most one write per session every
   * ACTIVITY_WRITE_INTERVAL_MS (15 s), far below the idle timeout's minutes.
   */
  recordActivity(id: string): void {
    const now = Date.now();
    if ((this.lastActivityWrite.get(id) ?? -Infinity) + this.config.sessions.activityWriteIntervalMs > now)
      return;
    if (this.lastActivityWrite.size >= 10_000) this.lastActivityWrite.clear();
    this.lastActivityWrite.set(id, now);
    this.repo
      .query(`UPDATE workspace_sessions SET last_activity_at = now() WHERE id = $1`, [id])
      .catch((error: unknown) => this.log.warn(`recording activity of ${id} failed: ${String(error)}`));
  }

  findById(id: string): Promise<WorkspaceSessionEntity | null> {
    return this.repo.findOne({ where: { id } });
  }

  /** The user's sessions: active ones first, then newest first. */
  listForUser(userId: string): Promise<WorkspaceSessionEntity[]> {
    return this.repo
      .createQueryBuilder('s')
      .where('s.user_id = :userId', { userId })
      .orderBy(`CASE WHEN s.status IN ('creating', 'running', 'stopping') THEN 0 ELSE 1 END`, 'ASC')
      .addOrderBy('s.created_at', 'DESC')
      .getMany();
  }

  /** Active sessions of a user (inside the caller's transaction when given its manager). */
  async countActive(userId: string, manager: EntityManager = this.repo.manager): Promise<number> {
    return manager.getRepository(WorkspaceSessionEntity).count({
      where: { userId, status: In([...ACTIVE_WORKSPACE_STATUSES]) },
    });
  }

  /** Inserts a new session row inside the caller's transaction and answers it as stored. */
  async insert(
    manager: EntityManager,
    values: Partial<WorkspaceSessionEntity>,
  ): Promise<WorkspaceSessionEntity> {
    const repo = manager.getRepository(WorkspaceSessionEntity);
    const result = await repo.createQueryBuilder().insert().values(values).returning('id').execute();
    const id = (result.raw as Array<{ id: string }>)[0].id;
    return repo.findOneOrFail({ where: { id } });
  }

  /**
   * Hands the oldest running pooled session of a template to `assign.userId`, with a fresh preview
   * token and fresh timestamps, inside the caller's transaction. `SKIP LOCKED` lets concurrent
   * claims take different rows without waiting; the outer condition (still the pool's, still
   * running) makes the claim exactly-once even when a row changed after the subquery saw it.
   * Answers the claimed row's id and port (null on a runtime that publishes none), or null when
   * the pool has nothing ready.
   */
  async claimPooled(
    manager: EntityManager,
    poolUserId: string,
    templateName: string,
    assign: {
      userId: string;
      projectId: string;
      previewToken: string;
      expiresAt: Date;
      resourceAllocation: ResourceAllocation;
    },
  ): Promise<{ id: string; port: number | null } | null> {
    const [rows]: [Array<{ id: string; port: number | null }>, number] = await manager.query(
      `UPDATE workspace_sessions
          SET user_id = $1, preview_token = $2, expires_at = $3, resource_allocation = $4::jsonb, project_id = $7,
              created_at = now(), last_activity_at = now(), updated_at = now(),
              desired_status = 'running', build_step = 'ready', error_message = NULL, restart_count = 0
        WHERE id = (SELECT id FROM workspace_sessions
                     WHERE user_id = $5 AND status = 'running' AND template_name = $6
                       AND container_id IS NOT NULL
                     ORDER BY created_at
                     LIMIT 1
                     FOR UPDATE SKIP LOCKED)
          AND user_id = $5 AND status = 'running'
      RETURNING id, port`,
      [
        assign.userId,
        assign.previewToken,
        assign.expiresAt,
        JSON.stringify(assign.resourceAllocation),
        poolUserId,
        templateName,
        assign.projectId,
      ],
    );
    return rows[0] ?? null;
  }

  /** Sets the preview URL of a session inside the caller's transaction (it names the claimed id). */
  async setPreviewUrl(manager: EntityManager, id: string, previewUrl: string): Promise<void> {
    await manager.query(`UPDATE workspace_sessions SET preview_url = $2 WHERE id = $1`, [id, previewUrl]);
  }

  /** Active sessions previewing a project, with their owners. */
  activeOfProject(projectId: string): Promise<Array<Pick<WorkspaceSessionEntity, 'id' | 'userId'>>> {
    return this.repo.find({
      select: { id: true, userId: true },
      where: { projectId, status: In([...ACTIVE_WORKSPACE_STATUSES]) },
    });
  }

  /** Marks every session of a project as no longer mirroring it (its files will not be captured). */
  async detachFromProject(projectId: string): Promise<void> {
    await this.repo.query(`UPDATE workspace_sessions SET layout_version_id = NULL WHERE project_id = $1`, [
      projectId,
    ]);
  }

  /** Runs `work` in a transaction (use only the manager it is given: the embedded pool has one connection). */
  transaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.repo.manager.transaction(work);
  }
}
