import type { EntityManager } from 'typeorm';
import type { StepDef } from './journey.definition';
import type { JourneyState, JourneyStatus } from './journey.engine';

export interface JourneyRow {
  id: string;
  name: string;
  description: string | null;
  template: string | null;
  steps: StepDef[];
  active: boolean;
  allow_reentry: boolean;
  created_at: Date;
  updated_at: Date;
}

export interface StepStatsRow {
  step_index: number;
  reached: number;
  median_seconds: number | null;
}

export interface PathRow {
  path: string[];
  n: number;
}

const COLS = `id, name, description, template, steps, active, allow_reentry, created_at, updated_at`;
const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** A recorded trigger. */
export interface TriggerRow {
  journey_id: string;
  profile_id: string;
  entry_no: number;
  step_key: string;
  at: Date;
}

interface StateRow {
  journey_id: string;
  profile_id: string;
  entry_no: number;
  entry_key: string | null;
  step_index: number;
  status: JourneyStatus;
  entered_at: Date;
  step_at: Date;
  deadline: Date | null;
  completed_at: Date | null;
}

const toState = (r: StateRow): JourneyState => ({
  journeyId: r.journey_id,
  profileId: r.profile_id,
  entryNo: r.entry_no,
  entryKey: r.entry_key,
  stepIndex: r.step_index,
  status: r.status,
  enteredAt: new Date(r.entered_at),
  stepAt: new Date(r.step_at),
  deadline: r.deadline ? new Date(r.deadline) : null,
  completedAt: r.completed_at ? new Date(r.completed_at) : null,
});

const STATE_COLS = `journey_id, profile_id, entry_no, entry_key, step_index, status, entered_at, step_at, deadline, completed_at`;

/** SQL of the journeys module. */
export class JourneyRepository {
  async list(em: EntityManager, ws: string, activeOnly = false): Promise<JourneyRow[]> {
    return em.query(`SELECT ${COLS} FROM journeys WHERE workspace_id = $1 ${activeOnly ? 'AND active' : ''} ORDER BY created_at, id`, [ws]);
  }

  async get(em: EntityManager, ws: string, id: string): Promise<JourneyRow | undefined> {
    const [r] = await em.query(`SELECT ${COLS} FROM journeys WHERE workspace_id = $1 AND id = $2`, [ws, id]);
    return r;
  }

  async insert(em: EntityManager, ws: string, j: { name: string; description: string | null; template: string | null; steps: StepDef[]; active: boolean; allowReentry: boolean }): Promise<string> {
    const [r] = await em.query(
      `INSERT INTO journeys (workspace_id, name, description, template, steps, active, allow_reentry) VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7) RETURNING id`,
      [ws, j.name, j.description, j.template, JSON.stringify(j.steps), j.active, j.allowReentry],
    );
    return r.id;
  }

  async update(em: EntityManager, ws: string, id: string, j: { name: string; description: string | null; steps: StepDef[]; active: boolean; allowReentry: boolean }): Promise<void> {
    await em.query(
      `UPDATE journeys SET name = $3, description = $4, steps = $5::jsonb, active = $6, allow_reentry = $7, updated_at = now() WHERE workspace_id = $1 AND id = $2`,
      [ws, id, j.name, j.description, JSON.stringify(j.steps), j.active, j.allowReentry],
    );
  }

  async delete(em: EntityManager, ws: string, id: string): Promise<boolean> {
    const r = await em.query(`DELETE FROM journeys WHERE workspace_id = $1 AND id = $2 RETURNING id`, [ws, id]);
    return (Array.isArray(r[0]) ? r[0] : r).length > 0;
  }

  async hasEntries(em: EntityManager, ws: string, id: string): Promise<boolean> {
    const [r] = await em.query(`SELECT EXISTS (SELECT 1 FROM journey_states WHERE workspace_id = $1 AND journey_id = $2) AS e`, [ws, id]);
    return r.e;
  }

