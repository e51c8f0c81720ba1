import type { BuildErrorEvent } from '@builder/shared';
import { describe, expect, it } from 'vitest';
import { problemsIn, withErrorEvent, withVerdict } from './compile-problems';

const PAGE = 'src/pages/index.astro';
const CARD = 'src/components/Card.astro';

function verdictError(file: string, line: number, at: string, paths = [file]): BuildErrorEvent {
  return { sessionId: 's1', file, line, column: 3, message: `broken at ${line}`, frame: 'frame', paths, at };
}

describe('compile problems', () => {
  it("accumulates the errors of one verdict, one event each, without the event's own fields", () => {
    let problems = withErrorEvent([], verdictError(PAGE, 4, 't1'));
    problems = withErrorEvent(problems, verdictError(PAGE, 9, 't1'));
    expect(problems).toEqual([
      { file: PAGE, line: 4, column: 3, message: 'broken at 4', frame: 'frame', verdictAt: 't1' },
      { file: PAGE, line: 9, column: 3, message: 'broken at 9', frame: 'frame', verdictAt: 't1' },
    ]);
  });

  it('replaces what an earlier verdict said of the files a new one concerns, and keeps the others', () => {
    let problems = withErrorEvent([], verdictError(CARD, 2, 't1'));
    problems = withErrorEvent(problems, verdictError(PAGE, 4, 't1'));
    // The page changed again and is broken elsewhere: its old error goes, the component's stays.
    problems = withErrorEvent(problems, verdictError(PAGE, 7, 't2'));
    expect(problems.map((p) => `${p.file}:${p.line}`)).toEqual([`${CARD}:2`, `${PAGE}:7`]);
  });

  it('attributes an error to the file it names even when the change was of another', () => {
    const problems = withErrorEvent(
      [{ file: CARD, line: 1, message: 'old' }],
      verdictError(CARD, 5, 't2', [PAGE]),
    );
    expect(problems.map((p) => `${p.file}:${p.line}`)).toEqual([`${CARD}:5`]);
  });

  it("leaves out the dev server's own reports: one can name an error a fix already cleared", () => {
    const problems = withErrorEvent([], verdictError(CARD, 2, 't1'));
    const report: BuildErrorEvent = { sessionId: 's1', file: PAGE, line: 3, message: 'x', at: 't2' };
    expect(withErrorEvent(problems, report)).toBe(problems);
    expect(withErrorEvent([], report)).toEqual([]);
  });

  it("replaces a verdict's errors of the saved file with the next verdict's", () => {
    const problems = withErrorEvent([], verdictError(PAGE, 3, 't1'));
    expect(
      withVerdict(problems, [PAGE], { ok: false, errors: [{ file: PAGE, line: 8, message: 'y' }] }, 'a1'),
    ).toEqual([{ file: PAGE, line: 8, column: undefined, message: 'y', frame: undefined, verdictAt: 'a1' }]);
  });

  it('clears everything on a verdict that compiles', () => {
    const problems = withErrorEvent([], verdictError(CARD, 2, 't1'));
    expect(withVerdict(problems, [PAGE], { ok: true, errors: [] }, 'a1')).toEqual([]);
  });

  it('agrees with itself when a verify answer and the socket carry the same verdict, in either order', () => {
    const errors = [{ file: PAGE, line: 4, column: 3, message: 'broken at 4', frame: 'frame' }];
    const answerFirst = withErrorEvent(
      withVerdict([], [PAGE], { ok: false, errors }, 'a1'),
      verdictError(PAGE, 4, 't1'),
    );
    const socketFirst = withVerdict(
      withErrorEvent([], verdictError(PAGE, 4, 't1')),
      [PAGE],
      { ok: false, errors },
      'a1',
    );
    expect(answerFirst.map(({ verdictAt: _, ...p }) => p)).toEqual(errors);
    expect(socketFirst.map(({ verdictAt: _, ...p }) => p)).toEqual(errors);
  });

  it('picks the problems of one file', () => {
    const problems = [
      { file: PAGE, line: 1, message: 'a' },
      { file: CARD, line: 2, message: 'b' },
      { line: 3, message: 'c' },
    ];
    expect(problemsIn(problems, PAGE)).toEqual([{ file: PAGE, line: 1, message: 'a' }]);
  });
});
