import { createApp } from '../../src/app';
import { createLogger } from '../../src/platform/logging';
import { scratchDatabase } from '../support/scratch-db';
import { usingPostgres } from '../support/app';
import request from 'supertest';

const KEY = 'siyu_bootstrap-test-key-0123456789abcdef';

describe('bootstrap', () => {
  it('creates workspace "default" with SIYU_BOOTSTRAP_ADMIN_KEY on an empty database, once', async () => {
    const scratch = await scratchDatabase('bootstrap', { SIYU_BOOTSTRAP_ADMIN_KEY: KEY, SIYU_AUTO_MIGRATE: 'true' });
    const log = createLogger('silent');
    const app = await createApp(scratch.config, { logger: log });
    try {
      expect(app.bootstrap).toMatchObject({ created: true });
      expect(app.bootstrap.generatedKey).toBeUndefined();
      const url = await app.listen(0, '127.0.0.1');
      const res = await request(url).post('/graphql').set('authorization', `Bearer ${KEY}`).send({ query: '{ me { role workspace { name } } }' });
      expect(res.body.data.me).toEqual({ role: 'ADMIN', workspace: { name: 'default' } });
      // A second start (same database) does not create another workspace.
      const again = await app.services.workspaces.bootstrap(KEY, true);
      expect(again.created).toBe(false);
      const [{ n }] = await app.db.dataSource.query('SELECT count(*)::int AS n FROM workspaces');
      expect(n).toBe(1);
    } finally {
      await app.stop();
      await scratch.drop();
    }
  });

  it('generates and returns a key on the embedded default without SIYU_BOOTSTRAP_ADMIN_KEY; never on PostgreSQL', async () => {
    const scratch = await scratchDatabase('bootstrap_gen', { SIYU_AUTO_MIGRATE: 'true' });
    const app = await createApp(scratch.config, { logger: createLogger('silent') });
    try {
      if (usingPostgres()) {
        expect(app.bootstrap).toEqual({ created: false });
      } else {
        expect(app.bootstrap.created).toBe(true);
        const key = app.bootstrap.generatedKey!;
        expect(key).toMatch(/^siyu_/);
        expect(await app.services.workspaces.authenticate(key)).toMatchObject({ role: 'admin' });
      }
    } finally {
      await app.stop();
      await scratch.drop();
    }
  });
});
