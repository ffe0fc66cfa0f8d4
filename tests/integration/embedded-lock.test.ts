import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDatabase } from '../../src/platform/db';
import { loadConfig } from '../../src/platform/config';
import { AppError } from '../../src/platform/errors';

describe('embedded data directory', () => {
  it('cannot be opened twice at once, and can be reopened after close with its data', async () => {
    const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'siyu-lock-')), 'data');
    const config = loadConfig({ SIYU_DATA_DIR: dir, SIYU_AUTO_MIGRATE: 'false' });
    const first = await openDatabase(config);
    try {
      await first.migrate();
      await first.dataSource.query(`INSERT INTO workspaces (name) VALUES ('persisted')`);
      const second = openDatabase(config);
      await expect(second).rejects.toBeInstanceOf(AppError);
      await expect(second).rejects.toMatchObject({ reason: 'DATA_DIR_LOCKED' });
    } finally {
      await first.close();
    }
    const reopened = await openDatabase(config);
    try {
      const rows = await reopened.dataSource.query('SELECT name FROM workspaces');
      expect(rows).toEqual([{ name: 'persisted' }]);
    } finally {
      await reopened.close();
      fs.rmSync(path.dirname(dir), { recursive: true, force: true });
    }
  });
});
