import type { EntityManager } from 'typeorm';
import type { BatchEvent } from '../events';
import { survivorOf } from '../profiles';
import { INTERACTION_EVENTS, NPS_EVENT, REFERRAL_KINDS, type Base, type Family } from './kpi.catalogue';
import { KpiSetRepository, oneDimPerKey, setsCanAnswer } from './kpi.sets';
import { HourDeltas, hourMeasures, toHourRow } from './kpi.hours';
import { KpiWindowRepository } from './kpi.windows';
import { KpiRefRepository } from './kpi.refs';
import { KpiFunnelRepository } from './kpi.funnels';
import { KpiVariantRepository, VARIANT_FAMILIES } from './kpi.variants';
import { localDate } from '../../shared/zone';
import { addSignals, noSignals, signalAddUp, signalCols, signalSums, signalTypes, SIGNALS } from './kpi.signals';
import { ingestMeasures } from './kpi.ingest';
import { orgGroups } from './kpi.org';

export { byMembership } from './kpi.sets';

export type Breakdown = 'NONE' | 'CHANNEL' | 'TOUCHPOINT' | 'STAGE' | 'LEVEL' | 'TAG' | 'SEGMENT' | 'EXPERIMENT_VARIANT' | 'ORG_NODE' | 'STAFF';
export type Grain = 'HOUR' | 'DAY' | 'WEEK' | 'MONTH';

export interface KpiFilterSpec {
  channels?: string[] | null;
  touchpoints?: string[] | null;
  stage?: string | null;
  /** Membership level key: only people currently holding it. */
  level?: string | null;
  tag?: string | null;
  segment?: string | null;
  /** Experiment key: only people exposed to it and not contaminated; the key EXPERIMENT_VARIANT splits by. */
  experiment?: string | null;
  /** Variant key of `experiment`: only people whose first exposure was to it. */
  variant?: string | null;
  /** Org node key: only activity at the touchpoints of its subtree (kpi.org.ts turns it into a touchpoint list). */
  orgNode?: string | null;
  /** Staff id: only people whose current owner (`profile_owners`) it is. */
  staff?: string | null;
}

/** People exposed to experiment `$exp` and not contaminated, with their variant (`k`); `$exp` is the experiment key's parameter. */
const exposed = (exp: string) => `SELECT profile_id, variant_key AS k FROM experiment_exposures WHERE workspace_id = $1 AND experiment_key = ${exp} AND NOT contaminated`;

/** One bucket of a series: local bounds (workspace time zone) and the UTC instants they map to. */
export interface Bucket {
  i: number;
  localStart: string;
  localEnd: string;
  s: Date;
  e: Date;
  /** Start of the previous bucket (same grain, unclipped), for churn. */
  ps: Date;
  /** Window starts: 7 and 30 days before bucket end; silence boundary 30 days before start. */
  w7: Date;
  w30: Date;
  quiet: Date;
  days: number;
  /** Local dates (YYYY-MM-DD) of `ps` and `quiet`, for the day sets. */
  localPrevStart: string;
  localQuiet: string;
}

/** The touchpoint of an event: `context.touchpoint` when it is a string, else ''. */
export function touchpointOf(context: Record<string, unknown> | null): string {
  const t = context?.touchpoint;
  return typeof t === 'string' ? t.slice(0, 200) : '';
}

/** An NPS score when the event is an NPS response with an integer score 0–10, else null. */
export function npsScoreOf(e: Pick<BatchEvent, 'type' | 'name' | 'properties'>): number | null {
  if (e.type !== 'track' || e.name !== NPS_EVENT) return null;
  const s = e.properties?.score;
  return typeof s === 'number' && Number.isInteger(s) && s >= 0 && s <= 10 ? s : null;
}

const HOUR = 3_600_000;

interface ActivityRow {
  h: string;
  p: string;
  c: string;
  t: string;
  ev: number;
  it: number;
  or: number;
  rv: number;
  nr: number;
  np: number;
  nd: number;
  /** Signal counts by column (kpi.signals.ts). */
  [signal: string]: string | number;
}

/** True when a filter restricts nothing (every condition absent or an empty list). */
export const unfiltered = (filter: KpiFilterSpec): boolean => !Object.values(filter).some((v) => v != null && (!Array.isArray(v) || v.length > 0));

/** SQL of the KPI module: rollup maintenance in the ingest transaction and base measures. */
export class KpiRepository {
  readonly sets = new KpiSetRepository();
  readonly windows = new KpiWindowRepository();
  readonly refs = new KpiRefRepository(this.sets);
  readonly funnels = new KpiFunnelRepository();
  readonly variants = new KpiVariantRepository();

