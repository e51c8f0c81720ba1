import { type IncomingHttpHeaders, request } from 'node:http';

/**
 * GET through the preview proxy: Node's fetch cannot resolve `*.localhost`, so this connects to
 * 127.0.0.1 and sends the preview's host name in the Host header.
 */
export function previewGet(
  previewUrl: string,
  path = '/',
  headers: Record<string, string> = {},
): Promise<{ status: number; text: string; headers: IncomingHttpHeaders }> {
  const url = new URL(previewUrl);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: Number(url.port),
        path,
        method: 'GET',
        headers: { host: url.host, ...headers },
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), headers: res.headers }),
        );
        res.on('error', reject);
      },
    );
    req.setTimeout(15_000, () => req.destroy(new Error('preview request timed out')));
    req.on('error', reject);
    req.end();
  });
}
