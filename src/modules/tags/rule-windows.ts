import assert from 'node:assert';
import type { EntityManager } from 'typeorm';
import {
  amountOf,
  counts,
  decAdd,
  decFromString,
  decToString,
  parseMeasureKey,
  ZERO,
  type Aggregate,
  type Dec,
  type Measure,
  type MeasuredEvent,
  type MeasureUse,
  type WindowSource,
} from './expression';
import { ORDER_EVENT } from './expression/vocabulary';

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
/** The `day` of a measure's all-time total. */
const ALL_TIME = -1;

/** A measure the workspace's rules read, and the state of its buckets. */
export interface MeasureState {
  key: string;
  measure: Measure;
  /** Days of buckets kept back from today (0: none, only the all-time total). */
  keepDays: number;
  allTime: boolean;
  ready: boolean;
  cursor: number;
  profilesDone: number;
  profilesTotal: number;
}

/** What the rules need of each measure: the longest window (in days kept) and whether a use reads all time. */
export function measureNeeds(uses: readonly MeasureUse[]): Map<string, { keepDays: number; allTime: boolean }> {
  const out = new Map<string, { keepDays: number; allTime: boolean }>();
  for (const u of uses) {
    const cur = out.get(u.key) ?? { keepDays: 0, allTime: false };
    // A window of h hours reaches back into ceil(h / 24) + 1 UTC days (the edge day is read from events).
    if (u.hours === null) cur.allTime = true;
    else cur.keepDays = Math.max(cur.keepDays, Math.ceil(u.hours / 24) + 1);
    out.set(u.key, cur);
  }
  return out;
}

const dayOf = (ms: number) => Math.floor(ms / DAY_MS);

interface Bucket {
  n: number;
  total: Dec;
}

/** Adds events to per-(person, measure, day) buckets, as ingest and a rebuild both do. */
function bucketEvents(events: readonly (MeasuredEvent & { profileId: string })[], measures: readonly MeasureState[], today: number): Map<string, Bucket & { profileId: string; measure: string; day: number }> {
  const out = new Map<string, Bucket & { profileId: string; measure: string; day: number }>();
  const add = (profileId: string, measure: string, day: number, amount: Dec) => {
    const k = `${profileId}|${day}|${measure}`;
    const b = out.get(k);
    if (b) {
      b.n++;
      b.total = decAdd(b.total, amount);
    } else out.set(k, { profileId, measure, day, n: 1, total: amount });
  };
  for (const e of events) {
    const day = dayOf(e.ts.getTime());
    for (const m of measures) {
      if (!counts(m.measure, e)) continue;
      const amount = amountOf(m.measure, e);
      if (m.allTime) add(e.profileId, m.key, ALL_TIME, amount);
      if (m.keepDays > 0 && day >= today - m.keepDays) add(e.profileId, m.key, day, amount);
    }
  }
  return out;
}

/**
 * A person's windowed aggregates from their buckets: whole UTC days after the day the window
 * starts in, plus that edge day's events read exactly (so `ts >= now − window` holds to the
 * millisecond, as the SQL and the event scan count).
 */
class BucketWindowSource implements WindowSource {
  readonly days = new Map<string, Map<number, Bucket>>();
  readonly edge: MeasuredEvent[] = [];

  constructor(private readonly loadedAt: number) {}

  private check(nowMs: number): void {
    // The edge days were read for the moment of loading: another moment would need other edge days.
    assert.strictEqual(nowMs, this.loadedAt, 'rule windows are read at the moment they were loaded for');
  }

  aggregate(use: MeasureUse, nowMs: number): Aggregate {
    this.check(nowMs);
    const days = this.days.get(use.key);
    if (use.hours === null) {
      const b = days?.get(ALL_TIME);
      return b ? { n: b.n, total: b.total } : { n: 0, total: ZERO };
    }
    const cutoff = nowMs - use.hours * HOUR_MS;
    const edgeDay = dayOf(cutoff);
    const edgeEnd = (edgeDay + 1) * DAY_MS;
    let n = 0;
    let total = ZERO;
    if (days) {
      for (const [day, b] of days) {
        if (day <= edgeDay) continue;
        n += b.n;
        total = decAdd(total, b.total);
      }
    }
    for (const e of this.edge) {
      const ts = e.ts.getTime();
      if (ts < cutoff || ts >= edgeEnd || !counts(use.measure, e)) continue;
      n++;
      total = decAdd(total, amountOf(use.measure, e));
    }
    return { n, total };
  }

