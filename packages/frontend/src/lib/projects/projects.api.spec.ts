import { describe, expect, it } from 'vitest';
import { recordingHttp, type RecordedCall } from '@/lib/testing/recording-http';
import { createProjectsApi } from './projects.api';

function recordingApi(respond?: (call: RecordedCall) => Response) {
  const { http, calls } = recordingHttp(respond);
  return { api: createProjectsApi(http), calls };
}

describe('projects API', () => {
  it('maps each function to its route', async () => {
    const { api, calls } = recordingApi();

    await api.listProjects();
    await api.createProject({ name: 'Spring sale' });
    await api.getProject('p 1');
    await api.renameProject('p1', 'Summer');
    await api.deleteProject('p1');
    await api.listVersions('p1');
    await api.listVersions('p1', { limit: 20, before: 7 });
    await api.getVersionFiles('p1', 'v1');
    await api.readVersionFile('p1', 'v1', '/src/my page.astro');
    await api.restoreVersion('p1', 'v1');
    await api.exportProject('p1');
    await api.exportProject('p1', 'tar.gz');

    expect(calls.map((c) => `${c.method} ${c.url}`)).toEqual([
      'GET http://api.test/api/v1/projects',
      'POST http://api.test/api/v1/projects',
      'GET http://api.test/api/v1/projects/p%201',
      'PATCH http://api.test/api/v1/projects/p1',
      'DELETE http://api.test/api/v1/projects/p1',
      'GET http://api.test/api/v1/projects/p1/versions',
      'GET http://api.test/api/v1/projects/p1/versions?limit=20&before=7',
      'GET http://api.test/api/v1/projects/p1/versions/v1/files',
      'GET http://api.test/api/v1/projects/p1/versions/v1/files/src/my%20page.astro',
      'POST http://api.test/api/v1/projects/p1/versions/v1/restore',
      'GET http://api.test/api/v1/projects/p1/export?format=zip',
      'GET http://api.test/api/v1/projects/p1/export?format=tar.gz',
    ]);
    expect(calls[1]?.body).toEqual({ name: 'Spring sale' });
    expect(calls[3]?.body).toEqual({ name: 'Summer' });
    expect(calls.every((c) => c.authorization === 'Bearer jwt')).toBe(true);
  });

  it('does not repeat a create or a restore whose answer was lost, but does repeat reads', async () => {
    const { api, calls } = recordingApi(() => new Response(null, { status: 503 }));

    await expect(api.createProject()).rejects.toMatchObject({ status: 503 });
    await expect(api.restoreVersion('p1', 'v1')).rejects.toMatchObject({ status: 503 });
    expect(calls).toHaveLength(2);

    await expect(api.listVersions('p1')).rejects.toMatchObject({ status: 503 });
    expect(calls).toHaveLength(2 + 4);
  });

  it('answers an export as a file named by the server', async () => {
    const { api } = recordingApi(
      () =>
        new Response(new Uint8Array([0x50, 0x4b]), {
          headers: {
            'content-type': 'application/zip',
            'content-disposition': 'attachment; filename="site-v2.zip"',
          },
        }),
    );

    const file = await api.exportProject('p1');

    expect(file.filename).toBe('site-v2.zip');
    expect(new Uint8Array(await file.blob.arrayBuffer())).toEqual(new Uint8Array([0x50, 0x4b]));
  });

  it('resolves a 204 delete and carries the message of a 404', async () => {
    const { api } = recordingApi(() => new Response(null, { status: 204 }));
    await expect(api.deleteProject('p1')).resolves.toBeUndefined();

    const missing = recordingApi(() =>
      Response.json(
        { statusCode: 404, error: 'Not Found', message: 'Project p2 not found', path: '/', timestamp: '' },
        { status: 404 },
      ),
    );
    await expect(missing.api.getProject('p2')).rejects.toMatchObject({
      isNotFound: true,
      message: 'Project p2 not found',
    });
  });
});
