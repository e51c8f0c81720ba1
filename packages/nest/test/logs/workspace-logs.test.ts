import type { LogEvent } from '@builder/shared';
import { io } from 'socket.io-client';
import { afterAll, describe, expect, it } from 'vitest';
import { WorkspaceLogsService } from '../../src/modules/workspace/logs/workspace-logs.service';
import { requireDocker } from '../support/docker';
import { useDockerApp } from '../support/docker-app';
import { eventually, type TestUser } from '../support/test-app';
import { subscribedSocket, type WorkspaceClientSocket } from '../support/workspace-socket';

// Ports of this file: 8820-8829.
const PORT_RANGE = { PORT_RANGE_START: '8820', PORT_RANGE_END: '8829' };
const LINES_PER_SECOND = 20;

const dockerReady = requireDocker('workspace-logs');

/** A page whose front matter prints `lines` lines when it is rendered. */
function printingPage(marker: string, lines = 1): string {
  return `---\nfor (let i = 0; i < ${lines}; i++) console.log('${marker} ' + i);\n---\n<html><body><h1>${marker}</h1></body></html>\n`;
}

describe.skipIf(!dockerReady)("the dev server's output, live and on demand (Docker, socket.io)", () => {
  const t = useDockerApp({ ...PORT_RANGE, DEV_SERVER_LOG_LINES_PER_SECOND: String(LINES_PER_SECOND) });
  const sockets: WorkspaceClientSocket[] = [];

  afterAll(() => {
    for (const socket of sockets) socket.disconnect();
  });

  async function subscribed(user: TestUser, sessionId: string): Promise<LogEvent[]> {
    const heard: LogEvent[] = [];
    await subscribedSocket(t.baseUrl, user.token, sessionId, sockets, (socket) =>
      socket.on('log', (event) => heard.push(event)),
    );
    return heard;
  }

  /** Writes a printing page and has the dev server render it (a write with verify renders it). */
  async function print(user: TestUser & { session: any }, marker: string, lines = 1): Promise<void> {
    const put = await t.api.request(
      'PUT',
      `/workspace/${user.session.id}/files/src/pages/printed.astro?verify=true`,
      {
        token: user.token,
        body: { content: printingPage(marker, lines) },
      },
    );
    expect(put.status, put.text).toBe(200);
    expect(put.body.ok, JSON.stringify(put.body.errors)).toBe(true);
  }

  it("a line the dev server prints reaches its owner's socket, not another user's, and the REST tail", async () => {
    const owner = await t.runningSession('logs-owner');
    const other = await t.runningSession('logs-other');
    const ownerHeard = await subscribed(owner, owner.session.id);
    const otherHeard = await subscribed(other, other.session.id);
    // The other user may not subscribe to the owner's session.
    const intruder = io(`${t.baseUrl}/workspace`, {
      transports: ['websocket'],
      auth: { token: other.token },
      reconnection: false,
      forceNew: true,
    }) as WorkspaceClientSocket;
    sockets.push(intruder);
    expect(
      (await intruder.timeout(10_000).emitWithAck('subscribe', { sessionId: owner.session.id })).ok,
    ).toBe(false);

    const marker = `owner-line-${Date.now()}`;
    await print(owner, marker);
    expect(
      await eventually(async () => ownerHeard.some((e) => e.line.includes(`${marker} 0`)), 15_000, 50),
    ).toBe(true);
    const line = ownerHeard.find((e) => e.line.includes(marker))!;
    expect(line).toMatchObject({ sessionId: owner.session.id, stream: 'stdout', at: expect.any(String) });

    // The other user's session prints too; its owner hears that, and nothing of the first.
    const otherMarker = `other-line-${Date.now()}`;
    await print(other, otherMarker);
    expect(
      await eventually(async () => otherHeard.some((e) => e.line.includes(otherMarker)), 15_000, 50),
    ).toBe(true);
    expect(otherHeard.every((e) => e.sessionId === other.session.id)).toBe(true);
    expect(otherHeard.some((e) => e.line.includes(marker))).toBe(false);
    expect(ownerHeard.every((e) => e.sessionId === owner.session.id)).toBe(true);
    expect(ownerHeard.some((e) => e.line.includes(otherMarker))).toBe(false);

    const tail = await t.api.request('GET', `/workspace/${owner.session.id}/logs?tail=50`, {
      token: owner.token,
    });
    expect(tail.status, tail.text).toBe(200);
    expect(tail.body.lines.length).toBeLessThanOrEqual(50);
    expect(tail.body.lines.some((l: string) => l.includes(`${marker} 0`))).toBe(true);
    expect(tail.body.lines.some((l: string) => l.includes(otherMarker))).toBe(false);
    // No terminal escape sequences reach the client.
    expect(tail.body.lines.join('\n')).not.toMatch(/\u001b\[/);

    const foreign = await t.api.request('GET', `/workspace/${owner.session.id}/logs`, { token: other.token });
    expect(foreign.status).toBe(404);
    for (const bad of ['0', '-1', 'abc', '2001', '1.5']) {
      const response = await t.api.request('GET', `/workspace/${owner.session.id}/logs?tail=${bad}`, {
        token: owner.token,
      });
      expect(response.status, bad).toBe(400);
      expect(response.body.message).toMatch(/tail/);
    }

    // A socket that subscribes later first gets the last lines again.
    const late = await subscribed(owner, owner.session.id);
    expect(await eventually(async () => late.some((e) => e.line.includes(`${marker} 0`)), 5_000, 50)).toBe(
      true,
    );
    expect(late.length).toBeLessThanOrEqual(100);
  });

  it('relays at most DEV_SERVER_LOG_LINES_PER_SECOND, says how many it held back, and the tail has them all', async () => {
    const user = await t.runningSession('logs-flood');
    const heard = await subscribed(user, user.session.id);
    // Let the start-up lines drain the bucket's first burst out of the picture.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const marker = `flood-${Date.now()}`;
    const count = 300;
    await print(user, marker, count);
    expect(await eventually(async () => heard.some((e) => e.line.includes('not shown')), 10_000, 50)).toBe(
      true,
    );
    const relayed = heard.filter((e) => e.line.includes(marker)).length;
    expect(relayed).toBeGreaterThan(0);
    expect(relayed).toBeLessThan(count);
    const notice = heard.find((e) => e.line.includes('not shown'))!;
    expect(notice.line).toMatch(new RegExp(`over ${LINES_PER_SECOND} lines per second`));
    const tail = await t.api.request('GET', `/workspace/${user.session.id}/logs?tail=2000`, {
      token: user.token,
    });
    expect(tail.body.lines.filter((l: string) => l.includes(marker)).length).toBe(count);
  });

  it('one follower per running session, closed with the session', async () => {
    const user = await t.runningSession('logs-life');
    const logs = t.app.get(WorkspaceLogsService);
    expect(await eventually(async () => logs.isFollowing(user.session.id), 10_000, 50)).toBe(true);
    const deleted = await t.api.request('DELETE', `/workspace/${user.session.id}`, { token: user.token });
    expect(deleted.status).toBe(204);
    expect(logs.isFollowing(user.session.id)).toBe(false);
    const tail = await t.api.request('GET', `/workspace/${user.session.id}/logs`, { token: user.token });
    expect(tail.status).toBe(409);
  });
});