  firstExit(use: MeasureUse & { hours: number }, nowMs: number): number | null {
    this.check(nowMs);
    const cutoff = nowMs - use.hours * HOUR_MS;
    const edgeDay = dayOf(cutoff);
    const edgeEnd = (edgeDay + 1) * DAY_MS;
    let first = Infinity;
    for (const e of this.edge) {
      const ts = e.ts.getTime();
      if (ts >= cutoff && ts < edgeEnd && ts <= nowMs && counts(use.measure, e)) first = Math.min(first, ts + use.hours * HOUR_MS + 1);
    }
    if (Number.isFinite(first)) return first;
    // The first whole day with an event: its start is no later than the event, so the moment is early, never late.
    let day = Infinity;
    for (const [d, b] of this.days.get(use.key) ?? []) if (d > edgeDay && b.n > 0 && d * DAY_MS <= nowMs) day = Math.min(day, d);
    return Number.isFinite(day) ? day * DAY_MS + use.hours * HOUR_MS + 1 : null;
  }
}

/**
 * The per-person state of rule windows (`rule_window_days`, `rule_measures`): written from each
 * batch's events, moved on merges, rebuilt from events for people whose history changed (unmerge,
 * recompute) and backfilled for measures a rule starts to read. Every method runs in the caller's
 * transaction, under the workspace's write lock.
 */
export class RuleWindowStore {
  async states(em: EntityManager, ws: string): Promise<MeasureState[]> {
    const rows: { measure: string; keep_days: number; all_time: boolean; ready: boolean; cursor_seq: string; profiles_done: number; profiles_total: number }[] = await em.query(
      `SELECT measure, keep_days, all_time, ready, cursor_seq, profiles_done, profiles_total FROM rule_measures WHERE workspace_id = $1 ORDER BY measure`,
      [ws],
    );
    return rows.map((r) => ({
      key: r.measure,
      measure: parseMeasureKey(r.measure),
      keepDays: r.keep_days,
      allTime: r.all_time,
      ready: r.ready,
      cursor: Number(r.cursor_seq),
      profilesDone: r.profiles_done,
      profilesTotal: r.profiles_total,
    }));
  }

  /**
   * Registers what the rules read: a new measure, a longer window or a first all-time use starts a
   * backfill of that measure (its buckets are incomplete until the backfill has passed every person).
   * Returns every registered measure.
   */
  async register(em: EntityManager, ws: string, uses: readonly MeasureUse[]): Promise<MeasureState[]> {
    const have = await this.states(em, ws);
    const byKey = new Map(have.map((m) => [m.key, m]));
    const grow: { key: string; keepDays: number; allTime: boolean }[] = [];
    for (const [key, need] of measureNeeds(uses)) {
      const cur = byKey.get(key);
      if (cur && cur.keepDays >= need.keepDays && (cur.allTime || !need.allTime)) continue;
      grow.push({ key, keepDays: Math.max(need.keepDays, cur?.keepDays ?? 0), allTime: need.allTime || (cur?.allTime ?? false) });
    }
    if (!grow.length) return have;
    await em.query(
      `INSERT INTO rule_measures (workspace_id, measure, keep_days, all_time, ready, cursor_seq, profiles_done, profiles_total)
       SELECT $1, u.k, u.d, u.a, false, 0, 0, (SELECT count(*)::int FROM profiles WHERE workspace_id = $1 AND merged_into IS NULL)
       FROM unnest($2::text[], $3::int[], $4::boolean[]) AS u(k, d, a)
       ON CONFLICT (workspace_id, measure) DO UPDATE SET keep_days = EXCLUDED.keep_days, all_time = EXCLUDED.all_time, ready = false,
         cursor_seq = 0, profiles_done = 0, profiles_total = EXCLUDED.profiles_total, updated_at = now()`,
      [ws, grow.map((g) => g.key), grow.map((g) => g.keepDays), grow.map((g) => g.allTime)],
    );
    return this.states(em, ws);
  }

