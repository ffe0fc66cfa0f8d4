import { bootAppPerFile } from '../support/app';
import { permutationShapley } from '../support/shapley';
import { ingest } from '../support/api';
import { makeEvent } from '../support/events';
import { DAY, HOUR } from '../support/time';
import { collect, wsClient } from '../support/ws';
import { rng } from '../../src/shared/random';
import { localDate } from '../../src/shared/zone';
import {
  AggregateAttributionDocument,
  AttributionDocument,
  AttributionSettingsHistoryDocument,
  AttributionUpdatedDocument,
  EraseProfileDocument,
  ProfileDocument,
  SetMarketingCostDocument,
  UnmergeDocument,
  UpdateAttributionSettingsDocument,
  type AggregateAttributionQuery,
  type AttributionMeasure,
  type AttributionModel,
  type AttributionUpdatedSubscription,
  type KpiBreakdown,
  type KpiGrain,
  type KpiMetric,
  type EventInput,
} from '../generated/graphql';

const t = bootAppPerFile();

const MODELS: AttributionModel[] = ['FIRST_TOUCH', 'LAST_TOUCH', 'LINEAR', 'TIME_DECAY', 'POSITION_BASED', 'SHAPLEY'];
const DIMENSIONS = ['CHANNEL', 'TOUCHPOINT', 'CAMPAIGN'] as const;
const CHANNELS = ['wechat_oa', 'douyin', 'xiaohongshu', 'wecom', 'app', 'weibo'];
const TOUCHPOINTS = ['qr_store_sh01', 'live_0618', 'group_vip'];
const CAMPAIGNS = ['618', 'double11'];
const L = 7 * DAY;
const HALF_LIFE = 7 * DAY;

/** One generated event, with what an independent computation needs. */
interface Gen {
  id: string;
  at: number;
  ids: string[];
  order: boolean;
  revenue: number;
  values: [string, string | null, string | null];
}

const toInput = (g: Gen): EventInput => {
  const context: Record<string, unknown> = {};
  if (g.values[1]) context.touchpoint = g.values[1];
  // Campaigns come both ways Segment sends them: a name, or `context.campaign.name` with UTM fields.
  if (g.values[2]) context.campaign = g.at % 2 ? g.values[2] : { name: g.values[2], source: 'wechat', medium: 'social' };
  return makeEvent({
    messageId: g.id,
    identifiers: g.ids,
    type: 'track',
    name: g.order ? 'Order Completed' : 'Content Viewed',
    channel: g.order ? 'wechat_mp' : g.values[0],
    timestamp: new Date(g.at).toISOString(),
    properties: g.order ? { revenue: g.revenue } : {},
    context,
  });
};

/**
 * People over the last 40 days: touches on six channels (some with a touchpoint or a campaign) and
 * orders. A third of them show up under two ids (a member id and a device) that one later event
 * links (a merge); a few have only recent activity, whose runs are still open.
 */
function generate(seed: number, people: number, now: number): Gen[] {
  const r = rng(seed);
  const out: Gen[] = [];
  let n = 0;
  const start = Math.floor((now - 40 * DAY) / HOUR) * HOUR;
  for (let p = 0; p < people; p++) {
    const recent = p % 10 === 9;
    const twoIds = p % 3 === 0;
    const idsA = [`member_id::ATT-${seed}-${p}`];
    const idsB = [`device_id::ATT-D-${seed}-${p}`];
    const count = 3 + r.int(10);
    const span = recent ? 3 * DAY : 30 * DAY;
    const origin = recent ? now - 3 * DAY : start;
    const times = Array.from({ length: count }, () => origin + r.int(span / 60_000) * 60_000 + r.int(60_000)).sort((a, b) => a - b);
    times.forEach((at, i) => {
      const order = i > 0 && r.chance(0.25);
      const ids = twoIds && i === Math.floor(count / 2) ? [...idsA, ...idsB] : twoIds && r.chance(0.5) ? idsB : idsA;
      out.push({
        id: `att-${seed}-${n++}`,
        at,
        ids,
        order,
        revenue: order ? 10 + r.int(490) : 0,
        values: [r.pick(CHANNELS), r.chance(0.5) ? r.pick(TOUCHPOINTS) : null, r.chance(0.4) ? r.pick(CAMPAIGNS) : null],
      });
    });
  }
  return out.sort((a, b) => a.at - b.at);
}

