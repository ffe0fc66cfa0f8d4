import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { loadConfig, type Config } from '../../src/platform/config';

/** A connection URL for database `name` on the server of `adminUrl`. */
export function databaseUrl(adminUrl: string, name: string): string {
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

async function onAdmin<T>(adminUrl: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: adminUrl });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** DROP (if present) and CREATE an empty database; returns its URL. */
export async function recreateDatabase(adminUrl: string, name: string): Promise<string> {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`not a plain database name: ${name}`);
  await onAdmin(adminUrl, async (c) => {
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await c.query(`CREATE DATABASE ${name}`);
  });
  return databaseUrl(adminUrl, name);
}

export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  await onAdmin(adminUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
}

/** A standalone bench's server on `databaseUrl`: a fresh PII key, migrations, no sweeper, no rate limits; `extra` on top. */
export function benchConfig(databaseUrl: string, extra: Record<string, string> = {}): Config {
  return loadConfig({
    DATABASE_URL: databaseUrl,
    DATABASE_POOL_SIZE: '10',
    SIYU_PII_KEY: randomBytes(32).toString('base64'),
    SIYU_AUTO_MIGRATE: 'true',
    LOG_LEVEL: 'warn',
    SIYU_SWEEP_INTERVAL_MS: '0',
    SIYU_RATE_LIMIT_PER_SEC: '1000000',
    SIYU_INGEST_RATE_LIMIT_PER_SEC: '1000000',
    ...extra,
  });
}
