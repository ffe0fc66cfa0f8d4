import path from 'node:path';
import { inspect } from 'node:util';
import { ConfigError, loadConfig } from '../../src/platform/config';

describe('config', () => {
  it('defaults to the embedded database in ./.siyu/data on port 4000', () => {
    const c = loadConfig({});
    expect(c.port).toBe(4000);
    expect(c.host).toBe('127.0.0.1');
    expect(c.database).toEqual({ kind: 'embedded', dataDir: path.resolve('./.siyu/data'), autoMigrate: true });
    expect(c.redisUrl).toBeUndefined();
  });

  it('uses PostgreSQL when DATABASE_URL is set, without implicit migrations', () => {
    const c = loadConfig({ DATABASE_URL: 'postgres://u:p@db:5432/siyu', DATABASE_POOL_SIZE: '7' });
    expect(c.database).toMatchObject({ kind: 'postgres', poolSize: 7, autoMigrate: false });
  });

  it('allows an in-memory embedded database', () => {
    expect(loadConfig({ SIYU_DATA_DIR: ':memory:' }).database).toMatchObject({ dataDir: ':memory:' });
  });

  it('names the variable that is wrong, and every wrong one', () => {
    let err: unknown;
    try {
      loadConfig({ PORT: 'eighty', DATABASE_URL: 'mysql://x', SIYU_GRAPHIQL: 'maybe' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const vars = (err as ConfigError).issues.map((i) => i.variable).sort();
    expect(vars).toEqual(['DATABASE_URL', 'PORT', 'SIYU_GRAPHIQL']);
    expect((err as Error).message).toContain('PORT must be a number');
  });

  it('rejects a port out of range and a short bootstrap key', () => {
    expect(() => loadConfig({ PORT: '70000' })).toThrow(/PORT must be between 0 and 65535/);
    expect(() => loadConfig({ SIYU_BOOTSTRAP_ADMIN_KEY: 'short' })).toThrow(/SIYU_BOOTSTRAP_ADMIN_KEY must be at least 24/);
  });

  it('reads the database time budgets per kind of work, with defaults', () => {
    expect(loadConfig({}).dbTimeoutMs).toEqual({ read: 30_000, write: 60_000, export: 600_000 });
    expect(loadConfig({ SIYU_DB_TIMEOUT_READ_MS: '250', SIYU_DB_TIMEOUT_WRITE_MS: '500', SIYU_DB_TIMEOUT_EXPORT_MS: '9000' }).dbTimeoutMs).toEqual({ read: 250, write: 500, export: 9000 });
    expect(() => loadConfig({ SIYU_DB_TIMEOUT_READ_MS: '0' })).toThrow(/SIYU_DB_TIMEOUT_READ_MS must be positive/);
  });

  it('treats empty values as unset', () => {
    expect(loadConfig({ PORT: '', DATABASE_URL: '  ' }).database.kind).toBe('embedded');
  });

  it('is frozen and never prints secrets', () => {
    const c = loadConfig({ DATABASE_URL: 'postgres://u:hunter2@db/siyu', SIYU_BOOTSTRAP_ADMIN_KEY: 'siyu_abcdefghijklmnopqrstuvwxyz' });
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.database)).toBe(true);
    expect(() => {
      (c as { port: number }).port = 1;
    }).toThrow();
    const shown = JSON.stringify(c) + inspect(c, { depth: 5 });
    expect(shown).not.toContain('hunter2');
    expect(shown).not.toContain('abcdefghijklmnop');
    expect(c.bootstrapAdminKey!.reveal()).toBe('siyu_abcdefghijklmnopqrstuvwxyz');
  });
});
