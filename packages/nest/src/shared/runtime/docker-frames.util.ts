export type OutputStream = 'stdout' | 'stderr';

export interface LogLine {
  stream: OutputStream;
  line: string;
}

/**
 * Splits Docker's multiplexed output of containers without a TTY (logs, exec): frames of an 8-byte
 * header — stream (1 stdout, 2 stderr), three zero bytes, big-endian payload length — then the
 * payload. Chunks may cut frames anywhere; the demuxer carries the remainder to the next push.
 */
export class DockerFrameDemuxer {
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer, onFrame: (stream: OutputStream, payload: Buffer) => void): void {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    let offset = 0;
    while (offset + 8 <= this.pending.length) {
      const length = this.pending.readUInt32BE(offset + 4);
      if (offset + 8 + length > this.pending.length) break;
      const kind = this.pending[offset];
      onFrame(kind === 2 ? 'stderr' : 'stdout', this.pending.subarray(offset + 8, offset + 8 + length));
      offset += 8 + length;
    }
    this.pending = this.pending.subarray(offset);
  }
}

/** Demuxes a whole multiplexed buffer into lines, in output order; a partial last line is kept. */
export function demuxLines(buffer: Buffer): LogLine[] {
  const carry: Record<OutputStream, string> = { stdout: '', stderr: '' };
  const lines: LogLine[] = [];
  new DockerFrameDemuxer().push(buffer, (stream, payload) => {
    // Frames are not line-aligned: a partial line waits for the next frame of the same stream.
    const parts = (carry[stream] + payload.toString('utf8')).split('\n');
    carry[stream] = parts.pop() ?? '';
    for (const line of parts) lines.push({ stream, line: line.replace(/\r$/, '') });
  });
  for (const stream of ['stdout', 'stderr'] as const) {
    if (carry[stream]) lines.push({ stream, line: carry[stream] });
  }
  return lines;
}

/** Collects output up to a byte budget, keeping the end (where errors are) when it overflows. */
export class OutputTail {
  private chunks: Buffer[] = [];
  private size = 0;
  private dropped = false;

  constructor(private readonly maxBytes: number) {}

  append(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.size > this.maxBytes && this.chunks.length > 0) {
      const first = this.chunks[0];
      const excess = this.size - this.maxBytes;
      if (first.length <= excess) {
        this.chunks.shift();
        this.size -= first.length;
      } else {
        this.chunks[0] = first.subarray(excess);
        this.size -= excess;
      }
      this.dropped = true;
    }
  }

  toString(): string {
    const text = Buffer.concat(this.chunks).toString('utf8');
    return this.dropped ? `[output truncated]\n${text}` : text;
  }
}

/** A bounded buffer of the most recent lines of several streams (each keeps its own partial line). */
export class LineRing {
  private readonly lines: string[] = [];
  private readonly partial = new Map<string, string>();

  constructor(private readonly capacity: number) {}

  /** Appends raw output of one stream, completing that stream's partial line. */
  write(stream: string, text: string): void {
    const parts = ((this.partial.get(stream) ?? '') + text).split('\n');
    this.partial.set(stream, parts.pop() ?? '');
    for (const line of parts) this.push(line.replace(/\r$/, ''));
  }

  push(line: string): void {
    this.lines.push(line);
    if (this.lines.length > this.capacity) this.lines.splice(0, this.lines.length - this.capacity);
  }

  tail(count = this.capacity): string[] {
    const partials = [...this.partial.values()].filter((line) => line.length > 0);
    const all = [...this.lines, ...partials];
    return count >= all.length ? all : all.slice(all.length - count);
  }
}
