import type { EntityManager } from 'typeorm';
import type { AttributionSettings } from './attribution.settings';

/** One stored path (a row of `attribution_paths`). */
export interface PathRow {
  profile_id: string;
  conversion: string;
  anchor_at: Date;
  conversion_id: string;
  day: string;
  revenue: number;
  half_life_days: number;
  touches: [number, string, string | null, string | null][];
}

/** One event of a person as attribution reads it. */
/** The columns of an `EventRow` from events `e` of person `u.p`; `conversions`: the parameter naming the conversion events (whose properties are read). */
const eventColumns = (conversions: string) => `u.p AS profile_id, e.ts, e.message_id, e.type, e.name, e.channel,
  CASE WHEN jsonb_typeof(e.context -> 'touchpoint') = 'string' THEN nullif(e.context ->> 'touchpoint', '') END AS touchpoint,
  CASE jsonb_typeof(e.context -> 'campaign') WHEN 'string' THEN nullif(e.context ->> 'campaign', '')
       WHEN 'object' THEN nullif(e.context -> 'campaign' ->> 'name', '') END AS campaign,
  CASE WHEN e.name = ANY(${conversions}::text[]) THEN e.properties END AS properties`;

export interface EventRow {
  profile_id: string;
  ts: Date;
  message_id: string;
  type: string;
  name: string | null;
  channel: string;
  touchpoint: string | null;
  campaign: string | null;
  properties: Record<string, unknown> | null;
}

/** A change to `attribution_credits` (summed before writing). */
export interface CreditDelta {
  conversion: string;
  dimension: number;
  model: number;
  day: string;
  value: string;
  conversions: number;
  revenue: number;
}

/** A change to `attribution_sets`. */
export interface SetDelta {
  conversion: string;
  dimension: number;
  day: string;
  valueSet: string;
  paths: number;
  conversions: number;
  revenue: number;
}

const PROJECTION = 'attribution';
const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** SQL of the attribution module. */
/** Local dates, both inclusive. */
export interface DayRange {
  from: string;
  to: string;
}

const days = (buckets: DayRange[]): [string[], string[]] => [buckets.map((b) => b.from), buckets.map((b) => b.to)];

export class AttributionRepository {
  async settings(em: EntityManager, ws: string): Promise<{ settings: Partial<AttributionSettings> | null; version: number; changedAt: Date | null; changedBy: string | null; timeZone: string }> {
    const [r] = await em.query(
      `SELECT w.time_zone AS tz, s.settings, coalesce(s.version, 0) AS version, s.changed_at, s.changed_by
       FROM workspaces w LEFT JOIN LATERAL (
         SELECT settings, version, changed_at, changed_by FROM attribution_settings WHERE workspace_id = w.id ORDER BY version DESC LIMIT 1) s ON true
       WHERE w.id = $1`,
      [ws],
    );
    return { settings: r?.settings ?? null, version: r?.version ?? 0, changedAt: r?.changed_at ?? null, changedBy: r?.changed_by ?? null, timeZone: r?.tz ?? 'Asia/Shanghai' };
  }

  history(em: EntityManager, ws: string, first: number): Promise<{ version: number; settings: Partial<AttributionSettings>; changed_at: Date; changed_by: string | null }[]> {
    return em.query(`SELECT version, settings, changed_at, changed_by FROM attribution_settings WHERE workspace_id = $1 ORDER BY version DESC LIMIT $2`, [ws, first]);
  }

  async saveSettings(em: EntityManager, ws: string, settings: AttributionSettings, by: string | null): Promise<number> {
    const [r] = await em.query(
      `INSERT INTO attribution_settings (workspace_id, version, settings, changed_by)
       SELECT $1, coalesce(max(version), 0) + 1, $2::jsonb, $3 FROM attribution_settings WHERE workspace_id = $1
       RETURNING version`,
      [ws, JSON.stringify(settings), by],
    );
    return r.version;
  }

  /** People of `items` with a stored path a batch starting at `t0` can change: a conversion at or after t0, or a non-converting path anchored at or after t0 − lookback. */
  async affected(em: EntityManager, ws: string, items: { profileId: string; t0: Date }[], lookbackMs: number): Promise<Set<string>> {
    if (!items.length) return new Set();
    const rows: { p: string }[] = await em.query(
      `SELECT u.p FROM unnest($2::uuid[], $3::timestamptz[]) AS u(p, t0)
       WHERE EXISTS (SELECT 1 FROM attribution_paths a WHERE a.workspace_id = $1 AND a.profile_id = u.p
                       AND a.anchor_at >= u.t0 - make_interval(secs => $4::double precision / 1000)
                       AND (a.conversion_id = '' OR a.anchor_at >= u.t0))`,
      [ws, items.map((i) => i.profileId), items.map((i) => i.t0.toISOString()), lookbackMs],
    );
    return new Set(rows.map((r) => r.p));
  }

