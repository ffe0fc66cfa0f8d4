import type { MigrationInterface, QueryRunner } from 'typeorm';

const ZERO = `repeat('0', 4096)::bit(4096)`;

/**
 * KPI rollups at the grain of the answer (src/modules/kpis/kpi.sets.ts): dense person ordinals per
 * workspace, per local day the exact sets of active, interacting and buying people (and of people whose first
 * or second order, or first event, falls on the day, with each buyer's first two orders in `kpi_buyers`) as bitmaps of
 * 4,096 ordinals (`bit(4096)`), and additive measures per UTC quarter hour. Backfilled from
 * `kpi_activity` (UTC hours): exact for zones on whole-hour offsets; a workspace on a half- or
 * quarter-hour offset starts marked inconsistent (`time_zone` null), so its queries keep the
 * `kpi_activity` path until `siyu recompute --parts kpis` rebuilds it from events.
 */
export class KpiDaySets1764200000000 implements MigrationInterface {
  name = 'KpiDaySets1764200000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE kpi_profiles ADD COLUMN ordinal integer`);
    await q.query(`
      UPDATE kpi_profiles k SET ordinal = x.n FROM (
        SELECT workspace_id, profile_id, (row_number() OVER (PARTITION BY workspace_id ORDER BY first_ts, profile_id) - 1)::int AS n FROM kpi_profiles
      ) x WHERE x.workspace_id = k.workspace_id AND x.profile_id = k.profile_id`);
    await q.query(`ALTER TABLE kpi_profiles ALTER COLUMN ordinal SET NOT NULL`);
    await q.query(`CREATE UNIQUE INDEX kpi_profiles_ordinal_idx ON kpi_profiles (workspace_id, ordinal)`);
    await q.query(`COMMENT ON COLUMN kpi_profiles.ordinal IS 'dense per-workspace number of the person: their bit in kpi_day_people'`);
    await q.query(`
      CREATE TABLE kpi_rollup_state (
        workspace_id  uuid PRIMARY KEY REFERENCES workspaces(id) ON DELETE CASCADE,
        next_ordinal  integer NOT NULL DEFAULT 0,
        time_zone     text
      )`);
    await q.query(`COMMENT ON TABLE kpi_rollup_state IS 'per workspace: the next person ordinal, and the zone kpi_day_people is consistent with (null while a zone change awaits its rebuild)'`);
    await q.query(`
      INSERT INTO kpi_rollup_state (workspace_id, next_ordinal, time_zone)
      SELECT w.id, coalesce((SELECT max(ordinal) + 1 FROM kpi_profiles k WHERE k.workspace_id = w.id), 0),
             CASE WHEN extract(minute FROM (now() AT TIME ZONE w.time_zone) - (now() AT TIME ZONE 'UTC')) = 0 THEN w.time_zone END
      FROM workspaces w`);
    await q.query(`
      CREATE TABLE kpi_day_people (
        workspace_id  uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        kind          smallint NOT NULL,
        dim           text NOT NULL,
        day           date NOT NULL,
        chunk         integer NOT NULL,
        bits          bit(4096) NOT NULL,
        PRIMARY KEY (workspace_id, kind, dim, day, chunk)
      )`);
    await q.query(
      `COMMENT ON TABLE kpi_day_people IS 'per local day, kind (0 active, 1 interacting, 2 buyer), dimension ('''' everyone, c:<channel>, t:<touchpoint>) and chunk of 4096 person ordinals: the exact set of people'`,
    );
    await q.query(`
      CREATE TABLE kpi_quarter_totals (
        workspace_id    uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        dim             text NOT NULL,
        quarter         timestamptz NOT NULL,
        events          integer NOT NULL DEFAULT 0,
        orders          integer NOT NULL DEFAULT 0,
        revenue         numeric(16,2) NOT NULL DEFAULT 0,
        nps_responses   integer NOT NULL DEFAULT 0,
        nps_promoters   integer NOT NULL DEFAULT 0,
        nps_detractors  integer NOT NULL DEFAULT 0,
        PRIMARY KEY (workspace_id, dim, quarter)
      )`);
    await q.query(`COMMENT ON TABLE kpi_quarter_totals IS 'additive measures per UTC quarter hour and dimension (every zone''s local days are made of whole quarter hours)'`);
    await q.query(`
      CREATE TABLE kpi_buyers (
        workspace_id  uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        profile_id    uuid NOT NULL,
        dim           text NOT NULL,
        first_ts      timestamptz NOT NULL,
        second_ts     timestamptz,
        PRIMARY KEY (workspace_id, profile_id, dim)
      )`);
    await q.query(`COMMENT ON TABLE kpi_buyers IS 'per buyer and dimension: the first and second order (carried forward at ingest; the FIRST/SECOND day sets follow it)'`);
    // Backfill from the hourly rollups.
    await q.query(`
      INSERT INTO kpi_buyers (workspace_id, profile_id, dim, first_ts, second_ts)
      SELECT workspace_id, profile_id, dim, min(hour), CASE WHEN (array_agg(orders ORDER BY hour))[1] >= 2 THEN min(hour) ELSE (array_agg(hour ORDER BY hour))[2] END
      FROM (SELECT a.workspace_id, a.profile_id, v.dim, a.hour, sum(a.orders) AS orders
            FROM kpi_activity a CROSS JOIN LATERAL (VALUES (''), ('c:' || a.channel), ('t:' || a.touchpoint)) AS v(dim)
            WHERE a.orders > 0 GROUP BY 1, 2, 3, 4) x
      GROUP BY 1, 2, 3`);
    await q.query(`
      INSERT INTO kpi_day_people (workspace_id, kind, dim, day, chunk, bits)
      SELECT k.workspace_id, 5, v.dim, (k.first_ts AT TIME ZONE w.time_zone)::date, k.ordinal / 4096, bit_or(set_bit(${ZERO}, k.ordinal % 4096, 1))
      FROM kpi_profiles k JOIN workspaces w ON w.id = k.workspace_id
      CROSS JOIN LATERAL (VALUES (''), ('c:' || k.first_channel), ('t:' || k.first_touchpoint)) AS v(dim)
      GROUP BY 1, 2, 3, 4, 5`);
    await replaceViews(q, VIEWS);
    for (const [kind, col] of [
      [3, 'first_ts'],
      [4, 'second_ts'],
    ] as const) {
      await q.query(`
        INSERT INTO kpi_day_people (workspace_id, kind, dim, day, chunk, bits)
        SELECT b.workspace_id, ${kind}, b.dim, (b.${col} AT TIME ZONE w.time_zone)::date, k.ordinal / 4096, bit_or(set_bit(${ZERO}, k.ordinal % 4096, 1))
        FROM kpi_buyers b JOIN workspaces w ON w.id = b.workspace_id JOIN kpi_profiles k ON k.workspace_id = b.workspace_id AND k.profile_id = b.profile_id
        WHERE b.${col} IS NOT NULL
        GROUP BY 1, 2, 3, 4, 5`);
    }
    for (const dim of [`''`, `'c:' || a.channel`, `'t:' || a.touchpoint`]) {
      await q.query(`
        INSERT INTO kpi_quarter_totals (workspace_id, dim, quarter, events, orders, revenue, nps_responses, nps_promoters, nps_detractors)
        SELECT a.workspace_id, ${dim}, a.hour, sum(a.events), sum(a.orders), sum(a.revenue), sum(a.nps_responses), sum(a.nps_promoters), sum(a.nps_detractors)
        FROM kpi_activity a GROUP BY 1, 2, 3`);
      for (const [kind, cond] of [
        [0, 'true'],
        [1, 'a.interactions > 0'],
        [2, 'a.orders > 0'],
      ] as const) {
        await q.query(`
          INSERT INTO kpi_day_people (workspace_id, kind, dim, day, chunk, bits)
          SELECT a.workspace_id, ${kind}, ${dim}, (a.hour AT TIME ZONE w.time_zone)::date, k.ordinal / 4096, bit_or(set_bit(${ZERO}, k.ordinal % 4096, 1))
          FROM kpi_activity a JOIN workspaces w ON w.id = a.workspace_id JOIN kpi_profiles k ON k.workspace_id = a.workspace_id AND k.profile_id = a.profile_id
          WHERE ${cond}
          GROUP BY 1, 2, 3, 4, 5`);
      }
    }
  }

  async down(q: QueryRunner): Promise<void> {
    await replaceViews(q, OLD_VIEWS);
    await q.query(`DROP TABLE kpi_buyers`);
    await q.query(`DROP TABLE kpi_quarter_totals`);
    await q.query(`DROP TABLE kpi_day_people`);
    await q.query(`DROP TABLE kpi_rollup_state`);
    await q.query(`DROP INDEX kpi_profiles_ordinal_idx`);
    await q.query(`ALTER TABLE kpi_profiles DROP COLUMN ordinal`);
  }
}

