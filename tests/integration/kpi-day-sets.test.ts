import { bootAppPerFile } from '../support/app';
import { DAY, HOUR } from '../support/time';
import { makeEvent } from '../support/events';
import { ingest } from '../support/api';
import { rng } from '../../src/shared/random';
import { KpiCohortMatrix1765300000000 } from '../../migrations/1765300000000-KpiCohortMatrix';
import { KpiDocument, KpisDocument, RetentionCohortsDocument, UnmergeDocument, UpdateWorkspaceDocument, type EventInput, type KpiBreakdown, type KpiGrain, type KpiMetric } from '../generated/graphql';

/**
 * The KPI day sets (per local day, exact sets of people as bitmaps) and quarter-hour totals, checked
 * against a recomputation from the raw events in the workspace's own zone: a half-hour zone
 * (Asia/Kolkata: an order at 00:15 local belongs to that day), a DST zone (America/New_York, whose
 * 2026-11-01 has 25 hours), merges, an unmerge, and a zone change with its rebuild.
 */

const t = bootAppPerFile();

const CHANNELS = ['wechat_mp', 'wecom', 'douyin', 'app'];
const INTERACTIONS = new Set(['Message Sent', 'Liked', 'Content Shared', 'Group Joined', 'Comment Posted', 'Coupon Claimed', 'Product Added']);
const METRICS: KpiMetric[] = ['ACTIVE_USERS', 'DAU', 'WAU', 'MAU', 'ORDERS', 'GMV', 'AOV', 'CONVERSION_RATE', 'INTERACTION_RATE', 'NPS', 'ARPU', 'STICKINESS', 'CHURN_RATE', 'SILENT_WAKEUP_RATE', 'SESSIONS', 'COMPLAINT_RATE', 'NEGATIVE_SENTIMENT_SHARE'];
/** Sentiment values sent: on the scale [-1, 1] (0 is not negative), outside it, and not numbers. */
const SENTIMENTS: unknown[] = [-1, -0.4, -0.01, 0, 0, 0.5, 1, 1.2, -5, '-0.5', 'sad', null];
/** A sentiment the rollups count: a number on the scale [-1, 1]. */
const scored = (x: { props: Record<string, unknown> | null }) => typeof x.props?.sentiment === 'number' && (x.props.sentiment as number) >= -1 && (x.props.sentiment as number) <= 1;
/** Metrics of each buyer's first and second order: by channel and in total (a filter on several channels reads kpi_activity). */
const ORDER_METRICS: KpiMetric[] = ['FIRST_CONVERSION_RATE', 'REPURCHASE_RATE', 'LTV'];
/** Retention: acquisition by the first event overall, so the two-channel filter is checked in kpi-recompute's way only by total and channel. */
const RETENTION: KpiMetric[] = ['RETENTION_D1', 'RETENTION_D7', 'RETENTION_D30', 'GROWTH_RATE', 'DAU_SHARE', 'REVENUE_PER_PROFILE', 'NEW_PROFILES', 'ORGANIC_SHARE', 'FISSION_COEFFICIENT', 'REFERRAL_RATE'];

function dataset(seed: number, now: number, zoneMidnights: number[]): EventInput[] {
  const r = rng(seed);
  const out: EventInput[] = [];
  let n = 0;
  const ev = (ids: string[], ts: number, over: Partial<EventInput> = {}) =>
    out.push(makeEvent({ messageId: `ds${seed}-${n++}`, timestamp: new Date(ts).toISOString(), identifiers: ids, channel: r.pick(CHANNELS), ...over }));
  for (let i = 0; i < 70; i++) {
    const member = `member_id::DS${seed}-${i}`;
    const anon = `anonymous_id::DSA${seed}-${i}`;
    const merge = r.chance(0.4);
    const k = 3 + r.int(10);
    for (let j = 0; j < k; j++) {
      const ts = now - 60_000 - r.int(40 * 24) * HOUR - r.int(3600) * 1000;
      // Anonymous visits first; the event naming both ids comes last (below), merging two profiles.
      const ids = merge && j < 2 ? [anon] : [member];
      // The member is seen in the anonymous visitor's hour too: once merged, that hour counts them once.
      if (merge && j === 0) ev([member], ts + 20_000, { name: r.chance(0.5) ? 'Liked' : 'Product Viewed' });
      const roll = r.next();
      // Referrals, with inviters who are themselves merged or not (someone else of the data set).
      const other = { type: 'member_id', value: `DS${seed}-${r.int(70)}` };
      if (roll < 0.06) ev(ids, ts, { name: 'Invite Accepted', properties: { inviter: other } });
      else if (roll < 0.09) ev(ids, ts, { name: 'Product Viewed', context: { referrer: other } });
      else if (roll < 0.12) ev(ids, ts, { name: 'Content Shared', context: { sharedBy: other } });
      else if (roll < 0.2) ev(ids, ts, { name: 'Order Completed', properties: { revenue: Math.round((5 + r.next() * 300) * 100) / 100 } });
      else if (roll < 0.3) ev(ids, ts, { name: 'NPS Submitted', properties: { score: r.int(11) } });
      else if (roll < 0.36) ev(ids, ts, { name: 'Complaint Filed', properties: { sentiment: r.pick(SENTIMENTS) } });
      else if (roll < 0.5) ev(ids, ts, { name: r.pick([...INTERACTIONS]), properties: r.chance(0.4) ? { sentiment: r.pick(SENTIMENTS) } : undefined });
      else ev(ids, ts);
    }
  }
  for (let i = 0; i < 70; i++) {
    if (out.some((e) => e.identifiers.some((x) => x.value === `DSA${seed}-${i}`))) ev([`anonymous_id::DSA${seed}-${i}`, `member_id::DS${seed}-${i}`], now - 60_000 - r.int(40 * 24) * HOUR);
  }
  ev([`member_id::DS${seed}-3`], now - 60_000);
  // Right after local midnight (00:15) and right before it (23:50), orders of known people.
  for (const m of zoneMidnights) {
    ev([`member_id::DS${seed}-1`], m + 15 * 60_000, { name: 'Order Completed', properties: { revenue: 88 } });
    ev([`member_id::DS${seed}-2`], m - 10 * 60_000, { name: 'Order Completed', properties: { revenue: 12.5 } });
  }
  return out;
}

const localDay = (ms: number, tz: string) => new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date(ms));
const addDays = (d: string, n: number) => new Date(Date.parse(`${d}T00:00:00Z`) + n * DAY).toISOString().slice(0, 10);

interface Raw {
  p: string;
  t: number;
  day: string;
  ch: string;
  /** The event's own channel (kept when a test pools channels under one key). */
  c0: string;
  /** The local day of the start of the event's clock (UTC) hour: where its session counts. */
  hday: string;
  name: string | null;
  props: Record<string, unknown> | null;
}

/** Each metric for one local day (and channel, or everyone), from raw events only. */
interface Rel {
  kind: string;
  from: string;
  to: string;
  day: string;
}

