import { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { WorkspaceFileError } from './runtime.errors';
import { listArchiveEntries, packWorkspaceFile, readFirstEntry, streamToBuffer } from './workspace-tar.util';

async function archive(
  entries: Array<{ header: tar.Header | (Partial<tar.Header> & { name: string }); body?: string }>,
): Promise<Readable> {
  const pack = tar.pack();
  for (const entry of entries) pack.entry(entry.header, entry.body ?? '');
  pack.finalize();
  return Readable.from(await streamToBuffer(pack));
}

describe('packWorkspaceFile', () => {
  it('packs parent folders and the file, owned by uid/gid 1000 with modes 0755/0644', async () => {
    const packed = await packWorkspaceFile('src/pages/new.astro', Buffer.from('<h1>hi</h1>'));
    const extract = tar.extract();
    Readable.from(packed).pipe(extract);
    const seen: Array<{ name: string; type: string; uid: number; gid: number; mode: number; body: string }> =
      [];
    for await (const entry of extract) {
      const body = (await streamToBuffer(entry)).toString();
      const { name, type, uid, gid, mode } = entry.header;
      seen.push({ name, type, uid, gid, mode, body });
    }
    expect(seen).toEqual([
      { name: 'src/', type: 'directory', uid: 1000, gid: 1000, mode: 0o755, body: '' },
      { name: 'src/pages/', type: 'directory', uid: 1000, gid: 1000, mode: 0o755, body: '' },
      { name: 'src/pages/new.astro', type: 'file', uid: 1000, gid: 1000, mode: 0o644, body: '<h1>hi</h1>' },
    ]);
  });
});

describe('readFirstEntry', () => {
  it('returns the content of a file entry', async () => {
    const result = await readFirstEntry(
      await archive([{ header: { name: 'index.astro', size: 5 }, body: 'hello' }]),
      'index.astro',
    );
    expect(result.type).toBe('file');
    expect(result.content.toString()).toBe('hello');
  });

  it('reports a symlink or folder by type, without content', async () => {
    const link = await readFirstEntry(
      await archive([
        { header: { name: 'node_modules', type: 'symlink', linkname: '/opt/deps/node_modules' } },
      ]),
      'node_modules',
    );
    expect(link.type).toBe('symlink');
    const dir = await readFirstEntry(await archive([{ header: { name: 'src/', type: 'directory' } }]), 'src');
    expect(dir.type).toBe('directory');
  });

  it('refuses files over the limit and reports an empty archive as not found', async () => {
    await expect(
      readFirstEntry(await archive([{ header: { name: 'big', size: 10 }, body: '0123456789' }]), 'big', 5),
    ).rejects.toMatchObject({ reason: 'too-large' });
    const empty = await readFirstEntry(await archive([]), 'gone').catch((error: unknown) => error);
    expect(empty).toBeInstanceOf(WorkspaceFileError);
    expect((empty as WorkspaceFileError).reason).toBe('not-found');
  });
});

describe('listArchiveEntries', () => {
  it('strips the root folder, skips ignored folders and symlinks, sorts', async () => {
    const entries = await listArchiveEntries(
      await archive([
        { header: { name: 'app/', type: 'directory' } },
        { header: { name: 'app/package.json', size: 2 }, body: '{}' },
        { header: { name: 'app/node_modules', type: 'symlink', linkname: '/opt/deps/node_modules' } },
        { header: { name: 'app/.astro/', type: 'directory' } },
        { header: { name: 'app/.astro/types.d.ts', size: 1 }, body: 'x' },
        { header: { name: 'app/.vite/deps/chunk.js', size: 1 }, body: 'x' },
        { header: { name: 'app/src/', type: 'directory' } },
        { header: { name: 'app/src/pages/', type: 'directory' } },
        { header: { name: 'app/src/pages/index.astro', size: 3 }, body: 'abc' },
        { header: { name: 'app/.gitignore', size: 1 }, body: 'x' },
      ]),
    );
    expect(entries).toEqual([
      { path: '.gitignore', type: 'file', size: 1 },
      { path: 'package.json', type: 'file', size: 2 },
      { path: 'src', type: 'directory' },
      { path: 'src/pages', type: 'directory' },
      { path: 'src/pages/index.astro', type: 'file', size: 3 },
    ]);
  });
});
