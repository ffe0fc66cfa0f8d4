import { bootAppPerFile } from '../support/app';
import { ingest } from '../support/api';
import { subscriptionExecutions } from '../../src/platform/graphql/ws';
import { makeEvent } from '../support/events';
import { DAY } from '../support/time';
import { waitUntil } from '../support/wait';
import { collect, wsClient, type WsTestClient } from '../support/ws';
import { print } from 'graphql';
import { CreateApiKeyDocument, KpiDocument, KpiUpdatedDocument, SetLiveIntervalDocument, type EventInput, type KpiUpdatedSubscription } from '../generated/graphql';

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

  it('a commit of new events reads again only the buckets from its earliest event on; every push equals a fresh query', async () => {
    const { adminKey } = await t.newWorkspace('kpi-live-partial');
    expect((await t.gql(SetLiveIntervalDocument, { ms: 100 }, adminKey)).errors).toBeUndefined();
    const now = Date.now();
    const at = (daysAgo: number, minutes = 30) => new Date(now - daysAgo * DAY - minutes * 60_000).toISOString();
    const channels = ['wechat_mp', 'douyin', 'app'];
    const history: EventInput[] = [];
    for (let i = 0; i < 36; i++) {
      const d = 1 + (i % 8);
      history.push(makeEvent({ identifiers: [`member_id::h${i}`], timestamp: at(d), channel: channels[i % 3] }));
      if (i % 3 === 0) history.push(makeEvent({ identifiers: [`member_id::h${i}`], timestamp: at(d - 1, 20), name: 'Order Completed', properties: { revenue: 10 + i }, channel: channels[(i + 1) % 3] }));
      if (i % 4 === 0) history.push(makeEvent({ identifiers: [`member_id::h${i}`], timestamp: at(d - 1, 10), name: 'Order Completed', properties: { revenue: 5 }, channel: channels[i % 3] }));
    }
    history.push(makeEvent({ identifiers: ['anonymous_id::visitor-7'], timestamp: at(5), channel: 'douyin' }));
    await ingest(t, adminKey, history);

    const ws = wsClient(t.url, adminKey);
    await ws.connected;
    const day = ['DAU', 'NEW_PROFILES', 'GMV', 'RETENTION_D1', 'CHURN_RATE', 'REPURCHASE_RATE', 'MAU'] as const;
    const panels = [
      { metrics: [...day], grain: 'DAY', periods: 10 },
      { metrics: ['DAU', 'GMV'], grain: 'DAY', periods: 10, breakdown: 'CHANNEL' },
      { metrics: ['ACTIVE_USERS', 'ORDERS'], grain: 'HOUR', periods: 24 },
    ] as const;
    const subs = panels.map((v) => collect<KpiUpdatedSubscription>(ws.client, KpiUpdatedDocument, { ...v, metrics: [...v.metrics] } as never));
    await Promise.all(subs.map((s) => s.next(1, 20_000)));

    /** Every point of the newest push of each panel against `kpi` over the same days, read now from scratch. */
    const mismatches = async (): Promise<string[]> => {
      const out: string[] = [];
      for (const [i, p] of panels.entries()) {
        const push = subs[i].results.at(-1)!.data!.kpiUpdated;
        for (const r of push.results) {
          const pts = r.total.points;
          const range = { from: pts[0].localStart.slice(0, 10), to: pts.at(-1)!.localStart.slice(0, 10) };
          const fresh = (await t.gql(KpiDocument, { metric: r.metric, range, grain: p.grain, breakdown: 'breakdown' in p ? p.breakdown : null }, adminKey)).data!.kpi;
          const series = [{ key: null as string | null, got: r.total.points, want: fresh.total.points }, ...(r.breakdown ?? []).map((b) => ({ key: b.key, got: b.points, want: fresh.breakdown?.find((x) => x.key === b.key)?.points ?? [] }))];
          expect((r.breakdown ?? []).map((b) => b.key).sort()).toEqual((fresh.breakdown ?? []).map((b) => b.key).sort());
          for (const s of series) {
            for (const g of s.got) {
              const w = s.want.find((x) => x.localStart === g.localStart);
              if (!w || (w.value === null) !== (g.value === null) || Math.abs((w.value ?? 0) - (g.value ?? 0)) > 1e-9) out.push(`${p.grain} ${r.metric} ${s.key ?? 'total'} ${g.localStart}: pushed ${g.value}, fresh ${w?.value}`);
            }
          }
        }
      }
      return out;
    };
    const step = async (events: EventInput[]) => {
      const versions = subs.map((s) => s.results.at(-1)!.data!.kpiUpdated.version);
      await ingest(t, adminKey, events);
      await waitUntil('every panel pushed after the commit', () => subs.every((s, i) => s.results.at(-1)!.data!.kpiUpdated.version > versions[i]), {
        state: () => subs.map((s) => s.results.length),
      });
      return mismatches();
    };
    expect(await mismatches()).toEqual([]);
    const reads = { ...t.app.services.kpis.liveReads };
    // Today: a known person, a new one, an order.
    expect(await step([makeEvent({ identifiers: ['member_id::h3'], timestamp: at(0, 5) }), order('new-today', 42), makeEvent({ identifiers: ['member_id::new-today-2'], timestamp: at(0, 3), channel: 'app' })])).toEqual([]);
    // Yesterday, a person first seen the day before: their cohort's next-day retention (a bucket before the event's) changes.
    expect(await step([makeEvent({ identifiers: ['member_id::h1'], timestamp: at(1, 15), channel: 'app' })])).toEqual([]);
    // Late events two days back: an order of a known person, a new person (their first day moves that day's cohort).
    expect(
      await step([
        makeEvent({ identifiers: ['member_id::h5'], timestamp: at(2, 40), name: 'Order Completed', properties: { revenue: 77 }, channel: 'douyin' }),
        makeEvent({ identifiers: ['member_id::late-new'], timestamp: at(2, 50), channel: 'wechat_mp' }),
        makeEvent({ identifiers: ['member_id::late-new'], timestamp: at(1, 50), channel: 'wechat_mp' }),
      ]),
    ).toEqual([]);
    const partial = t.app.services.kpis.liveReads.partial - reads.partial;
    expect(partial).toBeGreaterThanOrEqual(6);
    // A merge moves a person's days: every bucket is read again, and the pushes still agree.
    const full = t.app.services.kpis.liveReads.full;
    expect(await step([makeEvent({ identifiers: ['member_id::h7', 'anonymous_id::visitor-7'], timestamp: at(0, 2) })])).toEqual([]);
    expect(t.app.services.kpis.liveReads.partial - reads.partial).toBe(partial);
    expect(t.app.services.kpis.liveReads.full).toBeGreaterThanOrEqual(full);
    for (const s of subs) s.unsubscribe();
    await ws.dispose();
  });

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
