import type { EntityManager } from 'typeorm';
import { survivorOf } from '../profiles';
import { ORDER_EVENT, type ActivityFacts, type StageModel, type StageState, type Transition } from './stage.model';

/** A live person with their last activity and current state under the model asked (null: none). */
export interface StateRow {
  profileId: string;
  lastSeenAt: Date | null;
  state: StageState | null;
}

function toStateRow(r: Record<string, unknown>, modelKey: string): StateRow {
  return {
    profileId: r.id as string,
    lastSeenAt: r.last_seen_at as Date | null,
    state:
      r.stage && r.model_key === modelKey
        ? { stage: r.stage as string, mainStage: r.main_stage as string | null, enteredAt: r.entered_at as Date, previousStage: r.previous_stage as string | null }
        : null,
  };
}

export interface Hit {
  profileId: string;
  stageKey: string;
  at: Date;
  cause: string;
}

export interface TransitionRow extends Transition {
  id: string;
  profileId: string;
  modelKey: string;
}

/**
 * Joins the live profile of the rows aliased `alias` (a profile merged into another is not a
 * person of its own: the funnel counts people through their survivor's own history).
 */
const LIVE = (alias: string) => `JOIN profiles lp ON lp.workspace_id = ${alias}.workspace_id AND lp.id = ${alias}.profile_id AND lp.merged_into IS NULL`;

/** SQL of the lifecycle module. Every statement is set-based (`unnest`, `= ANY`). */
/**
 * A (person, stage) whose entry condition is checked; `from`: only events at or after it can be new
 * hits (the person's history before it was judged already), null or absent: the whole history.
 */
export interface HitPair {
  profileId: string;
  stageKey: string;
  from?: Date | null;
}

export class StageRepository {
  async model(em: EntityManager, ws: string): Promise<StageModel | null> {
    const [r] = await em.query(`SELECT definition FROM stage_models WHERE workspace_id = $1`, [ws]);
    return r ? (r.definition as StageModel) : null;
  }

  async saveModel(em: EntityManager, ws: string, m: StageModel): Promise<void> {
    await em.query(
      `INSERT INTO stage_models (workspace_id, model_key, name, definition) VALUES ($1, $2, $3, $4::jsonb)
       ON CONFLICT (workspace_id) DO UPDATE SET model_key = $2, name = $3, definition = $4::jsonb, updated_at = now()`,
      [ws, m.key, m.name, JSON.stringify(m)],
    );
  }

  /** Live profiles among `ids` with their last activity and current state (if any). */
  async states(em: EntityManager, ws: string, modelKey: string, ids: string[]): Promise<StateRow[]> {
    if (!ids.length) return [];
    const rows = await em.query(
      `SELECT p.id, p.last_seen_at, ps.model_key, ps.stage, ps.main_stage, ps.entered_at, ps.previous_stage
       FROM profiles p LEFT JOIN profile_stages ps ON ps.workspace_id = p.workspace_id AND ps.profile_id = p.id
       WHERE p.workspace_id = $1 AND p.id = ANY($2::uuid[]) AND p.merged_into IS NULL`,
      [ws, ids],
    );
    return rows.map((r: Record<string, unknown>) => toStateRow(r, modelKey));
  }

  /**
   * The first event of each (profile, stage) pair asked (at or after the pair's `from`, when given) that satisfies `first_event` (any event)
   * or `event_any_of` (an event with one of the stage's names).
   */
  async eventHits(em: EntityManager, ws: string, pairs: HitPair[], anyEvent: string[], names: { stageKey: string; name: string }[]): Promise<Hit[]> {
    if (!pairs.length) return [];
    const rows = await em.query(
      `WITH w AS (SELECT * FROM unnest($2::uuid[], $3::text[], $7::timestamptz[]) AS u(p, s, f)),
            n AS (SELECT * FROM unnest($5::text[], $6::text[]) AS u(s, name))
       SELECT DISTINCT ON (w.p, w.s) w.p AS profile_id, w.s AS stage, e.ts, e.message_id, e.name
       FROM w JOIN events e ON e.workspace_id = $1 AND e.profile_id = w.p AND e.ts >= coalesce(w.f, '-infinity'::timestamptz)
       WHERE w.s = ANY($4::text[]) OR EXISTS (SELECT 1 FROM n WHERE n.s = w.s AND n.name = e.name)
       ORDER BY w.p, w.s, e.ts, e.message_id`,
      [ws, pairs.map((p) => p.profileId), pairs.map((p) => p.stageKey), anyEvent, names.map((n) => n.stageKey), names.map((n) => n.name), pairs.map((p) => p.from ?? null)],
    );
    return rows.map((r: { profile_id: string; stage: string; ts: Date; message_id: string; name: string | null }) => ({
      profileId: r.profile_id,
      stageKey: r.stage,
      at: r.ts,
      cause: anyEvent.includes(r.stage) ? `first_event:event:${r.message_id}` : `event_any_of:${r.name}:event:${r.message_id}`,
    }));
  }