  /** Folds the rollups of profiles merged away into their survivors (two statements). */
  async foldMerges(em: EntityManager, ws: string, merged: { mergedId: string; survivorId: string }[]): Promise<void> {
    if (!merged.length) return;
    const m = merged.map((x) => x.mergedId);
    const s = merged.map((x) => x.survivorId);
    // Ordinals: a survivor keeps its own; one without a row yet takes its first merged-away person's.
    // Every other merged-away person's day-set bits move to the survivor's ordinal.
    const rows = await this.sets.acquisitions(em, ws, [...m, ...s]);
    const known = new Map<string, number>([...rows].map(([p, r]) => [p, r.o]));
    const target = new Map<string, number>();
    const moves: { id: string; from: number; to: number }[] = [];
    for (const x of merged) {
      const from = known.get(x.mergedId);
      if (from === undefined) continue;
      const to = known.get(x.survivorId) ?? target.get(x.survivorId);
      if (to === undefined) target.set(x.survivorId, from);
      else moves.push({ id: x.mergedId, from, to });
    }
    for (const [id, o] of known) if (s.includes(id)) target.set(id, o);
    const tz = await this.sets.writeZone(em, ws);
    await this.sets.foldBuyers(em, ws, tz, merged, known, target);
    // Acquisition days: both sides' NEW bits go before the move; the survivor's are set again after the fold.
    await this.sets.moveNew(em, ws, tz, [...rows.values()].map((r) => ({ o: r.o, was: r })));
    await this.sets.moveBits(em, ws, moves);
    // Hour counts: the hours a merged-away person shares with their survivor count them once now.
    const pooled = (
      (await em.query(
        `WITH m AS (SELECT * FROM unnest($2::uuid[], $3::uuid[]) AS u(m, s)),
         mr AS (SELECT a.hour, a.profile_id, a.channel, a.touchpoint, a.interactions, a.orders, m.s FROM m JOIN kpi_activity a ON a.workspace_id = $1 AND a.profile_id = m.m)
         SELECT hour AS h, profile_id AS p, channel AS c, touchpoint AS t, interactions AS it, orders AS "or", s FROM mr
         UNION ALL
         SELECT a.hour, a.profile_id, a.channel, a.touchpoint, a.interactions, a.orders, a.profile_id
         FROM (SELECT DISTINCT s, hour FROM mr) x JOIN kpi_activity a ON a.workspace_id = $1 AND a.profile_id = x.s AND a.hour = x.hour`,
        [ws, m, s],
      )) as { h: Date; p: string; c: string; t: string; it: number; or: number; s: string }[]
    ).map((r) => ({ ...toHourRow(r), s: r.s }));
    const hours = new HourDeltas();
    hours.change(pooled, pooled, (r) => (r as (typeof pooled)[number]).s);
    await hours.write(em, ws);
    await em.query(
      `WITH m AS (SELECT * FROM unnest($2::uuid[], $3::uuid[]) AS u(m, s)),
       moved AS (DELETE FROM kpi_activity a USING m WHERE a.workspace_id = $1 AND a.profile_id = m.m
                 RETURNING a.hour, m.s, a.channel, a.touchpoint, a.events, a.interactions, a.orders, a.revenue, a.nps_responses, a.nps_promoters, a.nps_detractors${signalCols('a')})
       INSERT INTO kpi_activity AS k (workspace_id, hour, profile_id, channel, touchpoint, events, interactions, orders, revenue, nps_responses, nps_promoters, nps_detractors${signalCols()})
       SELECT $1, hour, s, channel, touchpoint, sum(events), sum(interactions), sum(orders), sum(revenue), sum(nps_responses), sum(nps_promoters), sum(nps_detractors)${SIGNALS.map((x) => `, sum(${x.col})`).join('')}
       FROM moved GROUP BY hour, s, channel, touchpoint
       ON CONFLICT (workspace_id, hour, profile_id, channel, touchpoint) DO UPDATE SET
         events = k.events + EXCLUDED.events, interactions = k.interactions + EXCLUDED.interactions, orders = k.orders + EXCLUDED.orders,
         revenue = k.revenue + EXCLUDED.revenue, nps_responses = k.nps_responses + EXCLUDED.nps_responses,
         nps_promoters = k.nps_promoters + EXCLUDED.nps_promoters, nps_detractors = k.nps_detractors + EXCLUDED.nps_detractors, ${signalAddUp('k')}`,
      [ws, m, s],
    );
    await em.query(
      `WITH m AS (SELECT * FROM unnest($2::uuid[], $3::uuid[]) AS u(m, s)),
       moved AS (DELETE FROM kpi_profiles p USING m WHERE p.workspace_id = $1 AND p.profile_id = m.m
                 RETURNING m.s, p.first_ts, p.first_channel, p.first_touchpoint)
       INSERT INTO kpi_profiles AS k (workspace_id, profile_id, first_ts, first_channel, first_touchpoint, ordinal)
       SELECT DISTINCT ON (moved.s) $1, moved.s, first_ts, first_channel, first_touchpoint, o.o
       FROM moved JOIN unnest($4::uuid[], $5::int[]) AS o(s, o) ON o.s = moved.s
       ORDER BY moved.s, first_ts, first_channel COLLATE "C", first_touchpoint COLLATE "C"
       ON CONFLICT (workspace_id, profile_id) DO UPDATE SET
         first_ts = EXCLUDED.first_ts, first_channel = EXCLUDED.first_channel, first_touchpoint = EXCLUDED.first_touchpoint
       WHERE (EXCLUDED.first_ts, EXCLUDED.first_channel COLLATE "C", EXCLUDED.first_touchpoint COLLATE "C") < (k.first_ts, k.first_channel COLLATE "C", k.first_touchpoint COLLATE "C")`,
      [ws, m, s, [...target.keys()], [...target.values()]],
    );
    const now = await this.sets.acquisitions(em, ws, [...target.keys()]);
    await this.sets.moveNew(em, ws, tz, [...now.values()].map((r) => ({ o: r.o, now: r })));
    // Active days pooled; retention counted from the survivor's acquisition as it is now.
    await this.windows.fold(em, ws, tz, merged, now);
    // Referral states: both people, and everyone the survivor invited (their inviter may have been the merged-away id).
    await this.refs.refresh(em, ws, tz, await this.refs.inviteesOf(em, ws, s), [...m, ...s]);
  }

