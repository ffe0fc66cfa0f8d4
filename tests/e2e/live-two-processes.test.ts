import { execFileSync } from 'node:child_process';
import path from 'node:path';
import request from 'supertest';
import { print } from 'graphql';
import { TEST_PII_KEY, bootApp, usingPostgres } from '../support/app';
import { makeEvent } from '../support/events';
import { ROOT, startServer, type ServerProcess } from '../support/process';
import { REDIS_URL, redisAvailable, skipReason } from '../support/services';
import { collect, wsClient } from '../support/ws';
import { IngestDocument, KpiUpdatedDocument, ProfileUpdatedDocument, SetLiveIntervalDocument, type IngestMutation, type KpiUpdatedSubscription, type ProfileUpdatedSubscription } from '../generated/graphql';

/**
 * Two real server processes on the shared PostgreSQL and Redis: a subscriber on instance A sees a
 * change ingested through instance B. Embedded runs skip: two processes cannot share a PGlite
 * data directory (it is locked to one process).
 */
let skip: string | null = null;
beforeAll(async () => {
  if (!usingPostgres()) {
    skip = 'two server processes need a shared PostgreSQL (the embedded database belongs to one process): set DATABASE_URL to run it';
    process.stdout.write(`\n  SKIPPED: ${skip}\n`);
    return;
  }
  if (!(await redisAvailable())) {
    skip = skipReason(`Redis is not reachable at ${REDIS_URL}: the cross-process live test needs it`);
    return;
  }
  execFileSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
}, 120_000);

const serverEnv = () => ({
  NODE_ENV: 'test',
  DATABASE_URL: process.env.SIYU_TEST_DATABASE_URL!,
  DATABASE_POOL_SIZE: '3',
  REDIS_URL,
  SIYU_PII_KEY: TEST_PII_KEY,
  SIYU_SWEEP_INTERVAL_MS: '0',
  HOST: '127.0.0.1',
  PORT: '0',
  LOG_LEVEL: 'info',
});

async function ingestThrough(url: string, key: string) {
  const res = await request(url)
    .post('/graphql')
    .set('authorization', `Bearer ${key}`)
    .send({ query: print(IngestDocument), variables: { events: [makeEvent({ identifiers: ['member_id::two-processes'] })] } });
  const data = res.body.data as IngestMutation;
  expect(data.ingestEvents.accepted).toBe(1);
  return data.ingestEvents.results[0].profileId!;
}

describe('live updates across processes', () => {
  it('profileUpdated and kpiUpdated subscribers on instance A receive an event ingested through instance B', async () => {
    if (skip) return;
    // A workspace of its own, made through an in-process app on the same database.
    const setup = await bootApp();
    const { adminKey } = await setup.newWorkspace('two processes');
    await setup.gql(SetLiveIntervalDocument, { ms: 100 }, adminKey);
    await setup.stop();

    const servers: ServerProcess[] = [startServer(serverEnv()), startServer(serverEnv())];
    try {
      const [urlA, urlB] = await Promise.all(servers.map(async (s) => (await s.waitFor(/GraphQL:\s+(http:\/\/\S+)\/graphql/, 60_000))[1]));
      const id = await ingestThrough(urlB, adminKey);

      const ws = wsClient(urlA, adminKey);
      await ws.connected;
      const sub = collect<ProfileUpdatedSubscription>(ws.client, ProfileUpdatedDocument, { id });
      const [first] = await sub.next(1, 20_000);
      expect(first.data!.profileUpdated).toMatchObject({ version: 1, profile: { id, eventCount: 1 } });

      // KPIs too: a kpiUpdated subscriber on A sees today's events grow by what B ingests.
      const kpi = collect<KpiUpdatedSubscription>(ws.client, KpiUpdatedDocument, { metrics: ['ORDERS'], grain: 'DAY', periods: 1 });
      const [k1] = await kpi.next(1, 20_000);
      expect(k1.errors).toBeUndefined();
      expect(k1.data!.kpiUpdated).toMatchObject({ version: 1, results: [{ total: { points: [{ value: 0 }] } }] });

      await ingestThrough(urlB, adminKey);
      const [, second] = await sub.next(2, 20_000);
      expect(second.errors).toBeUndefined();
      expect(second.data!.profileUpdated).toMatchObject({ version: 2, profile: { id, eventCount: 2 } });
      const order = makeEvent({ identifiers: ['member_id::two-processes-buyer'], name: 'Order Completed', properties: { revenue: 9 }, timestamp: new Date(Date.now() - 30_000).toISOString() });
      const res = await request(urlB).post('/graphql').set('authorization', `Bearer ${adminKey}`).send({ query: print(IngestDocument), variables: { events: [order] } });
      expect((res.body.data as IngestMutation).ingestEvents.accepted).toBe(1);
      let last = k1;
      for (let n = 2; last.data!.kpiUpdated.results[0].total.points[0].value !== 1; n++) last = (await kpi.next(n, 20_000))[n - 1];
      expect(last.data!.kpiUpdated.version).toBeGreaterThan(1);
      await ws.dispose();
    } finally {
      for (const s of servers) s.child.kill('SIGTERM');
      await Promise.all(servers.map((s) => s.exited));
    }
  }, 180_000);
});