  /** First event time (ms) of each of these profiles that has a row; null when it has no event yet. */
  async firstSeen(em: EntityManager, ws: string, ids: string[]): Promise<Map<string, number | null>> {
    const rows: { id: string; f: Date | null }[] = await em.query(`SELECT id, first_seen_at AS f FROM profiles WHERE workspace_id = $1 AND id = ANY($2::uuid[])`, [ws, ids]);
    return new Map(rows.map((r) => [r.id, r.f === null ? null : new Date(r.f).getTime()]));
  }

  /** Deletes and returns the stored paths of each person anchored at or after `from` (every path when `from` is null). */
  deletePaths(em: EntityManager, ws: string, items: { profileId: string; from: Date | null }[]): Promise<PathRow[]> {
    if (!items.length) return Promise.resolve([]);
    return em.query(
      `WITH d AS (
         DELETE FROM attribution_paths a USING unnest($2::uuid[], $3::timestamptz[]) AS u(p, f)
         WHERE a.workspace_id = $1 AND a.profile_id = u.p AND (u.f IS NULL OR a.anchor_at >= u.f)
         RETURNING a.profile_id, a.conversion, a.anchor_at, a.conversion_id, to_char(a.day, 'YYYY-MM-DD') AS day, a.revenue, a.half_life_days, a.touches)
       SELECT * FROM d`,
      [ws, items.map((i) => i.profileId), items.map((i) => iso(i.from))],
    );
  }

  /**
   * Each person's events from `since` on (all when null), newest first, at most `limit` per person,
   * one index probe per person (`events_profile_ts_idx`). `properties` only of conversion events.
   */
  personEvents(em: EntityManager, ws: string, items: { profileId: string; since: Date | null }[], conversionEvents: string[], limit: number): Promise<EventRow[]> {
    if (!items.length) return Promise.resolve([]);
    return em.query(
      `SELECT ${eventColumns('$4')}
       FROM unnest($2::uuid[], $3::timestamptz[]) AS u(p, since)
       CROSS JOIN LATERAL (
         SELECT * FROM events e WHERE e.workspace_id = $1 AND e.profile_id = u.p AND (u.since IS NULL OR e.ts >= u.since)
         ORDER BY e.ts DESC LIMIT $5) e`,
      [ws, items.map((i) => i.profileId), items.map((i) => iso(i.since)), conversionEvents, limit],
    );
  }

  /**
   * People of `items` with a stored event later than their `t0` that is not one of the batch's
   * (`batchIds`): their batch arrived out of order.
   */
  async laterEvents(em: EntityManager, ws: string, items: { profileId: string; t0: Date }[], batchIds: string[]): Promise<Set<string>> {
    if (!items.length) return new Set();
    const rows: { p: string }[] = await em.query(
      `SELECT u.p FROM unnest($2::uuid[], $3::timestamptz[]) AS u(p, t0)
       WHERE EXISTS (SELECT 1 FROM events e WHERE e.workspace_id = $1 AND e.profile_id = u.p AND e.ts > u.t0 AND NOT (e.message_id = ANY($4::text[])))`,
      [ws, items.map((i) => i.profileId), items.map((i) => i.t0.toISOString()), batchIds],
    );
    return new Set(rows.map((r) => r.p));
  }

  /**
   * For an in-order batch: each person's events at or after `t0` (the batch's), and their newest
   * `limit` touch events in [`since`, `t0`) — touch types, `touchEvents` when set, never a
   * conversion event — newest first by time and message id, as a path keeps them.
   */
  recentEvents(em: EntityManager, ws: string, items: { profileId: string; t0: Date; since: Date }[], conversionEvents: string[], touchTypes: string[], touchEvents: string[] | null, limit: number): Promise<EventRow[]> {
    if (!items.length) return Promise.resolve([]);
    return em.query(
      `SELECT ${eventColumns('$5')}
       FROM unnest($2::uuid[], $3::timestamptz[], $4::timestamptz[]) AS u(p, t0, since)
       CROSS JOIN LATERAL (
         SELECT * FROM events e WHERE e.workspace_id = $1 AND e.profile_id = u.p AND e.ts >= u.t0
         UNION ALL
         (SELECT * FROM events e WHERE e.workspace_id = $1 AND e.profile_id = u.p AND e.ts >= u.since AND e.ts < u.t0
            AND e.type = ANY($6::text[]) AND NOT (e.type = 'track' AND coalesce(e.name = ANY($5::text[]), false))
            AND ($7::text[] IS NULL OR e.name = ANY($7::text[]))
          ORDER BY e.ts DESC, e.message_id DESC LIMIT $8)) e`,
      [ws, items.map((i) => i.profileId), items.map((i) => i.t0.toISOString()), items.map((i) => i.since.toISOString()), conversionEvents, touchTypes, touchEvents, limit],
    );
  }

