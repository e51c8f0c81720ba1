import { cpus } from 'node:os';
import { z } from 'zod';

/** Integer from an environment string, with bounds. */
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const positiveNumber = z.coerce.number().positive().finite();
/** Empty strings count as unset, so `FOO=` in a .env file falls back to the default. */
const optionalString = z
  .string()
  .optional()
  .transform((value) => (value === undefined || value.trim() === '' ? undefined : value.trim()));

/**
 * Every environment variable the backend reads. Parsed once at start-up; a bad value stops the
 * process with a message naming the variable. JWT_SECRET, DATABASE_URL, DATABASE_PASSWORD,
 * S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY may each be given as a file instead, named by
 * `<NAME>_FILE` (Docker secrets; see file-secrets.ts): read before this schema sees them.
 */
export const envSchema = z
  .object({
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    PORT: int(0, 65535).default(3000),
    /** The web app's origins, comma-separated: the API's CORS, and the only pages that may frame or read a preview. */
    WEB_ORIGIN: z.string().default('http://localhost:3001'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

    DATABASE_URL: optionalString.pipe(
      z
        .string()
        .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
        .optional(),
    ),
    /**
     * The password of DATABASE_URL's user, for a URL that leaves it out: so the password can be
     * a secret of its own (DATABASE_PASSWORD_FILE) while the URL is plain configuration.
     */
    DATABASE_PASSWORD: optionalString,
    DATA_DIR: optionalString,

    JWT_SECRET: optionalString.pipe(z.string().min(32, 'must be at least 32 characters').optional()),
    JWT_EXPIRES_IN: z
      .string()
      .regex(/^\d+(ms|s|m|h|d)?$/, 'must be a number of seconds or a duration like 15m, 12h, 7d')
      .default('12h'),

    /**
     * `auto`: docker when the engine answers, else local. `swarm` (never chosen by auto): workspaces
     * as services of the swarm whose manager DOCKER_SOCKET reaches; the API must then run as a
     * container on a manager (it joins each workspace's network) and PREVIEW_MODE must be proxy.
     */
    RUNTIME: z.enum(['auto', 'docker', 'local', 'swarm']).default('auto'),
    DOCKER_SOCKET: z.string().min(1).default('/var/run/docker.sock'),
    TEMPLATE_IMAGE: z.string().min(1).default('localhost:5000/baseline-landing-template:latest'),
    TEMPLATE_DIR: optionalString,
    /** Swarm: the API's own container, joined to each workspace network (default: the host name, i.e. the container id). */
    SWARM_ATTACH_CONTAINER: optionalString,
    /**
     * Swarm: CPU limit of each workspace, in cores, from its start: the plan's 0.5 (a service's
     * quota is accounted per 100 ms and cannot change live; WORKSPACE_CPU_CORES is the docker
     * runtime's quota, applied once ready and per second). A start keeps 1-1.5 cores busy, so the
     * limit slows a cold start: measured against the docker runtime in the same run, a cold create
     * took 1.8-2.1× with 0.5, 1.44× with 1 and 1.2× with 2 (README, Swarm). The warm pool hides it for
     * most creates; raise it where cold starts matter more than the plan's limit.
     */
    SWARM_CPU_LIMIT_CORES: positiveNumber.default(0.5),
    /**
     * Swarm: CPU cores each workspace reserves for placement (memory is reserved at its full limit).
     * An idle dev server uses ~0.005 core: reserving its limit would cap a 2-core node at 2-4
     * workspaces while memory holds ~40.
     */
    SWARM_CPU_RESERVATION_CORES: z.coerce.number().min(0).finite().default(0.1),
    /** Swarm: placement constraints of every workspace, comma-separated (e.g. node.role==worker). */
    SWARM_PLACEMENT_CONSTRAINTS: optionalString,

    PORT_RANGE_START: int(1024, 65535).default(8000),
    PORT_RANGE_END: int(1024, 65535).default(8100),

    WORKSPACE_MEMORY_MB: int(64, 65536).default(512),
    WORKSPACE_CPU_SHARES: int(2, 262144).default(512),
    WORKSPACE_CPU_CORES: positiveNumber.default(0.5),
    WORKSPACE_PIDS_LIMIT: int(16, 100000).default(256),
    /**
     * Disk space of a workspace's files (its volume; the dependencies shared from the image do not
     * count). The files API refuses a write that would pass it (413) and the health monitor ends a
     * workspace that grew past it from inside.
     */
    WORKSPACE_STORAGE_LIMIT_MB: int(16, 1048576).default(1024),
    /**
     * A kernel-enforced limit under the one above. `auto` (default): with the docker runtime, an
     * engine on this host's unix socket and a backend running as root, each workspace volume is its
     * own ext4 file system in a sparse image on a loop device, sized a little above the limit, so a
     * writer inside stops with "No space left on device"; elsewhere only the checks above apply.
     * `loop` requires it (a docker create fails where it cannot be made); `off` never uses it.
     */
    WORKSPACE_STORAGE_HARD_LIMIT: z.enum(['auto', 'loop', 'off']).default('auto'),

    MAX_SESSIONS_PER_USER: int(1, 10000).default(3),
    SESSION_TTL_MINUTES: int(1, 10080).default(120),
    IDLE_TIMEOUT_MINUTES: int(1, 10080).default(30),
    /**
     * Activity (API calls, socket heartbeats, preview traffic) is written at most this often per
     * session: the hot paths never wait for it, and the idle timeout counts in minutes anyway.
     */
    ACTIVITY_WRITE_INTERVAL_MS: int(0, 600_000).default(15_000),
    /** Overrides SESSION_TTL_MINUTES / IDLE_TIMEOUT_MINUTES with seconds (short lifetimes in tests). */
    SESSION_TTL_SECONDS: int(5, 604800).optional(),
    IDLE_TIMEOUT_SECONDS: int(5, 604800).optional(),
    /** Period of the expiry and idle job. */
    LIFECYCLE_INTERVAL_MS: int(500, 3_600_000).default(60_000),
    /** Period of the workspace health check (container state, Docker health, HTTP probe). */
    HEALTH_INTERVAL_MS: int(500, 3_600_000).default(30_000),
    /** Period of reconciliation between the database and the runtime (it also runs at start-up). */
    RECONCILE_INTERVAL_MS: int(1000, 86_400_000).default(300_000),
    /** A session `creating` without progress for this long is finished as failed by reconciliation. */
    STUCK_CREATING_MS: int(1000, 86_400_000).default(600_000),
    /**
     * Work one replica of several must own (a running session's HMR relay, log follower and health
     * checks; a start in progress) is held by a lease row in PostgreSQL that lives this long unless
     * its holder renews it. A replica that dies is replaced within LEASE_TTL_MS + LEASE_RENEW_MS.
     */
    LEASE_TTL_MS: int(2_000, 600_000).default(10_000),
    /** How often a replica renews its leases and looks for running sessions nobody holds. */
    LEASE_RENEW_MS: int(200, 60_000).default(3_000),
    /** This process's name in leases and logs. Default: host name, process id and a random suffix. */
    REPLICA_ID: optionalString,
    /**
     * After SIGTERM a replica hands its sessions over, then keeps serving (readiness 503
     * `draining`, creates 503) this long before it closes its sockets and its port, so a proxy
     * checking readiness drops it first and no request of its rotation meets a closed port.
     * Set it above the proxy's check interval (scripts/front-proxy.mjs: 1 s; Swarm's health
     * check in deploy/stack.yml: 2 s).
     */
    DRAIN_GRACE_MS: int(0, 120_000).default(3_000),
    /** A session `stopping` for this long has its clean-up run again by reconciliation. */
    STUCK_STOPPING_MS: int(1000, 86_400_000).default(120_000),
    /**
     * Names what this backend (and its siblings on the same database) creates in the runtime, so
     * reconciliation never removes workspaces of another deployment sharing the engine.
     * Default: derived from the database location.
     */
    DEPLOYMENT_ID: optionalString.pipe(
      z
        .string()
        .regex(/^[a-zA-Z0-9_.-]{1,63}$/, 'must be 1-63 letters, digits, _ . -')
        .optional(),
    ),
    START_TIMEOUT_MS: int(1000, 3_600_000).default(120_000),
    /**
     * Docker's own health check of each workspace, in ms; 0 (default) leaves it off, because each
     * check starts a process in the container (~0.19 CPU-s). The health monitor probes over HTTP.
     */
    WORKSPACE_HEALTHCHECK_INTERVAL_MS: int(0, 3_600_000).default(0),
    /**
     * Dev-server starts run at once; the rest wait in the queue with their position shown. A start
     * keeps 1-1.5 cores busy (node, esbuild, V8 threads), so the default is half the cores: on the
     * 2-core machine a burst of 20 at 2 at once took each start 2.6× a lone start's time.
     */
    START_CONCURRENCY: int(1, 256).default(Math.max(1, Math.floor(cpus().length / 2))),
    /**
     * Pre-started workspaces kept ready for instant creates (docker runtime only); 0 disables the pool.
     * Unset: 2 (one per core of a 2-core machine), but 0 under NODE_ENV=test so suites opt in.
     */
    WARM_POOL_SIZE: optionalString.pipe(z.coerce.number().int().min(0).max(64).optional()),

    /**
     * `proxy` (default): previews are served by the API under an unguessable host name per session
     * (`<sessionId>-<token>.<PREVIEW_DOMAIN>:<PORT>`), which ends with the session. `direct`: the
     * workspace's published port on PREVIEW_HOST, with no session check: for a single local user.
     */
    PREVIEW_MODE: z.enum(['direct', 'proxy']).default('proxy'),
    PREVIEW_HOST: z.string().min(1).default('localhost'),
    /** Parent domain of preview hosts in proxy mode: `<label>.<PREVIEW_DOMAIN>:<PORT>`. */
    PREVIEW_DOMAIN: z
      .string()
      .regex(
        /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i,
        'must be a domain name like preview.localhost',
      )
      .default('preview.localhost'),

    MAX_FILE_BYTES: int(1, 64 * 1024 * 1024).default(1024 * 1024),
    /** Most writes plus deletes in one `POST /workspace/:id/edits` batch. */
    MAX_EDIT_ENTRIES: int(1, 1000).default(50),

    /**
     * After a change through the files API, how long the verdict waits for the dev server to report
     * each changed file it may hold compiled (it does in ~5-50 ms here). A file it never loaded is
     * not reported, and nothing of it can be stale: the verdict goes on after this bound.
     */
    VERDICT_SETTLE_MS: int(0, 60_000).default(750),
    /** Time the dev server has to compile what one verdict asks for (a cold first render takes seconds). */
    VERDICT_TIMEOUT_MS: int(1000, 600_000).default(30_000),
    /** Most pages one verdict renders when a change can affect every page (a component, a layout). */
    VERDICT_MAX_PAGES: int(1, 100).default(10),

    /** Dev-server output lines a socket subscriber gets again when it subscribes. */
    DEV_SERVER_LOG_REPLAY_LINES: int(0, 2000).default(100),
    /** Dev-server output lines per second relayed to sockets per session (more are counted, not sent). */
    DEV_SERVER_LOG_LINES_PER_SECOND: int(1, 10_000).default(50),

    /**
     * Where project files (content-addressed blobs) are kept: `fs` (a folder of DATA_DIR, the
     * embedded default) or `s3` (any S3-compatible service). `auto`: `s3` when S3_ENDPOINT or
     * S3_BUCKET is set, else `fs`.
     */
    OBJECT_STORE: z.enum(['auto', 'fs', 's3']).default('auto'),
    /** Folder of the `fs` object store (default `<DATA_DIR>/objects`). */
    OBJECT_STORE_DIR: optionalString,
    /** S3-compatible endpoint, e.g. http://minio:9000; unset for AWS S3. */
    S3_ENDPOINT: optionalString.pipe(z.string().url('must be a URL like http://minio:9000').optional()),
    /** Bucket of project blobs (created when missing). Default `builder-projects`. */
    S3_BUCKET: optionalString.pipe(
      z
        .string()
        .regex(
          /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/,
          'must be a valid bucket name (3-63 lower-case letters, digits, . -)',
        )
        .optional(),
    ),
    S3_REGION: z.string().min(1).default('us-east-1'),
    S3_ACCESS_KEY_ID: optionalString,
    S3_SECRET_ACCESS_KEY: optionalString,
    /** Path-style URLs (endpoint/bucket/key): needed by MinIO and most self-hosted services. Default: on when S3_ENDPOINT is set. */
    S3_FORCE_PATH_STYLE: z.enum(['true', 'false', '1', '0']).optional(),
    /**
     * Writes of the same file by the same session within this many ms of its last version are
     * grouped into that version (rapid saves, an AI streaming a file); 0: every write is a version.
     */
    VERSION_GROUP_WINDOW_MS: int(0, 600_000).default(5_000),
    /**
     * `off` makes file writes skip versioning. Only for measuring its cost (bench/); refused in
     * production, since nothing written would outlive the session.
     */
    VERSIONING: z.enum(['on', 'off']).default('on'),
  })
  .superRefine((env, ctx) => {
    if (env.PORT_RANGE_END < env.PORT_RANGE_START) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['PORT_RANGE_END'],
        message: `must not be below PORT_RANGE_START (${env.PORT_RANGE_START})`,
      });
    }
    if (env.RUNTIME === 'swarm' && env.PREVIEW_MODE !== 'proxy') {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['PREVIEW_MODE'],
        message: 'must be proxy with RUNTIME=swarm (a swarm workspace publishes no port)',
      });
    }
    if (env.LEASE_RENEW_MS * 2 > env.LEASE_TTL_MS) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['LEASE_RENEW_MS'],
        message: `must be at most half of LEASE_TTL_MS (${env.LEASE_TTL_MS}), so one late renewal does not lose a lease`,
      });
    }
    if (env.DATABASE_PASSWORD !== undefined) {
      const holder = env.DATABASE_URL ? new URL(env.DATABASE_URL) : null;
      if (!holder || holder.password)
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path: ['DATABASE_PASSWORD'],
          message: holder ? 'DATABASE_URL already holds a password' : 'needs DATABASE_URL (the embedded database has no password)',
        });
    }
    if (env.NODE_ENV === 'production' && !env.JWT_SECRET) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['JWT_SECRET'],
        message: 'is required when NODE_ENV=production',
      });
    }
    if (env.NODE_ENV === 'production' && env.VERSIONING === 'off') {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['VERSIONING'],
        message: 'cannot be off when NODE_ENV=production',
      });
    }
    if (env.OBJECT_STORE === 's3' || (env.OBJECT_STORE === 'auto' && (env.S3_ENDPOINT || env.S3_BUCKET))) {
      if (Boolean(env.S3_ACCESS_KEY_ID) !== Boolean(env.S3_SECRET_ACCESS_KEY)) {
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path: [env.S3_ACCESS_KEY_ID ? 'S3_SECRET_ACCESS_KEY' : 'S3_ACCESS_KEY_ID'],
          message: 'S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY go together',
        });
      }
    }
    for (const origin of env.WEB_ORIGIN.split(',').map((o) => o.trim())) {
      if (!/^https?:\/\/[^/\s]+$/.test(origin)) {
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path: ['WEB_ORIGIN'],
          message: `"${origin}" is not an origin like http://localhost:3001`,
        });
      }
    }
  });

export type Env = z.infer<typeof envSchema>;
