import { spawnSync } from 'node:child_process';
import Docker from 'dockerode';
import { skipOutsideCi } from '../../../../tests/support/skips';
import { WORKSPACE_LABELS } from '../../src/shared/runtime/workspace-runtime.interface';

export const DOCKER_SOCKET = process.env.DOCKER_SOCKET ?? '/var/run/docker.sock';
export const TEMPLATE_IMAGE = process.env.TEMPLATE_IMAGE ?? 'localhost:5000/baseline-landing-template:latest';
const { sessionId: SESSION_LABEL, deployment: DEPLOYMENT_LABEL } = WORKSPACE_LABELS;

export const docker = new Docker({ socketPath: DOCKER_SOCKET });

/**
 * Whether the Docker engine answers and has the template image. Outside CI a missing engine skips
 * the suite with a printed reason; with CI=true it fails it. Synchronous (a short child process),
 * so suites can decide `describe.skipIf` without top-level await.
 */
export function requireDocker(suite: string): boolean {
  const script = `
    const http = require('node:http');
    const req = http.get({ socketPath: process.argv[1], path: '/images/' + encodeURIComponent(process.argv[2]) + '/json', timeout: 5000 }, (res) => {
      res.resume();
      process.exit(res.statusCode === 200 ? 0 : 2);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => { process.stderr.write(e.message); process.exit(1); });`;
  const result = spawnSync(process.execPath, ['-e', script, DOCKER_SOCKET, TEMPLATE_IMAGE], {
    timeout: 10_000,
    encoding: 'utf8',
  });
  if (result.status === 0) return true;
  const reason =
    result.status === 2
      ? `image ${TEMPLATE_IMAGE} is not present in the Docker engine at ${DOCKER_SOCKET}`
      : `the Docker engine at ${DOCKER_SOCKET} does not answer (${result.stderr || result.error?.message || 'no answer'})`;
  skipOutsideCi(suite, reason);
  return false;
}

/** Containers and volumes carrying the session-id label of one of `sessionIds`. */
export async function leftoversOf(sessionIds: Iterable<string>): Promise<Leftovers> {
  const ids = new Set(sessionIds);
  const containers = (await docker.listContainers({ all: true, filters: { label: [SESSION_LABEL] } }))
    .filter((c) => ids.has(c.Labels[SESSION_LABEL]))
    .map((c) => c.Id);
  const volumes = ((await docker.listVolumes({ filters: { label: [SESSION_LABEL] } })).Volumes ?? [])
    .filter((v) => ids.has(v.Labels?.[SESSION_LABEL] ?? ''))
    .map((v) => v.Name);
  return { containers, volumes };
}

/** Force-removes whatever the given sessions left behind (afterAll safety net). */
export async function removeLeftovers(sessionIds: Iterable<string>): Promise<void> {
  await removeAll(await leftoversOf(sessionIds));
}

/**
 * Force-removes every container and volume of a deployment: the label a backend puts on all it
 * creates, so this finds workspaces of sessions the test never saw an id of.
 */
export async function removeDeployment(deploymentId: string): Promise<void> {
  const label = [`${DEPLOYMENT_LABEL}=${deploymentId}`];
  const containers = (await docker.listContainers({ all: true, filters: { label } })).map((c) => c.Id);
  const volumes = ((await docker.listVolumes({ filters: { label } })).Volumes ?? []).map((v) => v.Name);
  await removeAll({ containers, volumes });
}

interface Leftovers {
  containers: string[];
  volumes: string[];
}

async function removeAll({ containers, volumes }: Leftovers): Promise<void> {
  for (const id of containers) await docker.getContainer(id).remove({ force: true }).catch(() => undefined);
  for (const name of volumes) await docker.getVolume(name).remove({ force: true }).catch(() => undefined);
}

export async function containerExists(id: string): Promise<boolean> {
  try {
    await docker.getContainer(id).inspect();
    return true;
  } catch {
    return false;
  }
}

export async function volumeExists(name: string): Promise<boolean> {
  try {
    await docker.getVolume(name).inspect();
    return true;
  } catch {
    return false;
  }
}
