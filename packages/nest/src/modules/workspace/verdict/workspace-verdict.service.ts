import { Agent } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { type CompileError, type Verdict, WorkspaceStatus } from '@builder/shared';
import type { Logger } from 'pino';
import { AppConfig } from '../../../config/app-config';
import { ROOT_LOGGER } from '../../../shared/logging/logging.module';
import { HttpProbe, type ProbeResult } from '../../../shared/runtime/http-probe.service';
import {
  WORKSPACE_RUNTIME,
  type WorkspaceAddress,
  type WorkspaceFileContent,
  type WorkspaceRuntime,
} from '../../../shared/runtime/workspace-runtime.interface';
import { HmrRelayService } from '../hmr/hmr-relay.service';
import type { ViteHmrMessage } from '../hmr/vite-hmr.client';
import { WorkspaceEventsService } from '../workspace-events.service';
import { fileLineOfScript, scriptIndex } from './script-lines';
import { affectsEveryPage, pageRoute, type VerdictTarget, verdictTargets } from './verdict-targets';

/** What a change's verdict will wait for, noted before the change is applied ({@link WorkspaceVerdictService.expect}). */
export interface VerdictTicket {
  sessionId: string;
  workspaceId: string;
  /** Changed paths the dev server may hold compiled, each with the report count that proves it saw the change. */
  needs: Map<string, number>;
}

/** A change the files API applied to a running session's workspace. */
interface AppliedChange {
  workspaceId: string;
  writes: WorkspaceFileContent[];
  deletes: string[];
}

/** What Astro's dev server appends when a page failed after its answer had begun (status 200). */
const LATE_FAILURE_TAIL = '<script type="module" src="/@vite/client"></script>';
/**
 * Astro reports a page that failed to render on the HMR socket 200 ms after its 500 answer, once it
 * has highlighted the code frame: 0.3-0.5 s measured here, ~3 s for a dev server's first error (its
 * highlighter loads then). Vite reports a failed module before answering. The bound only matters
 * when no report comes at all (the relay is not connected).
 */
const ERROR_REPORT_WAIT_MS = 10_000;
/** A page created by the change is routed once the dev server's watcher saw it (~150 ms here). */
const NEW_PAGE_WAIT_MS = 3_000;
/** The workspace's file list (for its pages) is read again when older than this. */
const FILE_LIST_TTL_MS = 60_000;
const POLL_MS = 25;
/**
 * The client scripts of a page as its dev-server HTML loads them (`<script>` blocks of the page and
 * of the components it renders). Vite compiles one only when it is requested: a page renders
 * fine on the server with a script that fails in the browser.
 */
