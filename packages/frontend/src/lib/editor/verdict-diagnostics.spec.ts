import { Text } from '@codemirror/state';
import { describe, expect, it } from 'vitest';
import { verdictDiagnostics } from './verdict-diagnostics';

const doc = Text.of(['---', 'const a = 1;', '---', '<main>', '', '</main>']);
const span = (d: { from: number; to: number }) => doc.sliceString(d.from, d.to);

describe('verdictDiagnostics', () => {
  it('marks from the 1-based line and column to the end of that line', () => {
    const [d] = verdictDiagnostics([{ file: 'a.astro', line: 2, column: 7, message: 'Unexpected "a"' }], doc);
    expect(d).toMatchObject({ severity: 'error', message: 'Unexpected "a"' });
    expect(doc.lineAt(d.from).number).toBe(2);
    expect(span(d)).toBe('a = 1;');
  });

  it('covers the whole line when the column is at or past its end', () => {
    const [d] = verdictDiagnostics([{ line: 4, column: 99, message: 'x' }], doc);
    expect(span(d)).toBe('<main>');
  });

  it('lands on the nearest line when the line is outside the document, or missing', () => {
    const [past, zero, none] = verdictDiagnostics(
      [
        { line: 40, column: 1, message: 'past' },
        { line: 0, column: 0, message: 'zero' },
        { message: 'no place' },
      ],
      doc,
    );
    expect(doc.lineAt(past.from).number).toBe(6);
    expect(span(past)).toBe('</main>');
    expect(doc.lineAt(zero.from).number).toBe(1);
    expect(doc.lineAt(none.from).number).toBe(1);
  });

  it('keeps an empty line as an empty range at its start', () => {
    const [d] = verdictDiagnostics([{ line: 5, column: 3, message: 'x' }], doc);
    expect(d.from).toBe(doc.line(5).from);
    expect(d.to).toBe(d.from);
  });

  it('adds the code frame under the message', () => {
    const [d] = verdictDiagnostics([{ line: 1, message: 'Broken', frame: '> 1 | ---' }], doc);
    expect(d.message).toBe('Broken\n\n> 1 | ---');
  });
});
