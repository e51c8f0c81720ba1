import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigValidationError, loadConfig } from './app-config';

const dir = mkdtempSync(join(tmpdir(), 'file-secrets-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const secret = (name: string, content: string): string => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};

describe('<NAME>_FILE: secrets mounted as files (Docker secrets)', () => {
  it('reads JWT_SECRET, the S3 keys and DATABASE_URL from files, without the trailing line break', () => {
    const config = loadConfig({
      NODE_ENV: 'production',
      JWT_SECRET_FILE: secret('jwt', `${'j'.repeat(40)}\n`),
      DATABASE_URL_FILE: secret('url', 'postgres://builder:pw@db:5432/builder\n'),
      S3_ACCESS_KEY_ID_FILE: secret('key', 'AKIA\n'),
      S3_SECRET_ACCESS_KEY_FILE: secret('secret', 's3 secret'),
      OBJECT_STORE: 's3',
    });
    expect(config.jwt.secret).toBe('j'.repeat(40));
    expect(config.database).toEqual({ kind: 'postgres', url: 'postgres://builder:pw@db:5432/builder' });
    expect(config.objectStore).toMatchObject({
      kind: 's3',
      accessKeyId: 'AKIA',
      secretAccessKey: 's3 secret',
    });
  });

  it('puts DATABASE_PASSWORD(_FILE) into a DATABASE_URL that has none, escaped', () => {
    const config = loadConfig({
      JWT_SECRET: 'x'.repeat(40),
      DATABASE_URL: 'postgres://builder@db:5432/builder',
      DATABASE_PASSWORD_FILE: secret('db', 'p@ss/word\n'),
    });
    expect(config.database).toEqual({
      kind: 'postgres',
      url: 'postgres://builder:p%40ss%2Fword@db:5432/builder',
    });
  });

  it.each([
    [
      { JWT_SECRET: 'x'.repeat(40), JWT_SECRET_FILE: join(dir, 'jwt') },
      /JWT_SECRET_FILE: set JWT_SECRET or JWT_SECRET_FILE, not both/,
    ],
    [{ JWT_SECRET_FILE: join(dir, 'missing') }, /JWT_SECRET_FILE: cannot read .*missing \(ENOENT\)/],
    [{ JWT_SECRET_FILE: secret('empty', '\n') }, /JWT_SECRET_FILE: .*empty is empty/],
    [
      { JWT_SECRET_FILE: secret('short', 'short\n') },
      /JWT_SECRET: must be at least 32 characters \(got "\*\*\*"\)/,
    ],
    [{ JWT_SECRET: 'x'.repeat(40), DATABASE_PASSWORD: 'pw' }, /DATABASE_PASSWORD: needs DATABASE_URL/],
    [
      {
        JWT_SECRET: 'x'.repeat(40),
        DATABASE_URL: 'postgres://u:already@db/builder',
        DATABASE_PASSWORD: 'pw',
      },
      /DATABASE_PASSWORD: DATABASE_URL already holds a password/,
    ],
  ])('refuses %o naming the variable, never showing a secret', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigValidationError);
    expect(() => loadConfig(env)).toThrow(message);
    expect(() => loadConfig(env)).not.toThrow(/already@|pw"/);
  });
});