function oracle(rows: Raw[], metric: KpiMetric, day: string, channel: string | null, today = '', rels: Rel[] = []): number | null {
  const of = (from: string, to: string) => rows.filter((x) => x.day >= from && x.day <= to && (channel === null || x.ch === channel));
  const inDay = of(day, day);
  const people = (xs: Raw[]) => new Set(xs.map((x) => x.p)).size;
  const active = people(inDay);
  const orders = inDay.filter((x) => x.name === 'Order Completed');
  const gmv = Math.round(orders.reduce((s, x) => s + Number(x.props?.revenue ?? 0), 0) * 100) / 100;
  const nps = inDay.filter((x) => x.name === 'NPS Submitted').map((x) => x.props!.score as number);
  const ratio = (a: number, b: number) => (b ? a / b : null);
  const mau = people(of(addDays(day, -29), day));
  const activeSet = new Set(inDay.map((x) => x.p));
  const ordersOf = (p: string, to: string) => of('0000-00-00', to).filter((x) => x.p === p && x.name === 'Order Completed');
  const firstConv = () => {
    const eligible = [...activeSet].filter((p) => !ordersOf(p, addDays(day, -1)).length);
    return ratio(eligible.filter((p) => ordersOf(p, day).length).length, eligible.length);
  };
  const buyers = new Set(orders.map((x) => x.p));
  const repurchase = () => ratio([...buyers].filter((p) => ordersOf(p, day).length >= 2).length, buyers.size);
  const retention = (n: number) => {
    const first = new Map<string, Raw & { t: number }>();
    for (const x of rows as (Raw & { t: number })[]) {
      const f = first.get(x.p);
      if (!f || x.t < f.t || (x.t === f.t && x.ch < f.ch)) first.set(x.p, x);
    }
    if (addDays(day, n) > today) return null;
    const cohort = [...first.values()].filter((f) => f.day === day && (channel === null || f.ch === channel)).map((f) => f.p);
    const seen = new Set(rows.filter((x) => x.day === addDays(day, n)).map((x) => x.p));
    return ratio(cohort.filter((p) => seen.has(p)).length, cohort.length);
  };
  const firstDays = () => {
    const first = new Map<string, Raw>();
    for (const x of rows) {
      const f = first.get(x.p);
      if (!f || x.t < f.t || (x.t === f.t && x.ch < f.ch)) first.set(x.p, x);
    }
    return [...first.values()].filter((f) => channel === null || f.ch === channel).map((f) => f.day);
  };
  const firstOf = () => {
    const first = new Map<string, Raw>();
    for (const x of rows) {
      const f = first.get(x.p);
      if (!f || x.t < f.t || (x.t === f.t && x.ch < f.ch)) first.set(x.p, x);
    }
    return first;
  };
  switch (metric) {
    case 'ORGANIC_SHARE':
    case 'FISSION_COEFFICIENT': {
      const fresh = [...firstOf().values()].filter((f) => f.day === day && (channel === null || f.ch === channel)).map((f) => f.p);
      const into = (p: string, kinds: string[]) => rels.filter((x) => x.to === p && kinds.includes(x.kind));
      if (metric === 'ORGANIC_SHARE') return ratio(fresh.filter((p) => !into(p, ['invited', 'referred']).length).length, fresh.length);
      const invited = fresh.filter((p) => into(p, ['invited']).length);
      return ratio(invited.length, new Set(invited.flatMap((p) => into(p, ['invited']).map((x) => x.from))).size);
    }
    case 'REFERRAL_RATE': {
      // Referrers keyed by their own first channel; active people by the day's activity.
      const first = firstOf();
      const referrers = new Set(rels.filter((x) => x.day === day && first.has(x.from) && (channel === null || first.get(x.from)!.ch === channel)).map((x) => x.from));
      return ratio(referrers.size, active);
    }
    case 'NEW_PROFILES':
      return firstDays().filter((x) => x === day).length;
    case 'SESSIONS':
      // Distinct person × channel × clock hour, the hour on the local day its start falls on.
      return new Set(of(addDays(day, -1), addDays(day, 1)).filter((x) => x.hday === day).map((x) => `${x.p}|${x.c0}|${Math.floor(x.t / HOUR)}`)).size;
    case 'GROWTH_RATE': {
      const d = firstDays();
      return ratio(d.filter((x) => x === day).length, d.filter((x) => x < day).length);
    }
    case 'DAU_SHARE': {
      const n = firstDays().filter((x) => x <= day).length;
      return n ? active / n : null;
    }
    case 'REVENUE_PER_PROFILE': {
      const n = firstDays().filter((x) => x <= day).length;
      const cum = of('0000-00-00', day).filter((x) => x.name === 'Order Completed').reduce((a, x) => a + Number(x.props?.revenue ?? 0), 0);
      return n ? cum / n : null;
    }
    case 'RETENTION_D1':
      return retention(1);
    case 'RETENTION_D7':
      return retention(7);
    case 'RETENTION_D30':
      return retention(30);
    case 'FIRST_CONVERSION_RATE':
      return firstConv();
    case 'REPURCHASE_RATE':
      return repurchase();
    case 'LTV': {
      const a = firstConv();
      const b = repurchase();
      const c = ratio(gmv, orders.length);
      return a === null || b === null || c === null ? null : a * b * c;
    }
    case 'CHURN_RATE': {
      const prev = new Set(of(addDays(day, -1), addDays(day, -1)).map((x) => x.p));
      return ratio([...prev].filter((p) => !activeSet.has(p)).length, prev.size);
    }
    case 'SILENT_WAKEUP_RATE': {
      const before = new Set(of('0000-00-00', addDays(day, -1)).map((x) => x.p));
      const recent = new Set(of(addDays(day, -30), addDays(day, -1)).map((x) => x.p));
      const silent = [...before].filter((p) => !recent.has(p));
      return ratio(silent.filter((p) => activeSet.has(p)).length, silent.length);
    }
    case 'ACTIVE_USERS':
    case 'DAU':
      return active;
    case 'WAU':
      return people(of(addDays(day, -6), day));
    case 'MAU':
      return mau;
    case 'ORDERS':
      return orders.length;
    case 'GMV':
      return gmv;
    case 'AOV':
      return ratio(gmv, orders.length);
    case 'ARPU':
      return ratio(gmv, active);
    case 'CONVERSION_RATE':
      return ratio(people(orders), active);
    case 'INTERACTION_RATE':
      return ratio(people(inDay.filter((x) => INTERACTIONS.has(x.name ?? ''))), active);
    case 'NPS':
      return nps.length ? (100 * (nps.filter((s) => s >= 9).length - nps.filter((s) => s <= 6).length)) / nps.length : null;
    case 'STICKINESS':
      return mau ? active / mau : null;
    case 'COMPLAINT_RATE':
      return ratio(inDay.filter((x) => x.name === 'Complaint Filed').length, orders.length);
    case 'NEGATIVE_SENTIMENT_SHARE':
      return ratio(inDay.filter((x) => scored(x) && (x.props!.sentiment as number) < 0).length, inDay.filter(scored).length);
    default:
      throw new Error(metric);
  }
}

const close = (a: number | null | undefined, b: number | null) => (a == null || b === null ? (a ?? null) === b : Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b)));

async function rawRows(ws: string, tz: string): Promise<Raw[]> {
  const rows: { p: string; ts: Date; channel: string; name: string | null; properties: Record<string, unknown> | null }[] = await t.app.db.dataSource.manager.query(
    `SELECT profile_id AS p, ts, channel, name, properties FROM events WHERE workspace_id = $1`,
    [ws],
  );
  return rows.map((r) => ({ p: r.p, t: new Date(r.ts).getTime(), day: localDay(new Date(r.ts).getTime(), tz), ch: r.channel, c0: r.channel, hday: localDay(Math.floor(new Date(r.ts).getTime() / HOUR) * HOUR, tz), name: r.name, props: r.properties }));
}

