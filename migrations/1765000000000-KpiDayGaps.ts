import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Gap counts (src/modules/kpis/kpi.windows.ts), in `kpi_day_counts`: per day and dimension, the
 * people in the day's active (kinds 101–193), interacting (201–293) and buying (301–393) set whose
 * previous day in that set was g days earlier (kind = base + g; g ≥ 93 and first days at base + 93).
 * The distinct people of a range of up to 93 days are the sum over its days of those whose gap
 * reaches back before its start — one row per day, dimension and gap, however many people.
 *
 * `kpi_person_days.days` also holds each person's interacting and buying days, under `i:` and `b:`
 * + the dimension; backfilled from the day sets' bits, then every gap count from the lists.
 */
export class KpiDayGaps1765000000000 implements MigrationInterface {
  name = 'KpiDayGaps1765000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TEMPORARY TABLE kind_bits AS
      SELECT d.workspace_id, d.kind, d.dim, d.day, d.chunk * 4096 + i AS o
      FROM kpi_day_people d CROSS JOIN LATERAL generate_series(0, 4095) i
      WHERE d.kind IN (1, 2) AND get_bit(d.bits, i) = 1`);
    await q.query(`
      UPDATE kpi_person_days pd SET days = pd.days || x.lists
      FROM (SELECT y.workspace_id, k.profile_id, jsonb_object_agg(CASE y.kind WHEN 1 THEN 'i:' ELSE 'b:' END || y.dim, y.days) AS lists
            FROM (SELECT workspace_id, o, kind, dim, jsonb_agg(day - DATE '1970-01-01' ORDER BY day) AS days FROM kind_bits GROUP BY 1, 2, 3, 4) y
            JOIN kpi_profiles k ON k.workspace_id = y.workspace_id AND k.ordinal = y.o
            GROUP BY 1, 2) x
      WHERE pd.workspace_id = x.workspace_id AND pd.profile_id = x.profile_id`);
    await q.query(`DROP TABLE kind_bits`);
    await q.query(`
      INSERT INTO kpi_day_counts (workspace_id, kind, dim, day, people)
      SELECT workspace_id, base + least(coalesce(day - prev, 93), 93), dim, DATE '1970-01-01' + day, count(*)
      FROM (SELECT pd.workspace_id,
                   CASE left(k.key, 2) WHEN 'i:' THEN 200 WHEN 'b:' THEN 300 ELSE 100 END AS base,
                   CASE WHEN left(k.key, 2) IN ('i:', 'b:') THEN substr(k.key, 3) ELSE k.key END AS dim,
                   a.day::int AS day,
                   lag(a.day::int) OVER (PARTITION BY pd.workspace_id, pd.profile_id, k.key ORDER BY a.day::int) AS prev
            FROM kpi_person_days pd
            CROSS JOIN LATERAL jsonb_each(pd.days) AS k(key, value)
            CROSS JOIN LATERAL jsonb_array_elements_text(k.value) AS a(day)) x
      GROUP BY 1, 2, 3, 4`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DELETE FROM kpi_day_counts WHERE kind BETWEEN 101 AND 393`);
    await q.query(`
      UPDATE kpi_person_days pd
      SET days = (SELECT coalesce(jsonb_object_agg(k.key, k.value), '{}'::jsonb) FROM jsonb_each(pd.days) AS k(key, value) WHERE left(k.key, 2) NOT IN ('i:', 'b:'))`);
  }
}
