import 'reflect-metadata';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { PGlite } from '@electric-sql/pglite';
import { loadConfig } from '../../src/platform/config';
import { openDatabase } from '../../src/platform/db';

/**
 * Migrate once per run. Embedded: migrate a fresh PGlite and dump it; every test file loads the
 * dump (~1 s instead of ~5 s). PostgreSQL (`DATABASE_URL` set): create a fresh database
 * `siyu_test` on that server (never touching the database named in the URL) and migrate it.
 */
export default async function globalSetup(): Promise<void> {
  const url = process.env.DATABASE_URL;
  if (url) {
    const testUrl = new URL(url);
    const name = process.env.SIYU_TEST_DATABASE_NAME ?? 'siyu_test';
    const admin = new Client({ connectionString: url });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    testUrl.pathname = `/${name}`;
    process.env.SIYU_TEST_DATABASE_URL = testUrl.toString();
    const db = await openDatabase(loadConfig({ DATABASE_URL: testUrl.toString(), SIYU_PII_KEY: Buffer.alloc(32, 7).toString('base64') }));
    await db.migrate();
    await db.close();
    return;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'siyu-test-'));
  const db = await openDatabase(loadConfig({ SIYU_DATA_DIR: ':memory:', SIYU_AUTO_MIGRATE: 'false' }));
  await db.migrate();
  const pglite = db.embedded!.pglite as PGlite;
  const dump = await pglite.dumpDataDir('gzip');
  const file = path.join(dir, 'migrated.tar.gz');
  fs.writeFileSync(file, Buffer.from(await dump.arrayBuffer()));
  await db.close();
  process.env.SIYU_TEST_SNAPSHOT = file;
}
