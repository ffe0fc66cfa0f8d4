import { openDatabase } from '../../src/platform/db';
import { MIGRATIONS } from '../../migrations';
import { scratchDatabase } from '../support/scratch-db';

async function tables(db: Awaited<ReturnType<typeof openDatabase>>): Promise<string[]> {
  const rows: { table_name: string }[] = await db.dataSource.query(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> 'siyu_migrations' ORDER BY 1`,
  );
  return rows.map((r) => r.table_name);
}

describe('migrations', () => {
  it('apply, report current, revert completely and apply again', async () => {
    const scratch = await scratchDatabase('migrations');
    const db = await openDatabase(scratch.config);
    try {
      expect(await db.migrationsCurrent()).toBe(false);
      const applied = await db.migrate();
      expect(applied).toEqual(MIGRATIONS.map((m) => m.name));
      expect(await db.migrationsCurrent()).toBe(true);
      const full = await tables(db);
      expect(full).toEqual(expect.arrayContaining(['api_keys', 'workspaces']));

      for (let i = 0; i < MIGRATIONS.length; i++) await db.dataSource.undoLastMigration();
      expect(await tables(db)).toEqual([]);
      expect(await db.migrationsCurrent()).toBe(false);

      await db.migrate();
      expect(await tables(db)).toEqual(full);
    } finally {
      await db.close();
      await scratch.drop();
    }
  });
});
