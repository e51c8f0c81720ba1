// A real Docker Swarm on this one machine, for the swarm tests and benchmark (root only): the
// machine's engine becomes the manager, advertising on a veth pair made for it, and with
// `workers: 1` a second engine in a network namespace of its own joins as a worker (its own image
// store, bridge and firewall; overlay traffic crosses the veth as VXLAN). The namespace has no
// default route: nothing it runs can reach past this machine. A pull-through registry on the
// veth's host address serves the worker the images of the local registry (127.0.0.1:5000).
// Everything is removed by destroy(), also after a crash of the process that made it: the next
// run finds its record in STATE_DIR and cleans up first. The machine's engine is shared with other
// test runs; it is left out of swarm mode, exactly as found, and a swarm this code did not make is
// never touched (an engine already in one is refused).
// See ../../../shared/notes/multi-node-swarm.md (and README "Docker Swarm") for the measured facts.
import { execFile, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);
const DOCKER = process.env.DOCKER_CLI ?? 'docker';
/** One test swarm at a time on this machine: this folder is its lock and its record. */
const STATE_DIR = '/run/builder-test-swarm';
/** The link of the nodes: a bridge holding the manager's address, each worker's veth peer on it. */
const BRIDGE = 'br-builder-sw';
const SUBNET = '10.199.0';
const MANAGER_ADDR = `${SUBNET}.1`;
const MAX_WORKERS = 2;
/** Everything of worker `i` (0-based): its namespace, link, address and engine's files. */
function worker(i) {
  const name = `builder-n${i + 2}`;
  return {
    name,
    netns: `builder-swarm-n${i + 2}`,
    vethHost: `vh-${name}`,
    vethPeer: `vn-${name}`,
    addr: `${SUBNET}.${i + 2}`,
    socket: `/run/docker-${name}.sock`,
    root: `/var/lib/docker-${name}`,
    execRoot: `/run/docker-${name}`,
    pidfile: `/run/docker-${name}.pid`,
    bip: `172.31.${250 + i}.1/24`,
  };
}
/** Lets the workers reach each other across the bridge (Docker's FORWARD policy is DROP). */
const FORWARD_RULE = ['FORWARD', '-i', BRIDGE, '-o', BRIDGE, '-j', 'ACCEPT'];
/** Address pool of the swarm's overlay networks (one /24 each), clear of this machine's networks. */
const OVERLAY_POOL = '10.211.0.0/16';
export const REGISTRY_ADDR = `${MANAGER_ADDR}:5000`;
/** Label on the manager node this code makes, so a leftover of an earlier run is known as ours. */
const NODE_LABEL = 'dev.builder.test-swarm';

async function sh(command, args, options = {}) {
  const { stdout } = await run(command, args, { maxBuffer: 16 * 1024 * 1024, ...options });
  return stdout.trim();
}
const docker = (args, socket) => sh(DOCKER, socket ? ['-H', `unix://${socket}`, ...args] : args);
const quiet = (promise) => promise.then(() => undefined, () => undefined);

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
}

function readState() {
  try {
    return JSON.parse(readFileSync(join(STATE_DIR, 'state.json'), 'utf8'));
  } catch {
    return null;
  }
}
function writeState(state) {
  writeFileSync(join(STATE_DIR, 'state.json'), JSON.stringify(state));
}

/** Takes the lock (waiting while another live run holds it); a dead holder's leftovers are cleaned first. */
async function lock(timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      mkdirSync(STATE_DIR);
      writeState({ pid: process.pid });
      return;
    } catch (error) {
      if (error.code !== 'EEXIST') throw error;
    }
    const state = readState();
    if (state && !alive(state.pid)) {
      console.warn(`[local-swarm] cleaning up after an earlier run (pid ${state.pid}) that did not`);
      await teardown(state);
      rmSync(STATE_DIR, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`another test swarm (pid ${state?.pid}) holds ${STATE_DIR}`);
    await sleep(1_000);
  }
}

