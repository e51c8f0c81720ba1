import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

// The suites swarm tests run inside the swarm (in a container on its manager; see
// swarm.runtime.test.ts): not part of the host's own run.
export default defineConfig({
  plugins: [swc.vite({ module: { type: 'es6' } })],
  cacheDir: '/tmp/vitest-in-swarm',
  test: {
    include: ['test/runtime/*.in-swarm.ts'],
    environment: 'node',
    testTimeout: 120_000,
    hookTimeout: 180_000,
    fileParallelism: false,
    pool: 'forks',
  },
});