  /** Adds a batch's events to the buckets of every registered measure (ready or being backfilled). */
  async applyEvents(em: EntityManager, ws: string, events: readonly (MeasuredEvent & { profileId: string })[], measures: readonly MeasureState[], now: Date): Promise<void> {
    if (!events.length || !measures.length) return;
    const today = dayOf(now.getTime());
    const buckets = [...bucketEvents(events, measures, today).values()];
    if (buckets.length) {
      await em.query(
        `INSERT INTO rule_window_days AS r (workspace_id, profile_id, measure, day, n, total)
         SELECT $1, u.p, u.m, u.d, u.n, u.t FROM unnest($2::uuid[], $3::text[], $4::int[], $5::int[], $6::numeric[]) AS u(p, m, d, n, t)
         ON CONFLICT (workspace_id, profile_id, measure, day) DO UPDATE SET n = r.n + EXCLUDED.n, total = r.total + EXCLUDED.total`,
        [ws, buckets.map((b) => b.profileId), buckets.map((b) => b.measure), buckets.map((b) => b.day), buckets.map((b) => b.n), buckets.map((b) => decToString(b.total))],
      );
    }
    // Days older than the longest window of their measure: only the batch's people, so the cost follows the batch.
    const people = [...new Set(events.map((e) => e.profileId))];
    const windowed = measures.filter((m) => m.keepDays > 0);
    if (windowed.length) {
      // Driven from (person, measure): a primary-key range each, whatever the planner believes.
      await em.query(
        `DELETE FROM rule_window_days r WHERE r.ctid = ANY(ARRAY(
           SELECT x.ctid FROM unnest($2::uuid[]) AS p(id) CROSS JOIN unnest($3::text[], $4::int[]) AS m(k, d)
           CROSS JOIN LATERAL (SELECT q.ctid FROM rule_window_days q
                               WHERE q.workspace_id = $1 AND q.profile_id = p.id AND q.measure = m.k AND q.day >= 0 AND q.day < m.d OFFSET 0) x))`,
        [ws, people, windowed.map((m) => m.key), windowed.map((m) => today - m.keepDays)],
      );
    }
  }

  /** Merged-away people's buckets become their survivors' (added to what the survivor has). */
  async moveOnMerge(em: EntityManager, ws: string, merged: readonly { mergedId: string; survivorId: string }[]): Promise<void> {
    if (!merged.length) return;
    await em.query(
      `WITH moved AS (
         DELETE FROM rule_window_days r USING unnest($2::uuid[], $3::uuid[]) AS m(merged, survivor)
         WHERE r.workspace_id = $1 AND r.profile_id = m.merged
         RETURNING m.survivor, r.measure, r.day, r.n, r.total)
       INSERT INTO rule_window_days AS r (workspace_id, profile_id, measure, day, n, total)
       SELECT $1, survivor, measure, day, sum(n)::int, sum(total) FROM moved GROUP BY survivor, measure, day
       ON CONFLICT (workspace_id, profile_id, measure, day) DO UPDATE SET n = r.n + EXCLUDED.n, total = r.total + EXCLUDED.total`,
      [ws, merged.map((m) => m.mergedId), merged.map((m) => m.survivorId)],
    );
  }

  /** Rebuilds some people's buckets of some measures from their events (unmerge, recompute, backfill). */
  async rebuild(em: EntityManager, ws: string, ids: readonly string[], measures: readonly MeasureState[], now: Date): Promise<void> {
    if (!ids.length || !measures.length) return;
    const today = dayOf(now.getTime());
    await em.query(`DELETE FROM rule_window_days WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[]) AND measure = ANY($3::text[])`, [ws, ids, measures.map((m) => m.key)]);
    const allTime = measures.some((m) => m.allTime);
    const since = new Date((today - Math.max(...measures.map((m) => m.keepDays))) * DAY_MS);
    const names = measures.some((m) => (m.measure.kind === 'spend' ? false : m.measure.event === null)) ? null : [...new Set(measures.map((m) => (m.measure.kind === 'spend' ? ORDER_EVENT : m.measure.event!)))];
    const rows: { profile_id: string; name: string | null; ts: Date; properties: Record<string, unknown> | null }[] = await em.query(
      `SELECT profile_id, name, ts, properties FROM events
       WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[]) AND ($3::boolean OR ts >= $4) AND ($5::text[] IS NULL OR name = ANY($5::text[]))`,
      [ws, ids, allTime, since, names],
    );
    await this.applyEvents(
      em,
      ws,
      rows.map((r) => ({ profileId: r.profile_id, name: r.name, ts: new Date(r.ts), properties: r.properties })),
      measures,
      now,
    );
  }

