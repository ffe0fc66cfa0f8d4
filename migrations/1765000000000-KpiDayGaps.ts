import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Gap counts (src/modules/kpis/kpi.windows.ts), in `kpi_day_counts`: per day and dimension, the
 * people in the day's active (kinds 101–194), interacting (201–294) and buying (301–394) set whose
 * previous day in that set was g days earlier (kind = base + g; g ≥ 93 at base + 93; first days at
 * base + 94).
 * The distinct people of a range of up to 93 days are the sum over its days of those whose gap
 * reaches back before its start — one row per day, dimension and gap, however many people.
 *
 * `kpi_person_days.days` also holds each person's interacting and buying days, under `i:` and `b:`
 * + the dimension; backfilled from the day sets' bits, then every gap count from the lists.
 *
 * First orders over ranges: kinds 401–494, the gaps of active days after the person's first order
 * in that dimension (people active in a range who had ordered before it); kinds 500–593, on a second
 * order's day, 500 + the days since the first (capped at 93): first buyers of a range whose second
 * order came within it. `kpi_person_days.so` holds the second order day per dimension.
 *
 * Referrers over ranges: kinds 601–694, the gaps between the days a person invited, referred or
 * shared to someone (`kpi_person_refs.state.rd`), in their acquisition dimensions. Inviters over
 * ranges: kinds 701–794, per inviter and dimension, the gaps between the days with a reference above
 * 0 in `kpi_inviter_days` (the acquisition days of the people they invited).
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
      SELECT workspace_id, base + CASE WHEN prev IS NULL THEN 94 ELSE least(day - prev, 93) END, dim, DATE '1970-01-01' + day, count(*)
      FROM (SELECT pd.workspace_id,
                   CASE left(k.key, 2) WHEN 'i:' THEN 200 WHEN 'b:' THEN 300 ELSE 100 END AS base,
                   CASE WHEN left(k.key, 2) IN ('i:', 'b:') THEN substr(k.key, 3) ELSE k.key END AS dim,
                   a.day::int AS day,
                   lag(a.day::int) OVER (PARTITION BY pd.workspace_id, pd.profile_id, k.key ORDER BY a.day::int) AS prev
            FROM kpi_person_days pd
            CROSS JOIN LATERAL jsonb_each(pd.days) AS k(key, value)
            CROSS JOIN LATERAL jsonb_array_elements_text(k.value) AS a(day)) x
      GROUP BY 1, 2, 3, 4`);
    await q.query(`ALTER TABLE kpi_person_days ADD COLUMN so jsonb`);
    await q.query(`COMMENT ON COLUMN kpi_person_days.so IS 'dimension -> local day number of the person''s second order there (kpi_day_counts kinds 500-593)'`);
    const zone = `coalesce((SELECT s.time_zone FROM kpi_rollup_state s WHERE s.workspace_id = pd.workspace_id), (SELECT w.time_zone FROM workspaces w WHERE w.id = pd.workspace_id))`;
    await q.query(`
      UPDATE kpi_person_days pd
      SET so = (SELECT jsonb_object_agg(b.dim, (b.second_ts AT TIME ZONE ${zone})::date - DATE '1970-01-01')
                FROM kpi_buyers b WHERE b.workspace_id = pd.workspace_id AND b.profile_id = pd.profile_id AND b.second_ts IS NOT NULL)
      WHERE pd.fo IS NOT NULL`);
    await q.query(`
      INSERT INTO kpi_day_counts (workspace_id, kind, dim, day, people)
      SELECT workspace_id, 400 + CASE WHEN prev IS NULL THEN 94 ELSE least(day - prev, 93) END, dim, DATE '1970-01-01' + day, count(*)
      FROM (SELECT pd.workspace_id, f.key AS dim, f.value::int AS first, a.day::int AS day,
                   lag(a.day::int) OVER (PARTITION BY pd.workspace_id, pd.profile_id, f.key ORDER BY a.day::int) AS prev
            FROM kpi_person_days pd
            CROSS JOIN LATERAL jsonb_each_text(pd.fo) AS f(key, value)
            CROSS JOIN LATERAL jsonb_array_elements_text(pd.days -> f.key) AS a(day)
            WHERE pd.fo IS NOT NULL) x
      WHERE day > first
      GROUP BY 1, 2, 3, 4`);
    await q.query(`
      INSERT INTO kpi_day_counts (workspace_id, kind, dim, day, people)
      SELECT pd.workspace_id, 500 + least(s.value::int - (pd.fo ->> s.key)::int, 93), s.key, DATE '1970-01-01' + s.value::int, count(*)
      FROM kpi_person_days pd CROSS JOIN LATERAL jsonb_each_text(pd.so) AS s(key, value)
      WHERE pd.so IS NOT NULL
      GROUP BY 1, 2, 3, 4`);
    await q.query(`
      INSERT INTO kpi_day_counts (workspace_id, kind, dim, day, people)
      SELECT workspace_id, 600 + CASE WHEN prev IS NULL THEN 94 ELSE least(day - prev, 93) END, dim, day, count(*)
      FROM (SELECT s.workspace_id, m.value AS dim, d.value::date AS day,
                   lag(d.value::date) OVER (PARTITION BY s.workspace_id, s.profile_id, m.value ORDER BY d.value::date) AS prev
            FROM kpi_person_refs s
            CROSS JOIN LATERAL jsonb_array_elements_text(s.state -> 'm') AS m(value)
            CROSS JOIN LATERAL jsonb_array_elements_text(s.state -> 'rd') AS d(value)) x
      GROUP BY 1, 2, 3, 4`);
    await q.query(`
      INSERT INTO kpi_day_counts (workspace_id, kind, dim, day, people)
      SELECT workspace_id, 700 + CASE WHEN prev IS NULL THEN 94 ELSE least(day - prev, 93) END, dim, day, count(*)
      FROM (SELECT workspace_id, dim, day, lag(day) OVER (PARTITION BY workspace_id, inviter, dim ORDER BY day) AS prev
            FROM kpi_inviter_days WHERE invitees > 0) x
      GROUP BY 1, 2, 3, 4`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DELETE FROM kpi_day_counts WHERE kind BETWEEN 101 AND 794`);
    await q.query(`ALTER TABLE kpi_person_days DROP COLUMN so`);
    await q.query(`
      UPDATE kpi_person_days pd
      SET days = (SELECT coalesce(jsonb_object_agg(k.key, k.value), '{}'::jsonb) FROM jsonb_each(pd.days) AS k(key, value) WHERE left(k.key, 2) NOT IN ('i:', 'b:'))`);
  }
}
