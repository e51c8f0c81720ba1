#!/usr/bin/env node
// The workspace agent: how a backend on another machine reaches a workspace without touching its
// node. It supervises the dev server (start, stop, exit code, out-of-memory kills) and serves the
// workspace's files, exec and stats over HTTP on WORKSPACE_AGENT_PORT (4322), to callers that show
// the session's secret (WORKSPACE_AGENT_TOKEN) as a bearer token. It runs only when a runtime
// starts the container with it (the swarm runtime does; the docker runtime does not), as the
// workspace's user, with Node's own modules only.
//   usage: node workspace-agent.js <dev server command...>   (the command runs when asked to start)
// Routes (JSON unless said; errors are {"reason", "message"}):
//   GET  /v1/state                       the dev server: {state, exitCode, startedAt, oomKilled}
//   POST /v1/dev-server/start            starts it (a no-op while it runs)
//   POST /v1/dev-server/stop?graceMs=N   SIGTERM to its process group, SIGKILL after the grace
//   POST /v1/exec {command, timeoutMs}   runs a command in the workspace: {exitCode, stdout, stderr}
//   GET  /v1/files?path=P                the file's bytes;  PUT /v1/files?path=P  writes them
//   GET  /v1/tree                        files and folders [{path, type, size}]
//   GET  /v1/tree?content=1              {files: [{path, content}], skipped: [path]}: every file's
//                                        base64 content; files over 10 MiB are named in skipped
//   POST /v1/changes {writes: [{path, content}], deletes: [path]}   one batch (content is base64):
//                                        deletes (files only), then new files, then changed ones
//   GET  /v1/stats                       {cpuPercent, memoryBytes, memoryLimitBytes, pids}
//   GET  /v1/disk-usage                  {usedBytes, cheap: false}: the workspace's files, walked
//   GET  /v1/logs?tail=N                 the dev server's output as NDJSON {stream, line}: its last N
//                                        lines, then each new one while it runs; ends when it exits
// A new capability is one more entry in ROUTES (a streaming one answers through `res` itself).
'use strict';

const http = require('node:http');
const fs = require('node:fs');
const fsp = require('node:fs/promises');
const path = require('node:path');
const crypto = require('node:crypto');
const os = require('node:os');
const { spawn } = require('node:child_process');

const ROOT = process.env.WORKSPACE_DIR || '/app';
const PORT = Number(process.env.WORKSPACE_AGENT_PORT || 4322);
const TOKEN = process.env.WORKSPACE_AGENT_TOKEN || '';
// The secret is the agent's alone: nothing it starts inherits it.
delete process.env.WORKSPACE_AGENT_TOKEN;
const DEV_COMMAND = process.argv.slice(2);

const IGNORED_DIRS = new Set(['node_modules', '.astro', '.vite', '.git']);
const MAX_FILE_BYTES = 10 * 1024 * 1024;
const MAX_BODY_BYTES = 64 * 1024 * 1024;
const EXEC_OUTPUT_BYTES = 1024 * 1024;
const STOP_GRACE_MS = 10_000;
const LOG_LINES = 2_000;

function log(message) {
  process.stdout.write(`[agent] ${message}\n`);
}

if (TOKEN.length < 32 || DEV_COMMAND.length === 0) {
  process.stderr.write('[agent] needs WORKSPACE_AGENT_TOKEN (32+ characters) and a dev server command\n');
  process.exit(2);
}
const TOKEN_DIGEST = crypto.createHash('sha256').update(TOKEN).digest();

// ------------------------------------------------------------------ errors and paths

class AgentError extends Error {
  constructor(status, reason, message) {
    super(message);
    this.status = status;
    this.reason = reason;
  }
}
const fileError = {
  'not-found': (shown) => new AgentError(404, 'not-found', `${shown} does not exist`),
  'not-a-file': (shown, what = 'is not a regular file') => new AgentError(409, 'not-a-file', `${shown} ${what}`),
  outside: (shown) => new AgentError(403, 'outside', `${shown} leads outside the workspace`),
  'too-large': (shown, max) => new AgentError(413, 'too-large', `${shown} is larger than ${max} bytes`),
};

