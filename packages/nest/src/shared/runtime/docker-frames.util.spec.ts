import { describe, expect, it } from 'vitest';
import { DockerFrameDemuxer, LineRing, OutputTail, demuxLines } from './docker-frames.util';

function frame(stream: 1 | 2, text: string): Buffer {
  const payload = Buffer.from(text);
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

describe('DockerFrameDemuxer', () => {
  it('demuxes frames cut at any byte', () => {
    const whole = Buffer.concat([frame(1, 'out 1\n'), frame(2, 'err 1\n'), frame(1, 'out 2\n')]);
    for (let cut = 0; cut <= whole.length; cut++) {
      const demuxer = new DockerFrameDemuxer();
      const seen: string[] = [];
      const collect = (stream: string, payload: Buffer) => seen.push(`${stream}:${payload.toString()}`);
      demuxer.push(whole.subarray(0, cut), collect);
      demuxer.push(whole.subarray(cut), collect);
      expect(seen).toEqual(['stdout:out 1\n', 'stderr:err 1\n', 'stdout:out 2\n']);
    }
  });
});

describe('demuxLines', () => {
  it('joins lines split across frames of one stream and keeps output order', () => {
    const lines = demuxLines(Buffer.concat([frame(1, 'hel'), frame(2, 'oops\r\n'), frame(1, 'lo\nlast')]));
    expect(lines).toEqual([
      { stream: 'stderr', line: 'oops' },
      { stream: 'stdout', line: 'hello' },
      { stream: 'stdout', line: 'last' },
    ]);
  });
});

describe('OutputTail', () => {
  it('keeps the end of long output and says it cut', () => {
    const tail = new OutputTail(10);
    tail.append(Buffer.from('0123456789'));
    tail.append(Buffer.from('abcde'));
    expect(tail.toString()).toBe('[output truncated]\n56789abcde');
    const short = new OutputTail(10);
    short.append(Buffer.from('ok'));
    expect(short.toString()).toBe('ok');
  });
});

describe('LineRing', () => {
  it('keeps the last lines, with per-stream partial lines', () => {
    const ring = new LineRing(3);
    ring.write('stdout', 'a\nb\nc');
    ring.write('stderr', 'E1\n');
    ring.write('stdout', 'd\ne\n');
    expect(ring.tail()).toEqual(['E1', 'cd', 'e']);
    expect(ring.tail(1)).toEqual(['e']);
  });

  it('tells listeners of each complete line, with its stream, until they unsubscribe', () => {
    const ring = new LineRing(10);
    const heard: string[] = [];
    ring.write('stdout', 'before\n');
    const off = ring.subscribe((line) => heard.push(`${line.stream}:${line.line}`));
    ring.write('stdout', 'par');
    ring.write('stderr', 'oops\r\n');
    ring.write('stdout', 'tial\n');
    off();
    ring.write('stdout', 'after\n');
    expect(heard).toEqual(['stderr:oops', 'stdout:partial']);
    expect(ring.recent(2)).toEqual([
      { stream: 'stdout', line: 'partial' },
      { stream: 'stdout', line: 'after' },
    ]);
    expect(ring.recent(0)).toEqual([]);
  });
});
