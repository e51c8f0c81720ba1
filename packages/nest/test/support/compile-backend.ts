import { execFile } from 'node:child_process';
import { copyFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const NEST_DIR = resolve(__dirname, '../..');

/**
 * Compiles the backend as `npm run build` does, into `outDir` (a test's own folder, so suites
 * running at once never share a dist). Answers the path of its main.js.
 */
export async function compileBackend(outDir: string): Promise<string> {
  await promisify(execFile)(
    process.execPath,
    [require.resolve('typescript/bin/tsc'), '-p', join(NEST_DIR, 'tsconfig.build.json'), '--outDir', outDir],
    { cwd: NEST_DIR },
  ).catch((error: { stdout?: string }) => {
    // Type errors elsewhere still emit JS; only a missing entry point is fatal here.
    if (!existsSync(join(outDir, 'main.js'))) throw new Error(`tsc produced no main.js: ${error.stdout}`);
  });
  copyFileSync(join(NEST_DIR, 'src/database/pglite.worker.js'), join(outDir, 'database/pglite.worker.js'));
  return join(outDir, 'main.js');
}
