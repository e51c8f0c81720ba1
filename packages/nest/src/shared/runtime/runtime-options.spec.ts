import { describe, expect, it } from 'vitest';
import { DEFAULT_RUNTIME_OPTIONS, resolveRuntimeOptions } from './runtime-options';

describe('resolveRuntimeOptions', () => {
  it('fills defaults, ignoring undefined values', () => {
    const options = resolveRuntimeOptions({ templateDir: '/t', dataDir: '/d', dockerSocket: undefined });
    expect(options).toEqual({ ...DEFAULT_RUNTIME_OPTIONS, templateDir: '/t', dataDir: '/d' });
    expect(options.templateImage).toBe('localhost:5000/baseline-landing-template:latest');
    expect(options.dockerSocket).toBe('/var/run/docker.sock');
    expect(options.healthcheckIntervalMs).toBe(0); // Docker's own check off: the backend probes
  });

  it('names the option that is wrong', () => {
    expect(() => resolveRuntimeOptions({ templateDir: 'relative', dataDir: '/d' })).toThrow(/"templateDir"/);
    expect(() =>
      resolveRuntimeOptions({ templateDir: '/t', dataDir: '/d', runtime: 'kubernetes' as never }),
    ).toThrow(/"runtime"/);
    expect(() => resolveRuntimeOptions({ templateDir: '/t', dataDir: '/d', swarmCpuReservationCores: -1 })).toThrow(
      /"swarmCpuReservationCores"/,
    );
    expect(() => resolveRuntimeOptions({ templateDir: '/t', dataDir: '/d', startTimeoutMs: 0 })).toThrow(
      /"startTimeoutMs"/,
    );
    expect(() =>
      resolveRuntimeOptions({ templateDir: '/t', dataDir: '/d', healthcheckIntervalMs: -1 }),
    ).toThrow(/"healthcheckIntervalMs"/);
  });
});