  /**
   * Adds a batch's events to the rollups (one statement per table). `totals: false` leaves the
   * quarter totals alone (a rebuild: they never depended on who the person is); `reuse` gives back
   * rebuilt people's ordinals.
   */
  async addEvents(em: EntityManager, ws: string, events: Omit<BatchEvent, 'tags' | 'traits'>[], opts: { totals?: boolean; reuse?: Map<string, number> } = {}): Promise<void> {
    if (!events.length) return;
    const tz = await this.sets.writeZone(em, ws);
    const rows = new Map<string, ActivityRow>();
    const first = new Map<string, { ts: number; c: string; t: string }>();
    const interactions = new Set(INTERACTION_EVENTS);
    for (const e of events) {
      const t = touchpointOf(e.context);
      const ts = e.ts.getTime();
      const h = new Date(Math.floor(ts / HOUR) * HOUR).toISOString();
      const key = `${h}|${e.profileId}|${e.channel}|${t}`;
      let r = rows.get(key);
      if (!r) rows.set(key, (r = { h, p: e.profileId, c: e.channel, t, ev: 0, it: 0, or: 0, rv: 0, nr: 0, np: 0, nd: 0, ...noSignals() }));
      r.ev++;
      addSignals(r, e);
      if (e.type === 'track' && e.name && interactions.has(e.name)) r.it++;
      if (e.revenue !== null) {
        r.or++;
        r.rv = Math.round((r.rv + e.revenue) * 100) / 100;
      }
      const nps = npsScoreOf(e);
      if (nps !== null) {
        r.nr++;
        if (nps >= 9) r.np++;
        if (nps <= 6) r.nd++;
      }
      const f = first.get(e.profileId);
      if (!f || ts < f.ts || (ts === f.ts && (e.channel < f.c || (e.channel === f.c && t < f.t)))) first.set(e.profileId, { ts, c: e.channel, t });
    }
    // The rows the batch's people had in its hours come back as they were before the statement.
    const had: { h: Date; p: string; c: string; t: string; it: number; or: number }[] = await em.query(
      `WITH had AS (SELECT a.hour AS h, a.profile_id AS p, a.channel AS c, a.touchpoint AS t, a.interactions AS it, a.orders AS "or"
                    FROM (SELECT DISTINCT u.h, u.p FROM jsonb_to_recordset($2::jsonb) AS u(h timestamptz, p uuid)) u
                    JOIN kpi_activity a ON a.workspace_id = $1 AND a.hour = u.h AND a.profile_id = u.p),
       up AS (INSERT INTO kpi_activity AS k (workspace_id, hour, profile_id, channel, touchpoint, events, interactions, orders, revenue, nps_responses, nps_promoters, nps_detractors${signalCols()})
       SELECT $1, u.h, u.p, u.c, u.t, u.ev, u.it, u.or, u.rv, u.nr, u.np, u.nd${signalCols('u')}
       FROM jsonb_to_recordset($2::jsonb) AS u(h timestamptz, p uuid, c text, t text, ev int, it int, "or" int, rv numeric, nr int, np int, nd int${signalTypes()})
       ON CONFLICT (workspace_id, hour, profile_id, channel, touchpoint) DO UPDATE SET
         events = k.events + EXCLUDED.events, interactions = k.interactions + EXCLUDED.interactions, orders = k.orders + EXCLUDED.orders,
         revenue = k.revenue + EXCLUDED.revenue, nps_responses = k.nps_responses + EXCLUDED.nps_responses,
         nps_promoters = k.nps_promoters + EXCLUDED.nps_promoters, nps_detractors = k.nps_detractors + EXCLUDED.nps_detractors, ${signalAddUp('k')})
       SELECT * FROM had`,
      [ws, JSON.stringify([...rows.values()])],
    );
    // Hour counts: each person's part of an hour with the batch's rows added to the ones they had.
    const hadRows = had.map(toHourRow);
    const hours = new HourDeltas();
    hours.change(hadRows, [...hadRows, ...[...rows.values()].map((r) => ({ h: r.h, p: r.p, c: r.c, t: r.t, it: r.it, or: r.or }))]);
    await hours.write(em, ws);
    const before = await this.sets.acquisitions(em, ws, [...first.keys()]);
    const ordinal = await this.sets.ordinals(em, ws, tz, [...first.keys()], opts.reuse, before);
    // Rows inserted or moved earlier come back: their acquisition-day bits move with them.
    const changed: { p: string; ts: Date; c: string; t: string }[] = await em.query(
      `WITH up AS (INSERT INTO kpi_profiles AS k (workspace_id, profile_id, first_ts, first_channel, first_touchpoint, ordinal)
       SELECT $1, u.p, u.ts, u.c, u.t, u.o FROM jsonb_to_recordset($2::jsonb) AS u(p uuid, ts timestamptz, c text, t text, o int)
       ON CONFLICT (workspace_id, profile_id) DO UPDATE SET
         first_ts = EXCLUDED.first_ts, first_channel = EXCLUDED.first_channel, first_touchpoint = EXCLUDED.first_touchpoint
       WHERE (EXCLUDED.first_ts, EXCLUDED.first_channel COLLATE "C", EXCLUDED.first_touchpoint COLLATE "C") < (k.first_ts, k.first_channel COLLATE "C", k.first_touchpoint COLLATE "C")
       RETURNING profile_id AS p, first_ts AS ts, first_channel AS c, first_touchpoint AS t)
       SELECT * FROM up`,
      [ws, JSON.stringify([...first].map(([p, f]) => ({ p, ts: new Date(f.ts).toISOString(), c: f.c, t: f.t, o: ordinal.get(p) })))],
    );
    await this.sets.moveNew(
      em,
      ws,
      tz,
      changed.map((r) => ({ o: ordinal.get(r.p)!, was: before.get(r.p), now: r })),
    );
    // Referral states: both ends of the batch's relations, and people whose acquisition is new or moved.
    await this.refs.refresh(em, ws, tz, changed.map((r) => r.p), await this.refs.touchedBy(em, ws, events.map((e) => e.messageId)));
    await this.sets.addPeople(em, ws, tz, events, ordinal);
    await this.windows.add(em, ws, tz, events, new Map(changed.map((r) => [r.p, r])));
    await this.sets.addOrders(em, ws, tz, events, ordinal);
    if (opts.totals !== false) await this.sets.addTotals(em, ws, tz, events, npsScoreOf);
  }

  /**
   * Rebuilds the rollups of `ids` from their stored events (after an unmerge moved events back, or
   * `recompute`). Events already purged by retention are gone, so this is only used for people
   * whose events are all still stored.
   */
  async rebuild(em: EntityManager, ws: string, ids: string[]): Promise<void> {
    if (!ids.length) return;
    // Their day-set bits are cleared and set again from their events; they keep their ordinals.
    const reuse = new Map<string, number>(
      ((await em.query(`SELECT profile_id AS p, ordinal AS o FROM kpi_profiles WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[])`, [ws, ids])) as { p: string; o: number }[]).map((r) => [r.p, r.o]),
    );
    await this.sets.clearBits(em, ws, [...reuse].map(([id, o]) => ({ id, o })));
    await this.windows.drop(em, ws, ids);
    await em.query(`DELETE FROM kpi_buyers WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[])`, [ws, ids]);
    const gone: { h: Date; p: string; c: string; t: string; it: number; or: number }[] = await em.query(
      `WITH d AS (DELETE FROM kpi_activity WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[])
                  RETURNING hour AS h, profile_id AS p, channel AS c, touchpoint AS t, interactions AS it, orders AS "or")
       SELECT * FROM d`,
      [ws, ids],
    );
    const hours = new HourDeltas();
    hours.change(gone.map(toHourRow), []);
    await hours.write(em, ws);
    await em.query(`DELETE FROM kpi_profiles WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[])`, [ws, ids]);
    const rows: { message_id: string; type: string; name: string | null; channel: string; ts: Date; profile_id: string; properties: Record<string, unknown> | null; context: Record<string, unknown> | null }[] =
      await em.query(
        `SELECT message_id, type, name, channel, ts, profile_id, properties, context FROM events WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[])`,
        [ws, ids],
      );
    await this.addEvents(em, ws, rows.map(toBatchEvent), { totals: false, reuse });
    // Whom they invited: an unmerge gives those relations back to the person who sent them.
    const tz = await this.sets.writeZone(em, ws);
    await this.refs.refresh(em, ws, tz, await this.refs.inviteesOf(em, ws, ids), ids);
    await this.funnels.rebuild(em, ws, tz, ids);
  }

  /**
   * Rebuilds the quarter and day totals of a workspace from its stored events (the end of a full
   * `siyu recompute` pass, under the workspace's write lock): they never depend on who a person
   * is, so per-person rebuilds leave them alone. Pages through the events by message id.
   */
  async rebuildTotals(em: EntityManager, ws: string, page = 10_000): Promise<void> {
    await em.query(`DELETE FROM kpi_quarter_totals WHERE workspace_id = $1`, [ws]);
    await em.query(`DELETE FROM kpi_day_totals WHERE workspace_id = $1`, [ws]);
    const tz = await this.sets.writeZone(em, ws);
    let after = '';
    for (;;) {
      const rows: { message_id: string; type: string; name: string | null; channel: string; ts: Date; properties: Record<string, unknown> | null; context: Record<string, unknown> | null }[] = await em.query(
        `SELECT message_id, type, name, channel, ts, properties, context FROM events WHERE workspace_id = $1 AND message_id > $2 ORDER BY message_id LIMIT $3`,
        [ws, after, page],
      );
      if (!rows.length) return;
      after = rows[rows.length - 1].message_id;
      await this.sets.addTotals(em, ws, tz, rows.map((r) => toBatchEvent({ ...r, profile_id: '' })), npsScoreOf);
    }
  }

