import { Client } from 'pg';
import { loadConfig, type Config } from '../../src/platform/config';
import { TEST_PII_KEY, usingPostgres } from './app';

/**
 * An empty, unmigrated database of the run's kind: a new in-memory PGlite, or a new PostgreSQL
 * database `siyu_test_<name>` next to the run's test database. Returns its config and a cleanup.
 */
export async function scratchDatabase(name: string, env: Record<string, string> = {}): Promise<{ config: Config; drop(): Promise<void> }> {
  const base = { NODE_ENV: 'test', LOG_LEVEL: 'silent', SIYU_AUTO_MIGRATE: 'false', ...env };
  if (!usingPostgres()) {
    return { config: loadConfig({ ...base, SIYU_DATA_DIR: ':memory:' }), drop: async () => {} };
  }
  const url = new URL(process.env.SIYU_TEST_DATABASE_URL!);
  const db = `siyu_test_${name}`;
  const admin = new Client({ connectionString: url.toString() });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${db}`);
  await admin.end();
  url.pathname = `/${db}`;
  return {
    config: loadConfig({ ...base, DATABASE_URL: url.toString(), SIYU_PII_KEY: TEST_PII_KEY }),
    async drop() {
      const c = new Client({ connectionString: process.env.SIYU_TEST_DATABASE_URL! });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
      await c.end();
    },
  };
}
