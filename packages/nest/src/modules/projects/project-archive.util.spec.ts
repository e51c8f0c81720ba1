import { describe, expect, it } from 'vitest';
import { readTarGz, readZip } from '../../../test/support/archives';
import { archiveStream } from './project-archive.util';

async function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const files = new Map<string, Buffer>([
  ['package.json', Buffer.from('{"name":"x"}\n')],
  ['src/pages/index.astro', Buffer.from('<h1>Héllo ✓</h1>\n'.repeat(2000))],
  ['public/logo.bin', Buffer.from([0, 1, 2, 255, 254, 0, 7])],
  ['empty.txt', Buffer.alloc(0)],
  ['src/naïve name.md', Buffer.from('unicode path\n')],
]);
const entries = [...files].map(([path, content]) => ({ path, read: async () => content }));

describe('project archives', () => {
  it('writes a zip that an independent reader (yauzl) reads back byte for byte', async () => {
    const read = await readZip(await collect(archiveStream('zip', 'site-v3', entries)));
    expect([...read.keys()].sort()).toEqual([...files.keys()].map((p) => `site-v3/${p}`).sort());
    for (const [path, content] of files) expect(read.get(`site-v3/${path}`)).toEqual(content);
  });

  it('writes a tar.gz read back byte for byte', async () => {
    const read = await readTarGz(await collect(archiveStream('tar.gz', 'site-v3', entries)));
    for (const [path, content] of files) expect(read.get(`site-v3/${path}`)).toEqual(content);
  });

  it('fails the stream when a file cannot be read, instead of ending a truncated archive', async () => {
    const broken = [...entries, { path: 'gone', read: () => Promise.reject(new Error('blob missing')) }];
    for (const format of ['zip', 'tar.gz'] as const) {
      await expect(collect(archiveStream(format, 'x', broken))).rejects.toThrow(/blob missing/);
    }
  });
});