  /**
   * One bounded step of the backfill of measures that are not ready: the next `max` live people
   * (by `profiles.seq`) get those measures rebuilt from events; a measure whose cursor passes the
   * last person is ready. Returns whether every measure is ready.
   */
  async backfillStep(em: EntityManager, ws: string, max: number, now: Date): Promise<boolean> {
    const pending = (await this.states(em, ws)).filter((m) => !m.ready);
    if (!pending.length) return true;
    // Measures registered at different times have different cursors: the furthest behind goes first.
    const from = Math.min(...pending.map((m) => m.cursor));
    const group = pending.filter((m) => m.cursor === from);
    const chunk: { id: string; seq: string }[] = await em.query(
      `SELECT id, seq FROM profiles WHERE workspace_id = $1 AND merged_into IS NULL AND seq > $2 ORDER BY seq LIMIT $3`,
      [ws, from, max],
    );
    await this.rebuild(em, ws, chunk.map((c) => c.id), group, now);
    const done = chunk.length < max;
    const to = chunk.length ? Number(chunk[chunk.length - 1].seq) : from;
    await em.query(
      `UPDATE rule_measures SET cursor_seq = $3, profiles_done = profiles_done + $4, ready = $5,
         profiles_total = (SELECT count(*)::int FROM profiles WHERE workspace_id = $1 AND merged_into IS NULL), updated_at = now()
       WHERE workspace_id = $1 AND measure = ANY($2::text[])`,
      [ws, group.map((m) => m.key), done ? 0 : to, chunk.length, done],
    );
    return done && group.length === pending.length;
  }

  /**
   * The window sources of some people for these uses at `now`: their buckets since the earliest
   * window's edge day, and the edge days' events.
   */
  async load(em: EntityManager, ws: string, ids: readonly string[], uses: readonly MeasureUse[], now: Date): Promise<Map<string, WindowSource>> {
    const nowMs = now.getTime();
    const out = new Map<string, BucketWindowSource>();
    for (const id of ids) out.set(id, new BucketWindowSource(nowMs));
    if (!ids.length || !uses.length) return out;
    const hours = [...new Set(uses.flatMap((u) => (u.hours === null ? [] : [u.hours])))];
    const edges = hours.map((h) => {
      const cutoff = nowMs - h * HOUR_MS;
      return { day: dayOf(cutoff), from: new Date(cutoff), to: new Date((dayOf(cutoff) + 1) * DAY_MS) };
    });
    const firstDay = edges.length ? Math.min(...edges.map((e) => e.day)) : 0;
    const rows: { profile_id: string; measure: string; day: number; n: number; total: string }[] = await em.query(
      `SELECT profile_id, measure, day, n, total::text AS total FROM rule_window_days
       WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[]) AND measure = ANY($3::text[]) AND (day = -1 OR day > $4)`,
      [ws, ids, [...new Set(uses.map((u) => u.key))], firstDay],
    );
    for (const r of rows) {
      const src = out.get(r.profile_id);
      if (!src) continue;
      let days = src.days.get(r.measure);
      if (!days) src.days.set(r.measure, (days = new Map()));
      days.set(r.day, { n: r.n, total: decFromString(r.total) ?? ZERO });
    }
    if (edges.length) {
      // Each window's edge day, from its cutoff to the day's end: bounded by one day of each person's events.
      const params: unknown[] = [ws, ids];
      const ranges = edges.map((e) => {
        params.push(e.from, e.to);
        return `(ts >= $${params.length - 1} AND ts < $${params.length})`;
      });
      const evs: { profile_id: string; name: string | null; ts: Date; properties: Record<string, unknown> | null }[] = await em.query(
        `SELECT profile_id, name, ts, properties FROM events WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[]) AND (${ranges.join(' OR ')})`,
        params,
      );
      for (const e of evs) out.get(e.profile_id)?.edge.push({ name: e.name, ts: new Date(e.ts), properties: e.properties });
    }
    return out;
  }
}
