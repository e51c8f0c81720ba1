/** Types of scripts/front-proxy.mjs, for the tests that start it. */
export interface FrontProxy {
  port: number;
  close(): Promise<void>;
}

export function startFrontProxy(options: { port?: number; upstreams: string[] }): Promise<FrontProxy>;
