import { type ChildProcess, spawn } from 'node:child_process';

export interface Service {
  name: string;
  child: ChildProcess;
  /** How the process ended (resolves once it has). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output: () => string;
  /**
   * SIGTERM to the process group, SIGKILL `graceMs` later if it is still there; resolves once it
   * exited, with whatever else of its group is left killed.
   */
  stop: (graceMs?: number) => Promise<void>;
}

/** Starts a long-running process in its own process group and keeps its last output for errors. */
export function startService(name: string, command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Service {
  const child = spawn(command, args, { ...options, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', (error) => {
      log += `${name} could not start: ${error.message}\n`;
      resolve({ code: null, signal: null });
    });
  });
  const keep = (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-100_000);
    if (process.env.E2E_VERBOSE === '1') process.stdout.write(`[${name}] ${chunk.toString()}`);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const signalGroup = (signal: NodeJS.Signals): boolean => {
    try {
      process.kill(-child.pid!, signal);
      return true;
    } catch {
      return false; // already gone
    }
  };
  const stop = async (graceMs = 15_000): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null && signalGroup('SIGTERM')) {
      const timer = setTimeout(() => signalGroup('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    }
    signalGroup('SIGKILL'); // whatever it started and left behind in its group
  };
  return { name, child, exited, output: () => log, stop };
}
