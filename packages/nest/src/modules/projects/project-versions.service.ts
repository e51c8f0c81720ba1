import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { ProjectVersion, VersionFileEntry, VersionKind } from '@builder/shared';
import type { Logger } from 'pino';
import type { DataSource, EntityManager } from 'typeorm';
import { AppConfig } from '../../config/app-config';
import { ProjectNotFoundError } from '../../shared/errors/project-not-found.error';
import { VersionNotFoundError } from '../../shared/errors/version-not-found.error';
import { BlobStore, blobHash } from './blob-store.service';
import { type ChangeSet, type FileWrite, ProjectWorkspacesRegistry } from './project-workspaces.port';

/** A version's files: path → content hash and size. */
export type Manifest = Map<string, { hash: string; size: number }>;

/** The current version of a project, read under its lock. */
export interface Head {
  projectId: string;
  /** Null only for a project whose first version is being written. */
  version: ProjectVersion | null;
  manifest: Manifest;
  /** Whether the head version changed within the grouping window (VERSION_GROUP_WINDOW_MS). */
  recent: boolean;
}

export interface CommitRequest {
  projectId: string;
  kind: Exclude<VersionKind, 'template'>;
  authorSessionId: string | null;
  /** The author's workspace, when the change comes from a session. */
  origin?: { sessionId: string; workspaceId: string };
  restoredFromVersionId?: string;
  /** The change, or how to compute it from the head (read under the project's lock). */
  changes: ChangeSet | ((head: Head, manager: EntityManager) => Promise<ChangeSet>);
  /** Whether the origin session's workspace still needs the change (edits) or has it (snapshots). */
  applyToOrigin: boolean;
  /** Rapid writes of one file by one session may be grouped into the head version. */
  groupable?: boolean;
}

export interface CommitResult {
  /** The version now current: new, amended, or the unchanged head when nothing differed. */
  version: ProjectVersion;
  outcome: 'created' | 'amended' | 'unchanged';
  /** Sessions whose workspace received the change. */
  sessionsUpdated: string[];
  /** Bytes of new blobs this commit put in the object store (dedup: 0 when every content was known). */
  bytesStored: number;
}

/** A head as {@link ProjectVersionsService} keeps it between changes, with the project row's stamp. */
interface CachedHead {
  stamp: string;
  version: ProjectVersion;
  manifest: Manifest;
}

/** Projects whose head is kept in memory (the most recently changed). */
const HEAD_CACHE_SIZE = 1_000;

/** First key of the GC advisory lock ("bld" + 2); see {@link ProjectVersionsService}. */
const LOCK_NAMESPACE = 0x626c6402;
const GC_KEY = 1;

interface VersionRow {
  id: string;
  number: number;
  kind: VersionKind;
  author_session_id: string | null;
  restored_from_version_id: string | null;
  changed_paths: string[];
  file_count: number;
  total_size: string | number;
  created_at: Date;
  updated_at: Date;
}

const VERSION_COLUMNS =
  'id, number, kind, author_session_id, restored_from_version_id, changed_paths, file_count, total_size, created_at, updated_at';

/**
 * Versions of projects: every change (an edit through the files API, a snapshot of a stopping
 * workspace, a restore) becomes a version that is durable before the caller answers. A version is a
 * manifest in PostgreSQL; contents are blobs in the object store, stored once.
 *
 * Concurrency: a change runs in one transaction holding the project's row lock (`FOR UPDATE`), so
 * changes of one project are serialized across backend processes, and the workspaces previewing the
 * project receive them in version order (see {@link ProjectWorkspaces.apply}). Blob garbage
 * collection (deleting a project) holds an exclusive advisory lock while it decides and deletes;
 * every change holds it shared while it stores blobs and commits, so a blob a change relies on is
 * never deleted between the check and the commit.
 */