  /** Buckets of a local date range [from, to] at a grain, in the workspace's time zone. */
  async buckets(em: EntityManager, ws: string, from: string, to: string, grain: Grain, stepDays?: number): Promise<{ tz: string; today: string; buckets: Bucket[] }> {
    const unit = stepDays ? 'day' : grain.toLowerCase();
    const step = stepDays ? `${stepDays} days` : `1 ${unit}`;
    const rows: { ls: string; le: string; lps: string; lq: string; s: Date; e: Date; ps: Date; w7: Date; w30: Date; quiet: Date; days: number; tz: string; today: string }[] = await em.query(
      `SELECT to_char(greatest(t, $2::timestamp), 'YYYY-MM-DD"T"HH24:MI:SS') AS ls, to_char(least(t + $4::interval, $3::timestamp), 'YYYY-MM-DD"T"HH24:MI:SS') AS le,
              to_char(t - $4::interval, 'YYYY-MM-DD') AS lps, to_char(greatest(t, $2::timestamp) - interval '30 days', 'YYYY-MM-DD') AS lq,
              greatest(t, $2::timestamp) AT TIME ZONE w.time_zone AS s, least(t + $4::interval, $3::timestamp) AT TIME ZONE w.time_zone AS e,
              (t - $4::interval) AT TIME ZONE w.time_zone AS ps,
              (least(t + $4::interval, $3::timestamp) - interval '7 days') AT TIME ZONE w.time_zone AS w7,
              (least(t + $4::interval, $3::timestamp) - interval '30 days') AT TIME ZONE w.time_zone AS w30,
              (greatest(t, $2::timestamp) - interval '30 days') AT TIME ZONE w.time_zone AS quiet,
              -- Days of the bucket that have begun (a range reaching into the future averages no empty days).
              greatest(0, round(extract(epoch FROM least(t + $4::interval, $3::timestamp, (now() AT TIME ZONE w.time_zone)::date + interval '1 day') - greatest(t, $2::timestamp)) / 86400))::int AS days,
              w.time_zone AS tz, to_char(now() AT TIME ZONE w.time_zone, 'YYYY-MM-DD') AS today
       FROM (SELECT time_zone FROM workspaces WHERE id = $1) w,
            generate_series(date_trunc($5, $2::timestamp), $3::timestamp - interval '1 microsecond', $4::interval) t
       ORDER BY t`,
      [ws, `${from}T00:00:00`, `${to}T00:00:00`, step, unit],
    );
    // `to` arrives already exclusive (the day after the last day).
    return {
      tz: rows[0]?.tz ?? 'Asia/Shanghai',
      today: rows[0]?.today ?? '',
      buckets: rows.map((r, i) => ({ i: i + 1, localStart: r.ls, localEnd: r.le, s: r.s, e: r.e, ps: r.ps, w7: r.w7, w30: r.w30, quiet: r.quiet, days: grain === 'HOUR' && !stepDays ? 1 : r.days, localPrevStart: r.lps, localQuiet: r.lq })),
    };
  }

  /**
   * Cohort cells keyed `${cohort}|${j}`: `|-1` is the cohort's size (people new in bucket `cohort`),
   * `|j` how many of them are active in bucket cohort + j.
   */
  async cohortCells(em: EntityManager, ws: string, grain: 'DAY' | 'WEEK' | 'MONTH', buckets: Bucket[], cohorts: number, periods: number, scope: KpiFilterSpec): Promise<Map<string, number>> {
    const filter = await this.inOrg(em, ws, scope);
    if (!filter) return new Map();
    // Without a filter: whole buckets from the carried matrix (one row per cell), clipped ones from
    // the day sets (cost by days × chunks); otherwise per person from the hour rollup.
    if (unfiltered(filter) && (await this.sets.zones(em, ws)).consistent) {
      return (await this.sets.cohortMatrix(em, ws, grain, buckets, cohorts, periods)) ?? this.sets.cohortCells(em, ws, buckets, cohorts, periods);
    }
    const q = new MeasureSql(ws, '', buckets.slice(0, cohorts), 'NONE', filter);
    const pairs: { c: number; j: number; s: string; e: string }[] = [];
    for (let c = 1; c <= cohorts; c++) {
      for (let j = 0; j <= periods && c - 1 + j < buckets.length; j++) pairs.push({ c, j, s: buckets[c - 1 + j].s.toISOString(), e: buckets[c - 1 + j].e.toISOString() });
    }
    const st = q.cohorts(pairs);
    const rows: { c: string; j: string; n: string }[] = await em.query(st.sql, st.params);
    return new Map(rows.map((r) => [`${r.c}|${r.j}`, Number(r.n)]));
  }

  /** People reaching each step: step 1 in [s, e), each next step at or after the previous one and within `withinHours` of step 1. */
  async funnel(em: EntityManager, ws: string, steps: string[], s: Date, e: Date, withinHours: number, scope: KpiFilterSpec): Promise<number[]> {
    const filter = await this.inOrg(em, ws, scope);
    if (!filter) return steps.map(() => 0);
    const params: unknown[] = [ws, s.toISOString(), e.toISOString(), `${withinHours} hours`];
    const p = (v: unknown) => {
      params.push(v);
      return `$${params.length}`;
    };
    const chans =
      (filter.channels?.length ? ` AND e.channel = ANY(${p(filter.channels)}::text[])` : '') +
      (filter.touchpoints?.length ? ` AND (CASE WHEN jsonb_typeof(e.context->'touchpoint') = 'string' THEN left(e.context->>'touchpoint', 200) ELSE '' END) = ANY(${p(filter.touchpoints)}::text[])` : '');
    const member = filter.stage ? ` AND EXISTS (SELECT 1 FROM profile_stages x WHERE x.workspace_id = $1 AND x.profile_id = e.profile_id AND x.stage = ${p(filter.stage)})` : '';
    const level = filter.level ? ` AND EXISTS (SELECT 1 FROM profile_membership x WHERE x.workspace_id = $1 AND x.profile_id = e.profile_id AND x.level = ${p(filter.level)})` : '';
    const tag =
      (filter.tag ? ` AND EXISTS (SELECT 1 FROM profile_tags x WHERE x.workspace_id = $1 AND x.profile_id = e.profile_id AND x.tag_key = ${p(filter.tag)})` : '') +
      (filter.staff ? ` AND EXISTS (SELECT 1 FROM profile_owners x WHERE x.workspace_id = $1 AND x.profile_id = e.profile_id AND x.staff_id = ${p(filter.staff)})` : '');
    const exp = filter.experiment
      ? ` AND EXISTS (SELECT 1 FROM (${exposed(p(filter.experiment))}) x WHERE x.profile_id = e.profile_id${filter.variant ? ` AND x.k = ${p(filter.variant)}` : ''})`
      : '';
    const ctes = [
      `s0 AS (SELECT e.profile_id, min(e.ts) AS t0, min(e.ts) AS t FROM events e WHERE e.workspace_id = $1 AND e.name = ${p(steps[0])} AND e.ts >= $2::timestamptz AND e.ts < $3::timestamptz${chans}${member}${level}${tag}${exp} GROUP BY e.profile_id)`,
    ];
    for (let i = 1; i < steps.length; i++) {
      ctes.push(
        `s${i} AS (SELECT x.profile_id, x.t0, min(e.ts) AS t FROM s${i - 1} x JOIN events e ON e.workspace_id = $1 AND e.profile_id = x.profile_id AND e.name = ${p(steps[i])}
                   AND e.ts >= x.t AND e.ts <= x.t0 + $4::interval${chans} GROUP BY x.profile_id, x.t0)`,
      );
    }
    const [r] = await em.query(`WITH ${ctes.join(',\n')} SELECT ${steps.map((_, i) => `(SELECT count(*) FROM s${i})::int AS c${i}`).join(', ')}`, params);
    return steps.map((_, i) => Number(r[`c${i}`]));
  }

