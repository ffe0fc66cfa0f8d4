import DataLoader from 'dataloader';
import type { EntityManager } from 'typeorm';

/** What a read needs of an EntityManager: `query`. */
export type Reader = Pick<EntityManager, 'query'>;

/**
 * A reader that runs the statements issued in one tick as one statement: each statement's rows as
 * `jsonb`, tagged with its position, joined by UNION ALL, its `$n` parameters renumbered after the
 * ones before. Independent reads of one request (the measures of a `kpis` snapshot) then cost one
 * round trip and one pooled connection instead of one each; a read that waits for another runs in
 * a later trip. Values come back as JSON gives them (numbers as numbers, dates as ISO strings) or,
 * for a statement alone in its trip, as the driver does: use it for statements whose columns are
 * keys and numbers read with `Number`. The statements must not hold `$` other than their parameters.
 */
export function oneTrip(em: Reader): Reader {
  const loader = new DataLoader<{ sql: string; params: unknown[] }, Record<string, unknown>[]>(
    async (sts) => {
      if (sts.length === 1) return [await em.query(sts[0].sql, sts[0].params)];
      const params: unknown[] = [];
      const parts = sts.map((st, n) => {
        const offset = params.length;
        params.push(...st.params);
        return `SELECT ${n} AS q, to_jsonb(s) AS r FROM (${st.sql.replace(/\$(\d+)/g, (_, d: string) => `$${Number(d) + offset}`)}) s`;
      });
      // txid_current_if_assigned() assigns nothing, but it is parallel unsafe: without it the planner
      // turns the UNION into a Parallel Append whose two workers cost more than these index reads.
      const rows: { q: number; r: Record<string, unknown> }[] = await em.query(`SELECT u.q, u.r, txid_current_if_assigned() AS serial FROM (${parts.join('\nUNION ALL\n')}) u`, params);
      const out = sts.map(() => [] as Record<string, unknown>[]);
      for (const row of rows) out[row.q].push(row.r);
      return out;
    },
    { cache: false },
  );
  return { query: ((sql: string, params: unknown[] = []) => loader.load({ sql, params })) as Reader['query'] };
}