type Credit = Map<string, { conversions: number; revenue: number }>;

/** Paths of one person's events, straight from the definitions in the `AttributionModel` descriptions. */
function paths(events: Gen[], now: number) {
  const sorted = [...events].sort((a, b) => a.at - b.at);
  const touches = sorted.filter((e) => !e.order);
  const orders = sorted.filter((e) => e.order);
  const out: { converting: boolean; at: number; revenue: number; touches: Gen[] }[] = [];
  // A path keeps its newest 200 touches (MAX_PATH_TOUCHES).
  for (const o of orders) out.push({ converting: true, at: o.at, revenue: o.revenue, touches: touches.filter((x) => x.at >= o.at - L && x.at <= o.at).slice(-200) });
  touches.forEach((x, i) => {
    const followed = touches.slice(i + 1).some((y) => y.at <= x.at + L) || orders.some((o) => o.at >= x.at && o.at <= x.at + L);
    if (followed || x.at + L > now) return;
    const previous = Math.max(-Infinity, ...orders.filter((o) => o.at < x.at).map((o) => o.at));
    out.push({ converting: false, at: x.at, revenue: 0, touches: touches.filter((y) => y.at >= x.at - L && y.at <= x.at && y.at > previous).slice(-200) });
  });
  return out;
}

/** Credit per value under each model and dimension, from the generated events grouped by person. */
function expected(people: Gen[][], now: number, inRange: (at: number) => boolean): Map<string, Credit> {
  const all = people.flatMap((evs) => paths(evs, now)).filter((p) => inRange(p.at));
  const out = new Map<string, Credit>();
  const add = (key: string, value: string, c: number, rev: number) => {
    const m = out.get(key) ?? new Map();
    const x = m.get(value) ?? { conversions: 0, revenue: 0 };
    m.set(value, { conversions: x.conversions + c, revenue: x.revenue + rev });
    out.set(key, m);
  };
  DIMENSIONS.forEach((dim, d) => {
    const setOf = (p: (typeof all)[number]) => [...new Set(p.touches.flatMap((x) => (x.values[d] ? [x.values[d]!] : [])))].sort();
    const key = (s: string[]) => JSON.stringify(s);
    const counts = new Map<string, { paths: number; conv: number }>();
    for (const p of all) {
      const s = setOf(p);
      if (!s.length && !p.converting) continue;
      const c = counts.get(key(s)) ?? { paths: 0, conv: 0 };
      counts.set(key(s), { paths: c.paths + 1, conv: c.conv + (p.converting ? 1 : 0) });
    }
    // v(∅) = 0: the empty coalition converts nobody (paths without touches go to (none) whole).
    const v = (s: string[]) => {
      if (!s.length) return 0;
      const c = counts.get(key([...s].sort()));
      return c ? c.conv / c.paths : 0;
    };
    for (const p of all.filter((x) => x.converting)) {
      const vals = p.touches.flatMap((x) => (x.values[d] ? [{ at: x.at, value: x.values[d]! }] : []));
      const n = vals.length;
      for (const model of MODELS) {
        const k = `${model}|${dim}`;
        if (!n) {
          add(k, '(none)', 1, p.revenue);
          continue;
        }
        let shares: [string, number][];
        if (model === 'FIRST_TOUCH') shares = [[vals[0].value, 1]];
        else if (model === 'LAST_TOUCH') shares = [[vals[n - 1].value, 1]];
        else if (model === 'LINEAR') shares = vals.map((x) => [x.value, 1 / n]);
        else if (model === 'TIME_DECAY') {
          const w = vals.map((x) => 0.5 ** ((p.at - x.at) / HALF_LIFE));
          const sum = w.reduce((a, b) => a + b, 0);
          shares = vals.map((x, i) => [x.value, w[i] / sum]);
        } else if (model === 'POSITION_BASED') {
          shares = n === 1 ? [[vals[0].value, 1]] : n === 2 ? vals.map((x) => [x.value, 0.5]) : vals.map((x, i) => [x.value, i === 0 || i === n - 1 ? 0.4 : 0.2 / (n - 2)]);
        } else {
          const set = setOf(p);
          const phi = permutationShapley(set, v);
          shares = set.map((x) => [x, phi.get(x)! / v(set)]);
        }
        for (const [value, share] of shares) add(k, value, share, share * p.revenue);
      }
    }
  });
  return out;
}

