import type { EntityManager } from 'typeorm';
import type { BatchEvent } from '../events';
import { LocalDays } from '../../shared/zone';

/**
 * Day measures that depend only on each person's own active days, carried forward (DESIGN §5), per
 * local day e and dimension in `kpi_day_counts`:
 *
 * - kind 20 / 21, WAU / MAU: people active in the 7 / 30 days ending with e (a ≤ e < a + N for one
 *   of their active days a).
 * - kind 22, churn: people active on e and on e − 1 (CHURN_RATE of day e: the day before's
 *   active people who are not among them).
 * - kind 23, wake-ups: people active on e whose active day before e is 31 or more days earlier.
 * - kind 24, silence changes: +1 on the day a person becomes silent (31 days after an active day
 *   with no later one yet), −1 the day after they are active again. Silent people on day e (active
 *   before, not in the 30 days before e) are the sum of these up to e.
 *
 * Each person's active days per dimension are kept in `kpi_person_days` (local day numbers, the
 * same days as their bits in the day sets). A person's part of every count is a function of their
 * days alone (`parts`); a batch that adds days writes the difference between their part after and
 * before, a merge the pooled part minus each person's, a rebuild minus the person's part before
 * their events add it again. A batch costs its people's rows, never the people active in a window.
 */

export const WINDOWS = [7, 30] as const;
/** `kpi_day_counts.kind` of each carried count (no day-set bits have these kinds). */
export const WINDOW_KIND: Record<(typeof WINDOWS)[number], number> = { 7: 20, 30: 21 };
export const CARRIED_KIND = { both: 22, woken: 23, silence: 24 } as const;
/** Days of silence after which activity is a wake-up (SILENT_WAKEUP_RATE: not active in the 30 days before). */
const QUIET_DAYS = 30;

const DAY_MS = 86_400_000;
/** Local date (YYYY-MM-DD) → day number; and back. */
export const dayNumber = (d: string): number => Math.round(Date.parse(`${d}T00:00:00Z`) / DAY_MS);
const dayString = (n: number): string => new Date(n * DAY_MS).toISOString().slice(0, 10);

/** A person's active day numbers per dimension ('' everyone, `c:<channel>`, `t:<touchpoint>`). */
type Days = Record<string, number[]>;

/** One person's part of the carried counts of one dimension, keyed `${kind}|${day}`. */
export function parts(days: Iterable<number>): Map<string, number> {
  const out = new Map<string, number>();
  const add = (kind: number, e: number, n = 1) => {
    const key = `${kind}|${e}`;
    const v = (out.get(key) ?? 0) + n;
    if (v) out.set(key, v);
    else out.delete(key);
  };
  const sorted = [...new Set(days)].sort((a, b) => a - b);
  for (const n of WINDOWS) {
    const seen = new Set<number>();
    for (const a of sorted) {
      for (let e = a; e < a + n; e++) {
        if (seen.has(e)) continue;
        seen.add(e);
        add(WINDOW_KIND[n], e);
      }
    }
  }
  for (let i = 0; i < sorted.length; i++) {
    const a = sorted[i];
    const next = sorted[i + 1];
    if (i > 0 && sorted[i - 1] === a - 1) add(CARRIED_KIND.both, a);
    if (i > 0 && sorted[i - 1] <= a - QUIET_DAYS - 1) add(CARRIED_KIND.woken, a);
    // Silent from a + 31 until (and including) the next active day, if that comes later.
    if (next === undefined || next >= a + QUIET_DAYS + 1) {
      add(CARRIED_KIND.silence, a + QUIET_DAYS + 1);
      if (next !== undefined) add(CARRIED_KIND.silence, next + 1, -1);
    }
  }
  return out;
}

/**
 * Adds day f to a person's sorted active days (in place) and reports how their part changes:
 * only the neighbours of f matter (p, the last day before it; q, the first after), so this costs
 * a binary search, not a pass over their days. Equal to parts(after) − parts(before).
 */