@Injectable()
export class ProjectVersionsService {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly blobs: BlobStore,
    private readonly workspaces: ProjectWorkspacesRegistry,
    private readonly config: AppConfig,
  ) {}

  /** Heads of recently changed projects (see {@link lockHead}). */
  private readonly heads = new Map<string, CachedHead>();

  /** Creates a project whose first version (`template`) holds `files`; answers its id. */
  async createProject(
    userId: string,
    name: string,
    templateName: string,
    files: FileWrite[],
  ): Promise<string> {
    const manifest: Manifest = new Map();
    const contents = new Map<string, Buffer>();
    for (const file of files) {
      const hash = blobHash(file.content);
      manifest.set(file.path, { hash, size: file.content.length });
      contents.set(hash, file.content);
    }
    return this.db.transaction(async (manager) => {
      await manager.query('SELECT pg_advisory_xact_lock_shared($1::int, $2::int)', [LOCK_NAMESPACE, GC_KEY]);
      await this.blobs.ensure(contents);
      const [project]: Array<{ id: string }> = await manager.query(
        `INSERT INTO projects (user_id, name, template_name) VALUES ($1, $2, $3) RETURNING id`,
        [userId, name, templateName],
      );
      await this.insertVersion(manager, project.id, 1, manifest, {
        kind: 'template',
        authorSessionId: null,
        restoredFromVersionId: null,
        changedPaths: [...manifest.keys()].sort(),
      });
      return project.id;
    });
  }

  /**
   * Records a change as a version (or groups it into the head, or records nothing when the files
   * are already so), after putting it into the project's workspaces. Throws
   * {@link ProjectNotFoundError} when the project is gone; nothing is recorded on any failure.
   */
  async commit(request: CommitRequest): Promise<CommitResult> {
    // Contents known up front go to the store while the transaction takes the project's lock (a
    // put is durable, so it is the slowest step). Under the lock they are checked again: the GC may
    // have removed a blob no version named between this put and the lock.
    const early =
      typeof request.changes === 'function'
        ? Promise.resolve(0)
        : this.blobs.ensure(request.changes.writes.map((write) => [blobHash(write.content), write.content]));
    early.catch(() => undefined); // awaited below; a failure is the late put's to report
    let committed: CachedHead | null = null;
    const result = await this.db.transaction(async (manager) => {
      const head = await this.lockHead(manager, request.projectId);
      const requested =
        typeof request.changes === 'function' ? await request.changes(head, manager) : request.changes;
      const next = applyChangeSet(head.manifest, requested);
      const workspaces = this.workspaces.get();
      // The workspaces and the object store are independent: both at once, and either failing
      // leaves no version (an orphan blob is harmless; the files are re-sent by the caller).
      const [sessionsUpdated, bytesStored] = await Promise.all([
        workspaces
          ? workspaces.apply(
              request.projectId,
              { requested, effective: next.effective },
              { manager, origin: request.origin ?? null, includeOrigin: request.applyToOrigin },
            )
          : Promise.resolve([]),
        early
          .catch(() => 0)
          .then(async (earlyBytes) => earlyBytes + (await this.blobs.ensure(next.newBlobs))),
      ]);
      if (next.changedPaths.length === 0 && head.version) {
        return { version: head.version, outcome: 'unchanged' as const, sessionsUpdated, bytesStored };
      }
      const amend = this.amendable(head, request, next.changedPaths);
      if (amend && head.version) {
        const path = next.changedPaths[0];
        const entry = next.manifest.get(path)!;
        const [row]: Array<VersionRow & { stamp: string }> = await manager.query(
          // A SELECT at the top, so the driver answers rows (an UPDATE at the top answers [rows, count]).
          `WITH f AS (UPDATE project_version_files SET blob_hash = $3, size = $4 WHERE version_id = $1 AND path = $2),
                p AS (UPDATE projects SET updated_at = now() WHERE id = $6 RETURNING updated_at::text AS stamp),
                v AS (UPDATE project_versions SET total_size = $5, updated_at = now() WHERE id = $1 RETURNING ${VERSION_COLUMNS})
           SELECT v.*, p.stamp FROM v, p`,
          [head.version.id, path, entry.hash, entry.size, totalSize(next.manifest), request.projectId],
        );
        const version = toVersion(row);
        committed = { stamp: row.stamp, version, manifest: next.manifest };
        return { version, outcome: 'amended' as const, sessionsUpdated, bytesStored };
      }
      const { version, stamp } = await this.insertVersion(
        manager,
        request.projectId,
        (head.version?.number ?? 0) + 1,
        next.manifest,
        {
          kind: request.kind,
          authorSessionId: request.authorSessionId,
          restoredFromVersionId: request.restoredFromVersionId ?? null,
          changedPaths: next.changedPaths,
        },
      );
      committed = { stamp, version, manifest: next.manifest };
      return { version, outcome: 'created' as const, sessionsUpdated, bytesStored };
    });
    // Only once the transaction committed: the next change of the project starts from it.
    if (committed) this.remember(request.projectId, committed);
    return result;
  }

  /**
   * Runs `work` with the project's head under its lock (no change of the project meanwhile), e.g.
   * laying the current version out in a new workspace. Throws {@link ProjectNotFoundError}.
   */
  async withHead<T>(projectId: string, work: (head: Head, manager: EntityManager) => Promise<T>): Promise<T> {
    return this.db.transaction(async (manager) => work(await this.lockHead(manager, projectId), manager));
  }

  /** A new version equal to `versionId`; history before it stays as it was. */
  async restore(projectId: string, versionId: string): Promise<CommitResult> {
    return this.commit({
      projectId,
      kind: 'restore',
      authorSessionId: null,
      restoredFromVersionId: versionId,
      applyToOrigin: true,
      changes: async (head, manager) => {
        const target = await this.manifestOf(manager, projectId, versionId);
        const changed = [...target].filter(([path, entry]) => head.manifest.get(path)?.hash !== entry.hash);
        const contents = await this.blobs.getMany(changed.map(([, entry]) => entry.hash));
        return {
          writes: changed.map(([path, entry]) => ({ path, content: contents.get(entry.hash)! })),
          deletes: [...head.manifest.keys()].filter((path) => !target.has(path)),
        };
      },
    });
  }

  /**
   * Deletes a project, its versions, and every blob no other version names. The blobs go under the
   * exclusive GC lock, after the rows are gone, so no change can start to rely on one meanwhile; a
   * crash in between leaves unreferenced blobs (space, never a broken version).
   */
  async deleteProject(projectId: string, log: Logger): Promise<void> {
    const runner = this.db.createQueryRunner();
    await runner.connect();
    let locked = false;
    try {
      await runner.query('SELECT pg_advisory_lock($1::int, $2::int)', [LOCK_NAMESPACE, GC_KEY]);
      locked = true;
      await runner.startTransaction();
      let orphans: string[];
      try {
        const rows: Array<{ blob_hash: string }> = await runner.query(
          `SELECT DISTINCT f.blob_hash FROM project_version_files f
             JOIN project_versions v ON v.id = f.version_id
            WHERE v.project_id = $1`,
          [projectId],
        );
        await runner.query(`DELETE FROM projects WHERE id = $1`, [projectId]);
        const kept: Array<{ blob_hash: string }> = await runner.query(
          `SELECT DISTINCT blob_hash FROM project_version_files WHERE blob_hash = ANY($1::text[])`,
          [rows.map((row) => row.blob_hash)],
        );
        const keep = new Set(kept.map((row) => row.blob_hash));
        orphans = rows.map((row) => row.blob_hash).filter((hash) => !keep.has(hash));
        await runner.commitTransaction();
      } catch (error) {
        await runner.rollbackTransaction();
        throw error;
      }
      try {
        await this.blobs.deleteMany(orphans);
        log.info({ projectId, blobsDeleted: orphans.length }, 'project deleted');
      } catch (error) {
        log.warn(
          { err: error, projectId, blobs: orphans.length },
          'project deleted; some of its blobs could not be deleted',
        );
      }
    } finally {
      if (locked)
        await runner
          .query('SELECT pg_advisory_unlock($1::int, $2::int)', [LOCK_NAMESPACE, GC_KEY])
          .catch(() => undefined);
      await runner.release();
    }
  }

  /** Versions of a project, newest first; `before`: only versions numbered below it. */
  async list(projectId: string, options: { limit: number; before?: number }): Promise<ProjectVersion[]> {
    const rows: VersionRow[] = await this.db.query(
      `SELECT ${VERSION_COLUMNS} FROM project_versions
        WHERE project_id = $1 AND ($2::int IS NULL OR number < $2)
        ORDER BY number DESC LIMIT $3`,
      [projectId, options.before ?? null, options.limit],
    );
    return rows.map(toVersion);
  }

  /** One version of the project; {@link VersionNotFoundError} when it is not one of its versions. */
  async get(projectId: string, versionId: string): Promise<ProjectVersion> {
    const [row]: VersionRow[] = await this.db.query(
      `SELECT ${VERSION_COLUMNS} FROM project_versions WHERE id = $1 AND project_id = $2`,
      [versionId, projectId],
    );
    if (!row) throw new VersionNotFoundError(`version ${versionId} not found in project ${projectId}`);
    return toVersion(row);
  }

  /** Versions by id (any project: callers pass ids they read from their own projects). */
  async byIds(ids: string[]): Promise<Map<string, ProjectVersion>> {
    if (ids.length === 0) return new Map();
    const rows: VersionRow[] = await this.db.query(
      `SELECT ${VERSION_COLUMNS} FROM project_versions WHERE id = ANY($1::uuid[])`,
      [ids],
    );
    return new Map(rows.map((row) => [row.id, toVersion(row)]));
  }

  /** The current version, or null for a project whose first version is not written yet. */
  async current(projectId: string): Promise<ProjectVersion | null> {
    const [row]: VersionRow[] = await this.db.query(
      `SELECT ${VERSION_COLUMNS} FROM project_versions v WHERE v.id = (SELECT head_version_id FROM projects WHERE id = $1)`,
      [projectId],
    );
    return row ? toVersion(row) : null;
  }

  /** The files of a version, sorted by path. */
  async files(projectId: string, versionId: string): Promise<VersionFileEntry[]> {
    const manifest = await this.manifestOf(this.db.manager, projectId, versionId);
    return [...manifest].map(([path, entry]) => ({ path, size: entry.size, sha256: entry.hash }));
  }

  /** One file of a version and its bytes. */
  async readFile(
    projectId: string,
    versionId: string,
    path: string,
  ): Promise<VersionFileEntry & { content: Buffer }> {
    await this.get(projectId, versionId);
    const [row]: Array<{ blob_hash: string; size: number }> = await this.db.query(
      `SELECT blob_hash, size FROM project_version_files WHERE version_id = $1 AND path = $2`,
      [versionId, path],
    );
    if (!row) throw new VersionNotFoundError(`${path} is not a file of version ${versionId}`);
    return { path, size: row.size, sha256: row.blob_hash, content: await this.blobs.get(row.blob_hash) };
  }

  /** A version's manifest; {@link VersionNotFoundError} when it is not one of the project's versions. */
  async manifestOf(manager: EntityManager, projectId: string, versionId: string): Promise<Manifest> {
    const [row]: Array<{ files: Array<[string, string, number]> | null }> = await manager.query(
      `SELECT (SELECT json_agg(json_build_array(f.path, f.blob_hash, f.size) ORDER BY f.path)
                 FROM project_version_files f WHERE f.version_id = v.id) AS files
         FROM project_versions v WHERE v.id = $1 AND v.project_id = $2`,
      [versionId, projectId],
    );
    if (!row) throw new VersionNotFoundError(`version ${versionId} not found in project ${projectId}`);
    return toManifest(row.files);
  }

  /**
   * Locks the project row (and takes the GC lock shared), then reads its head with a fresh
   * snapshot. The head read last time is reused while the project row's `updated_at` (its stamp) is
   * unchanged: every change of the head, here or in another backend, sets it.
   */
  private async lockHead(manager: EntityManager, projectId: string): Promise<Head> {
    const locked: Array<{ head_version_id: string | null; stamp: string; now: Date }> = await manager.query(
      `SELECT head_version_id, updated_at::text AS stamp, now() AS now,
              pg_advisory_xact_lock_shared($2::int, $3::int)::text AS gc
         FROM projects WHERE id = $1 FOR UPDATE`,
      [projectId, LOCK_NAMESPACE, GC_KEY],
    );
    if (locked.length === 0) {
      this.heads.delete(projectId);
      throw new ProjectNotFoundError(projectId);
    }
    const { head_version_id: headId, stamp, now } = locked[0];
    if (!headId) return { projectId, version: null, manifest: new Map(), recent: false };
    let cached = this.heads.get(projectId);
    if (!cached || cached.stamp !== stamp || cached.version.id !== headId) {
      // A second statement: it sees what a change committed while this one waited for the lock.
      const [row]: Array<VersionRow & { files: Array<[string, string, number]> | null }> =
        await manager.query(
          `SELECT ${VERSION_COLUMNS},
                (SELECT json_agg(json_build_array(f.path, f.blob_hash, f.size)) FROM project_version_files f WHERE f.version_id = v.id) AS files
           FROM project_versions v WHERE v.id = $1`,
          [headId],
        );
      cached = { stamp, version: toVersion(row), manifest: toManifest(row.files) };
      this.remember(projectId, cached);
    }
    // The database's clock, as the version's own time was written with it.
    const recent =
      Date.parse(cached.version.updatedAt) > new Date(now).getTime() - this.config.versions.groupWindowMs;
    return { projectId, version: cached.version, manifest: cached.manifest, recent };
  }

  /**
   * Grouping: a write of the one file the head version changed, by the same session, within the
   * window, replaces that file in the head instead of adding a version. Anything else (another
   * file, a delete, a batch, another session, a restore) starts a new version.
   */
  private amendable(head: Head, request: CommitRequest, changedPaths: string[]): boolean {
    const version = head.version;
    if (!request.groupable || !version || !head.recent || this.config.versions.groupWindowMs === 0)
      return false;
    if (
      version.kind !== 'edit' ||
      request.kind !== 'edit' ||
      version.authorSessionId !== request.authorSessionId
    )
      return false;
    if (
      changedPaths.length !== 1 ||
      version.changedPaths.length !== 1 ||
      version.changedPaths[0] !== changedPaths[0]
    )
      return false;
    const requested = typeof request.changes === 'function' ? null : request.changes;
    return requested !== null && requested.deletes.length === 0 && head.manifest.has(changedPaths[0]);
  }

  private async insertVersion(
    manager: EntityManager,
    projectId: string,
    number: number,
    manifest: Manifest,
    meta: {
      kind: VersionKind;
      authorSessionId: string | null;
      restoredFromVersionId: string | null;
      changedPaths: string[];
    },
  ): Promise<{ version: ProjectVersion; stamp: string }> {
    const paths = [...manifest.keys()];
    const [row]: Array<VersionRow & { stamp: string }> = await manager.query(
      `WITH v AS (
         INSERT INTO project_versions (project_id, number, kind, author_session_id, restored_from_version_id, changed_paths, file_count, total_size)
         VALUES ($1, $2, $3, $4, $5, $6::text[], $7, $8)
         RETURNING ${VERSION_COLUMNS}
       ), f AS (
         INSERT INTO project_version_files (version_id, path, blob_hash, size)
         SELECT v.id, t.path, t.hash, t.size FROM v, unnest($9::text[], $10::text[], $11::int[]) AS t(path, hash, size)
       ), p AS (
         UPDATE projects SET head_version_id = v.id, head_number = v.number, updated_at = now() FROM v WHERE projects.id = $1
         RETURNING projects.updated_at::text AS stamp
       )
       SELECT v.*, p.stamp FROM v, p`,
      [
        projectId,
        number,
        meta.kind,
        meta.authorSessionId,
        meta.restoredFromVersionId,
        meta.changedPaths,
        paths.length,
        totalSize(manifest),
        paths,
        paths.map((path) => manifest.get(path)!.hash),
        paths.map((path) => manifest.get(path)!.size),
      ],
    );
    return { version: toVersion(row), stamp: row.stamp };
  }

  /** Keeps a project's head for its next change (see {@link lockHead}). */
  private remember(projectId: string, head: CachedHead): void {
    if (this.heads.size >= HEAD_CACHE_SIZE) this.heads.delete(this.heads.keys().next().value as string);
    this.heads.delete(projectId);
    this.heads.set(projectId, head);
  }
}