  async insertPaths(em: EntityManager, ws: string, rows: PathRow[]): Promise<void> {
    if (!rows.length) return;
    await em.query(
      `INSERT INTO attribution_paths (workspace_id, profile_id, conversion, anchor_at, conversion_id, day, revenue, half_life_days, touches)
       SELECT $1, u.p, u.c, u.a, u.i, u.d::date, u.r, u.h, u.t
       FROM unnest($2::uuid[], $3::text[], $4::timestamptz[], $5::text[], $6::text[], $7::float8[], $8::float8[], $9::jsonb[]) AS u(p, c, a, i, d, r, h, t)`,
      [ws, rows.map((r) => r.profile_id), rows.map((r) => r.conversion), rows.map((r) => r.anchor_at.toISOString()), rows.map((r) => r.conversion_id), rows.map((r) => r.day), rows.map((r) => r.revenue), rows.map((r) => r.half_life_days), rows.map((r) => JSON.stringify(r.touches))],
    );
  }

  async addCredits(em: EntityManager, ws: string, d: CreditDelta[]): Promise<void> {
    if (!d.length) return;
    await em.query(
      `INSERT INTO attribution_credits AS c (workspace_id, conversion, dimension, model, day, value, conversions, revenue)
       SELECT $1, u.c, u.dim, u.m, u.d::date, u.v, u.n, u.r FROM unnest($2::text[], $3::int2[], $4::int2[], $5::text[], $6::text[], $7::float8[], $8::float8[]) AS u(c, dim, m, d, v, n, r)
       ON CONFLICT (workspace_id, conversion, dimension, model, day, value)
       DO UPDATE SET conversions = c.conversions + EXCLUDED.conversions, revenue = c.revenue + EXCLUDED.revenue`,
      [ws, d.map((x) => x.conversion), d.map((x) => x.dimension), d.map((x) => x.model), d.map((x) => x.day), d.map((x) => x.value), d.map((x) => x.conversions), d.map((x) => x.revenue)],
    );
  }

  async addSets(em: EntityManager, ws: string, d: SetDelta[]): Promise<void> {
    if (!d.length) return;
    await em.query(
      `INSERT INTO attribution_sets AS s (workspace_id, conversion, dimension, day, value_set, paths, conversions, revenue)
       SELECT $1, u.c, u.dim, u.d::date, u.k, u.n, u.cv, u.r FROM unnest($2::text[], $3::int2[], $4::text[], $5::text[], $6::int8[], $7::int8[], $8::float8[]) AS u(c, dim, d, k, n, cv, r)
       ON CONFLICT (workspace_id, conversion, dimension, day, value_set)
       DO UPDATE SET paths = s.paths + EXCLUDED.paths, conversions = s.conversions + EXCLUDED.conversions, revenue = s.revenue + EXCLUDED.revenue`,
      [ws, d.map((x) => x.conversion), d.map((x) => x.dimension), d.map((x) => x.day), d.map((x) => x.valueSet), d.map((x) => x.paths), d.map((x) => x.conversions), d.map((x) => x.revenue)],
    );
  }

  /** Each person's earliest touch that may still end an undecided run. */
  async pending(em: EntityManager, ws: string, ids: string[]): Promise<Map<string, Date>> {
    if (!ids.length) return new Map();
    const rows: { p: string; since: Date }[] = await em.query(`SELECT profile_id AS p, since FROM attribution_pending WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[])`, [ws, ids]);
    return new Map(rows.map((r) => [r.p, new Date(r.since)]));
  }

  /** Sets (or clears, with null) each person's pending moment; `earliest`: keep an earlier one already there. */
  async setPending(em: EntityManager, ws: string, rows: { profileId: string; since: Date | null }[], earliest: boolean): Promise<void> {
    const clear = rows.filter((r) => r.since === null).map((r) => r.profileId);
    const set = rows.filter((r) => r.since !== null);
    if (clear.length) await em.query(`DELETE FROM attribution_pending WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[])`, [ws, clear]);
    if (set.length) {
      await em.query(
        `INSERT INTO attribution_pending AS a (workspace_id, profile_id, since)
         SELECT $1, u.p, u.s FROM unnest($2::uuid[], $3::timestamptz[]) AS u(p, s)
         ON CONFLICT (workspace_id, profile_id) DO UPDATE SET since = EXCLUDED.since
         -- Unchanged rows are not rewritten (most batches only confirm an earlier pending moment).
         WHERE ${earliest ? 'EXCLUDED.since < a.since' : 'EXCLUDED.since IS DISTINCT FROM a.since'}`,
        [ws, set.map((r) => r.profileId), set.map((r) => r.since!.toISOString())],
      );
    }
  }

