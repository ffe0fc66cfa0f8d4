import { bootAppPerFile } from '../support/app';
import { ingest } from '../support/api';
import { makeEvent } from '../support/events';
import { DAY, HOUR } from '../support/time';
import { collect, wsClient } from '../support/ws';
import { rng } from '../../src/shared/random';
import { localDate } from '../../src/shared/zone';
import {
  CreateExperimentDocument,
  FilteredAggregateDocument,
  FilteredFunnelDocument,
  KpiDocument,
  KpiUpdatedFilteredDocument,
  UnmergeDocument,
  type EventInput,
  type KpiBreakdown,
  type KpiGrain,
  type KpiMetric,
  type KpiUpdatedFilteredSubscription,
} from '../generated/graphql';

/**
 * The EXPERIMENT_VARIANT breakdown and the experiment/variant filter, against a plain
 * recomputation from the events this test sends: who saw which variant (first exposure), who is
 * contaminated (two variants, directly or through a merge), and what each did per local day.
 */
const t = bootAppPerFile();
const TZ = 'Asia/Shanghai';
const T0 = Math.floor((Date.now() - 20 * DAY) / HOUR) * HOUR;
const METRICS: KpiMetric[] = ['ACTIVE_USERS', 'ORDERS', 'GMV', 'CONVERSION_RATE', 'COMPLAINT_RATE', 'NEGATIVE_SENTIMENT_SHARE'];
/** Sentiment values sent (chosen by position, so the generated people stay those of the seed): on the scale, 0, outside it, not a number. */
const SENTIMENTS: unknown[] = [undefined, -0.7, 0, 0.4, -1, 2, 'bad', -0.2, 1];

interface Act {
  person: number;
  ts: number;
  order: number | null;
  complaint?: boolean;
  sentiment?: unknown;
}

/** A generated month: people, their activity, exposures, and merges of two ids into one person. */
function generate(seed: number) {
  const r = rng(seed);
  const events: EventInput[] = [];
  const acts: Act[] = [];
  const seen = new Map<number, { variant: string; at: number }[]>();
  const N = 36;
  // Person i acts under member_id M-i; one in four also under an anonymous id the late link merges.
  const idsOf = (i: number, anon: boolean) => (anon && i % 4 === 1 ? [`anonymous_id::anon-${seed}-${i}`] : [`member_id::M-${seed}-${i}`]);
  for (let i = 0; i < N; i++) {
    const n = 2 + Math.floor(r.next() * 6);
    for (let k = 0; k < n; k++) {
      const ts = T0 + Math.floor(r.next() * 19 * DAY);
      const isOrder = r.next() < 0.35;
      const revenue = isOrder ? Math.round(r.next() * 50000) / 100 : null;
      const complaint = !isOrder && k % 3 === 1;
      const sentiment = isOrder ? undefined : SENTIMENTS[(i + k) % SENTIMENTS.length];
      acts.push({ person: i, ts, order: revenue, complaint, sentiment });
      events.push(
        makeEvent({
          identifiers: idsOf(i, r.next() < 0.5),
          name: isOrder ? 'Order Completed' : complaint ? 'Complaint Filed' : 'Product Viewed',
          channel: r.next() < 0.5 ? 'wechat_mp' : 'douyin',
          timestamp: new Date(ts).toISOString(),
          ...(isOrder ? { properties: { revenue } } : sentiment !== undefined ? { properties: { sentiment } } : {}),
        }),
      );
    }
    // Exposures: one in six never exposed; one in seven sees both variants; a merged pair sees one each side.
    if (i % 6 === 5) continue;
    // Merged pairs: i % 8 === 1 sees A on one id and B on the other (contaminated once merged),
    // i % 8 === 5 sees B on both; others see both variants directly (i % 7 === 3) or one at random.
    const variants = i % 8 === 1 ? ['A', 'B'] : i % 8 === 5 ? ['B', 'B'] : i % 7 === 3 ? ['A', 'B'] : [r.next() < 0.5 ? 'A' : 'B'];
    variants.forEach((v, j) => {
      const ts = T0 + Math.floor(r.next() * 19 * DAY);
      acts.push({ person: i, ts, order: null });
      seen.set(i, [...(seen.get(i) ?? []), { variant: v, at: ts }]);
      events.push(
        makeEvent({
          identifiers: idsOf(i, j === 1),
          name: 'Experiment Viewed',
          channel: 'web',
          timestamp: new Date(ts).toISOString(),
          properties: { experiment_id: 'hero', variation_id: v },
        }),
      );
    });
  }
  // Late links: the two ids of every i % 4 === 1 person become one person.
  const links = [...Array(N).keys()]
    .filter((i) => i % 4 === 1)
    .map((i) => {
      const ts = T0 + 19 * DAY + i * 1000;
      acts.push({ person: i, ts, order: null });
      return makeEvent({ identifiers: [`member_id::M-${seed}-${i}`, `anonymous_id::anon-${seed}-${i}`], name: 'Signed In', channel: 'app', timestamp: new Date(ts).toISOString() });
    });
  // A person's variant: the one variant they saw; null when never exposed or contaminated.
  const variantOf = new Map<number, string | null>();
  for (let i = 0; i < N; i++) {
    const vs = new Set((seen.get(i) ?? []).map((x) => x.variant));
    variantOf.set(i, vs.size === 1 ? [...vs][0] : null);
  }
  return { events, links, acts, variantOf, seen };
}

