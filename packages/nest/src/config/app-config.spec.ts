import { describe, expect, it } from 'vitest';
import { ConfigValidationError, DEFAULT_WARM_POOL_SIZE, loadConfig } from './app-config';

const base = { JWT_SECRET: 'x'.repeat(40) };

describe('WARM_POOL_SIZE', () => {
  it('defaults to one ready workspace per core of the 2-core target, and to 0 under NODE_ENV=test', () => {
    expect(loadConfig({ ...base, NODE_ENV: 'development' }).pool.size).toBe(DEFAULT_WARM_POOL_SIZE);
    expect(DEFAULT_WARM_POOL_SIZE).toBe(2);
    expect(loadConfig({ ...base, NODE_ENV: 'test' }).pool.size).toBe(0);
    expect(loadConfig({ ...base, NODE_ENV: 'test', WARM_POOL_SIZE: '3' }).pool.size).toBe(3);
    expect(loadConfig({ ...base, NODE_ENV: 'development', WARM_POOL_SIZE: '0' }).pool.size).toBe(0);
  });

  it.each(['-1', 'two', '1.5', '65'])('refuses %s with a message naming the variable', (value) => {
    expect(() => loadConfig({ ...base, WARM_POOL_SIZE: value })).toThrow(ConfigValidationError);
    expect(() => loadConfig({ ...base, WARM_POOL_SIZE: value })).toThrow(/WARM_POOL_SIZE:/);
  });
});

describe('RUNTIME=swarm', () => {
  it('needs the preview proxy, and reads its settings', () => {
    expect(() => loadConfig({ ...base, RUNTIME: 'swarm', PREVIEW_MODE: 'direct' })).toThrow(
      /PREVIEW_MODE: must be proxy with RUNTIME=swarm/,
    );
    const config = loadConfig({
      ...base,
      RUNTIME: 'swarm',
      PREVIEW_MODE: 'proxy',
      SWARM_ATTACH_CONTAINER: 'builder-api',
      SWARM_PLACEMENT_CONSTRAINTS: 'node.role==worker, node.labels.zone==a',
    });
    expect(config.runtime.swarm).toEqual({
      attachContainer: 'builder-api',
      cpuLimitCores: 0.5,
      cpuReservationCores: 0.1,
      placementConstraints: ['node.role==worker', 'node.labels.zone==a'],
    });
    expect(() => loadConfig({ ...base, RUNTIME: 'swarm', PREVIEW_MODE: 'proxy', SWARM_CPU_RESERVATION_CORES: '-1' })).toThrow(
      /SWARM_CPU_RESERVATION_CORES:/,
    );
  });
});