  /**
   * Moves merged-away profiles' entries (with their history and fired triggers) to the survivors,
   * numbered after the survivor's own entries. Dedupe keys are cleared on moved entries.
   */
  async moveOnMerge(em: EntityManager, ws: string, merged: string[], survivors: string[]): Promise<void> {
    if (!merged.length) return;
    const moves: { journey_id: string; old_pid: string; old_no: number; new_pid: string; new_no: number }[] = await em.query(
      `SELECT s.journey_id, s.profile_id AS old_pid, s.entry_no AS old_no, u.sv AS new_pid,
              (coalesce((SELECT max(t.entry_no) FROM journey_states t WHERE t.workspace_id = $1 AND t.journey_id = s.journey_id AND t.profile_id = u.sv), 0)
               + row_number() OVER (PARTITION BY u.sv, s.journey_id ORDER BY s.entered_at, s.profile_id, s.entry_no))::int AS new_no
         FROM journey_states s JOIN unnest($2::uuid[], $3::uuid[]) AS u(m, sv) ON s.profile_id = u.m
        WHERE s.workspace_id = $1`,
      [ws, merged, survivors],
    );
    if (!moves.length) return;
    const args = [ws, moves.map((m) => m.journey_id), moves.map((m) => m.old_pid), moves.map((m) => m.old_no), moves.map((m) => m.new_pid), moves.map((m) => m.new_no)];
    const from = `unnest($2::uuid[], $3::uuid[], $4::int[], $5::uuid[], $6::int[]) AS u(j, op, oe, np, ne)`;
    await em.query(`UPDATE journey_states t SET profile_id = u.np, entry_no = u.ne, entry_key = NULL FROM ${from} WHERE t.workspace_id = $1 AND t.journey_id = u.j AND t.profile_id = u.op AND t.entry_no = u.oe`, args);
    await em.query(`UPDATE journey_step_history t SET profile_id = u.np, entry_no = u.ne FROM ${from} WHERE t.workspace_id = $1 AND t.journey_id = u.j AND t.profile_id = u.op AND t.entry_no = u.oe`, args);
    await em.query(`UPDATE journey_triggers t SET profile_id = u.np, entry_no = u.ne FROM ${from} WHERE t.workspace_id = $1 AND t.journey_id = u.j AND t.profile_id = u.op AND t.entry_no = u.oe`, args);
  }

  /** Active entries of these profiles in these journeys, and each pair's highest entry number. */
  async loadForProfiles(em: EntityManager, ws: string, journeyIds: string[], profileIds: string[]): Promise<{ active: JourneyState[]; maxEntry: Map<string, number> }> {
    const rows: (StateRow & { max_no: number })[] = await em.query(
      `SELECT m.journey_id, m.profile_id, m.max_no, s.entry_no, s.entry_key, s.step_index, s.status, s.entered_at, s.step_at, s.deadline, s.completed_at
         FROM (SELECT journey_id, profile_id, max(entry_no)::int AS max_no FROM journey_states
                WHERE workspace_id = $1 AND journey_id = ANY($2::uuid[]) AND profile_id = ANY($3::uuid[]) GROUP BY 1, 2) m
         LEFT JOIN journey_states s ON s.workspace_id = $1 AND s.journey_id = m.journey_id AND s.profile_id = m.profile_id AND s.status = 'active'`,
      [ws, journeyIds, profileIds],
    );
    const maxEntry = new Map<string, number>();
    const active: JourneyState[] = [];
    for (const r of rows) {
      maxEntry.set(`${r.journey_id}|${r.profile_id}`, r.max_no);
      if (r.entry_no !== null) active.push(toState(r));
    }
    return { active, maxEntry };
  }

  /** Active entries whose window ended by `now`, oldest deadline first, at most `limit`. */
  /** Active entries of these people whose deadline has passed (active journeys only). */
  async dueOf(em: EntityManager, ws: string, ids: string[], now: Date): Promise<JourneyState[]> {
    const rows: StateRow[] = await em.query(
      `SELECT ${STATE_COLS} FROM journey_states s
        WHERE s.workspace_id = $1 AND s.profile_id = ANY($2::uuid[]) AND s.status = 'active' AND s.deadline IS NOT NULL AND s.deadline <= $3
          AND EXISTS (SELECT 1 FROM journeys j WHERE j.workspace_id = $1 AND j.id = s.journey_id AND j.active)
        ORDER BY s.deadline`,
      [ws, ids, now.toISOString()],
    );
    return rows.map(toState);
  }

  /** The earliest deadline of each person's active entries (people without one are absent). */
  async nextDeadlines(em: EntityManager, ws: string, ids: string[]): Promise<Map<string, Date>> {
    if (!ids.length) return new Map();
    const rows: { profile_id: string; d: Date }[] = await em.query(
      `SELECT profile_id, min(deadline) AS d FROM journey_states
        WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[]) AND status = 'active' AND deadline IS NOT NULL GROUP BY profile_id`,
      [ws, ids],
    );
    return new Map(rows.map((r) => [r.profile_id, new Date(r.d)]));
  }