/** The BI views read the same rollups as `kpi`: people from the day sets, totals from the quarter totals, sessions from kpi_activity. */
const VIEWS = {
  daily_activity: `
    WITH people AS (
      SELECT workspace_id, day,
             (sum(bit_count(bits)) FILTER (WHERE kind = 0))::bigint AS active_users,
             (sum(bit_count(bits)) FILTER (WHERE kind = 1))::bigint AS interacting_users,
             (sum(bit_count(bits)) FILTER (WHERE kind = 2))::bigint AS buyers
      FROM kpi_day_people WHERE dim = '' AND kind IN (0, 1, 2) GROUP BY 1, 2),
    totals AS (
      SELECT t.workspace_id, (t.quarter AT TIME ZONE w.time_zone)::date AS day, sum(t.orders)::bigint AS orders, sum(t.revenue) AS gmv, sum(t.events)::bigint AS events
      FROM kpi_quarter_totals t JOIN workspaces w ON w.id = t.workspace_id WHERE t.dim = '' GROUP BY 1, 2),
    sessions AS (
      SELECT a.workspace_id, (a.hour AT TIME ZONE w.time_zone)::date AS day, count(DISTINCT (a.profile_id, a.channel, a.hour)) AS sessions
      FROM kpi_activity a JOIN workspaces w ON w.id = a.workspace_id GROUP BY 1, 2)
    SELECT s.workspace_id, s.day, coalesce(p.active_users, 0) AS active_users, s.sessions, coalesce(p.interacting_users, 0) AS interacting_users,
           coalesce(p.buyers, 0) AS buyers, coalesce(t.orders, 0) AS orders, coalesce(t.gmv, 0) AS gmv, coalesce(t.events, 0) AS events
    FROM sessions s LEFT JOIN people p ON p.workspace_id = s.workspace_id AND p.day = s.day LEFT JOIN totals t ON t.workspace_id = s.workspace_id AND t.day = s.day`,
  daily_activity_by_channel: `
    WITH people AS (
      SELECT workspace_id, day, substr(dim, 3) AS channel,
             (sum(bit_count(bits)) FILTER (WHERE kind = 0))::bigint AS active_users,
             (sum(bit_count(bits)) FILTER (WHERE kind = 2))::bigint AS buyers
      FROM kpi_day_people WHERE left(dim, 2) = 'c:' AND kind IN (0, 2) GROUP BY 1, 2, 3),
    totals AS (
      SELECT t.workspace_id, (t.quarter AT TIME ZONE w.time_zone)::date AS day, substr(t.dim, 3) AS channel, sum(t.orders)::bigint AS orders, sum(t.revenue) AS gmv
      FROM kpi_quarter_totals t JOIN workspaces w ON w.id = t.workspace_id WHERE left(t.dim, 2) = 'c:' GROUP BY 1, 2, 3),
    sessions AS (
      SELECT a.workspace_id, (a.hour AT TIME ZONE w.time_zone)::date AS day, a.channel, count(DISTINCT (a.profile_id, a.channel, a.hour)) AS sessions
      FROM kpi_activity a JOIN workspaces w ON w.id = a.workspace_id GROUP BY 1, 2, 3)
    SELECT s.workspace_id, s.day, s.channel, coalesce(p.active_users, 0) AS active_users, s.sessions, coalesce(p.buyers, 0) AS buyers,
           coalesce(t.orders, 0) AS orders, coalesce(t.gmv, 0) AS gmv
    FROM sessions s LEFT JOIN people p ON p.workspace_id = s.workspace_id AND p.day = s.day AND p.channel = s.channel
    LEFT JOIN totals t ON t.workspace_id = s.workspace_id AND t.day = s.day AND t.channel = s.channel`,
  daily_new_profiles: `
    SELECT workspace_id, day, substr(dim, 3) AS channel, sum(bit_count(bits))::bigint AS new_profiles
    FROM kpi_day_people WHERE kind = 5 AND left(dim, 2) = 'c:' GROUP BY 1, 2, 3 HAVING sum(bit_count(bits)) > 0`,
};

