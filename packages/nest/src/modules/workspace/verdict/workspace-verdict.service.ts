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
import { ProjectVersionsService } from '../../projects/project-versions.service';
import { HmrRelayService } from '../hmr/hmr-relay.service';
import type { ViteHmrMessage } from '../hmr/vite-hmr.client';
import { WorkspaceEventsService } from '../workspace-events.service';
import { fileLineOfScript, scriptIndex } from './script-lines';
import { affectsEveryPage, pageRoute, type VerdictTarget, verdictTargets } from './verdict-targets';

/** A change the files API applied to a running session's workspace. */
export interface AppliedChange {
  workspaceId: string;
  /** The session's project: its lock keeps a touch (see the class) apart from the project's writes. */
  projectId: string | null;
  writes: WorkspaceFileContent[];
  deletes: string[];
  /** `performance.now()` just before the change was applied. */
  startedAt: number;
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
/** After a nudge, how long the dev server has to report the touched files (it does in ~5-50 ms). */
const NUDGE_WAIT_MS = 300;
/**
 * A file written again within this long of its last write: the report heard may be the earlier
 * write's, and the later one may have been dropped by the watcher's 5 ms throttle (see below).
 */
const RAPID_REWRITE_MS = 100;
/**
 * A touch comes at least this long after the write it follows, and the project's next write at
 * least this long after the touch: well outside the watcher's 5 ms throttle either way.
 */
const TOUCH_GAP_MS = 20;
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
  /** Changed paths whose compiled module the dev server may hold from before the change. */
  mayBeCached: string[];
  /** Written paths the API wrote shortly before too: a report of them proves nothing. */
  rewritten: string[];
  /** `performance.now()` when the change was applied. */
  appliedAt: number;
  done: (verdict: Verdict) => void;
}

/** What a session's verdicts keep between changes. */
interface SessionVerdicts {
  workspaceId: string;
  queue: PendingChange[];
  running: boolean;
  ended: boolean;
  /** When the dev server last reported each path (`performance.now()`). */
  heard: Map<string, number>;
  /** Errors the dev server reported while a round compiles; null between rounds. */
  collecting: CompileError[] | null;
  /** Called on every report, so waits end at once. */
  wake: Set<() => void>;
  files: { paths: Set<string>; at: number } | null;
  /** When the API last wrote each path (`performance.now()` once applied). */
  lastWrite: Map<string, number>;
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
 * changed path it may hold compiled (it reports a change of any module it loaded, browser or not),
 * bounded by VERDICT_SETTLE_MS: a file it never loaded is never reported, and cannot be stale.
 * Its file watcher (chokidar) drops a change of a file that comes within 5 ms of the one before
 * (a throttle with no trailing event), so two quick writes can leave the dev server, and every
 * browser on it, with the first for good (seen in the tests: a write answered, the next one sent
 * at once). So when the bound passes unreported, or a file was written again within
 * RAPID_REWRITE_MS (a report then may be the earlier write's), the round touches those files (a
 * new event, same content) and waits a moment for their report: the dev server is mended too.
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

