import { bootAppPerFile } from '../support/app';
import { DAY, HOUR } from '../support/time';
import { makeEvent } from '../support/events';
import { rng } from '../../src/shared/random';
import { IngestDocument, KpiDocument, KpisDocument, type KpiBreakdown, type KpiGrain, type KpiMetric, AggregateDocument, RetentionCohortsDocument, FunnelDocument, type EventInput, type KpiQuery } from '../generated/graphql';

/**
 * Every KPI of the catalogue, answered from the rollups, equals an independent recomputation from
 * the raw rows (events, relations, current tags) read with plain SQL and evaluated here in
 * TypeScript, on a generated multi-channel data set with merges, orders, NPS answers, complaints,
 * sentiment scores (some outside the scale or not numbers) and invites.
 */

const t = bootAppPerFile();

const CHANNELS = ['wechat_mp', 'wechat_oa', 'wecom', 'douyin', 'app', 'store'] as const;
const TOUCHPOINTS = [null, null, 'qr_store_01', 'live_0918', 'group_A'];
const INTERACTIONS = new Set(['Message Sent', 'Liked', 'Content Shared', 'Group Joined', 'Comment Posted', 'Coupon Claimed', 'Product Added']);
/** Sentiment values sent: on the scale [-1, 1] (0 is not negative), outside it, and not numbers. */
const SENTIMENTS: unknown[] = [-1, -0.6, -0.05, 0, 0, 0.3, 0.9, 1, 1.4, -2, '-0.5', 'angry', null, true];

