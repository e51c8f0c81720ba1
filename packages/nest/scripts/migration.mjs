#!/usr/bin/env node
// `npm run migration:generate|create -- -n Name` as the plan writes it. TypeORM 0.3 dropped `-n`
// for a path; this names the file under src/database/migrations (`<timestamp>-<kebab-name>.ts`,
// class `<Name><timestamp>`), runs the TypeORM CLI on src/database/data-source.ts, and lists the
// new migration in src/database/migrations/index.ts, which the app and the CLI load.
//   node scripts/migration.mjs generate -n AddThing [--check | --dryrun]
//   node scripts/migration.mjs create --name add-thing
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const nestDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const migrationsDir = join(nestDir, 'src/database/migrations');
const [command, ...args] = process.argv.slice(2);
if (command !== 'generate' && command !== 'create') {
  console.error('usage: migration.mjs generate|create -n Name [typeorm options]');
  process.exit(2);
}

let name;
const passed = [];
for (let i = 0; i < args.length; i++) {
  const arg = args[i];
  if (arg === '-n' || arg === '--name') name = args[++i];
  else if (arg.startsWith('--name=')) name = arg.slice('--name='.length);
  else if (!arg.startsWith('-') && name === undefined) name = arg;
  else passed.push(arg);
}
const onlyChecks = passed.some((arg) => ['--check', '-ch', '--dryrun', '--dr'].includes(arg));
// A check writes nothing, so it needs no name.
if (!name && onlyChecks) name = 'schema-check';
if (!name || !/^[A-Za-z][A-Za-z0-9_-]*$/.test(name)) {
  console.error('migration name missing or invalid: pass -n Name (letters, digits, - and _)');
  process.exit(2);
}
const kebab = name
  .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
  .replace(/_/g, '-')
  .toLowerCase();

const before = new Set(readdirSync(migrationsDir));
// TypeORM's CLI with ts-node registered (SWC transpiles, see "ts-node" in tsconfig.json).
const cli = createRequire(import.meta.url).resolve('typeorm/cli-ts-node-commonjs.js');
const typeormArgs =
  command === 'generate'
    ? ['migration:generate', join(migrationsDir, kebab), '-d', join(nestDir, 'src/database/data-source.ts'), '--pretty', ...passed]
    : ['migration:create', join(migrationsDir, kebab), ...passed];
const result = spawnSync(process.execPath, [cli, ...typeormArgs], { cwd: nestDir, stdio: 'inherit' });
if (result.status !== 0) process.exit(result.status ?? 1);

const added = readdirSync(migrationsDir).filter((file) => !before.has(file) && /^\d+-.+\.ts$/.test(file));
if (added.length > 0) {
  writeIndex();
  for (const file of added) console.log(`listed src/database/migrations/${file} in src/database/migrations/index.ts`);
}

/** index.ts lists every migration file, oldest first, by the class each one exports. */
function writeIndex() {
  const files = readdirSync(migrationsDir)
    .filter((file) => /^\d+-.+\.ts$/.test(file))
    .sort((a, b) => Number(a.split('-')[0]) - Number(b.split('-')[0]));
  const entries = files.map((file) => {
    const match = /export class (\w+)/.exec(readFileSync(join(migrationsDir, file), 'utf8'));
    if (!match) throw new Error(`${file} exports no migration class`);
    return { file: file.replace(/\.ts$/, ''), className: match[1] };
  });
  const lines = [
    ...entries.map(({ file, className }) => `import { ${className} } from './${file}';`),
    '',
    '/** Every migration, in order. Listed as classes so they load the same from src/ and dist/. */',
    `export const MIGRATIONS = [\n${entries.map(({ className }) => `  ${className},`).join('\n')}\n];`,
    '',
  ];
  writeFileSync(join(migrationsDir, 'index.ts'), lines.join('\n'));
}