  async due(em: EntityManager, ws: string, now: Date, limit: number): Promise<JourneyState[]> {
    const rows: StateRow[] = await em.query(
      `SELECT ${STATE_COLS} FROM journey_states s
        WHERE s.workspace_id = $1 AND s.status = 'active' AND s.deadline IS NOT NULL AND s.deadline <= $2
          AND EXISTS (SELECT 1 FROM journeys j WHERE j.workspace_id = $1 AND j.id = s.journey_id AND j.active)
        ORDER BY s.deadline LIMIT $3`,
      [ws, now.toISOString(), limit],
    );
    return rows.map(toState);
  }

  /**
   * Live profiles whose `birthday` trait (`MM-DD` or `YYYY-MM-DD`) falls on one of `days` (`MM-DD`)
   * and who have no entry with `entryKey` yet in the journey. Scans the workspace's profiles that
   * carry the trait, at most `limit` results.
   */
  async birthdays(em: EntityManager, ws: string, journeyId: string, days: string[], entryKey: string, limit: number): Promise<string[]> {
    const rows: { id: string }[] = await em.query(
      `SELECT p.id FROM profiles p
        WHERE p.workspace_id = $1 AND p.merged_into IS NULL AND p.traits ? 'birthday'
          AND right(p.traits -> 'birthday' ->> 'value', 5) = ANY($3::text[])
          AND (p.traits -> 'birthday' ->> 'value') ~ '^([0-9]{4}-)?[0-9]{2}-[0-9]{2}$'
          AND NOT EXISTS (SELECT 1 FROM journey_states s WHERE s.workspace_id = $1 AND s.journey_id = $2 AND s.profile_id = p.id AND s.entry_key = $4)
        ORDER BY p.seq LIMIT $5`,
      [ws, journeyId, days, entryKey, limit],
    );
    return rows.map((r) => r.id);
  }

  async maxEntries(em: EntityManager, ws: string, journeyId: string, profileIds: string[]): Promise<Map<string, { maxNo: number; active: boolean }>> {
    const rows: { profile_id: string; max_no: number; active: boolean }[] = await em.query(
      `SELECT profile_id, max(entry_no)::int AS max_no, bool_or(status = 'active') AS active FROM journey_states
        WHERE workspace_id = $1 AND journey_id = $2 AND profile_id = ANY($3::uuid[]) GROUP BY profile_id`,
      [ws, journeyId, profileIds],
    );
    return new Map(rows.map((r) => [r.profile_id, { maxNo: r.max_no, active: r.active }]));
  }

  /** For the silence matcher: each event's previous event time of the same person (any event). */
  async previousEventTimes(em: EntityManager, ws: string, events: { profileId: string; ts: Date }[]): Promise<(Date | null)[]> {
    if (!events.length) return [];
    const rows: { i: number; prev: Date | null }[] = await em.query(
      `SELECT b.i, (SELECT max(e.ts) FROM events e WHERE e.workspace_id = $1 AND e.profile_id = b.p AND e.ts < b.ts) AS prev
         FROM unnest($2::uuid[], $3::timestamptz[]) WITH ORDINALITY AS b(p, ts, i)`,
      [ws, events.map((e) => e.profileId), events.map((e) => e.ts.toISOString())],
    );
    const out: (Date | null)[] = events.map(() => null);
    for (const r of rows) out[Number(r.i) - 1] = r.prev ? new Date(r.prev) : null;
    return out;
  }

  async saveStates(em: EntityManager, ws: string, states: JourneyState[]): Promise<void> {
    if (!states.length) return;
    await em.query(
      `INSERT INTO journey_states (workspace_id, journey_id, profile_id, entry_no, entry_key, step_index, status, entered_at, step_at, deadline, completed_at)
       SELECT $1::uuid, * FROM unnest($2::uuid[], $3::uuid[], $4::int[], $5::text[], $6::int[], $7::text[], $8::timestamptz[], $9::timestamptz[], $10::timestamptz[], $11::timestamptz[])
       ON CONFLICT (workspace_id, journey_id, profile_id, entry_no) DO UPDATE
         SET step_index = excluded.step_index, status = excluded.status, step_at = excluded.step_at, deadline = excluded.deadline, completed_at = excluded.completed_at`,
      [
        ws,
        states.map((s) => s.journeyId),
        states.map((s) => s.profileId),
        states.map((s) => s.entryNo),
        states.map((s) => s.entryKey),
        states.map((s) => s.stepIndex),
        states.map((s) => s.status),
        states.map((s) => iso(s.enteredAt)),
        states.map((s) => iso(s.stepAt)),
        states.map((s) => iso(s.deadline)),
        states.map((s) => iso(s.completedAt)),
      ],
    );
  }