export function addDay(sorted: number[], f: number, add: (kind: number, e: number, n: number) => void): void {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] < f) lo = mid + 1;
    else hi = mid;
  }
  if (sorted[lo] === f) return;
  const p = lo > 0 ? sorted[lo - 1] : undefined;
  const q = lo < sorted.length ? sorted[lo] : undefined;
  // Windows: f newly covers e in [f, f + N − 1] unless p still covers e (e ≤ p + N − 1) or q does (e ≥ q).
  for (const n of WINDOWS) {
    const from = Math.max(f, p === undefined ? f : p + n);
    const to = Math.min(f + n - 1, q === undefined ? f + n - 1 : q - 1);
    for (let e = from; e <= to; e++) add(WINDOW_KIND[n], e, 1);
  }
  // Churn: active on e and e − 1.
  if (p === f - 1) add(CARRIED_KIND.both, f, 1);
  if (q === f + 1) add(CARRIED_KIND.both, q, 1);
  // Wake-ups: f after a quiet p; q's day before becomes f instead of p.
  if (p !== undefined && p <= f - QUIET_DAYS - 1) add(CARRIED_KIND.woken, f, 1);
  if (q !== undefined) {
    const was = p !== undefined && p <= q - QUIET_DAYS - 1 ? 1 : 0;
    const now = f <= q - QUIET_DAYS - 1 ? 1 : 0;
    if (now !== was) add(CARRIED_KIND.woken, q, now - was);
  }
  // Silence: the pair (p, q) gives way to (p, f) and (f, q).
  const pair = (a: number | undefined, b: number | undefined, sign: 1 | -1) => {
    if (a === undefined) return;
    if (b === undefined || b >= a + QUIET_DAYS + 1) {
      add(CARRIED_KIND.silence, a + QUIET_DAYS + 1, sign);
      if (b !== undefined) add(CARRIED_KIND.silence, b + 1, -sign);
    }
  };
  pair(p, q, -1);
  pair(p, f, 1);
  pair(f, q, 1);
  sorted.splice(lo, 0, f);
}

/** Count changes keyed `${kind}|${dim}|${day}`. */
class Gains {
  readonly map = new Map<string, number>();

  add(kind: number, dim: string, day: number, n: number): void {
    const k = `${kind}|${dim}|${day}`;
    this.map.set(k, (this.map.get(k) ?? 0) + n);
  }

  /** Adds `sign ×` a person's part for one dimension. */
  part(dim: string, days: Iterable<number>, sign: 1 | -1): void {
    for (const [key, n] of parts(days)) {
      const at = key.indexOf('|');
      const k = `${key.slice(0, at)}|${dim}|${key.slice(at + 1)}`;
      this.map.set(k, (this.map.get(k) ?? 0) + sign * n);
    }
  }

  /** Writes the changes and, in the same statement, people's new day lists (`days`, when given). */
  async write(em: EntityManager, ws: string, days: Map<string, Days> = new Map()): Promise<void> {
    const rows = [...this.map]
      .filter(([, n]) => n !== 0)
      .map(([key, n]) => {
        const [k, m, d] = splitKey(key);
        return { k: Number(k), m, d: dayString(Number(d)), n };
      });
    if (!rows.length && !days.size) return;
    await em.query(
      `WITH pd AS (INSERT INTO kpi_person_days AS k (workspace_id, profile_id, days)
                   SELECT $1, u.p, u.days FROM jsonb_to_recordset($3::jsonb) AS u(p uuid, days jsonb)
                   ON CONFLICT (workspace_id, profile_id) DO UPDATE SET days = EXCLUDED.days)
       INSERT INTO kpi_day_counts AS c (workspace_id, kind, dim, day, people)
       SELECT $1, u.k, u.m, u.d, u.n FROM jsonb_to_recordset($2::jsonb) AS u(k smallint, m text, d date, n int)
       ON CONFLICT (workspace_id, kind, dim, day) DO UPDATE SET people = c.people + EXCLUDED.people`,
      [ws, JSON.stringify(rows), JSON.stringify([...days].map(([p, d]) => ({ p, days: d })))],
    );
  }
}