/** The views as the Kpis migration created them (for `down`). */
const OLD_VIEWS = {
  daily_activity: `
    SELECT a.workspace_id, (a.hour AT TIME ZONE w.time_zone)::date AS day,
           count(DISTINCT a.profile_id) AS active_users,
           count(DISTINCT (a.profile_id, a.channel, a.hour)) AS sessions,
           count(DISTINCT a.profile_id) FILTER (WHERE a.interactions > 0) AS interacting_users,
           count(DISTINCT a.profile_id) FILTER (WHERE a.orders > 0) AS buyers,
           sum(a.orders)::bigint AS orders, sum(a.revenue) AS gmv, sum(a.events)::bigint AS events
    FROM kpi_activity a JOIN workspaces w ON w.id = a.workspace_id
    GROUP BY 1, 2`,
  daily_activity_by_channel: `
    SELECT a.workspace_id, (a.hour AT TIME ZONE w.time_zone)::date AS day, a.channel,
           count(DISTINCT a.profile_id) AS active_users,
           count(DISTINCT (a.profile_id, a.channel, a.hour)) AS sessions,
           count(DISTINCT a.profile_id) FILTER (WHERE a.orders > 0) AS buyers,
           sum(a.orders)::bigint AS orders, sum(a.revenue) AS gmv
    FROM kpi_activity a JOIN workspaces w ON w.id = a.workspace_id
    GROUP BY 1, 2, 3`,
  daily_new_profiles: `
    SELECT p.workspace_id, (p.first_ts AT TIME ZONE w.time_zone)::date AS day, p.first_channel AS channel, count(*) AS new_profiles
    FROM kpi_profiles p JOIN workspaces w ON w.id = p.workspace_id
    GROUP BY 1, 2, 3`,
};

async function replaceViews(q: QueryRunner, views: Record<string, string>): Promise<void> {
  for (const [name, sql] of Object.entries(views)) {
    await q.query(`DROP VIEW reporting.${name}`);
    await q.query(`CREATE VIEW reporting.${name} AS ${sql}`);
    await q.query(`GRANT SELECT ON reporting.${name} TO siyu_reporting`);
  }
}
