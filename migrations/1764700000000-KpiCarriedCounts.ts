import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Counts carried forward at ingest, so the answers that are counts per day or per hour read one row
 * per bucket and dimension instead of every chunk of the day sets or every `kpi_activity` row:
 *
 * - `kpi_day_counts`: per local day, kind and dimension, how many bits the day set has
 *   (`kpi_day_people`). Every statement that sets or clears bits adds the change it made (a bit
 *   already set adds nothing), so merges, unmerges and rebuilds keep it exact.
 * - `kpi_hour_counts`: per UTC clock hour and dimension, the distinct people active, interacting and
 *   buying in it, and the sessions (distinct person × channel × hour) — the measures the HOUR grain
 *   and SESSIONS read. A batch adds what its rows add to each person's hour; a merge subtracts what
 *   two people shared in an hour; a rebuild subtracts the rows it deletes before adding them again.
 *
 * - `kpi_person_days`: each person's active local days per dimension (day numbers), from which a
 *   batch, a merge or a rebuild knows which counts of the day measures that depend on a person's
 *   own days it changes; they go into `kpi_day_counts`: kinds 20 and 21 (people active in the 7 and
 *   30 days ending with the day: WAU, MAU), 22 (active on the day and the day before: churn), 23
 *   (wake-ups) and 24 (changes of the number of silent people).
 * - `kpi_person_refs`, `kpi_inviter_days`: referral day sets kept per person (src/modules/kpis/
 *   kpi.refs.ts). Not backfilled: a workspace with referral relations keeps answering the referral
 *   KPIs from `relations` (`kpi_rollup_state.refs_ready` false) until `siyu recompute --parts kpis`.
 *
 * All are filled from what they summarise; the BI views read them.
 */
