import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The cohort matrix of `retentionCohorts` carried forward (src/modules/kpis/kpi.windows.ts `matrix`),
 * in `kpi_day_counts` with dimension '': kinds 800 + j (DAY), 900 + j (WEEK, Monday), 1000 + j
 * (MONTH), keyed by the cohort bucket's first day: the people acquired in that bucket who were
 * active j = 0…52 buckets later. Backfilled from `kpi_person_days` (active days and the acquisition
 * they were counted with, local day numbers of the zone the day sets are consistent with).
 */
export class KpiCohortMatrix1765300000000 implements MigrationInterface {
  name = 'KpiCohortMatrix1765300000000';

  async up(q: QueryRunner): Promise<void> {
    const week = (n: string) => `(${n} - (((${n} + 3) % 7) + 7) % 7)`;
    const month = (n: string) => `((extract(year FROM DATE '1970-01-01' + ${n})::int - 1970) * 12 + extract(month FROM DATE '1970-01-01' + ${n})::int - 1)`;
    await q.query(`
      WITH pa AS (SELECT pd.workspace_id AS w, pd.profile_id AS p, (pd.acq ->> 'd')::int AS d, a.v::int AS a
                  FROM kpi_person_days pd CROSS JOIN LATERAL jsonb_array_elements_text(pd.days -> '') AS a(v)
                  WHERE pd.acq IS NOT NULL AND jsonb_typeof(pd.days -> '') = 'array' AND a.v::int >= (pd.acq ->> 'd')::int),
      cells AS (SELECT DISTINCT w, p, 800 + (a - d) AS kind, d AS day FROM pa WHERE a - d <= 52
                UNION
                SELECT DISTINCT w, p, 900 + (${week('a')} - ${week('d')}) / 7, ${week('d')} FROM pa WHERE (${week('a')} - ${week('d')}) / 7 <= 52
                UNION
                SELECT DISTINCT w, p, 1000 + ${month('a')} - ${month('d')}, date_trunc('month', DATE '1970-01-01' + d)::date - DATE '1970-01-01' FROM pa WHERE ${month('a')} - ${month('d')} <= 52)
      INSERT INTO kpi_day_counts AS c (workspace_id, kind, dim, day, people)
      SELECT w, kind, '', DATE '1970-01-01' + day, count(*) FROM cells GROUP BY 1, 2, 4
      ON CONFLICT (workspace_id, kind, dim, day) DO UPDATE SET people = c.people + EXCLUDED.people`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DELETE FROM kpi_day_counts WHERE kind BETWEEN 800 AND 1052`);
  }
}
