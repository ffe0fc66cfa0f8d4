import { bootApp, usingPostgres, type TestApp } from '../support/app';
import { makeEvent } from '../support/events';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';
import { waitUntil } from '../support/wait';
import { IngestDocument } from '../generated/graphql';

/**
 * A database that goes away and comes back: the app reaches PostgreSQL through a TCP proxy that the
 * test kills and restarts. While it is down, /readyz is 503, GraphQL and /v1 answer 503 UNAVAILABLE
 * (within the connect timeout), and the process stays up; afterwards everything works again
 * without restarting the app.
 */
const CONNECT_TIMEOUT_MS = 2000;
let proxy: TcpProxy;
let t: TestApp;

beforeAll(async () => {
  if (!usingPostgres()) return;
  const target = new URL(process.env.SIYU_TEST_DATABASE_URL!);
  proxy = await startTcpProxy(target.hostname, Number(target.port || 5432));
  const viaProxy = new URL(target.toString());
  viaProxy.hostname = '127.0.0.1';
  viaProxy.port = String(proxy.port);
  t = await bootApp({ DATABASE_URL: viaProxy.toString(), DATABASE_CONNECT_TIMEOUT_MS: String(CONNECT_TIMEOUT_MS) });
});
afterAll(async () => {
  await t?.stop();
  await proxy?.kill().catch(() => undefined);
});

/** A request that hangs past a few connect timeouts fails the test instead of waiting forever. */
const within = CONNECT_TIMEOUT_MS * 3;

describe('database outage', () => {
  it('answers 503 UNAVAILABLE while PostgreSQL is unreachable and recovers without a restart', async () => {
    if (!usingPostgres()) {
      process.stdout.write('\n  SKIPPED: the database outage test needs PostgreSQL behind a TCP proxy; the embedded database runs in-process\n');
      return;
    }
    const { adminKey } = await t.newWorkspace();
    expect((await t.http().get('/readyz')).status).toBe(200);
    expect((await t.gql(IngestDocument, { events: [makeEvent()] }, adminKey)).data!.ingestEvents.accepted).toBe(1);

    await proxy.kill();

    const ready = await t.http().get('/readyz').timeout(within);
    expect(ready.status).toBe(503);
    expect(ready.body.checks.database).toBe('unreachable');
    for (const query of ['{ me { role workspace { name } } }', '{ profiles(first: 5) { edges { node { id } } } }']) {
      const r = await t.http().post('/graphql').set('authorization', `Bearer ${adminKey}`).send({ query }).timeout(within);
      expect({ query, status: r.status, body: r.body }).toMatchObject({ query, status: 503 });
      expect(r.headers['retry-after']).toBeDefined();
      expect(r.body.errors[0].extensions).toMatchObject({ code: 'UNAVAILABLE', reason: 'DATABASE_UNAVAILABLE' });
    }
    const ingest = await t.http().post('/graphql').set('authorization', `Bearer ${adminKey}`)
      .send({ query: 'mutation($e: [EventInput!]!) { ingestEvents(events: $e) { accepted } }', variables: { e: [makeEvent()] } }).timeout(within);
    expect(ingest.status).toBe(503);
    expect(ingest.body.errors[0].extensions.code).toBe('UNAVAILABLE');
    const v1 = await t.http().post('/v1/track').auth(adminKey, '').send({ event: 'Down', userId: 'down-1', messageId: 'down-1' }).timeout(within);
    expect(v1.status).toBe(503);
    expect(v1.body.errors[0].extensions.code).toBe('UNAVAILABLE');
    // The process is up and says so.
    expect((await t.http().get('/healthz')).status).toBe(200);
    expect(t.app.httpServer.listening).toBe(true);

    await proxy.restart();

    await waitUntil('/readyz to answer 200 again', async () => (await t.http().get('/readyz').timeout(within)).status === 200, { intervalMs: 100 });
    const me = await t.gql('{ me { role } }', {}, adminKey);
    expect(me.errors).toBeUndefined();
    expect((await t.gql(IngestDocument, { events: [makeEvent()] }, adminKey)).data!.ingestEvents.accepted).toBe(1);
    expect((await t.http().post('/v1/track').auth(adminKey, '').send({ event: 'Up', userId: 'up-1', messageId: 'up-1' })).status).toBe(200);
  });
});