  /**
   * When each person's open run closes (`due_work`). `exact`: this is the whole truth about them
   * (set, or clear with null); otherwise an earlier moment already pending stays (it is another run's).
   */
  async scheduleDue(em: EntityManager, ws: string, rows: { profileId: string; at: Date | null }[], exact: boolean): Promise<void> {
    const clear = exact ? rows.filter((r) => r.at === null).map((r) => r.profileId) : [];
    const set = rows.filter((r) => r.at !== null);
    if (clear.length) await em.query(`DELETE FROM due_work WHERE workspace_id = $1 AND projection = $2 AND profile_id = ANY($3::uuid[])`, [ws, PROJECTION, clear]);
    if (set.length) {
      await em.query(
        `INSERT INTO due_work AS w (workspace_id, projection, profile_id, due_at)
         SELECT $1, $2, u.p, u.at FROM unnest($3::uuid[], $4::timestamptz[]) AS u(p, at)
         ON CONFLICT (workspace_id, projection, profile_id) DO UPDATE SET due_at = EXCLUDED.due_at
         WHERE ${exact ? 'EXCLUDED.due_at IS DISTINCT FROM w.due_at' : 'EXCLUDED.due_at < w.due_at'}`,
        [ws, PROJECTION, set.map((r) => r.profileId), set.map((r) => r.at!.toISOString())],
      );
    }
  }

  /** Local-date buckets `[from, to]` (inclusive) as an unnest, numbered `b.i` from 1. */
  private static readonly BUCKETS = `unnest($2::date[], $3::date[]) WITH ORDINALITY AS b(f, t, i)`;

  /** Rule-model credit per bucket and value. */
  credits(em: EntityManager, ws: string, buckets: DayRange[], conversion: string, dimension: number, model: number): Promise<{ i: string; value: string; conversions: number; revenue: number }[]> {
    return em.query(
      `SELECT b.i, c.value, sum(c.conversions)::float8 AS conversions, sum(c.revenue)::float8 AS revenue
       FROM ${AttributionRepository.BUCKETS}
       JOIN attribution_credits c ON c.workspace_id = $1 AND c.conversion = $4 AND c.dimension = $5 AND c.model = $6 AND c.day BETWEEN b.f AND b.t
       GROUP BY b.i, c.value`,
      [ws, ...days(buckets), conversion, dimension, model],
    );
  }

  /** Shapley's path counts per bucket and value set. */
  sets(em: EntityManager, ws: string, buckets: DayRange[], conversion: string, dimension: number): Promise<{ i: string; value_set: string; paths: number; conversions: number; revenue: number }[]> {
    return em.query(
      `SELECT b.i, s.value_set, sum(s.paths)::float8 AS paths, sum(s.conversions)::float8 AS conversions, sum(s.revenue)::float8 AS revenue
       FROM ${AttributionRepository.BUCKETS}
       JOIN attribution_sets s ON s.workspace_id = $1 AND s.conversion = $4 AND s.dimension = $5 AND s.day BETWEEN b.f AND b.t
       GROUP BY b.i, s.value_set`,
      [ws, ...days(buckets), conversion, dimension],
    );
  }

  /** Marketing cost per bucket and value. */
  costs(em: EntityManager, ws: string, buckets: DayRange[], dimension: number): Promise<{ i: string; value: string; amount: number }[]> {
    return em.query(
      `SELECT b.i, m.value, sum(m.amount)::float8 AS amount
       FROM ${AttributionRepository.BUCKETS}
       JOIN marketing_costs m ON m.workspace_id = $1 AND m.dimension = $4 AND m.day BETWEEN b.f AND b.t
       GROUP BY b.i, m.value`,
      [ws, ...days(buckets), dimension],
    );
  }

  /** Replaces the cost of a value on each day of `[from, to]` with an equal share of `amount`. */
  async setCost(em: EntityManager, ws: string, dimension: number, value: string, from: string, to: string, amount: number): Promise<number> {
    const [r] = await em.query(
      `WITH days AS (SELECT d::date AS day FROM generate_series($4::date, $5::date, interval '1 day') AS g(d)),
            n AS (SELECT count(*) AS n FROM days),
            w AS (INSERT INTO marketing_costs AS m (workspace_id, dimension, value, day, amount)
                  SELECT $1, $2, $3, days.day, $6::float8 / n.n FROM days, n
                  ON CONFLICT (workspace_id, dimension, value, day) DO UPDATE SET amount = EXCLUDED.amount RETURNING 1)
       SELECT count(*)::int AS n FROM w`,
      [ws, dimension, value, from, to, amount],
    );
    return r.n;
  }
}
