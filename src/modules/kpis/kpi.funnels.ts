import type { EntityManager } from 'typeorm';
import { LocalDays } from '../../shared/zone';
import type { BatchEvent } from '../events';
import { dayNumber, dayString } from './kpi.windows';

/**
 * Saved funnels carried forward: the state the ad-hoc `funnel` query would read from raw events,
 * kept per person at ingest, so a saved funnel's answer costs the days of its range, not its events.
 *
 * The ad-hoc rule (kpi.repository.ts `funnel`): a person counts at step 1 if they did step 1 in the
 * range; t0 is their first step-1 event in it; each next step is its first event at or after the
 * previous step's and at most `withinHours` after t0. So for a range of whole local days [s, e] a
 * person's t0 is the first step-1 event of d*, their first step-1 day in the range, and how far
 * they get depends on d* alone. Kept per person (`kpi_funnel_days`): each local day with a step-1
 * event and the steps the attempt starting at that day's first step-1 event reaches. Counted
 * (`kpi_funnel_counts`): per day, gap (days since the person's previous step-1 day; FUNNEL_GAP_CAP
 * for none) and steps reached. d is the person's first step-1 day in [s, e] exactly when d ∈ [s, e]
 * and gap > d − s, so step i's count over a range of at most FUNNEL_GAP_CAP days is the sum of the
 * rows of its days with gap > d − s and reached ≥ i — exact, and as many rows as days × gaps.
 *
 * A batch re-derives, for each person with events of the funnel's step names, the days its events
 * can change: from the local day of (earliest event − window) to the day of the latest event, from
 * that person's events of those names in a bounded span (one index range each), and writes the
 * difference (rows and counts, the next day's gap included). Merges, unmerges and `recompute`
 * re-derive whole people from their events. Erasure keeps the counts (like every `kpi_*` aggregate).
 */
export const FUNNEL_GAP_CAP = 93;

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
/** Local days start at most 14 h before and end at most 12 h after their UTC day. */
const ZONE_SLACK_MS = 15 * HOUR_MS;
const ALL_DAYS = { lo: dayNumber('1900-01-01'), hi: dayNumber('2999-12-31') };

export interface FunnelDef {
  id: string;
  name: string;
  steps: string[];
  withinHours: number;
  ready: boolean;
  createdAt: Date;
}

interface FunnelRow {
  id: string;
  name: string;
  steps: string[];
  within_hours: number;
  ready: boolean;
  cursor: string | null;
  created_at: Date;
}

const toDef = (r: FunnelRow): FunnelDef => ({ id: r.id, name: r.name, steps: r.steps, withinHours: Number(r.within_hours), ready: r.ready, createdAt: r.created_at });

interface Ev {
  name: string;
  ts: number;
}

/** A person's days to re-derive (day numbers, inclusive); `all`: every day, from all their events. */
interface Span {
  p: string;
  lo: number;
  hi: number;
  all: boolean;
}

/**
 * Steps reached by the attempt starting at `evs[i0]` (a step-1 event; `evs` sorted by time): each
 * next step's first event at or after the previous step's time (the same event included, as the SQL
 * rule has it) and at most `windowMs` after t0.
 */
export function stepsReached(steps: readonly string[], evs: readonly Ev[], i0: number, windowMs: number): number {
  const t0 = evs[i0].ts;
  const end = t0 + windowMs;
  let t = t0;
  let reached = 1;
  for (let k = 1; k < steps.length; k++) {
    // The first event at or after t (events tied with the previous step's included).
    let j = firstAtOrAfter(evs, t);
    while (j < evs.length && evs[j].ts <= end && evs[j].name !== steps[k]) j++;
    if (j >= evs.length || evs[j].ts > end) break;
    t = evs[j].ts;
    reached++;
  }
  return reached;
}