/** The generated events grouped by the person each belongs to now (identity resolution's answer, tested on its own elsewhere). */
async function byPerson(ws: string, events: Gen[]): Promise<Gen[][]> {
  const rows: { message_id: string; profile_id: string }[] = await t.app.db.dataSource.query(`SELECT message_id, profile_id FROM events WHERE workspace_id = $1`, [ws]);
  const owner = new Map(rows.map((r) => [r.message_id, r.profile_id]));
  const groups = new Map<string, Gen[]>();
  for (const e of events) {
    const p = owner.get(e.id);
    if (p) groups.set(p, [...(groups.get(p) ?? []), e]);
  }
  return [...groups.values()];
}

async function report(key: string, model: AttributionModel, dimension: (typeof DIMENSIONS)[number], range: { from: string; to: string }) {
  const r = await t.gql(AttributionDocument, { model, dimension, range }, key);
  expect(r.errors).toBeUndefined();
  return r.data!.attribution;
}

async function drainDue(ws: string): Promise<void> {
  while ((await t.app.services.due.runWorkspace(ws, new Date(), 5000)) > 0);
}

function compare(got: Awaited<ReturnType<typeof report>>, want: Credit | undefined, label: string): void {
  const w = want ?? new Map();
  const gotMap = new Map(got.rows.map((r) => [r.value, r]));
  const values = [...new Set([...w.keys(), ...gotMap.keys()])].sort();
  for (const v of values) {
    const g = gotMap.get(v) ?? { conversions: 0, revenue: 0 };
    const e = w.get(v) ?? { conversions: 0, revenue: 0 };
    try {
      expect(g.conversions).toBeCloseTo(e.conversions, 5);
      expect(g.revenue).toBeCloseTo(e.revenue, 3);
    } catch (cause) {
      throw new Error(`${label} ${v}: got ${JSON.stringify(g)}, want ${JSON.stringify(e)}`, { cause });
    }
  }
}