  /**
   * For `orders_within`: the order that first completed `count` orders within `days` days. Reads the
   * people's orders alone (`events_orders_idx`, partial on the order event's name, which is why the
   * name is in the statement rather than a parameter).
   */
  async orderWindowHits(em: EntityManager, ws: string, pairs: HitPair[], conds: { stageKey: string; count: number; days: number }[]): Promise<Hit[]> {
    if (!pairs.length) return [];
    // With a `from`, the orders that can complete the count at or after it: those within `days` before it, and after.
    const rows = await em.query(
      `WITH w AS (SELECT * FROM unnest($2::uuid[], $3::text[], $7::timestamptz[]) AS u(p, s, f)),
            c AS (SELECT * FROM unnest($4::text[], $5::int[], $6::int[]) AS u(s, n, days)),
            o AS (SELECT w.p, w.s, w.f, c.days, e.ts, e.message_id,
                         lag(e.ts, c.n - 1) OVER (PARTITION BY w.p, w.s ORDER BY e.ts, e.message_id) AS first_ts
                  FROM w JOIN c ON c.s = w.s JOIN events e ON e.workspace_id = $1 AND e.profile_id = w.p AND e.name = '${ORDER_EVENT}'
                   AND e.ts >= coalesce(w.f - c.days * interval '1 day', '-infinity'::timestamptz))
       SELECT DISTINCT ON (p, s) p AS profile_id, s AS stage, ts, message_id, days FROM o
       WHERE first_ts IS NOT NULL AND ts - first_ts <= days * interval '1 day' AND ts >= coalesce(f, '-infinity'::timestamptz)
       ORDER BY p, s, ts, message_id`,
      [ws, pairs.map((p) => p.profileId), pairs.map((p) => p.stageKey), conds.map((c) => c.stageKey), conds.map((c) => c.count), conds.map((c) => c.days), pairs.map((p) => p.from ?? null)],
    );
    const byKey = new Map(conds.map((c) => [c.stageKey, c]));
    return rows.map((r: { profile_id: string; stage: string; ts: Date; message_id: string }) => ({
      profileId: r.profile_id,
      stageKey: r.stage,
      at: r.ts,
      cause: `orders_within:${byKey.get(r.stage)!.count}/${byKey.get(r.stage)!.days}d:event:${r.message_id}`,
    }));
  }

  /**
   * For `invitee_bought`: inviters among `ids` with an invitee who has ordered. Driven from the id
   * list — each person and their merged-away profiles, then each one's own `invited` relations
   * (relations_from_idx) — so a batch reads its people's invitations, never the workspace's (a merge
   * join over every invitation of the workspace grew with its history: 7,000 index rows per batch at
   * 1 M events).
   */
  async inviteeHits(em: EntityManager, ws: string, ids: string[]): Promise<{ profileId: string; at: Date; inviteeId: string }[]> {
    if (!ids.length) return [];
    const rows = await em.query(
      `WITH f AS (
         SELECT ${survivorOf('p')} AS inviter, p.id AS src FROM profiles p WHERE p.workspace_id = $1 AND p.id = ANY($2::uuid[])
         UNION ALL
         SELECT ${survivorOf('p')}, p.id FROM profiles p WHERE p.workspace_id = $1 AND p.merged_into = ANY($2::uuid[]))
       SELECT DISTINCT ON (inviter) inviter, invitee, at FROM (
         SELECT f.inviter, t.id AS invitee, greatest(r.occurred_at, t.last_order_at) AS at
         FROM f
         CROSS JOIN LATERAL (SELECT r.occurred_at, r.to_profile_id FROM relations r
                             WHERE r.workspace_id = $1 AND r.from_profile_id = f.src AND r.kind = 'invited' OFFSET 0) r
         JOIN profiles t0 ON t0.workspace_id = $1 AND t0.id = r.to_profile_id
         JOIN profiles t ON t.workspace_id = $1 AND t.id = ${survivorOf('t0')}
         WHERE t.order_count >= 1
       ) x WHERE inviter <> invitee
       ORDER BY inviter, at, invitee`,
      [ws, ids],
    );
    return rows.map((r: { inviter: string; invitee: string; at: Date }) => ({ profileId: r.inviter, inviteeId: r.invitee, at: r.at }));
  }

