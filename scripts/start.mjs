#!/usr/bin/env node
// `npm start`: prepares the machine (installs what is missing, starts Docker and the registry,
// builds the template image), builds the packages, then runs the API + socket gateway on :3000
// and the web app on :3001 until Ctrl-C. Without a Docker engine the API uses its local runtime.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const apiPort = process.env.PORT ?? '3000';
const webPort = process.env.WEB_PORT ?? '3001';
const env = {
  ...process.env,
  ASTRO_TELEMETRY_DISABLED: '1',
  ASTRO_DISABLE_UPDATE_CHECK: 'true',
  NEXT_TELEMETRY_DISABLED: '1',
  PORT: apiPort,
  WEB_ORIGIN: process.env.WEB_ORIGIN ?? `http://localhost:${webPort},http://127.0.0.1:${webPort}`,
};

function step(title, cmd, args, cwd = root) {
  console.log(`[start] ${title}`);
  const result = spawnSync(cmd, args, { cwd, env, stdio: 'inherit' });
  if (result.status !== 0) {
    console.error(`[start] failed: ${title}`);
    process.exit(result.status ?? 1);
  }
}

function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

step('preparing the machine', 'bash', [join(root, 'scripts/setup.sh'), 'start']);
// Rebuild only what is older than its sources, so a second start is quick.
const isStale = (output, sources) =>
  !existsSync(output) || statSync(output).mtimeMs < Math.max(...sources.map((dir) => newestMtime(dir)));
const sharedSrc = join(root, 'packages/shared/src');
if (
  !existsSync(join(root, 'packages/shared/dist/index.js')) ||
  isStale(join(root, 'packages/nest/dist/main.js'), [sharedSrc, join(root, 'packages/nest/src')])
) {
  step('building the shared types and the API', 'npm', ['run', 'build']);
}
const frontend = join(root, 'packages/frontend');
if (isStale(join(frontend, '.next/BUILD_ID'), [sharedSrc, join(frontend, 'src')])) {
  step('building the web app (about a minute the first time)', 'npm', ['run', 'build', '-w', '@builder/frontend']);
}

const children = [];
let stopping = false;

function launch(name, cmd, args, cwd) {
  const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const prefix = (stream, out) => {
    let rest = '';
    stream.on('data', (chunk) => {
      const lines = (rest + chunk.toString()).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) out.write(`[${name}] ${line}\n`);
    });
  };
  prefix(child.stdout, process.stdout);
  prefix(child.stderr, process.stderr);
  child.on('exit', (code, signal) => {
    if (!stopping) {
      console.error(`[start] ${name} exited (${signal ?? code}); stopping the rest`);
      shutdown(code ?? 1);
    }
  });
  children.push(child);
}

function shutdown(code = 0) {
  if (stopping) return;
  stopping = true;
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  const deadline = setTimeout(() => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    process.exit(code);
  }, 15_000);
  deadline.unref();
  Promise.all(children.map((c) => (c.exitCode !== null ? null : new Promise((r) => c.once('exit', r))))).then(() =>
    process.exit(code),
  );
}

process.on('SIGINT', () => shutdown(0));
process.on('SIGTERM', () => shutdown(0));

launch('api', process.execPath, ['--enable-source-maps', 'dist/main.js'], join(root, 'packages/nest'));
launch('web', join(root, 'node_modules/.bin/next'), ['start', '-p', webPort], frontend);
console.log(`[start] API and socket gateway: http://localhost:${apiPort}  (OpenAPI: /api/docs)`);
console.log(`[start] Builder: http://localhost:${webPort}/builder`);
