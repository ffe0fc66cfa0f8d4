import type { EntityManager } from 'typeorm';
import type { BatchEvent } from '../events';
import { LocalDays } from '../../shared/zone';

/**
 * WAU and MAU carried forward (DESIGN §5): for every local day e and dimension, the number of
 * people active in the N days ending with e (N = 7, 30), kept in `kpi_day_counts` under kinds
 * `WINDOW_KIND[N]`. A person covers day e when one of their active days a has a ≤ e < a + N.
 *
 * Each person's active days per dimension are kept in `kpi_person_days` (local day numbers, the
 * same days as their bits in the day sets). A batch adds a day to a person: the days e it newly
 * covers (no other active day of theirs already covers them) gain 1. A merge pools two people's
 * days: every day both covered loses 1. A rebuild takes a person's whole cover away before their
 * events add it again. So a batch costs its people's rows, never the people active in a window.
 */

export const WINDOWS = [7, 30] as const;
/** `kpi_day_counts.kind` of each window's count (no day-set bits have these kinds). */
export const WINDOW_KIND: Record<(typeof WINDOWS)[number], number> = { 7: 20, 30: 21 };

const DAY_MS = 86_400_000;
/** Local date (YYYY-MM-DD) → day number; and back. */
export const dayNumber = (d: string): number => Math.round(Date.parse(`${d}T00:00:00Z`) / DAY_MS);
const dayString = (n: number): string => new Date(n * DAY_MS).toISOString().slice(0, 10);

/** A person's active day numbers per dimension ('' everyone, `c:<channel>`, `t:<touchpoint>`). */
type Days = Record<string, number[]>;

/** Count changes keyed `${kind}|${dim}|${day}`. */
class Gains {
  readonly map = new Map<string, number>();
  add(kind: number, dim: string, day: number, n: number): void {
    const key = `${kind}|${dim}|${day}`;
    this.map.set(key, (this.map.get(key) ?? 0) + n);
  }

  /** ±1 for every day each of some day lists covers (the lists of one person and dimension). */
  cover(dim: string, days: Iterable<number>, sign: 1 | -1): void {
    for (const n of WINDOWS) for (const e of covered(days, n)) this.add(WINDOW_KIND[n], dim, e, sign);
  }

  async write(em: EntityManager, ws: string): Promise<void> {
    const rows = [...this.map]
      .filter(([, n]) => n !== 0)
      .map(([key, n]) => {
        const [k, m, d] = splitKey(key);
        return { k: Number(k), m, d: dayString(Number(d)), n };
      });
    if (!rows.length) return;
    await em.query(
      `INSERT INTO kpi_day_counts AS c (workspace_id, kind, dim, day, people)
       SELECT $1, u.k, u.m, u.d, u.n FROM jsonb_to_recordset($2::jsonb) AS u(k smallint, m text, d date, n int)
       ON CONFLICT (workspace_id, kind, dim, day) DO UPDATE SET people = c.people + EXCLUDED.people`,
      [ws, JSON.stringify(rows)],
    );
  }
}

/** `kind|dim|day` where dim may itself hold '|'. */
function splitKey(key: string): [string, string, string] {
  const a = key.indexOf('|');
  const b = key.lastIndexOf('|');
  return [key.slice(0, a), key.slice(a + 1, b), key.slice(b + 1)];
}

/** The days a set of active days covers for a window of n days. */
function covered(days: Iterable<number>, n: number): Set<number> {
  const out = new Set<number>();
  for (const a of days) for (let e = a; e < a + n; e++) out.add(e);
  return out;
}

export class KpiWindowRepository {
  private async read(em: EntityManager, ws: string, ids: string[]): Promise<Map<string, Days>> {
    if (!ids.length) return new Map();
    const rows: { p: string; days: Days }[] = await em.query(`SELECT profile_id AS p, days FROM kpi_person_days WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[])`, [ws, ids]);
    return new Map(rows.map((r) => [r.p, r.days]));
  }

  private async write(em: EntityManager, ws: string, rows: Map<string, Days>): Promise<void> {
    if (!rows.size) return;
    await em.query(
      `INSERT INTO kpi_person_days AS k (workspace_id, profile_id, days)
       SELECT $1, u.p, u.days FROM jsonb_to_recordset($2::jsonb) AS u(p uuid, days jsonb)
       ON CONFLICT (workspace_id, profile_id) DO UPDATE SET days = EXCLUDED.days`,
      [ws, JSON.stringify([...rows].map(([p, days]) => ({ p, days })))],
    );
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
        const old = new Set(days[dim] ?? []);
        const fresh = [...add].filter((d) => !old.has(d));
        if (!fresh.length) continue;
        any = true;
        // What the new days cover beyond what the old ones did.
        for (const n of WINDOWS) {
          const before = covered(old, n);
          for (const e of covered(fresh, n)) if (!before.has(e)) gains.add(WINDOW_KIND[n], dim, e, 1);
        }
        days[dim] = [...old, ...fresh].sort((a, b) => a - b);
      }
      if (any) changed.set(p, days);
    }
    await gains.write(em, ws);
    await this.write(em, ws, changed);
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
        for (const l of lists) gains.cover(dim, l, -1);
        gains.cover(dim, all, 1);
      }
      next.set(s, pooled);
    }
    await gains.write(em, ws);
    await em.query(`DELETE FROM kpi_person_days WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[])`, [ws, [...groups.values()].flat()]);
    await this.write(em, ws, next);
  }

  /** Takes people's days and what they cover away (a rebuild adds them again from their events). */
  async drop(em: EntityManager, ws: string, ids: string[]): Promise<void> {
    const rows = await this.read(em, ws, ids);
    if (!rows.size) return;
    const gains = new Gains();
    for (const days of rows.values()) for (const [dim, list] of Object.entries(days)) gains.cover(dim, list, -1);
    await gains.write(em, ws);
    await em.query(`DELETE FROM kpi_person_days WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[])`, [ws, [...rows.keys()]]);
  }
}
