import type { EntityManager } from 'typeorm';
import type { BatchEvent } from '../events';
import { LocalDays } from '../../shared/zone';
import type { HealthComponentValue, ProfileHealthInputs, ProfileHealthValue, WorkspaceAggregates } from './health.score';
import type { HealthSettings } from './health.settings';

export interface ProfileHealthRow {
  profile_id: string;
  score: string;
  tier: string;
  components: HealthComponentValue[];
  computed_at: Date;
}

/**
 * Order value of an `Order Completed` event, as ingest validated it: `properties.revenue`, else
 * `properties.total` (a JSON number or numeric string), rounded to cents.
 */
const REVENUE = `(SELECT CASE jsonb_typeof(v) WHEN 'number' THEN round((v #>> '{}')::numeric, 2)
    WHEN 'string' THEN CASE WHEN (v #>> '{}') ~ '^\\s*([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][+-]?[0-9]+)?\\s*$' THEN round(trim(v #>> '{}')::numeric, 2) ELSE 0 END
    ELSE 0 END
  FROM (SELECT CASE WHEN jsonb_typeof(e.properties -> 'revenue') IN ('number', 'string') THEN e.properties -> 'revenue' ELSE e.properties -> 'total' END AS v) x)`;

const ORDER_EVENT = 'Order Completed';

/** Days of buckets kept per person: the longest window (90 days) and its edge day, with a day to spare for any zone. */
export const KEEP_DAYS = 92;

/** A person's day buckets: local day → [events per name, order value of the day]. */
export type DayBuckets = Record<string, [Record<string, number>, number]>;

const cents = (x: number) => Math.round(x * 100) / 100;

function addEvent(days: DayBuckets, day: string, name: string, n: number, spend: number): void {
  const d = (days[day] ??= [{}, 0]);
  d[0][name] = (d[0][name] ?? 0) + n;
  d[1] = cents(d[1] + spend);
}

/** `into` with `from`'s counts and order values added (a new object; `into` is not changed). */
function mergeDays(into: DayBuckets, from: DayBuckets): DayBuckets {
  const out: DayBuckets = {};
  for (const [day, [names, spend]] of Object.entries(into)) out[day] = [{ ...names }, spend];
  for (const [day, [names, spend]] of Object.entries(from)) {
    const d = (out[day] ??= [{}, 0]);
    for (const [name, n] of Object.entries(names)) d[0][name] = (d[0][name] ?? 0) + n;
    d[1] = cents(d[1] + spend);
  }
  return out;
}

const DAY_MS = 86_400_000;

/** The score's windows at `now`: each one's start (30 and 90 days of 24 hours back) and the local day it starts in. */
interface Windows {
  c30: Date;
  e30: string;
  c90: Date;
  e90: string;
}

function windowsAt(tz: string, now: Date): Windows {
  const local = new LocalDays(tz);
  const c30 = new Date(now.getTime() - 30 * DAY_MS);
  const c90 = new Date(now.getTime() - 90 * DAY_MS);
  return { c30, e30: local.of(c30.getTime()), c90, e90: local.of(c90.getTime()) };
}

/** A person's bucket sums over the whole local days after each window's first day (that day is read from events). */
function dayTotals(days: DayBuckets, w: Windows, interactions: ReadonlySet<string>): { i30: number; d30: number; s90: number } {
  let i30 = 0;
  let d30 = 0;
  let s90 = 0;
  for (const [day, [names, spend]] of Object.entries(days)) {
    if (day <= w.e90) continue;
    s90 = cents(s90 + spend);
    if (day <= w.e30) continue;
    d30++;
    for (const [name, n] of Object.entries(names)) if (interactions.has(name)) i30 += n;
  }
  return { i30, d30, s90 };
}

/** The first kept day: days before it (UTC date `KEEP_DAYS` before `now`, a day to spare in any zone) are dropped. */
const cutoffDay = (now: Date) => new Date(now.getTime() - KEEP_DAYS * 86_400_000).toISOString().slice(0, 10);