function firstAtOrAfter(evs: readonly Ev[], t: number): number {
  let lo = 0;
  let hi = evs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (evs[mid].ts < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** A person's days of one funnel from their events of its step names (sorted by time), within [lo, hi]. */
export function funnelDays(steps: readonly string[], windowMs: number, evs: readonly Ev[], local: LocalDays, lo: number, hi: number): Map<number, number> {
  const out = new Map<number, number>();
  evs.forEach((e, i) => {
    if (e.name !== steps[0]) return;
    const d = dayNumber(local.of(e.ts));
    if (d < lo || d > hi || out.has(d)) return;
    out.set(d, stepsReached(steps, evs, i, windowMs));
  });
  return out;
}

export class KpiFunnelRepository {
  async list(em: EntityManager, ws: string): Promise<FunnelDef[]> {
    const rows: FunnelRow[] = await em.query(`SELECT id, name, steps, within_hours, ready, cursor, created_at FROM kpi_funnels WHERE workspace_id = $1 ORDER BY created_at, id`, [ws]);
    return rows.map(toDef);
  }

  /** A new funnel: ready at once in a workspace without events, else backfilled by the sweep. Null if one with these steps and window exists. */
  async create(em: EntityManager, ws: string, name: string, steps: string[], withinHours: number): Promise<FunnelDef | null> {
    const [{ any }] = await em.query(`SELECT EXISTS (SELECT 1 FROM events WHERE workspace_id = $1) AS any`, [ws]);
    const rows: FunnelRow[] = await em.query(
      `INSERT INTO kpi_funnels (workspace_id, name, steps, within_hours, ready) VALUES ($1, $2, $3::text[], $4, $5)
       ON CONFLICT (workspace_id, steps, within_hours) DO NOTHING
       RETURNING id, name, steps, within_hours, ready, cursor, created_at`,
      [ws, name, steps, withinHours, !any],
    );
    return rows.length ? toDef(rows[0]) : null;
  }

  async remove(em: EntityManager, ws: string, id: string): Promise<boolean> {
    // DELETE … RETURNING answers [rows, affected] through TypeORM.
    const [rows] = await em.query(`DELETE FROM kpi_funnels WHERE workspace_id = $1 AND id = $2 RETURNING id`, [ws, id]);
    return rows.length > 0;
  }

  /** The ready funnel with exactly these steps and window, if any. */
  async readyFor(em: EntityManager, ws: string, steps: string[], withinHours: number): Promise<FunnelDef | null> {
    const rows: FunnelRow[] = await em.query(
      `SELECT id, name, steps, within_hours, ready, cursor, created_at FROM kpi_funnels WHERE workspace_id = $1 AND steps = $2::text[] AND within_hours = $3 AND ready`,
      [ws, steps, withinHours],
    );
    return rows.length ? toDef(rows[0]) : null;
  }

  /** People reaching each step over the local days [from, to] (at most FUNNEL_GAP_CAP days). */
  async counts(em: EntityManager, ws: string, f: FunnelDef, from: string, to: string): Promise<number[]> {
    const rows: { r: number; n: number }[] = await em.query(
      `SELECT reached AS r, sum(people)::int AS n FROM kpi_funnel_counts
       WHERE workspace_id = $1 AND funnel_id = $2 AND day >= $3::date AND day <= $4::date AND gap > day - $3::date
       GROUP BY reached`,
      [ws, f.id, from, to],
    );
    return f.steps.map((_, i) => rows.filter((x) => Number(x.r) >= i + 1).reduce((a, x) => a + Number(x.n), 0));
  }

  /**
   * In the batch's transaction: merged-away people and their survivors are re-derived whole; every
   * other person with events of a funnel's step names, on the days those events can change.
   */
  async onBatch(em: EntityManager, ws: string, zone: () => Promise<string>, events: readonly BatchEvent[], merged: readonly { mergedId: string; survivorId: string }[]): Promise<void> {
    const funnels = await this.list(em, ws);
    if (!funnels.length) return;
    const local = new LocalDays(await zone());
    const whole = new Set(merged.flatMap((m) => [m.mergedId, m.survivorId]));
    for (const f of funnels) {
      const names = new Set(f.steps);
      const w = f.withinHours * HOUR_MS;
      const range = new Map<string, { min: number; max: number }>();
      for (const e of events) {
        if (e.name === null || !names.has(e.name) || whole.has(e.profileId)) continue;
        const t = e.ts.getTime();
        const r = range.get(e.profileId);
        if (!r) range.set(e.profileId, { min: t, max: t });
        else {
          r.min = Math.min(r.min, t);
          r.max = Math.max(r.max, t);
        }
      }
      const spans: Span[] = [...whole].map((p) => ({ p, ...ALL_DAYS, all: true }));
      for (const [p, r] of range) spans.push({ p, lo: dayNumber(local.of(r.min - w)), hi: dayNumber(local.of(r.max)), all: false });
      if (spans.length) await this.update(em, ws, local, f, spans);
    }
  }

  /** Re-derives whole people of every funnel from their events (unmerge, `recompute`, backfill). */
  async rebuild(em: EntityManager, ws: string, tz: string, ids: readonly string[], funnels?: FunnelDef[]): Promise<void> {
    if (!ids.length) return;
    const local = new LocalDays(tz);
    for (const f of funnels ?? (await this.list(em, ws))) await this.update(em, ws, local, f, ids.map((p) => ({ p, ...ALL_DAYS, all: true })));
  }

  /**
   * At the end of a `recompute --parts kpis` pass (still on record in `recompute_state`): it
   * re-derived every live person, so funnels created before it began are complete.
   */
  async markReady(em: EntityManager, ws: string): Promise<void> {
    await em.query(
      `UPDATE kpi_funnels SET ready = true, cursor = NULL
       WHERE workspace_id = $1 AND NOT ready AND created_at < (SELECT started_at FROM recompute_state WHERE workspace_id = $1 AND part = 'kpis')`,
      [ws],
    );
  }

  /** Whether a funnel of the workspace awaits its backfill. */
  async backfilling(em: EntityManager, ws: string): Promise<boolean> {
    const [r] = await em.query(`SELECT EXISTS (SELECT 1 FROM kpi_funnels WHERE workspace_id = $1 AND NOT ready) AS b`, [ws]);
    return r.b === true;
  }

  /**
   * One bounded step of the backfill of funnels not ready: the next `max` live people (by
   * `profiles.seq`) of the funnel created first among them, re-derived whole. Returns the people done.
   */
  async backfillStep(em: EntityManager, ws: string, tz: string, max: number): Promise<number> {
    const [f]: FunnelRow[] = await em.query(
      `SELECT id, name, steps, within_hours, ready, cursor, created_at FROM kpi_funnels WHERE workspace_id = $1 AND NOT ready ORDER BY created_at, id LIMIT 1`,
      [ws],
    );
    if (!f) return 0;
    const chunk: { id: string; seq: string }[] = await em.query(
      `SELECT id, seq FROM profiles WHERE workspace_id = $1 AND merged_into IS NULL AND seq > $2 ORDER BY seq LIMIT $3`,
      [ws, f.cursor ?? 0, max],
    );
    await this.rebuild(em, ws, tz, chunk.map((c) => c.id), [toDef(f)]);
    // People created after the funnel are kept by ingest; a pass that finds no one left is done.
    if (chunk.length < max) await em.query(`UPDATE kpi_funnels SET ready = true, cursor = NULL WHERE workspace_id = $1 AND id = $2`, [ws, f.id]);
    else await em.query(`UPDATE kpi_funnels SET cursor = $3 WHERE workspace_id = $1 AND id = $2`, [ws, f.id, chunk[chunk.length - 1].seq]);
    return chunk.length;
  }

  /** Re-derives people's days in their spans and writes the difference (rows and counts). */
  private async update(em: EntityManager, ws: string, local: LocalDays, f: FunnelDef, spans: Span[]): Promise<void> {
    const w = f.withinHours * HOUR_MS;
    // Each person's events of the step names that can matter to the days of their span (one index range each).
    const evRows: { p: string; name: string; ts: Date }[] = await em.query(
      `SELECT u.p, e.name, e.ts FROM jsonb_to_recordset($2::jsonb) AS u(p uuid, lo timestamptz, hi timestamptz)
       CROSS JOIN LATERAL (SELECT name, ts FROM events
                           WHERE workspace_id = $1 AND profile_id = u.p AND ts >= coalesce(u.lo, '-infinity') AND ts < coalesce(u.hi, 'infinity') AND name = ANY($3::text[]) OFFSET 0) e`,
      [
        ws,
        JSON.stringify(spans.map((s) => (s.all ? { p: s.p, lo: null, hi: null } : { p: s.p, lo: new Date(s.lo * DAY_MS - ZONE_SLACK_MS).toISOString(), hi: new Date((s.hi + 1) * DAY_MS + ZONE_SLACK_MS + w).toISOString() }))),
        [...new Set(f.steps)],
      ],
    );
    const evs = new Map<string, Ev[]>();
    for (const r of evRows) {
      let l = evs.get(r.p);
      if (!l) evs.set(r.p, (l = []));
      l.push({ name: r.name, ts: new Date(r.ts).getTime() });
    }
    // Stored days in each span, and the person's last day before it and first after it.
    const had: { p: string; d: number; r: number; w: number }[] = await em.query(
      `SELECT u.p, x.day - DATE '1970-01-01' AS d, x.reached AS r, x.w FROM jsonb_to_recordset($3::jsonb) AS u(p uuid, lo date, hi date)
       CROSS JOIN LATERAL (
         (SELECT day, reached, 0 AS w FROM kpi_funnel_days k WHERE k.workspace_id = $1 AND k.funnel_id = $2 AND k.profile_id = u.p AND k.day >= u.lo AND k.day <= u.hi)
         UNION ALL
         (SELECT day, reached, -1 FROM kpi_funnel_days k WHERE k.workspace_id = $1 AND k.funnel_id = $2 AND k.profile_id = u.p AND k.day < u.lo ORDER BY day DESC LIMIT 1)
         UNION ALL
         (SELECT day, reached, 1 FROM kpi_funnel_days k WHERE k.workspace_id = $1 AND k.funnel_id = $2 AND k.profile_id = u.p AND k.day > u.hi ORDER BY day LIMIT 1)) x`,
      [ws, f.id, JSON.stringify(spans.map((s) => ({ p: s.p, lo: dayString(s.lo), hi: dayString(s.hi) })))],
    );
    const stored = new Map<string, { inside: Map<number, number>; before?: number; after?: { d: number; r: number } }>();
    for (const h of had) {
      let s = stored.get(h.p);
      if (!s) stored.set(h.p, (s = { inside: new Map() }));
      const d = Number(h.d);
      if (Number(h.w) === 0) s.inside.set(d, Number(h.r));
      else if (Number(h.w) < 0) s.before = d;
      else s.after = { d, r: Number(h.r) };
    }
    const counts = new Map<string, number>();
    const count = (rows: [number, number][], before: number | undefined, sign: 1 | -1) => {
      let prev = before;
      for (const [d, r] of rows) {
        const gap = prev === undefined ? FUNNEL_GAP_CAP : Math.min(d - prev, FUNNEL_GAP_CAP);
        const key = `${d}|${gap}|${r}`;
        counts.set(key, (counts.get(key) ?? 0) + sign);
        prev = d;
      }
    };
    const gone: { p: string; d: string }[] = [];
    const put: { p: string; d: string; r: number }[] = [];
    for (const s of spans) {
      const mine = (evs.get(s.p) ?? []).sort((a, b) => a.ts - b.ts);
      const now = funnelDays(f.steps, w, mine, local, s.lo, s.hi);
      const was = stored.get(s.p) ?? { inside: new Map<number, number>() };
      const tail: [number, number][] = was.after ? [[was.after.d, was.after.r]] : [];
      const sorted = (m: Map<number, number>) => [...m].sort((a, b) => a[0] - b[0]);
      count([...sorted(was.inside), ...tail], was.before, -1);
      count([...sorted(now), ...tail], was.before, 1);
      for (const d of was.inside.keys()) if (!now.has(d)) gone.push({ p: s.p, d: dayString(d) });
      for (const [d, r] of now) if (was.inside.get(d) !== r) put.push({ p: s.p, d: dayString(d), r });
    }
    if (gone.length) {
      await em.query(
        `DELETE FROM kpi_funnel_days k USING jsonb_to_recordset($3::jsonb) AS u(p uuid, d date)
         WHERE k.workspace_id = $1 AND k.funnel_id = $2 AND k.profile_id = u.p AND k.day = u.d`,
        [ws, f.id, JSON.stringify(gone)],
      );
    }
    if (put.length) {
      await em.query(
        `INSERT INTO kpi_funnel_days AS k (workspace_id, funnel_id, profile_id, day, reached)
         SELECT $1, $2, u.p, u.d, u.r FROM jsonb_to_recordset($3::jsonb) AS u(p uuid, d date, r int)
         ON CONFLICT (workspace_id, funnel_id, profile_id, day) DO UPDATE SET reached = EXCLUDED.reached`,
        [ws, f.id, JSON.stringify(put)],
      );
    }
    const delta = [...counts].filter(([, n]) => n !== 0).map(([key, n]) => {
      const [d, g, r] = key.split('|').map(Number);
      return { d: dayString(d), g, r, n };
    });
    if (delta.length) {
      await em.query(
        `INSERT INTO kpi_funnel_counts AS c (workspace_id, funnel_id, day, gap, reached, people)
         SELECT $1, $2, u.d, u.g, u.r, u.n FROM jsonb_to_recordset($3::jsonb) AS u(d date, g int, r int, n int)
         ON CONFLICT (workspace_id, funnel_id, day, gap, reached) DO UPDATE SET people = c.people + EXCLUDED.people`,
        [ws, f.id, JSON.stringify(delta)],
      );
    }
  }
}
