import { defineConfig } from 'vitest/config';

// Root suite: the template image and template behaviour (real Docker engine, real Chromium).
export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts', 'packages/shared/src/**/*.spec.ts'],
    environment: 'node',
    testTimeout: 120_000,
    hookTimeout: 300_000,
    fileParallelism: false,
    pool: 'forks',
  },
});