interface InputRow {
  id: string;
  last_seen_at: Date | null;
  interactions30: number;
  active_days30: number;
  spend90: string;
  invitees: number;
}

function toInputs(r: InputRow): ProfileHealthInputs {
  return { profileId: r.id, lastSeenAt: r.last_seen_at, interactions30: r.interactions30, activeDays30: r.active_days30, spend90: Number(r.spend90), invitees: r.invitees };
}

/** SQL of the health module: set-based reads of score inputs and one-statement writes. */
export class HealthRepository {
  async settings(em: EntityManager, ws: string): Promise<{ settings: Partial<HealthSettings> | null; version: number }> {
    const [r] = await em.query(`SELECT settings, version FROM health_settings WHERE workspace_id = $1`, [ws]);
    return { settings: r?.settings ?? null, version: r ? Number(r.version) : 0 };
  }

  /** Stores new settings and returns the new settings version. */
  async saveSettings(em: EntityManager, ws: string, s: HealthSettings): Promise<number> {
    const [r] = await em.query(
      `INSERT INTO health_settings (workspace_id, settings, version) VALUES ($1, $2::jsonb, 1)
       ON CONFLICT (workspace_id) DO UPDATE SET settings = EXCLUDED.settings, version = health_settings.version + 1, updated_at = now()
       RETURNING version`,
      [ws, JSON.stringify(s)],
    );
    return Number(r.version);
  }

  /**
   * Score inputs of the live profiles among `ids`: from the day buckets (`health_state`) when they
   * are consistent with the workspace's zone, else from events (`inputsFromEvents`). `known` holds
   * buckets the caller has just written in this transaction (the batch's people): they are not read again.
   */
  async inputs(em: EntityManager, ws: string, ids: string[], now: Date, interactionEvents: string[], known?: ReadonlyMap<string, DayBuckets>): Promise<ProfileHealthInputs[]> {
    if (!ids.length) return [];
    const zone = await this.dayZone(em, ws);
    if (!zone.consistent) return this.inputsFromEvents(em, ws, ids, now, interactionEvents);
    const w = windowsAt(zone.tz, now);
    const unknown = known ? ids.filter((id) => !known.has(id)) : ids;
    const stored = unknown.length ? await this.states(em, ws, unknown) : new Map<string, DayBuckets>();
    const interactions = new Set(interactionEvents);
    const totals = ids.map((id) => ({ p: id, ...dayTotals(known?.get(id) ?? stored.get(id) ?? {}, w, interactions) }));
    const rows: InputRow[] = await em.query(
      // Whole local days after the day each window starts in come from the person's buckets (summed above); that first
      // day from the person's events after the window's start (at most a day of them, events_profile_ts_idx).
      `WITH w AS (SELECT time_zone AS tz FROM workspaces WHERE id = $1)
       SELECT p.id, p.last_seen_at,
              (coalesce(d.i30, 0) + coalesce(x30.interactions, 0))::int AS interactions30,
              (coalesce(d.d30, 0) + coalesce(x30.active, 0))::int AS active_days30,
              (coalesce(d.s90, 0) + coalesce(x90.spend, 0))::text AS spend90, coalesce(inv.n, 0)::int AS invitees
       FROM (SELECT DISTINCT u.id FROM unnest($2::uuid[]) AS u(id)) ids
       JOIN profiles p ON p.workspace_id = $1 AND p.id = ids.id AND p.merged_into IS NULL
       CROSS JOIN w
       LEFT JOIN (SELECT DISTINCT ON (t.p) t.* FROM jsonb_to_recordset($4::jsonb) AS t(p uuid, i30 int, d30 int, s90 numeric)) d ON d.p = ids.id
       LEFT JOIN LATERAL (
         SELECT count(*) FILTER (WHERE e.name = ANY($3::text[])) AS interactions, (count(*) > 0)::int AS active
         FROM events e WHERE e.workspace_id = $1 AND e.profile_id = ids.id
           AND e.ts > $5::timestamptz AND e.ts < (($6::date + 1)::timestamp AT TIME ZONE w.tz)) x30 ON true
       LEFT JOIN LATERAL (
         SELECT sum(${REVENUE}) FILTER (WHERE e.name = 'Order Completed') AS spend
         FROM events e WHERE e.workspace_id = $1 AND e.profile_id = ids.id
           AND e.ts > $7::timestamptz AND e.ts < (($8::date + 1)::timestamp AT TIME ZONE w.tz)) x90 ON true
       LEFT JOIN LATERAL (
         SELECT count(DISTINCT r.to_profile_id) AS n FROM relations r
         WHERE r.workspace_id = $1 AND r.kind = 'invited' AND r.from_profile_id = ids.id AND r.to_profile_id <> r.from_profile_id) inv ON true`,
      [ws, ids, interactionEvents, JSON.stringify(totals), w.c30, w.e30, w.c90, w.e90],
    );
    return rows.map(toInputs);
  }

