import type { CompileError } from '@builder/shared';
import type { Diagnostic } from '@codemirror/lint';

/** The part of a CodeMirror document the mapping reads (`Text` has it). */
export interface DocumentLines {
  readonly lines: number;
  line(n: number): { from: number; to: number };
}

/**
 * The verdict's errors of one file as lint diagnostics of its document. The dev server's line and
 * column are 1-based; one past the document (the file changed since, or the error is at its end)
 * lands on the nearest line. The mark runs from the column to the end of its line, or covers the
 * whole line when the column is at its end, so it is never an invisible empty range.
 */
export function verdictDiagnostics(errors: readonly CompileError[], doc: DocumentLines): Diagnostic[] {
  return errors.map((error) => {
    const line = doc.line(clamp(error.line ?? 1, 1, doc.lines));
    const at = line.from + clamp((error.column ?? 1) - 1, 0, line.to - line.from);
    const from = at < line.to ? at : line.from;
    return {
      from,
      to: line.to,
      severity: 'error',
      source: 'astro',
      message: error.frame ? `${error.message}\n\n${error.frame}` : error.message,
    };
  });
}

function clamp(value: number, min: number, max: number): number {
  return Number.isFinite(value) ? Math.min(Math.max(Math.trunc(value), min), max) : min;
}
