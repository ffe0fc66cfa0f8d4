import type { EntityManager } from 'typeorm';
import type { Breakdown, Bucket, KpiFilterSpec } from './kpi.repository';
import { dimension } from './kpi.sets';

/**
 * INGEST_ERROR_RATE's base measures, keyed `${i}|${k}`: events received (accepted + rejected) and
 * rejected, from `ingest_counts` (written by the events module in each ingest transaction, per UTC
 * quarter hour of receipt and dimension '' or `c:<channel>`). Quarter hours are local-day aligned in
 * every zone, so any grain sums whole rows. Not per person: no merge, unmerge or rebuild touches it,
 * and it cannot be rebuilt (rejected events are not stored). Only breakdown NONE or CHANNEL and a
 * channel filter (checked by the service).
 */
export async function ingestMeasures(em: EntityManager, ws: string, buckets: Bucket[], breakdown: Breakdown, filter: KpiFilterSpec): Promise<Record<string, unknown>[]> {
  const dim = dimension(breakdown, { channels: filter.channels });
  return em.query(
    `SELECT b.i, ${dim.key} AS k, sum(d.received) AS "ingestReceived", sum(d.rejected) AS "ingestRejected"
     FROM unnest($2::timestamptz[], $3::timestamptz[]) WITH ORDINALITY AS b(s, e, i)
     JOIN ingest_counts d ON d.workspace_id = $1 AND ${dim.where} AND $4::text IS NULL AND d.quarter >= b.s AND d.quarter < b.e
     GROUP BY 1, 2`,
    [ws, buckets.map((b) => b.s.toISOString()), buckets.map((b) => b.e.toISOString()), null, ...dim.params],
  );
}

/** Whether INGEST_ERROR_RATE can answer a breakdown and filter: NONE or CHANNEL, filtered by channels only. */
export function ingestCanAnswer(breakdown: Breakdown, filter: KpiFilterSpec): boolean {
  const { channels: _, ...rest } = filter;
  return (breakdown === 'NONE' || breakdown === 'CHANNEL') && !Object.values(rest).some((v) => v != null && (!Array.isArray(v) || v.length > 0));
}
