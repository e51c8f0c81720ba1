import { HttpClient, type FetchLike } from '@/lib/api/http-client';

/** A request as an API client sent it. */
export interface RecordedCall {
  url: string;
  method: string | undefined;
  body: unknown;
  keepalive: boolean | undefined;
  authorization: string | undefined;
}

/**
 * An HttpClient on a recording fetch (base URL `http://api.test`, token `jwt`, no backoff waits):
 * for specs of the route mapping of an API client, which need no server.
 */
export function recordingHttp(respond: (call: RecordedCall) => Response = () => Response.json({})) {
  const calls: RecordedCall[] = [];
  const fetch: FetchLike = async (url, init) => {
    const call: RecordedCall = {
      url,
      method: init.method,
      body: typeof init.body === 'string' ? JSON.parse(init.body) : undefined,
      keepalive: init.keepalive,
      authorization: (init.headers as Record<string, string>).Authorization,
    };
    calls.push(call);
    return respond(call);
  };
  const http = new HttpClient({
    baseUrl: 'http://api.test/',
    getToken: () => 'jwt',
    fetch,
    sleep: async () => {},
  });
  return { http, calls };
}