  constructor(
    private readonly config: AppConfig,
    private readonly relay: HmrRelayService,
    private readonly events: WorkspaceEventsService,
    private readonly probe: HttpProbe,
    private readonly versions: ProjectVersionsService,
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
   * Judges a change applied to a running session's workspace: answers its verdict once the dev
   * server compiled what it affects, and tells the session's sockets. Never rejects.
   */
  judge(sessionId: string, change: AppliedChange): Promise<Verdict> {
    let state = this.states.get(sessionId);
    if (!state || state.workspaceId !== change.workspaceId) {
      if (state) this.end(sessionId, 'the session has a new workspace');
      state = {
        workspaceId: change.workspaceId,
        queue: [],
        running: false,
        ended: false,
        heard: new Map(),
        collecting: null,
        wake: new Set(),
        files: null,
        lastWrite: new Map(),
        address: null,
        listing: null,
      };
      this.states.set(sessionId, state);
      // Read now, so the next changes know which files are new (a new file cannot be compiled
      // yet: no wait for its report); this first one is judged as if every file existed.
      void this.loadFiles(state).catch(() => undefined);
    }
    const files = state.files?.paths;
    // A file the workspace did not hold cannot be compiled in the dev server yet. Unknown (the
    // list not read yet): assume it may be.
    const mayBeCached = [
      ...change.writes.map((write) => write.path).filter((path) => !files || files.has(path)),
      ...change.deletes,
    ];
    const appliedAt = performance.now();
    const rewritten = change.writes
      .map((write) => write.path)
      .filter((path) => change.startedAt - (state.lastWrite.get(path) ?? -Infinity) < RAPID_REWRITE_MS);
    for (const write of change.writes) {
      files?.add(write.path);
      state.lastWrite.set(write.path, appliedAt);
    }
    for (const path of change.deletes) files?.delete(path);
    const verdict = new Promise<Verdict>((done) =>
      state.queue.push({ ...change, mayBeCached, rewritten, appliedAt, done }),
    );
    this.schedule(sessionId, state);
    return verdict;
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
    let errors: CompileError[];
    try {
      await this.until(state, () => this.heardAll(state, batch), started + this.config.verdict.settleMs);
      const nudged = await this.nudge(state, batch, final);
      const settled = performance.now();
      const pages = affectsEveryPage(change) ? await this.pageFiles(state) : [];
      const targets = verdictTargets(change, pages, this.config.verdict.maxPages);
      outcomes = await this.compile(state, targets, new Set(change.writes), started);
      const compiled = performance.now();
      errors = await this.errorsOf(state, outcomes, final);
      this.log.debug(
        {
          sessionId,
          changes: batch.length,
          heard: this.heardAll(state, batch),
          nudged,
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
    const paths = [...final.keys()].sort();
    const at = new Date().toISOString();
    if (errors.length === 0) {
      this.events.emit('ok', { sessionId, paths, checked: outcomes.map((o) => o.target.url), at });
      // Reports that came while everything this change affects compiled are not its verdict, but
      // still the dev server's word (a browser's request of a page's client script that failed):
      // passed on as the relay would have.
      for (const error of collected) this.events.emit('error', { sessionId, ...error, at });
    }
    for (const error of errors) this.events.emit('error', { sessionId, ...error, paths, at });
    return { ok: errors.length === 0, errors };
  }

  /** Whether the dev server reported, since each change began, every path it may hold compiled. */
  private heardAll(state: SessionVerdicts, batch: PendingChange[]): boolean {
    return batch.every((change) =>
      change.mayBeCached.every((path) => (state.heard.get(path) ?? -Infinity) > change.startedAt),
    );
  }

  /**
   * Touches the changed files the dev server may hold compiled but did not report, and those
   * written again quickly (the same content, a new modification time: its watcher gets an event),
   * then waits briefly for their reports. Answers the paths touched.
   */
  private async nudge(
    state: SessionVerdicts,
    batch: PendingChange[],
    contents: Map<string, Buffer | null>,
  ): Promise<string[]> {
    const candidates = new Set<string>();
    for (const change of batch) {
      for (const path of change.mayBeCached) {
        if ((state.heard.get(path) ?? -Infinity) <= change.startedAt) candidates.add(path);
      }
      for (const path of change.rewritten) candidates.add(path);
    }
    // Only files still there: a deleted one has nothing to touch.
    const paths = [...candidates].filter((path) => contents.get(path));
    if (paths.length === 0) return [];
    const lastApplied = Math.max(...batch.map((change) => change.appliedAt));
    await sleep(Math.max(0, lastApplied + TOUCH_GAP_MS - performance.now()));
    const since = performance.now();
    const touchAll = async (): Promise<void> => {
      // `-c`: nothing is created where the file went meanwhile.
      const result = await this.runtime.exec(state.workspaceId, ['touch', '-c', '--', ...paths], {
        timeoutMs: this.config.verdict.timeoutMs,
      });
      if (result.exitCode !== 0) throw new Error(result.stderr.trim() || `touch exited ${result.exitCode}`);
      await sleep(TOUCH_GAP_MS);
    };
    try {
      // Under the project's lock: no write of the project (a restore, another session's change)
      // can land within the watcher's throttle of the touch and be the one it drops.
      const projectId = batch.at(-1)?.projectId;
      await (projectId ? this.versions.withHead(projectId, touchAll) : touchAll());
    } catch (error) {
      this.log.warn({ err: error, paths }, 'touching the unreported files failed; the verdict goes on');
      return [];
    }
    await this.until(
      state,
      () => paths.every((path) => (state.heard.get(path) ?? -Infinity) > since),
      performance.now() + NUDGE_WAIT_MS,
    );
    return paths;
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
   * failed targets' own answers when it reported nothing. None when every target compiled.
   */
  private async errorsOf(
    state: SessionVerdicts,
    outcomes: Outcome[],
    contents: Map<string, Buffer | null>,
  ): Promise<CompileError[]> {
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
    for (const outcome of outcomes) {
      if (outcome.status === 'failed' && (!outcome.reported || unexplained))
        errors.push({ file: outcome.target.file, message: outcome.message ?? 'failed to compile' });
    }
    return errors;
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
    const now = performance.now();
    if (message.type === 'update') for (const path of message.paths) state.heard.set(path, now);
    let claimed = false;
    if (message.type === 'error') {
      const { type: _type, ...error } = message;
      if (error.file) state.heard.set(error.file, now);
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