/** A workspace-relative path in `a/b/c` form; the caller validated it, this is the agent's own line. */
function normalize(raw) {
  if (typeof raw !== 'string' || raw.length === 0) throw fileError['not-found']('(empty path)');
  if (raw.includes('\0')) throw fileError.outside(JSON.stringify(raw));
  const unified = raw.replace(/\\/g, '/');
  if (unified.startsWith('/')) throw new AgentError(403, 'outside', `workspace path ${JSON.stringify(raw)} must be relative`);
  const normalized = path.posix.normalize(unified).replace(/\/+$/, '');
  if (normalized === '..' || normalized.startsWith('../')) throw fileError.outside(JSON.stringify(raw));
  if (normalized === '.' || normalized === '') throw fileError['not-a-file'](JSON.stringify(raw), 'names the workspace root');
  return normalized;
}

function isInside(root, candidate) {
  const rel = path.posix.relative(root, candidate);
  return rel === '' || (!rel.startsWith('../') && rel !== '..' && !path.posix.isAbsolute(rel));
}

let rootReal = null;
async function realRoot() {
  rootReal ??= await fsp.realpath(ROOT);
  return rootReal;
}

/** Resolves symlinks and refuses a result outside the workspace (a dangling link that points out too). */
async function resolveInside(absolute, shown) {
  const root = await realRoot();
  let real;
  try {
    real = await fsp.realpath(absolute);
  } catch (error) {
    if (error.code === 'ENOENT' || error.code === 'ENOTDIR') {
      const link = await fsp.readlink(absolute).catch(() => null);
      if (link !== null && !isInside(root, path.resolve(path.dirname(absolute), link))) throw fileError.outside(shown);
      throw fileError['not-found'](shown);
    }
    throw error;
  }
  if (!isInside(root, real)) throw fileError.outside(shown);
  return real;
}

/** What an open descriptor really is: a symlink swapped in after the check is caught here. */
function assertOpenedInside(fd, shown) {
  let opened = null;
  try {
    opened = fs.readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return;
  }
  if (rootReal && !isInside(rootReal, opened)) throw fileError.outside(shown);
}

function openError(error, shown) {
  if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return fileError['not-found'](shown);
  if (error.code === 'ELOOP') return fileError['not-a-file'](shown, 'is a symbolic link');
  if (error.code === 'EISDIR') return fileError['not-a-file'](shown, 'is a folder');
  if (error.code === 'ENXIO') return fileError['not-a-file'](shown);
  return error;
}

// ------------------------------------------------------------------ files

