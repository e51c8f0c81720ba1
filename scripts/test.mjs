#!/usr/bin/env node
// `npm test`: prepares the machine (scripts/setup.sh test), then runs every suite and prints one
// closing line `N passed, N failed, N skipped` summing them all, after naming each file that skipped
// tests and why. Every path ends with that line (CI reads its start). Exits non-zero on any failure.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = mkdtempSync(join(tmpdir(), 'builder-tests-'));
// Test files that skip say why here (tests/support/skips.ts).
const skipLog = join(outDir, 'skips.jsonl');
const env = {
  ...process.env,
  ASTRO_TELEMETRY_DISABLED: '1',
  ASTRO_DISABLE_UPDATE_CHECK: 'true',
  NEXT_TELEMETRY_DISABLED: '1',
  TEST_DATABASE_URL: process.env.TEST_DATABASE_URL ?? 'postgres://builder:builder@127.0.0.1:5432/builder',
  TEST_SKIP_LOG: skipLog,
};

const suites = [
  { name: 'shared+template', cwd: root, config: 'vitest.config.ts' },
  { name: 'nest', cwd: join(root, 'packages/nest'), config: 'vitest.config.ts' },
  { name: 'frontend', cwd: join(root, 'packages/frontend'), config: 'vitest.config.ts' },
];
const only = process.argv.slice(2);

function run(cmd, args, cwd) {
  const result = spawnSync(cmd, args, { cwd, env, stdio: 'inherit' });
  return result.status ?? 1;
}

function finish(passed, failed, skipped) {
  rmSync(outDir, { recursive: true, force: true });
  console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
  process.exit(failed > 0 || passed === 0 ? 1 : 0);
}

if (process.env.SKIP_SETUP !== '1') {
  if (run('bash', [join(root, 'scripts/setup.sh'), 'test'], root) !== 0) {
    console.error('[test] set-up failed');
    finish(0, 1, 0);
  }
}
// The end-to-end suite runs the built API and web app, as `npm start` does.
for (const [what, args] of [
  ['shared types and API', ['run', 'build']],
  ['web app', ['run', 'build', '-w', '@builder/frontend']],
]) {
  console.log(`[test] building the ${what}`);
  if (run('npm', args, root) !== 0) {
    console.error(`[test] the ${what} did not build`);
    finish(0, 1, 0);
  }
}

let passed = 0;
let failed = 0;
let skipped = 0;
const lines = [];
/** Test file (relative to the root) → how many of its tests were skipped. */
const skippedFiles = new Map();
for (const suite of suites) {
  if (only.length > 0 && !only.includes(suite.name)) continue;
  if (!existsSync(join(suite.cwd, suite.config))) continue;
  const report = join(outDir, `${suite.name}.json`);
  console.log(`\n[test] suite ${suite.name}`);
  const status = run(
    join(root, 'node_modules/.bin/vitest'),
    ['run', '--config', suite.config, '--reporter=default', '--reporter=json', `--outputFile=${report}`],
    suite.cwd,
  );
  let p = 0;
  let f = 0;
  let s = 0;
  if (existsSync(report)) {
    const json = JSON.parse(readFileSync(report, 'utf8'));
    p = json.numPassedTests ?? 0;
    f = json.numFailedTests ?? 0;
    for (const file of json.testResults ?? []) {
      const count = (file.assertionResults ?? []).filter((a) => ['skipped', 'pending', 'todo'].includes(a.status)).length;
      if (count > 0) skippedFiles.set(relative(root, file.name), count);
      s += count;
    }
    // A file that fails to load has no tests to count: count it as a failure.
    const brokenFiles = (json.testResults ?? []).filter(
      (r) => r.status === 'failed' && (r.assertionResults ?? []).every((a) => a.status !== 'failed'),
    ).length;
    f += brokenFiles;
  }
  if (status !== 0 && f === 0) f = 1;
  lines.push(`[test] ${suite.name}: ${p} passed, ${f} failed, ${s} skipped`);
  passed += p;
  failed += f;
  skipped += s;
}

console.log('');
for (const line of lines) console.log(line);
if (skippedFiles.size > 0) {
  const reasons = skipReasons();
  console.log(`[test] skipped, and why:`);
  for (const [file, count] of skippedFiles) {
    console.log(`[test]   ${file}: ${count} skipped: ${reasons.get(file)?.join('; ') ?? 'no reason recorded (an it.skip or a skipIf without skipOutsideCi?)'}`);
  }
}
finish(passed, failed, skipped);

/** Test file (relative to the root) → the reasons its suites gave for skipping. */
function skipReasons() {
  const reasons = new Map();
  if (!existsSync(skipLog)) return reasons;
  for (const line of readFileSync(skipLog, 'utf8').split('\n').filter(Boolean)) {
    const { file, suite, reason } = JSON.parse(line);
    const key = file ? relative(root, file) : '(unknown file)';
    const text = `${suite}: ${reason}`;
    const known = reasons.get(key) ?? [];
    if (!known.includes(text)) known.push(text);
    reasons.set(key, known);
  }
  return reasons;
}
