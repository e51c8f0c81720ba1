import { Agent, request } from 'node:http';
import { RuntimeTimeoutError, WorkspaceFileError, WorkspaceUnreachableError } from './runtime.errors';
import { serviceNameLookup } from './service-name.resolver';

/** Port of the workspace agent (`.devcontainer/preview-template/workspace-agent.js`) in a workspace. */
export const WORKSPACE_AGENT_PORT = 4322;
/** Where the template image keeps the agent. */
export const WORKSPACE_AGENT_SCRIPT = '/usr/local/share/preview/workspace-agent.js';
/** The variable carrying the session's secret into the agent (which keeps it from its children). */
export const WORKSPACE_AGENT_TOKEN_ENV = 'WORKSPACE_AGENT_TOKEN';

/** How to reach one workspace's agent: its host name on the workspace network and the session's secret. */
export interface AgentTarget {
  id: string;
  host: string;
  token: string;
}

export interface AgentRequest {
  method: 'GET' | 'PUT' | 'POST';
  path: string;
  query?: Record<string, string>;
  body?: Buffer | object;
  timeoutMs: number;
}

const FILE_REASONS: ReadonlySet<string> = new Set(['not-found', 'not-a-file', 'outside', 'too-large']);
/** Socket failures meaning the agent is not there (task not running yet, or its node gone). */
const UNREACHABLE_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  // c-ares' answers for a name the engine's DNS does not (yet) know, or does not answer for
  'ENODATA',
  'ESERVFAIL',
  'ETIMEOUT',
  'EPIPE',
]);

/**
 * HTTP client of the workspace agent: one keep-alive pool for every workspace, a bound on each
 * call, and the agent's answers turned into the runtime's errors (file errors by their reason, a
 * silent agent into {@link WorkspaceUnreachableError}, its own exec timeout into
 * {@link RuntimeTimeoutError}).
 */
export class WorkspaceAgentClient {
  /**
   * Connections are kept: an edit is one request, and a new connection across the overlay costs a
   * DNS lookup and a handshake. Dropped when idle before the agent's own keep-alive timeout (10 s).
   */
  private readonly pool = new Agent({ keepAlive: true, timeout: 8_000, maxFreeSockets: 2, scheduling: 'lifo' });

  async json<T>(target: AgentTarget, call: AgentRequest): Promise<T> {
    const body = await this.send(target, call);
    return JSON.parse(body.toString('utf8')) as T;
  }

  /** The raw answer (a file's bytes, or nothing). */
  bytes(target: AgentTarget, call: AgentRequest): Promise<Buffer> {
    return this.send(target, call);
  }

  close(): void {
    this.pool.destroy();
  }

  /**
   * A streaming answer: resolves once the agent accepted the call (an error answer rejects as
   * {@link json} does), then hands each chunk to `onData` until the agent ends the answer
   * (`onEnd`) or the answered function is called. On a connection of its own, not the pool's: it
   * may stay open for the workspace's whole life. TCP keep-alive finds an agent whose node is gone.
   */
  stream(
    target: AgentTarget,
    call: Omit<AgentRequest, 'body'>,
    onData: (chunk: Buffer) => void,
    onEnd: () => void,
  ): Promise<() => void> {
    const query = call.query ? `?${new URLSearchParams(call.query).toString()}` : '';
    const what = `${call.method} ${call.path} on workspace ${target.id}`;
    return new Promise((resolve, reject) => {
      let stopped = false;
      const req = request(
        {
          host: target.host,
          port: WORKSPACE_AGENT_PORT,
          lookup: serviceNameLookup,
          method: call.method,
          path: `${call.path}${query}`,
          agent: false,
          headers: { authorization: `Bearer ${target.token}` },
        },
        (res) => {
          clearTimeout(timer);
          const status = res.statusCode ?? 0;
          if (status < 200 || status >= 300) {
            const chunks: Buffer[] = [];
            res.on('data', (chunk: Buffer) => chunks.push(chunk));
            res.once('end', () => reject(agentError(status, Buffer.concat(chunks), what, call.timeoutMs)));
            return;
          }
          res.on('data', onData);
          // A connection that broke ends the output too: the caller follows again if it wants.
          res.once('close', () => {
            if (!stopped) onEnd();
          });
          resolve(() => {
            stopped = true;
            req.destroy();
          });
        },
      );
      req.once('socket', (socket) => socket.setKeepAlive(true, 5_000));
      const timer = setTimeout(() => {
        req.destroy();
        reject(new RuntimeTimeoutError(what, call.timeoutMs));
      }, call.timeoutMs);
      req.once('error', (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(
          error.code && UNREACHABLE_CODES.has(error.code)
            ? new WorkspaceUnreachableError(target.id, `${error.code} from ${target.host}:${WORKSPACE_AGENT_PORT}`, { cause: error })
            : error,
        );
      });
      req.end();
    });
  }

  private send(target: AgentTarget, call: AgentRequest): Promise<Buffer> {
    const query = call.query ? `?${new URLSearchParams(call.query).toString()}` : '';
    const payload =
      call.body === undefined ? undefined : Buffer.isBuffer(call.body) ? call.body : Buffer.from(JSON.stringify(call.body));
    const what = `${call.method} ${call.path} on workspace ${target.id}`;
    return new Promise<Buffer>((resolve, reject) => {
      const req = request(
        {
          host: target.host,
          port: WORKSPACE_AGENT_PORT,
          lookup: serviceNameLookup,
          method: call.method,
          path: `${call.path}${query}`,
          agent: this.pool,
          headers: {
            authorization: `Bearer ${target.token}`,
            ...(payload
              ? {
                  'content-type': Buffer.isBuffer(call.body) ? 'application/octet-stream' : 'application/json',
                  'content-length': payload.length,
                }
              : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.once('error', (error) => fail(error));
          res.once('end', () => {
            clearTimeout(timer);
            const answer = Buffer.concat(chunks);
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) return resolve(answer);
            reject(agentError(status, answer, what, call.timeoutMs));
          });
        },
      );
      const fail = (error: NodeJS.ErrnoException): void => {
        clearTimeout(timer);
        req.destroy();
        reject(
          error.code && UNREACHABLE_CODES.has(error.code)
            ? new WorkspaceUnreachableError(target.id, `${error.code} from ${target.host}:${WORKSPACE_AGENT_PORT}`, { cause: error })
            : error,
        );
      };
      const timer = setTimeout(() => {
        req.destroy();
        reject(new RuntimeTimeoutError(what, call.timeoutMs));
      }, call.timeoutMs);
      req.once('error', fail);
      req.end(payload);
    });
  }
}

function agentError(status: number, body: Buffer, what: string, timeoutMs: number): Error {
  let parsed: { reason?: string; message?: string } = {};
  try {
    parsed = JSON.parse(body.toString('utf8')) as typeof parsed;
  } catch {
    // not the agent's JSON: reported by status below
  }
  const message = parsed.message ?? `HTTP ${status}`;
  if (parsed.reason && FILE_REASONS.has(parsed.reason)) {
    return new WorkspaceFileError(message, parsed.reason as WorkspaceFileError['reason']);
  }
  if (parsed.reason === 'timeout') return new RuntimeTimeoutError(what, timeoutMs);
  if (status === 401) return new Error(`the workspace agent refused the session's secret (${what})`);
  return new Error(`${what} failed: ${message}`);
}
