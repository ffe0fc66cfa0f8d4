import type { EntityManager } from 'typeorm';
import type { Family } from './kpi.catalogue';
import type { Breakdown, Bucket, KpiFilterSpec } from './kpi.repository';
import { dimension } from './kpi.sets';
import { signalSums } from './kpi.signals';

/**
 * Counts per UTC clock hour and dimension, carried forward at ingest (`kpi_hour_counts`): distinct
 * people active, interacting and buying in the hour, and sessions (distinct person × channel ×
 * hour). They answer the HOUR grain and SESSIONS at any grain by summing hours, so the cost of an
 * answer is hours × dimensions, never the people in them.
 *
 * A person's part of an hour depends only on their own `kpi_activity` rows of that hour
 * (`contribution`). Every change to those rows changes the counts by the difference between the
 * person's part after and before: a batch adds its rows to the person's existing ones, a merge
 * pools two people's rows under the survivor, a rebuild deletes rows before adding them again.
 */

/** A `kpi_activity` row as the hour counts read it. */
export interface HourRow {
  /** UTC hour (ISO string). */
  h: string;
  p: string;
  c: string;
  t: string;
  /** Interactions and orders in the row (only whether they are > 0 matters). */
  it: number;
  or: number;
}

/** active, interacting, buyers, sessions */
type Part = [number, number, number, number];

/** One person's part of one hour, per dimension: '' everyone, `c:<channel>`, `t:<touchpoint>`. */
export function contribution(rows: Pick<HourRow, 'c' | 't' | 'it' | 'or'>[]): Map<string, Part> {
  const out = new Map<string, Part>();
  const sessions = new Map<string, Set<string>>();
  for (const r of rows) {
    for (const dim of ['', `c:${r.c}`, `t:${r.t}`]) {
      let part = out.get(dim);
      if (!part) out.set(dim, (part = [1, 0, 0, 0]));
      if (r.it > 0) part[1] = 1;
      if (r.or > 0) part[2] = 1;
      let s = sessions.get(dim);
      if (!s) sessions.set(dim, (s = new Set()));
      s.add(r.c);
    }
  }
  for (const [dim, s] of sessions) out.get(dim)![3] = s.size;
  return out;
}

/** Count changes keyed `${hour}|${dim}`. */
export class HourDeltas {
  readonly map = new Map<string, Part>();

  /** Adds `sign ×` a person's part of an hour. */
  add(hour: string, rows: Pick<HourRow, 'c' | 't' | 'it' | 'or'>[], sign: 1 | -1): void {
    for (const [dim, part] of contribution(rows)) {
      const key = `${hour}|${dim}`;
      let d = this.map.get(key);
      if (!d) this.map.set(key, (d = [0, 0, 0, 0]));
      for (let i = 0; i < 4; i++) d[i] += sign * part[i];
    }
  }

  /** The change of a set of hours when `before` (grouped by person and hour) becomes `after`. */
  change(before: HourRow[], after: HourRow[], owner: (r: HourRow) => string = (r) => r.p): void {
    for (const [key, rows] of groupBy(before, (r) => `${r.h}|${r.p}`)) this.add(key.slice(0, key.indexOf('|')), rows, -1);
    for (const [key, rows] of groupBy(after, (r) => `${r.h}|${owner(r)}`)) this.add(key.slice(0, key.indexOf('|')), rows, 1);
  }

  /** Writes the changes (one statement). */
  async write(em: EntityManager, ws: string): Promise<void> {
    const rows = [...this.map]
      .filter(([, d]) => d.some((x) => x !== 0))
      .map(([key, [a, i, b, s]]) => {
        const at = key.indexOf('|');
        return { h: key.slice(0, at), m: key.slice(at + 1), a, i, b, s };
      });
    if (!rows.length) return;
    await em.query(
      `INSERT INTO kpi_hour_counts AS k (workspace_id, dim, hour, active, interacting, buyers, sessions)
       SELECT $1, u.m, u.h, u.a, u.i, u.b, u.s FROM jsonb_to_recordset($2::jsonb) AS u(h timestamptz, m text, a int, i int, b int, s int)
       ON CONFLICT (workspace_id, dim, hour) DO UPDATE SET active = k.active + EXCLUDED.active, interacting = k.interacting + EXCLUDED.interacting,
         buyers = k.buyers + EXCLUDED.buyers, sessions = k.sessions + EXCLUDED.sessions`,
      [ws, JSON.stringify(rows)],
    );
  }
}

function groupBy<T>(xs: T[], key: (x: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const x of xs) {
    const k = key(x);
    const g = out.get(k);
    if (g) g.push(x);
    else out.set(k, [x]);
  }
  return out;
}

export function toHourRow(r: { h: Date | string; p: string; c: string; t: string; it: number | string; or: number | string }): HourRow {
  return { h: new Date(r.h).toISOString(), p: r.p, c: r.c, t: r.t, it: Number(r.it), or: Number(r.or) };
}

/**
 * Base measures from the hour counts and quarter totals, keyed `${i}|${k}`: `ses` (sessions of
 * the clock hours starting in each bucket) at any grain; `ppl` (active, interacting, buying people)
 * and `tot` at the HOUR grain, where each bucket holds one clock hour. The caller checks the
 * breakdown and filter allow it (a key reading one dimension for `ppl`).
 */
export async function hourMeasures(em: EntityManager, ws: string, buckets: Bucket[], families: Set<Family>, breakdown: Breakdown, filter: KpiFilterSpec): Promise<Record<string, unknown>[]> {
  const dim = dimension(breakdown, filter);
  const params = [ws, buckets.map((b) => b.s.toISOString()), buckets.map((b) => b.e.toISOString()), null, ...dim.params];
  const cols: string[] = [];
  if (families.has('ppl')) cols.push('sum(d.active) AS active', 'sum(d.interacting) AS interacting', 'sum(d.buyers) AS buyers');
  if (families.has('ses')) cols.push('sum(d.sessions) AS sessions');
  const out: Record<string, unknown>[] = [];
  if (cols.length) {
    out.push(
      ...(await em.query(
        `SELECT b.i, ${dim.key} AS k, ${cols.join(', ')}
         FROM unnest($2::timestamptz[], $3::timestamptz[]) WITH ORDINALITY AS b(s, e, i)
         JOIN kpi_hour_counts d ON d.workspace_id = $1 AND ${dim.where} AND $4::text IS NULL AND d.hour >= b.s AND d.hour < b.e
         GROUP BY 1, 2`,
        params,
      )),
    );
  }
  if (families.has('tot')) {
    out.push(
      ...(await em.query(
        `SELECT b.i, ${dim.key} AS k, sum(d.orders) AS orders, sum(d.revenue) AS gmv,
                sum(d.nps_responses) AS "npsResponses", sum(d.nps_promoters) AS "npsPromoters", sum(d.nps_detractors) AS "npsDetractors", ${signalSums('d')}
         FROM unnest($2::timestamptz[], $3::timestamptz[]) WITH ORDINALITY AS b(s, e, i)
         JOIN kpi_quarter_totals d ON d.workspace_id = $1 AND ${dim.where} AND $4::text IS NULL AND d.quarter >= b.s AND d.quarter < b.e
         GROUP BY 1, 2`,
        params,
      )),
    );
  }
  return out;
}


