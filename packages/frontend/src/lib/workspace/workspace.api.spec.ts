import { describe, expect, it } from 'vitest';
import { recordingHttp, type RecordedCall } from '@/lib/testing/recording-http';
import { createWorkspaceApi, encodePath } from './workspace.api';

function recordingApi(respond?: (call: RecordedCall) => Response) {
  const { http, calls } = recordingHttp(respond);
  return { api: createWorkspaceApi(http), calls };
}

describe('workspace API', () => {
  it('maps each function to its route', async () => {
    const { api, calls } = recordingApi();

    await api.createWorkspace({ templateName: 'baseline-landing' });
    await api.getWorkspaceStatus('s 1');
    await api.listWorkspaces();
    await api.getFileTree('s1');
    await api.readFile('s1', 'src/pages/index.astro');
    await api.writeFile('s1', '/src/my page.astro', 'hello');
    await api.restartWorkspace('s1');
    await api.writeFile('s1', 'src/pages/index.astro', 'checked', { verify: true });
    await api.applyEdits('s1', {
      writes: [{ path: 'src/a.astro', content: 'a' }],
      deletes: ['src/b.astro'],
      verify: true,
    });
    await api.deleteFile('s1', 'src/old file.astro');
    await api.deleteFile('s1', 'src/c.astro', { verify: true });
    await api.moveFile('s1', { from: 'src/a.astro', to: 'src/b.astro' });
    await api.getLogs('s1');
    await api.getLogs('s1', 20);

    expect(calls.map((c) => `${c.method} ${c.url}`)).toEqual([
      'POST http://api.test/api/v1/workspace/create',
      'GET http://api.test/api/v1/workspace/s%201/status',
      'GET http://api.test/api/v1/workspace',
      'GET http://api.test/api/v1/workspace/s1/files',
      'GET http://api.test/api/v1/workspace/s1/files/src/pages/index.astro',
      'PUT http://api.test/api/v1/workspace/s1/files/src/my%20page.astro',
      'POST http://api.test/api/v1/workspace/s1/restart',
      'PUT http://api.test/api/v1/workspace/s1/files/src/pages/index.astro?verify=true',
      'POST http://api.test/api/v1/workspace/s1/edits',
      'DELETE http://api.test/api/v1/workspace/s1/files/src/old%20file.astro',
      'DELETE http://api.test/api/v1/workspace/s1/files/src/c.astro?verify=true',
      'POST http://api.test/api/v1/workspace/s1/files/move',
      'GET http://api.test/api/v1/workspace/s1/logs',
      'GET http://api.test/api/v1/workspace/s1/logs?tail=20',
    ]);
    expect(calls[0]?.body).toEqual({ templateName: 'baseline-landing' });
    expect(calls[5]?.body).toEqual({ content: 'hello' });
    expect(calls[7]?.body).toEqual({ content: 'checked' });
    expect(calls[8]?.body).toEqual({
      writes: [{ path: 'src/a.astro', content: 'a' }],
      deletes: ['src/b.astro'],
      verify: true,
    });
    expect(calls[9]?.body).toBeUndefined();
    expect(calls[11]?.body).toEqual({ from: 'src/a.astro', to: 'src/b.astro' });
    expect(calls.every((c) => c.authorization === 'Bearer jwt')).toBe(true);
  });

  it('deletes with keepalive and without retries when the tab is closing', async () => {
    const { api, calls } = recordingApi(() => new Response(null, { status: 503 }));

    await expect(api.deleteWorkspace('s1', { keepalive: true })).rejects.toMatchObject({ status: 503 });
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ method: 'DELETE', keepalive: true });

    await expect(api.deleteWorkspace('s1')).rejects.toMatchObject({ status: 503 });
    expect(calls).toHaveLength(1 + 4);
  });

  it('resolves a 204 delete', async () => {
    const { api } = recordingApi(() => new Response(null, { status: 204 }));
    await expect(api.deleteWorkspace('s1')).resolves.toBeUndefined();
  });

  it('encodes path segments but keeps the separators', () => {
    expect(encodePath('/src/a b/#x?.astro')).toBe('src/a%20b/%23x%3F.astro');
  });
});
