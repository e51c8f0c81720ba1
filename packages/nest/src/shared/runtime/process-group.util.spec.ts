import { describe, expect, it } from 'vitest';
import { parseProcStat, parseRssBytes } from './process-group.util';

describe('/proc parsing', () => {
  it('reads the group and CPU ticks even when the command name holds spaces and parentheses', () => {
    const stat =
      '4242 (node (astro) dev) S 4200 4200 4200 0 -1 4194560 100 0 0 0 350 50 0 0 20 0 11 0 1000 1000000 5000';
    expect(parseProcStat(stat)).toEqual({ state: 'S', pgrp: 4200, cpuTicks: 400 });
    expect(parseProcStat('garbage')).toBeNull();
  });

  it('reads VmRSS in bytes', () => {
    expect(parseRssBytes('Name:\tnode\nVmRSS:\t  261120 kB\nThreads:\t11\n')).toBe(261120 * 1024);
    expect(parseRssBytes('Name:\tkthreadd\n')).toBe(0);
  });
});
