import type { BuildErrorEvent, CompileError, Verdict } from '@builder/shared';

/** A compile error the session stands with now; `verdictAt` names the verdict that found it. */
export interface CompileProblem extends CompileError {
  verdictAt?: string;
}

/** A verdict with errors: what one change (`paths`) left broken, as found at `at`. */
export interface FailedVerdict {
  paths: string[];
  errors: CompileError[];
  at: string;
}

/**
 * The problems after a verdict with errors: it replaces what earlier verdicts said about the files
 * it concerns (the ones the change touched and the ones its errors name), and errors no file
 * claims, and keeps the rest. Its own errors arrive one event each, so they accumulate.
 */
export function withFailedVerdict(problems: CompileProblem[], verdict: FailedVerdict): CompileProblem[] {
  const concerned = new Set([...verdict.paths, ...verdict.errors.flatMap((e) => (e.file ? [e.file] : []))]);
  const kept = problems.filter(
    (p) => p.verdictAt === verdict.at || (p.file !== undefined && !concerned.has(p.file)),
  );
  return verdict.errors.reduce(
    (list, error) => withProblem(list, { ...compileError(error), verdictAt: verdict.at }),
    kept,
  );
}

/**
 * The problems after an `error` event. Only a verdict's errors (they have `paths`) count: the dev
 * server's own reports come from whatever a browser asked for, and one asked for just before a
 * fix can arrive just after the fix's `ok`, naming an error that is gone. Every change through
 * the files API gets a verdict, so nothing the editor saved goes unjudged.
 */
export function withErrorEvent(problems: CompileProblem[], event: BuildErrorEvent): CompileProblem[] {
  if (!event.paths) return problems;
  return withFailedVerdict(problems, { paths: event.paths, errors: [event], at: event.at });
}

/**
 * The problems after a verify answer of a change: none when it compiles (as the socket's `ok`
 * event says), else the verdict's errors.
 */
export function withVerdict(
  problems: CompileProblem[],
  paths: string[],
  verdict: Verdict,
  at: string,
): CompileProblem[] {
  return verdict.ok ? [] : withFailedVerdict(problems, { paths, errors: verdict.errors, at });
}

/** The problems located in `path`. */
export function problemsIn(problems: readonly CompileError[], path: string): CompileError[] {
  return problems.filter((p) => p.file === path);
}

function withProblem(problems: CompileProblem[], problem: CompileProblem): CompileProblem[] {
  const known = problems.some(
    (p) =>
      p.file === problem.file &&
      p.line === problem.line &&
      p.column === problem.column &&
      p.message === problem.message,
  );
  return known ? problems : [...problems, problem];
}

// Only the error itself: an event's session id, paths and time are not part of the problem.
function compileError({ file, line, column, message, frame }: CompileError): CompileError {
  return { file, line, column, message, frame };
}
