import 'reflect-metadata';
import { loadConfig, type Config } from '../platform/config';
import { openDatabase } from '../platform/db';

/** `npm run db:migrate` / `siyu migrate [--revert]`: applies (or reverts the last) migration. */
export async function migrate(config: Config = loadConfig(), revert = false): Promise<string[]> {
  const db = await openDatabase(config);
  try {
    if (revert) {
      await db.dataSource.undoLastMigration({ transaction: 'each' });
      return ['reverted last migration'];
    }
    return await db.migrate();
  } finally {
    await db.close();
  }
}

if (require.main === module) {
  migrate(loadConfig(), process.argv.includes('--revert')).then(
    (applied) => {
      process.stdout.write(applied.length ? `${applied.join('\n')}\n` : 'Database is up to date.\n');
    },
    (err) => {
      process.stderr.write(`siyu migrate: ${(err as Error).message}\n`);
      process.exit(1);
    },
  );
}
