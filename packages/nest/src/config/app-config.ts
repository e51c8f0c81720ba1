import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { hostname } from 'node:os';
import type { ResourceAllocation } from '@builder/shared';
import { type Env, envSchema } from './env.schema';
import { withFileSecrets } from './file-secrets';

/** Pool size when WARM_POOL_SIZE is unset: one ready workspace per core of the 2-core target machine. */
export const DEFAULT_WARM_POOL_SIZE = 2;

/** The environment did not validate. The message names every offending variable. */
export class ConfigValidationError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigValidationError';
  }
}

/**
 * Typed, validated configuration. Built once at start-up by {@link loadConfig} and provided to the
 * whole application (inject `AppConfig`).
 */
export class AppConfig {
  readonly nodeEnv: Env['NODE_ENV'];
  readonly port: number;
  readonly webOrigins: string[];
  readonly logLevel: Env['LOG_LEVEL'];
  /** Absolute root of the repository (parent of `packages/`). */
  readonly repoRoot: string;

  readonly database: { kind: 'postgres'; url: string } | { kind: 'embedded'; dataDir: string };
  readonly dataDir: string;

  readonly jwt: { secret: string; expiresIn: string; secretSource: 'env' | 'file' | 'generated' };

  readonly runtime: {
    choice: Env['RUNTIME'];
    dockerSocket: string;
    templateImage: string;
    templateDir: string;
    startTimeoutMs: number;
    /** Docker's own health check interval; 0: off. */
    healthcheckIntervalMs: number;
    /** Settings of RUNTIME=swarm. */
    swarm: { attachContainer?: string; cpuLimitCores: number; cpuReservationCores: number; placementConstraints: string[] };
    /** Kernel-enforced storage limit per workspace (see WORKSPACE_STORAGE_HARD_LIMIT). */
    storageHardLimit: Env['WORKSPACE_STORAGE_HARD_LIMIT'];
  };

  readonly ports: { start: number; end: number };
  readonly resources: ResourceAllocation;

  readonly sessions: {
    maxPerUser: number;
    /** May be fractional when set through SESSION_TTL_SECONDS. */
    ttlMinutes: number;
    /** May be fractional when set through IDLE_TIMEOUT_SECONDS. */
    idleTimeoutMinutes: number;
    /** At most one activity write per session per this many ms. */
    activityWriteIntervalMs: number;
    startConcurrency: number;
  };

  /** Scheduled lifecycle jobs (see modules/workspace/lifecycle). */
  readonly lifecycle: {
    intervalMs: number;
    healthIntervalMs: number;
    reconcileIntervalMs: number;
    stuckCreatingMs: number;
    stuckStoppingMs: number;
    /** Label value marking this deployment's workspaces in the runtime. */
    deploymentId: string;
  };

  /** This replica among the API processes of one database (see modules/workspace/cluster). */
  readonly cluster: { replicaId: string; leaseTtlMs: number; leaseRenewMs: number; drainGraceMs: number };

  /** Warm pool of pre-started workspaces (see modules/workspace/pool). */
  readonly pool: { size: number };

  readonly preview: { mode: Env['PREVIEW_MODE']; host: string; domain: string };
  readonly files: { maxBytes: number; bodyLimitBytes: number; maxEditEntries: number };

  /** The compile verdict of every change through the files API (see modules/workspace/verdict). */
  readonly verdict: { settleMs: number; timeoutMs: number; maxPages: number };

  /** Dev-server output relayed to sockets (see modules/workspace/logs). */
  readonly devServerLogs: { replayLines: number; linesPerSecond: number };

  /** Where project blobs live (see shared/storage). Secrets are never logged. */
  readonly objectStore:
    | { kind: 'fs'; dir: string }
    | {
        kind: 's3';
        endpoint?: string;
        bucket: string;
        region: string;
        accessKeyId?: string;
        secretAccessKey?: string;
        forcePathStyle: boolean;
      };

  /** Project versions (see modules/projects). */
  readonly versions: { enabled: boolean; groupWindowMs: number };

  /** Things worth a warning at start-up (e.g. a generated JWT secret). */
  readonly warnings: string[];

