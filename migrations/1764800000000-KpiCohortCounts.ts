import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Cohort and first-order counts carried forward (src/modules/kpis/kpi.windows.ts, kpi.sets.ts), in
 * `kpi_day_counts`:
 *
 * - kinds 25–27: per cohort day and dimension, the people acquired that day who were active
 *   n = 1, 7, 30 days later in any dimension; 28–30 active in the dimension they were acquired in
 *   (`c:`/`t:` rows). `kpi_person_days.acq` is the acquisition (local day number, channel,
 *   touchpoint) each person's part was computed with, so a batch, a merge or a rebuild can take that
 *   part out again.
 * - kind 31: per day and dimension, the people active that day after their first order there;
 *   `kpi_person_days.fo` holds each person's first order day per dimension.
 * - day-set kind 10 (`kpi_day_people`, counted like the other sets): on a person's first order day,
 *   set when their second order came the same day.
 *
 * Backfilled from `kpi_person_days`, `kpi_profiles`, `kpi_buyers` and the day sets, in the zone the
 * day sets are consistent with (the workspace's while a zone change waits for its rebuild, which
 * takes every person's part out with what was stored here and adds it again).
 */
export class KpiCohortCounts1764800000000 implements MigrationInterface {
  name = 'KpiCohortCounts1764800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE kpi_person_days ADD COLUMN acq jsonb, ADD COLUMN fo jsonb`);
    await q.query(
      `COMMENT ON COLUMN kpi_person_days.acq IS 'the acquisition the person''s retention counts (kpi_day_counts kinds 25-30) were computed with: {d: local day number, c: first channel, t: first touchpoint}'`,
    );
    await q.query(`COMMENT ON COLUMN kpi_person_days.fo IS 'dimension -> local day number of the person''s first order there (kpi_day_counts kind 31)'`);
    const zone = `coalesce((SELECT s.time_zone FROM kpi_rollup_state s WHERE s.workspace_id = pd.workspace_id), (SELECT w.time_zone FROM workspaces w WHERE w.id = pd.workspace_id))`;
    await q.query(`
      UPDATE kpi_person_days pd
      SET acq = jsonb_build_object('d', (k.first_ts AT TIME ZONE ${zone})::date - DATE '1970-01-01', 'c', k.first_channel, 't', k.first_touchpoint)
      FROM kpi_profiles k
      WHERE k.workspace_id = pd.workspace_id AND k.profile_id = pd.profile_id`);
    await q.query(`
      UPDATE kpi_person_days pd
      SET fo = (SELECT jsonb_object_agg(b.dim, (b.first_ts AT TIME ZONE ${zone})::date - DATE '1970-01-01')
                FROM kpi_buyers b WHERE b.workspace_id = pd.workspace_id AND b.profile_id = pd.profile_id)`);
    await q.query(`
      INSERT INTO kpi_day_counts (workspace_id, kind, dim, day, people)
      SELECT pd.workspace_id, x.kind, x.dim, DATE '1970-01-01' + (pd.acq->>'d')::int, count(*)
      FROM kpi_person_days pd
      CROSS JOIN (VALUES (1, 25, 28), (7, 26, 29), (30, 27, 30)) AS n(n, any_kind, same_kind)
      CROSS JOIN LATERAL (VALUES (n.any_kind, '', ''), (n.any_kind, 'c:' || (pd.acq->>'c'), ''), (n.any_kind, 't:' || (pd.acq->>'t'), ''),
                                 (n.same_kind, 'c:' || (pd.acq->>'c'), 'c:' || (pd.acq->>'c')), (n.same_kind, 't:' || (pd.acq->>'t'), 't:' || (pd.acq->>'t'))) AS x(kind, dim, act)
      WHERE pd.acq IS NOT NULL AND pd.days -> x.act @> to_jsonb((pd.acq->>'d')::int + n.n)
      GROUP BY 1, 2, 3, 4`);
    await q.query(`
      INSERT INTO kpi_day_counts (workspace_id, kind, dim, day, people)
      SELECT pd.workspace_id, 31, f.key, DATE '1970-01-01' + a.day::int, count(*)
      FROM kpi_person_days pd
      CROSS JOIN LATERAL jsonb_each_text(pd.fo) AS f(key, value)
      CROSS JOIN LATERAL jsonb_array_elements_text(pd.days -> f.key) AS a(day)
      WHERE pd.fo IS NOT NULL AND a.day::int > f.value::int
      GROUP BY 1, 2, 3, 4`);
    await q.query(`
      INSERT INTO kpi_day_people (workspace_id, day, kind, dim, chunk, bits)
      SELECT f.workspace_id, f.day, 10, f.dim, f.chunk, f.bits & s.bits
      FROM kpi_day_people f JOIN kpi_day_people s ON s.workspace_id = f.workspace_id AND s.kind = 4 AND s.dim = f.dim AND s.day = f.day AND s.chunk = f.chunk
      WHERE f.kind = 3 AND bit_count(f.bits & s.bits) > 0`);
    await q.query(`
      INSERT INTO kpi_day_counts (workspace_id, kind, dim, day, people)
      SELECT workspace_id, 10, dim, day, sum(bit_count(bits)) FROM kpi_day_people WHERE kind = 10 GROUP BY 1, 2, 3, 4`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DELETE FROM kpi_day_counts WHERE kind = 10 OR kind BETWEEN 25 AND 31`);
    await q.query(`DELETE FROM kpi_day_people WHERE kind = 10`);
    await q.query(`ALTER TABLE kpi_person_days DROP COLUMN acq, DROP COLUMN fo`);
  }
}
