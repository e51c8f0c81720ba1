/** Environment every dev server runs with, on any runtime. `production` would silence HMR entirely. */
export const DEV_SERVER_ENV: Readonly<Record<string, string>> = {
  ASTRO_TELEMETRY_DISABLED: '1',
  ASTRO_DISABLE_UPDATE_CHECK: 'true',
  NODE_ENV: 'development',
};

/** Port the template's dev server listens on inside a workspace container. */
export const DEFAULT_CONTAINER_PORT = 4321;
