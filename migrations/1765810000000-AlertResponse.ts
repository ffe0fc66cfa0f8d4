import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The response process of alerts (应急响应 → 根源分析 → 改进落实): a fourth status
 * `root_cause_recorded`, every step with who, when and a note (`kpi_alert_steps`), service levels
 * per alert level (`kpi_alert_slas`; absent rows mean the documented defaults), and deadlines on
 * each alert. An alert whose next deadline passes escalates: `next_due_at` is what the escalation
 * sweep reads (a partial index, so its cost follows the alerts due, not the alert history). Alerts
 * raised before this migration carry no deadline and never escalate.
 */
export class AlertResponse1765810000000 implements MigrationInterface {
  name = 'AlertResponse1765810000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE kpi_alerts DROP CONSTRAINT kpi_alerts_status_check`);
    await q.query(`ALTER TABLE kpi_alerts ADD CONSTRAINT kpi_alerts_status_check CHECK (status IN ('open', 'acknowledged', 'root_cause_recorded', 'resolved'))`);
    await q.query(`
      ALTER TABLE kpi_alerts
        ADD COLUMN raised_level        text,
        ADD COLUMN escalations         integer NOT NULL DEFAULT 0,
        ADD COLUMN escalated_at        timestamptz,
        ADD COLUMN root_cause          text,
        ADD COLUMN root_cause_by       text,
        ADD COLUMN root_cause_at       timestamptz,
        ADD COLUMN resolution_note     text,
        ADD COLUMN acknowledge_due_at  timestamptz,
        ADD COLUMN resolve_due_at      timestamptz,
        ADD COLUMN next_due_at         timestamptz`);
    await q.query(`UPDATE kpi_alerts SET raised_level = level`);
    await q.query(`ALTER TABLE kpi_alerts ALTER COLUMN raised_level SET NOT NULL`);
    await q.query(`COMMENT ON COLUMN kpi_alerts.level IS 'current level: the raised level, raised one step by each escalation (urgent stays urgent)'`);
    await q.query(`COMMENT ON COLUMN kpi_alerts.next_due_at IS 'the deadline that escalates the alert next: acknowledge_due_at while open, resolve_due_at until resolved, null once resolved'`);
    await q.query(`CREATE INDEX kpi_alerts_due_idx ON kpi_alerts (next_due_at) WHERE next_due_at IS NOT NULL`);
    await q.query(`
      CREATE TABLE kpi_alert_steps (
        workspace_id  uuid NOT NULL,
        alert_id      uuid NOT NULL,
        step_no       integer NOT NULL,
        action        text NOT NULL CHECK (action IN ('raised', 'acknowledged', 'root_cause_recorded', 'resolved', 'escalated')),
        actor         text,
        level         text NOT NULL,
        note          text,
        at            timestamptz NOT NULL,
        PRIMARY KEY (workspace_id, alert_id, step_no),
        FOREIGN KEY (workspace_id, alert_id) REFERENCES kpi_alerts (workspace_id, id) ON DELETE CASCADE
      )`);
    await q.query(`COMMENT ON TABLE kpi_alert_steps IS 'the response process of each alert, in order: who (API key id; null for Siyu itself), when, the level after the step, and a note'`);
    await q.query(`
      INSERT INTO kpi_alert_steps (workspace_id, alert_id, step_no, action, actor, level, note, at)
      SELECT workspace_id, id, row_number() OVER (PARTITION BY workspace_id, id ORDER BY s.at, s.o), s.action, s.actor, level, NULL, s.at
        FROM kpi_alerts a
        CROSS JOIN LATERAL (VALUES (0, 'raised', NULL::text, a.raised_at), (1, 'acknowledged', a.acknowledged_by, a.acknowledged_at), (2, 'resolved', a.resolved_by, a.resolved_at)) AS s(o, action, actor, at)
       WHERE s.at IS NOT NULL`);
    await q.query(`
      CREATE TABLE kpi_alert_slas (
        workspace_id            uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        level                   text NOT NULL CHECK (level IN ('normal', 'important', 'urgent')),
        acknowledge_within_sec  integer NOT NULL CHECK (acknowledge_within_sec > 0),
        resolve_within_sec      integer NOT NULL CHECK (resolve_within_sec >= acknowledge_within_sec),
        root_cause_required     boolean NOT NULL DEFAULT false,
        updated_by              text,
        updated_at              timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (workspace_id, level)
      )`);
    await q.query(`COMMENT ON TABLE kpi_alert_slas IS 'service levels per alert level set by an ADMIN; a level without a row uses the defaults of src/modules/kpis/alert.sla.ts'`);

    // Escalations are pushed again like new alerts: the destinations outbox gets them in the
    // escalation's transaction (see 1765700000000-Destinations for why triggers).
    await q.query(`
      CREATE FUNCTION destinations_enqueue_alert_escalations() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO destination_deliveries (workspace_id, destination_id, kind, source_key, profile_id, data)
        SELECT a.workspace_id, d.id, 'alert', concat(a.id, ':', s.step_no), NULL,
               jsonb_build_object('alertId', a.id, 'ruleId', a.rule_id, 'metric', a.metric, 'level', s.level, 'raisedLevel', a.raised_level,
                                  'value', a.value, 'reference', a.reference, 'message', a.message, 'raisedAt', a.raised_at,
                                  'escalation', a.escalations, 'escalatedAt', s.at, 'status', a.status, 'reason', s.note)
          FROM new_rows s
          JOIN kpi_alerts a ON a.workspace_id = s.workspace_id AND a.id = s.alert_id
          JOIN destinations d ON d.workspace_id = s.workspace_id AND d.enabled AND 'alert' = ANY (d.events)
         WHERE s.action = 'escalated'
           AND array_position(ARRAY['normal', 'important', 'urgent'], s.level) >= array_position(ARRAY['normal', 'important', 'urgent'], d.min_alert_level)
         ORDER BY s.at, s.alert_id, s.step_no, d.id;
        RETURN NULL;
      END $$`);
    await q.query(`CREATE TRIGGER destinations_enqueue AFTER INSERT ON kpi_alert_steps REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION destinations_enqueue_alert_escalations()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER destinations_enqueue ON kpi_alert_steps`);
    await q.query(`DROP FUNCTION destinations_enqueue_alert_escalations()`);
    await q.query(`DROP TABLE kpi_alert_slas`);
    await q.query(`DROP TABLE kpi_alert_steps`);
    await q.query(`DROP INDEX kpi_alerts_due_idx`);
    await q.query(`UPDATE kpi_alerts SET status = 'acknowledged' WHERE status = 'root_cause_recorded'`);
    await q.query(`UPDATE kpi_alerts SET level = raised_level`);
    for (const c of ['raised_level', 'escalations', 'escalated_at', 'root_cause', 'root_cause_by', 'root_cause_at', 'resolution_note', 'acknowledge_due_at', 'resolve_due_at', 'next_due_at']) {
      await q.query(`ALTER TABLE kpi_alerts DROP COLUMN ${c}`);
    }
    await q.query(`ALTER TABLE kpi_alerts DROP CONSTRAINT kpi_alerts_status_check`);
    await q.query(`ALTER TABLE kpi_alerts ADD CONSTRAINT kpi_alerts_status_check CHECK (status IN ('open', 'acknowledged', 'resolved'))`);
  }
}
