import { request } from 'node:http';
import Dockerode from 'dockerode';
import { expect } from 'vitest';
import { WORKSPACE_LABELS } from '../../src/shared/runtime/workspace-runtime.interface';
import { WORKSPACE_AGENT_PORT } from '../../src/shared/runtime/workspace-agent.client';
import type { ContractCase } from './runtime-contract';
import { MIB, TEMPLATE_IMAGE, TEST_RUN_LABEL } from './runtime-test.helpers';

/**
 * The swarm runtime's own cases, run (inside the swarm, see swarm.runtime.test.ts) on the
 * contract's workspace while it runs. On a one-node swarm the task's container is on this engine,
 * so its hardening is read where it runs.
 */
export const engine = new Dockerode({ socketPath: process.env.DOCKER_SOCKET ?? '/var/run/docker.sock' });

/** The container of a swarm workspace's running task, on this engine. */
export async function taskContainer(serviceId: string): Promise<Dockerode.ContainerInspectInfo> {
  const [container] = await engine.listContainers({
    filters: { label: [`com.docker.swarm.service.id=${serviceId}`], status: ['running'] },
  });
  expect(container, `a running container of service ${serviceId}`).toBeDefined();
  return engine.getContainer(container.Id).inspect();
}

/** Status of a request to a workspace's agent with an Authorization header of our choosing (or none). */
function agentStatus(host: string, authorization?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host, port: WORKSPACE_AGENT_PORT, path: '/v1/state', headers: authorization ? { authorization } : {} },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.once('error', reject);
    req.end();
  });
}

export const swarmCases: ContractCase[] = [
  {
    name: 'is a service of one replica, dnsrr, no published port, on an internal overlay of its own',
    async run({ id, spec }) {
      const service = await engine.getService(id).inspect();
      const task = service.Spec.TaskTemplate;
      expect(service.Spec.Name).toBe(`ws-${spec.sessionId}`);
      expect(service.Spec.Mode).toEqual({ Replicated: { Replicas: 1 } });
      expect(service.Spec.EndpointSpec).toEqual({ Mode: 'dnsrr' });
      expect(service.Endpoint?.Ports ?? []).toEqual([]);
      expect(service.Spec.Labels).toMatchObject({
        [WORKSPACE_LABELS.managed]: 'true',
        [WORKSPACE_LABELS.sessionId]: spec.sessionId,
        [TEST_RUN_LABEL]: spec.labels[TEST_RUN_LABEL],
      });
      // A small restart bound; limits, and a memory reservation that matches its limit.
      expect(task.RestartPolicy).toMatchObject({ Condition: 'on-failure', MaxAttempts: 2 });
      expect(task.Resources.Limits).toEqual({ NanoCPUs: 500_000_000, MemoryBytes: 512 * MIB, Pids: 256 });
      expect(task.Resources.Reservations.MemoryBytes).toBe(512 * MIB);
      expect(task.Resources.Reservations.NanoCPUs).toBeGreaterThan(0);
      expect(task.Networks).toHaveLength(1);
      const network = await engine.getNetwork(task.Networks[0].Target).inspect();
      expect(network).toMatchObject({ Name: `ws-${spec.sessionId}`, Driver: 'overlay', Internal: true, Attachable: true });
      expect(network.Labels).toMatchObject({ [WORKSPACE_LABELS.sessionId]: spec.sessionId });
    },
  },
  {
    name: "has the docker runtime's hardening on its task's container",
    async run({ runtime, id }) {
      const info = await taskContainer(id);
      expect(info.Config.User).toBe('1000:1000');
      expect(info.HostConfig.ReadonlyRootfs).toBe(true);
      expect(info.HostConfig.CapDrop).toEqual(['ALL']);
      expect(info.HostConfig.PidsLimit).toBe(256);
      expect(info.HostConfig.Init).toBe(true);
      expect(info.HostConfig.Memory).toBe(512 * MIB);
      expect(info.HostConfig.NanoCpus).toBe(500_000_000);
      expect(info.HostConfig.PortBindings ?? {}).toEqual({});
      // No service setting for no-new-privileges on this engine (API 1.41): see the setuid case.
      expect(info.HostConfig.SecurityOpt ?? []).toEqual([]);
      expect(info.Config.Healthcheck).toMatchObject({ Test: ['NONE'] });
      expect(info.Mounts.find((mount) => mount.Destination === '/app')).toMatchObject({ Type: 'volume', RW: true });
      const mounts = await runtime.exec(id, ['grep', '-E', ' /(tmp|home/node) ', '/proc/mounts']);
      expect(mounts.stdout.trim().split('\n')).toHaveLength(2);
      for (const line of mounts.stdout.trim().split('\n')) expect(line).toMatch(/^tmpfs .*nosuid/);
      expect((await runtime.exec(id, ['id', '-u'])).stdout).toBe('1000\n');
      expect((await runtime.exec(id, ['touch', '/etc/written'])).exitCode).not.toBe(0);
    },
  },
  {
    name: 'has no setuid or setgid file in its image',
    async run() {
      // What no-new-privileges would guard against: with every capability dropped and a non-root
      // user, a setuid file is the remaining way up. The whole image is searched, as root.
      const container = await engine.createContainer({
        Image: TEMPLATE_IMAGE,
        User: '0',
        Entrypoint: ['find', '/', '-xdev', '-perm', '/6000', '-type', 'f'],
        Labels: { [TEST_RUN_LABEL]: 'setuid-scan' },
        HostConfig: { NetworkMode: 'none' },
      });
      try {
        const output = await new Promise<string>((resolve, reject) => {
          void container.attach({ stream: true, stdout: true, stderr: true }, (error, stream) => {
            if (error || !stream) return reject(error ?? new Error('no stream'));
            const chunks: Buffer[] = [];
            stream.on('data', (chunk: Buffer) => chunks.push(chunk));
            stream.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
            void container.start().catch(reject);
          });
        });
        expect((await container.wait()).StatusCode).toBe(0);
        expect(output.replace(/[\x00-\x08]/g, '').trim()).toBe('');
      } finally {
        await container.remove({ force: true });
      }
    },
  },
  {
    name: "answers only callers that show the session's secret, which the workspace's processes do not inherit",
    async run({ runtime, id }) {
      const { host } = await runtime.address(id);
      expect(await agentStatus(host)).toBe(401);
      expect(await agentStatus(host, 'Bearer not-the-secret')).toBe(401);
      const env = await runtime.exec(id, ['sh', '-c', 'echo "token=${WORKSPACE_AGENT_TOKEN:-none}"']);
      expect(env.stdout).toBe('token=none\n');
    },
  },
];
