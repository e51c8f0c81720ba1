import { Readable } from 'node:stream';
import { crc32, createGzip, deflateRawSync } from 'node:zlib';
import type { ExportFormat } from '@builder/shared';
import * as tar from 'tar-stream';

/** A file of an archive, read when the archive reaches it. */
export interface ArchiveEntry {
  path: string;
  read(): Promise<Buffer>;
}

/** The archive of `entries` as a stream, files under `root/`; one file is held in memory at a time. */
export function archiveStream(
  format: ExportFormat,
  root: string,
  entries: ArchiveEntry[],
  mtime = new Date(),
): Readable {
  return format === 'zip'
    ? Readable.from(zipChunks(root, entries, mtime))
    : tarGzStream(root, entries, mtime);
}

/** Content type and file extension of an archive format. */
export function archiveMediaType(format: ExportFormat): { contentType: string; extension: string } {
  return format === 'zip'
    ? { contentType: 'application/zip', extension: 'zip' }
    : { contentType: 'application/gzip', extension: 'tar.gz' };
}

function tarGzStream(root: string, entries: ArchiveEntry[], mtime: Date): Readable {
  const pack = tar.pack();
  const gzip = createGzip();
  const fill = async (): Promise<void> => {
    for (const entry of entries) {
      const content = await entry.read();
      await new Promise<void>((resolve, reject) =>
        pack.entry(
          { name: `${root}/${entry.path}`, size: content.length, mode: 0o644, mtime },
          content,
          (error) => (error ? reject(error) : resolve()),
        ),
      );
    }
    pack.finalize();
  };
  fill().catch((error: unknown) => gzip.destroy(error as Error));
  pack.on('error', (error: Error) => gzip.destroy(error));
  return pack.pipe(gzip);
}

/**
 * A zip (deflate, UTF-8 names, no zip64: a project is far below 4 GiB) written as it goes: each
 * file's size and CRC are known before its header since it is read whole first.
 */
async function* zipChunks(root: string, entries: ArchiveEntry[], mtime: Date): AsyncGenerator<Buffer> {
  const { time, date } = dosDateTime(mtime);
  const central: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const content = await entry.read();
    const name = Buffer.from(`${root}/${entry.path}`, 'utf8');
    const deflated = deflateRawSync(content);
    const stored = deflated.length >= content.length;
    const data = stored ? content : deflated;
    const crc = crc32(content);
    const method = stored ? 0 : 8;

    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(method, 8);
    local.writeUInt16LE(time, 10);
    local.writeUInt16LE(date, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(content.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);

    const header = Buffer.alloc(46);
    header.writeUInt32LE(0x02014b50, 0);
    header.writeUInt16LE(0x0314, 4); // made by: unix, 2.0
    header.writeUInt16LE(20, 6);
    header.writeUInt16LE(0x0800, 8);
    header.writeUInt16LE(method, 10);
    header.writeUInt16LE(time, 12);
    header.writeUInt16LE(date, 14);
    header.writeUInt32LE(crc, 16);
    header.writeUInt32LE(data.length, 20);
    header.writeUInt32LE(content.length, 24);
    header.writeUInt16LE(name.length, 28);
    header.writeUInt32LE((0o100644 << 16) >>> 0, 38); // regular file, rw-r--r--
    header.writeUInt32LE(offset, 42);
    central.push(header, name);

    yield Buffer.concat([local, name]);
    yield data;
    offset += local.length + name.length + data.length;
  }
  const directory = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  yield directory;
  yield end;
}

/** MS-DOS time and date fields (local time, 2-second resolution) of a zip entry. */
function dosDateTime(at: Date): { time: number; date: number } {
  const year = Math.max(1980, at.getFullYear());
  return {
    time: (at.getHours() << 11) | (at.getMinutes() << 5) | Math.floor(at.getSeconds() / 2),
    date: ((year - 1980) << 9) | ((at.getMonth() + 1) << 5) | at.getDate(),
  };
}