  /** Live inviters of any of these people (their stage may change when an invitee orders); driven from the id list, like `inviteeHits`. */
  async invitersOf(em: EntityManager, ws: string, ids: string[]): Promise<string[]> {
    if (!ids.length) return [];
    const rows = await em.query(
      `WITH t AS (
         SELECT p.id FROM profiles p WHERE p.workspace_id = $1 AND p.id = ANY($2::uuid[])
         UNION
         SELECT p.id FROM profiles p WHERE p.workspace_id = $1 AND p.merged_into = ANY($2::uuid[]))
       SELECT DISTINCT ${survivorOf('f')} AS id
       FROM t
       CROSS JOIN LATERAL (SELECT r.from_profile_id FROM relations r
                           WHERE r.workspace_id = $1 AND r.to_profile_id = t.id AND r.kind = 'invited' OFFSET 0) r
       JOIN profiles f ON f.workspace_id = $1 AND f.id = r.from_profile_id`,
      [ws, ids],
    );
    return rows.map((r: { id: string }) => r.id);
  }

  /**
   * The activity of each person from `since` on (null: their whole history) for the replay: their
   * first event at or after it, and each event that ends a gap of at least `gapDays` days since the
   * event before it (for the first, the last event before `since`). Events in (ts, message id) order.
   */
  async activity(em: EntityManager, ws: string, rows: { profileId: string; since: Date | null }[], gapDays: number): Promise<Map<string, ActivityFacts>> {
    const out = new Map<string, ActivityFacts>(rows.map((r) => [r.profileId, { first: null, gaps: [] }]));
    if (!rows.length) return out;
    const found: { profile_id: string; ts: Date; message_id: string; prev: Date | null; first: boolean }[] = await em.query(
      `WITH w AS (SELECT u.p, coalesce(u.since, '-infinity'::timestamptz) AS since,
                         (SELECT b.ts FROM events b WHERE b.workspace_id = $1 AND b.profile_id = u.p AND b.ts < u.since ORDER BY b.ts DESC LIMIT 1) AS before
                  FROM unnest($2::uuid[], $3::timestamptz[]) AS u(p, since)),
            a AS (SELECT w.p, e.ts, e.message_id, w.before,
                         lag(e.ts) OVER (PARTITION BY w.p ORDER BY e.ts, e.message_id) AS prev,
                         row_number() OVER (PARTITION BY w.p ORDER BY e.ts, e.message_id) AS n
                  FROM w JOIN events e ON e.workspace_id = $1 AND e.profile_id = w.p AND e.ts >= w.since)
       SELECT p AS profile_id, ts, message_id, coalesce(prev, before) AS prev, n = 1 AS first FROM a
       WHERE n = 1 OR extract(epoch FROM ts - prev) >= $4
       ORDER BY p, ts, message_id`,
      [ws, rows.map((r) => r.profileId), rows.map((r) => r.since), gapDays * 86_400],
    );
    for (const r of found) {
      const f = out.get(r.profile_id)!;
      const cause = `event:${r.message_id}`;
      if (r.first) f.first = { at: r.ts, cause };
      if (r.prev && r.ts.getTime() - r.prev.getTime() >= gapDays * 86_400_000) f.gaps.push({ from: r.prev, to: r.ts, cause });
    }
    return out;
  }