  /** The workspace's zone, and whether the day buckets are in it (no state yet: nothing was bucketed, any zone is fine). */
  private async dayZone(em: EntityManager, ws: string): Promise<{ tz: string; consistent: boolean }> {
    const [r]: { tz: string; ok: boolean }[] = await em.query(
      `SELECT w.time_zone AS tz, s.workspace_id IS NULL OR s.time_zone IS NOT DISTINCT FROM w.time_zone AS ok FROM workspaces w LEFT JOIN health_day_state s ON s.workspace_id = w.id WHERE w.id = $1`,
      [ws],
    );
    return { tz: r?.tz ?? 'UTC', consistent: !!r?.ok };
  }

  /**
   * Applies a batch to the day buckets, in the workspace's zone: merged-away people's buckets become
   * their survivors' (added to what the survivor has), then the batch's events (carrying their
   * survivor ids) are added. Writing in a zone other than the buckets' marks them inconsistent until
   * a rebuild (`markDaysConsistent`). Each person's row is read once, merged and written back whole
   * (the workspace's write lock serialises writers), with days older than `KEEP_DAYS` dropped: one
   * read and one write for the batch, one row per person. Returns the buckets it wrote, by person.
   */
  async applyBatch(
    em: EntityManager,
    ws: string,
    merged: readonly { mergedId: string; survivorId: string }[],
    events: readonly Pick<BatchEvent, 'profileId' | 'ts' | 'name' | 'revenue'>[],
    now: Date,
  ): Promise<Map<string, DayBuckets>> {
    const batch = new Map<string, DayBuckets>();
    if (events.length) {
      const [{ tz }]: { tz: string }[] = await em.query(
        `WITH w AS (SELECT time_zone AS tz FROM workspaces WHERE id = $1),
         s AS (INSERT INTO health_day_state AS s (workspace_id, time_zone) SELECT $1, tz FROM w
               ON CONFLICT (workspace_id) DO UPDATE SET time_zone = NULL WHERE s.time_zone IS DISTINCT FROM EXCLUDED.time_zone RETURNING 1)
         SELECT tz FROM w, (SELECT count(*) FROM s) c`,
        [ws],
      );
      const local = new LocalDays(tz);
      for (const e of events) {
        let days = batch.get(e.profileId);
        if (!days) batch.set(e.profileId, (days = {}));
        addEvent(days, local.of(e.ts.getTime()), e.name ?? '', 1, e.name === ORDER_EVENT && e.revenue !== null ? e.revenue : 0);
      }
    }
    if (!batch.size && !merged.length) return batch;
    const stored = await this.states(em, ws, [...new Set([...merged.flatMap((m) => [m.mergedId, m.survivorId]), ...batch.keys()])]);
    const out = new Map<string, DayBuckets>();
    const current = (p: string) => out.get(p) ?? stored.get(p) ?? {};
    for (const m of merged) {
      const from = out.get(m.mergedId) ?? stored.get(m.mergedId);
      out.delete(m.mergedId);
      if (from) out.set(m.survivorId, mergeDays(current(m.survivorId), from));
    }
    for (const [p, days] of batch) out.set(p, mergeDays(current(p), days));
    if (merged.length) await em.query(`DELETE FROM health_state WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[])`, [ws, merged.map((m) => m.mergedId)]);
    const cutoff = cutoffDay(now);
    for (const [p, days] of out) out.set(p, Object.fromEntries(Object.entries(days).filter(([day]) => day >= cutoff)));
    await this.writeStates(em, ws, [...out]);
    return out;
  }