async function readWorkspaceFile(rawPath) {
  const rel = normalize(rawPath);
  const root = await realRoot();
  const real = await resolveInside(path.join(root, rel), rel);
  let handle;
  try {
    handle = await fsp.open(real, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch (error) {
    throw openError(error, rel);
  }
  try {
    assertOpenedInside(handle.fd, rel);
    const info = await handle.stat();
    if (info.isDirectory()) throw fileError['not-a-file'](rel, 'is a folder');
    if (!info.isFile()) throw fileError['not-a-file'](rel);
    if (info.size > MAX_FILE_BYTES) throw fileError['too-large'](rel, MAX_FILE_BYTES);
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

async function writeWorkspaceFile(rawPath, content) {
  const rel = normalize(rawPath);
  const root = await realRoot();
  const segments = rel.split('/');
  for (let i = 1; i < segments.length; i++) {
    const dir = segments.slice(0, i).join('/');
    try {
      await fsp.mkdir(path.join(root, dir), { mode: 0o755 });
    } catch (error) {
      if (error.code !== 'EEXIST') throw openError(error, dir);
    }
    // An existing parent may be a symlink: it must stay inside and be a folder.
    const real = await resolveInside(path.join(root, dir), dir);
    if (!(await fsp.stat(real)).isDirectory()) throw fileError['not-a-file'](dir, 'is not a folder');
  }
  const parent = await resolveInside(path.dirname(path.join(root, rel)), rel);
  const target = path.join(parent, path.basename(rel));
  const existing = await fsp.lstat(target).catch(() => null);
  if (existing?.isSymbolicLink()) {
    await resolveInside(target, rel).catch((error) => {
      if (error.reason === 'outside') throw error;
    });
    throw fileError['not-a-file'](rel, 'is a symbolic link');
  }
  let handle;
  try {
    // No O_TRUNC yet: nothing changes before the descriptor is known to be inside and a file.
    handle = await fsp.open(
      target,
      fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK,
      0o644,
    );
  } catch (error) {
    throw openError(error, rel);
  }
  try {
    assertOpenedInside(handle.fd, rel);
    if (!(await handle.stat()).isFile()) throw fileError['not-a-file'](rel);
    await handle.truncate(0);
    await handle.writeFile(content);
  } finally {
    await handle.close();
  }
}

/** Deletes a file (a symlink is removed, not followed); a missing path is not an error, a folder is refused. */
async function deleteWorkspaceFile(rawPath) {
  const rel = normalize(rawPath);
  const root = await realRoot();
  let parent;
  try {
    parent = await resolveInside(path.dirname(path.join(root, rel)), rel);
  } catch (error) {
    if (error.reason === 'not-found') return;
    throw error;
  }
  const target = path.join(parent, path.basename(rel));
  const existing = await fsp.lstat(target).catch(() => null);
  if (!existing) return;
  if (existing.isDirectory()) throw fileError['not-a-file'](rel, 'is a folder');
  await fsp.unlink(target).catch((error) => {
    if (error.code !== 'ENOENT') throw error;
  });
}

/**
 * Bytes the workspace's files take on disk (allocated blocks, as du counts them; a hard-linked file
 * once), caches included; node_modules is a link into the image and counts as the link only.
 */
async function diskUsage() {
  const root = await realRoot();
  const seen = new Set();
  let bytes = (await fsp.lstat(root)).blocks * 512;
  const walk = async (dir) => {
    const names = await fsp.readdir(dir).catch(() => []);
    for (const name of names) {
      const absolute = path.join(dir, name);
      // Gone since the listing (a dev server's cache churns): nothing to count.
      const info = await fsp.lstat(absolute).catch(() => null);
      if (!info) continue;
      if (!info.isDirectory() && info.nlink > 1) {
        const inode = `${info.dev}:${info.ino}`;
        if (seen.has(inode)) continue;
        seen.add(inode);
      }
      bytes += info.blocks * 512;
      if (info.isDirectory()) await walk(absolute);
    }
  };
  await walk(root);
  return { usedBytes: bytes, cheap: false };
}

/** Files and folders without ignored folders and symlinks, sorted by path. */
async function listTree() {
  const root = await realRoot();
  const entries = [];
  const walk = async (dir) => {
    for (const entry of await fsp.readdir(dir, { withFileTypes: true })) {
      const absolute = path.join(dir, entry.name);
      const rel = path.relative(root, absolute).split(path.sep).join('/');
      if (entry.isDirectory()) {
        if (IGNORED_DIRS.has(entry.name)) continue;
        entries.push({ path: rel, type: 'directory' });
        await walk(absolute);
      } else if (entry.isFile()) {
        entries.push({ path: rel, type: 'file', size: (await fsp.lstat(absolute)).size });
      }
    }
  };
  await walk(root);
  return entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

// ------------------------------------------------------------------ the dev server's output

/** The dev server's last lines, per stream in order, and the responses following it live. */
const output = { lines: [], followers: new Set(), partial: { stdout: '', stderr: '' } };

function emitLine(stream, line) {
  const entry = { stream, line };
  output.lines.push(entry);
  if (output.lines.length > LOG_LINES) output.lines.shift();
  const json = `${JSON.stringify(entry)}\n`;
  for (const res of output.followers) res.write(json);
}

/** Splits a stream's chunks into lines; a partial line waits for the rest. */
function collectOutput(stream, readable) {
  readable.setEncoding('utf8');
  readable.on('data', (text) => {
    const parts = (output.partial[stream] + text).split('\n');
    output.partial[stream] = parts.pop();
    for (const line of parts) emitLine(stream, line.replace(/\r$/, ''));
  });
}

/** The dev server ended: what it left unterminated is a line, and every follower's stream ends. */
function endOutput() {
  for (const stream of ['stdout', 'stderr']) {
    if (output.partial[stream]) emitLine(stream, output.partial[stream]);
    output.partial[stream] = '';
  }
  for (const res of output.followers) res.end();
  output.followers.clear();
}

function followOutput(res, url) {
  const tail = Math.min(Math.max(Number(url.searchParams.get('tail') ?? 0) || 0, 0), LOG_LINES);
  res.writeHead(200, { 'content-type': 'application/x-ndjson' });
  // Answered at once, lines or not: the caller waits for the headers to know it is following.
  res.flushHeaders();
  for (const entry of tail > 0 ? output.lines.slice(-tail) : []) res.write(`${JSON.stringify(entry)}\n`);
  if (devServer.state !== 'running') return res.end();
  output.followers.add(res);
  res.once('close', () => output.followers.delete(res));
}

// ------------------------------------------------------------------ the dev server

const devServer = { child: null, exited: null, state: 'created', exitCode: null, startedAt: null, oomKilled: false, stopping: false };

/** The cgroup's OOM-kill count (v1 memory.oom_control or v2 memory.events), or null where unreadable. */
function oomKillCount() {
  for (const [file, key] of [
    ['/sys/fs/cgroup/memory/memory.oom_control', 'oom_kill'],
    ['/sys/fs/cgroup/memory.events', 'oom_kill'],
  ]) {
    try {
      const line = fs.readFileSync(file, 'utf8').split('\n').find((l) => l.startsWith(`${key} `));
      if (line) return Number(line.split(' ')[1]);
    } catch {
      // not this cgroup version
    }
  }
  return null;
}

/** A shell's way of telling an exit: the code, or 128 + the signal's number. */
function exitStatus(code, signal) {
  return code ?? 128 + ((signal && os.constants.signals[signal]) || 0);
}

function signalGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

function startDevServer() {
  if (devServer.state === 'running') return;
  const oomBefore = oomKillCount();
  const child = spawn(DEV_COMMAND[0], DEV_COMMAND.slice(1), {
    cwd: ROOT,
    env: process.env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Its output stays the container's output, where the engine's logs find it, and is kept here
  // for live followers (GET /v1/logs).
  child.stdout.pipe(process.stdout, { end: false });
  child.stderr.pipe(process.stderr, { end: false });
  collectOutput('stdout', child.stdout);
  collectOutput('stderr', child.stderr);
  Object.assign(devServer, { child, state: 'running', exitCode: null, startedAt: new Date().toISOString(), oomKilled: false, stopping: false });
  devServer.exited = new Promise((resolve) => {
    const finish = (code, signal) => {
      if (devServer.child !== child) return resolve();
      const oomAfter = oomKillCount();
      devServer.state = 'exited';
      devServer.exitCode = exitStatus(code, signal);
      devServer.oomKilled = signal === 'SIGKILL' && oomBefore !== null && oomAfter !== null && oomAfter > oomBefore;
      if (!devServer.stopping) log(`the dev server exited with ${devServer.exitCode}${devServer.oomKilled ? ' (out of memory)' : ''}`);
      signalGroup(child.pid, 'SIGKILL'); // whatever it left in its group goes with it
      endOutput();
      resolve();
    };
    child.once('error', (error) => {
      log(`could not start the dev server: ${error.message}`);
      finish(127, null);
    });
    child.once('exit', finish);
  });
}

async function stopDevServer(graceMs = STOP_GRACE_MS) {
  const { child } = devServer;
  if (devServer.state !== 'running' || !child) return;
  devServer.stopping = true;
  signalGroup(child.pid, graceMs > 0 ? 'SIGTERM' : 'SIGKILL');
  const timer = setTimeout(() => signalGroup(child.pid, 'SIGKILL'), graceMs);
  await devServer.exited;
  clearTimeout(timer);
}

function stateOf() {
  const { state, exitCode, startedAt, oomKilled } = devServer;
  return { state, exitCode: state === 'exited' ? exitCode : null, startedAt, oomKilled };
}

// ------------------------------------------------------------------ exec and stats

/** Keeps the last `max` bytes of a stream's output. */
function tail(max) {
  const chunks = [];
  let size = 0;
  return {
    append(chunk) {
      chunks.push(chunk);
      size += chunk.length;
      while (size > max && chunks.length > 1) size -= chunks.shift().length;
    },
    toString() {
      const all = Buffer.concat(chunks);
      return all.subarray(Math.max(0, all.length - max)).toString('utf8');
    },
  };
}

function runCommand(command, timeoutMs) {
  if (!Array.isArray(command) || command.length === 0 || !command.every((part) => typeof part === 'string')) {
    throw new AgentError(400, 'bad-request', 'command must be a non-empty array of strings');
  }
  return new Promise((resolve, reject) => {
    const stdout = tail(EXEC_OUTPUT_BYTES);
    const stderr = tail(EXEC_OUTPUT_BYTES);
    const child = spawn(command[0], command.slice(1), { cwd: ROOT, env: process.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (chunk) => stdout.append(chunk));
    child.stderr.on('data', (chunk) => stderr.append(chunk));
    const timer = setTimeout(() => {
      if (child.pid) signalGroup(child.pid, 'SIGKILL');
      reject(new AgentError(504, 'timeout', `${JSON.stringify(command)} did not finish within ${timeoutMs} ms`));
    }, timeoutMs);
    child.once('error', (error) => {
      // Like a shell: a command that cannot be found exits 127.
      stderr.append(Buffer.from(`${command[0]}: ${error.message}\n`));
      clearTimeout(timer);
      resolve({ exitCode: error.code === 'ENOENT' ? 127 : 126, stdout: stdout.toString(), stderr: stderr.toString() });
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ exitCode: exitStatus(code, signal), stdout: stdout.toString(), stderr: stderr.toString() });
    });
  });
}

function readNumber(file) {
  try {
    const text = fs.readFileSync(file, 'utf8').trim();
    return text === 'max' ? null : Number(text);
  } catch {
    return undefined;
  }
}

function statField(file, key) {
  try {
    const line = fs.readFileSync(file, 'utf8').split('\n').find((l) => l.startsWith(`${key} `));
    return line ? Number(line.split(' ')[1]) : 0;
  } catch {
    return 0;
  }
}

/** CPU time of the container in ns, memory in use without the page cache (as docker stats), its limit, pids. */
function cgroupSample() {
  const v1Usage = readNumber('/sys/fs/cgroup/memory/memory.usage_in_bytes');
  if (v1Usage !== undefined) {
    return {
      cpuNs: readNumber('/sys/fs/cgroup/cpuacct/cpuacct.usage') ?? 0,
      memoryBytes: Math.max(0, (v1Usage ?? 0) - statField('/sys/fs/cgroup/memory/memory.stat', 'total_inactive_file')),
      memoryLimitBytes: readNumber('/sys/fs/cgroup/memory/memory.limit_in_bytes') ?? 0,
      pids: readNumber('/sys/fs/cgroup/pids/pids.current') ?? 0,
    };
  }
  return {
    cpuNs: statField('/sys/fs/cgroup/cpu.stat', 'usage_usec') * 1000,
    memoryBytes: Math.max(0, (readNumber('/sys/fs/cgroup/memory.current') ?? 0) - statField('/sys/fs/cgroup/memory.stat', 'inactive_file')),
    memoryLimitBytes: readNumber('/sys/fs/cgroup/memory.max') ?? 0,
    pids: readNumber('/sys/fs/cgroup/pids.current') ?? 0,
  };
}

let lastCpu = null;
async function stats() {
  let previous = lastCpu;
  if (!previous) {
    // CPU use needs two samples: the first call waits a moment for its second one.
    previous = { cpuNs: cgroupSample().cpuNs, at: process.hrtime.bigint() };
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const sample = cgroupSample();
  const at = process.hrtime.bigint();
  lastCpu = { cpuNs: sample.cpuNs, at };
  const elapsedNs = Number(at - previous.at);
  const cpuPercent = elapsedNs > 0 ? Math.max(0, ((sample.cpuNs - previous.cpuNs) / elapsedNs) * 100) : 0;
  return { cpuPercent: Math.round(cpuPercent * 100) / 100, memoryBytes: sample.memoryBytes, memoryLimitBytes: sample.memoryLimitBytes, pids: sample.pids };
}

// ------------------------------------------------------------------ HTTP

function readBody(req, max) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > max) {
        reject(new AgentError(413, 'too-large', `the request body is larger than ${max} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
  });
}

async function readJson(req) {
  const body = await readBody(req, MAX_BODY_BYTES);
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new AgentError(400, 'bad-request', 'the request body is not JSON');
  }
}

function requiredPath(url) {
  const value = url.searchParams.get('path');
  if (value === null) throw new AgentError(400, 'bad-request', 'the path parameter is missing');
  return value;
}

const ROUTES = {
  'GET /v1/state': async () => stateOf(),
  'POST /v1/dev-server/start': async () => {
    startDevServer();
    return stateOf();
  },
  'POST /v1/dev-server/stop': async (req, url) => {
    const grace = Number(url.searchParams.get('graceMs') ?? STOP_GRACE_MS);
    await stopDevServer(Number.isFinite(grace) && grace >= 0 ? grace : STOP_GRACE_MS);
    return stateOf();
  },
  'POST /v1/exec': async (req) => {
    const { command, timeoutMs } = await readJson(req);
    return runCommand(command, Number.isFinite(timeoutMs) && timeoutMs > 0 ? timeoutMs : 30_000);
  },
  'GET /v1/files': async (req, url) => readWorkspaceFile(requiredPath(url)),
  'PUT /v1/files': async (req, url) => {
    await writeWorkspaceFile(requiredPath(url), await readBody(req, MAX_FILE_BYTES));
    return null;
  },
  'GET /v1/tree': async (req, url) => {
    const entries = await listTree();
    if (url.searchParams.get('content') !== '1') return entries;
    const files = [];
    const skipped = [];
    for (const entry of entries) {
      if (entry.type !== 'file') continue;
      if (entry.size > MAX_FILE_BYTES) {
        skipped.push(entry.path);
        continue;
      }
      try {
        files.push({ path: entry.path, content: (await readWorkspaceFile(entry.path)).toString('base64') });
      } catch (error) {
        // Removed or replaced since the listing: not part of the tree any more.
        if (!(error instanceof AgentError)) throw error;
      }
    }
    return { files, skipped };
  },
  'POST /v1/changes': async (req) => {
    const { writes = [], deletes = [] } = await readJson(req);
    if (!Array.isArray(writes) || !Array.isArray(deletes)) throw new AgentError(400, 'bad-request', 'writes and deletes must be arrays');
    // Every path is checked before anything changes.
    const files = writes.map((file) => ({ path: normalize(file?.path), content: Buffer.from(String(file?.content ?? ''), 'base64') }));
    const removals = deletes.map((p) => normalize(p));
    // Deletes, new files, then changed ones, as the other runtimes: the dev server reloads a page
    // when a file it loaded changes, and the page must then find the new files it imports.
    for (const p of removals) await deleteWorkspaceFile(p);
    const root = await realRoot();
    const existing = await Promise.all(files.map((file) => fsp.lstat(path.join(root, file.path)).then(() => true, () => false)));
    for (const [i, file] of files.entries()) if (!existing[i]) await writeWorkspaceFile(file.path, file.content);
    for (const [i, file] of files.entries()) if (existing[i]) await writeWorkspaceFile(file.path, file.content);
    return null;
  },
  'GET /v1/stats': async () => stats(),
  'GET /v1/disk-usage': async () => diskUsage(),
  'GET /v1/logs': async (req, url, res) => followOutput(res, url),
};
/** Routes that answer through the response themselves. */
const STREAMING = new Set(['GET /v1/logs']);

function authorized(req) {
  const header = req.headers.authorization ?? '';
  if (!header.startsWith('Bearer ')) return false;
  const digest = crypto.createHash('sha256').update(header.slice('Bearer '.length)).digest();
  return crypto.timingSafeEqual(digest, TOKEN_DIGEST);
}

function send(res, status, body) {
  if (body === null) {
    res.writeHead(status === 200 ? 204 : status).end();
  } else if (Buffer.isBuffer(body)) {
    res.writeHead(status, { 'content-type': 'application/octet-stream', 'content-length': body.length }).end(body);
  } else {
    const json = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) }).end(json);
  }
}

const server = http.createServer((req, res) => {
  if (!authorized(req)) {
    req.resume();
    return send(res, 401, { reason: 'unauthorized', message: 'a valid bearer token is required' });
  }
  const url = new URL(req.url ?? '/', 'http://agent');
  const route = `${req.method} ${url.pathname}`;
  const handler = ROUTES[route];
  if (!handler) {
    req.resume();
    return send(res, 404, { reason: 'no-route', message: `no route ${req.method} ${url.pathname}` });
  }
  handler(req, url, res).then(
    (body) => {
      if (!STREAMING.has(route)) send(res, 200, body);
    },
    (error) => {
      if (error instanceof AgentError) return send(res, error.status, { reason: error.reason, message: error.message });
      log(`${req.method} ${url.pathname} failed: ${error?.stack ?? error}`);
      send(res, 500, { reason: 'internal', message: error?.message ?? String(error) });
    },
  );
});
server.keepAliveTimeout = 10_000;

async function shutdown(signal) {
  log(`${signal}: stopping the dev server`);
  server.close();
  await stopDevServer();
  process.exit(devServer.exitCode === null || devServer.exitCode === 143 ? 0 : devServer.exitCode);
}
process.once('SIGTERM', () => void shutdown('SIGTERM'));
process.once('SIGINT', () => void shutdown('SIGINT'));

// The dev server waits for POST /v1/dev-server/start: a new workspace gets its project's files
// first, so the dev server's first build is the project's (not the template's, rebuilt at once).
server.listen(PORT, '0.0.0.0', () => log(`listening on ${PORT}`));
