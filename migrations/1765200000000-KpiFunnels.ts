import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Saved funnels kept at ingest (src/modules/kpis/kpi.funnels.ts): an ordered list of event names
 * and a window, answered for any range of up to 93 local days from per-day counts instead of the
 * events of the range.
 *
 * - `kpi_funnels`: the definitions; `ready` once every person's days are in (a funnel created on a
 *   workspace with history is backfilled by the sweep, `cursor` = the last `profiles.seq` done).
 * - `kpi_funnel_days`: per person and local day on which they did step 1, how many steps the
 *   attempt that starts at that day's first step-1 event reaches within the window.
 * - `kpi_funnel_counts`: per local day, gap (days since the person's previous step-1 day, 93 for
 *   "none or 93 and more") and steps reached, how many people. The people of a range [s, e] whose
 *   first step-1 day in it is d are the rows of day d with gap > d − s.
 */
export class KpiFunnels1765200000000 implements MigrationInterface {
  name = 'KpiFunnels1765200000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE kpi_funnels (
        workspace_id  uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        id            uuid NOT NULL DEFAULT gen_random_uuid(),
        name          text NOT NULL,
        steps         text[] NOT NULL,
        within_hours  double precision NOT NULL,
        ready         boolean NOT NULL DEFAULT false,
        cursor        bigint,
        created_at    timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (workspace_id, id),
        UNIQUE (workspace_id, steps, within_hours)
      )`);
    await q.query(`COMMENT ON TABLE kpi_funnels IS 'saved funnels: steps (event names in order) and window; answered from kpi_funnel_counts once ready'`);
    await q.query(`
      CREATE TABLE kpi_funnel_days (
        workspace_id  uuid NOT NULL,
        funnel_id     uuid NOT NULL,
        profile_id    uuid NOT NULL,
        day           date NOT NULL,
        reached       smallint NOT NULL,
        PRIMARY KEY (workspace_id, funnel_id, profile_id, day),
        FOREIGN KEY (workspace_id, funnel_id) REFERENCES kpi_funnels(workspace_id, id) ON DELETE CASCADE
      )`);
    await q.query(`COMMENT ON TABLE kpi_funnel_days IS 'per person and local day with a step-1 event: steps reached by the attempt starting at that day''s first step-1 event'`);
    await q.query(`
      CREATE TABLE kpi_funnel_counts (
        workspace_id  uuid NOT NULL,
        funnel_id     uuid NOT NULL,
        day           date NOT NULL,
        gap           smallint NOT NULL,
        reached       smallint NOT NULL,
        people        integer NOT NULL,
        PRIMARY KEY (workspace_id, funnel_id, day, gap, reached),
        FOREIGN KEY (workspace_id, funnel_id) REFERENCES kpi_funnels(workspace_id, id) ON DELETE CASCADE
      )`);
    await q.query(`COMMENT ON TABLE kpi_funnel_counts IS 'people per local day, days since their previous step-1 day (93: none or 93+) and steps reached: sums over a range give the funnel'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE kpi_funnel_counts`);
    await q.query(`DROP TABLE kpi_funnel_days`);
    await q.query(`DROP TABLE kpi_funnels`);
  }
}