/** Everything a state record says was made, removed in the order the note gives; each step tolerates "already gone". */
async function teardown(state) {
  if (state.registryPid && alive(state.registryPid)) process.kill(state.registryPid, 'SIGTERM');
  for (const name of state.containers ?? []) await quiet(docker(['rm', '-f', name]));
  for (const name of state.networks ?? []) await quiet(docker(['network', 'rm', name]));
  if (state.swarm && (state.pid === process.pid || (await managerIsOurs(state)))) {
    // Services first (their containers go sooner than with the swarm), then every node leaves.
    const services = await docker(['service', 'ls', '-q']).catch(() => '');
    if (services) await quiet(docker(['service', 'rm', ...services.split('\n')]));
    // The engine removes a removed service's containers with their anonymous volumes; leaving the
    // swarm while one still stops would leave its volume behind.
    await waitUntil(
      'the swarm containers on the manager to be removed',
      async () => (await docker(['ps', '-aq', '--filter', 'label=com.docker.swarm.service.id'])) === '',
      60_000,
      250,
    ).catch((error) => console.warn(`[local-swarm] ${error.message}`));
    for (let i = 0; i < (state.workers ?? 0); i++) await quiet(docker(['swarm', 'leave', '--force'], worker(i).socket));
    await quiet(docker(['swarm', 'leave', '--force']));
  }
  for (let i = 0; i < (state.workers ?? 0); i++) {
    const w = worker(i);
    const pid = state.workerPids?.[i];
    if (pid && alive(pid)) {
      process.kill(pid, 'SIGTERM');
      for (let t = 0; t < 150 && alive(pid); t++) await sleep(200);
      if (alive(pid)) process.kill(pid, 'SIGKILL');
    }
    // What an engine that died hard leaves: processes in the namespace (containerd, shims) and mounts.
    const pids = await sh('ip', ['netns', 'pids', w.netns]).catch(() => '');
    for (const leftover of pids.split('\n').filter(Boolean)) quietKill(Number(leftover));
    const mounts = readFileSync('/proc/mounts', 'utf8')
      .split('\n')
      .map((line) => line.split(' ')[1])
      .filter((target) => target && (target.startsWith(w.root) || target.startsWith(w.execRoot)))
      .reverse();
    for (const target of mounts) await quiet(sh('umount', ['-l', target]));
    rmSync(w.root, { recursive: true, force: true });
    rmSync(w.execRoot, { recursive: true, force: true });
    rmSync(w.socket, { force: true });
    rmSync(w.pidfile, { force: true });
  }
  for (let i = 0; i < MAX_WORKERS; i++) {
    await quiet(sh('ip', ['netns', 'del', worker(i).netns]));
    await quiet(sh('ip', ['link', 'del', worker(i).vethHost]));
  }
  if (state.forwardRule) await quiet(sh('iptables', ['-D', ...FORWARD_RULE]));
  await quiet(sh('ip', ['link', 'del', BRIDGE]));
  // Swarm mode made docker_gwbridge on the manager; it stays after leaving unless removed (once the
  // engine has let go of the ingress endpoint on it, a moment after leaving).
  if (state.createdGwbridge) {
    await waitUntil('docker_gwbridge to be removed', async () => {
      await docker(['network', 'rm', 'docker_gwbridge']).catch((error) => {
        if (!/not found/i.test(String(error.stderr ?? error.message))) throw error;
      });
      return true;
    }, 30_000, 500).catch((error) => console.warn(`[local-swarm] ${error.message}`));
  }
  if (state.registryDir) rmSync(state.registryDir, { recursive: true, force: true });
}

/** Whether the machine's engine is in the swarm this record made (its node carries our label), not another. */
async function managerIsOurs(state) {
  const label = await docker(['node', 'inspect', 'self', '--format', `{{index .Spec.Labels "${NODE_LABEL}"}}`]).catch(() => '');
  if (label === String(state.pid)) return true;
  console.warn(`[local-swarm] the engine's swarm is not the one of run ${state.pid} (label "${label}"): left as it is`);
  return false;
}