  constructor(env: Env, repoRoot: string) {
    const warnings: string[] = [];
    this.nodeEnv = env.NODE_ENV;
    this.port = env.PORT;
    this.webOrigins = env.WEB_ORIGIN.split(',').map((o) => o.trim());
    this.logLevel = env.LOG_LEVEL;
    this.repoRoot = repoRoot;
    this.dataDir = resolve(repoRoot, env.DATA_DIR ?? '.data');
    this.database = env.DATABASE_URL
      ? { kind: 'postgres', url: withPassword(env.DATABASE_URL, env.DATABASE_PASSWORD) }
      : { kind: 'embedded', dataDir: join(this.dataDir, 'pglite') };

    this.jwt = { ...resolveJwtSecret(env, this.dataDir, warnings), expiresIn: env.JWT_EXPIRES_IN };

    this.runtime = {
      choice: env.RUNTIME,
      dockerSocket: env.DOCKER_SOCKET,
      templateImage: env.TEMPLATE_IMAGE,
      templateDir: resolve(repoRoot, env.TEMPLATE_DIR ?? 'workspace-templates/baseline-landing'),
      startTimeoutMs: env.START_TIMEOUT_MS,
      healthcheckIntervalMs: env.WORKSPACE_HEALTHCHECK_INTERVAL_MS,
      swarm: {
        attachContainer: env.SWARM_ATTACH_CONTAINER,
        cpuLimitCores: env.SWARM_CPU_LIMIT_CORES,
        cpuReservationCores: env.SWARM_CPU_RESERVATION_CORES,
        placementConstraints: (env.SWARM_PLACEMENT_CONSTRAINTS ?? '')
          .split(',')
          .map((constraint) => constraint.trim())
          .filter(Boolean),
      },
      storageHardLimit: env.WORKSPACE_STORAGE_HARD_LIMIT,
    };
    this.ports = { start: env.PORT_RANGE_START, end: env.PORT_RANGE_END };
    this.resources = {
      memoryBytes: env.WORKSPACE_MEMORY_MB * 1024 * 1024,
      cpuShares: env.WORKSPACE_CPU_SHARES,
      cpuCores: env.WORKSPACE_CPU_CORES,
      pidsLimit: env.WORKSPACE_PIDS_LIMIT,
      storageBytes: env.WORKSPACE_STORAGE_LIMIT_MB * 1024 * 1024,
    };
    this.sessions = {
      maxPerUser: env.MAX_SESSIONS_PER_USER,
      ttlMinutes:
        env.SESSION_TTL_SECONDS !== undefined ? env.SESSION_TTL_SECONDS / 60 : env.SESSION_TTL_MINUTES,
      idleTimeoutMinutes:
        env.IDLE_TIMEOUT_SECONDS !== undefined ? env.IDLE_TIMEOUT_SECONDS / 60 : env.IDLE_TIMEOUT_MINUTES,
      activityWriteIntervalMs: env.ACTIVITY_WRITE_INTERVAL_MS,
      startConcurrency: env.START_CONCURRENCY,
    };
    this.pool = { size: env.WARM_POOL_SIZE ?? (env.NODE_ENV === 'test' ? 0 : DEFAULT_WARM_POOL_SIZE) };
    const databaseLocation =
      this.database.kind === 'postgres' ? withoutPassword(this.database.url) : this.database.dataDir;
    this.lifecycle = {
      intervalMs: env.LIFECYCLE_INTERVAL_MS,
      healthIntervalMs: env.HEALTH_INTERVAL_MS,
      reconcileIntervalMs: env.RECONCILE_INTERVAL_MS,
      stuckCreatingMs: env.STUCK_CREATING_MS,
      stuckStoppingMs: env.STUCK_STOPPING_MS,
      deploymentId:
        env.DEPLOYMENT_ID ?? createHash('sha256').update(databaseLocation).digest('hex').slice(0, 16),
    };
    this.cluster = {
      replicaId: env.REPLICA_ID ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`,
      leaseTtlMs: env.LEASE_TTL_MS,
      leaseRenewMs: env.LEASE_RENEW_MS,
      drainGraceMs: env.DRAIN_GRACE_MS,
    };
    this.preview = {
      mode: env.PREVIEW_MODE,
      host: env.PREVIEW_HOST,
      domain: env.PREVIEW_DOMAIN.toLowerCase(),
    };
    // JSON escaping makes a body larger than the file it carries (newlines, quotes, \u escapes).
    // The body limit leaves room for that, so a file just over MAX_FILE_BYTES gets the precise
    // "file too large" 400 and only absurd bodies hit the parser's 413.
    this.files = {
      maxBytes: env.MAX_FILE_BYTES,
      bodyLimitBytes: env.MAX_FILE_BYTES * 2 + 64 * 1024,
      maxEditEntries: env.MAX_EDIT_ENTRIES,
    };
    this.verdict = {
      settleMs: env.VERDICT_SETTLE_MS,
      timeoutMs: env.VERDICT_TIMEOUT_MS,
      maxPages: env.VERDICT_MAX_PAGES,
    };
    this.devServerLogs = {
      replayLines: env.DEV_SERVER_LOG_REPLAY_LINES,
      linesPerSecond: env.DEV_SERVER_LOG_LINES_PER_SECOND,
    };
    const s3 =
      env.OBJECT_STORE === 's3' || (env.OBJECT_STORE === 'auto' && Boolean(env.S3_ENDPOINT || env.S3_BUCKET));
    this.objectStore = s3
      ? {
          kind: 's3',
          endpoint: env.S3_ENDPOINT,
          bucket: env.S3_BUCKET ?? 'builder-projects',
          region: env.S3_REGION,
          accessKeyId: env.S3_ACCESS_KEY_ID,
          secretAccessKey: env.S3_SECRET_ACCESS_KEY,
          forcePathStyle: env.S3_FORCE_PATH_STYLE
            ? ['true', '1'].includes(env.S3_FORCE_PATH_STYLE)
            : Boolean(env.S3_ENDPOINT),
        }
      : { kind: 'fs', dir: resolve(this.dataDir, env.OBJECT_STORE_DIR ?? 'objects') };
    this.versions = { enabled: env.VERSIONING === 'on', groupWindowMs: env.VERSION_GROUP_WINDOW_MS };
    this.warnings = warnings;
  }
}

function withoutPassword(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.password = '';
    return parsed.toString();
  } catch {
    return url;
  }
}

/** Variables whose values never appear in a message. */
const SECRET_VARIABLES: ReadonlySet<string> = new Set([
  'JWT_SECRET',
  'S3_SECRET_ACCESS_KEY',
  'DATABASE_URL',
  'DATABASE_PASSWORD',
]);

/** Validates `env` (default: `process.env`) and builds the {@link AppConfig}. Throws {@link ConfigValidationError}. */
export function loadConfig(env: Record<string, string | undefined> = process.env): AppConfig {
  return new AppConfig(parseEnv(env), findRepoRoot());
}

/** Validates `env` against {@link envSchema}, with no side effects. Throws {@link ConfigValidationError}. */
export function parseEnv(given: Record<string, string | undefined>): Env {
  const { env, problems } = withFileSecrets(given);
  if (problems.length > 0) throw new ConfigValidationError(problems);
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigValidationError(
      parsed.error.issues.map((issue) => {
        const name = issue.path.join('.') || '(environment)';
        const value = typeof issue.path[0] === 'string' ? env[issue.path[0]] : undefined;
        const shown = value === undefined ? '' : ` (got "${SECRET_VARIABLES.has(name) ? '***' : value}")`;
        return `${name}: ${issue.message}${shown}`;
      }),
    );
  }
  return parsed.data;
}

/** `url` with `password` (when given) as its user's password. */
function withPassword(url: string, password: string | undefined): string {
  if (password === undefined) return url;
  const parsed = new URL(url);
  parsed.password = encodeURIComponent(password);
  return parsed.toString();
}

/** The repository root: the nearest ancestor whose package.json declares npm workspaces. */
export function findRepoRoot(start: string = __dirname): string {
  let dir = start;
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        const json = JSON.parse(readFileSync(manifest, 'utf8')) as { workspaces?: unknown };
        if (json.workspaces) return dir;
      } catch {
        // not a readable manifest: keep walking
      }
    }
    const parent = dirname(dir);
    if (parent === dir) return process.cwd();
    dir = parent;
  }
}

/**
 * Production requires JWT_SECRET (the schema enforces it). Elsewhere a secret is generated once and
 * kept in DATA_DIR, so tokens survive restarts of a development backend.
 */
function resolveJwtSecret(
  env: Env,
  dataDir: string,
  warnings: string[],
): { secret: string; secretSource: 'env' | 'file' | 'generated' } {
  if (env.JWT_SECRET) return { secret: env.JWT_SECRET, secretSource: 'env' };
  const file = join(dataDir, 'jwt-secret');
  if (!isAbsolute(file)) throw new ConfigValidationError([`DATA_DIR: must resolve to an absolute path`]);
  try {
    const stored = readFileSync(file, 'utf8').trim();
    if (stored.length >= 32) {
      warnings.push(`JWT_SECRET is not set; using the development secret stored in ${file}`);
      return { secret: stored, secretSource: 'file' };
    }
  } catch {
    // no stored secret yet
  }
  const secret = randomBytes(48).toString('base64url');
  try {
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(file, `${secret}\n`, { mode: 0o600 });
    warnings.push(`JWT_SECRET is not set; generated a development secret and stored it in ${file}`);
  } catch (error) {
    throw new ConfigValidationError([
      `DATA_DIR: cannot store a generated JWT secret in ${file} (${(error as Error).message}); set JWT_SECRET or a writable DATA_DIR`,
    ]);
  }
  return { secret, secretSource: 'generated' };
}
