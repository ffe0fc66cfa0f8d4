import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import WebSocket from 'ws';
import { ROOT, startServer } from '../support/process';

/**
 * The server as users run it: a separate `node dist/src/main.js` process on the embedded
 * database, with the real start-up banner, data-directory lock and SIGTERM handling.
 */
let dataDir: string;
beforeAll(() => {
  execFileSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
  dataDir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'siyu-e2e-')), 'data');
}, 120_000);
afterAll(() => fs.rmSync(path.dirname(dataDir), { recursive: true, force: true }));

const env = () => ({ SIYU_DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'info' });

describe('siyu server process (embedded default)', () => {
  it('starts, prints its URLs (each line once) and a generated admin key once, guards its data dir, and drains on SIGTERM', async () => {
    const server = startServer(env());
    try {
      const [, url] = await server.waitFor(/GraphQL:\s+(http:\/\/\S+)\/graphql/, 60_000);
      const [, key] = await server.waitFor(/^\s+(siyu_[A-Za-z0-9_-]{32})$/m);
      // The banner is written in one piece: by the key line it is all there.
      for (const line of ['GraphQL:', 'GraphiQL:', 'Dashboard:']) expect(server.output().split(line).length - 1).toBe(1);
      expect((await request(url).get('/readyz')).status).toBe(200);
      const me = await request(url).post('/graphql').set('authorization', `Bearer ${key}`).send({ query: '{ me { role workspace { name } } }' });
      expect(me.body.data.me).toEqual({ role: 'ADMIN', workspace: { name: 'default' } });

      // A second process on the same data directory is refused with one clear line.
      const second = startServer(env());
      const exit = await second.exited;
      expect(exit.code).not.toBe(0);
      expect(second.output()).toMatch(/in use by another Siyu process/);

      // SIGTERM: open sockets are closed (1001 going away) and the process exits 0.
      const ws = new WebSocket(url.replace('http', 'ws') + '/graphql', 'graphql-transport-ws');
      await new Promise((r) => ws.once('open', r));
      ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${key}` } }));
      await new Promise((r) => ws.once('message', r));
      const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
      server.child.kill('SIGTERM');
      expect(await closed).toBe(1001);
      expect((await server.exited).code).toBe(0);
      expect(server.output()).toContain('"msg":"stopped"');
    } finally {
      server.child.kill('SIGKILL');
    }

    // Restart on the same directory: data persisted, no new key printed, the old key works.
    const again = startServer(env());
    try {
      const [, url] = await again.waitFor(/GraphQL:\s+(http:\/\/\S+)\/graphql/, 60_000);
      expect(again.output()).not.toMatch(/Admin key for workspace/);
      const [, key] = server.output().match(/^\s+(siyu_[A-Za-z0-9_-]{32})$/m)!;
      const me = await request(url).post('/graphql').set('authorization', `Bearer ${key}`).send({ query: '{ me { role } }' });
      expect(me.body.data.me.role).toBe('ADMIN');
    } finally {
      again.child.kill('SIGTERM');
      await again.exited;
    }
  }, 180_000);

  it('refuses a bad configuration with one line naming the variable, exit code 2', async () => {
    const server = startServer({ ...env(), PORT: 'eighty' });
    const { code } = await server.exited;
    expect(code).toBe(2);
    expect(server.output()).toMatch(/PORT: PORT must be a number/);
  });
});