  /** `filter` with its org node read as the touchpoints of the node's subtree; null when none of them is left (nothing to count). */
  private async inOrg(em: EntityManager, ws: string, filter: KpiFilterSpec): Promise<KpiFilterSpec | null> {
    if (!filter.orgNode) return filter;
    const [g] = await orgGroups(em, ws, filter.orgNode, false);
    const touchpoints = (g?.touchpoints ?? []).filter((t) => !filter.touchpoints?.length || filter.touchpoints.includes(t));
    return touchpoints.length ? { ...filter, orgNode: null, touchpoints } : null;
  }

  /**
   * Base measures of every bucket × breakdown key for the families asked, keyed `${i}|${k}`. Day
   * grain and coarser, everyone or one channel/touchpoint dimension: people, DAU/WAU/MAU and totals
   * come from the day sets and quarter totals (cost by buckets); everything else from `kpi_activity`.
   */
  async measures(em: EntityManager, ws: string, tz: string, buckets: Bucket[], families: Family[], grain: Grain, breakdown: Breakdown, filter: KpiFilterSpec): Promise<Map<string, Base>> {
    const out = new Map<string, Base>();
    if (!buckets.length) return out;
    // Org nodes: each key is a group of touchpoints (kpi.org.ts), read as a touchpoint filter.
    if (filter.orgNode || breakdown === 'ORG_NODE') {
      const split = breakdown === 'ORG_NODE';
      for (const g of await orgGroups(em, ws, filter.orgNode ?? null, split)) {
        const touchpoints = filter.touchpoints?.length ? g.touchpoints.filter((t) => filter.touchpoints!.includes(t)) : g.touchpoints;
        if (!touchpoints.length) continue;
        const part = await this.measures(em, ws, tz, buckets, families, grain, split ? 'NONE' : breakdown, { ...filter, orgNode: null, touchpoints });
        for (const [k, v] of part) out.set(split ? `${k.slice(0, k.indexOf('|'))}|${g.key}` : k, v);
      }
      return out;
    }
    const add = (rows: Record<string, unknown>[], only?: Set<string>) => {
      for (const r of rows) {
        const key = `${r.i}|${r.k}`;
        const b = out.get(key) ?? {};
        for (const [name, v] of Object.entries(r)) if (name !== 'i' && name !== 'k' && v !== null && (!only || only.has(name))) b[name] = (b[name] ?? 0) + Number(v);
        out.set(key, b);
      }
    };
    const fams = new Set<Family>(families);
    if (grain === 'HOUR' && fams.has('dau')) fams.add('ppl');
    // An experiment's variants alone (no other filter), day grain and coarser: the variant rollups (kpi.variants.ts).
    if (grain !== 'HOUR' && filter.experiment && variantsAlone(breakdown, filter) && [...fams].some((f) => VARIANT_FAMILIES.has(f))) {
      const zone = await this.sets.zones(em, ws);
      if (zone.consistent && (await this.variants.ready(em, ws))) {
        const fromVariants = new Set([...fams].filter((f) => VARIANT_FAMILIES.has(f)));
        for (const f of fromVariants) fams.delete(f);
        for (const [k, v] of await this.variants.measures(em, ws, buckets, fromVariants, filter.experiment, filter.variant ?? null, breakdown === 'EXPERIMENT_VARIANT')) out.set(k, v);
      }
    }
    const fromSets = new Set<Family>();
    const zone = grain !== 'HOUR' && setsCanAnswer(breakdown, filter) && [...fams].some((f) => SET_FAMILIES.has(f)) ? await this.sets.zones(em, ws) : null;
    if (zone?.consistent) {
      // A buyer's first two orders are kept per dimension: a filter on several channels (or touchpoints) needs them across those.
      const several = (filter.channels?.length ?? 0) > 1 || (filter.touchpoints?.length ?? 0) > 1;
      for (const f of SET_FAMILIES) {
        if (several && (f === 'ord' || f === 'rep')) continue;
        if ((f === 'org' || f === 'inv' || f === 'ref') && !zone.refsReady) continue;
        if (fams.delete(f)) fromSets.add(f);
      }
    }
    if (fromSets.size) for (const [k, v] of await this.sets.measures(em, ws, buckets, fromSets, breakdown, filter, localDate(Date.now(), tz))) out.set(k, v);
    // Sessions at any grain, and the people and totals of clock hours, from the hour counts and quarter totals.
    const fromHours = new Set<Family>();
    if (setsCanAnswer(breakdown, filter)) {
      if (fams.delete('ses')) fromHours.add('ses');
      // People of a local hour that holds two clock hours (a DST fall-back) are a union: the kpi_activity path below.
      const clockHours = buckets.every((b) => b.e.getTime() - b.s.getTime() <= HOUR);
      if (grain === 'HOUR' && clockHours && oneDimPerKey(breakdown, filter) && fams.delete('ppl')) fromHours.add('ppl');
      if (grain === 'HOUR' && fams.delete('tot')) fromHours.add('tot');
    }
    if (fromHours.size) add(await hourMeasures(em, ws, buckets, fromHours, breakdown, filter));
    // Received and rejected events: per workspace and quarter hour, never per person (kpi.ingest.ts).
    if (fams.delete('ing')) add(await ingestMeasures(em, ws, buckets, breakdown, filter));
    const q = new MeasureSql(ws, tz, buckets, breakdown, filter);
    // People, totals and sessions not answered above share one statement over kpi_activity; keep the columns asked for.
    const actCols = new Set([...fams].flatMap((f) => ACT_COLUMNS[f] ?? []));
    if (actCols.size) for (const st of q.family('act', grain)) add(await em.query(st.sql, st.params), actCols);
    for (const f of fams) {
      for (const st of q.family(f, grain)) add(await em.query(st.sql, st.params));
    }
    if (grain === 'HOUR' && families.includes('dau')) {
      for (const b of out.values()) b.dauSum = b.active ?? 0;
    }
    return out;
  }
}