const PAGE_SCRIPT = /<script type="module" src="(\/[^"?]+\?astro&(?:amp;)?type=script[^"]*)"/g;
/** Most client scripts one verdict compiles. */
const MAX_SCRIPTS = 20;

interface PendingChange extends AppliedChange {
  /**
   * Changed paths whose compiled module the dev server may hold from before the change, each with
   * the count of the dev server's reports of it that proves it saw this change.
   */
  needs: Map<string, number>;
  done: (verdict: Verdict) => void;
}

/** What a session's verdicts keep between changes. */
interface SessionVerdicts {
  workspaceId: string;
  queue: PendingChange[];
  running: boolean;
  ended: boolean;
  /** How many times the dev server reported a change of each path (an update, a full reload). */
  reports: Map<string, number>;
  /** The report count each path's latest change waits for. */
  expected: Map<string, number>;
  /** Errors the dev server reported while a round compiles; null between rounds. */
  collecting: CompileError[] | null;
  /** Called on every report, so waits end at once. */
  wake: Set<() => void>;
  files: { paths: Set<string>; at: number } | null;
  /** The dev server's address, kept until a request to it finds nobody there. */
  address: WorkspaceAddress | null;
  /** The file list being read, so changes judged meanwhile wait for it only when they need pages. */
  listing: Promise<void> | null;
}

/** A target and how the dev server answered it. */
interface Outcome {
  target: VerdictTarget;
  /** `suspect`: answered 200 but may have failed mid-render (an error report would say so). */
  status: 'ok' | 'failed' | 'suspect';
  /** The dev server sends details of this failure on its HMR socket (not when it did not answer). */
  reported: boolean;
  message?: string;
}

/**
 * The compile verdict of every change made through the files API, with or without a browser.
 *
 * Astro compiles a page when it is requested, so after a change the backend requests what the
 * change affects (see {@link verdictTargets}) from the dev server itself, through the runtime's
 * address, then the client scripts of the pages that rendered, and reads the outcome: a page
 * answers 500 (or, failing mid-render, ends with the Vite client tag alone) and the details follow
 * on the dev server's HMR socket, which the HMR relay holds; a module (a style, a script) answers
 * 500 and reports at once. The verdict is `ok` or the errors, sent
 * to the owner's socket (`ok`, `error`) and answered to a `verify` request.
 *
 * A request made before the dev server's file watcher saw the change would be answered from the
 * modules it compiled before. So each round first waits until the dev server has reported every
 * changed path it may hold compiled (it reports each change of a module it loaded, browser or
 * not: counted, so that an earlier change's report arriving late is not taken for this one's),
 * bounded by VERDICT_SETTLE_MS: a file it never loaded is never reported, and cannot be stale.
 * Two ways the dev server can keep a file as it was before a change, for good (and every browser
 * on it), were seen in the tests, each with a write answered and the next one sent at once: its
 * watcher (chokidar) drops a change of a file that comes within 5 ms of the one before, so the
 * files API keeps writes of one file apart (see WorkspaceFilesService); and a change that lands
 * while a request has the dev server load that file's module goes unreported and unseen, so a
 * verdict's requests and the session's writes never overlap ({@link exclusive}). Touching an
 * unreported file to make the watcher look again was tried: each touch of a page reloads the
 * preview once more, and a reload in progress loses the next one (a restore stayed off the page).
 *
 * Rounds of one session run one at a time, and a change is judged by the first round that starts
 * after it was applied: its verdict is never that of a compile that began before it. Changes made
 * during a round are judged together in the next.
 */
@Injectable()
export class WorkspaceVerdictService implements OnModuleInit, OnModuleDestroy {
  private readonly log: Logger;
  private readonly states = new Map<string, SessionVerdicts>();
  /** Connections to dev servers are kept: a verdict is a few requests, often seconds apart. */
  private readonly agent = new Agent({
    keepAlive: true,
    timeout: 4_000,
    maxFreeSockets: 2,
    scheduling: 'lifo',
  });
  private readonly unsubscribers: Array<() => void> = [];
  /** Per session: the tail of the chain of writes and compiles that must not overlap. */
  private readonly exclusives = new Map<string, Promise<void>>();

  constructor(
    private readonly config: AppConfig,
    private readonly relay: HmrRelayService,
    private readonly events: WorkspaceEventsService,
    private readonly probe: HttpProbe,
    @Inject(WORKSPACE_RUNTIME) private readonly runtime: WorkspaceRuntime,
    @Inject(ROOT_LOGGER) logger: Logger,
  ) {
    this.log = logger.child({ context: 'Verdict' });
  }

  onModuleInit(): void {
    this.unsubscribers.push(
      this.relay.observe((sessionId, message) => this.hear(sessionId, message)),
      this.events.on('status', (event) => {
        if (event.status !== WorkspaceStatus.Running)
          this.end(event.sessionId, `the workspace is ${event.status}`);
      }),
    );
  }

  onModuleDestroy(): void {
    for (const off of this.unsubscribers.splice(0)) off();
    for (const sessionId of [...this.states.keys()]) this.end(sessionId, 'the backend is shutting down');
    this.agent.destroy();
  }

  /**
   * Called just before a change is applied to a running session's workspace: notes what the dev
   * server's reports must reach for it (taken before the change, so that its report, however
   * quick, counts). Hand the ticket to {@link judge} once the change is applied, or to
   * {@link discard} when it failed.
   */
  expect(
    sessionId: string,
    workspaceId: string,
    change: { writes: WorkspaceFileContent[]; deletes: string[] },
  ): VerdictTicket {
    let state = this.states.get(sessionId);
    if (!state || state.workspaceId !== workspaceId) {
      if (state) this.end(sessionId, 'the session has a new workspace');
      state = {
        workspaceId,
        queue: [],
        running: false,
        ended: false,
        reports: new Map(),
        expected: new Map(),
        collecting: null,
        wake: new Set(),
        files: null,
        address: null,
        listing: null,
      };
      this.states.set(sessionId, state);
      // Read now, so the next changes know which files are new (a new file cannot be compiled
      // yet: no wait for its report); this first one is judged as if every file existed.
      void this.loadFiles(state).catch(() => undefined);
    }
    const files = state.files?.paths;
    // A file the workspace does not hold cannot be compiled in the dev server yet. Unknown (the
    // list not read yet): assume it may be.
    const mayBeCached = [
      ...change.writes.map((write) => write.path).filter((path) => !files || files.has(path)),
      ...change.deletes,
    ];
    // Each change of a file the dev server loaded is reported once: this one is seen when the
    // count reaches one more than what the file's last change (or the reports so far) stood at.
    // A report that is an earlier change's, arriving late, does not count as this one's.
    const needs = new Map<string, number>();
    for (const path of mayBeCached) {
      const need = Math.max(state.expected.get(path) ?? 0, state.reports.get(path) ?? 0) + 1;
      state.expected.set(path, need);
      needs.set(path, need);
    }
    return { sessionId, workspaceId, needs };
  }

  /** A change that was not applied after all: its expectations go. */
  discard(ticket: VerdictTicket): void {
    const state = this.states.get(ticket.sessionId);
    if (!state || state.workspaceId !== ticket.workspaceId) return;
    for (const [path, need] of ticket.needs)
      if (state.expected.get(path) === need) state.expected.set(path, need - 1);
  }

  /**
   * Judges a change applied to a running session's workspace (its ticket from {@link expect}):
   * answers its verdict once the dev server compiled what it affects, and tells the session's
   * sockets. Never rejects.
   */
  judge(
    ticket: VerdictTicket,
    change: { writes: WorkspaceFileContent[]; deletes: string[] },
  ): Promise<Verdict> {
    const state = this.states.get(ticket.sessionId);
    if (!state || state.workspaceId !== ticket.workspaceId || state.ended)
      return Promise.resolve(endedVerdict('the workspace stopped before its pages were compiled'));
    for (const write of change.writes) state.files?.paths.add(write.path);
    for (const path of change.deletes) state.files?.paths.delete(path);
    const verdict = new Promise<Verdict>((done) =>
      state.queue.push({ workspaceId: ticket.workspaceId, ...change, needs: ticket.needs, done }),
    );
    this.schedule(ticket.sessionId, state);
    return verdict;
  }

  /**
   * Runs `work` (a write of the session's files, or a verdict's requests to its dev server) with
   * no other of either running. A change that lands while the dev server loads that file's module
   * for a request went unreported, and the module kept the file as it was before the change, for
   * good (seen in the tests: a write answered, the next sent at once, while the first one's verdict
   * rendered the page). A write waits at most for one verdict's requests; a verdict for writes.
   */
  async exclusive<T>(sessionId: string, work: () => Promise<T>): Promise<T> {
    const previous = this.exclusives.get(sessionId) ?? Promise.resolve();
    let release: () => void = () => undefined;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => mine);
    this.exclusives.set(sessionId, tail);
    await previous;
    try {
      return await work();
    } finally {
      release();
      if (this.exclusives.get(sessionId) === tail) this.exclusives.delete(sessionId);
    }
  }

  private schedule(sessionId: string, state: SessionVerdicts): void {
    if (state.running || state.queue.length === 0 || state.ended) return;
    state.running = true;
    const batch = state.queue.splice(0);
    void this.round(sessionId, state, batch)
      .catch((error: unknown): Verdict => {
        this.log.warn({ err: error, sessionId }, 'a verdict failed');
        return { ok: false, errors: [{ message: `the change could not be compiled: ${String(error)}` }] };
      })
      .then((verdict) => {
        for (const change of batch) change.done(verdict);
        state.running = false;
        this.schedule(sessionId, state);
      });
  }

  private async round(sessionId: string, state: SessionVerdicts, batch: PendingChange[]): Promise<Verdict> {
    const started = performance.now();
    // The files as the batch leaves them: a later write or delete of a path wins.
    const final = new Map<string, Buffer | null>();
    for (const change of batch) {
      for (const write of change.writes) final.set(write.path, write.content);
      for (const path of change.deletes) final.set(path, null);
    }
    const change = {
      writes: [...final].filter(([, content]) => content !== null).map(([path]) => path),
      deletes: [...final].filter(([, content]) => content === null).map(([path]) => path),
    };
    // Opening is idempotent; after a backend restart it makes the relay the verdict listens to.
    await this.relay.open(sessionId, state.workspaceId);
    const collected: CompileError[] = [];
    state.collecting = collected;
    let outcomes: Outcome[];
    let found: { reported: CompileError[]; own: CompileError[] };
    try {
      await this.until(state, () => this.heardAll(state, batch), started + this.config.verdict.settleMs);
      const pages = affectsEveryPage(change) ? await this.pageFiles(state) : [];
      const targets = verdictTargets(change, pages, this.config.verdict.maxPages);
      // What was not heard even then (a file the dev server never loaded, two changes it saw as
      // one): the next change of it counts from the reports so far.
      for (const change of batch)
        for (const [path, need] of change.needs)
          if (!this.heard(state, path, need) && state.expected.get(path) === need)
            state.expected.set(path, state.reports.get(path) ?? 0);
      const settled = performance.now();
      outcomes = await this.exclusive(sessionId, () =>
        this.compile(state, targets, new Set(change.writes), started),
      );
      const compiled = performance.now();
      found = await this.errorsOf(state, outcomes, final);
      this.log.debug(
        {
          sessionId,
          changes: batch.length,
          heard: this.heardAll(state, batch),
          settleMs: Math.round(settled - started),
          compileMs: Math.round(compiled - settled),
          reportsMs: Math.round(performance.now() - compiled),
          targets: outcomes.map((o) => `${o.target.url} ${o.status}`),
        },
        'verdict',
      );
    } finally {
      state.collecting = null;
    }
    if (state.ended) return endedVerdict('the workspace stopped before its pages were compiled');
    const errors = [...found.reported, ...found.own];
    const paths = [...final.keys()].sort();
    const at = new Date().toISOString();
    // On a replica that does not hold the session, the holder's relay hears the same reports of
    // the dev server and publishes them as they come (the relay here is quiet): sending them here
    // too would give every socket each error twice. What only this round knows (its verdict `ok`,
    // failures the dev server never reports) is sent from here wherever it runs.
    const publishReports = this.relay.publishes(sessionId);
    if (errors.length === 0) {
      this.events.emit('ok', { sessionId, paths, checked: outcomes.map((o) => o.target.url), at });
      // Reports that came while everything this change affects compiled are not its verdict, but
      // still the dev server's word (a browser's request of a page's client script that failed):
      // passed on as the relay would have.
      if (publishReports) for (const error of collected) this.events.emit('error', { sessionId, ...error, at });
    }
    for (const error of publishReports ? errors : found.own)
      this.events.emit('error', { sessionId, ...error, paths, at });
    return { ok: errors.length === 0, errors };
  }

  /** Whether the dev server reported, since each change began, every path it may hold compiled. */
  private heardAll(state: SessionVerdicts, batch: PendingChange[]): boolean {
    return batch.every((change) => [...change.needs].every(([path, need]) => this.heard(state, path, need)));
  }

  private heard(state: SessionVerdicts, path: string, need: number): boolean {
    return (state.reports.get(path) ?? 0) >= need;
  }

  /**
   * Requests each target in turn, within the verdict's time budget, and the client scripts of
   * every page that rendered; answers how each went.
   */
  private async compile(
    state: SessionVerdicts,
    targets: VerdictTarget[],
    written: Set<string>,
    started: number,
  ): Promise<Outcome[]> {
    if (targets.length === 0) return [];
    const deadline = started + this.config.verdict.settleMs + this.config.verdict.timeoutMs;
    state.address ??= await this.runtime.address(state.workspaceId);
    const origin = `http://${state.address.host}:${state.address.port}`;
    const queue = [...targets];
    const queued = new Set(targets.map((target) => target.url));
    const outcomes: Outcome[] = [];
    for (let target = queue.shift(); target; target = queue.shift()) {
      const url = target.url;
      const request = (): Promise<ProbeResult> | ProbeResult => {
        const left = deadline - performance.now();
        if (left <= 0) return { status: null, error: `not within ${this.config.verdict.timeoutMs} ms` };
        return this.probe.get(origin + url, { timeoutMs: left, keepBody: true, agent: this.agent });
      };
      let answer = await request();
      // A page the change created is routed once the watcher saw it.
      const routedBy = started + this.config.verdict.settleMs + NEW_PAGE_WAIT_MS;
      while (
        answer.status === 404 &&
        target.kind === 'page' &&
        written.has(target.file) &&
        performance.now() < routedBy &&
        !state.ended
      ) {
        await sleep(POLL_MS);
        answer = await request();
      }
      if (answer.status === null) state.address = null;
      const outcome = outcomeOf(target, answer);
      outcomes.push(outcome);
      if (target.kind !== 'page' || outcome.status !== 'ok') continue;
      for (const [, src] of (answer.body ?? '').matchAll(PAGE_SCRIPT)) {
        const script = src.replace(/&amp;/g, '&');
        if (queued.has(script) || queued.size >= targets.length + MAX_SCRIPTS) continue;
        queued.add(script);
        queue.push({ kind: 'module', url: script, file: script.slice(1).split('?')[0] });
      }
    }
    return outcomes;
  }

  /**
   * The errors of a round: what the dev server reported while it ran (deduplicated, attributed to
   * a changed file when the dev server names none), once every failure it reports has arrived, or
   * failed targets' own answers when it reported nothing (`own`). None when every target compiled.
   */
  private async errorsOf(
    state: SessionVerdicts,
    outcomes: Outcome[],
    contents: Map<string, Buffer | null>,
  ): Promise<{ reported: CompileError[]; own: CompileError[] }> {
    const collected = state.collecting ?? [];
    const reported = outcomes.filter((o) => o.status !== 'ok' && o.reported).length;
    if (reported > 0)
      await this.until(state, () => collected.length >= reported, performance.now() + ERROR_REPORT_WAIT_MS);
    const errors: CompileError[] = [];
    if (outcomes.some((o) => o.status !== 'ok')) {
      const seen = new Set<string>();
      const located = await Promise.all(
        collected.map((e) => this.inScriptFile(state, e, outcomes, contents)),
      );
      for (const error of located.map((e) => attribute(e, contents))) {
        const key = `${error.file}:${error.line}:${error.column}:${error.message}`;
        if (seen.has(key)) continue;
        seen.add(key);
        errors.push(error);
      }
    }
    const unexplained = errors.length === 0;
    const own: CompileError[] = [];
    for (const outcome of outcomes) {
      if (outcome.status === 'failed' && (!outcome.reported || unexplained))
        own.push({ file: outcome.target.file, message: outcome.message ?? 'failed to compile' });
    }
    return { reported: errors, own };
  }

  /**
   * An error of a failed client script, at its line in the `.astro` file: the dev server counts
   * lines within the script block. The file's text comes from the change, else from the workspace.
   */
  private async inScriptFile(
    state: SessionVerdicts,
    error: CompileError,
    outcomes: Outcome[],
    contents: Map<string, Buffer | null>,
  ): Promise<CompileError> {
    if (!error.file || error.line === undefined) return error;
    const script = outcomes.find(
      (o) => o.status === 'failed' && o.target.file === error.file && scriptIndex(o.target.url) !== null,
    );
    if (!script) return error;
    const source =
      contents.get(error.file) ??
      (await this.runtime.readFile(state.workspaceId, error.file).catch(() => null));
    const line =
      source && fileLineOfScript(source.toString('utf8'), scriptIndex(script.target.url)!, error.line);
    return line ? { ...error, line } : error;
  }

  /** The workspace's page files, from its file list (read again when old). */
  private async pageFiles(state: SessionVerdicts): Promise<string[]> {
    if (!state.files || performance.now() - state.files.at > FILE_LIST_TTL_MS) await this.loadFiles(state);
    return [...(state.files?.paths ?? [])].filter((path) => pageRoute(path) !== null);
  }

  /** Reads the workspace's file list (one read at a time). */
  private loadFiles(state: SessionVerdicts): Promise<void> {
    state.listing ??= this.runtime
      .listFiles(state.workspaceId)
      .then((entries) => {
        state.files = {
          paths: new Set(entries.filter((entry) => entry.type === 'file').map((entry) => entry.path)),
          at: performance.now(),
        };
      })
      .finally(() => {
        state.listing = null;
      });
    return state.listing;
  }

  /** What the relay heard: reports of changed paths, and the errors of a running round (claimed). */
  private hear(sessionId: string, message: ViteHmrMessage): boolean {
    const state = this.states.get(sessionId);
    if (!state) return false;
    // An error is not a report of a change: a render's, it may come long after and be of any state.
    if (message.type === 'update')
      for (const path of message.paths) state.reports.set(path, (state.reports.get(path) ?? 0) + 1);
    let claimed = false;
    if (message.type === 'error') {
      const { type: _type, ...error } = message;
      if (state.collecting) {
        state.collecting.push(error);
        claimed = true;
      }
    }
    for (const wake of [...state.wake]) wake();
    return claimed;
  }

  /** Resolves once `done()` holds, the deadline (`performance.now()`) passes or the session ends. */
  private async until(state: SessionVerdicts, done: () => boolean, deadline: number): Promise<void> {
    while (!done() && !state.ended) {
      const left = deadline - performance.now();
      if (left <= 0) return;
      await new Promise<void>((resolve) => {
        const finish = (): void => {
          clearTimeout(timer);
          state.wake.delete(finish);
          resolve();
        };
        const timer = setTimeout(finish, left);
        state.wake.add(finish);
      });
    }
  }

  /** Forgets a session: changes still waiting get a verdict saying why none was made. */
  private end(sessionId: string, reason: string): void {
    const state = this.states.get(sessionId);
    if (!state) return;
    this.states.delete(sessionId);
    state.ended = true;
    for (const change of state.queue.splice(0)) change.done(endedVerdict(reason));
    for (const wake of [...state.wake]) wake();
  }
}