  /** Earliest activity of these (merged-away) profiles' own aggregates: where their survivor's replay starts. */
  async firstSeen(em: EntityManager, ws: string, ids: string[]): Promise<Map<string, Date>> {
    if (!ids.length) return new Map();
    const rows: { id: string; first_seen_at: Date | null }[] = await em.query(`SELECT id, first_seen_at FROM profiles WHERE workspace_id = $1 AND id = ANY($2::uuid[])`, [ws, ids]);
    return new Map(rows.filter((r) => r.first_seen_at).map((r) => [r.id, r.first_seen_at!]));
  }

  /**
   * Deletes each person's transitions under the model at or after their `since` (null: all of them)
   * and answers, for the people who lost any, their state as the transitions left say (null: none left).
   */
  async rewind(em: EntityManager, ws: string, modelKey: string, rows: { profileId: string; since: Date | null }[], main: string[]): Promise<Map<string, StageState | null>> {
    if (!rows.length) return new Map();
    const gone: { profile_id: string }[] = await em.query(
      // A CTE so that the driver answers rows (a bare DELETE … RETURNING answers [rows, count]).
      // Driven from the people (their own transitions through stage_transitions_profile_idx; OFFSET 0
      // keeps the planner from scanning every person's recent transitions by time), deleted by row id.
      `WITH gone AS (
         DELETE FROM stage_transitions t WHERE t.ctid = ANY(ARRAY(
           SELECT x.ctid FROM unnest($3::uuid[], $4::timestamptz[]) AS u(p, since)
           CROSS JOIN LATERAL (SELECT q.ctid FROM stage_transitions q WHERE q.workspace_id = $1 AND q.profile_id = u.p AND q.model_key = $2
                                 AND q.at >= coalesce(u.since, '-infinity'::timestamptz) OFFSET 0) x))
         RETURNING t.profile_id)
       SELECT DISTINCT profile_id FROM gone`,
      [ws, modelKey, rows.map((r) => r.profileId), rows.map((r) => r.since)],
    );
    const ids = gone.map((g) => g.profile_id);
    const out = new Map<string, StageState | null>(ids.map((id) => [id, null]));
    if (!ids.length) return out;
    const left: { profile_id: string; to_stage: string; from_stage: string | null; at: Date; main_stage: string | null }[] = await em.query(
      `SELECT l.profile_id, l.to_stage, l.from_stage, l.at,
              (SELECT x.to_stage FROM stage_transitions x WHERE x.workspace_id = $1 AND x.model_key = $2 AND x.profile_id = l.profile_id AND x.to_stage = ANY($4::text[])
               ORDER BY x.at DESC, x.id DESC LIMIT 1) AS main_stage
       FROM unnest($3::uuid[]) AS u(p)
       CROSS JOIN LATERAL (SELECT q.profile_id, q.to_stage, q.from_stage, q.at FROM stage_transitions q
                           WHERE q.workspace_id = $1 AND q.model_key = $2 AND q.profile_id = u.p ORDER BY q.at DESC, q.id DESC LIMIT 1) l`,
      [ws, modelKey, ids, main],
    );
    for (const r of left) out.set(r.profile_id, { stage: r.to_stage, mainStage: r.main_stage, enteredAt: r.at, previousStage: r.from_stage });
    return out;
  }

  async deleteStates(em: EntityManager, ws: string, ids: string[] | null): Promise<void> {
    if (ids === null) await em.query(`DELETE FROM profile_stages WHERE workspace_id = $1`, [ws]);
    else if (ids.length) await em.query(`DELETE FROM profile_stages WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[])`, [ws, ids]);
  }

  async insertTransitions(em: EntityManager, ws: string, modelKey: string, rows: { profileId: string; t: Transition }[]): Promise<void> {
    if (!rows.length) return;
    await em.query(
      `INSERT INTO stage_transitions (workspace_id, model_key, profile_id, from_stage, to_stage, at, cause, wake_up)
       SELECT $1, $2, u.p, u.f, u.t, u.a, u.c, u.w
       FROM unnest($3::uuid[], $4::text[], $5::text[], $6::timestamptz[], $7::text[], $8::boolean[]) WITH ORDINALITY AS u(p, f, t, a, c, w, o)
       ORDER BY u.o`,
      [ws, modelKey, rows.map((r) => r.profileId), rows.map((r) => r.t.from), rows.map((r) => r.t.to), rows.map((r) => r.t.at), rows.map((r) => r.t.cause), rows.map((r) => r.t.wakeUp)],
    );
  }