/** `kind|dim|day` where dim may itself hold '|'. */
function splitKey(key: string): [string, string, string] {
  const a = key.indexOf('|');
  const b = key.lastIndexOf('|');
  return [key.slice(0, a), key.slice(a + 1, b), key.slice(b + 1)];
}

export class KpiWindowRepository {
  private async read(em: EntityManager, ws: string, ids: string[]): Promise<Map<string, Days>> {
    if (!ids.length) return new Map();
    const rows: { p: string; days: Days }[] = await em.query(`SELECT profile_id AS p, days FROM kpi_person_days WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[])`, [ws, ids]);
    return new Map(rows.map((r) => [r.p, r.days]));
  }

  /** Adds a batch's active days (events carry their survivor profile ids), in the zone `tz`. */
  async add(em: EntityManager, ws: string, tz: string, events: Pick<BatchEvent, 'profileId' | 'ts' | 'channel' | 'context'>[]): Promise<void> {
    if (!events.length) return;
    const local = new LocalDays(tz);
    const batch = new Map<string, Map<string, Set<number>>>();
    for (const e of events) {
      const day = dayNumber(local.of(e.ts.getTime()));
      let dims = batch.get(e.profileId);
      if (!dims) batch.set(e.profileId, (dims = new Map()));
      const t = e.context?.touchpoint;
      for (const dim of ['', `c:${e.channel}`, `t:${typeof t === 'string' ? t.slice(0, 200) : ''}`]) {
        let s = dims.get(dim);
        if (!s) dims.set(dim, (s = new Set()));
        s.add(day);
      }
    }
    const had = await this.read(em, ws, [...batch.keys()]);
    const gains = new Gains();
    const changed = new Map<string, Days>();
    for (const [p, dims] of batch) {
      const days: Days = { ...(had.get(p) ?? {}) };
      let any = false;
      for (const [dim, add] of dims) {
        const list = [...(days[dim] ?? [])];
        const n = list.length;
        for (const f of add) addDay(list, f, (kind, e, by) => gains.add(kind, dim, e, by));
        if (list.length === n) continue;
        any = true;
        days[dim] = list;
      }
      if (any) changed.set(p, days);
    }
    await gains.write(em, ws, changed);
  }

  /** Pools merged-away people's days into their survivors'. */
  async fold(em: EntityManager, ws: string, merged: { mergedId: string; survivorId: string }[]): Promise<void> {
    if (!merged.length) return;
    const rows = await this.read(em, ws, [...new Set(merged.flatMap((m) => [m.mergedId, m.survivorId]))]);
    const groups = new Map<string, string[]>();
    for (const m of merged) {
      if (!rows.has(m.mergedId)) continue;
      const g = groups.get(m.survivorId);
      if (g) g.push(m.mergedId);
      else groups.set(m.survivorId, [m.mergedId]);
    }
    if (!groups.size) return;
    const gains = new Gains();
    const next = new Map<string, Days>();
    for (const [s, ms] of groups) {
      const people = [s, ...ms].filter((p) => rows.has(p)).map((p) => rows.get(p)!);
      const pooled: Days = {};
      for (const dim of new Set(people.flatMap((d) => Object.keys(d)))) {
        const lists = people.map((d) => d[dim] ?? []).filter((l) => l.length);
        const all = new Set(lists.flat());
        pooled[dim] = [...all].sort((a, b) => a - b);
        if (lists.length < 2) continue;
        for (const l of lists) gains.part(dim, l, -1);
        gains.part(dim, all, 1);
      }
      next.set(s, pooled);
    }
    await em.query(`DELETE FROM kpi_person_days WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[])`, [ws, [...groups.values()].flat()]);
    await gains.write(em, ws, next);
  }

  /** Takes people's days and what they cover away (a rebuild adds them again from their events). */
  async drop(em: EntityManager, ws: string, ids: string[]): Promise<void> {
    const rows = await this.read(em, ws, ids);
    if (!rows.size) return;
    const gains = new Gains();
    for (const days of rows.values()) for (const [dim, list] of Object.entries(days)) gains.part(dim, list, -1);
    await gains.write(em, ws);
    await em.query(`DELETE FROM kpi_person_days WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[])`, [ws, [...rows.keys()]]);
  }
}