async function rawRelations(ws: string, tz: string): Promise<Rel[]> {
  const rows: { kind: string; from: string; to: string; at: Date }[] = await t.app.db.dataSource.manager.query(
    `SELECT r.kind, coalesce(f.merged_into, f.id) AS "from", coalesce(x.merged_into, x.id) AS "to", r.occurred_at AS at
     FROM relations r JOIN profiles f ON f.workspace_id = r.workspace_id AND f.id = r.from_profile_id
     JOIN profiles x ON x.workspace_id = r.workspace_id AND x.id = r.to_profile_id
     WHERE r.workspace_id = $1 AND r.kind IN ('invited', 'referred', 'shared_to') AND coalesce(f.merged_into, f.id) <> coalesce(x.merged_into, x.id)`,
    [ws],
  );
  return rows.map((r) => ({ kind: r.kind, from: r.from, to: r.to, day: localDay(new Date(r.at).getTime(), tz) }));
}

async function mismatches(ws: string, key: string, tz: string, range: { from: string; to: string }): Promise<string[]> {
  const rows = await rawRows(ws, tz);
  const rels = await rawRelations(ws, tz);
  const today = localDay(Date.now(), tz);
  const out: string[] = [];
  for (const metric of [...METRICS, ...ORDER_METRICS, ...RETENTION]) {
    const r = await t.gql(KpiDocument, { metric, range, grain: 'DAY' as KpiGrain, breakdown: 'CHANNEL' as KpiBreakdown }, key);
    if (r.errors) throw new Error(JSON.stringify(r.errors));
    const res = r.data!.kpi;
    expect(res.timeZone).toBe(tz);
    for (const p of res.total.points) {
      const want = oracle(rows, metric, p.localStart.slice(0, 10), null, today, rels);
      if (!close(p.value, want)) out.push(`${metric} ${p.localStart}: got ${p.value}, want ${want}`);
    }
    for (const s of res.breakdown) {
      for (const p of s.points) {
        const want = oracle(rows, metric, p.localStart.slice(0, 10), s.key!, today, rels);
        if (!close(p.value, want)) out.push(`${metric} ${s.key} ${p.localStart}: got ${p.value}, want ${want}`);
      }
    }
    const back = { RETENTION_D1: 1, RETENTION_D7: 7, RETENTION_D30: 30 }[metric as string];
    if (back) {
      // A filter on one channel: people acquired there who came back there.
      const f = await t.gql(KpiDocument, { metric, range, grain: 'DAY' as KpiGrain, filter: { channels: ['wecom'] } }, key);
      if (f.errors) throw new Error(JSON.stringify(f.errors));
      const first = new Map<string, Raw>();
      for (const x of rows) {
        const was = first.get(x.p);
        if (!was || x.t < was.t || (x.t === was.t && x.ch < was.ch)) first.set(x.p, x);
      }
      for (const p of f.data!.kpi.total.points) {
        const day = p.localStart.slice(0, 10);
        const cohort = [...first.values()].filter((x) => x.day === day && x.ch === 'wecom').map((x) => x.p);
        const seen = new Set(rows.filter((x) => x.day === addDays(day, back) && x.ch === 'wecom').map((x) => x.p));
        const want = addDays(day, back) > today || !cohort.length ? null : cohort.filter((x) => seen.has(x)).length / cohort.length;
        if (!close(p.value, want)) out.push(`${metric} wecom ${p.localStart}: got ${p.value}, want ${want}`);
      }
    }
    if (ORDER_METRICS.includes(metric) || RETENTION.includes(metric)) continue;
    // A filter on two channels: people active on either, counted once.
    const f = await t.gql(KpiDocument, { metric, range, grain: 'DAY' as KpiGrain, filter: { channels: ['wecom', 'app'] } }, key);
    for (const p of f.data!.kpi.total.points) {
      const day = p.localStart.slice(0, 10);
      const two = rows.filter((x) => x.ch === 'wecom' || x.ch === 'app').map((x) => ({ ...x, ch: '*' }));
      const want = oracle(two, metric, day, '*');
      if (!close(p.value, want)) out.push(`${metric} wecom+app ${p.localStart}: got ${p.value}, want ${want}`);
    }
  }
  return out;
}

async function ingestAll(key: string, events: EventInput[]): Promise<void> {
  for (let i = 0; i < events.length; i += 200) await ingest(t, key, events.slice(i, i + 200));
}

/** Set bits (day, kind, dimension, ordinal) of ordinals no person holds, e.g. left behind by a merge. */
async function strayBits(ws: string): Promise<string[]> {
  const db = t.app.db.dataSource.manager;
  const live = new Set(((await db.query(`SELECT ordinal FROM kpi_profiles WHERE workspace_id = $1`, [ws])) as { ordinal: number }[]).map((r) => r.ordinal));
  const rows: { day: string; kind: number; dim: string; chunk: number; bits: string }[] = await db.query(
    `SELECT to_char(day, 'YYYY-MM-DD') AS day, kind, dim, chunk, bits::text AS bits FROM kpi_day_people WHERE workspace_id = $1`,
    [ws],
  );
  const out: string[] = [];
  for (const r of rows) for (let i = 0; i < r.bits.length; i++) if (r.bits[i] === '1' && !live.has(r.chunk * 4096 + i)) out.push(`${r.day} ${r.kind} ${r.dim} #${r.chunk * 4096 + i}`);
  return out;
}

/**
 * Carried counts that differ from what they count: day counts against the day sets' bits, hour counts
 * against a recount of `kpi_activity`.
 */
