import 'reflect-metadata';
import { createApp } from './app';
import { ConfigError, loadConfig } from './platform/config';
import { AppError } from './platform/errors';
import { createLogger } from './platform/logging';

/** `npm start` / `siyu serve`: one stateless Siyu instance. */
export async function serve(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`siyu: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger(config.logLevel);
  let app;
  try {
    app = await createApp(config, { logger: log });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`siyu: ${err.message}\n`);
      process.exit(2);
    }
    if (err instanceof AppError) {
      process.stderr.write(`siyu: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const url = await app.listen();
  const where = config.database.kind === 'embedded' ? `embedded PostgreSQL at ${config.database.dataDir}` : 'PostgreSQL';
  log.info({ url, database: app.db.kind, pubsub: config.redisUrl ? 'redis' : 'memory' }, 'siyu listening');
  const lines = [
    '',
    `  Siyu is running on ${where}.`,
    `  GraphQL:   ${url}/graphql   (WebSocket subscriptions on the same URL)`,
    config.graphiql ? `  GraphiQL:  ${url}/graphiql` : '',
    `  Dashboard: ${url}/dashboard`,
  ];
  if (app.bootstrap.generatedKey) {
    lines.push(
      `  Admin key for workspace "default" (shown once, store it now):`,
      `    ${app.bootstrap.generatedKey}`,
      `  Use it as:  Authorization: Bearer <key>`,
    );
  } else if (app.bootstrap.created) {
    lines.push('  Created workspace "default" with the key from SIYU_BOOTSTRAP_ADMIN_KEY.');
  }
  // A fresh embedded database (the quick start) gets demo data, seeded while the server already
  // answers: the dashboard fills up live. Never PostgreSQL: that database is someone's.
  let demo: { stop(): Promise<void> } | null = null;
  if (config.demo && config.database.kind === 'embedded' && app.bootstrap.created && app.bootstrap.workspaceId) {
    const { startDemoSeeding, DEMO } = await import('./demo/demo');
    lines.push(
      `  Demo data: seeding ${DEMO.profiles.toLocaleString('en-US')} people over ${DEMO.days} days into workspace "default" in the background`,
      '  (progress in the log; SIYU_DEMO=0 starts empty).',
    );
    demo = startDemoSeeding(app.services, app.bootstrap.workspaceId, log);
  }
  process.stdout.write(lines.filter((l) => l !== '').join('\n') + '\n\n');

  let shuttingDown = false;
  const shutdown = (signal: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    log.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      log.error('graceful shutdown timed out; exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs);
    force.unref();
    (demo ? demo.stop() : Promise.resolve()).then(() => app.stop()).then(
      () => {
        log.info('stopped');
        process.exit(0);
      },
      (err) => {
        log.error({ err }, 'error during shutdown');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

if (require.main === module) {
  serve().catch((err) => {
    process.stderr.write(`siyu: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  });
}
