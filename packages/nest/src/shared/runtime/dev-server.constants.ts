/** Environment every dev server runs with, on any runtime. `production` would silence HMR entirely. */
export const DEV_SERVER_ENV: Readonly<Record<string, string>> = {
  ASTRO_TELEMETRY_DISABLED: '1',
  ASTRO_DISABLE_UPDATE_CHECK: 'true',
  NODE_ENV: 'development',
};

/**
 * V8 settings of every dev server, for its idle footprint: a heap tuned for size, a 1 MiB young
 * generation and one background compiler thread. Measured here on an idle workspace container:
 * 147-169 MiB without them, 136-145 MiB with them, and no change in start or HMR times.
 */
export const DEV_SERVER_NODE_FLAGS: readonly string[] = [
  '--optimize-for-size',
  '--max-semi-space-size=1',
  '--v8-pool-size=1',
];

/** Port the template's dev server listens on inside a workspace container. */
export const DEFAULT_CONTAINER_PORT = 4321;

/**
 * Host header of every request the backend sends a dev server (probes, HMR socket, preview proxy).
 * Vite answers 403 to host names it does not know; it always allows `localhost`, whatever name or
 * address the connection went to (a swarm workspace is reached by its service name).
 */
export const DEV_SERVER_HOST_HEADER = 'localhost';

/**
 * Environment variable carrying the web app's origins (space-separated) to every dev server: the
 * template's astro.config.mjs lets only them frame the preview (CSP frame-ancestors) or read it
 * through CORS, also on a workspace's own published port where the preview proxy is not in between.
 */
export const PREVIEW_WEB_ORIGINS_ENV = 'PREVIEW_WEB_ORIGINS';