async function countDrift(ws: string): Promise<string[]> {
  const db = t.app.db.dataSource.manager;
  // Complaints and sentiment per person and hour (kpi_activity, which merges and unmerges move) against the person's raw events.
  const carried: { p: string; h: Date; co: number; ss: number; sn: number }[] = await db.query(
    `SELECT profile_id AS p, hour AS h, sum(complaints)::int AS co, sum(sentiment_scored)::int AS ss, sum(sentiment_negative)::int AS sn
     FROM kpi_activity WHERE workspace_id = $1 GROUP BY 1, 2 HAVING sum(complaints) + sum(sentiment_scored) + sum(sentiment_negative) > 0`,
    [ws],
  );
  const raw = new Map<string, [number, number, number]>();
  for (const x of await rawRows(ws, 'UTC')) {
    const k = `${x.p} ${new Date(Math.floor(x.t / HOUR) * HOUR).toISOString()}`;
    const c = raw.get(k) ?? [0, 0, 0];
    if (x.name === 'Complaint Filed') c[0]++;
    if (scored(x)) c[1]++;
    if (scored(x) && (x.props!.sentiment as number) < 0) c[2]++;
    if (c.some((n) => n)) raw.set(k, c);
  }
  const signals: string[] = [];
  for (const r of carried) {
    const k = `${r.p} ${new Date(r.h).toISOString()}`;
    const want = raw.get(k) ?? [0, 0, 0];
    raw.delete(k);
    if (want.join('/') !== [r.co, r.ss, r.sn].join('/')) signals.push(`signals ${k}: kept ${[r.co, r.ss, r.sn].join('/')}, raw ${want.join('/')}`);
  }
  for (const [k, want] of raw) signals.push(`signals ${k}: kept 0/0/0, raw ${want.join('/')}`);
  const days: { kind: number; dim: string; day: string; kept: number; bits: number }[] = await db.query(
    `SELECT kind, dim, to_char(day, 'YYYY-MM-DD') AS day, coalesce(c.people, 0) AS kept, coalesce(b.n, 0) AS bits
     FROM (SELECT kind, dim, day, people FROM kpi_day_counts WHERE workspace_id = $1 AND kind < 20 AND kind <> 8) c
     FULL JOIN (SELECT kind, dim, day, sum(bit_count(bits))::int AS n FROM kpi_day_people WHERE workspace_id = $1 GROUP BY 1, 2, 3) b USING (kind, dim, day)
     WHERE coalesce(c.people, 0) <> coalesce(b.n, 0)`,
    [ws],
  );
  const hours: { dim: string; hour: Date; kept: string; want: string }[] = await db.query(
    `WITH r AS (
       SELECT v.dim, a.hour, count(DISTINCT a.profile_id) AS active, count(DISTINCT a.profile_id) FILTER (WHERE a.interactions > 0) AS interacting,
              count(DISTINCT a.profile_id) FILTER (WHERE a.orders > 0) AS buyers, count(DISTINCT (a.profile_id, a.channel)) AS sessions
       FROM kpi_activity a CROSS JOIN LATERAL (VALUES (''), ('c:' || a.channel), ('t:' || a.touchpoint)) AS v(dim)
       WHERE a.workspace_id = $1 GROUP BY 1, 2),
     k AS (SELECT dim, hour, active, interacting, buyers, sessions FROM kpi_hour_counts WHERE workspace_id = $1 AND (active, interacting, buyers, sessions) <> (0, 0, 0, 0))
     SELECT dim, hour, concat_ws('/', k.active, k.interacting, k.buyers, k.sessions) AS kept, concat_ws('/', r.active, r.interacting, r.buyers, r.sessions) AS want
     FROM k FULL JOIN r USING (dim, hour)
     WHERE k.dim IS NULL OR r.dim IS NULL OR (k.active, k.interacting, k.buyers, k.sessions) <> (r.active, r.interacting, r.buyers, r.sessions)`,
    [ws],
  );
  // WAU/MAU window counts (kinds 20, 21) against the OR of the 7 or 30 days' active sets.
  const windows: { kind: number; dim: string; day: string; kept: number; bits: number }[] = await db.query(
    `WITH w(kind, n) AS (VALUES (20, 7), (21, 30)),
     b AS (SELECT w.kind, d.dim, e.day, d.chunk, bit_or(d.bits) AS u
           FROM w CROSS JOIN (SELECT DISTINCT day FROM kpi_day_people WHERE workspace_id = $1) a
           CROSS JOIN LATERAL generate_series(a.day, a.day + w.n - 1, interval '1 day') e(day)
           JOIN kpi_day_people d ON d.workspace_id = $1 AND d.kind = 0 AND d.day > e.day::date - w.n AND d.day <= e.day::date
           GROUP BY 1, 2, 3, 4),
     r AS (SELECT kind, dim, day::date AS day, sum(bit_count(u))::int AS n FROM b GROUP BY 1, 2, 3)
     SELECT kind, dim, to_char(day, 'YYYY-MM-DD') AS day, coalesce(c.people, 0) AS kept, coalesce(r.n, 0) AS bits
     FROM (SELECT kind, dim, day, people FROM kpi_day_counts WHERE workspace_id = $1 AND kind IN (20, 21)) c FULL JOIN r USING (kind, dim, day)
     WHERE coalesce(c.people, 0) <> coalesce(r.n, 0)`,
    [ws],
  );
  // Retention counts (kinds 25–30) against the AND of a cohort day's acquisition set with day n's active set.
  // Not while a zone change is pending: then a person's acquisition-day bit may stand on a day of each
  // zone (queries take the slow path until the rebuild, which clears and sets every bit again).
  const consistent = (await db.query(`SELECT time_zone FROM kpi_rollup_state WHERE workspace_id = $1`, [ws]))[0]?.time_zone != null;
  const retention: { kind: number; dim: string; day: string; kept: number; bits: number }[] = !consistent ? [] : await db.query(
    `WITH n(n, any_kind, same_kind) AS (VALUES (1, 25, 28), (7, 26, 29), (30, 27, 30)),
     r AS (SELECT CASE WHEN a.dim = '' THEN n.any_kind ELSE n.same_kind END AS kind, c.dim, c.day, sum(bit_count(c.bits & a.bits))::int AS n
           FROM n CROSS JOIN kpi_day_people c
           JOIN kpi_day_people a ON a.workspace_id = c.workspace_id AND a.kind = 0 AND a.day = c.day + n.n AND a.chunk = c.chunk AND (a.dim = '' OR (a.dim = c.dim AND c.dim <> ''))
           WHERE c.workspace_id = $1 AND c.kind = 5
           GROUP BY 1, 2, 3)
     SELECT kind, dim, to_char(day, 'YYYY-MM-DD') AS day, coalesce(c.people, 0) AS kept, coalesce(r.n, 0) AS bits
     FROM (SELECT kind, dim, day, people FROM kpi_day_counts WHERE workspace_id = $1 AND kind BETWEEN 25 AND 30) c FULL JOIN r USING (kind, dim, day)
     WHERE coalesce(c.people, 0) <> coalesce(r.n, 0)`,
    [ws],
  );
  // The cohort matrix (kinds 800–852 DAY, 900–952 WEEK, 1000–1052 MONTH) against acquisition-day bits and active bits per person.
  const matrix: { kind: number; day: string; kept: number; bits: number }[] = !consistent
    ? []
    : await db.query(
        `WITH x AS (SELECT d.kind, d.day, d.chunk * 4096 + i AS o FROM kpi_day_people d CROSS JOIN LATERAL generate_series(0, 4095) i
                    WHERE d.workspace_id = $1 AND d.kind IN (0, 5) AND d.dim = '' AND get_bit(d.bits, i) = 1),
         p AS (SELECT c.o, c.day AS c, a.day AS a FROM x c JOIN x a ON a.o = c.o AND a.kind = 0 AND a.day >= c.day WHERE c.kind = 5),
         m AS (SELECT o, c, a, (date_trunc('week', a)::date - date_trunc('week', c)::date) / 7 AS w,
                      ((extract(year FROM a) - extract(year FROM c)) * 12 + extract(month FROM a) - extract(month FROM c))::int AS mo FROM p),
         r AS (SELECT 800 + (a - c) AS kind, c AS day, count(DISTINCT o)::int AS n FROM m WHERE a - c <= 52 GROUP BY 1, 2
               UNION ALL SELECT 900 + w, date_trunc('week', c)::date, count(DISTINCT o)::int FROM m WHERE w <= 52 GROUP BY 1, 2
               UNION ALL SELECT 1000 + mo, date_trunc('month', c)::date, count(DISTINCT o)::int FROM m WHERE mo <= 52 GROUP BY 1, 2)
         SELECT kind, to_char(day, 'YYYY-MM-DD') AS day, coalesce(c.people, 0) AS kept, coalesce(r.n, 0) AS bits
         FROM (SELECT kind, day, people FROM kpi_day_counts WHERE workspace_id = $1 AND dim = '' AND kind BETWEEN 800 AND 1052) c FULL JOIN r USING (kind, day)
         WHERE coalesce(c.people, 0) <> coalesce(r.n, 0)`,
        [ws],
      );
  // Active after a first order (kind 31): a day's active bits that a FIRST_ORDER bit of an earlier day shares.
  const afterFirst: { dim: string; day: string; kept: number; bits: number }[] = !consistent
    ? []
    : await db.query(
        `WITH r AS (SELECT a.dim, a.day, sum(bit_count(a.bits & f.u))::int AS n
                    FROM kpi_day_people a
                    CROSS JOIN LATERAL (SELECT bit_or(f.bits) AS u FROM kpi_day_people f
                                        WHERE f.workspace_id = a.workspace_id AND f.kind = 3 AND f.dim = a.dim AND f.chunk = a.chunk AND f.day < a.day) f
                    WHERE a.workspace_id = $1 AND a.kind = 0 AND f.u IS NOT NULL
                    GROUP BY 1, 2)
         SELECT dim, to_char(day, 'YYYY-MM-DD') AS day, coalesce(c.people, 0) AS kept, coalesce(r.n, 0) AS bits
         FROM (SELECT dim, day, people FROM kpi_day_counts WHERE workspace_id = $1 AND kind = 31) c FULL JOIN r USING (dim, day)
         WHERE coalesce(c.people, 0) <> coalesce(r.n, 0)`,
        [ws],
      );
  // Gap counts against the bits: kinds 101–394, each person's previous day in the active, interacting or
  // buying set; 401–494 the active ones after their first order; 500–593 second orders, by days since the first;
  // 601–694 the days a person referred someone; 701–794 an inviter's days with a reference above 0.
  const gaps: { kind: number; dim: string; day: string; kept: number; bits: number }[] = !consistent
    ? []
    : await db.query(
        `WITH b AS (SELECT d.kind, d.dim, d.day, d.chunk * 4096 + i AS o FROM kpi_day_people d CROSS JOIN LATERAL generate_series(0, 4095) i
                    WHERE d.workspace_id = $1 AND d.kind IN (0, 1, 2, 3, 4, 9) AND get_bit(d.bits, i) = 1),
         f AS (SELECT dim, o, day AS first FROM b WHERE kind = 3),
         g AS (SELECT kind, dim, o, day, day - lag(day) OVER (PARTITION BY kind, dim, o ORDER BY day) AS gap FROM b WHERE kind IN (0, 1, 2, 9)),
         r AS (SELECT CASE kind WHEN 9 THEN 600 ELSE (kind + 1) * 100 END + CASE WHEN gap IS NULL THEN 94 ELSE least(gap, 93) END AS kind, dim, day, count(*)::int AS n FROM g GROUP BY 1, 2, 3
               UNION ALL
               SELECT 400 + CASE WHEN g.gap IS NULL THEN 94 ELSE least(g.gap, 93) END, g.dim, g.day, count(*)::int FROM g JOIN f USING (dim, o) WHERE g.kind = 0 AND g.day > f.first GROUP BY 1, 2, 3
               UNION ALL
               SELECT 500 + least(s.day - f.first, 93), s.dim, s.day, count(*)::int FROM b s JOIN f USING (dim, o) WHERE s.kind = 4 GROUP BY 1, 2, 3
               UNION ALL
               SELECT 700 + CASE WHEN gap IS NULL THEN 94 ELSE least(gap, 93) END, dim, day, count(*)::int
               FROM (SELECT dim, day, day - lag(day) OVER (PARTITION BY inviter, dim ORDER BY day) AS gap FROM kpi_inviter_days WHERE workspace_id = $1 AND invitees > 0) x
               GROUP BY 1, 2, 3)
         SELECT kind, dim, to_char(day, 'YYYY-MM-DD') AS day, coalesce(c.people, 0) AS kept, coalesce(r.n, 0) AS bits
         FROM (SELECT kind, dim, day, people FROM kpi_day_counts WHERE workspace_id = $1 AND kind BETWEEN 101 AND 794) c FULL JOIN r USING (kind, dim, day)
         WHERE coalesce(c.people, 0) <> coalesce(r.n, 0)`,
        [ws],
      );
  // Day totals against the quarter totals summed over each local day of the zone.
  const totals: { dim: string; day: string; kept: string; want: string }[] = !consistent
    ? []
    : await db.query(
        `WITH q AS (SELECT t.dim, (t.quarter AT TIME ZONE w.time_zone)::date AS day, sum(t.events) AS events, sum(t.orders) AS orders, sum(t.revenue) AS revenue,
                           sum(t.nps_responses) AS nr, sum(t.nps_promoters) AS np, sum(t.nps_detractors) AS nd,
                           sum(t.complaints) AS co, sum(t.sentiment_scored) AS ss, sum(t.sentiment_negative) AS sn
                    FROM kpi_quarter_totals t JOIN workspaces w ON w.id = t.workspace_id WHERE t.workspace_id = $1 GROUP BY 1, 2),
         d AS (SELECT dim, day, events, orders, revenue, nps_responses AS nr, nps_promoters AS np, nps_detractors AS nd, complaints AS co, sentiment_scored AS ss, sentiment_negative AS sn
               FROM kpi_day_totals WHERE workspace_id = $1)
         SELECT dim, to_char(day, 'YYYY-MM-DD') AS day, concat_ws('/', d.events, d.orders, d.revenue, d.nr, d.np, d.nd, d.co, d.ss, d.sn) AS kept,
                concat_ws('/', q.events, q.orders, q.revenue, q.nr, q.np, q.nd, q.co, q.ss, q.sn) AS want
         FROM d FULL JOIN q USING (dim, day)
         WHERE (d.events, d.orders, d.revenue, d.nr, d.np, d.nd, d.co, d.ss, d.sn) IS DISTINCT FROM (q.events, q.orders, q.revenue, q.nr, q.np, q.nd, q.co, q.ss, q.sn)`,
        [ws],
      );
  // Inviters per day (kind 8) against the inviter references above 0; no reference below 0.
  const inviters: { dim: string; day: string; kept: number; refs: number }[] = await db.query(
    `SELECT dim, to_char(day, 'YYYY-MM-DD') AS day, coalesce(c.people, 0) AS kept, coalesce(r.n, 0) AS refs
     FROM (SELECT dim, day, people FROM kpi_day_counts WHERE workspace_id = $1 AND kind = 8) c
     FULL JOIN (SELECT dim, day, count(*) FILTER (WHERE invitees > 0)::int AS n FROM kpi_inviter_days WHERE workspace_id = $1 GROUP BY 1, 2) r USING (dim, day)
     WHERE coalesce(c.people, 0) <> coalesce(r.n, 0)
     UNION ALL SELECT dim, to_char(day, 'YYYY-MM-DD'), invitees, -1 FROM kpi_inviter_days WHERE workspace_id = $1 AND invitees < 0`,
    [ws],
  );
  return [
    ...inviters.map((d) => `inviters ${d.day} ${d.dim}: kept ${d.kept}, references ${d.refs}`),
    ...days.map((d) => `day ${d.day} ${d.kind} ${d.dim}: kept ${d.kept}, bits ${d.bits}`),
    ...windows.map((d) => `window ${d.day} ${d.kind} ${d.dim}: kept ${d.kept}, recount ${d.bits}`),
    ...retention.map((d) => `retention ${d.day} ${d.kind} ${d.dim}: kept ${d.kept}, recount ${d.bits}`),
    ...matrix.map((d) => `cohort matrix ${d.day} ${d.kind}: kept ${d.kept}, recount ${d.bits}`),
    ...afterFirst.map((d) => `after first order ${d.day} ${d.dim}: kept ${d.kept}, recount ${d.bits}`),
    ...gaps.map((d) => `gap ${d.day} ${d.kind} ${d.dim}: kept ${d.kept}, recount ${d.bits}`),
    ...totals.map((d) => `day totals ${d.day} ${d.dim}: kept ${d.kept}, quarters ${d.want}`),
    ...hours.map((h) => `hour ${new Date(h.hour).toISOString()} ${h.dim}: kept ${h.kept}, recount ${h.want}`),
    ...signals,
  ];
}