  /** Rebuilds people's day buckets from their events of the last `KEEP_DAYS` days (unmerge, recompute). */
  async rebuildDays(em: EntityManager, ws: string, ids: readonly string[], now: Date): Promise<void> {
    if (!ids.length) return;
    await em.query(`DELETE FROM health_state WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[])`, [ws, ids]);
    await em.query(
      `INSERT INTO health_state (workspace_id, profile_id, days)
       SELECT $1, p, jsonb_object_agg(to_char(day, 'YYYY-MM-DD'), v)
       FROM (SELECT p, day, jsonb_build_array(jsonb_object_agg(name, n), sum(spend)) AS v
             FROM (SELECT e.profile_id AS p, (e.ts AT TIME ZONE w.time_zone)::date AS day, coalesce(e.name, '') AS name, count(*) AS n,
                          coalesce(sum(${REVENUE}) FILTER (WHERE e.name = 'Order Completed'), 0) AS spend
                   FROM unnest($2::uuid[]) AS u(id)
                   JOIN events e ON e.workspace_id = $1 AND e.profile_id = u.id AND e.ts > $3::timestamptz - make_interval(days => $4)
                   CROSS JOIN (SELECT time_zone FROM workspaces WHERE id = $1) w
                   GROUP BY 1, 2, 3) x
             GROUP BY p, day) d
       GROUP BY p`,
      [ws, ids, now, KEEP_DAYS],
    );
  }

  /** The stored day buckets of `ids` (people without any are absent). */
  private async states(em: EntityManager, ws: string, ids: readonly string[]): Promise<Map<string, DayBuckets>> {
    const rows: { profile_id: string; days: DayBuckets }[] = await em.query(
      `SELECT profile_id, days FROM health_state WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[])`,
      [ws, ids],
    );
    return new Map(rows.map((r) => [r.profile_id, r.days]));
  }

  /** Writes people's whole day buckets. */
  private async writeStates(em: EntityManager, ws: string, states: readonly (readonly [string, DayBuckets])[]): Promise<void> {
    if (!states.length) return;
    const rows = states.map(([p, d]) => ({ p, d }));
    await em.query(
      `INSERT INTO health_state AS h (workspace_id, profile_id, days)
       SELECT $1, u.p, u.d FROM jsonb_to_recordset($2::jsonb) AS u(p uuid, d jsonb)
       ON CONFLICT (workspace_id, profile_id) DO UPDATE SET days = EXCLUDED.days`,
      [ws, JSON.stringify(rows)],
    );
  }

  /** Marks the day buckets consistent with the workspace's zone (every person was rebuilt in it). */
  async markDaysConsistent(em: EntityManager, ws: string): Promise<void> {
    await em.query(
      `INSERT INTO health_day_state AS s (workspace_id, time_zone) SELECT id, time_zone FROM workspaces WHERE id = $1
       ON CONFLICT (workspace_id) DO UPDATE SET time_zone = EXCLUDED.time_zone`,
      [ws],
    );
  }

