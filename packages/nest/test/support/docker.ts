import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, rmdirSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import Docker from 'dockerode';
import { skipOutsideCi } from '../../../../tests/support/skips';
import { attachedLoopDevices } from '../../src/shared/runtime/loop-volumes.service';
import { WORKSPACE_LABELS } from '../../src/shared/runtime/workspace-runtime.interface';

export const DOCKER_SOCKET = process.env.DOCKER_SOCKET ?? '/var/run/docker.sock';
export const TEMPLATE_IMAGE = process.env.TEMPLATE_IMAGE ?? 'localhost:5000/baseline-landing-template:latest';
const { sessionId: SESSION_LABEL, deployment: DEPLOYMENT_LABEL } = WORKSPACE_LABELS;
/** Where the apps of the Docker suites keep workspace file system images (their DATA_DIR is the default). */
const IMAGE_ROOT = resolve(__dirname, '../../../../.data/workspace-volumes');

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

/** The session a workspace file system image belongs to (`<sessionId>.ext4`, or its half-made `.ext4.tmp`). */
function imageSession(path: string): string {
  return basename(path).replace(/\.ext4(\.tmp)?$/, '');
}

/** Images of `ids` under {@link IMAGE_ROOT}. */
function imagesOf(ids: Set<string>): string[] {
  const dirs = (() => {
    try {
      return readdirSync(IMAGE_ROOT).map((dir) => join(IMAGE_ROOT, dir));
    } catch {
      return [];
    }
  })();
  return dirs.flatMap((dir) => {
    try {
      return readdirSync(dir)
        .filter((file) => ids.has(imageSession(file)))
        .map((file) => join(dir, file));
    } catch {
      return [];
    }
  });
}

/**
 * What the given sessions hold in the engine and on this host: containers carrying their
 * session-id label, and as `volumes` their Docker volumes plus their volumes' file systems (loop
 * devices backed by a `<sessionId>.ext4` image, and the images), so asserting no volume is left
 * also asserts no loop device or image is.
 */
export async function leftoversOf(sessionIds: Iterable<string>): Promise<Leftovers> {
  const ids = new Set(sessionIds);
  const containers = (await docker.listContainers({ all: true, filters: { label: [SESSION_LABEL] } }))
    .filter((c) => ids.has(c.Labels[SESSION_LABEL]))
    .map((c) => c.Id);
  const volumes = ((await docker.listVolumes({ filters: { label: [SESSION_LABEL] } })).Volumes ?? [])
    .filter((v) => ids.has(v.Labels?.[SESSION_LABEL] ?? ''))
    .map((v) => v.Name);
  const loops = (await attachedLoopDevices())
    .filter((loop) => loop.backingFile.endsWith('.ext4') && ids.has(imageSession(loop.backingFile)))
    .map((loop) => `${loop.device} (${loop.backingFile})`);
  return { containers, volumes: [...volumes, ...loops, ...imagesOf(ids)] };
}

/** Force-removes whatever the given sessions left behind (afterAll safety net). */
export async function removeLeftovers(sessionIds: Iterable<string>): Promise<void> {
  const ids = new Set(sessionIds);
  await removeAll(await leftoversOf(ids), ids);
}

/**
 * Force-removes every container and volume of a deployment: the label a backend puts on all it
 * creates, so this finds workspaces of sessions the test never saw an id of (and their file systems).
 */
export async function removeDeployment(deploymentId: string): Promise<void> {
  const label = [`${DEPLOYMENT_LABEL}=${deploymentId}`];
  const containers = await docker.listContainers({ all: true, filters: { label } });
  const volumes = (await docker.listVolumes({ filters: { label } })).Volumes ?? [];
  const ids = new Set(
    [
      ...containers.map((c) => c.Labels[SESSION_LABEL]),
      ...volumes.map((v) => v.Labels?.[SESSION_LABEL]),
    ].filter((id): id is string => Boolean(id)),
  );
  await removeAll({ containers: containers.map((c) => c.Id), volumes: volumes.map((v) => v.Name) }, ids);
}

interface Leftovers {
  containers: string[];
  volumes: string[];
}

/** Removes containers and volumes, and the loop devices and images of the sessions `ids`. */
async function removeAll({ containers, volumes }: Leftovers, ids: Set<string>): Promise<void> {
  for (const id of containers)
    await docker
      .getContainer(id)
      .remove({ force: true })
      .catch(() => undefined);
  for (const name of volumes) {
    if (name.startsWith('/')) continue; // a loop device or an image: below
    await docker
      .getVolume(name)
      .remove({ force: true })
      .catch(() => undefined);
  }
  for (const loop of await attachedLoopDevices()) {
    if (!loop.backingFile.endsWith('.ext4') || !ids.has(imageSession(loop.backingFile))) continue;
    try {
      execFileSync('losetup', ['--detach', loop.device], { stdio: 'ignore' });
    } catch {
      // detached meanwhile
    }
  }
  for (const image of imagesOf(ids)) {
    rmSync(image, { force: true });
    try {
      rmdirSync(dirname(image)); // the deployment's folder, once its last image is gone
    } catch {
      // other images still there
    }
  }
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
