/** Types of local-swarm.mjs (a plain module, shared by the tests and the benchmark). */
import type { Server } from 'node:net';

export declare const REGISTRY_ADDR: string;

export interface LocalSwarm {
  /** The manager's address on the veth pair (the machine's engine). */
  managerAddr: string;
  workerAddr: string;
  /** The worker engine's socket, with `workers: 1`. */
  workerSocket: string | null;
  /** The registry every node reaches, with `workers: 1`. */
  registryAddr: string | null;
  managerNodeId: string;
  workerNodeId: string | null;
  /** The image under the registry's address, tagged on the manager (the name every node pulls). */
  imageFor(localImage: string): Promise<string>;
  /** Stops the worker's engine, as a lost node. */
  stopWorkerEngine(): Promise<void>;
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

export declare function createLocalSwarm(options?: { workers?: 0 | 1; lockTimeoutMs?: number }): Promise<LocalSwarm>;
/** Why this machine cannot make a local swarm, or null. */
export declare function localSwarmUnavailable(): string | null;
