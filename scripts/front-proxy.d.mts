/** Types of scripts/front-proxy.mjs, for the tests that start it. */
export interface FrontProxy {
  port: number;
  close(): Promise<void>;
}

export interface FrontProxyOptions {
  port?: number;
  /** Address to listen on (127.0.0.1; 0.0.0.0 in a container). */
  host?: string;
  /** Static replicas, `host:port` each. */
  upstreams?: string[];
  /** Or a name whose addresses are the replicas (`tasks.api:3000` on a swarm), resolved every second. */
  dns?: string;
  /** Readiness path of each replica (default /health/ready): anything but 200 takes it out. */
  healthPath?: string;
}

export function startFrontProxy(options: FrontProxyOptions): Promise<FrontProxy>;
export function parseArguments(args: string[]): Array<FrontProxyOptions & { port: number; host: string; upstreams: string[] }>;