/** Whether a breakdown and filter name an experiment's variants and nothing else (breakdown NONE or EXPERIMENT_VARIANT). */
function variantsAlone(breakdown: Breakdown, f: KpiFilterSpec): boolean {
  return (breakdown === 'NONE' || breakdown === 'EXPERIMENT_VARIANT') && !f.channels?.length && !f.touchpoints?.length && !f.stage && !f.level && !f.tag && !f.segment && !f.staff && !f.orgNode;
}

/** Families the day sets and quarter totals answer. */
const SET_FAMILIES = new Set<Family>(['ppl', 'dau', 'wau', 'mau', 'tot', 'ord', 'rep', 'churn', 'wake', 'ret1', 'ret7', 'ret30', 'base', 'cum', 'prof', 'org', 'inv', 'ref']);

/** Columns of the `kpi_activity` people statement each family reads. */
const ACT_COLUMNS: Partial<Record<Family, string[]>> = {
  ppl: ['active', 'interacting', 'buyers'],
  tot: ['orders', 'gmv', 'npsResponses', 'npsPromoters', 'npsDetractors', ...SIGNALS.map((x) => x.base)],
  ses: ['sessions'],
};

/** A stored event as the rollups read it. */
function toBatchEvent(r: { message_id: string; type: string; name: string | null; channel: string; ts: Date; profile_id: string; properties: Record<string, unknown> | null; context: Record<string, unknown> | null }): Omit<BatchEvent, 'tags'> {
  return {
    messageId: r.message_id,
    type: r.type,
    name: r.name,
    channel: r.channel,
    ts: new Date(r.ts),
    profileId: r.profile_id,
    properties: r.properties,
    revenue: r.type === 'track' && r.name === 'Order Completed' ? revenueOf(r.properties) : null,
    traits: null,
    context: r.context,
  };
}

/** Order value as ingest validated it (`properties.revenue`, else `properties.total`). */
export function revenueOf(p: Record<string, unknown> | null): number {
  const v = p?.revenue ?? p?.total ?? 0;
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  return typeof n === 'number' && Number.isFinite(n) ? Math.round(n * 100) / 100 : 0;
}

/** Builds the statements of the base measure families; each statement gets its own parameters. */
class MeasureSql {
  params: unknown[] = [];
  private readonly dim: (() => string) | null;
  private readonly rowKey: string;
  private readonly profKey: string;

  constructor(
    private readonly ws: string,
    private readonly tz: string,
    private readonly buckets: Bucket[],
    breakdown: Breakdown,
    private readonly filter: KpiFilterSpec,
  ) {
    const fixed = (sql: string) => () => sql;
    this.dim =
      breakdown === 'STAGE'
        ? fixed(`SELECT profile_id, stage AS k FROM profile_stages WHERE workspace_id = $1`)
        : breakdown === 'LEVEL'
          ? fixed(`SELECT profile_id, level AS k FROM profile_membership WHERE workspace_id = $1 AND level IS NOT NULL`)
          : breakdown === 'TAG'
            ? fixed(`SELECT profile_id, tag_key AS k FROM profile_tags WHERE workspace_id = $1`)
            : breakdown === 'SEGMENT'
              ? fixed(`SELECT m.profile_id, s.key AS k FROM segment_members m JOIN segments s ON s.workspace_id = m.workspace_id AND s.id = m.segment_id WHERE m.workspace_id = $1`)
              : breakdown === 'EXPERIMENT_VARIANT'
                ? () => exposed(this.p(filter.experiment))
                : breakdown === 'STAFF'
                  ? fixed(`SELECT profile_id, staff_id AS k FROM profile_owners WHERE workspace_id = $1`)
                  : null;
    this.rowKey = this.dim ? 'd.k' : breakdown === 'CHANNEL' ? 'a.channel' : breakdown === 'TOUCHPOINT' ? 'a.touchpoint' : `''`;
    this.profKey = this.dim ? 'd.k' : breakdown === 'CHANNEL' ? 'p.first_channel' : breakdown === 'TOUCHPOINT' ? 'p.first_touchpoint' : `''`;
  }

  /** One statement: parameters start again at $1 = workspace, $2 = time zone. */
  private stmt(build: () => string): { sql: string; params: unknown[] } {
    this.params = [this.ws, this.tz];
    const sql = build();
    // Every parameter must be referenced for PostgreSQL to type it.
    return { sql: /\$2(?!\d)/.test(sql) ? sql : `SELECT * FROM (${sql}) q WHERE $2::text IS NOT NULL`, params: this.params };
  }

  private p(v: unknown): string {
    this.params.push(v);
    return `$${this.params.length}`;
  }

  private get B(): string {
    const col = (name: keyof Bucket) => this.p(this.buckets.map((b) => (b[name] as Date).toISOString()));
    return `unnest(${col('s')}::timestamptz[], ${col('e')}::timestamptz[], ${col('ps')}::timestamptz[], ${col('w7')}::timestamptz[], ${col('w30')}::timestamptz[], ${col('quiet')}::timestamptz[]) WITH ORDINALITY AS b(s, e, ps, w7, w30, quiet, i)`;
  }

  private dimJoin(alias: string): string {
    return this.dim ? `JOIN (${this.dim()}) d ON d.profile_id = ${alias}.profile_id` : '';
  }

  private member(alias: string): string {
    const f = this.filter;
    const c: string[] = [];
    if (f.stage) c.push(`EXISTS (SELECT 1 FROM profile_stages x WHERE x.workspace_id = $1 AND x.profile_id = ${alias}.profile_id AND x.stage = ${this.p(f.stage)})`);
    if (f.level) c.push(`EXISTS (SELECT 1 FROM profile_membership x WHERE x.workspace_id = $1 AND x.profile_id = ${alias}.profile_id AND x.level = ${this.p(f.level)})`);
    if (f.tag) c.push(`EXISTS (SELECT 1 FROM profile_tags x WHERE x.workspace_id = $1 AND x.profile_id = ${alias}.profile_id AND x.tag_key = ${this.p(f.tag)})`);
    if (f.staff) c.push(`EXISTS (SELECT 1 FROM profile_owners x WHERE x.workspace_id = $1 AND x.profile_id = ${alias}.profile_id AND x.staff_id = ${this.p(f.staff)})`);
    if (f.segment) {
      c.push(
        `EXISTS (SELECT 1 FROM segment_members x JOIN segments y ON y.workspace_id = x.workspace_id AND y.id = x.segment_id WHERE x.workspace_id = $1 AND x.profile_id = ${alias}.profile_id AND y.key = ${this.p(f.segment)})`,
      );
    }
    if (f.experiment) {
      c.push(`EXISTS (SELECT 1 FROM (${exposed(this.p(f.experiment))}) x WHERE x.profile_id = ${alias}.profile_id${f.variant ? ` AND x.k = ${this.p(f.variant)}` : ''})`);
    }
    return c.map((x) => ` AND ${x}`).join('');
  }