  async saveHistory(em: EntityManager, ws: string, rows: { state: JourneyState; stepIndex: number; at: Date }[]): Promise<void> {
    if (!rows.length) return;
    await em.query(
      `INSERT INTO journey_step_history (workspace_id, journey_id, profile_id, entry_no, step_index, reached_at)
       SELECT $1::uuid, * FROM unnest($2::uuid[], $3::uuid[], $4::int[], $5::int[], $6::timestamptz[]) ON CONFLICT DO NOTHING`,
      [ws, rows.map((r) => r.state.journeyId), rows.map((r) => r.state.profileId), rows.map((r) => r.state.entryNo), rows.map((r) => r.stepIndex), rows.map((r) => r.at.toISOString())],
    );
  }

  /** Records triggers; returns those recorded now (a trigger already recorded is not returned). */
  async recordTriggers(
    em: EntityManager,
    ws: string,
    rows: { journeyId: string; profileId: string; entryNo: number; stepKey: string; at: Date; vetoed: boolean }[],
  ): Promise<{ journey_id: string; profile_id: string; entry_no: number; step_key: string; at: Date; vetoed: boolean }[]> {
    if (!rows.length) return [];
    return em.query(
      `INSERT INTO journey_triggers (workspace_id, journey_id, profile_id, entry_no, step_key, at, vetoed)
       SELECT $1::uuid, * FROM unnest($2::uuid[], $3::uuid[], $4::int[], $5::text[], $6::timestamptz[], $7::boolean[])
       ON CONFLICT DO NOTHING RETURNING journey_id, profile_id, entry_no, step_key, at, vetoed`,
      [ws, rows.map((r) => r.journeyId), rows.map((r) => r.profileId), rows.map((r) => r.entryNo), rows.map((r) => r.stepKey), rows.map((r) => r.at.toISOString()), rows.map((r) => r.vetoed)],
    );
  }

  /** Triggers held back by the consent check, newest first. */
  async vetoedTriggers(em: EntityManager, ws: string, journeyId: string, limit: number): Promise<TriggerRow[]> {
    return em.query(
      `SELECT journey_id, profile_id, entry_no, step_key, at FROM journey_triggers
        WHERE workspace_id = $1 AND journey_id = $2 AND vetoed ORDER BY at DESC, profile_id, entry_no LIMIT $3`,
      [ws, journeyId, limit],
    );
  }

  async entriesOf(em: EntityManager, ws: string, journeyId: string, profileId: string): Promise<JourneyState[]> {
    const rows: StateRow[] = await em.query(
      `SELECT ${STATE_COLS} FROM journey_states WHERE workspace_id = $1 AND journey_id = $2 AND profile_id = $3 ORDER BY entry_no`,
      [ws, journeyId, profileId],
    );
    return rows.map(toState);
  }

  async timeZone(em: EntityManager, ws: string): Promise<string> {
    const [r] = await em.query(`SELECT time_zone FROM workspaces WHERE id = $1`, [ws]);
    return r?.time_zone ?? 'Asia/Shanghai';
  }

  // ---- statistics ------------------------------------------------------------------------------

  async entryCounts(em: EntityManager, ws: string, journeyId: string, from: Date | null, to: Date | null): Promise<Record<JourneyStatus | 'entered', number>> {
    const [r] = await em.query(
      `SELECT count(*)::int AS entered,
              count(*) FILTER (WHERE status = 'active')::int AS active,
              count(*) FILTER (WHERE status = 'completed')::int AS completed,
              count(*) FILTER (WHERE status = 'dropped')::int AS dropped,
              count(*) FILTER (WHERE status = 'expired')::int AS expired
         FROM journey_states WHERE workspace_id = $1 AND journey_id = $2
          AND ($3::timestamptz IS NULL OR entered_at >= $3) AND ($4::timestamptz IS NULL OR entered_at < $4)`,
      [ws, journeyId, iso(from), iso(to)],
    );
    return r;
  }