  async upsertStates(em: EntityManager, ws: string, modelKey: string, rows: { profileId: string; s: StageState }[]): Promise<void> {
    if (!rows.length) return;
    await em.query(
      `INSERT INTO profile_stages (workspace_id, model_key, profile_id, stage, main_stage, entered_at, previous_stage)
       SELECT $1, $2, * FROM unnest($3::uuid[], $4::text[], $5::text[], $6::timestamptz[], $7::text[])
       ON CONFLICT (workspace_id, profile_id) DO UPDATE SET model_key = $2, stage = excluded.stage, main_stage = excluded.main_stage,
         entered_at = excluded.entered_at, previous_stage = excluded.previous_stage, updated_at = now()`,
      [ws, modelKey, rows.map((r) => r.profileId), rows.map((r) => r.s.stage), rows.map((r) => r.s.mainStage), rows.map((r) => r.s.enteredAt), rows.map((r) => r.s.previousStage)],
    );
  }

  /**
   * Live profiles due for their next inactivity stage at `now`: `next` gives, per current stage,
   * the days of inactivity after which the next inactivity stage applies. Longest-idle first.
   */
  async dueForInactivity(em: EntityManager, ws: string, modelKey: string, next: { stage: string; days: number }[], now: Date, limit: number): Promise<StateRow[]> {
    if (!next.length) return [];
    const rows = await em.query(
      `SELECT p.id, p.last_seen_at, ps.model_key, ps.stage, ps.main_stage, ps.entered_at, ps.previous_stage
       FROM profile_stages ps
       JOIN unnest($3::text[], $4::int[]) AS th(stage, days) ON th.stage = ps.stage
       JOIN profiles p ON p.workspace_id = ps.workspace_id AND p.id = ps.profile_id
       WHERE ps.workspace_id = $1 AND ps.model_key = $2 AND p.merged_into IS NULL
         AND p.last_seen_at <= $5::timestamptz - th.days * interval '1 day'
       ORDER BY p.last_seen_at, p.id LIMIT $6`,
      [ws, modelKey, next.map((n) => n.stage), next.map((n) => n.days), now, limit],
    );
    return rows.map((r: Record<string, unknown>) => toStateRow(r, modelKey));
  }

  /** Live profile ids in creation order, a page at a time (model recomputation). */
  async liveIdsAfter(em: EntityManager, ws: string, afterSeq: number, limit: number): Promise<{ ids: string[]; lastSeq: number | null }> {
    const rows: { id: string; seq: string }[] = await em.query(
      `SELECT id, seq FROM profiles WHERE workspace_id = $1 AND merged_into IS NULL AND seq > $2 ORDER BY seq LIMIT $3`,
      [ws, afterSeq, limit],
    );
    return { ids: rows.map((r) => r.id), lastSeq: rows.length ? Number(rows.at(-1)!.seq) : null };
  }

  // ---- reads -------------------------------------------------------------------------------

  async currentOf(em: EntityManager, ws: string, modelKey: string, ids: readonly string[]): Promise<Map<string, StageState>> {
    const rows = await em.query(
      `SELECT profile_id, stage, main_stage, entered_at, previous_stage FROM profile_stages
       WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[]) AND model_key = $3`,
      [ws, ids, modelKey],
    );
    return new Map(
      rows.map((r: Record<string, unknown>) => [
        r.profile_id as string,
        { stage: r.stage as string, mainStage: r.main_stage as string | null, enteredAt: r.entered_at as Date, previousStage: r.previous_stage as string | null },
      ]),
    );
  }

