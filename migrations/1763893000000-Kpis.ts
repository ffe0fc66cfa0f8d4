import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * KPI rollups kept in the ingest transaction (exact distinct counts without scanning raw events),
 * targets, alert rules and alerts, and the `reporting` schema for BI tools: views
 * over the same rollups, readable by the NOLOGIN role `siyu_reporting` (grant it to a login role).
 */
export class Kpis1763893000000 implements MigrationInterface {
  name = 'Kpis1763893000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE kpi_activity (
        workspace_id    uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        hour            timestamptz NOT NULL,
        profile_id      uuid NOT NULL,
        channel         text NOT NULL,
        touchpoint      text NOT NULL DEFAULT '',
        events          integer NOT NULL DEFAULT 0,
        interactions    integer NOT NULL DEFAULT 0,
        orders          integer NOT NULL DEFAULT 0,
        revenue         numeric(16,2) NOT NULL DEFAULT 0,
        nps_responses   integer NOT NULL DEFAULT 0,
        nps_promoters   integer NOT NULL DEFAULT 0,
        nps_detractors  integer NOT NULL DEFAULT 0,
        PRIMARY KEY (workspace_id, hour, profile_id, channel, touchpoint)
      )`);
    await q.query(`COMMENT ON TABLE kpi_activity IS 'one row per person, UTC hour, channel and touchpoint with activity; profile_id follows merges; kept when raw events are purged or a person is erased'`);
    await q.query(`CREATE INDEX kpi_activity_profile_idx ON kpi_activity (workspace_id, profile_id, hour)`);
    await q.query(`
      CREATE TABLE kpi_profiles (
        workspace_id      uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        profile_id        uuid NOT NULL,
        first_ts          timestamptz NOT NULL,
        first_channel     text NOT NULL,
        first_touchpoint  text NOT NULL DEFAULT '',
        PRIMARY KEY (workspace_id, profile_id)
      )`);
    await q.query(`COMMENT ON TABLE kpi_profiles IS 'acquisition of each person: first event (time, channel, touchpoint); one row per live or erased person'`);
    await q.query(`CREATE INDEX kpi_profiles_first_idx ON kpi_profiles (workspace_id, first_ts)`);
    await q.query(`
      CREATE TABLE kpi_targets (
        workspace_id  uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        id            uuid NOT NULL DEFAULT gen_random_uuid(),
        metric        text NOT NULL,
        value         double precision NOT NULL,
        period        text NOT NULL,
        filter        jsonb NOT NULL DEFAULT '{}'::jsonb,
        created_at    timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (workspace_id, id)
      )`);
    await q.query(`
      CREATE TABLE kpi_alert_rules (
        workspace_id   uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        id             uuid NOT NULL DEFAULT gen_random_uuid(),
        name           text NOT NULL,
        metric         text NOT NULL,
        kind           text NOT NULL CHECK (kind IN ('above', 'below', 'deviation')),
        threshold      double precision,
        target_id      uuid,
        deviation_pct  double precision,
        level          text NOT NULL CHECK (level IN ('normal', 'important', 'urgent')),
        cooldown_sec   integer NOT NULL DEFAULT 3600,
        window_days    integer NOT NULL DEFAULT 1,
        filter         jsonb NOT NULL DEFAULT '{}'::jsonb,
        enabled        boolean NOT NULL DEFAULT true,
        breached       boolean NOT NULL DEFAULT false,
        last_fired_at  timestamptz,
        created_at     timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (workspace_id, id)
      )`);
    await q.query(`
      CREATE TABLE kpi_alerts (
        workspace_id     uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        id               uuid NOT NULL DEFAULT gen_random_uuid(),
        rule_id          uuid NOT NULL,
        metric           text NOT NULL,
        level            text NOT NULL,
        value            double precision,
        reference        double precision,
        message          text NOT NULL,
        status           text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'acknowledged', 'resolved')),
        raised_at        timestamptz NOT NULL DEFAULT now(),
        acknowledged_by  text,
        acknowledged_at  timestamptz,
        resolved_by      text,
        resolved_at      timestamptz,
        PRIMARY KEY (workspace_id, id)
      )`);
    await q.query(`CREATE INDEX kpi_alerts_status_idx ON kpi_alerts (workspace_id, status, raised_at DESC)`);

    await q.query(`CREATE SCHEMA reporting`);
    await q.query(`
      CREATE VIEW reporting.daily_activity AS
      SELECT a.workspace_id, (a.hour AT TIME ZONE w.time_zone)::date AS day,
             count(DISTINCT a.profile_id) AS active_users,
             count(DISTINCT (a.profile_id, a.channel, a.hour)) AS sessions,
             count(DISTINCT a.profile_id) FILTER (WHERE a.interactions > 0) AS interacting_users,
             count(DISTINCT a.profile_id) FILTER (WHERE a.orders > 0) AS buyers,
             sum(a.orders)::bigint AS orders, sum(a.revenue) AS gmv, sum(a.events)::bigint AS events
      FROM kpi_activity a JOIN workspaces w ON w.id = a.workspace_id
      GROUP BY 1, 2`);
    await q.query(`
      CREATE VIEW reporting.daily_activity_by_channel AS
      SELECT a.workspace_id, (a.hour AT TIME ZONE w.time_zone)::date AS day, a.channel,
             count(DISTINCT a.profile_id) AS active_users,
             count(DISTINCT (a.profile_id, a.channel, a.hour)) AS sessions,
             count(DISTINCT a.profile_id) FILTER (WHERE a.orders > 0) AS buyers,
             sum(a.orders)::bigint AS orders, sum(a.revenue) AS gmv
      FROM kpi_activity a JOIN workspaces w ON w.id = a.workspace_id
      GROUP BY 1, 2, 3`);
    await q.query(`
      CREATE VIEW reporting.daily_new_profiles AS
      SELECT p.workspace_id, (p.first_ts AT TIME ZONE w.time_zone)::date AS day, p.first_channel AS channel, count(*) AS new_profiles
      FROM kpi_profiles p JOIN workspaces w ON w.id = p.workspace_id
      GROUP BY 1, 2, 3`);
    await q.query(`
      DO $$ BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'siyu_reporting') THEN CREATE ROLE siyu_reporting NOLOGIN; END IF;
      END $$`);
    await q.query(`GRANT USAGE ON SCHEMA reporting TO siyu_reporting`);
    await q.query(`GRANT SELECT ON ALL TABLES IN SCHEMA reporting TO siyu_reporting`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`REVOKE ALL ON ALL TABLES IN SCHEMA reporting FROM siyu_reporting`);
    await q.query(`REVOKE ALL ON SCHEMA reporting FROM siyu_reporting`);
    await q.query(`DROP SCHEMA reporting CASCADE`);
    for (const t of ['kpi_alerts', 'kpi_alert_rules', 'kpi_targets', 'kpi_profiles', 'kpi_activity']) {
      await q.query(`DROP TABLE ${t}`);
    }
  }
}