export class KpiCarriedCounts1764700000000 implements MigrationInterface {
  name = 'KpiCarriedCounts1764700000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE kpi_day_counts (
        workspace_id  uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        kind          smallint NOT NULL,
        dim           text NOT NULL,
        day           date NOT NULL,
        people        integer NOT NULL,
        PRIMARY KEY (workspace_id, kind, dim, day)
      )`);
    await q.query(`COMMENT ON TABLE kpi_day_counts IS 'per local day, kind and dimension: the number of people in the day set (kpi_day_people), kept by the statements that set and clear bits'`);
    await q.query(`
      INSERT INTO kpi_day_counts (workspace_id, kind, dim, day, people)
      SELECT workspace_id, kind, dim, day, sum(bit_count(bits)) FROM kpi_day_people GROUP BY 1, 2, 3, 4 HAVING sum(bit_count(bits)) > 0`);
    await q.query(`
      CREATE TABLE kpi_hour_counts (
        workspace_id  uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        dim           text NOT NULL,
        hour          timestamptz NOT NULL,
        active        integer NOT NULL DEFAULT 0,
        interacting   integer NOT NULL DEFAULT 0,
        buyers        integer NOT NULL DEFAULT 0,
        sessions      integer NOT NULL DEFAULT 0,
        PRIMARY KEY (workspace_id, dim, hour)
      )`);
    await q.query(
      `COMMENT ON TABLE kpi_hour_counts IS 'per UTC clock hour and dimension ('''' everyone, c:<channel>, t:<touchpoint>): distinct people active, interacting and buying, and sessions (distinct person, channel, hour); carried forward at ingest'`,
    );
    for (const [dim, sessions] of [
      [`''`, 'count(DISTINCT (a.profile_id, a.channel))'],
      [`'c:' || a.channel`, 'count(DISTINCT a.profile_id)'],
      [`'t:' || a.touchpoint`, 'count(DISTINCT (a.profile_id, a.channel))'],
    ] as const) {
      await q.query(`
        INSERT INTO kpi_hour_counts (workspace_id, dim, hour, active, interacting, buyers, sessions)
        SELECT a.workspace_id, ${dim}, a.hour, count(DISTINCT a.profile_id), count(DISTINCT a.profile_id) FILTER (WHERE a.interactions > 0),
               count(DISTINCT a.profile_id) FILTER (WHERE a.orders > 0), ${sessions}
        FROM kpi_activity a GROUP BY 1, 2, 3`);
    }
    await q.query(`
      CREATE TABLE kpi_person_days (
        workspace_id  uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        profile_id    uuid NOT NULL,
        days          jsonb NOT NULL,
        PRIMARY KEY (workspace_id, profile_id)
      )`);
    await q.query(
      `COMMENT ON TABLE kpi_person_days IS 'per person: dimension -> active local days (days since 1970-01-01, the days of their bits in kpi_day_people); profile_id follows merges'`,
    );
    // Every active bit of the day sets, as (workspace, dimension, day, ordinal).
    await q.query(`
      CREATE TEMPORARY TABLE active_bits AS
      SELECT d.workspace_id, d.dim, d.day, d.chunk * 4096 + i AS o
      FROM kpi_day_people d CROSS JOIN LATERAL generate_series(0, 4095) i
      WHERE d.kind = 0 AND get_bit(d.bits, i) = 1`);
    await q.query(`
      INSERT INTO kpi_person_days (workspace_id, profile_id, days)
      SELECT x.workspace_id, k.profile_id, jsonb_object_agg(x.dim, x.days)
      FROM (SELECT workspace_id, o, dim, jsonb_agg(day - DATE '1970-01-01' ORDER BY day) AS days FROM active_bits GROUP BY 1, 2, 3) x
      JOIN kpi_profiles k ON k.workspace_id = x.workspace_id AND k.ordinal = x.o
      GROUP BY 1, 2`);
    for (const [kind, n] of [
      [20, 7],
      [21, 30],
    ] as const) {
      await q.query(`
        INSERT INTO kpi_day_counts (workspace_id, kind, dim, day, people)
        SELECT b.workspace_id, ${kind}, b.dim, b.day + k, count(DISTINCT b.o)
        FROM active_bits b CROSS JOIN generate_series(0, ${n - 1}) k
        GROUP BY 1, 2, 3, 4`);
    }
    // Churn (active on the day and the day before), wake-ups (31+ days after the active day before)
    // and silence changes (+1 thirty-one days after an active day with no later one by then, −1 the
    // day after the next active day): src/modules/kpis/kpi.windows.ts `parts`.
    await q.query(`
      CREATE TEMPORARY TABLE active_runs AS
      SELECT workspace_id, dim, o, day, lag(day) OVER w AS prev, lead(day) OVER w AS next
      FROM (SELECT DISTINCT workspace_id, dim, o, day FROM active_bits) a
      WINDOW w AS (PARTITION BY workspace_id, dim, o ORDER BY day)`);
    await q.query(`
      INSERT INTO kpi_day_counts (workspace_id, kind, dim, day, people)
      SELECT workspace_id, kind, dim, day, sum(n) FROM (
        SELECT workspace_id, 22 AS kind, dim, day, 1 AS n FROM active_runs WHERE prev = day - 1
        UNION ALL SELECT workspace_id, 23, dim, day, 1 FROM active_runs WHERE prev <= day - 31
        UNION ALL SELECT workspace_id, 24, dim, day + 31, 1 FROM active_runs WHERE next IS NULL OR next >= day + 31
        UNION ALL SELECT workspace_id, 24, dim, next + 1, -1 FROM active_runs WHERE next >= day + 31) x
      GROUP BY 1, 2, 3, 4 HAVING sum(n) <> 0`);
    await q.query(`DROP TABLE active_runs`);
    await q.query(`DROP TABLE active_bits`);
    await q.query(`
      CREATE TABLE kpi_person_refs (
        workspace_id  uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        profile_id    uuid NOT NULL,
        state         jsonb NOT NULL,
        PRIMARY KEY (workspace_id, profile_id)
      )`);
    await q.query(
      `COMMENT ON TABLE kpi_person_refs IS 'per person with referral relations: what they put into the referral day sets (kinds 6, 7, 9 of kpi_day_people) and inviter references (kpi_inviter_days), so a refresh takes exactly that out again'`,
    );
    await q.query(`
      CREATE TABLE kpi_inviter_days (
        workspace_id  uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        inviter       uuid NOT NULL,
        day           date NOT NULL,
        dim           text NOT NULL,
        invitees      integer NOT NULL,
        PRIMARY KEY (workspace_id, inviter, day, dim)
      )`);
    await q.query(`COMMENT ON TABLE kpi_inviter_days IS 'per inviter (profile id, follows merges through a refresh), acquisition day and dimension of the people they invited: how many (kpi_day_counts kind 8 counts the rows above 0)'`);
    // Referral day sets start empty: workspaces with referral relations answer ORGANIC_SHARE,
    // FISSION_COEFFICIENT and REFERRAL_RATE from relations until \`siyu recompute --parts kpis\`.
    await q.query(`ALTER TABLE kpi_rollup_state ADD COLUMN refs_ready boolean NOT NULL DEFAULT true`);
    await q.query(`UPDATE kpi_rollup_state s SET refs_ready = false WHERE EXISTS (SELECT 1 FROM relations r WHERE r.workspace_id = s.workspace_id AND r.kind IN ('invited', 'referred', 'shared_to'))`);
    await replaceViews(q, VIEWS);
  }

  async down(q: QueryRunner): Promise<void> {
    await replaceViews(q, OLD_VIEWS);
    await q.query(`ALTER TABLE kpi_rollup_state DROP COLUMN refs_ready`);
    await q.query(`DELETE FROM kpi_day_people WHERE kind IN (6, 7, 9)`);
    await q.query(`DELETE FROM kpi_day_counts WHERE kind IN (6, 7, 8, 9)`);
    await q.query(`DROP TABLE kpi_inviter_days`);
    await q.query(`DROP TABLE kpi_person_refs`);
    await q.query(`DROP TABLE kpi_person_days`);
    await q.query(`DROP TABLE kpi_hour_counts`);
    await q.query(`DROP TABLE kpi_day_counts`);
  }
}

/** The BI views read the carried counts: people per day, sessions per hour, totals per quarter hour. */
const VIEWS = {
  daily_activity: `
    WITH people AS (
      SELECT workspace_id, day,
             (sum(people) FILTER (WHERE kind = 0))::bigint AS active_users,
             (sum(people) FILTER (WHERE kind = 1))::bigint AS interacting_users,
             (sum(people) FILTER (WHERE kind = 2))::bigint AS buyers
      FROM kpi_day_counts WHERE dim = '' AND kind IN (0, 1, 2) GROUP BY 1, 2),
    totals AS (
      SELECT t.workspace_id, (t.quarter AT TIME ZONE w.time_zone)::date AS day, sum(t.orders)::bigint AS orders, sum(t.revenue) AS gmv, sum(t.events)::bigint AS events
      FROM kpi_quarter_totals t JOIN workspaces w ON w.id = t.workspace_id WHERE t.dim = '' GROUP BY 1, 2),
    sessions AS (
      SELECT h.workspace_id, (h.hour AT TIME ZONE w.time_zone)::date AS day, sum(h.sessions)::bigint AS sessions
      FROM kpi_hour_counts h JOIN workspaces w ON w.id = h.workspace_id WHERE h.dim = '' GROUP BY 1, 2 HAVING sum(h.sessions) > 0)
    SELECT s.workspace_id, s.day, coalesce(p.active_users, 0) AS active_users, s.sessions, coalesce(p.interacting_users, 0) AS interacting_users,
           coalesce(p.buyers, 0) AS buyers, coalesce(t.orders, 0) AS orders, coalesce(t.gmv, 0) AS gmv, coalesce(t.events, 0) AS events
    FROM sessions s LEFT JOIN people p ON p.workspace_id = s.workspace_id AND p.day = s.day LEFT JOIN totals t ON t.workspace_id = s.workspace_id AND t.day = s.day`,
  daily_activity_by_channel: `
    WITH people AS (
      SELECT workspace_id, day, substr(dim, 3) AS channel,
             (sum(people) FILTER (WHERE kind = 0))::bigint AS active_users,
             (sum(people) FILTER (WHERE kind = 2))::bigint AS buyers
      FROM kpi_day_counts WHERE left(dim, 2) = 'c:' AND kind IN (0, 2) GROUP BY 1, 2, 3),
    totals AS (
      SELECT t.workspace_id, (t.quarter AT TIME ZONE w.time_zone)::date AS day, substr(t.dim, 3) AS channel, sum(t.orders)::bigint AS orders, sum(t.revenue) AS gmv
      FROM kpi_quarter_totals t JOIN workspaces w ON w.id = t.workspace_id WHERE left(t.dim, 2) = 'c:' GROUP BY 1, 2, 3),
    sessions AS (
      SELECT h.workspace_id, (h.hour AT TIME ZONE w.time_zone)::date AS day, substr(h.dim, 3) AS channel, sum(h.sessions)::bigint AS sessions
      FROM kpi_hour_counts h JOIN workspaces w ON w.id = h.workspace_id WHERE left(h.dim, 2) = 'c:' GROUP BY 1, 2, 3 HAVING sum(h.sessions) > 0)
    SELECT s.workspace_id, s.day, s.channel, coalesce(p.active_users, 0) AS active_users, s.sessions, coalesce(p.buyers, 0) AS buyers,
           coalesce(t.orders, 0) AS orders, coalesce(t.gmv, 0) AS gmv
    FROM sessions s LEFT JOIN people p ON p.workspace_id = s.workspace_id AND p.day = s.day AND p.channel = s.channel
    LEFT JOIN totals t ON t.workspace_id = s.workspace_id AND t.day = s.day AND t.channel = s.channel`,
  daily_new_profiles: `
    SELECT workspace_id, day, substr(dim, 3) AS channel, sum(people)::bigint AS new_profiles
    FROM kpi_day_counts WHERE kind = 5 AND left(dim, 2) = 'c:' GROUP BY 1, 2, 3 HAVING sum(people) > 0`,
};

/** The views as the KpiDaySets migration left them (for `down`). */
const OLD_VIEWS = {
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

async function replaceViews(q: QueryRunner, views: Record<string, string>): Promise<void> {
  for (const [name, sql] of Object.entries(views)) {
    await q.query(`DROP VIEW reporting.${name}`);
    await q.query(`CREATE VIEW reporting.${name} AS ${sql}`);
    await q.query(`GRANT SELECT ON reporting.${name} TO siyu_reporting`);
  }
}
