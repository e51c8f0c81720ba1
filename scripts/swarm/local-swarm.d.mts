/** Types of local-swarm.mjs (a plain module, shared by the tests and the benchmark). */
import type { Server } from 'node:net';

export declare const REGISTRY_ADDR: string;

export interface LocalSwarmWorker {
  name: string;
  netns: string;
  addr: string;
  /** Its engine's socket. */
  socket: string;
  nodeId: string;
}

export interface LocalSwarm {
  /** The manager's address on the link (the machine's engine). */
  managerAddr: string;
  workers: LocalSwarmWorker[];
  /** The first worker's address, engine socket, namespace and node id (null without workers). */
  workerAddr: string | null;
  workerSocket: string | null;
  workerNetns: string | null;
  workerNodeId: string | null;
  /** The registry every node reaches, with workers. */
  registryAddr: string | null;
  managerNodeId: string;
  /** The image under the registry's address, tagged on the manager (the name every node pulls). */
  imageFor(localImage: string): Promise<string>;
  /** Stops a worker's engine (the first by default), as a lost node. */
  stopWorkerEngine(index?: number): Promise<void>;
  /** A port on `host` forwarding to 127.0.0.1:`targetPort`, served by this process. */
  forward(host: string, targetPort: number): Promise<number>;
  servers: Server[];
  /** Runs the API image as a container on the manager (see local-swarm.mjs); answers its base URL. */
  startApi(options: {
    name: string;
    image: string;
    port: number;
    env: Record<string, string>;
    databaseUrl?: string;
  }): Promise<string>;
  stopApi(name: string, options?: { printLogs?: boolean }): Promise<void>;
  /** Removes everything: the engine leaves the swarm, the worker, namespace, link and registry go. */
  destroy(): Promise<void>;
}

export declare function createLocalSwarm(options?: { workers?: 0 | 1 | 2; lockTimeoutMs?: number }): Promise<LocalSwarm>;
/** Why this machine cannot make a local swarm, or null. */
export declare function localSwarmUnavailable(): string | null;