  /** Triggers of the entries started in the range: published, and held back by the consent check. */
  async triggerCounts(em: EntityManager, ws: string, journeyId: string, from: Date | null, to: Date | null): Promise<{ triggered: number; vetoed: number }> {
    const [r] = await em.query(
      `SELECT count(*) FILTER (WHERE NOT t.vetoed)::int AS triggered, count(*) FILTER (WHERE t.vetoed)::int AS vetoed
         FROM journey_triggers t
         JOIN journey_states s ON s.workspace_id = t.workspace_id AND s.journey_id = t.journey_id AND s.profile_id = t.profile_id AND s.entry_no = t.entry_no
        WHERE t.workspace_id = $1 AND t.journey_id = $2
          AND ($3::timestamptz IS NULL OR s.entered_at >= $3) AND ($4::timestamptz IS NULL OR s.entered_at < $4)`,
      [ws, journeyId, iso(from), iso(to)],
    );
    return r;
  }

  /** Per step: entries (entered in the range) that reached it, and the median time from the previous step. */
  async stepStats(em: EntityManager, ws: string, journeyId: string, from: Date | null, to: Date | null): Promise<StepStatsRow[]> {
    return em.query(
      `SELECT h.step_index, count(*)::int AS reached,
              percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM h.reached_at - p.reached_at))::float8 AS median_seconds
         FROM journey_states s
         JOIN journey_step_history h ON h.workspace_id = s.workspace_id AND h.journey_id = s.journey_id AND h.profile_id = s.profile_id AND h.entry_no = s.entry_no
         LEFT JOIN journey_step_history p ON p.workspace_id = h.workspace_id AND p.journey_id = h.journey_id AND p.profile_id = h.profile_id
                                         AND p.entry_no = h.entry_no AND p.step_index = h.step_index - 1
        WHERE s.workspace_id = $1 AND s.journey_id = $2
          AND ($3::timestamptz IS NULL OR s.entered_at >= $3) AND ($4::timestamptz IS NULL OR s.entered_at < $4)
        GROUP BY h.step_index ORDER BY h.step_index`,
      [ws, journeyId, iso(from), iso(to)],
    );
  }

  /**
   * Path analysis over `events`: the named events of the range (at most `cap` rows, oldest first),
   * numbered per person in time order; for each occurrence of `startEvent`, the names of the next
   * `depth` events of the same person (a window frame), grouped and counted.
   */
  async paths(em: EntityManager, ws: string, startEvent: string, depth: number, top: number, from: Date, to: Date, cap: number): Promise<{ rows: PathRow[]; starts: number; scanned: number }> {
    const d = Math.trunc(depth); // validated 1–10 by the service; a frame offset is inlined
    const rows: (PathRow & { starts: number; scanned: number })[] = await em.query(
      `WITH scanned AS (
         SELECT profile_id, name, ts, message_id FROM events
          WHERE workspace_id = $1 AND ts >= $2 AND ts < $3 AND name IS NOT NULL
          ORDER BY ts LIMIT $6
       ), framed AS (
         SELECT name,
                array_agg(name) OVER (PARTITION BY profile_id ORDER BY ts, message_id ROWS BETWEEN 1 FOLLOWING AND ${d} FOLLOWING) AS path
           FROM scanned
       ), starts AS (
         SELECT path FROM framed WHERE name = $4
       )
       SELECT path, count(*)::int AS n,
              (SELECT count(*)::int FROM starts) AS starts, (SELECT count(*)::int FROM scanned) AS scanned
         FROM starts WHERE path IS NOT NULL
        GROUP BY path ORDER BY n DESC, path LIMIT $5`,
      [ws, from.toISOString(), to.toISOString(), startEvent, top, cap],
    );
    if (rows.length) return { rows, starts: rows[0].starts, scanned: rows[0].scanned };
    const [c] = await em.query(
      `WITH scanned AS (SELECT name FROM events WHERE workspace_id = $1 AND ts >= $2 AND ts < $3 AND name IS NOT NULL ORDER BY ts LIMIT $5)
       SELECT count(*)::int AS scanned, count(*) FILTER (WHERE name = $4)::int AS starts FROM scanned`,
      [ws, from.toISOString(), to.toISOString(), startEvent, cap],
    );
    return { rows: [], starts: c.starts, scanned: c.scanned };
  }
}
