#!/usr/bin/env node
// `npm test`: prepares the machine (scripts/setup.sh test), then runs every suite and prints one
// closing line `N passed, N failed` summing them all. Exits non-zero on any failure.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const env = {
  ...process.env,
  ASTRO_TELEMETRY_DISABLED: '1',
  ASTRO_DISABLE_UPDATE_CHECK: 'true',
  NEXT_TELEMETRY_DISABLED: '1',
  TEST_DATABASE_URL: process.env.TEST_DATABASE_URL ?? 'postgres://builder:builder@127.0.0.1:5432/builder',
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

if (process.env.SKIP_SETUP !== '1') {
  if (run('bash', [join(root, 'scripts/setup.sh'), 'test'], root) !== 0) {
    console.error('[test] set-up failed');
    console.log('0 passed, 1 failed');
    process.exit(1);
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
    console.log('0 passed, 1 failed');
    process.exit(1);
  }
}

const outDir = mkdtempSync(join(tmpdir(), 'builder-tests-'));
let passed = 0;
let failed = 0;
const lines = [];
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
  if (existsSync(report)) {
    const json = JSON.parse(readFileSync(report, 'utf8'));
    p = json.numPassedTests ?? 0;
    f = json.numFailedTests ?? 0;
    // A file that fails to load has no tests to count: count it as a failure.
    const brokenFiles = (json.testResults ?? []).filter(
      (r) => r.status === 'failed' && (r.assertionResults ?? []).every((a) => a.status !== 'failed'),
    ).length;
    f += brokenFiles;
  }
  if (status !== 0 && f === 0) f = 1;
  lines.push(`[test] ${suite.name}: ${p} passed, ${f} failed`);
  passed += p;
  failed += f;
}

rmSync(outDir, { recursive: true, force: true });
console.log('');
for (const line of lines) console.log(line);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