/** People over ~45 days: Zipf-like activity, orders, NPS, invites, and half of them first seen anonymously then merged. */
function dataset(seed: number, now: number): EventInput[] {
  const r = rng(seed);
  const people = 140;
  const out: EventInput[] = [];
  let n = 0;
  const ev = (over: Omit<Partial<EventInput>, 'identifiers'> & { identifiers: string[]; ts: number }) => {
    const { ts, ...rest } = over;
    out.push(makeEvent({ messageId: `k${seed}-${n++}`, timestamp: new Date(ts).toISOString(), ...rest }));
  };
  for (let i = 0; i < people; i++) {
    const member = `member_id::K${seed}-${i}`;
    const anon = `anonymous_id::KA${seed}-${i}`;
    const start = now - (2 + r.int(44)) * DAY - r.int(20) * HOUR;
    const home = r.pick(CHANNELS);
    const activity = Math.max(1, Math.floor(30 / (1 + r.int(12))));
    const mergeLater = r.chance(0.4);
    for (let k = 0; k < activity; k++) {
      const ts = Math.min(now - 60_000, start + r.int(Math.max(1, Math.floor((now - start) / HOUR))) * HOUR + r.int(3600) * 1000);
      const early = k < 2;
      const ids = mergeLater && early ? [anon] : mergeLater && k === 2 ? [anon, member] : [member];
      const channel = r.chance(0.7) ? home : r.pick(CHANNELS);
      const tp = r.pick(TOUCHPOINTS);
      const context = tp ? { touchpoint: tp } : undefined;
      const roll = r.next();
      if (roll < 0.12) {
        const v = Math.round((10 + r.next() * 490) * 100) / 100;
        const properties = r.chance(0.2) ? { total: v } : r.chance(0.2) ? { revenue: v.toFixed(2) } : { revenue: v };
        ev({ identifiers: ids, ts, channel, context, name: 'Order Completed', properties });
      } else if (roll < 0.17) {
        const score = r.chance(0.1) ? 11 : r.int(11);
        ev({ identifiers: ids, ts, channel, context, name: 'NPS Submitted', properties: { score } });
      } else if (roll < 0.22 && i > 5) {
        const inviter = { type: 'member_id', value: `K${seed}-${r.int(i)}` };
        ev({ identifiers: ids, ts, channel, context, name: 'Invite Accepted', properties: { inviter } });
      } else if (roll < 0.25 && i > 5) {
        ev({ identifiers: ids, ts, channel, context: { ...(context ?? {}), sharedBy: { type: 'member_id', value: `K${seed}-${r.int(i)}` } }, name: 'Content Shared' });
      } else if (roll < 0.29) {
        ev({ identifiers: ids, ts, channel, context, name: 'Complaint Filed', properties: r.chance(0.5) ? { sentiment: r.pick(SENTIMENTS) } : {} });
      } else if (roll < 0.45) {
        ev({ identifiers: ids, ts, channel, context, name: r.pick([...INTERACTIONS]), properties: r.chance(0.3) ? { sentiment: r.pick(SENTIMENTS) } : undefined });
      } else {
        ev({ identifiers: ids, ts, channel, context, name: r.pick(['Product Viewed', 'Home Viewed', 'Campaign Viewed']) });
      }
    }
  }
  // Wake-ups (沉默唤醒): people seen ~50 days ago, silent, back in the last 10 days.
  for (let i = 0; i < 20; i++) {
    const ids = [`member_id::KW${seed}-${i}`];
    const channel = r.pick(CHANNELS);
    for (let k = 0; k < 2; k++) ev({ identifiers: ids, ts: now - (48 + r.int(8)) * DAY - r.int(20) * HOUR, channel, name: 'Product Viewed' });
    for (let k = 0; k < 3; k++) ev({ identifiers: ids, ts: now - r.int(10) * DAY - r.int(20) * HOUR - 60_000, channel, name: r.chance(0.3) ? 'Order Completed' : 'Liked', properties: { revenue: 20 + k } });
  }
  // Shuffle: acquisition and rollups must not depend on arrival order.
  for (let i = out.length - 1; i > 0; i--) {
    const j = r.int(i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

interface RawEvent {
  p: string;
  t: number;
  ch: string;
  tp: string;
  type: string;
  name: string | null;
  props: Record<string, unknown> | null;
}

const revenueOf = (p: Record<string, unknown> | null): number => {
  const v = p?.revenue ?? p?.total ?? 0;
  const n = typeof v === 'string' ? Number(v) : (v as number);
  return Math.round(n * 100) / 100;
};

type Key = { mode: 'NONE' | 'CHANNEL' | 'TAG'; value: string };

/** The oracle: each metric for one bucket [s, e), from raw rows only. */
class Oracle {
  first = new Map<string, { t: number; ch: string; tp: string }>();
  constructor(
    private readonly events: RawEvent[],
    private readonly relations: { kind: string; from: string; to: string; at: number }[],
    private readonly tags: Map<string, Set<string>>,
    private readonly today: string,
  ) {
    for (const e of events) {
      const f = this.first.get(e.p);
      if (!f || e.t < f.t || (e.t === f.t && (e.ch < f.ch || (e.ch === f.ch && e.tp < f.tp)))) this.first.set(e.p, { t: e.t, ch: e.ch, tp: e.tp });
    }
  }

  private localDay(t: number): string {
    return new Date(t + 8 * HOUR).toISOString().slice(0, 10);
  }

  private acts(k: Key): RawEvent[] {
    if (k.mode === 'CHANNEL') return this.events.filter((e) => e.ch === k.value);
    if (k.mode === 'TAG') return this.events.filter((e) => this.tags.get(e.p)?.has(k.value));
    return this.events;
  }

  private people(k: Key): string[] {
    return [...this.first.entries()]
      .filter(([p, f]) => (k.mode === 'CHANNEL' ? f.ch === k.value : k.mode === 'TAG' ? this.tags.get(p)?.has(k.value) : true))
      .map(([p]) => p);
  }

  value(metric: KpiMetric, k: Key, s: number, e: number, grainMs: number): number | null {
    const acts = this.acts(k);
    const within = (a: number, b: number) => acts.filter((x) => x.t >= a && x.t < b);
    const distinct = (xs: RawEvent[]) => new Set(xs.map((x) => x.p));
    const inB = within(s, e);
    const active = distinct(inB);
    const ratio = (a: number, b: number) => (b ? a / b : null);
    const orders = inB.filter((x) => x.name === 'Order Completed');
    const gmv = orders.reduce((n, x) => n + revenueOf(x.props), 0);
    const buyers = distinct(orders);
    const ppl = this.people(k);
    const isNew = (p: string) => this.first.get(p)!.t >= s && this.first.get(p)!.t < e;
    const newOnes = ppl.filter(isNew);
    const incoming = (p: string, kinds: string[]) => this.relations.filter((r) => r.to === p && kinds.includes(r.kind));
    const days = Math.round((e - s) / DAY) || 1;
    const dau = () => {
      if (grainMs === HOUR) return active.size;
      let sum = 0;
      for (let d = s; d < e; d += DAY) sum += distinct(within(d, d + DAY)).size;
      return sum / days;
    };
    const mau = () => distinct(within(e - 30 * DAY, e)).size;
    const atEnd = ppl.filter((p) => this.first.get(p)!.t < e).length;
    const allOrders = acts.filter((x) => x.name === 'Order Completed');
    const firstOrder = (p: string) => Math.min(...allOrders.filter((x) => x.p === p).map((x) => x.t));
    const conv = () => {
      const eligible = [...active].filter((p) => !(firstOrder(p) < s));
      const firsts = [...active].filter((p) => firstOrder(p) >= s && firstOrder(p) < e);
      return ratio(firsts.length, eligible.length);
    };
    const repurchase = () => ratio([...buyers].filter((p) => allOrders.filter((x) => x.p === p && x.t < e).length >= 2).length, buyers.size);
    const retention = (n: number) => {
      const cohort = newOnes.filter((p) => this.addDays(this.localDay(this.first.get(p)!.t), n) <= this.today);
      const kept = cohort.filter((p) => {
        const dn = this.addDays(this.localDay(this.first.get(p)!.t), n);
        return this.events.some((x) => x.p === p && this.localDay(x.t) === dn);
      });
      return ratio(kept.length, cohort.length);
    };
    const nps = inB.filter((x) => x.name === 'NPS Submitted' && Number.isInteger(x.props?.score) && (x.props!.score as number) >= 0 && (x.props!.score as number) <= 10);
    const sentiments = inB.map((x) => x.props?.sentiment).filter((v): v is number => typeof v === 'number' && v >= -1 && v <= 1);
    const hasEvents = new Set(ppl);
    switch (metric) {
      case 'NEW_PROFILES':
        return newOnes.length;
      case 'GROWTH_RATE':
        return ratio(newOnes.length, ppl.filter((p) => this.first.get(p)!.t < s).length);
      case 'ORGANIC_SHARE':
        return ratio(newOnes.filter((p) => !incoming(p, ['invited', 'referred']).length).length, newOnes.length);
      case 'ACTIVE_USERS':
        return active.size;
      case 'DAU':
        return dau();
      case 'WAU':
        return distinct(within(e - 7 * DAY, e)).size;
      case 'MAU':
        return mau();
      case 'DAU_SHARE':
        return atEnd ? dau() / atEnd : null;
      case 'STICKINESS':
        return mau() ? dau() / mau() : null;
      case 'SESSIONS':
        return new Set(inB.map((x) => `${x.p}|${x.ch}|${Math.floor(x.t / HOUR)}`)).size;
      case 'INTERACTION_RATE':
        return ratio(distinct(inB.filter((x) => x.type === 'track' && INTERACTIONS.has(x.name ?? ''))).size, active.size);
      case 'RETENTION_D1':
        return retention(1);
      case 'RETENTION_D7':
        return retention(7);
      case 'RETENTION_D30':
        return retention(30);
      case 'CHURN_RATE': {
        const prev = distinct(within(s - grainMs, s));
        return ratio([...prev].filter((p) => !active.has(p)).length, prev.size);
      }
      case 'SILENT_WAKEUP_RATE': {
        const silent = [...distinct(within(-Infinity, s))].filter((p) => Math.max(...acts.filter((x) => x.p === p && x.t < s).map((x) => x.t)) < s - 30 * DAY);
        return ratio(silent.filter((p) => active.has(p)).length, silent.length);
      }
      case 'ORDERS':
        return orders.length;
      case 'GMV':
        return gmv;
      case 'AOV':
        return ratio(gmv, orders.length);
      case 'ARPU':
        return ratio(gmv, active.size);
      case 'CONVERSION_RATE':
        return ratio(buyers.size, active.size);
      case 'FIRST_CONVERSION_RATE':
        return conv();
      case 'REPURCHASE_RATE':
        return repurchase();
      case 'LTV': {
        const a = conv();
        const b = repurchase();
        const c = ratio(gmv, orders.length);
        return a === null || b === null || c === null ? null : a * b * c;
      }
      case 'REVENUE_PER_PROFILE':
        return atEnd ? allOrders.filter((x) => x.t < e).reduce((n, x) => n + revenueOf(x.props), 0) / atEnd : null;
      case 'REFERRAL_RATE':
        return ratio(new Set(this.relations.filter((r) => ['invited', 'referred', 'shared_to'].includes(r.kind) && r.at >= s && r.at < e && hasEvents.has(r.from)).map((r) => r.from)).size, active.size);
      case 'FISSION_COEFFICIENT': {
        const invited = newOnes.filter((p) => incoming(p, ['invited']).length);
        return ratio(invited.length, new Set(invited.flatMap((p) => incoming(p, ['invited']).map((r) => r.from))).size);
      }
      case 'NPS':
        return nps.length ? (100 * (nps.filter((x) => (x.props!.score as number) >= 9).length - nps.filter((x) => (x.props!.score as number) <= 6).length)) / nps.length : null;
      case 'COMPLAINT_RATE':
        return ratio(inB.filter((x) => x.type === 'track' && x.name === 'Complaint Filed').length, orders.length);
      case 'NEGATIVE_SENTIMENT_SHARE':
        return ratio(sentiments.filter((v) => v < 0).length, sentiments.length);
    }
    return null;
  }

  private addDays(day: string, n: number): string {
    return new Date(Date.parse(`${day}T00:00:00Z`) + n * DAY).toISOString().slice(0, 10);
  }
}

const ALL_METRICS: KpiMetric[] = ['NEW_PROFILES', 'GROWTH_RATE', 'ORGANIC_SHARE', 'ACTIVE_USERS', 'DAU', 'WAU', 'MAU', 'DAU_SHARE', 'STICKINESS', 'SESSIONS', 'INTERACTION_RATE', 'RETENTION_D1', 'RETENTION_D7', 'RETENTION_D30', 'CHURN_RATE', 'SILENT_WAKEUP_RATE', 'ORDERS', 'GMV', 'AOV', 'ARPU', 'CONVERSION_RATE', 'FIRST_CONVERSION_RATE', 'REPURCHASE_RATE', 'LTV', 'REVENUE_PER_PROFILE', 'REFERRAL_RATE', 'FISSION_COEFFICIENT', 'NPS', 'COMPLAINT_RATE', 'NEGATIVE_SENTIMENT_SHARE'];

const close = (a: number | null | undefined, b: number | null) => (a === null || a === undefined || b === null ? a === b || (a == null && b === null) : Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b)));

describe('KPIs equal a recomputation from raw events', () => {
  let key: string;
  let ws: string;
  let oracle: Oracle;
  let range: { from: string; to: string };
  const now = Date.now();

  beforeAll(async () => {
    ({ workspaceId: ws, adminKey: key } = await t.newWorkspace('kpi-recompute'));
    const events = dataset(20261123, now);
    for (let i = 0; i < events.length; i += 250) {
      const r = await t.gql(IngestDocument, { events: events.slice(i, i + 250) }, key);
      expect(r.errors).toBeUndefined();
      expect(r.data!.ingestEvents.rejected).toBe(0);
    }
    const em = t.app.db.dataSource.manager;
    const rows: { p: string; ts: Date; channel: string; type: string; name: string | null; properties: Record<string, unknown> | null; context: Record<string, unknown> | null }[] = await em.query(
      `SELECT profile_id AS p, ts, channel, type, name, properties, context FROM events WHERE workspace_id = $1`,
      [ws],
    );
    const rels: { kind: string; from: string; to: string; at: Date }[] = await em.query(
      `SELECT r.kind, coalesce(f.merged_into, f.id) AS "from", coalesce(x.merged_into, x.id) AS "to", r.occurred_at AS at
       FROM relations r JOIN profiles f ON f.workspace_id = r.workspace_id AND f.id = r.from_profile_id
       JOIN profiles x ON x.workspace_id = r.workspace_id AND x.id = r.to_profile_id
       WHERE r.workspace_id = $1 AND coalesce(f.merged_into, f.id) <> coalesce(x.merged_into, x.id)`,
      [ws],
    );
    const tagRows: { p: string; k: string }[] = await em.query(`SELECT profile_id AS p, tag_key AS k FROM profile_tags WHERE workspace_id = $1`, [ws]);
    const tags = new Map<string, Set<string>>();
    for (const r of tagRows) tags.set(r.p, (tags.get(r.p) ?? new Set()).add(r.k));
    const merges: { n: number }[] = await em.query(`SELECT count(*)::int AS n FROM identity_merges WHERE workspace_id = $1`, [ws]);
    expect(merges[0].n).toBeGreaterThan(20);
    const today = new Date(now + 8 * HOUR).toISOString().slice(0, 10);
    oracle = new Oracle(
      rows.map((r) => ({ p: r.p, t: new Date(r.ts).getTime(), ch: r.channel, tp: typeof r.context?.touchpoint === 'string' ? (r.context.touchpoint as string) : '', type: r.type, name: r.name, props: r.properties })),
      rels.map((r) => ({ ...r, at: new Date(r.at).getTime() })),
      tags,
      today,
    );
    range = { from: new Date(now + 8 * HOUR - 40 * DAY).toISOString().slice(0, 10), to: today };
  });

  const check = (res: KpiQuery['kpi'], k: Key, grainMs: number) => {
    const series = k.mode === 'NONE' ? res.total : res.breakdown.find((s) => s.key === k.value);
    const mismatches: string[] = [];
    for (const p of series?.points ?? []) {
      const want = oracle.value(res.metric, k, Date.parse(p.start), Date.parse(p.end), grainMs);
      const got = series ? p.value : null;
      if (!close(got, want)) mismatches.push(`${res.metric} ${k.mode}:${k.value} ${p.localStart}: got ${got}, want ${want}`);
    }
    return mismatches;
  };

  it.each(ALL_METRICS)('%s by day, in total and by channel', async (metric) => {
    const r = await t.gql(KpiDocument, { metric, range, grain: 'DAY' as KpiGrain, breakdown: 'CHANNEL' as KpiBreakdown }, key);
    expect(r.errors).toBeUndefined();
    const res = r.data!.kpi;
    expect(res.timeZone).toBe('Asia/Shanghai');
    expect(res.total.points).toHaveLength(41);
    expect(res.total.points[0].localStart).toBe(`${range.from}T00:00:00`);
    const mismatches = [...check(res, { mode: 'NONE', value: '' }, DAY)];
    expect(res.breakdown.length).toBeGreaterThan(2);
    for (const s of res.breakdown) mismatches.push(...check(res, { mode: 'CHANNEL', value: s.key! }, DAY));
    expect(mismatches).toEqual([]);
    // The data set gives every metric something to show.
    expect(res.total.points.some((p) => p.value !== null && p.value !== 0)).toBe(true);
  });

  it.each(
    ['DAU', 'MAU', 'CHURN_RATE', 'GMV', 'RETENTION_D1', 'REPURCHASE_RATE', 'SILENT_WAKEUP_RATE', 'NEW_PROFILES', 'ACTIVE_USERS', 'CONVERSION_RATE', 'INTERACTION_RATE', 'FIRST_CONVERSION_RATE', 'REFERRAL_RATE', 'FISSION_COEFFICIENT', 'COMPLAINT_RATE', 'NEGATIVE_SENTIMENT_SHARE'] as KpiMetric[],
  )(
    '%s by week (weeks start on Monday), by week and channel, and by tag',
    async (metric) => {
      const monday = new Date(Date.parse(`${range.from}T00:00:00Z`));
      monday.setUTCDate(monday.getUTCDate() - ((monday.getUTCDay() + 6) % 7));
      const weekRange = { from: monday.toISOString().slice(0, 10), to: range.to };
      const w = await t.gql(KpiDocument, { metric, range: weekRange, grain: 'WEEK' as KpiGrain }, key);
      expect(w.errors).toBeUndefined();
      expect(new Date(`${w.data!.kpi.total.points[0].localStart}Z`).getUTCDay()).toBe(1);
      const mismatches = check(w.data!.kpi, { mode: 'NONE', value: '' }, 7 * DAY);
      const c = await t.gql(KpiDocument, { metric, range: weekRange, grain: 'WEEK' as KpiGrain, breakdown: 'CHANNEL' as KpiBreakdown }, key);
      expect(c.errors).toBeUndefined();
      expect(c.data!.kpi.breakdown.length).toBeGreaterThan(2);
      for (const s of c.data!.kpi.breakdown) mismatches.push(...check(c.data!.kpi, { mode: 'CHANNEL', value: s.key! }, 7 * DAY));
      const g = await t.gql(KpiDocument, { metric, range, grain: 'DAY' as KpiGrain, breakdown: 'TAG' as KpiBreakdown }, key);
      expect(g.errors).toBeUndefined();
      expect(g.data!.kpi.breakdown.length).toBeGreaterThan(0);
      for (const s of g.data!.kpi.breakdown) mismatches.push(...check(g.data!.kpi, { mode: 'TAG', value: s.key! }, DAY));
      expect(mismatches).toEqual([]);
    },
  );

  it('hourly series and channel filters agree with the oracle', async () => {
    const day = { from: range.to, to: range.to };
    const h = await t.gql(KpiDocument, { metric: 'DAU' as KpiMetric, range: day, grain: 'HOUR' as KpiGrain }, key);
    expect(h.errors).toBeUndefined();
    expect(h.data!.kpi.total.points).toHaveLength(24);
    expect(check(h.data!.kpi, { mode: 'NONE', value: '' }, HOUR)).toEqual([]);
    const f = await t.gql(KpiDocument, { metric: 'ORDERS' as KpiMetric, range, grain: 'DAY' as KpiGrain, filter: { channels: ['wecom'] } }, key);
    expect(f.errors).toBeUndefined();
    expect(check(f.data!.kpi, { mode: 'CHANNEL', value: 'wecom' }, DAY)).toEqual([]);
    // Complaints and sentiment by clock hour (the quarter totals), over the last three days.
    const days = { from: new Date(now + 8 * HOUR - 2 * DAY).toISOString().slice(0, 10), to: range.to };
    for (const metric of ['COMPLAINT_RATE', 'NEGATIVE_SENTIMENT_SHARE'] as KpiMetric[]) {
      const r = await t.gql(KpiDocument, { metric, range: days, grain: 'HOUR' as KpiGrain, breakdown: 'CHANNEL' as KpiBreakdown }, key);
      expect(r.errors).toBeUndefined();
      const wrong = check(r.data!.kpi, { mode: 'NONE', value: '' }, HOUR);
      for (const s of r.data!.kpi.breakdown) wrong.push(...check(r.data!.kpi, { mode: 'CHANNEL', value: s.key! }, HOUR));
      expect(wrong).toEqual([]);
      expect(r.data!.kpi.total.points.some((p) => p.value !== null)).toBe(true);
    }
  });

  it('kpis: a snapshot over the range with the change against the range before', async () => {
    const metrics = ['GMV', 'ACTIVE_USERS', 'DAU', 'CONVERSION_RATE', 'INTERACTION_RATE', 'ARPU', 'CHURN_RATE', 'SILENT_WAKEUP_RATE', 'FIRST_CONVERSION_RATE', 'REPURCHASE_RATE', 'RETENTION_D7', 'REFERRAL_RATE', 'ORGANIC_SHARE', 'FISSION_COEFFICIENT', 'COMPLAINT_RATE', 'NEGATIVE_SENTIMENT_SHARE'] as KpiMetric[];
    const r = await t.gql(KpisDocument, { metrics, range }, key);
    expect(r.errors).toBeUndefined();
    const s = r.data!.kpis;
    expect(s.previousRange.to < s.range.from).toBe(true);
    const start = Date.parse(`${range.from}T00:00:00+08:00`);
    const end = Date.parse(`${range.to}T00:00:00+08:00`) + DAY;
    const prevStart = start - (end - start);
    expect(s.values.map((v) => v.metric)).toEqual(metrics);
    const wrong: string[] = [];
    for (const v of s.values) {
      const want = [oracle.value(v.metric, { mode: 'NONE', value: '' }, start, end, end - start), oracle.value(v.metric, { mode: 'NONE', value: '' }, prevStart, start, end - start)];
      if (!close(v.value, want[0]) || !close(v.previous, want[1])) wrong.push(`${v.metric}: got ${v.value} / ${v.previous}, want ${want[0]} / ${want[1]}`);
      if (v.previous) expect(v.change).toBeCloseTo((v.value! - v.previous) / Math.abs(v.previous), 9);
    }
    expect(wrong).toEqual([]);
  });

  const aggregatePage = (after: string | null | undefined) =>
    t.gql(AggregateDocument, { measures: ['ACTIVE_USERS' as KpiMetric, 'GMV' as KpiMetric], range, grain: 'DAY' as KpiGrain, dimension: 'CHANNEL' as KpiBreakdown, first: 50, after }, key);

  it('aggregate pages through the same numbers for BI', async () => {
    const seen: { bucket: string; dimension: string | null; values: { measure: KpiMetric; value: number | null }[] }[] = [];
    let after: string | null | undefined = null;
    let pages = 0;
    do {
      const r: Awaited<ReturnType<typeof aggregatePage>> = await aggregatePage(
after);
      expect(r.errors).toBeUndefined();
      seen.push(...r.data!.aggregate.rows);
      after = r.data!.aggregate.nextCursor;
      pages++;
    } while (after && pages < 100);
    expect(pages).toBeGreaterThan(1);
    const k = await t.gql(KpiDocument, { metric: 'GMV' as KpiMetric, range, grain: 'DAY' as KpiGrain, breakdown: 'CHANNEL' as KpiBreakdown }, key);
    expect(seen).toHaveLength(41 * k.data!.kpi.breakdown.length);
    for (const s of k.data!.kpi.breakdown) {
      for (const p of s.points) {
        const row = seen.find((x) => x.bucket === p.localStart && x.dimension === s.key)!;
        expect(row.values.find((v) => v.measure === 'GMV' as KpiMetric)!.value).toBe(p.value);
      }
    }
  });

  it('the reporting schema gives BI tools the same daily numbers', async () => {
    const r = await t.gql(KpiDocument, { metric: 'ACTIVE_USERS' as KpiMetric, range, grain: 'DAY' as KpiGrain }, key);
    const g = await t.gql(KpiDocument, { metric: 'GMV' as KpiMetric, range, grain: 'DAY' as KpiGrain }, key);
    const rows: { day: string; active_users: string; gmv: string }[] = await t.app.db.dataSource.manager.query(
      `SELECT to_char(day, 'YYYY-MM-DD') AS day, active_users, gmv FROM reporting.daily_activity WHERE workspace_id = $1`,
      [ws],
    );
    const byDay = new Map(rows.map((x) => [x.day, x]));
    for (const [i, p] of r.data!.kpi.total.points.entries()) {
      const v = byDay.get(p.localStart.slice(0, 10));
      expect(Number(v?.active_users ?? 0)).toBe(p.value);
      expect(Number(v?.gmv ?? 0)).toBeCloseTo(g.data!.kpi.total.points[i].value!, 6);
    }
    const grants: { ok: boolean }[] = await t.app.db.dataSource.manager.query(`SELECT has_table_privilege('siyu_reporting', 'reporting.daily_activity', 'SELECT') AS ok`);
    expect(grants[0].ok).toBe(true);
    const raw: { ok: boolean }[] = await t.app.db.dataSource.manager.query(`SELECT has_table_privilege('siyu_reporting', 'events', 'SELECT') AS ok`);
    expect(raw[0].ok).toBe(false);
  });

  it('complaints and sentiment after `recompute --parts kpis` still equal the recomputation, by day, channel and tag', async () => {
    const run = await t.app.services.recompute.run(ws, { parts: ['kpis'] });
    expect(run.stopped).toBe(false);
    const wrong: string[] = [];
    for (const metric of ['COMPLAINT_RATE', 'NEGATIVE_SENTIMENT_SHARE', 'ORDERS', 'NPS'] as KpiMetric[]) {
      for (const breakdown of ['CHANNEL', 'TAG'] as KpiBreakdown[]) {
        const r = await t.gql(KpiDocument, { metric, range, grain: 'DAY' as KpiGrain, breakdown }, key);
        expect(r.errors).toBeUndefined();
        wrong.push(...check(r.data!.kpi, { mode: 'NONE', value: '' }, DAY));
        for (const s of r.data!.kpi.breakdown) wrong.push(...check(r.data!.kpi, { mode: breakdown as 'CHANNEL' | 'TAG', value: s.key! }, DAY));
      }
    }
    expect(wrong).toEqual([]);
  });

  it('retention cohorts and funnels', async () => {
    const c = await t.gql(RetentionCohortsDocument, { range: { from: range.from, to: range.to }, grain: 'DAY' as KpiGrain, periods: 3 }, key);
    expect(c.errors).toBeUndefined();
    const cohorts = c.data!.retentionCohorts.cohorts;
    expect(cohorts).toHaveLength(41);
    const n = await t.gql(KpiDocument, { metric: 'NEW_PROFILES' as KpiMetric, range, grain: 'DAY' as KpiGrain }, key);
    cohorts.forEach((row, i) => expect(row.size).toBe(n.data!.kpi.total.points[i].value));
    const d1 = cohorts.find((x) => x.size > 0 && x.retention[1] !== null)!;
    expect(d1.retention[0]).toBe(1);
    const f = await t.gql(FunnelDocument, { steps: ['Product Viewed', 'Order Completed'], range, withinHours: 24 * 30 }, key);
    expect(f.errors).toBeUndefined();
    const [a, b] = f.data!.funnel;
    expect(a.count).toBeGreaterThan(b.count);
    expect(b.conversionFromPrevious).toBeCloseTo(b.count / a.count, 9);
  });
});

describe('KPI input errors', () => {
  it('rejects bad ranges and arguments with a typed code and the field', async () => {
    const { adminKey } = await t.newWorkspace('kpi-errors');
    const cases: [Record<string, unknown>, string][] = [
      [{ metric: 'DAU' as KpiMetric, range: { from: '2026-13-01', to: '2026-12-01' }, grain: 'DAY' as KpiGrain }, 'range.from'],
      [{ metric: 'DAU' as KpiMetric, range: { from: '2026-11-10', to: '2026-11-01' }, grain: 'DAY' as KpiGrain }, 'range.to'],
      [{ metric: 'DAU' as KpiMetric, range: { from: '2000-01-01', to: '2026-11-01' }, grain: 'HOUR' as KpiGrain }, 'range.to'],
    ];
    for (const [vars, field] of cases) {
      const r = await t.gql(KpiDocument, vars as never, adminKey);
      expect(r.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'INVALID_KPI_RANGE', fields: [{ field }] });
    }
  });
});
