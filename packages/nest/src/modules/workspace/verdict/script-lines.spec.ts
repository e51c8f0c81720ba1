import { describe, expect, it } from 'vitest';
import { fileLineOfScript, scriptIndex } from './script-lines';

describe('scriptIndex', () => {
  it('reads the block number of a client script module URL', () => {
    expect(scriptIndex('/src/pages/index.astro?astro&type=script&index=0&lang.ts')).toBe(0);
    expect(scriptIndex('/src/components/Card.astro?astro&type=script&index=2&lang.ts')).toBe(2);
  });

  it('is null for pages, styles and plain modules', () => {
    expect(scriptIndex('/')).toBeNull();
    expect(scriptIndex('/src/pages/index.astro?astro&type=style&index=0&lang.css')).toBeNull();
    expect(scriptIndex('/src/styles/theme.css')).toBeNull();
    expect(scriptIndex('/src/lib/x.ts?type=script&index=0')).toBeNull();
  });
});

describe('fileLineOfScript', () => {
  const source = [
    '---', // 1
    "const title = 'x';", // 2
    '---', // 3
    '<h1>{title}</h1>', // 4
    '<script is:inline>console.log(1)</script>', // 5: not processed
    '<script>', // 6
    '  const a = 1;', // 7
    '  const broken: = 2;', // 8
    '</script>', // 9
    '<script src="/x.js"></script>', // 10: processed, index 1
    '<script>const c: = 3;</script>', // 11: index 2, the block starts on its tag's line
  ].join('\n');

  it("maps a script block's line to the file's line", () => {
    expect(fileLineOfScript(source, 0, 2)).toBe(8);
    expect(fileLineOfScript(source, 0, 1)).toBe(7);
    expect(fileLineOfScript(source, 2, 1)).toBe(11);
  });

  it('is null when the file has no such block', () => {
    expect(fileLineOfScript(source, 3, 1)).toBeNull();
    expect(fileLineOfScript('<h1>no scripts</h1>', 0, 1)).toBeNull();
  });
});