  /** Channel/touchpoint filter on activity rows `alias`. */
  private anyFilter(alias: string): string {
    const f = this.filter;
    return (
      (f.channels?.length ? ` AND ${alias}.channel = ANY(${this.p(f.channels)}::text[])` : '') +
      (f.touchpoints?.length ? ` AND ${alias}.touchpoint = ANY(${this.p(f.touchpoints)}::text[])` : '')
    );
  }

  private bound(name: keyof Bucket, pick: 'min' | 'max'): string {
    const ts = this.buckets.map((b) => (b[name] as Date).getTime());
    return `${this.p(new Date(pick === 'min' ? Math.min(...ts) : Math.max(...ts)).toISOString())}::timestamptz`;
  }

  /** Activity rows with their breakdown key, limited to [lo, hi). */
  private R(lo: string | null, hi: string): string {
    return `(SELECT a.profile_id, a.hour, a.channel, a.interactions, a.orders, a.revenue, a.nps_responses, a.nps_promoters, a.nps_detractors${signalCols('a')}, ${this.rowKey} AS k
             FROM kpi_activity a ${this.dimJoin('a')}
             WHERE a.workspace_id = $1 ${lo ? `AND a.hour >= ${lo}` : ''} AND a.hour < ${hi}${this.anyFilter('a')}${this.member('a')})`;
  }

  /** kpi_profiles with their breakdown key (acquisition channel/touchpoint, or current membership). */
  private P(where: string): string {
    const f = this.filter;
    const acq =
      (f.channels?.length ? ` AND p.first_channel = ANY(${this.p(f.channels)}::text[])` : '') +
      (f.touchpoints?.length ? ` AND p.first_touchpoint = ANY(${this.p(f.touchpoints)}::text[])` : '');
    return `(SELECT p.profile_id, p.first_ts, ${this.profKey} AS k FROM kpi_profiles p ${this.dimJoin('p')} WHERE p.workspace_id = $1 ${where}${acq}${this.member('p')})`;
  }

  /** Relations of `kinds` resolved to live people (to, from); self-links after merges excluded. */
  private inv(kinds: string[], toPeopleOf?: string): string {
    const only = toPeopleOf ? ` AND ${survivorOf('t')} IN (SELECT profile_id FROM ${toPeopleOf})` : '';
    return `(SELECT ${survivorOf('t')} AS to_id, ${survivorOf('f')} AS from_id, r.occurred_at, r.kind
             FROM relations r
             JOIN profiles t ON t.workspace_id = r.workspace_id AND t.id = r.to_profile_id
             JOIN profiles f ON f.workspace_id = r.workspace_id AND f.id = r.from_profile_id
             WHERE r.workspace_id = $1 AND r.kind = ANY(${this.p(kinds)}::text[]) AND ${survivorOf('t')} <> ${survivorOf('f')}${only})`;
  }

  private cur(): string {
    return `SELECT DISTINCT b.i, r.profile_id, r.k FROM ${this.B} JOIN ${this.R(this.bound('s', 'min'), this.bound('e', 'max'))} r ON r.hour >= b.s AND r.hour < b.e`;
  }

  private today(): string {
    return `(now() AT TIME ZONE $2)::date`;
  }

  /** Cohort sizes (j = -1) and active counts per (cohort, j) window. */
  cohorts(pairs: { c: number; j: number; s: string; e: string }[]): { sql: string; params: unknown[] } {
    return this.stmt(
      () => `WITH w AS (SELECT * FROM unnest(${this.p(pairs.map((x) => x.c))}::int[], ${this.p(pairs.map((x) => x.j))}::int[], ${this.p(pairs.map((x) => x.s))}::timestamptz[], ${this.p(pairs.map((x) => x.e))}::timestamptz[]) AS u(c, j, s, e)),
             c AS (SELECT w.c, p.profile_id FROM w JOIN ${this.P('')} p ON p.first_ts >= w.s AND p.first_ts < w.e WHERE w.j = 0)
      SELECT c.c, -1 AS j, count(*) AS n FROM c GROUP BY c.c
      UNION ALL
      SELECT w.c, w.j, count(DISTINCT c.profile_id) AS n FROM w JOIN c ON c.c = w.c
      WHERE EXISTS (SELECT 1 FROM kpi_activity a WHERE a.workspace_id = $1 AND a.profile_id = c.profile_id AND a.hour >= w.s AND a.hour < w.e${this.anyFilter('a')})
      GROUP BY w.c, w.j`,
    );
  }

  family(f: Family | 'act', grain: Grain): { sql: string; params: unknown[] }[] {
    return this.sqls(f, grain).map((build) => this.stmt(build));
  }

