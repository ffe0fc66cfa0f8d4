import { Client } from 'pg';
import { createApp } from '../../src/app';
import { createLogger } from '../../src/platform/logging';
import { usingPostgres } from './app';
import { scratchDatabase } from './scratch-db';
import { skipReason } from './services';

/**
 * A Siyu of its own on a scratch PostgreSQL database (migrated, `adminKey` bootstrapped as its ADMIN
 * key), for tests that read PostgreSQL's table counters: they are then this app's alone. Skipped
 * with `why` on the embedded database. `body` gets the app's URL, a client on the scratch database,
 * and `stop()`: the app's connections report their counters when they end. Everything is stopped
 * and dropped afterwards.
 */
export async function withScratchApp(
  name: string,
  adminKey: string,
  why: string,
  body: (o: { url: string; admin: Client; stop(): Promise<void> }) => Promise<void>,
): Promise<void> {
  if (!usingPostgres()) {
    skipReason(why);
    return;
  }
  const scratch = await scratchDatabase(name, { SIYU_AUTO_MIGRATE: 'true', SIYU_BOOTSTRAP_ADMIN_KEY: adminKey });
  const db = scratch.config.database;
  if (db.kind !== 'postgres') throw new Error('expected a PostgreSQL scratch database');
  const app = await createApp(scratch.config, { logger: createLogger('silent') });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await app.stop();
  };
  const admin = new Client({ connectionString: db.url.reveal() });
  try {
    const url = await app.listen(0, '127.0.0.1');
    await admin.connect();
    await body({ url, admin, stop });
  } finally {
    await stop();
    await admin.end().catch(() => undefined);
    await scratch.drop();
  }
}
