import { Writable } from 'node:stream';
import { createLogger } from '../../src/platform/logging';
import { openPubSub } from '../../src/platform/pubsub';
import { bootApp, usingPostgres, type TestApp } from '../support/app';
import { startTcpProxy } from '../support/tcp-proxy';
import { waitUntil } from '../support/wait';
import { REDIS_URL, redisAvailable, skipReason } from '../support/services';
import { collect, wsClient } from '../support/ws';
import { UpdateWorkspaceDocument, WorkspaceUpdatedDocument, type WorkspaceUpdatedSubscription } from '../generated/graphql';

async function updateUntilReceived(t: TestApp, key: string, sub: ReturnType<typeof collect<WorkspaceUpdatedSubscription>>) {
  for (let n = 0; n < 50 && sub.results.length === 0; n++) {
    await t.gql(UpdateWorkspaceDocument, { input: { name: `name-${n}` } }, key);
    await sub.next(1, 150).catch(() => undefined);
  }
  return sub.next(1);
}

let redis = false;
beforeAll(async () => {
  redis = await redisAvailable();
  if (!redis) skipReason(`Redis is not reachable at ${REDIS_URL}: Redis pub/sub tests skipped`);
});

describe('Redis pub/sub', () => {
  it('delivers subscription events through Redis on one instance', async () => {
    if (!redis) return;
    const t = await bootApp({ REDIS_URL });
    try {
      expect(t.app.config.redisUrl).toBeDefined();
      const { workspaceId, adminKey } = await t.newWorkspace();
      const ws = wsClient(t.url, adminKey);
      await ws.connected;
      const sub = collect<WorkspaceUpdatedSubscription>(ws.client, WorkspaceUpdatedDocument);
      const [r] = await updateUntilReceived(t, adminKey, sub);
      expect(r.data!.workspaceUpdated.id).toBe(workspaceId);
      await ws.dispose();
    } finally {
      await t.stop();
    }
  });

  it('fans out across two instances sharing PostgreSQL and Redis', async () => {
    if (!redis) return;
    if (!usingPostgres()) {
      skipReason('two instances need a shared PostgreSQL: set DATABASE_URL to run the cross-instance test');
      return;
    }
    const a = await bootApp({ REDIS_URL });
    const b = await bootApp({ REDIS_URL });
    try {
      const { workspaceId, adminKey } = await a.newWorkspace('shared');
      const ws = wsClient(b.url, adminKey);
      await ws.connected;
      const sub = collect<WorkspaceUpdatedSubscription>(ws.client, WorkspaceUpdatedDocument);
      // The change is made on instance A; the subscriber is on instance B.
      const [r] = await updateUntilReceived(a, adminKey, sub);
      expect(r.data!.workspaceUpdated).toMatchObject({ id: workspaceId });
      expect(r.data!.workspaceUpdated.name).toMatch(/^name-/);
      await ws.dispose();
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it('subscribes again when Redis refused the first SUBSCRIBE, so the topic is not silent for good', async () => {
    if (!redis) return;
    const target = new URL(REDIS_URL);
    const proxy = await startTcpProxy(target.hostname, Number(target.port || 6379));
    const logged: string[] = [];
    const sink = new Writable({ write: (chunk, _enc, done) => { logged.push(String(chunk)); done(); } });
    await proxy.kill(); // Redis is away while the first listener subscribes.
    const handle = openPubSub(`redis://127.0.0.1:${proxy.port}`, createLogger('warn', {}, sink));
    try {
      const topic = `siyu:test:${Date.now()}:resubscribe`;
      const received: unknown[] = [];
      const iterator = handle.pubSub.subscribe(topic)[Symbol.asyncIterator]();
      void (async () => {
        for (let r = await iterator.next(); !r.done; r = await iterator.next()) received.push(r.value);
      })();
      await waitUntil('a failed SUBSCRIBE to be logged', () => logged.some((l) => l.includes('redis subscribe failed')), { timeoutMs: 15_000 });
      await proxy.restart();
      let sent = 0;
      await waitUntil('a message published after Redis came back', () => {
        handle.pubSub.publish(topic, { n: ++sent });
        return received.length > 0;
      }, { timeoutMs: 15_000, intervalMs: 200, state: () => ({ sent, warnings: logged.length }) });
      expect(received[0]).toMatchObject({ n: expect.any(Number) });
      await iterator.return?.();
    } finally {
      await handle.close();
      await proxy.kill().catch(() => undefined);
    }
  });
});