describe('attribution', () => {
  it('every model\'s credit equals a computation from the raw events, through merges, an unmerge and an erasure', async () => {
    const { workspaceId: ws, adminKey: key } = await t.newWorkspace('attribution');
    const now = Date.now();
    const events = generate(7, 45, now);
    const links = events.filter((e) => e.ids.length === 2);
    // In time order, except one event in eight (never a linking one) arriving late, after everything else.
    const late = events.filter((e, i) => i % 8 === 3 && e.ids.length === 1);
    const stream = [...events.filter((e) => !late.includes(e)), ...late];
    for (let i = 0; i < stream.length; i += 40) {
      await ingest(t, key, stream.slice(i, i + 40).map(toInput));
      // Due work runs between some batches, as the scheduler would.
      if (i % 400 === 0) await drainDue(ws);
    }
    await drainDue(ws);
    const zone = 'Asia/Shanghai';
    const range = { from: localDate(now - 60 * DAY, zone), to: localDate(now, zone) };
    const inRange = (at: number) => localDate(at, zone) >= range.from && localDate(at, zone) <= range.to;
    const orders = () => events.filter((e) => e.order).length;

    const check = async (label: string, people: Gen[][], conversions: number) => {
      const want = expected(people, Date.now(), inRange);
      for (const model of MODELS) {
        for (const dim of DIMENSIONS) {
          const got = await report(key, model, dim, range);
          expect(got.timeZone).toBe(zone);
          expect(got.conversions).toBeCloseTo(conversions, 6);
          compare(got, want.get(`${model}|${dim}`), `${label} ${model} ${dim}`);
        }
      }
      return want;
    };
    const merged = await byPerson(ws, events);
    await check('after ingest', merged, orders());

    // Through `aggregate`, week by week: each bucket's credit per channel equals the computation over
    // that bucket's days (Shapley's value function is the bucket's own paths).
    const weeklyRows: AggregateAttributionQuery['aggregate']['rows'] = [];
    for (let after: string | null = null; ; ) {
      const page: Awaited<ReturnType<typeof t.gql<AggregateAttributionQuery>>> = await t.gql(
        AggregateAttributionDocument,
        {
          measures: [] as KpiMetric[],
          range,
          grain: 'WEEK' as KpiGrain,
          dimension: 'CHANNEL' as KpiBreakdown,
          attribution: MODELS.flatMap((model) => (['CONVERSIONS', 'REVENUE'] as AttributionMeasure[]).map((measure) => ({ model, measure }))),
          first: 20,
          after,
        },
        key,
      );
      expect(page.errors).toBeUndefined();
      weeklyRows.push(...page.data!.aggregate.rows);
      after = page.data!.aggregate.nextCursor;
      if (!after) break;
    }
    const buckets = [...new Set(weeklyRows.map((r) => r.bucket))];
    expect(buckets.length).toBeGreaterThan(8);
    buckets.forEach((bucket, bi) => {
      const end = buckets[bi + 1]?.slice(0, 10) ?? '9999-12-31';
      const want = expected(merged, Date.now(), (at) => inRange(at) && localDate(at, zone) >= bucket.slice(0, 10) && localDate(at, zone) < end);
      for (const model of MODELS) {
        const got = weeklyRows
          .filter((r) => r.bucket === bucket)
          .map((r) => ({ value: r.dimension!, conversions: r.attributed.find((a) => a.model === model && a.measure === 'CONVERSIONS')!.value!, revenue: r.attributed.find((a) => a.model === model && a.measure === 'REVENUE')!.value! }));
        compare({ rows: got } as Awaited<ReturnType<typeof report>>, want.get(`${model}|CHANNEL`), `aggregate ${bucket} ${model}`);
      }
    });

    // Unmerge a person who had events under both ids before the linking event: their credit splits again.
    const { survivor, mergeId } = await (async () => {
      for (const l of links) {
        const [p] = await t.app.db.dataSource.query(`SELECT profile_id FROM events WHERE workspace_id = $1 AND message_id = $2`, [ws, l.id]);
        const history = (await t.gql(ProfileDocument, { id: p.profile_id }, key)).data!.profile.mergeHistory;
        if (history.length === 1) return { survivor: p.profile_id as string, mergeId: history[0].id };
      }
      throw new Error('no merged person');
    })();
    const u = await t.gql(UnmergeDocument, { mergeId }, key);
    expect(u.errors).toBeUndefined();
    expect(u.data!.unmergeProfiles.survivor.id).toBe(survivor);
    await drainDue(ws);
    const unmerged = await byPerson(ws, events);
    expect(unmerged.length).toBe(merged.length + 1);
    const before = await check('after unmerge', unmerged, orders());

    // Erasure drops the person's paths and keeps the aggregate credit.
    const erase = unmerged.find((evs) => evs.some((e) => e.order))!;
    const [{ profile_id: converter }] = await t.app.db.dataSource.query(`SELECT profile_id FROM events WHERE workspace_id = $1 AND message_id = $2`, [ws, erase[0].id]);
    const erased = await t.gql(EraseProfileDocument, { id: converter }, key);
    expect(erased.errors).toBeUndefined();
    expect(erased.data!.eraseProfile.deleted.find((d) => d.table === 'attribution_paths')?.rows).toBeGreaterThan(0);
    for (const model of MODELS) compare(await report(key, model, 'CHANNEL', range), before.get(`${model}|CHANNEL`), `after erasure ${model}`);
  });

  it('live conversions arriving in order get their paths from the touches before them, equal to the computation', async () => {
    const { workspaceId: ws, adminKey: key } = await t.newWorkspace('attribution-in-order');
    const now = Date.now();
    const r = rng(11);
    const events: Gen[] = [];
    // Fourteen people active over the last six days; one with 230 touches before an order (a path keeps 200).
    for (let p = 0; p < 14; p++) {
      const count = p === 0 ? 231 : 4 + r.int(26);
      const times = Array.from({ length: count }, () => now - 6 * DAY + r.int((6 * DAY - HOUR) / 1000) * 1000).sort((a, b) => a - b);
      times.forEach((at, i) => {
        const order = p === 0 ? i === count - 1 : i > 0 && r.chance(0.25);
        events.push({
          id: `live-${p}-${i}`,
          at,
          ids: [`member_id::LIVE-${p}`],
          order,
          revenue: order ? 10 + r.int(490) : 0,
          values: [r.pick(CHANNELS), r.chance(0.5) ? r.pick(TOUCHPOINTS) : null, r.chance(0.4) ? r.pick(CAMPAIGNS) : null],
        });
      });
    }
    events.sort((a, b) => a.at - b.at);
    // In time order, in small batches; then one person's touch from before their last order arrives late.
    const lastOrder = events.filter((e) => e.order && e.ids[0] !== 'member_id::LIVE-0').at(-1)!;
    const late: Gen = { ...events.find((e) => !e.order && e.ids[0] === lastOrder.ids[0] && e.at < lastOrder.at)!, id: 'live-late', at: lastOrder.at - 1000, values: ['weibo', null, '618'] };
    for (let i = 0; i < events.length; i += 25) await ingest(t, key, events.slice(i, i + 25).map(toInput));
    await ingest(t, key, [toInput(late)]);
    await drainDue(ws);
    const all = [...events, late];
    const people = [...new Set(all.map((e) => e.ids[0]))].map((id) => all.filter((e) => e.ids[0] === id));
    const zone = 'Asia/Shanghai';
    const range = { from: localDate(now - 7 * DAY, zone), to: localDate(now, zone) };
    const want = expected(people, Date.now(), () => true);
    expect(all.filter((e) => e.order).length).toBeGreaterThan(10);
    for (const model of MODELS) {
      for (const dim of DIMENSIONS) {
        const got = await report(key, model, dim, range);
        expect(got.conversions).toBeCloseTo(all.filter((e) => e.order).length, 6);
        compare(got, want.get(`${model}|${dim}`), `in order ${model} ${dim}`);
      }
    }
  });

  it('reaches a live subscriber after a conversion, with costs giving CAC and ROI', async () => {
    const { workspaceId: wsId, adminKey: key } = await t.newWorkspace('attribution-live');
    // The touch and the order fall in one Shanghai day whatever the hour: between 00:00 and 02:00
    // local (16:00-18:00 UTC), "two hours ago" is yesterday there.
    const now = Date.now();
    const zone = 'Asia/Shanghai';
    const midnight = Date.parse(`${localDate(now, zone)}T00:00:00+08:00`);
    const touchAt = Math.max(now - 2 * HOUR, midnight);
    const orderAt = Math.max(now - HOUR, touchAt + 1000);
    const today = localDate(orderAt, zone);
    expect(localDate(touchAt, zone)).toBe(today);
    const cost = await t.gql(SetMarketingCostDocument, { input: { dimension: 'CHANNEL', value: 'douyin', from: today, to: today, amount: 500 } }, key);
    expect(cost.data!.setMarketingCost.days).toBe(1);
    const ws = wsClient(t.url, key);
    await ws.connected;
    try {
      const sub = collect<AttributionUpdatedSubscription>(ws.client, AttributionUpdatedDocument, { model: 'LAST_TOUCH', dimension: 'CHANNEL' });
      const [first] = await sub.next(1, 20_000);
      expect(first.errors).toBeUndefined();
      expect(first.data!.attributionUpdated.report.conversions).toBe(0);
      const who = ['member_id::LIVE-1'];
      await ingest(t, key, [
        makeEvent({ identifiers: who, name: 'Content Viewed', channel: 'douyin', timestamp: new Date(touchAt).toISOString() }),
        makeEvent({ identifiers: who, name: 'Order Completed', channel: 'wechat_mp', properties: { revenue: 200 }, timestamp: new Date(orderAt).toISOString() }),
      ]);
      const [, second] = await sub.next(2, 20_000);
      expect(second.data!.attributionUpdated.version).toBe(2);
      expect(second.data!.attributionUpdated.report.rows).toEqual([{ value: 'douyin', conversions: 1, revenue: 200 }]);
      sub.unsubscribe();
    } finally {
      await ws.dispose();
    }
    const r = await report(key, 'LINEAR', 'CHANNEL', { from: today, to: today });
    expect(r.rows).toEqual([{ value: 'douyin', conversions: 1, revenue: 200, share: 1, cost: 500, cac: 500, roi: 0.4 }]);
    expect(r.cost).toBe(500);
    // Beside the KPIs in `aggregate`: orders where they happened, credit where it was earned.
    const agg = await t.gql(
      AggregateAttributionDocument,
      {
        measures: ['ORDERS'] as KpiMetric[],
        range: { from: today, to: today },
        grain: 'DAY' as KpiGrain,
        dimension: 'CHANNEL' as KpiBreakdown,
        attribution: (['CONVERSIONS', 'SHARE', 'COST', 'CAC', 'ROI'] as AttributionMeasure[]).map((measure) => ({ model: 'LINEAR' as AttributionModel, measure })),
        first: 10,
      },
      key,
    );
    expect(agg.errors).toBeUndefined();
    expect(agg.data!.aggregate.rows.map((x) => [x.dimension, x.values[0].value, ...x.attributed.map((a) => a.value)])).toEqual([
      ['douyin', 0, 1, 1, 500, 500, 0.4],
      ['wechat_mp', 1, 0, 0, null, null, null],
    ]);
    const totals = await t.gql(
      AggregateAttributionDocument,
      { measures: ['GMV'] as KpiMetric[], range: { from: today, to: today }, grain: 'DAY' as KpiGrain, attribution: [{ model: 'SHAPLEY' as AttributionModel, measure: 'ROI' as AttributionMeasure }], first: 10 },
      key,
    );
    expect(totals.data!.aggregate.rows.map((x) => [x.dimension, x.values[0].value, x.attributed[0].value])).toEqual([[null, 200, 0.4]]);
    // The same numbers for BI tools through the read-only reporting role's views.
    const db = t.app.db.dataSource;
    const view: { value: string; n: number; rev: number }[] = await db.query(
      `SELECT value, sum(credited_conversions)::float8 AS n, sum(credited_revenue)::float8 AS rev FROM reporting.daily_attribution
       WHERE workspace_id = $1 AND model = 'LINEAR' AND dimension = 'CHANNEL' AND day = $2::date GROUP BY value`,
      [wsId, today],
    );
    expect(view).toEqual([{ value: 'douyin', n: 1, rev: 200 }]);
    const costs: { amount: number }[] = await db.query(`SELECT amount FROM reporting.daily_marketing_costs WHERE workspace_id = $1 AND value = 'douyin'`, [wsId]);
    expect(costs).toEqual([{ amount: 500 }]);
    const [grant] = await db.query(`SELECT has_table_privilege('siyu_reporting', 'reporting.daily_attribution', 'SELECT') AS ok`);
    expect(grant.ok).toBe(true);
  });

  it('settings keep their history; bad input is a typed error naming the field and changes nothing', async () => {
    const { adminKey: key } = await t.newWorkspace('attribution-settings');
    const bad = async (input: Record<string, unknown>, field: string) => {
      const r = await t.gql(UpdateAttributionSettingsDocument, { input }, key);
      expect(r.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'INVALID_ATTRIBUTION_SETTINGS', fields: [{ field }] });
    };
    await bad({ lookbackDays: 0 }, 'input.lookbackDays');
    await bad({ lookbackDays: 91 }, 'input.lookbackDays');
    await bad({ halfLifeDays: 0 }, 'input.halfLifeDays');
    await bad({ conversions: [] }, 'input.conversions');
    await bad({ conversions: [{ key: 'Bad Key', event: 'Order Completed' }] }, 'input.conversions.0.key');
    await bad({ touchEvents: ['Order Completed'] }, 'input.touchEvents');
    expect((await t.gql(AttributionSettingsHistoryDocument, {}, key)).data!.attributionSettingsHistory).toEqual([]);

    const ok = await t.gql(UpdateAttributionSettingsDocument, { input: { lookbackDays: 14, conversions: [{ key: 'order', event: 'Order Completed' }, { key: 'signup', event: 'Signed Up', valueProperty: 'value' }] } }, key);
    expect(ok.errors).toBeUndefined();
    expect(ok.data!.updateAttributionSettings).toMatchObject({ version: 1, lookbackDays: 14, halfLifeDays: 7, conversions: [{ key: 'order' }, { key: 'signup', valueProperty: 'value' }] });
    await t.gql(UpdateAttributionSettingsDocument, { input: { halfLifeDays: 3 } }, key);
    const h = (await t.gql(AttributionSettingsHistoryDocument, {}, key)).data!.attributionSettingsHistory;
    expect(h.map((x) => [x.version, x.settings.lookbackDays, x.settings.halfLifeDays])).toEqual([
      [2, 14, 3],
      [1, 14, 7],
    ]);

    const unknown = await t.gql(AttributionDocument, { model: 'LINEAR', conversion: 'refund' }, key);
    expect(unknown.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'UNKNOWN_CONVERSION', fields: [{ field: 'conversion' }] });
    const range = await t.gql(AttributionDocument, { model: 'LINEAR', range: { from: '2026-02-30', to: '2026-03-01' } }, key);
    expect(range.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: [{ field: 'from' }] });
    const aggregateBad = async (vars: Record<string, unknown>, field: string) => {
      const base = { measures: [], range: { from: '2026-03-01', to: '2026-03-07' }, grain: 'DAY', attribution: [{ model: 'LINEAR', measure: 'CONVERSIONS' }], first: 10 };
      const r = await t.gql(AggregateAttributionDocument, { ...base, ...vars } as never, key);
      expect({ field, ext: r.errors?.[0].extensions }).toMatchObject({ field, ext: { code: 'BAD_USER_INPUT', reason: 'INVALID_KPI_ARGUMENT', fields: [{ field }] } });
    };
    await aggregateBad({ grain: 'HOUR' }, 'grain');
    await aggregateBad({ dimension: 'STAGE' }, 'dimension');
    await aggregateBad({ filter: { channels: ['douyin'] } }, 'filter');
    await aggregateBad({ attribution: [{ model: 'LINEAR', measure: 'ROI', conversion: 'refund' }] }, 'attribution.0.conversion');
    await aggregateBad({ attribution: [] }, 'measures');
    const cost = await t.gql(SetMarketingCostDocument, { input: { dimension: 'CHANNEL', value: 'douyin', from: '2026-03-02', to: '2026-03-01', amount: 1 } }, key);
    expect(cost.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: [{ field: 'input.from' }] });
  });
});