/** Per local day and key: active people, orders, GMV, buyers, complaints and sentiment scores (the oracle). */
function expected(acts: Act[], keyOf: (person: number) => string | null) {
  const out = new Map<string, { active: Set<number>; orders: number; gmv: number; buyers: Set<number>; complaints: number; scored: number; negative: number }>();
  for (const a of acts) {
    const k = keyOf(a.person);
    if (k === null) continue;
    const id = `${localDate(a.ts, TZ)}|${k}`;
    const c = out.get(id) ?? { active: new Set(), orders: 0, gmv: 0, buyers: new Set(), complaints: 0, scored: 0, negative: 0 };
    c.active.add(a.person);
    if (a.complaint) c.complaints++;
    if (typeof a.sentiment === 'number' && a.sentiment >= -1 && a.sentiment <= 1) {
      c.scored++;
      if (a.sentiment < 0) c.negative++;
    }
    if (a.order !== null) {
      c.orders++;
      c.gmv += a.order;
      c.buyers.add(a.person);
    }
    out.set(id, c);
  }
  return (day: string, key: string, metric: KpiMetric): number | null => {
    const c = out.get(`${day}|${key}`);
    if (metric === 'ACTIVE_USERS') return c?.active.size ?? 0;
    if (metric === 'ORDERS') return c?.orders ?? 0;
    if (metric === 'GMV') return Math.round((c?.gmv ?? 0) * 100) / 100;
    if (metric === 'COMPLAINT_RATE') return c?.orders ? c.complaints / c.orders : null;
    if (metric === 'NEGATIVE_SENTIMENT_SHARE') return c?.scored ? c.negative / c.scored : null;
    return c && c.active.size ? c.buyers.size / c.active.size : null;
  };
}

const close = (a: number | null, b: number | null) => (a === null || b === null ? a === b : Math.abs(a - b) < 1e-6);