  private sqls(f: Family | 'act', grain: Grain): (() => string)[] {
    const o = () => `(SELECT r.profile_id, r.k, r.hour, r.orders, r.revenue FROM ${this.R(null, this.bound('e', 'max'))} r WHERE r.orders > 0)`;
    switch (f) {
      case 'ppl':
      case 'tot':
      case 'ses':
      case 'ing':
        return [];
      case 'act':
        return [
          () => `SELECT b.i, r.k, count(DISTINCT r.profile_id) AS active, count(DISTINCT (r.profile_id, r.channel, r.hour)) AS sessions,
                  count(DISTINCT r.profile_id) FILTER (WHERE r.interactions > 0) AS interacting,
                  count(DISTINCT r.profile_id) FILTER (WHERE r.orders > 0) AS buyers,
                  sum(r.orders) AS orders, sum(r.revenue) AS gmv,
                  sum(r.nps_responses) AS "npsResponses", sum(r.nps_promoters) AS "npsPromoters", sum(r.nps_detractors) AS "npsDetractors", ${signalSums('r')}
           FROM ${this.B} JOIN ${this.R(this.bound('s', 'min'), this.bound('e', 'max'))} r ON r.hour >= b.s AND r.hour < b.e
           GROUP BY b.i, r.k`,
        ];
      case 'dau':
        if (grain === 'HOUR') return [];
        return [
          () => `SELECT b.i, x.k, sum(x.n) AS "dauSum"
           FROM ${this.B}
           JOIN (SELECT (r.hour AT TIME ZONE $2)::date AS d, r.k, count(DISTINCT r.profile_id) AS n
                 FROM ${this.R(this.bound('s', 'min'), this.bound('e', 'max'))} r GROUP BY 1, 2) x
             ON x.d >= (b.s AT TIME ZONE $2)::date AND x.d < (b.e AT TIME ZONE $2)::date
           GROUP BY b.i, x.k`,
        ];
      case 'wau':
      case 'mau': {
        const w = f === 'wau' ? 'w7' : 'w30';
        return [
          () => `SELECT b.i, r.k, count(DISTINCT r.profile_id) AS ${f}
           FROM ${this.B} JOIN ${this.R(this.bound(w, 'min'), this.bound('e', 'max'))} r ON r.hour >= b.${w} AND r.hour < b.e
           GROUP BY b.i, r.k`,
        ];
      }
      case 'prof': {
        const p = () => this.P(`AND p.first_ts >= ${this.bound('s', 'min')} AND p.first_ts < ${this.bound('e', 'max')}`);
        return [() => `SELECT b.i, p.k, count(*) AS new FROM ${this.B} JOIN ${p()} p ON p.first_ts >= b.s AND p.first_ts < b.e GROUP BY b.i, p.k`];
      }
      case 'org': {
        const p = () => this.P(`AND p.first_ts >= ${this.bound('s', 'min')} AND p.first_ts < ${this.bound('e', 'max')}`);
        // The new people of the range first, then their incoming relations (one hash join, not a subquery per person).
        return [
          () => `WITH n AS (SELECT b.i, p.k, p.profile_id FROM ${this.B} JOIN ${p()} p ON p.first_ts >= b.s AND p.first_ts < b.e),
                v AS (SELECT v.to_id, bool_or(v.kind = 'invited') AS invited FROM ${this.inv(['invited', 'referred'], 'n')} v GROUP BY v.to_id)
           SELECT n.i, n.k, count(*) FILTER (WHERE v.to_id IS NULL) AS organic, count(*) FILTER (WHERE v.invited) AS "invitedNew"
           FROM n LEFT JOIN v ON v.to_id = n.profile_id GROUP BY n.i, n.k`,
        ];
      }
      case 'inv': {
        // The distinct inviters of the range's new people (FISSION_COEFFICIENT's denominator).
        const p = () => this.P(`AND p.first_ts >= ${this.bound('s', 'min')} AND p.first_ts < ${this.bound('e', 'max')}`);
        return [
          () => `WITH n AS (SELECT b.i, p.k, p.profile_id FROM ${this.B} JOIN ${p()} p ON p.first_ts >= b.s AND p.first_ts < b.e)
           SELECT n.i, n.k, count(DISTINCT v.from_id) AS inviters
           FROM n JOIN ${this.inv(['invited'], 'n')} v ON v.to_id = n.profile_id
           GROUP BY n.i, n.k`,
        ];
      }
      case 'base':
        // Profiles before each bucket's start and at its end: a count before the range, plus new ones.
        return [
          () => `SELECT b.i, p.k, count(*) FILTER (WHERE p.first_ts < b.s) AS before, count(*) AS "atEnd"
           FROM ${this.B} JOIN ${this.P(`AND p.first_ts < ${this.bound('e', 'max')}`)} p ON p.first_ts < b.e
           GROUP BY b.i, p.k`,
        ];
      case 'ret1':
      case 'ret7':
      case 'ret30': {
        const n = Number(f.slice(3));
        return [
          () => `SELECT b.i, p.k, count(*) FILTER (WHERE x.dn <= ${this.today()}) AS cohort${n},
                  count(*) FILTER (WHERE x.dn <= ${this.today()} AND EXISTS (
                    SELECT 1 FROM kpi_activity a WHERE a.workspace_id = $1 AND a.profile_id = p.profile_id
                      AND a.hour >= (x.dn::timestamp AT TIME ZONE $2) AND a.hour < ((x.dn + 1)::timestamp AT TIME ZONE $2)${this.anyFilter('a')})) AS ret${n}
           FROM ${this.B} JOIN ${this.P(`AND p.first_ts >= ${this.bound('s', 'min')} AND p.first_ts < ${this.bound('e', 'max')}`)} p ON p.first_ts >= b.s AND p.first_ts < b.e
           CROSS JOIN LATERAL (SELECT (p.first_ts AT TIME ZONE $2)::date + ${n} AS dn) x
           GROUP BY b.i, p.k`,
        ];
      }
      case 'churn':
        return [
          () => `WITH prev AS (SELECT DISTINCT b.i, r.profile_id, r.k FROM ${this.B} JOIN ${this.R(this.bound('ps', 'min'), this.bound('s', 'max'))} r ON r.hour >= b.ps AND r.hour < b.s),
                cur AS (${this.cur()})
           SELECT p.i, p.k, count(*) AS "prevActive", count(*) FILTER (WHERE c.i IS NULL) AS churned
           FROM prev p LEFT JOIN cur c ON c.i = p.i AND c.profile_id = p.profile_id AND c.k = p.k
           GROUP BY p.i, p.k`,
        ];
      case 'wake':
        return [
          () => `WITH hist AS (SELECT b.i, r.profile_id, r.k, max(r.hour) AS last FROM ${this.B} JOIN ${this.R(null, this.bound('s', 'max'))} r ON r.hour < b.s GROUP BY 1, 2, 3),
                silent AS (SELECT h.* FROM hist h JOIN ${this.B} ON b.i = h.i WHERE h.last < b.quiet),
                cur AS (${this.cur()})
           SELECT s.i, s.k, count(*) AS silent, count(*) FILTER (WHERE c.i IS NOT NULL) AS woken
           FROM silent s LEFT JOIN cur c ON c.i = s.i AND c.profile_id = s.profile_id AND c.k = s.k
           GROUP BY s.i, s.k`,
        ];
      case 'ord':
        return [
          () => `WITH o AS ${o()}, fo AS (SELECT profile_id, k, min(hour) AS first FROM o GROUP BY 1, 2),
                cur AS (${this.cur()})
           SELECT c.i, c.k, count(*) FILTER (WHERE fo.first IS NULL OR fo.first >= b.s) AS "convEligible",
                  count(*) FILTER (WHERE fo.first >= b.s AND fo.first < b.e) AS "firstBuyers"
           FROM cur c JOIN ${this.B} ON b.i = c.i LEFT JOIN fo ON fo.profile_id = c.profile_id AND fo.k = c.k
           GROUP BY c.i, c.k`,
        ];
      case 'rep':
        return [
          () => `WITH o AS ${o()},
                buyers AS (SELECT DISTINCT b.i, o.profile_id, o.k FROM ${this.B} JOIN o ON o.hour >= b.s AND o.hour < b.e)
           SELECT x.i, x.k, count(*) FILTER (WHERE x.n >= 2) AS "repeatBuyers"
           FROM (SELECT y.i, y.k, y.profile_id, sum(o.orders) AS n FROM buyers y JOIN ${this.B} ON b.i = y.i
                 JOIN o ON o.profile_id = y.profile_id AND o.k = y.k AND o.hour < b.e GROUP BY 1, 2, 3) x
           GROUP BY x.i, x.k`,
        ];
      case 'cum':
        return [() => `WITH o AS ${o()} SELECT b.i, o.k, sum(o.revenue) AS "cumGmv" FROM ${this.B} JOIN o ON o.hour < b.e GROUP BY b.i, o.k`];
      case 'ref': {
        return [
          () => `SELECT b.i, p.k, count(DISTINCT v.from_id) AS referrers
           FROM ${this.B} JOIN ${this.inv(REFERRAL_KINDS)} v ON v.occurred_at >= b.s AND v.occurred_at < b.e
           JOIN ${this.P('')} p ON p.profile_id = v.from_id
           GROUP BY b.i, p.k`,
        ];
      }
    }
  }

}
