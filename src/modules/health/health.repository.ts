import type { EntityManager } from 'typeorm';
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

  /** Score inputs of the live profiles among `ids`, in one statement (events of the last 90 days, relations). */
  async inputs(em: EntityManager, ws: string, ids: string[], now: Date, interactionEvents: string[]): Promise<ProfileHealthInputs[]> {
    if (!ids.length) return [];
    const rows: { id: string; last_seen_at: Date | null; interactions30: number; active_days30: number; spend90: string; invitees: number }[] = await em.query(
      // Driven from the id list: one primary-key probe and one index range scan per person
      // (events_profile_ts_idx), whatever the planner believes about the workspace's size.
      `SELECT p.id, p.last_seen_at, coalesce(ev.interactions30, 0)::int AS interactions30, coalesce(ev.active_days30, 0)::int AS active_days30,
              coalesce(ev.spend90, 0)::text AS spend90, coalesce(inv.n, 0)::int AS invitees
       FROM (SELECT DISTINCT u.id FROM unnest($2::uuid[]) AS u(id)) ids
       JOIN profiles p ON p.workspace_id = $1 AND p.id = ids.id AND p.merged_into IS NULL
       CROSS JOIN (SELECT time_zone FROM workspaces WHERE id = $1) w
       LEFT JOIN LATERAL (
         SELECT count(*) FILTER (WHERE e.ts > $3::timestamptz - interval '30 days' AND e.name = ANY($4::text[])) AS interactions30,
                count(DISTINCT (e.ts AT TIME ZONE w.time_zone)::date) FILTER (WHERE e.ts > $3::timestamptz - interval '30 days') AS active_days30,
                coalesce(sum(${REVENUE}) FILTER (WHERE e.name = 'Order Completed'), 0) AS spend90
         FROM events e
         WHERE e.workspace_id = $1 AND e.profile_id = ids.id AND e.ts > $3::timestamptz - interval '90 days') ev ON true
       LEFT JOIN LATERAL (
         SELECT count(DISTINCT r.to_profile_id) AS n FROM relations r
         WHERE r.workspace_id = $1 AND r.kind = 'invited' AND r.from_profile_id = ids.id AND r.to_profile_id <> r.from_profile_id) inv ON true`,
      [ws, ids, now, interactionEvents],
    );
    return rows.map((r) => ({
      profileId: r.id,
      lastSeenAt: r.last_seen_at,
      interactions30: r.interactions30,
      activeDays30: r.active_days30,
      spend90: Number(r.spend90),
      invitees: r.invitees,
    }));
  }

  /** Inviters named by `invited` relations that these events created (their referral changed). */
  async invitersOf(em: EntityManager, ws: string, messageIds: string[]): Promise<string[]> {
    if (!messageIds.length) return [];
    const rows: { id: string }[] = await em.query(
      `SELECT DISTINCT from_profile_id AS id FROM relations
       WHERE workspace_id = $1 AND kind = 'invited' AND event_message_id = ANY($2::text[]) AND from_profile_id IS NOT NULL`,
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
