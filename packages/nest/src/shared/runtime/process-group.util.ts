import { readdir, readFile } from 'node:fs/promises';

/** Clock ticks per second of /proc CPU times (USER_HZ): 100 on every mainstream Linux build. */
const CLOCK_TICKS_PER_SECOND = 100;

/** Signals every process of a group; a group that is already gone is not an error. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

/**
 * Whether a process of the group still runs. Zombies do not count: a child orphaned by the dev
 * server (esbuild) is reaped by PID 1 whenever PID 1 gets to it, yet `kill(-pgid, 0)` still sees it.
 */
export async function groupAlive(pgid: number): Promise<boolean> {
  try {
    process.kill(-pgid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const members = await readGroup(pgid).catch(() => null);
  return members === null ? true : members.some((member) => member.state !== 'Z');
}

export interface GroupUsage {
  pids: number;
  rssBytes: number;
  /** User + system CPU time of the live processes, in seconds. */
  cpuSeconds: number;
}

/**
 * Fields of /proc/<pid>/stat after the command name (which may itself hold spaces and parentheses):
 * index 0 is the state, 2 the process group, 11 and 12 user and system time in clock ticks.
 */
export function parseProcStat(text: string): { state: string; pgrp: number; cpuTicks: number } | null {
  const end = text.lastIndexOf(')');
  if (end < 0) return null;
  const fields = text.slice(end + 2).split(' ');
  const pgrp = Number(fields[2]);
  const cpuTicks = Number(fields[11]) + Number(fields[12]);
  return fields[0] && Number.isFinite(pgrp) && Number.isFinite(cpuTicks)
    ? { state: fields[0], pgrp, cpuTicks }
    : null;
}

/** `VmRSS:  12345 kB` of /proc/<pid>/status, in bytes (0 for kernel threads and zombies). */
export function parseRssBytes(status: string): number {
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return match ? Number(match[1]) * 1024 : 0;
}

interface GroupMember {
  pid: string;
  state: string;
  cpuTicks: number;
}

/** Processes of a group, from /proc (Linux only). */
async function readGroup(pgid: number): Promise<GroupMember[]> {
  const names = await readdir('/proc');
  const members = await Promise.all(
    names
      .filter((name) => /^\d+$/.test(name))
      .map(async (pid) => {
        const stat = parseProcStat(await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => ''));
        return stat && stat.pgrp === pgid ? { pid, state: stat.state, cpuTicks: stat.cpuTicks } : null;
      }),
  );
  return members.filter((member): member is GroupMember => member !== null);
}

/** Sums memory and CPU time of the live processes of a group (zeros where /proc is missing). */
export async function readGroupUsage(pgid: number): Promise<GroupUsage> {
  const usage: GroupUsage = { pids: 0, rssBytes: 0, cpuSeconds: 0 };
  const members = await readGroup(pgid).catch(() => []);
  for (const member of members) {
    if (member.state === 'Z') continue;
    usage.pids += 1;
    usage.cpuSeconds += member.cpuTicks / CLOCK_TICKS_PER_SECOND;
    usage.rssBytes += parseRssBytes(await readFile(`/proc/${member.pid}/status`, 'utf8').catch(() => ''));
  }
  return usage;
}
