import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import type { RuntimeOptions } from '../../src/shared/runtime/runtime-options';
import { SwarmRuntime } from '../../src/shared/runtime/swarm.runtime';
import { DockerService } from '../../src/shared/services/docker.service';
import { type ContractWorkspace, contractCases, registerContract } from './runtime-contract';
import { TEMPLATE_IMAGE, TEST_RUN_LABEL, testOptions, workspaceSpec } from './runtime-test.helpers';
import { engine, swarmCases } from './swarm-cases';

/**
 * The runtime contract on the swarm runtime, run by swarm.runtime.test.ts in a container on this
 * swarm's manager: like the API in swarm mode, it reaches workspaces over their networks only, so
 * it must run where those networks are (a process on the host is on none of them).
 */
const runId = process.env.SWARM_TEST_RUN_ID ?? `swarm-${process.pid}-${Date.now()}`;

describe('SwarmRuntime inside the swarm', () => {
  let options: RuntimeOptions;
  let runtime: SwarmRuntime;
  let dataDir: string;
  const workspace = {} as ContractWorkspace;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'swarm-runtime-test-'));
    options = testOptions({ dataDir, runtime: 'swarm' });
    runtime = new SwarmRuntime(options, new DockerService(options));
    await runtime.ping();
    expect(await runtime.ensureImage(TEMPLATE_IMAGE)).toBe('present');
    Object.assign(workspace, {
      runtime,
      options,
      newSpec: async (suffix: string) => workspaceSpec({ runId, sessionId: `t-${runId}-${suffix}`, hostPort: 0 }),
    });
  });

  afterAll(async () => {
    // Whatever a failed case left: everything this run made carries its label.
    const label = `${TEST_RUN_LABEL}=${runId}`;
    for (const service of await engine.listServices({ filters: { label: [label] } })) {
      await engine.getService(service.ID).remove().catch(() => undefined);
    }
    for (const network of await engine.listNetworks({ filters: { label: [label] } })) {
      await runtime.removeBySession(network.Labels?.['dev.builder.session-id'] ?? '').catch(() => undefined);
    }
    runtime.onModuleDestroy();
    await rm(dataDir, { recursive: true, force: true });
  });

  registerContract(() => workspace, contractCases(swarmCases));
});