  async historyOf(em: EntityManager, ws: string, ids: readonly string[]): Promise<TransitionRow[]> {
    const rows = await em.query(
      `SELECT id, profile_id, model_key, from_stage, to_stage, at, cause, wake_up FROM stage_transitions
       WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[]) ORDER BY profile_id, id`,
      [ws, ids],
    );
    return rows.map((r: Record<string, unknown>) => ({
      id: String(r.id),
      profileId: r.profile_id as string,
      modelKey: r.model_key as string,
      from: r.from_stage as string | null,
      to: r.to_stage as string,
      at: r.at as Date,
      cause: r.cause as string,
      wakeUp: r.wake_up as boolean,
    }));
  }

  /** Live people per current stage under the model. */
  async currentCounts(em: EntityManager, ws: string, modelKey: string): Promise<Map<string, number>> {
    const rows = await em.query(
      `SELECT ps.stage, count(*)::int AS n FROM profile_stages ps ${LIVE('ps')}
       WHERE ps.workspace_id = $1 AND ps.model_key = $2 GROUP BY ps.stage`,
      [ws, modelKey],
    );
    return new Map(rows.map((r: { stage: string; n: number }) => [r.stage, r.n]));
  }

  /**
   * Live people with a forward (not wake-up) transition in [from, to) into a main stage of rank ≥ k,
   * per k; and into each inactivity stage.
   */
  async reached(em: EntityManager, ws: string, modelKey: string, main: string[], inactive: string[], from: Date, to: Date): Promise<Map<string, number>> {
    const rows = await em.query(
      `WITH t AS (SELECT DISTINCT st.profile_id, st.to_stage FROM stage_transitions st ${LIVE('st')}
                  WHERE st.workspace_id = $1 AND st.model_key = $2 AND st.at >= $3 AND st.at < $4 AND NOT st.wake_up),
            r AS (SELECT * FROM unnest($5::text[]) WITH ORDINALITY AS u(stage, rank))
       SELECT k.stage, count(DISTINCT t.profile_id)::int AS n FROM r k JOIN r s ON s.rank >= k.rank JOIN t ON t.to_stage = s.stage GROUP BY k.stage
       UNION ALL
       SELECT to_stage, count(DISTINCT profile_id)::int FROM t WHERE to_stage = ANY($6::text[]) GROUP BY to_stage`,
      [ws, modelKey, from, to, main, inactive],
    );
    return new Map(rows.map((r: { stage: string; n: number }) => [r.stage, r.n]));
  }

  /** Median hours between entering a stage and the next transition, over live people's stays that ended in [from, to). */
  async medianHours(em: EntityManager, ws: string, modelKey: string, from: Date, to: Date): Promise<Map<string, number>> {
    const rows = await em.query(
      `WITH s AS (SELECT st.to_stage, st.at, lead(st.at) OVER (PARTITION BY st.profile_id ORDER BY st.at, st.id) AS left_at
                  FROM stage_transitions st ${LIVE('st')} WHERE st.workspace_id = $1 AND st.model_key = $2 AND st.at < $4)
       SELECT to_stage AS stage, percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM left_at - at)) / 3600 AS h
       FROM s WHERE left_at >= $3 AND left_at < $4 GROUP BY to_stage`,
      [ws, modelKey, from, to],
    );
    return new Map(rows.map((r: { stage: string; h: number | string }) => [r.stage, Number(r.h)]));
  }

  /**
   * Live people in an inactivity stage at `from` (their last transition before it went into one)
   * with a wake-up in [from, to).
   */
  async wakeUps(em: EntityManager, ws: string, modelKey: string, inactive: string[], from: Date, to: Date): Promise<number> {
    const [r] = await em.query(
      `SELECT count(DISTINCT w.profile_id)::int AS n FROM stage_transitions w ${LIVE('w')}
       WHERE w.workspace_id = $1 AND w.model_key = $2 AND w.wake_up AND w.at >= $3 AND w.at < $4
         AND (SELECT b.to_stage FROM stage_transitions b
              WHERE b.workspace_id = $1 AND b.model_key = $2 AND b.profile_id = w.profile_id AND b.at < $3
              ORDER BY b.at DESC, b.id DESC LIMIT 1) = ANY($5::text[])`,
      [ws, modelKey, from, to, inactive],
    );
    return r.n;
  }
}