describe('KPIs by experiment variant', () => {
  it('splits every day by the first-exposure variant, leaving out contaminated and unexposed people, like a recomputation', async () => {
    const { adminKey: key } = await t.newWorkspace('kpi-variant');
    const def = await t.gql(
      CreateExperimentDocument,
      {
        input: {
          key: 'hero',
          name: '首页主图',
          variants: [
            { key: 'A', weight: 1, control: true },
            { key: 'B', weight: 1 },
          ],
        },
      },
      key,
    );
    expect(def.errors).toBeUndefined();
    const g = generate(17);
    await ingest(t, key, g.events);
    await ingest(t, key, g.links);
    const contaminated = [...g.variantOf.values()].filter((v) => v === null).length;
    expect(contaminated).toBeGreaterThan(6);
    const range = { from: localDate(T0, TZ), to: localDate(Date.now(), TZ) };
    const oracle = expected(g.acts, (p) => g.variantOf.get(p) ?? null);
    const exposed = expected(g.acts, (p) => (g.variantOf.get(p) ? '' : null));
    const mismatches: string[] = [];
    for (const metric of METRICS) {
      const r = await t.gql(KpiDocument, { metric, range, grain: 'DAY' as KpiGrain, breakdown: 'EXPERIMENT_VARIANT' as KpiBreakdown, filter: { experiment: 'hero' } }, key);
      expect(r.errors).toBeUndefined();
      const kpi = r.data!.kpi;
      expect(kpi.breakdown.map((s) => s.key)).toEqual(['A', 'B']);
      for (const p of kpi.total.points) {
        const want = exposed(p.localStart.slice(0, 10), '', metric);
        if (!close(p.value, want)) mismatches.push(`${metric} total ${p.localStart}: ${p.value} ≠ ${want}`);
      }
      for (const s of kpi.breakdown) {
        for (const p of s.points) {
          const want = oracle(p.localStart.slice(0, 10), s.key!, metric);
          if (!close(p.value, want)) mismatches.push(`${metric} ${s.key} ${p.localStart}: ${p.value} ≠ ${want}`);
        }
      }
      // The variant filter gives the same series as the breakdown's.
      const b = await t.gql(KpiDocument, { metric, range, grain: 'DAY' as KpiGrain, filter: { experiment: 'hero', variant: 'B' } }, key);
      expect(b.data!.kpi.total.points.map((p) => p.value)).toEqual(kpi.breakdown[1].points.map((p) => p.value));
    }
    expect(mismatches).toEqual([]);

    // The same numbers through the BI semantic layer, one row per day and variant, summed over the range.
    const agg = await t.gql(FilteredAggregateDocument, { measures: ['ORDERS', 'GMV'] as KpiMetric[], range, grain: 'MONTH' as KpiGrain, dimension: 'EXPERIMENT_VARIANT' as KpiBreakdown, filter: { experiment: 'hero' }, first: 100 }, key);
    expect(agg.errors).toBeUndefined();
    for (const v of ['A', 'B']) {
      const want = g.acts.filter((a) => g.variantOf.get(a.person) === v && a.order !== null);
      const rows = agg.data!.aggregate.rows.filter((x) => x.dimension === v);
      expect(rows.reduce((s, x) => s + x.values[0].value!, 0)).toBe(want.length);
      expect(rows.reduce((s, x) => s + x.values[1].value!, 0)).toBeCloseTo(want.reduce((s, a) => s + a.order!, 0), 6);
    }

    // A funnel of variant B's people only.
    const funnel = await t.gql(FilteredFunnelDocument, { steps: ['Experiment Viewed', 'Order Completed'], range, withinHours: 24 * 30, filter: { experiment: 'hero', variant: 'B' } }, key);
    expect(funnel.errors).toBeUndefined();
    const inB = [...g.variantOf].filter(([, v]) => v === 'B').map(([p]) => p);
    const converted = inB.filter((p) => {
      const t0 = Math.min(...g.seen.get(p)!.map((x) => x.at));
      return g.acts.some((a) => a.person === p && a.order !== null && a.ts >= t0 && a.ts <= t0 + 30 * DAY);
    });
    expect(funnel.data!.funnel.map((s) => s.count)).toEqual([inB.length, converted.length]);
    expect(converted.length).toBeGreaterThan(0);
  });

  it('keeps the variant rollups equal to the activity path through small batches, merges, an unmerge and a rebuild', async () => {
    const { adminKey: key, workspaceId: ws } = await t.newWorkspace('kpi-variant-rollups');
    expect((await t.gql(CreateExperimentDocument, { input: { key: 'hero', name: 'hero', variants: [{ key: 'A', weight: 1, control: true }, { key: 'B', weight: 1 }] } }, key)).errors).toBeUndefined();
    const g = generate(29);
    // Small batches in time order: exposures arrive after earlier activity, activity after exposures.
    const sorted = [...g.events].sort((a, b) => Date.parse(a.timestamp!) - Date.parse(b.timestamp!));
    for (let i = 0; i < sorted.length; i += 7) await ingest(t, key, sorted.slice(i, i + 7));
    await ingest(t, key, g.links);
    const db = t.app.db.dataSource;
    const range = { from: localDate(T0, TZ), to: localDate(Date.now(), TZ) };
    const questions = (['DAY', 'WEEK', 'MONTH'] as KpiGrain[]).flatMap((grain) =>
      (['ACTIVE_USERS', 'ORDERS', 'GMV', 'CONVERSION_RATE', 'WAU', 'MAU', 'DAU', 'COMPLAINT_RATE', 'NEGATIVE_SENTIMENT_SHARE'] as KpiMetric[]).flatMap((metric) => [
        { metric, range, grain, breakdown: 'EXPERIMENT_VARIANT' as KpiBreakdown, filter: { experiment: 'hero' } },
        { metric, range, grain, filter: { experiment: 'hero', variant: 'B' } },
      ]),
    );
    const answers = async () => {
      const out: unknown[] = [];
      for (const q of questions) {
        const r = await t.gql(KpiDocument, q, key);
        expect(r.errors).toBeUndefined();
        out.push({ q: `${q.metric} ${q.grain} ${q.breakdown ?? q.filter.variant}`, total: r.data!.kpi.total.points.map((p) => p.value), by: r.data!.kpi.breakdown.map((b) => [b.key, b.points.map((p) => p.value)]) });
      }
      return out;
    };
    // The activity path: the workspace's variant rollups marked not ready.
    const viaActivity = async () => {
      await db.query(`UPDATE kpi_rollup_state SET variants_ready = false WHERE workspace_id = $1`, [ws]);
      const a = await answers();
      await db.query(`UPDATE kpi_rollup_state SET variants_ready = true WHERE workspace_id = $1`, [ws]);
      return a;
    };
    const rolled = await answers();
    expect(rolled).toEqual(await viaActivity());
    // Not a vacuous comparison: both variants have people, orders and revenue.
    expect(JSON.stringify(rolled)).toMatch(/"A",\[[^\]]*[1-9]/);

    // Undo a merge that contaminated a person: both people count again, each under their own variant.
    const [merge] = await db.query(
      `SELECT m.id FROM identity_merges m JOIN experiment_exposures x ON x.workspace_id = m.workspace_id AND x.profile_id = m.survivor_id AND x.contaminated
       WHERE m.workspace_id = $1 AND m.undone_at IS NULL ORDER BY m.id LIMIT 1`,
      [ws],
    );
    expect(merge).toBeDefined();
    expect((await t.gql(UnmergeDocument, { mergeId: merge.id }, key)).errors).toBeUndefined();
    const afterUnmerge = await answers();
    expect(afterUnmerge).not.toEqual(rolled);
    expect(afterUnmerge).toEqual(await viaActivity());

    // A workspace whose exposures predate the rollups: the activity path until a rebuild, then the same numbers.
    for (const table of ['kpi_variant_people', 'kpi_variant_person_days', 'kpi_variant_day_totals', 'kpi_variant_members']) await db.query(`DELETE FROM ${table} WHERE workspace_id = $1`, [ws]);
    await db.query(`UPDATE kpi_rollup_state SET variants_ready = false WHERE workspace_id = $1`, [ws]);
    expect(await answers()).toEqual(afterUnmerge);
    const rebuilt = await t.app.services.recompute.run(ws, { parts: ['kpis'] });
    expect(rebuilt.stopped).toBe(false);
    expect((await db.query(`SELECT variants_ready AS r FROM kpi_rollup_state WHERE workspace_id = $1`, [ws]))[0].r).toBe(true);
    expect(await answers()).toEqual(afterUnmerge);
  });

  it('refuses the breakdown without an experiment, and a variant without its experiment, naming the field', async () => {
    const { adminKey: key } = await t.newWorkspace('kpi-variant-bad');
    const range = { from: localDate(T0, TZ), to: localDate(Date.now(), TZ) };
    const a = await t.gql(KpiDocument, { metric: 'ORDERS' as KpiMetric, range, grain: 'DAY' as KpiGrain, breakdown: 'EXPERIMENT_VARIANT' as KpiBreakdown }, key);
    expect(a.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'INVALID_KPI_FILTER', fields: [expect.objectContaining({ field: 'filter.experiment' })] });
    const b = await t.gql(KpiDocument, { metric: 'ORDERS' as KpiMetric, range, grain: 'DAY' as KpiGrain, filter: { variant: 'B' } }, key);
    expect(b.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'INVALID_KPI_FILTER', fields: [expect.objectContaining({ field: 'filter.experiment' })] });
    const c = await t.gql(KpiDocument, { metric: 'ORDERS' as KpiMetric, range, grain: 'DAY' as KpiGrain, filter: { experiment: '' } }, key);
    expect(c.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: [expect.objectContaining({ field: 'filter.experiment' })] });
  });

  it('moves a person’s earlier orders into their variant live, when their exposure arrives', async () => {
    const { adminKey: key } = await t.newWorkspace('kpi-variant-live');
    const now = Date.now();
    const yesterday = now - DAY;
    const who = ['member_id::LIVE-V'];
    await ingest(t, key, [
      makeEvent({ identifiers: who, name: 'Order Completed', channel: 'douyin', properties: { revenue: 88 }, timestamp: new Date(yesterday).toISOString() }),
      makeEvent({ identifiers: ['member_id::LIVE-A'], name: 'Experiment Viewed', channel: 'web', properties: { experiment_id: 'hero', variation_id: 'A' }, timestamp: new Date(yesterday).toISOString() }),
      // Both series exist before the exposure: a read of the changed day alone would keep yesterday's 0 for B.
      makeEvent({ identifiers: ['member_id::LIVE-B'], name: 'Experiment Viewed', channel: 'web', properties: { experiment_id: 'hero', variation_id: 'B' }, timestamp: new Date(yesterday).toISOString() }),
    ]);
    const ws = wsClient(t.url, key);
    await ws.connected;
    try {
      const sub = collect<KpiUpdatedFilteredSubscription>(ws.client, KpiUpdatedFilteredDocument, {
        metrics: ['ORDERS'],
        grain: 'DAY',
        periods: 3,
        breakdown: 'EXPERIMENT_VARIANT',
        filter: { experiment: 'hero' },
      });
      const [first] = await sub.next(1, 20_000);
      expect(first.errors).toBeUndefined();
      const series = (r: KpiUpdatedFilteredSubscription) => Object.fromEntries(r.kpiUpdated.results[0].breakdown.map((s) => [s.key, s.points.map((p) => p.value)]));
      expect(series(first.data!)).toEqual({ A: [0, 0, 0], B: [0, 0, 0] });
      await ingest(t, key, [
        makeEvent({ identifiers: who, name: 'Experiment Viewed', channel: 'web', properties: { experiment_id: 'hero', variation_id: 'B' }, timestamp: new Date(now).toISOString() }),
        // Today's activity in both variants: a read from today on alone would find the same keys.
        makeEvent({ identifiers: ['member_id::LIVE-A'], name: 'Product Viewed', channel: 'web', timestamp: new Date(now).toISOString() }),
      ]);
      const [, second] = await sub.next(2, 20_000);
      expect(series(second.data!)).toEqual({ A: [0, 0, 0], B: [0, 1, 0] });
      sub.unsubscribe();
    } finally {
      await ws.dispose();
    }
  });
});
