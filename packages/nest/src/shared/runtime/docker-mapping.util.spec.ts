import type Dockerode from 'dockerode';
import { describe, expect, it } from 'vitest';
import {
  cpuPercent,
  memoryUsage,
  publishedContainerPort,
  toContainerInfo,
  toContainerStats,
} from './docker-mapping.util';

function inspectInfo(
  state: Partial<Dockerode.ContainerInspectInfo['State']>,
): Dockerode.ContainerInspectInfo {
  return {
    Id: 'abc',
    Name: '/workspace-u1-1700000000000',
    State: {
      Status: 'running',
      Running: true,
      Paused: false,
      Restarting: false,
      OOMKilled: false,
      Dead: false,
      Pid: 1,
      ExitCode: 0,
      Error: '',
      StartedAt: '2025-01-01T00:00:00Z',
      FinishedAt: '0001-01-01T00:00:00Z',
      ...state,
    },
    Config: { Labels: { 'dev.builder.managed': 'true' } },
  } as unknown as Dockerode.ContainerInspectInfo;
}

describe('toContainerInfo', () => {
  it('maps a running, healthy container', () => {
    expect(
      toContainerInfo(inspectInfo({ Health: { Status: 'healthy', FailingStreak: 0, Log: [] } })),
    ).toEqual({
      id: 'abc',
      name: 'workspace-u1-1700000000000',
      state: 'running',
      health: 'healthy',
      exitCode: null,
      oomKilled: false,
      startedAt: '2025-01-01T00:00:00Z',
      labels: { 'dev.builder.managed': 'true' },
    });
  });

  it('maps an OOM-killed exit, a never-started container and unknown states', () => {
    const oom = toContainerInfo(
      inspectInfo({ Status: 'exited', Running: false, ExitCode: 137, OOMKilled: true }),
    );
    expect(oom).toMatchObject({ state: 'exited', exitCode: 137, oomKilled: true, health: 'none' });
    const created = toContainerInfo(
      inspectInfo({ Status: 'created', Running: false, StartedAt: '0001-01-01T00:00:00Z' }),
    );
    expect(created).toMatchObject({ state: 'created', startedAt: null, exitCode: null });
    expect(toContainerInfo(inspectInfo({ Status: 'removing' })).state).toBe('dead');
  });
});

describe('stats', () => {
  const sample = {
    cpu_stats: {
      cpu_usage: { total_usage: 3_000_000_000, percpu_usage: [] },
      system_cpu_usage: 20_000_000_000,
      online_cpus: 2,
    },
    precpu_stats: {
      cpu_usage: { total_usage: 2_000_000_000, percpu_usage: [] },
      system_cpu_usage: 16_000_000_000,
      online_cpus: 2,
    },
    memory_stats: {
      usage: 200 * 1024 * 1024,
      limit: 512 * 1024 * 1024,
      stats: { total_inactive_file: 10 * 1024 * 1024 },
    },
    pids_stats: { current: 23 },
  } as unknown as Dockerode.ContainerStats;

  it('computes CPU as docker stats does (100 = one core)', () => {
    // 1 s of container CPU over 4 s of host CPU time on 2 CPUs = 50 % of one core.
    expect(cpuPercent(sample)).toBe(50);
    expect(cpuPercent({ ...sample, precpu_stats: sample.cpu_stats })).toBe(0);
  });

  it('subtracts the inactive page cache from memory', () => {
    expect(memoryUsage(sample.memory_stats)).toBe(190 * 1024 * 1024);
    expect(memoryUsage(undefined)).toBe(0);
  });

  it('maps a full sample', () => {
    expect(toContainerStats(sample)).toEqual({
      cpuPercent: 50,
      memoryBytes: 190 * 1024 * 1024,
      memoryLimitBytes: 512 * 1024 * 1024,
      pids: 23,
    });
  });
});

describe('publishedContainerPort', () => {
  it('reads the container port of the first binding', () => {
    expect(publishedContainerPort({ '4321/tcp': [{ HostIp: '127.0.0.1', HostPort: '8050' }] }, 1)).toBe(4321);
    expect(publishedContainerPort(null, 4321)).toBe(4321);
  });
});
