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
  const lines: LogLine[] = [];
  const splitter = new LineSplitter();
  const collect = (line: LogLine) => lines.push(line);
  // Frames are not line-aligned: a partial line waits for the next frame of the same stream.
  new DockerFrameDemuxer().push(buffer, (stream, payload) =>
    splitter.write(stream, payload.toString('utf8'), collect),
  );
  splitter.flush(collect);
  return lines;
}

/**
 * Cuts the output of several streams into lines (a trailing `\r` dropped); each stream keeps its
 * own partial line until its newline comes. Text must be whole characters (decode with a
 * `StringDecoder` or `setEncoding` when chunks can cut one).
 */
export class LineSplitter {
  private readonly partial = new Map<OutputStream, string>();

  write(stream: OutputStream, text: string, onLine: (line: LogLine) => void): void {
    const parts = ((this.partial.get(stream) ?? '') + text).split('\n');
    this.partial.set(stream, parts.pop() ?? '');
    for (const line of parts) onLine({ stream, line: line.replace(/\r$/, '') });
  }

  /** Lines not ended yet, per stream. */
  pending(): LogLine[] {
    return [...this.partial]
      .filter(([, line]) => line.length > 0)
      .map(([stream, line]) => ({ stream, line }));
  }

  /** Hands out the lines not ended yet and forgets them. */
  flush(onLine: (line: LogLine) => void): void {
    const pending = this.pending();
    this.partial.clear();
    for (const line of pending) onLine(line);
  }
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

/**
 * A bounded buffer of the most recent lines of several streams (each keeps its own partial line),
 * with listeners told of every complete line as it arrives.
 */
export class LineRing {
  private readonly lines: LogLine[] = [];
  private readonly splitter = new LineSplitter();
  private readonly listeners = new Set<(line: LogLine) => void>();

  constructor(private readonly capacity: number) {}

  /** Appends raw output of one stream, completing that stream's partial line. */
  write(stream: OutputStream, text: string): void {
    this.splitter.write(stream, text, (line) => this.add(line));
  }

  push(line: string, stream: OutputStream = 'stderr'): void {
    this.add({ stream, line });
  }

  /** The last `count` lines as text, partial lines included. */
  tail(count = this.capacity): string[] {
    const all = [...this.lines, ...this.splitter.pending()].map((entry) => entry.line);
    return count >= all.length ? all : all.slice(all.length - count);
  }

  /** The last `count` complete lines. */
  recent(count: number): LogLine[] {
    return count <= 0 ? [] : this.lines.slice(-count);
  }

  /** Calls `listener` with every complete line from now on; answers the function that stops it. */
  subscribe(listener: (line: LogLine) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  private add(line: LogLine): void {
    this.lines.push(line);
    if (this.lines.length > this.capacity) this.lines.splice(0, this.lines.length - this.capacity);
    for (const listener of this.listeners) {
      try {
        listener(line);
      } catch {
        // A listener's failure must not cut the dev server's output off from the others.
      }
    }
  }
}
