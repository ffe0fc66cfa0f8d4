import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `kpi_day_totals`: the additive measures of `kpi_quarter_totals` (events, orders, GMV, NPS answers)
 * per local day of the workspace's zone and dimension, written by the same statement. Answers at
 * DAY grain and coarser read one row per day and dimension instead of 96 quarter hours. A zone change
 * rebuilds them with the quarter totals (`siyu recompute --parts kpis`); until then those answers
 * take the slow path, as for the day sets. Backfilled from the quarter totals.
 */
export class KpiDayTotals1764900000000 implements MigrationInterface {
  name = 'KpiDayTotals1764900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE kpi_day_totals (
        workspace_id    uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        dim             text NOT NULL,
        day             date NOT NULL,
        events          integer NOT NULL DEFAULT 0,
        orders          integer NOT NULL DEFAULT 0,
        revenue         numeric(16,2) NOT NULL DEFAULT 0,
        nps_responses   integer NOT NULL DEFAULT 0,
        nps_promoters   integer NOT NULL DEFAULT 0,
        nps_detractors  integer NOT NULL DEFAULT 0,
        PRIMARY KEY (workspace_id, dim, day)
      )`);
    await q.query(`COMMENT ON TABLE kpi_day_totals IS 'additive measures per local day (workspace zone) and dimension: the sums of kpi_quarter_totals over the day''s quarter hours'`);
    await q.query(`
      INSERT INTO kpi_day_totals (workspace_id, dim, day, events, orders, revenue, nps_responses, nps_promoters, nps_detractors)
      SELECT t.workspace_id, t.dim, (t.quarter AT TIME ZONE w.time_zone)::date, sum(t.events), sum(t.orders), sum(t.revenue), sum(t.nps_responses), sum(t.nps_promoters), sum(t.nps_detractors)
      FROM kpi_quarter_totals t JOIN workspaces w ON w.id = t.workspace_id
      GROUP BY 1, 2, 3`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE kpi_day_totals`);
  }
}
