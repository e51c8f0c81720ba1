import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

// Benchmarks are not tests: run them on purpose with `npx vitest run -c bench/vitest.bench.config.ts`.
export default defineConfig({
  plugins: [swc.vite({ module: { type: 'es6' } })],
  test: {
    root: `${__dirname}/..`,
    include: ['bench/**/*.bench.ts'],
    environment: 'node',
    testTimeout: 1_800_000,
    hookTimeout: 300_000,
    fileParallelism: false,
    pool: 'forks',
  },
});