  /**
   * Score inputs of the live profiles among `ids` from their events of the last 90 days (the definition; the path before a rebuild).
   * Windows are 30 and 90 days of 24 hours back from `now`, whatever the database session's zone.
   */
  async inputsFromEvents(em: EntityManager, ws: string, ids: string[], now: Date, interactionEvents: string[]): Promise<ProfileHealthInputs[]> {
    if (!ids.length) return [];
    const rows: InputRow[] = await em.query(
      // Driven from the id list: one primary-key probe and one index range scan per person
      // (events_profile_ts_idx), whatever the planner believes about the workspace's size.
      `SELECT p.id, p.last_seen_at, coalesce(ev.interactions30, 0)::int AS interactions30, coalesce(ev.active_days30, 0)::int AS active_days30,
              coalesce(ev.spend90, 0)::text AS spend90, coalesce(inv.n, 0)::int AS invitees
       FROM (SELECT DISTINCT u.id FROM unnest($2::uuid[]) AS u(id)) ids
       JOIN profiles p ON p.workspace_id = $1 AND p.id = ids.id AND p.merged_into IS NULL
       CROSS JOIN (SELECT time_zone FROM workspaces WHERE id = $1) w
       LEFT JOIN LATERAL (
         SELECT count(*) FILTER (WHERE e.ts > $3::timestamptz AND e.name = ANY($4::text[])) AS interactions30,
                count(DISTINCT (e.ts AT TIME ZONE w.time_zone)::date) FILTER (WHERE e.ts > $3::timestamptz) AS active_days30,
                coalesce(sum(${REVENUE}) FILTER (WHERE e.name = 'Order Completed'), 0) AS spend90
         FROM events e
         WHERE e.workspace_id = $1 AND e.profile_id = ids.id AND e.ts > $5::timestamptz) ev ON true
       LEFT JOIN LATERAL (
         SELECT count(DISTINCT r.to_profile_id) AS n FROM relations r
         WHERE r.workspace_id = $1 AND r.kind = 'invited' AND r.from_profile_id = ids.id AND r.to_profile_id <> r.from_profile_id) inv ON true`,
      [ws, ids, new Date(now.getTime() - 30 * DAY_MS), interactionEvents, new Date(now.getTime() - 90 * DAY_MS)],
    );
    return rows.map(toInputs);
  }

  /** Inviters named by `invited` relations that these events created (their referral changed). */
  async invitersOf(em: EntityManager, ws: string, messageIds: string[]): Promise<string[]> {
    if (!messageIds.length) return [];
    const rows: { id: string }[] = await em.query(
      // One index probe per message id: as `event_message_id = ANY(…)`, the planner chose to read
      // every invitation of the workspace (or every relation), a cost that grew with its history.
      // OFFSET 0 keeps the subquery apart, so the join stays a loop over the batch's ids.
      `SELECT DISTINCT r.id FROM unnest($2::text[]) AS m(id)
       CROSS JOIN LATERAL (SELECT from_profile_id AS id FROM relations
                           WHERE workspace_id = $1 AND event_message_id = m.id AND kind = 'invited' AND from_profile_id IS NOT NULL OFFSET 0) r`,
      [ws, messageIds],
    );
    return rows.map((r) => r.id);
  }

  /** One upsert for all values. */
  async upsert(em: EntityManager, ws: string, values: ProfileHealthValue[], version: number, now: Date): Promise<void> {
    if (!values.length) return;
    await em.query(
      `INSERT INTO profile_health (workspace_id, profile_id, score, tier, components, settings_version, computed_at)
       SELECT $1, u.p, u.s, u.t, u.c, $3, $4 FROM jsonb_to_recordset($2::jsonb) AS u(p uuid, s numeric, t text, c jsonb)
       ON CONFLICT (workspace_id, profile_id) DO UPDATE SET score = EXCLUDED.score, tier = EXCLUDED.tier, components = EXCLUDED.components,
         settings_version = EXCLUDED.settings_version, computed_at = EXCLUDED.computed_at`,
      [ws, JSON.stringify(values.map((v) => ({ p: v.profileId, s: v.score, t: v.tier, c: v.components }))), version, now],
    );
  }

