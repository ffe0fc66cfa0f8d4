import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Per-person state for health scores (健康度), so that a batch scores its people from day buckets
 * instead of re-reading 90 days of their events.
 *
 * - `health_days`: per person, local day of the workspace's zone and event name (`''` for events
 *   without one), how many events and the order value of `Order Completed` events. Interactions
 *   (any configured set of names), active local days and spend over a window read whole days from
 *   here and the window's first, partial day from events. Kept 92 days; older days are pruned at
 *   ingest.
 * - `health_day_state`: the zone the buckets are in. A zone change clears it: until
 *   `siyu recompute --parts health` has rebuilt every person, scores read events (correct, slower).
 *
 * Filled here from the last 92 days of events of every workspace, in its zone. Also drops
 * `kpi_day_people_chunk_idx`: merges and rebuilds find a person's bits from their activity rows now.
 */
const REVENUE = `(SELECT CASE jsonb_typeof(v) WHEN 'number' THEN round((v #>> '{}')::numeric, 2)
    WHEN 'string' THEN CASE WHEN (v #>> '{}') ~ '^\\s*([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][+-]?[0-9]+)?\\s*$' THEN round(trim(v #>> '{}')::numeric, 2) ELSE 0 END
    ELSE 0 END
  FROM (SELECT CASE WHEN jsonb_typeof(e.properties -> 'revenue') IN ('number', 'string') THEN e.properties -> 'revenue' ELSE e.properties -> 'total' END AS v) x)`;

export class HealthDays1764400000000 implements MigrationInterface {
  name = 'HealthDays1764400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE health_days (
      workspace_id uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
      profile_id uuid NOT NULL,
      day date NOT NULL,
      name text NOT NULL,
      n int NOT NULL,
      spend numeric NOT NULL,
      PRIMARY KEY (workspace_id, profile_id, day, name))`);
    await q.query(`COMMENT ON TABLE health_days IS 'health score inputs per person, local day and event name (events, order value); profile_id follows merges'`);
    await q.query(`CREATE TABLE health_day_state (
      workspace_id uuid PRIMARY KEY REFERENCES workspaces(id) ON DELETE CASCADE,
      time_zone text)`);
    await q.query(`INSERT INTO health_days (workspace_id, profile_id, day, name, n, spend)
      SELECT e.workspace_id, e.profile_id, (e.ts AT TIME ZONE w.time_zone)::date, coalesce(e.name, ''), count(*),
             coalesce(sum(${REVENUE}) FILTER (WHERE e.name = 'Order Completed'), 0)
      FROM events e JOIN workspaces w ON w.id = e.workspace_id
      WHERE e.ts > now() - interval '92 days' AND e.profile_id IS NOT NULL
      GROUP BY 1, 2, 3, 4`);
    await q.query(`INSERT INTO health_day_state (workspace_id, time_zone) SELECT id, time_zone FROM workspaces`);
    await q.query(`DROP INDEX IF EXISTS kpi_day_people_chunk_idx`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX kpi_day_people_chunk_idx ON kpi_day_people (workspace_id, chunk, day)`);
    await q.query(`DROP TABLE health_day_state`);
    await q.query(`DROP TABLE health_days`);
  }
}
