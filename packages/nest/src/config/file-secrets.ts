import { readFileSync } from 'node:fs';

/**
 * Variables that may be given as a file instead: `<NAME>_FILE` names it (Docker and Swarm mount
 * secrets as files under /run/secrets, and keep them out of `docker inspect` and the
 * environment). The file's content, without a trailing line break, is the value.
 */
export const FILE_VARIABLES = [
  'JWT_SECRET',
  'DATABASE_URL',
  'DATABASE_PASSWORD',
  'S3_ACCESS_KEY_ID',
  'S3_SECRET_ACCESS_KEY',
] as const;

/**
 * `env` with every `<NAME>_FILE` of {@link FILE_VARIABLES} read into `<NAME>`, and what was wrong
 * (each naming the variable): a file that cannot be read or is empty, or both forms set.
 */
export function withFileSecrets(
  env: Record<string, string | undefined>,
  read: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): { env: Record<string, string | undefined>; problems: string[] } {
  const resolved = { ...env };
  const problems: string[] = [];
  for (const name of FILE_VARIABLES) {
    const path = env[`${name}_FILE`]?.trim();
    if (!path) continue;
    if (env[name]?.trim()) {
      problems.push(`${name}_FILE: set ${name} or ${name}_FILE, not both`);
      continue;
    }
    let content: string;
    try {
      content = read(path).replace(/\r?\n$/, '');
    } catch (error) {
      problems.push(
        `${name}_FILE: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
      );
      continue;
    }
    if (content.trim() === '') problems.push(`${name}_FILE: ${path} is empty`);
    else resolved[name] = content;
  }
  return { env: resolved, problems };
}
