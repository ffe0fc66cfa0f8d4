import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Health score inputs in one row per person (`health_state`) instead of one row per person, local
 * day and event name (`health_days`): a batch reads and writes one row per person, however many
 * days and event names they have in the kept 92 days, so its cost does not grow as their history
 * fills the window (a person seen daily for a month had ~100 bucket rows scattered over the heap).
 *
 * `days` maps each local day (`YYYY-MM-DD`, workspace zone) to `[{name: events}, order value]`;
 * `''` names events without a name. Filled from `health_days`, which is dropped;
 * `health_day_state` (the zone the buckets are in) is unchanged.
 */
export class HealthState1764500000000 implements MigrationInterface {
  name = 'HealthState1764500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE health_state (
      workspace_id uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
      profile_id uuid NOT NULL,
      days jsonb NOT NULL,
      PRIMARY KEY (workspace_id, profile_id))`);
    await q.query(
      `COMMENT ON TABLE health_state IS 'health score inputs per person: local day (workspace zone) -> [events per name, order value], the last 92 days; profile_id follows merges'`,
    );
    await q.query(`INSERT INTO health_state (workspace_id, profile_id, days)
      SELECT workspace_id, profile_id, jsonb_object_agg(to_char(day, 'YYYY-MM-DD'), v)
      FROM (SELECT workspace_id, profile_id, day, jsonb_build_array(jsonb_object_agg(name, n), sum(spend)) AS v
            FROM health_days GROUP BY 1, 2, 3) d
      GROUP BY 1, 2`);
    await q.query(`DROP TABLE health_days`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE health_days (
      workspace_id uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
      profile_id uuid NOT NULL,
      day date NOT NULL,
      name text NOT NULL,
      n int NOT NULL,
      spend numeric NOT NULL,
      PRIMARY KEY (workspace_id, profile_id, day, name))`);
    await q.query(`INSERT INTO health_days (workspace_id, profile_id, day, name, n, spend)
      SELECT s.workspace_id, s.profile_id, d.key::date, x.key, x.value::text::int,
             CASE WHEN x.key = 'Order Completed' THEN (d.value ->> 1)::numeric ELSE 0 END
      FROM health_state s CROSS JOIN LATERAL jsonb_each(s.days) d CROSS JOIN LATERAL jsonb_each(d.value -> 0) x`);
    await q.query(`DROP TABLE health_state`);
  }
}
