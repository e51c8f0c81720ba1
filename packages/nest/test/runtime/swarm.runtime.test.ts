import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalSwarm, localSwarmUnavailable } from '../../../../scripts/swarm/local-swarm.mjs';
import { WORKSPACE_LABELS } from '../../src/shared/runtime/workspace-runtime.interface';
import { docker, TEMPLATE_IMAGE } from '../support/docker';
import { contractCases } from './runtime-contract';
import { REPO_ROOT, TEST_RUN_LABEL, dockerAvailability } from './runtime-test.helpers';
import { swarmCases } from './swarm-cases';

/**
 * The swarm runtime passes the same contract as the docker and local runtimes, on a one-node swarm
 * made of this machine's engine (and left out of swarm mode afterwards). The contract runs inside
 * the swarm: in a container on the manager with this checkout mounted (see
 * swarm-contract.in-swarm.ts); each of its cases is one test here.
 */
const runId = `swarm-${process.pid}-${Date.now()}`;
const engineUp = dockerAvailability();
const unavailable = engineUp.available ? localSwarmUnavailable() : engineUp.reason;
if (unavailable && process.env.CI === 'true') throw new Error(`swarm runtime tests: ${unavailable} (CI requires them)`);
if (unavailable) console.warn(`[swarm runtime tests] SKIPPED: ${unavailable}`);

interface InnerResult {
  status: string;
  failureMessages: string[];
}

describe.skipIf(unavailable !== null)('SwarmRuntime on a one-node swarm', () => {
  let swarm: Awaited<ReturnType<typeof createLocalSwarm>> | undefined;
  let reportDir: string;
  const network = `builder-swarm-contract-${runId}`;
  const results = new Map<string, InnerResult>();

  let gwbridgeBefore = false;
  // Only the swarm runtime makes anonymous workspace volumes; other sessions' volumes never count.
  const anonymousVolumes = async () =>
    new Set(
      ((await docker.listVolumes({ filters: { label: [`${WORKSPACE_LABELS.managed}=true`] } })).Volumes ?? [])
        .map((v) => v.Name)
        .filter((name) => /^[0-9a-f]{64}$/.test(name)),
    );
  let volumesBefore = new Set<string>();

  beforeAll(async () => {
    gwbridgeBefore = (await docker.listNetworks()).some((n) => n.Name === 'docker_gwbridge');
    volumesBefore = await anonymousVolumes();
    swarm = await createLocalSwarm({ workers: 0 });
    reportDir = await mkdtemp(join(tmpdir(), 'swarm-contract-'));
    // A user-defined bridge gives the container the engine's DNS, which resolves service names.
    await docker.createNetwork({ Name: network, Labels: { [TEST_RUN_LABEL]: runId } });
    const container = await docker.createContainer({
      name: `builder-swarm-contract-${runId}`,
      Image: TEMPLATE_IMAGE,
      User: '0',
      Entrypoint: ['node'],
      Cmd: [
        join(REPO_ROOT, 'node_modules/vitest/vitest.mjs'),
        'run',
        '--config',
        'test/runtime/in-swarm.vitest.config.ts',
        '--reporter=default',
        '--reporter=json',
        '--outputFile=/report/report.json',
      ],
      WorkingDir: resolve(REPO_ROOT, 'packages/nest'),
      Env: [
        `SWARM_TEST_RUN_ID=${runId}`,
        `TEST_TEMPLATE_IMAGE=${TEMPLATE_IMAGE}`,
        `CI=${process.env.CI ?? ''}`,
        'NODE_ENV=test',
        'NO_COLOR=1',
      ],
      Labels: { [TEST_RUN_LABEL]: runId },
      HostConfig: {
        Binds: [`${REPO_ROOT}:${REPO_ROOT}`, '/var/run/docker.sock:/var/run/docker.sock', `${reportDir}:/report`],
        NetworkMode: network,
        // Names the engine's DNS does not know (a workspace already removed) are never asked upstream.
        Dns: ['127.0.0.1'],
      },
    });
    try {
      await container.start();
      const { StatusCode } = await container.wait();
      const output = await container.logs({ stdout: true, stderr: true });
      console.log(`[swarm contract, inside the swarm, exit ${StatusCode}]\n${output.toString('utf8').replace(/[\x00-\x08]/g, '')}`);
      const report = JSON.parse(await readFile(join(reportDir, 'report.json'), 'utf8')) as {
        testResults: Array<{ assertionResults: Array<{ title: string } & InnerResult> }>;
      };
      for (const file of report.testResults) {
        for (const result of file.assertionResults) results.set(result.title, result);
      }
    } finally {
      await container.remove({ force: true }).catch(() => undefined);
    }
  }, 20 * 60_000);

  afterAll(async () => {
    await docker.getNetwork(network).remove().catch(() => undefined);
    await swarm?.destroy();
    if (reportDir) await rm(reportDir, { recursive: true, force: true });
  }, 5 * 60_000);

  for (const contractCase of contractCases(swarmCases)) {
    it(contractCase.name, () => {
      const result = results.get(contractCase.name);
      expect(result, 'the case ran inside the swarm').toBeDefined();
      if (result?.status !== 'passed') throw new Error(`inside the swarm: ${result?.status}\n${result?.failureMessages.join('\n')}`);
    });
  }

  it('leaves the engine out of swarm mode, as it found it', async () => {
    await swarm?.destroy();
    swarm = undefined;
    const info = (await docker.info()) as { Swarm: { LocalNodeState: string } };
    expect(info.Swarm.LocalNodeState).toBe('inactive');
    const networks = (await docker.listNetworks()).map((n) => n.Name);
    expect(networks).not.toContain('ingress');
    if (!gwbridgeBefore) expect(networks).not.toContain('docker_gwbridge');
    // Each task's /app volume went with its container.
    expect([...(await anonymousVolumes())].filter((name) => !volumesBefore.has(name))).toEqual([]);
  });
});
