import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ContainerSpec } from '@builder/shared';
import { skipOutsideCi } from '../../../../tests/support/skips';
import { HttpProbe } from '../../src/shared/runtime/http-probe.service';
import { resolveRuntimeOptions, type RuntimeOptions } from '../../src/shared/runtime/runtime-options';
import type { LogLine, WorkspaceRuntime } from '../../src/shared/runtime/workspace-runtime.interface';

export const REPO_ROOT = resolve(__dirname, '../../../..');
export const TEMPLATE_DIR = resolve(REPO_ROOT, 'workspace-templates/baseline-landing');
export const TEMPLATE_IMAGE = process.env.TEST_TEMPLATE_IMAGE ?? 'baseline-landing-template:latest';
export const TEMPLATE_TEXT = 'Build your landing page in minutes';
/** Every test run labels what it creates, so cleanup never touches anything else. */
export const TEST_RUN_LABEL = 'dev.builder.test-run';
export const MIB = 1024 * 1024;

export function testOptions(overrides: Partial<RuntimeOptions> & { dataDir: string }): RuntimeOptions {
  return resolveRuntimeOptions({
    templateDir: TEMPLATE_DIR,
    templateImage: TEMPLATE_IMAGE,
    startTimeoutMs: 90_000,
    operationTimeoutMs: 30_000,
    ...overrides,
  });
}

export function workspaceSpec(options: {
  runId: string;
  sessionId: string;
  hostPort: number;
}): ContainerSpec {
  return {
    sessionId: options.sessionId,
    userId: 'test-user',
    name: `workspace-test-user-${Date.now()}-${options.sessionId.slice(-6)}`,
    image: TEMPLATE_IMAGE,
    templateName: 'baseline-landing',
    hostPort: options.hostPort,
    containerPort: 4321,
    resources: {
      memoryBytes: 512 * MIB,
      cpuShares: 512,
      cpuCores: 0.5,
      pidsLimit: 256,
      storageBytes: 1024 * MIB,
    },
    env: { WORKSPACE_TEST: '1' },
    labels: { [TEST_RUN_LABEL]: options.runId },
  };
}

const takenPorts = new Set<number>();

/** A port of 8050-8099 nobody listens on (checked on 127.0.0.1 and 0.0.0.0), not handed out before. */
export async function freeTestPort(): Promise<number> {
  const offset = Math.floor(Math.random() * 50);
  for (let i = 0; i < 50; i++) {
    const port = 8050 + ((offset + i) % 50);
    if (takenPorts.has(port)) continue;
    if ((await canBind('127.0.0.1', port)) && (await canBind('0.0.0.0', port))) {
      takenPorts.add(port);
      return port;
    }
  }
  throw new Error('no free port in 8050-8099');
}

function canBind(host: string, port: number): Promise<boolean> {
  return new Promise((resolveBind) => {
    const server = createServer();
    server.once('error', () => resolveBind(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolveBind(true)));
  });
}

/**
 * Whether a Docker engine answers, decided synchronously (suites are declared before any await can
 * run). Outside CI a missing engine skips the Docker suites with a printed reason; in CI it fails them.
 */
export function dockerAvailability(): { available: boolean; reason: string } {
  const socket = process.env.DOCKER_SOCKET ?? '/var/run/docker.sock';
  const ping = spawnSync(
    process.execPath,
    [
      '-e',
      `require('http').get({ socketPath: process.argv[1], path: '/_ping', timeout: 3000 }, (res) => process.exit(res.statusCode === 200 ? 0 : 1))
        .on('timeout', () => { console.error('no answer within 3 s'); process.exit(1); })
        .on('error', (error) => { console.error(error.code || error.message); process.exit(1); });`,
      socket,
    ],
    { encoding: 'utf8', timeout: 10_000 },
  );
  if (ping.status === 0) return { available: true, reason: '' };
  const reason = `Docker engine at ${socket} does not answer (${(ping.stderr || ping.error?.message || 'no answer').trim()})`;
  skipOutsideCi('runtime tests on Docker', reason);
  return { available: false, reason };
}

export interface FetchResult {
  status: number;
  text: string;
}

/** GET with a short connect bound (see HttpProbe), so a dropped first SYN does not cost seconds. */
export async function fetchPage(url: string, timeoutMs = 15_000): Promise<FetchResult | null> {
  const result = await new HttpProbe().get(url, { timeoutMs, keepBody: true });
  return result.status === null ? null : { status: result.status, text: result.body ?? '' };
}

/** Polls `check` (tight interval) until it returns a value, or fails naming what it waited for. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | null | undefined | false>,
  timeoutMs: number,
  intervalMs = 75,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Follows a workspace's output into an array; `ended` resolves when the runtime ends the output. */
export async function followOutput(
  runtime: WorkspaceRuntime,
  id: string,
  tail: number,
): Promise<{ lines: LogLine[]; stop: () => void; ended: Promise<void> }> {
  const lines: LogLine[] = [];
  let onEnd: () => void = () => undefined;
  const ended = new Promise<void>((resolve) => (onEnd = resolve));
  const stop = await runtime.followLogs(id, (line) => lines.push(line), { tail, onEnd });
  return { lines, stop, ended };
}
