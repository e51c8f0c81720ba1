import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { envSchema } from '../../packages/nest/src/config/env.schema';

// The development environment's compose file, checked by a real Compose implementation: Debian's
// docker-compose (1.29), which scripts/setup.sh installs for the tests. Only `config` runs: it
// parses and validates the file without pulling the images, which these machines cannot reach.
const ROOT = join(__dirname, '../..');
const COMPOSE_FILE = join(ROOT, '.devcontainer/docker-compose.yml');

const available = spawnSync('docker-compose', ['version'], { encoding: 'utf8' }).status === 0;
if (!available) {
  if (process.env.CI === 'true') throw new Error('docker-compose is not installed (apt-get install docker-compose); CI validates the compose file with it');
  console.warn('[compose] SKIPPED: docker-compose is not installed (apt-get install docker-compose)');
}

interface ComposeService {
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  privileged?: boolean;
  network_mode?: string;
}

/** `docker-compose config` of a file: its exit code, errors, and the resolved file as an object. */
function composeConfig(file: string): { status: number | null; stderr: string; config?: { services: Record<string, ComposeService> } } {
  const run = spawnSync('docker-compose', ['-f', file, 'config'], { encoding: 'utf8', cwd: ROOT });
  if (run.status !== 0) return { status: run.status, stderr: run.stderr };
  // PyYAML comes with docker-compose: its own parser reads back what it printed.
  const json = spawnSync('python3', ['-c', 'import json, sys, yaml; print(json.dumps(yaml.safe_load(sys.stdin)))'], {
    input: run.stdout,
    encoding: 'utf8',
  });
  if (json.status !== 0) throw new Error(`reading the resolved compose file failed: ${json.stderr}`);
  return { status: 0, stderr: run.stderr, config: JSON.parse(json.stdout) };
}

describe.skipIf(!available)('.devcontainer/docker-compose.yml', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'compose-test-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('is valid for docker-compose and has the plan\'s services: Docker socket, PostgreSQL, MinIO, a registry, cAdvisor', () => {
    const { status, stderr, config } = composeConfig(COMPOSE_FILE);
    expect(status, stderr).toBe(0);
    const services = config!.services;
    expect(Object.keys(services).sort()).toEqual(['app', 'cadvisor', 'minio', 'postgres', 'registry']);
    expect(services.app.volumes).toContain('/var/run/docker.sock:/var/run/docker.sock:rw');
    // cAdvisor sees the engine's containers through the host's cgroups, runtime folders and Docker's state.
    expect(services.cadvisor.privileged).toBe(true);
    for (const mount of ['/:/rootfs:ro', '/var/run:/var/run:ro', '/sys:/sys:ro', '/var/lib/docker:/var/lib/docker:ro']) {
      expect(services.cadvisor.volumes).toContain(mount);
    }
  });

  it('sets only variables the app reads', () => {
    const read = new Set(Object.keys(envSchema.innerType().shape));
    const set = Object.keys(composeConfig(COMPOSE_FILE).config!.services.app.environment ?? {});
    expect(set.length).toBeGreaterThan(0);
    expect(set.filter((name) => !read.has(name))).toEqual([]);
  });

  it('leaves the preview range 8000-8100 to the workspaces, which publish it themselves', () => {
    for (const [name, service] of Object.entries(composeConfig(COMPOSE_FILE).config!.services)) {
      for (const port of service.ports ?? []) {
        const host = Number(/(?:^|:)(\d+):\d+(?:\/\w+)?$/.exec(port)?.[1]);
        expect(host >= 8000 && host <= 8100, `${name} publishes ${port}`).toBe(false);
      }
    }
  });

  it('fails on a typo, as CI then does', () => {
    const typo = join(scratch, 'docker-compose.yml');
    writeFileSync(typo, readFileSync(COMPOSE_FILE, 'utf8').replace('    environment:\n      DATABASE_URL', '    enviroment:\n      DATABASE_URL'));
    const { status, stderr } = composeConfig(typo);
    expect(status).not.toBe(0);
    expect(stderr).toMatch(/enviroment/);
  });
});