  async remove(em: EntityManager, ws: string, ids: string[]): Promise<void> {
    if (!ids.length) return;
    await em.query(`DELETE FROM profile_health WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[])`, [ws, ids]);
  }

  /** Sweep order: live profiles computed with older settings (or never) first, then the oldest `computed_at`. */
  async sweepCandidates(em: EntityManager, ws: string, version: number, limit: number): Promise<string[]> {
    const rows: { id: string }[] = await em.query(
      `SELECT p.id FROM profiles p LEFT JOIN profile_health h ON h.workspace_id = p.workspace_id AND h.profile_id = p.id
       WHERE p.workspace_id = $1 AND p.merged_into IS NULL
       ORDER BY (h.settings_version IS NOT DISTINCT FROM $2) ASC, h.computed_at ASC NULLS FIRST, p.seq
       LIMIT $3`,
      [ws, version, limit],
    );
    return rows.map((r) => r.id);
  }

  /** Live profiles after `afterSeq` (creation order) not yet computed with settings `version`. */
  async staleChunk(em: EntityManager, ws: string, version: number, afterSeq: number, limit: number): Promise<{ id: string; seq: number }[]> {
    const rows: { id: string; seq: string }[] = await em.query(
      `SELECT p.id, p.seq FROM profiles p LEFT JOIN profile_health h ON h.workspace_id = p.workspace_id AND h.profile_id = p.id
       WHERE p.workspace_id = $1 AND p.merged_into IS NULL AND p.seq > $3 AND h.settings_version IS DISTINCT FROM $2
       ORDER BY p.seq LIMIT $4`,
      [ws, version, afterSeq, limit],
    );
    return rows.map((r) => ({ id: r.id, seq: Number(r.seq) }));
  }

  async recomputeStatus(em: EntityManager, ws: string, version: number): Promise<{ done: number; total: number }> {
    const [r] = await em.query(
      `SELECT (SELECT count(*) FROM profiles WHERE workspace_id = $1 AND merged_into IS NULL)::int AS total,
              (SELECT count(*) FROM profile_health WHERE workspace_id = $1 AND settings_version = $2)::int AS done`,
      [ws, version],
    );
    return { done: Math.min(r.done, r.total), total: r.total };
  }

  healthOf(em: EntityManager, ws: string, ids: readonly string[]): Promise<ProfileHealthRow[]> {
    return em.query(`SELECT profile_id, score::text AS score, tier, components, computed_at FROM profile_health WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[])`, [ws, ids]);
  }

  /** Profile counts and the 30-day activity of a workspace (one statement). */
  async aggregates(em: EntityManager, ws: string, now: Date): Promise<WorkspaceAggregates> {
    const [r] = await em.query(
      `WITH p AS (
         SELECT count(*) AS profiles, count(*) FILTER (WHERE order_count >= 1) AS buyers, count(*) FILTER (WHERE order_count >= 2) AS repeaters
         FROM profiles WHERE workspace_id = $1 AND merged_into IS NULL),
       d AS (
         SELECT DISTINCT e.profile_id, (e.ts AT TIME ZONE w.time_zone)::date AS day
         FROM events e JOIN workspaces w ON w.id = e.workspace_id
         WHERE e.workspace_id = $1 AND e.ts > $2::timestamptz - interval '30 days' AND e.ts <= $2::timestamptz)
       SELECT p.profiles::int, p.buyers::int, p.repeaters::int,
              (SELECT count(DISTINCT profile_id) FROM d)::int AS active30, (SELECT count(*) FROM d)::int AS profile_days30
       FROM p`,
      [ws, now],
    );
    return { profiles: r.profiles, buyers: r.buyers, repeaters: r.repeaters, active30: r.active30, profileDays30: r.profile_days30 };
  }
}
