import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { envSchema } from '../../packages/nest/src/config/env.schema';
import { FILE_VARIABLES } from '../../packages/nest/src/config/file-secrets';

// deploy/stack.yml, checked by real Compose implementations without deploying it: Debian's
// docker-compose (1.29, which scripts/setup.sh installs) and, where the Docker CLI has it,
// `docker stack config` (what `docker stack deploy` reads). Neither pulls an image.
const ROOT = join(__dirname, '../..');
const STACK_FILE = join(ROOT, 'deploy/stack.yml');
/** The one variable the file requires: the group of the manager's Docker socket. */
const ENV = { ...process.env, DOCKER_GID: '999' };

const compose = spawnSync('docker-compose', ['version'], { encoding: 'utf8' }).status === 0;
const stackConfig = spawnSync('docker', ['stack', 'config', '--help'], { encoding: 'utf8' }).status === 0;
if (!compose) {
  if (process.env.CI === 'true') throw new Error('docker-compose is not installed (apt-get install docker-compose); CI validates the stack file with it');
  console.warn('[stack] SKIPPED: docker-compose is not installed (apt-get install docker-compose)');
}

interface StackService {
  image: string;
  user?: string;
  environment?: Record<string, string>;
  secrets?: Array<{ source: string } | string>;
  volumes?: string[];
  networks?: Record<string, unknown> | string[];
  ports?: Array<{ target: number; published: number; mode: string }>;
  command?: string[];
  healthcheck?: { test: string[] };
  deploy?: {
    mode?: string;
    endpoint_mode?: string;
    replicas?: number;
    placement?: { constraints?: string[] };
    update_config?: { order?: string; failure_action?: string };
  };
}
interface Stack {
  services: Record<string, StackService>;
  secrets: Record<string, { external?: boolean }>;
  volumes: Record<string, unknown>;
}

/** `docker-compose config` of a file: its exit code, errors, and the resolved file as an object. */
function composeConfig(file: string): { status: number | null; stderr: string; config?: Stack } {
  const run = spawnSync('docker-compose', ['-f', file, 'config'], { encoding: 'utf8', cwd: ROOT, env: ENV });
  if (run.status !== 0) return { status: run.status, stderr: run.stderr };
  // PyYAML comes with docker-compose: its own parser reads back what it printed.
  const json = spawnSync('python3', ['-c', 'import json, sys, yaml; print(json.dumps(yaml.safe_load(sys.stdin)))'], {
    input: run.stdout,
    encoding: 'utf8',
  });
  if (json.status !== 0) throw new Error(`reading the resolved stack file failed: ${json.stderr}`);
  return { status: 0, stderr: run.stderr, config: JSON.parse(json.stdout) as Stack };
}

const names = (list: Array<{ source: string } | string> = []): string[] => list.map((item) => (typeof item === 'string' ? item : item.source));

describe.skipIf(!compose)('deploy/stack.yml', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'stack-test-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));
  const stack = (): Stack => {
    const { status, stderr, config } = composeConfig(STACK_FILE);
    expect(status, stderr).toBe(0);
    return config!;
  };

  it('is valid for docker-compose and holds the API, the web app, the front proxy, PostgreSQL with a volume, the registry and MinIO', () => {
    const { services, volumes } = stack();
    expect(Object.keys(services).sort()).toEqual(['api', 'front', 'minio', 'postgres', 'registry', 'web']);
    expect(services.postgres.volumes).toContain('postgres-data:/var/lib/postgresql/data:rw');
    expect(Object.keys(volumes)).toContain('postgres-data');
  });

  it.skipIf(!stackConfig)('is what `docker stack config` reads (the engine\'s own parser of stack files)', () => {
    const run = spawnSync('docker', ['stack', 'config', '-c', STACK_FILE], { encoding: 'utf8', cwd: ROOT, env: ENV });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/order: start-first/);
    // The CLI's own interpolation (a dash in the `:?` message once became the value).
    expect(run.stdout).toMatch(/user: 1000:999\n/);
  });

  it('runs the API as two replicas on a manager, with its Docker socket, a readiness health check and start-first rolling updates, behind the front proxy', () => {
    const { api, web, front } = stack().services;
    expect(api.deploy?.replicas).toBe(2);
    expect(api.deploy?.placement?.constraints).toContain('node.role == manager');
    expect(api.deploy?.update_config).toMatchObject({ order: 'start-first', failure_action: 'rollback' });
    expect(api.volumes).toContain('/var/run/docker.sock:/var/run/docker.sock:rw');
    expect(api.healthcheck?.test.join(' ')).toMatch(/\/health\/ready/);
    // No virtual IP and no routing mesh (both need IPVS): `front` finds the tasks by DNS and is
    // the one service publishing ports, in host mode on every node.
    for (const service of [api, web]) {
      expect(service.deploy?.endpoint_mode).toBe('dnsrr');
      expect(service.ports).toBeUndefined();
    }
    expect(front.deploy?.mode).toBe('global');
    expect(front.ports?.map((port) => port.mode)).toEqual(['host', 'host']);
    expect(front.command?.join(' ')).toMatch(/--dns tasks\.api:3000 .*--dns tasks\.web:3001/);
    expect(api.environment).toMatchObject({ RUNTIME: 'swarm', PREVIEW_MODE: 'proxy' });
    expect(api.user).toBe('1000:999');
  });

  it('sets only variables the API reads, and its secrets only as Docker secrets', () => {
    const { services, secrets } = stack();
    const env = services.api.environment ?? {};
    const read = new Set<string>([...Object.keys(envSchema.innerType().shape), ...FILE_VARIABLES.map((name) => `${name}_FILE`)]);
    expect(Object.keys(env).filter((name) => !read.has(name))).toEqual([]);
    for (const name of ['JWT_SECRET', 'DATABASE_PASSWORD', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY']) {
      expect(env[name], `${name} in plain environment`).toBeUndefined();
      expect(env[`${name}_FILE`]).toMatch(/^\/run\/secrets\//);
    }
    expect(new URL(env.DATABASE_URL).password).toBe('');
    expect(names(services.api.secrets).sort()).toEqual(['builder_db_password', 'builder_jwt_secret', 'builder_s3_access_key', 'builder_s3_secret_key']);
    for (const file of Object.values(env).filter((value) => value.startsWith('/run/secrets/'))) {
      expect(names(services.api.secrets)).toContain(file.slice('/run/secrets/'.length));
    }
    expect(services.postgres.environment?.POSTGRES_PASSWORD_FILE).toBe('/run/secrets/builder_db_password');
    expect(services.postgres.environment?.POSTGRES_PASSWORD).toBeUndefined();
    expect(Object.values(secrets).every((secret) => secret.external === true)).toBe(true);
  });

  it('refuses to resolve without DOCKER_GID, and fails on a typo, as CI then does', () => {
    const unset = spawnSync('docker-compose', ['-f', STACK_FILE, 'config'], { encoding: 'utf8', cwd: ROOT, env: { ...process.env, DOCKER_GID: '' } });
    expect(unset.status).not.toBe(0);
    expect(unset.stderr).toMatch(/DOCKER_GID/);
    const typo = join(scratch, 'stack.yml');
    writeFileSync(typo, readFileSync(STACK_FILE, 'utf8').replace('      update_config:\n        # A new task', '      update_confg:\n        # A new task'));
    const { status, stderr } = composeConfig(typo);
    expect(status).not.toBe(0);
    expect(stderr).toMatch(/update_confg/);
  });
});