const marker = async (ws: string): Promise<string | null> => (await t.app.db.dataSource.manager.query(`SELECT time_zone FROM kpi_rollup_state WHERE workspace_id = $1`, [ws]))[0]?.time_zone ?? null;

describe.each([
  ['Asia/Kolkata', [Date.parse('2026-11-20T18:30:00Z'), Date.parse('2026-11-27T18:30:00Z')]],
  ['America/New_York', [Date.parse('2026-11-01T04:00:00Z'), Date.parse('2026-11-02T05:00:00Z')]],
] as const)('KPI day sets in %s', (tz, midnights) => {
  let ws: string;
  let key: string;
  let range: { from: string; to: string };
  const now = Date.now();

  beforeAll(async () => {
    ({ workspaceId: ws, adminKey: key } = await t.newWorkspace(`day sets ${tz}`));
    const u = await t.gql(UpdateWorkspaceDocument, { input: { timeZone: tz } }, key);
    expect(u.errors).toBeUndefined();
    await ingestAll(key, dataset(tz.length, now, [...midnights]));
    const today = localDay(now, tz);
    range = { from: addDays(today, -41), to: today };
  });

  it('every day, channel and two-channel filter equals a recomputation from raw events in the local zone', async () => {
    const merges: { n: number }[] = await t.app.db.dataSource.manager.query(`SELECT count(*)::int AS n FROM identity_merges WHERE workspace_id = $1`, [ws]);
    expect(merges[0].n).toBeGreaterThan(10);
    expect(await marker(ws)).toBe(tz);
    expect(await mismatches(ws, key, tz, range)).toEqual([]);
    // Merges moved every bit of the merged-away people: no set holds an ordinal nobody has.
    expect(await strayBits(ws)).toEqual([]);
    expect(await countDrift(ws)).toEqual([]);
  });

  it('the reporting views give BI tools the same local days', async () => {
    const rows = await rawRows(ws, tz);
    const views: { day: string; active_users: string; gmv: string; buyers: string }[] = await t.app.db.dataSource.manager.query(
      `SELECT to_char(day, 'YYYY-MM-DD') AS day, active_users, gmv, buyers FROM reporting.daily_activity WHERE workspace_id = $1`,
      [ws],
    );
    expect(views.length).toBeGreaterThan(20);
    const wrong: string[] = [];
    for (const v of views) {
      const want = oracle(rows, 'ACTIVE_USERS', v.day, null);
      if (Number(v.active_users) !== want) {
        const near = rows.filter((x) => x.day >= addDays(v.day, -1) && x.day <= addDays(v.day, 1)).map((x) => `${new Date(x.t).toISOString()} ${x.day} ${x.p.slice(0, 8)} ${x.name}`);
        wrong.push(`${v.day}: view ${v.active_users}, raw ${want}; events near: ${near.join('; ')}`);
      }
      expect(Number(v.gmv)).toBeCloseTo(oracle(rows, 'GMV', v.day, null)!, 6);
    }
    expect(wrong).toEqual([]);
  });

  it.each([
    // Whole days, ISO weeks and calendar months read the carried cohort matrix; a week range that
    // starts mid-week has a clipped first bucket and ORs the day sets instead.
    ['DAY', 1, 9, 7],
    ['WEEK', 'monday', 27, 3],
    ['WEEK', 3, 13, 2],
    ['MONTH', 'month', 'month', 1],
  ] as const)('retention cohorts by %s equal a recomputation from raw events: first local day, then any event in the later buckets', async (grain, start, length, periods) => {
    const rows = await rawRows(ws, tz);
    const first = new Map<string, string>();
    for (const r of rows) if (!first.has(r.p) || r.day < first.get(r.p)!) first.set(r.p, r.day);
    const monday = (d: string) => addDays(d, -((new Date(`${d}T00:00:00Z`).getUTCDay() + 6) % 7));
    const nextMonth = (d: string) => {
      const x = new Date(`${d.slice(0, 7)}-01T00:00:00Z`);
      return new Date(Date.UTC(x.getUTCFullYear(), x.getUTCMonth() + 1, 1)).toISOString().slice(0, 10);
    };
    // Months: the month the data begins in and the next one (whole), whatever today's date.
    const from = start === 'monday' ? addDays(monday(range.from), 7) : start === 'month' ? `${range.from.slice(0, 8)}01` : addDays(range.from, start);
    const to = length === 'month' ? addDays(nextMonth(nextMonth(from)), -1) : addDays(from, length);
    // Buckets as the API cuts them: from `from` to `to` + 1 + periods × (1, 7, 31) days, at whole days, weeks (Monday), months.
    const ext = addDays(to, 1 + periods * (grain === 'DAY' ? 1 : grain === 'WEEK' ? 7 : 31));
    const starts: string[] = [];
    for (let d = from; d < ext; d = grain === 'DAY' ? addDays(d, 1) : grain === 'WEEK' ? addDays(monday(d), 7) : nextMonth(d)) starts.push(d);
    const bucketOf = (day: string) => (day < from || day >= ext ? -1 : starts.filter((s) => s <= day).length - 1);
    const activeIn = new Set(rows.map((r) => `${r.p}|${bucketOf(r.day)}`));
    const want = starts
      .map((s, c) => ({ s, c }))
      .filter(({ s }) => s <= to)
      .map(({ s, c }) => {
        const cohort = [...first].filter(([, d]) => bucketOf(d) === c).map(([p]) => p);
        const retention = Array.from({ length: periods + 1 }, (_, j) => (cohort.length && c + j < starts.length ? cohort.filter((p) => activeIn.has(`${p}|${c + j}`)).length / cohort.length : null));
        return [s, cohort.length, retention];
      });
    const c = await t.gql(RetentionCohortsDocument, { range: { from, to }, grain: grain as KpiGrain, periods }, key);
    expect(c.errors).toBeUndefined();
    const got = c.data!.retentionCohorts.cohorts.map((x) => [x.cohortStart.slice(0, 10), x.size, x.retention]);
    const close = (a: unknown, b: unknown) => JSON.stringify(a, (_, v) => (typeof v === 'number' ? Math.round(v * 1e9) / 1e9 : v)) === JSON.stringify(b, (_, v) => (typeof v === 'number' ? Math.round(v * 1e9) / 1e9 : v));
    expect(close(got, want) ? [] : [JSON.stringify(got), JSON.stringify(want)]).toEqual([]);
    // Not trivial: cohorts with people, and some of them back in a later bucket.
    expect(want.filter((w) => (w[1] as number) > 0).length).toBeGreaterThan(grain === 'MONTH' ? 0 : grain === 'WEEK' ? 1 : 3);
    expect(want.some((w) => (w[2] as (number | null)[]).slice(1).some((x) => (x ?? 0) > 0))).toBe(true);
  });

  it('local hours: people and sessions by clock hour, orders by instant, equal a recomputation from raw events', async () => {
    // One person in the first two clock hours after the first midnight: in New York one local hour
    // holds both on the day the clocks fall back, and counts them once.
    await ingestAll(key, [0.5, 1.5].map((h) => makeEvent({ identifiers: ['member_id::two-clock-hours'], timestamp: new Date(midnights[0] + h * HOUR).toISOString(), channel: 'app' })));
    const rows = await rawRows(ws, tz);
    const today = localDay(Date.now(), tz);
    // The two days around the first local midnight of the data set, and the last two days.
    const wrong: string[] = [];
    let checked = 0;
    for (const from of [addDays(localDay(midnights[0], tz), -1), addDays(today, -1)]) {
      for (const metric of ['ACTIVE_USERS', 'SESSIONS', 'ORDERS', 'GMV', 'CONVERSION_RATE', 'INTERACTION_RATE', 'DAU', 'COMPLAINT_RATE', 'NEGATIVE_SENTIMENT_SHARE'] as KpiMetric[]) {
        const r = await t.gql(KpiDocument, { metric, range: { from, to: addDays(from, 1) }, grain: 'HOUR' as KpiGrain, breakdown: 'CHANNEL' as KpiBreakdown }, key);
        if (r.errors) throw new Error(JSON.stringify(r.errors));
        const series = [{ key: null as string | null, points: r.data!.kpi.total.points }, ...r.data!.kpi.breakdown];
        for (const sr of series) {
          for (const p of sr.points) {
            const s = Date.parse(p.start as unknown as string);
            const e = Date.parse(p.end as unknown as string);
            const mine = rows.filter((x) => sr.key === null || x.ch === sr.key);
            // A clock hour belongs to the local hour its start falls in.
            const clock = mine.filter((x) => Math.floor(x.t / HOUR) * HOUR >= s && Math.floor(x.t / HOUR) * HOUR < e);
            const within = mine.filter((x) => x.t >= s && x.t < e);
            const people = (xs: Raw[]) => new Set(xs.map((x) => x.p)).size;
            const orders = within.filter((x) => x.name === 'Order Completed');
            const active = people(clock);
            const want: Record<string, number | null> = {
              ACTIVE_USERS: active,
              DAU: active,
              SESSIONS: new Set(clock.map((x) => `${x.p}|${x.c0}|${Math.floor(x.t / HOUR)}`)).size,
              ORDERS: orders.length,
              GMV: Math.round(orders.reduce((a, x) => a + Number(x.props?.revenue ?? 0), 0) * 100) / 100,
              CONVERSION_RATE: active ? people(clock.filter((x) => x.name === 'Order Completed')) / active : null,
              INTERACTION_RATE: active ? people(clock.filter((x) => INTERACTIONS.has(x.name ?? ''))) / active : null,
              COMPLAINT_RATE: orders.length ? within.filter((x) => x.name === 'Complaint Filed').length / orders.length : null,
              NEGATIVE_SENTIMENT_SHARE: within.some(scored) ? within.filter((x) => scored(x) && (x.props!.sentiment as number) < 0).length / within.filter(scored).length : null,
            };
            checked++;
            if (!close(p.value, want[metric])) wrong.push(`${metric} ${sr.key ?? '*'} ${p.localStart}: got ${p.value}, want ${want[metric]}`);
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(9 * 48);
    expect(wrong).toEqual([]);
  });

  it('an order just after local midnight counts on that local day', async () => {
    const day = localDay(midnights[0] + 15 * 60_000, tz);
    const r = await t.gql(KpiDocument, { metric: 'GMV' as KpiMetric, range: { from: addDays(day, -1), to: day }, grain: 'DAY' as KpiGrain }, key);
    const [before, on] = r.data!.kpi.total.points;
    const rows = (await rawRows(ws, tz)).filter((x) => x.name === 'Order Completed');
    const sum = (d: string) => Math.round(rows.filter((x) => x.day === d).reduce((s, x) => s + Number(x.props?.revenue ?? 0), 0) * 100) / 100;
    expect(on.value).toBeCloseTo(sum(day), 6);
    expect(before.value).toBeCloseTo(sum(addDays(day, -1)), 6);
    expect(rows.filter((x) => x.day === day && Number(x.props?.revenue) === 88).length).toBeGreaterThan(0);
  });

  it('two orders on a first order day make a repeat buyer that day; an earlier late order moves the first order', async () => {
    const day = localDay(midnights[1], tz);
    // Hour h of the local day `n` days after `day` (no DST change in these days).
    const at = (n: number, h: number) => new Date(midnights[1] + (n * 24 + h) * HOUR).toISOString();
    const order = (id: string, ts: string, revenue: number) => makeEvent({ identifiers: [`member_id::${id}`], timestamp: ts, channel: 'wecom', name: 'Order Completed', properties: { revenue } });
    await ingestAll(key, [order('twice-a-day', at(0, 9), 10), order('twice-a-day', at(0, 20), 11), makeEvent({ identifiers: ['member_id::late-first'], timestamp: at(0, 10), channel: 'wecom' })]);
    await ingestAll(key, [order('late-first', at(2, 12), 5)]);
    // A late-arriving order before the one above: the first order moves two days earlier.
    await ingestAll(key, [order('late-first', at(0, 11), 6)]);
    const r = await t.gql(KpiDocument, { metric: 'REPURCHASE_RATE' as KpiMetric, range: { from: day, to: addDays(day, 2) }, grain: 'DAY' as KpiGrain, breakdown: 'CHANNEL' as KpiBreakdown }, key);
    const rows = await rawRows(ws, tz);
    const today = localDay(Date.now(), tz);
    const wecom = r.data!.kpi.breakdown.find((b) => b.key === 'wecom')!;
    const got = r.data!.kpi.total.points.map((p, i) => [p.value, wecom.points[i].value]);
    const want = r.data!.kpi.total.points.map((p) => [null, 'wecom'].map((k) => oracle(rows, 'REPURCHASE_RATE', p.localStart.slice(0, 10), k, today)));
    expect(got.every((g, i) => close(g[0], want[i][0]) && close(g[1], want[i][1]))).toBe(true);
    // On that day in wecom: the person with two orders, and no one else's second order.
    expect(got[0][1]).toBeGreaterThan(0);
    expect(await mismatches(ws, key, tz, { from: addDays(day, -1), to: addDays(day, 3) })).toEqual([]);
    expect(await countDrift(ws)).toEqual([]);
  });

  it('the migration that added the cohort matrix backfills from kept days what ingest carried forward', async () => {
    const ds = t.app.db.dataSource;
    const snapshot = () => ds.query(`SELECT workspace_id, kind, to_char(day, 'YYYY-MM-DD') AS day, people FROM kpi_day_counts WHERE kind BETWEEN 800 AND 1052 AND people <> 0 ORDER BY 1, 2, 3`);
    const carried: unknown[] = await snapshot();
    expect(carried.filter((r) => (r as { workspace_id: string }).workspace_id === ws).length).toBeGreaterThan(20);
    const qr = ds.createQueryRunner();
    try {
      await qr.startTransaction();
      await new KpiCohortMatrix1765300000000().down(qr);
      await new KpiCohortMatrix1765300000000().up(qr);
      await qr.commitTransaction();
    } finally {
      await qr.release();
    }
    expect(await snapshot()).toEqual(carried);
  });

  it('a range reaching into the future counts only the days that have begun', async () => {
    const today = localDay(Date.now(), tz);
    const one = await t.gql(KpiDocument, { metric: 'DAU' as KpiMetric, range: { from: today, to: today }, grain: 'DAY' as KpiGrain }, key);
    const snap = await t.gql(KpisDocument, { metrics: ['DAU' as KpiMetric], range: { from: today, to: addDays(today, 1) } }, key);
    expect(one.data!.kpi.total.points[0].value).toBeGreaterThan(0);
    expect(snap.data!.kpis.values[0].value).toBe(one.data!.kpi.total.points[0].value);
    const week = await t.gql(KpiDocument, { metric: 'DAU' as KpiMetric, range: { from: addDays(today, 1), to: addDays(today, 3) }, grain: 'DAY' as KpiGrain }, key);
    expect(week.data!.kpi.total.points.map((p) => p.value)).toEqual([null, null, null]);
  });

  it('an unmerge gives the merged-away person their own days back', async () => {
    const [m]: { id: string }[] = await t.app.db.dataSource.manager.query(`SELECT id FROM identity_merges WHERE workspace_id = $1 AND undone_at IS NULL ORDER BY created_at LIMIT 1`, [ws]);
    const u = await t.gql(UnmergeDocument, { mergeId: m.id }, key);
    expect(u.errors).toBeUndefined();
    expect(await mismatches(ws, key, tz, range)).toEqual([]);
    expect(await strayBits(ws)).toEqual([]);
    expect(await countDrift(ws)).toEqual([]);
  });

  it('invitations follow their inviter through a merge, and back through its unmerge', async () => {
    // Two inviters, each inviting one new person on the same day; then the inviters turn out to be one person.
    const at = (min: number) => new Date(now - 2 * DAY + min * 60_000).toISOString();
    await ingestAll(key, [
      makeEvent({ identifiers: ['anonymous_id::inv-a'], timestamp: at(0) }),
      makeEvent({ identifiers: ['member_id::inv-b'], timestamp: at(1) }),
      makeEvent({ identifiers: ['member_id::inv-x'], timestamp: at(2), name: 'Invite Accepted', properties: { inviter: { type: 'anonymous_id', value: 'inv-a' } } }),
      makeEvent({ identifiers: ['member_id::inv-y'], timestamp: at(3), name: 'Invite Accepted', properties: { inviter: { type: 'member_id', value: 'inv-b' } } }),
    ]);
    const day = localDay(Date.parse(at(2)), tz);
    const fission = async () =>
      (await t.gql(KpiDocument, { metric: 'FISSION_COEFFICIENT' as KpiMetric, range: { from: day, to: day }, grain: 'DAY' as KpiGrain }, key)).data!.kpi.total.points[0].value;
    const rows = async () => oracle(await rawRows(ws, tz), 'FISSION_COEFFICIENT', day, null, '', await rawRelations(ws, tz));
    const apart = await fission();
    expect(apart).toBe(await rows());
    await ingestAll(key, [makeEvent({ identifiers: ['anonymous_id::inv-a', 'member_id::inv-b'], timestamp: at(4) })]);
    const together = await fission();
    expect(together).toBe(await rows());
    // One inviter fewer for the same invited people.
    expect(together).toBeGreaterThan(apart!);
    expect(await mismatches(ws, key, tz, range)).toEqual([]);
    const [m]: { id: string }[] = await t.app.db.dataSource.manager.query(`SELECT id FROM identity_merges WHERE workspace_id = $1 AND undone_at IS NULL ORDER BY created_at DESC LIMIT 1`, [ws]);
    expect((await t.gql(UnmergeDocument, { mergeId: m.id }, key)).errors).toBeUndefined();
    // (An unmerge gives back the relations that name the split-off person as `to` only: both
    // invitations stay with the survivor, the person who sent them in the identity graph.)
    expect(await fission()).toBe(await rows());
    expect(await mismatches(ws, key, tz, range)).toEqual([]);
    expect(await countDrift(ws)).toEqual([]);
  });

  it('someone seen only as an inviter counts as a referrer on the days they invited once their first event arrives', async () => {
    // pend-k invites two people on one day before any event of their own (a pending referral row), then shows up.
    const at = (min: number) => new Date(now - 3 * DAY + min * 60_000).toISOString();
    const inviter = { type: 'member_id', value: 'pend-k' };
    await ingestAll(key, [
      makeEvent({ identifiers: ['member_id::pend-x'], timestamp: at(0), name: 'Invite Accepted', properties: { inviter } }),
      makeEvent({ identifiers: ['member_id::pend-y'], timestamp: at(5), name: 'Invite Accepted', properties: { inviter } }),
    ]);
    const day = localDay(Date.parse(at(0)), tz);
    const referral = async () =>
      (await t.gql(KpiDocument, { metric: 'REFERRAL_RATE' as KpiMetric, range: { from: day, to: day }, grain: 'DAY' as KpiGrain }, key)).data!.kpi.total.points[0].value;
    const rows = async () => oracle(await rawRows(ws, tz), 'REFERRAL_RATE', day, null, '', await rawRelations(ws, tz));
    const before = await referral();
    expect(before).toBe(await rows());
    await ingestAll(key, [makeEvent({ identifiers: ['member_id::pend-k'], timestamp: new Date(now - 60_000).toISOString() })]);
    const after = await referral();
    expect(after).toBe(await rows());
    // One referrer more on the day they invited, with the same active people.
    expect(after).toBeGreaterThan(before ?? 0);
    expect(await mismatches(ws, key, tz, range)).toEqual([]);
    expect(await countDrift(ws)).toEqual([]);
  });

  it('a zone change keeps answers right on the slow path; the rebuild makes the day sets consistent again', async () => {
    const other = 'Asia/Shanghai';
    // Two people seen (and written to the day sets) in the old zone, merged in the new one.
    const at = (h: number) => new Date(midnights[0] + h * HOUR - 20 * 60_000).toISOString();
    await ingestAll(key, [
      makeEvent({ identifiers: ['anonymous_id::zone-a'], timestamp: at(0), name: 'Liked' }),
      makeEvent({ identifiers: ['anonymous_id::zone-a'], timestamp: at(30), name: 'Order Completed', properties: { revenue: 20 } }),
      makeEvent({ identifiers: ['member_id::zone-m'], timestamp: at(5) }),
    ]);
    expect((await t.gql(UpdateWorkspaceDocument, { input: { timeZone: other } }, key)).errors).toBeUndefined();
    await ingestAll(key, [
      makeEvent({ identifiers: ['member_id::zone-change'], timestamp: new Date(now - 5 * 60_000).toISOString(), name: 'Order Completed', properties: { revenue: 9 } }),
      makeEvent({ identifiers: ['anonymous_id::zone-a', 'member_id::zone-m'], timestamp: new Date(now - 4 * 60_000).toISOString() }),
    ]);
    expect(await marker(ws)).toBeNull();
    expect(await strayBits(ws)).toEqual([]);
    expect(await countDrift(ws)).toEqual([]);
    const today = localDay(now, other);
    const r2 = { from: addDays(today, -41), to: today };
    expect(await mismatches(ws, key, other, r2)).toEqual([]);
    const run = await t.app.services.recompute.run(ws, { parts: ['kpis'] });
    expect(run.stopped).toBe(false);
    expect(await marker(ws)).toBe(other);
    expect(await mismatches(ws, key, other, r2)).toEqual([]);
    expect(await strayBits(ws)).toEqual([]);
    expect(await countDrift(ws)).toEqual([]);
  });
});
