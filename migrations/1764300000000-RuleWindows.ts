import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Per-person state for the windowed aggregates of tag and segment rules (`orders_30d`,
 * `count("Product Viewed", within = "7d")`, `sum("quantity")`), so that a batch evaluates its
 * people's rules from buckets instead of re-reading their events.
 *
 * - `rule_window_days`: per person, measure and UTC day (days since 1970-01-01; `-1` is the
 *   all-time total of a measure read without `within`), how many events counted and the sum of
 *   their amounts. Kept for the longest window a rule uses; older days are pruned at ingest.
 * - `rule_measures`: the measures the workspace's rules read, how many days each keeps, and
 *   whether its buckets are complete (`ready`) or still being backfilled from events (the cursor
 *   is the last `profiles.seq` done).
 *
 * Existing measures start unregistered: the first batch registers them and the backfill builds them.
 *
 * Also `kpi_day_people_chunk_idx`: a merge or unmerge reads and clears one person's bits by chunk
 * from their first day on, instead of every row of the workspace; and `due_work_profile_idx`: a
 * merge drops the merged-away people's due work of every projection by person, instead of scanning
 * the workspace's due work (the primary key leads with the projection).
 */
export class RuleWindows1764300000000 implements MigrationInterface {
  name = 'RuleWindows1764300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE rule_window_days (
      workspace_id uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
      profile_id uuid NOT NULL,
      measure text NOT NULL,
      day int NOT NULL,
      n int NOT NULL,
      total numeric NOT NULL,
      PRIMARY KEY (workspace_id, profile_id, measure, day))`);
    await q.query(`CREATE TABLE rule_measures (
      workspace_id uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
      measure text NOT NULL,
      keep_days int NOT NULL,
      all_time boolean NOT NULL,
      ready boolean NOT NULL DEFAULT false,
      cursor_seq bigint NOT NULL DEFAULT 0,
      profiles_done int NOT NULL DEFAULT 0,
      profiles_total int NOT NULL DEFAULT 0,
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (workspace_id, measure))`);
    await q.query(`CREATE INDEX kpi_day_people_chunk_idx ON kpi_day_people (workspace_id, chunk, day)`);
    await q.query(`CREATE INDEX due_work_profile_idx ON due_work (workspace_id, profile_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX due_work_profile_idx`);
    await q.query(`DROP INDEX kpi_day_people_chunk_idx`);
    await q.query(`DROP TABLE rule_measures`);
    await q.query(`DROP TABLE rule_window_days`);
  }
}