function quietKill(pid) {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

async function waitUntil(what, check, timeoutMs, intervalMs = 200) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`[local-swarm] timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/**
 * Makes the swarm. `workers`: 0 (a one-node swarm: the machine's engine), 1 or 2 (worker engines,
 * each in a network namespace of its own, and the registry they pull from). Answers a handle; call
 * destroy() in a `finally`/afterAll. Needs root, the `docker` CLI, iproute2, iptables, nsenter and
 * (with workers) docker-registry.
 */
export async function createLocalSwarm({ workers = 0, lockTimeoutMs = 20 * 60_000 } = {}) {
  if (process.getuid?.() !== 0) throw new Error('[local-swarm] needs root (network namespaces, a second engine)');
  if (!(workers >= 0 && workers <= MAX_WORKERS)) throw new Error(`[local-swarm] 0 to ${MAX_WORKERS} workers, not ${workers}`);
  await lock(lockTimeoutMs);
  const state = { pid: process.pid, createdAt: new Date().toISOString(), workers: 0, workerPids: [] };
  writeState(state);
  const handle = {
    managerAddr: MANAGER_ADDR,
    /** The workers: namespace, address, engine socket and node id of each. */
    workers: [],
    /** The first worker's (most tests need one). */
    workerAddr: workers > 0 ? worker(0).addr : null,
    workerSocket: workers > 0 ? worker(0).socket : null,
    workerNetns: workers > 0 ? worker(0).netns : null,
    registryAddr: workers > 0 ? REGISTRY_ADDR : null,
    managerNodeId: '',
    workerNodeId: null,
    /** The same image under the registry's address (pullable by every node; tagged on the manager). */
    async imageFor(localImage) {
      if (!handle.registryAddr) return localImage;
      const [, path] = /^[^/]+\/(.+)$/.exec(localImage) ?? [null, localImage];
      const name = `${handle.registryAddr}/${path}`;
      await docker(['tag', localImage, name]);
      state.tags = [...(state.tags ?? []), name];
      writeState(state);
      return name;
    },
    /** Stops a worker's engine (its containers with it), as a lost node. */
    async stopWorkerEngine(index = 0) {
      const pid = state.workerPids[index];
      if (!pid || !alive(pid)) return;
      process.kill(pid, 'SIGTERM');
      await waitUntil('the worker engine to exit', async () => !alive(pid), 60_000);
    },
    /**
     * A TCP port on `host` (an address of this machine a container reaches, e.g. a bridge's
     * gateway) forwarding to 127.0.0.1:`targetPort`, in this process. Answers its port.
     */
    async forward(host, targetPort) {
      const server = createServer((client) => {
        const upstream = connect(targetPort, '127.0.0.1');
        client.pipe(upstream).pipe(client);
        const close = () => {
          client.destroy();
          upstream.destroy();
        };
        client.on('error', close);
        upstream.on('error', close);
      });
      await new Promise((resolve, reject) => server.once('error', reject).listen(0, host, resolve));
      handle.servers.push(server);
      return server.address().port;
    },
    servers: [],
    /**
     * Runs the API image as a container on the manager, as swarm mode deploys it: on a bridge of its
     * own (whose DNS resolves the workspaces' service names once it joins their networks), with the
     * manager's socket, its port published on 127.0.0.1 under the same number (preview URLs name
     * it). A `databaseUrl` on 127.0.0.1 is reached through a forwarder on the bridge's gateway.
     * Answers its base URL; it is removed by destroy() (or stopApi()).
     */
    async startApi({ name, image, port, env, databaseUrl }) {
      const network = `${name}-front`;
      state.networks = [...(state.networks ?? []), network];
      state.containers = [...(state.containers ?? []), name];
      writeState(state);
      await docker(['network', 'create', network]);
      const gateway = await docker(['network', 'inspect', network, '--format', '{{(index .IPAM.Config 0).Gateway}}']);
      const vars = { ...env, PORT: String(port) };
      if (databaseUrl) {
        const url = new URL(databaseUrl);
        url.hostname = gateway;
        url.port = String(await handle.forward(gateway, Number(new URL(databaseUrl).port || 5432)));
        vars.DATABASE_URL = url.toString();
      }
      await docker([
        'run', '-d', '--name', name, '--network', network,
        '-p', `127.0.0.1:${port}:${port}`,
        '-v', '/var/run/docker.sock:/var/run/docker.sock',
        '--group-add', String(statSync('/var/run/docker.sock').gid),
        // Names the engine's DNS does not know (a workspace already removed) are never asked upstream.
        '--dns', '127.0.0.1',
        ...Object.entries(vars).flatMap(([key, value]) => ['-e', `${key}=${value}`]),
        image,
      ]);
      const baseUrl = `http://127.0.0.1:${port}`;
      await waitUntil(`the API container ${name}`, () => fetch(`${baseUrl}/health/ready`).then((r) => r.ok), 120_000, 250).catch(async (error) => {
        const logs = await docker(['logs', '--tail', '40', name]).catch(() => '');
        throw new Error(`${error.message}\n${logs}`);
      });
      return baseUrl;
    },
    /** Removes an API container startApi() made (its logs, if asked, printed first). */
    async stopApi(name, { printLogs = false } = {}) {
      // A graceful stop: the API ends its pooled workspaces on the way out, as in production.
      await quiet(docker(['stop', '-t', '30', name]));
      if (printLogs) console.log(await run(DOCKER, ['logs', '--tail', '200', name]).then((r) => r.stdout + r.stderr, () => ''));
      await quiet(docker(['rm', '-f', name]));
      await quiet(docker(['network', 'rm', `${name}-front`]));
    },
    async destroy() {
      for (const server of handle.servers) server.close();
      for (const tag of state.tags ?? []) await quiet(docker(['rmi', '--no-prune', tag]));
      await teardown(state);
      rmSync(STATE_DIR, { recursive: true, force: true });
    },
  };
  try {
    const info = JSON.parse(await docker(['info', '--format', '{{json .Swarm}}']));
    if (info.LocalNodeState !== 'inactive') {
      throw new Error(`[local-swarm] the machine's engine is already in a swarm (${info.LocalNodeState}) this run did not make; not touching it`);
    }
    if (readState()?.pid !== process.pid) throw new Error('[local-swarm] lost the lock');
    for (const line of (await sh('ip', ['-4', 'route'])).split('\n')) {
      if (line.startsWith(`${SUBNET}.`) || line.startsWith('10.211.')) throw new Error(`[local-swarm] ${line} is in use on this machine`);
    }

    // The link: a bridge with the manager's address; each worker's veth peer in a namespace of its
    // own, without a default route.
    state.link = true;
    writeState(state);
    await sh('ip', ['link', 'add', BRIDGE, 'type', 'bridge']);
    await sh('ip', ['addr', 'add', `${MANAGER_ADDR}/24`, 'dev', BRIDGE]);
    await sh('ip', ['link', 'set', BRIDGE, 'up']);
    if (workers > 1) {
      await sh('iptables', ['-I', ...FORWARD_RULE]);
      state.forwardRule = true;
      writeState(state);
    }

    if (workers > 0) {
      // The registry every node reaches: pulls are passed through to the local one.
      state.registryDir = mkdtempSync(join(tmpdir(), 'builder-swarm-registry-'));
      writeState(state);
      writeFileSync(
        join(state.registryDir, 'config.yml'),
        `version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: ${state.registryDir}/storage\nproxy:\n  remoteurl: http://127.0.0.1:5000\nhttp:\n  addr: ${REGISTRY_ADDR}\n`,
      );
      const registryLog = openSync(join(state.registryDir, 'registry.log'), 'a');
      const registry = spawn('docker-registry', ['serve', join(state.registryDir, 'config.yml')], {
        detached: true,
        stdio: ['ignore', registryLog, registryLog],
      });
      registry.unref();
      state.registryPid = registry.pid;
      writeState(state);
      await waitUntil('the registry', () => fetch(`http://${REGISTRY_ADDR}/v2/`).then((r) => r.ok), 20_000);
    }

    for (let i = 0; i < workers; i++) {
      const w = worker(i);
      state.workers = i + 1;
      writeState(state);
      await sh('ip', ['netns', 'add', w.netns]);
      await sh('ip', ['link', 'add', w.vethHost, 'type', 'veth', 'peer', 'name', w.vethPeer]);
      await sh('ip', ['link', 'set', w.vethHost, 'master', BRIDGE]);
      await sh('ip', ['link', 'set', w.vethHost, 'up']);
      await sh('ip', ['link', 'set', w.vethPeer, 'netns', w.netns]);
      await sh('ip', ['netns', 'exec', w.netns, 'ip', 'addr', 'add', `${w.addr}/24`, 'dev', w.vethPeer]);
      await sh('ip', ['netns', 'exec', w.netns, 'ip', 'link', 'set', w.vethPeer, 'up']);
      await sh('ip', ['netns', 'exec', w.netns, 'ip', 'link', 'set', 'lo', 'up']);
      // The engine: nsenter, not `ip netns exec` (which remounts /sys and hides the cgroups).
      mkdirSync(w.root, { recursive: true });
      mkdirSync(w.execRoot, { recursive: true });
      const logFd = openSync(join(w.root, 'dockerd.log'), 'a');
      const engine = spawn(
        'nsenter',
        [
          `--net=/run/netns/${w.netns}`,
          'dockerd',
          '--data-root', w.root,
          '--exec-root', w.execRoot,
          '-H', `unix://${w.socket}`,
          '--pidfile', w.pidfile,
          '--userland-proxy=false',
          '--bip', w.bip,
          '--insecure-registry', REGISTRY_ADDR,
        ],
        { detached: true, stdio: ['ignore', logFd, logFd] },
      );
      engine.unref();
      state.workerPids[i] = engine.pid; // nsenter execs dockerd: the same process
      writeState(state);
    }
    for (let i = 0; i < workers; i++) {
      await waitUntil(`the engine of ${worker(i).name}`, () => docker(['info', '--format', '{{.ID}}'], worker(i).socket).then(Boolean), 60_000);
    }

    state.createdGwbridge = !(await docker(['network', 'ls', '--format', '{{.Name}}'])).split('\n').includes('docker_gwbridge');
    state.swarm = true;
    writeState(state);
    await docker([
      'swarm', 'init',
      '--advertise-addr', MANAGER_ADDR,
      '--listen-addr', `${MANAGER_ADDR}:2377`,
      '--data-path-addr', MANAGER_ADDR,
      '--default-addr-pool', OVERLAY_POOL,
      '--default-addr-pool-mask-length', '24',
    ]);
    handle.managerNodeId = await docker(['info', '--format', '{{.Swarm.NodeID}}']);
    await docker(['node', 'update', '--label-add', `${NODE_LABEL}=${process.pid}`, handle.managerNodeId]);
    if (workers > 0) {
      const token = await docker(['swarm', 'join-token', '-q', 'worker']);
      for (let i = 0; i < workers; i++) {
        const w = worker(i);
        await docker(['swarm', 'join', '--token', token, `${MANAGER_ADDR}:2377`], w.socket);
        const nodeId = await docker(['info', '--format', '{{.Swarm.NodeID}}'], w.socket);
        handle.workers.push({ name: w.name, netns: w.netns, addr: w.addr, socket: w.socket, nodeId });
        await waitUntil(
          `${w.name} to be Ready`,
          async () => (await docker(['node', 'inspect', '--format', '{{.Status.State}}', nodeId])) === 'ready',
          30_000,
        );
      }
      handle.workerNodeId = handle.workers[0].nodeId;
    }
    return handle;
  } catch (error) {
    await handle.destroy().catch((cleanupError) => console.error('[local-swarm] clean-up failed', cleanupError));
    throw error;
  }
}

/** Whether this machine can make a local swarm (root, the tools, an engine not in a swarm). A reason when not. */
export function localSwarmUnavailable() {
  if (process.getuid?.() !== 0) return 'needs root';
  for (const tool of [DOCKER, 'dockerd', 'nsenter', 'ip', 'iptables', 'docker-registry']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `${tool} is not installed`;
  }
  return null;
}
