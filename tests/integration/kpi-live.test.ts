import { bootAppPerFile } from '../support/app';
import { ingest } from '../support/api';
import { subscriptionExecutions } from '../../src/platform/graphql/ws';
import { makeEvent } from '../support/events';
import { waitUntil } from '../support/wait';
import { collect, wsClient, type WsTestClient } from '../support/ws';
import { print } from 'graphql';
import { CreateApiKeyDocument, KpiUpdatedDocument, SetLiveIntervalDocument, type EventInput, type KpiUpdatedSubscription } from '../generated/graphql';

/** In the PostgreSQL + Redis run, change events travel through Redis pub/sub as in production. */
const redisEnv = (): Record<string, string> => (process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {});

const t = bootAppPerFile(redisEnv());

const order = (member: string, revenue = 10): EventInput =>
  makeEvent({ identifiers: [`member_id::${member}`], name: 'Order Completed', properties: { revenue }, timestamp: new Date(Date.now() - 30_000).toISOString() });

type Sub = ReturnType<typeof collect<KpiUpdatedSubscription>>;
/** Today's ORDERS (the last point of the total series) in a pushed version. */
const ordersToday = (r: Sub['results'][number]) => r.data!.kpiUpdated.results[0].total.points.at(-1)!.value;

describe('kpiUpdated', () => {
  it('pushes the current value, then the new value after a commit, and coalesces a burst', async () => {
    const { adminKey } = await t.newWorkspace('kpi-live-interval');
    expect((await t.gql(SetLiveIntervalDocument, { ms: 1000 }, adminKey)).errors).toBeUndefined();
    await ingest(t, adminKey, [order('l1')]);
    const ws = wsClient(t.url, adminKey);
    await ws.connected;
    const sub = collect<KpiUpdatedSubscription>(ws.client, KpiUpdatedDocument, { metrics: ['ORDERS', 'GMV'], grain: 'DAY', periods: 2 });
    const [first] = await sub.next(1, 20_000);
    expect(first.errors).toBeUndefined();
    expect(first.data!.kpiUpdated.version).toBe(1);
    expect(first.data!.kpiUpdated.results.map((r) => r.metric)).toEqual(['ORDERS', 'GMV']);
    expect(first.data!.kpiUpdated.results[0].total.points).toHaveLength(2);
    expect(ordersToday(first)).toBe(1);

    await ingest(t, adminKey, [order('l2', 25)]);
    const [, second] = await sub.next(2, 20_000);
    expect(second.data!.kpiUpdated.version).toBe(2);
    expect(ordersToday(second)).toBe(2);
    expect(second.data!.kpiUpdated.results[1].total.points.at(-1)!.value).toBe(35);

    // A burst inside one interval is coalesced: fewer pushes than commits, the last one is exact.
    for (let i = 0; i < 6; i++) await ingest(t, adminKey, [order(`burst-${i}`)]);
    // The last push carries all eight orders (when it comes is the live hub's unit test, on a fake clock).
    await waitUntil('the push with all eight orders', () => sub.results.some((r) => ordersToday(r) === 8), { state: () => sub.results.map(ordersToday) });
    const versions = sub.results.map((r) => r.data!.kpiUpdated.version);
    expect(versions.every((v, i) => i === 0 || v > versions[i - 1])).toBe(true);
    expect(sub.results.length).toBeLessThan(2 + 6);
    expect(ordersToday(sub.results.at(-1)!)).toBe(8);
    sub.unsubscribe();
    await ws.dispose();
  });

  it('1,000 subscribers to one KPI cause one computation per change, and every one receives it', async () => {
    const { adminKey } = await t.newWorkspace('kpi-live-1000');
    await t.gql(SetLiveIntervalDocument, { ms: 100 }, adminKey);
    await ingest(t, adminKey, [order('k1')]);
    const hub = t.app.services.live;
    const before = hub.stats();
    const clients: WsTestClient[] = Array.from({ length: 4 }, () => wsClient(t.url, adminKey));
    await Promise.all(clients.map((c) => c.connected));
    const vars = { metrics: ['ORDERS'], grain: 'DAY', periods: 2 } as const;
    const subs: Sub[] = [];
    for (let i = 0; i < 1000; i++) subs.push(collect<KpiUpdatedSubscription>(clients[i % 4].client, KpiUpdatedDocument, { ...vars, metrics: [...vars.metrics] }));
    await Promise.all(subs.map((s) => s.next(1, 60_000)));
    const subscribed = hub.stats();
    expect(subscribed.sources - before.sources).toBe(1);
    expect(subscribed.subscribers - before.subscribers).toBe(1000);
    expect(subscribed.computations - before.computations).toBe(1);

    const executions = { ...subscriptionExecutions };
    await ingest(t, adminKey, [order('k2')]);
    await Promise.all(subs.map((s) => s.next(2, 60_000)));
    expect(hub.stats().computations - before.computations).toBe(2);
    // The response is executed and serialised once for the new version and shared by the other 999 subscribers.
    expect(subscriptionExecutions.executed - executions.executed).toBe(1);
    expect(subscriptionExecutions.shared - executions.shared).toBe(999);
    expect(subscriptionExecutions.serialised - executions.serialised).toBe(1);
    expect(subs.every((s) => s.results[1].data!.kpiUpdated.version === 2)).toBe(true);
    const totals = new Set(subs.map((s) => s.results[1].data!.kpiUpdated.results[0].total.points.reduce((n, p) => n + (p.value ?? 0), 0)));
    expect([...totals]).toEqual([2]);
    for (const s of subs) s.unsubscribe();
    await Promise.all(clients.map((c) => c.dispose()));
  }, 180_000);

  it('refuses bad arguments and INGEST keys before starting anything', async () => {
    const { adminKey } = await t.newWorkspace('kpi-live-bad');
    const ingestKey = (await t.gql(CreateApiKeyDocument, { input: { role: 'INGEST', name: 'sdk' } }, adminKey)).data!.createApiKey.key;
    const first = (key: string, vars: Record<string, unknown>) => {
      const ws = wsClient(t.url, key);
      return new Promise<unknown>((resolve) => ws.client.subscribe({ query: print(KpiUpdatedDocument), variables: vars }, { next: resolve, error: resolve, complete: () => {} })).finally(() =>
        ws.dispose(),
      );
    };
    const before = t.app.services.live.stats().sources;
    const bad = JSON.stringify(await first(adminKey, { metrics: ['ORDERS'], grain: 'DAY', periods: 0 }));
    expect(bad).toContain('BAD_USER_INPUT');
    expect(bad).toContain('"field":"periods"');
    expect(JSON.stringify(await first(ingestKey, { metrics: ['ORDERS'], grain: 'DAY', periods: 2 }))).toContain('FORBIDDEN');
    expect(t.app.services.live.stats().sources).toBe(before);
  });
});