/**
 * The manifest after a change set, what in it really differs from `base` (sorted paths, the writes
 * and deletes that change something), and the contents new to the project's head.
 */
export function applyChangeSet(
  base: Manifest,
  changes: ChangeSet,
): { manifest: Manifest; changedPaths: string[]; effective: ChangeSet; newBlobs: Map<string, Buffer> } {
  const manifest: Manifest = new Map(base);
  const known = new Set([...base.values()].map((entry) => entry.hash));
  const changed = new Set<string>();
  const newBlobs = new Map<string, Buffer>();
  const effectiveWrites: FileWrite[] = [];
  for (const write of changes.writes) {
    const hash = blobHash(write.content);
    manifest.set(write.path, { hash, size: write.content.length });
    if (base.get(write.path)?.hash === hash) continue;
    changed.add(write.path);
    effectiveWrites.push(write);
    if (!known.has(hash)) newBlobs.set(hash, write.content);
  }
  const effectiveDeletes: string[] = [];
  for (const path of changes.deletes) {
    if (!manifest.delete(path)) continue;
    if (base.has(path)) {
      changed.add(path);
      effectiveDeletes.push(path);
    }
  }
  const sorted = new Map([...manifest].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return {
    manifest: sorted,
    changedPaths: [...changed].sort(),
    effective: { writes: effectiveWrites, deletes: effectiveDeletes },
    newBlobs,
  };
}

/** A manifest's hash, to compare two manifests (or a workspace tree with one) at a glance. */
export function manifestDigest(manifest: Manifest): string {
  const hash = createHash('sha256');
  for (const [path, entry] of [...manifest].sort(([a], [b]) => (a < b ? -1 : 1)))
    hash.update(`${path}\0${entry.hash}\n`);
  return hash.digest('hex');
}

function toManifest(files: Array<[string, string, number]> | null): Manifest {
  const entries = (files ?? []).map(([path, hash, size]) => [path, { hash, size: Number(size) }] as const);
  return new Map(entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function totalSize(manifest: Manifest): number {
  let total = 0;
  for (const entry of manifest.values()) total += entry.size;
  return total;
}

function toVersion(row: VersionRow): ProjectVersion {
  return {
    id: row.id,
    number: row.number,
    kind: row.kind,
    createdAt: new Date(row.created_at).toISOString(),
    updatedAt: new Date(row.updated_at).toISOString(),
    authorSessionId: row.author_session_id,
    restoredFromVersionId: row.restored_from_version_id,
    changedPaths: row.changed_paths,
    filesChanged: row.changed_paths.length,
    fileCount: row.file_count,
    totalSize: Number(row.total_size),
  };
}