function endedVerdict(reason: string): Verdict {
  return { ok: false, errors: [{ message: `no verdict: ${reason}` }] };
}

/** How the dev server answered a target. */
function outcomeOf(target: VerdictTarget, answer: ProbeResult): Outcome {
  const { status } = answer;
  if (status === null) {
    return {
      target,
      status: 'failed',
      reported: false,
      message: `the dev server did not answer ${target.url}: ${answer.error ?? 'no answer'}`,
    };
  }
  if (status === 200) {
    // A page that failed after its answer began: Astro ends it with the Vite client tag and
    // reports the error; a page that is empty after its head would look the same, and then no
    // report comes.
    const late = target.kind === 'page' && (answer.body ?? '').trimEnd().endsWith(LATE_FAILURE_TAIL);
    return { target, status: late ? 'suspect' : 'ok', reported: late };
  }
  if (status >= 500) {
    return {
      target,
      status: 'failed',
      reported: true,
      message: `the dev server answered ${status} for ${target.url} and reported no details`,
    };
  }
  return {
    target,
    status: 'failed',
    reported: false,
    message:
      status === 404
        ? `the dev server serves nothing at ${target.url} (404)`
        : `the dev server answered ${status} for ${target.url}`,
  };
}

/**
 * An error the dev server reported without a file (a missing import: "Could not import
 * `./Missing.astro`"), attributed to the first changed file that holds a name the message quotes.
 */
function attribute(error: CompileError, contents: Map<string, Buffer | null>): CompileError {
  if (error.file) return error;
  const quoted = [...error.message.matchAll(/[`"']([^`"'\s]{2,})[`"']/g)].map((match) => match[1]);
  if (quoted.length === 0) return error;
  for (const [path, content] of contents) {
    if (!content) continue;
    const lines = content.toString('utf8').split('\n');
    for (let index = 0; index < lines.length; index++) {
      for (const name of quoted) {
        const column = lines[index].indexOf(name);
        if (column >= 0) return { ...error, file: path, line: index + 1, column: column + 1 };
      }
    }
  }
  return error;
}
