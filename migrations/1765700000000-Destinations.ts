import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Outbound destinations (HTTP endpoints: a signed JSON webhook, WeCom, DingTalk and Feishu robots)
 * and their outbox, `destination_deliveries`: one row per destination and cause (a KPI alert, a
 * journey trigger, a segment entry or exit), with its delivery state. The rows are written by
 * statement-level triggers on the causes' tables, so an outbox row commits in the cause's own
 * transaction whatever code path wrote the cause (see the comment on `enqueue` below).
 */
export class Destinations1765700000000 implements MigrationInterface {
  name = 'Destinations1765700000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE destinations (
        workspace_id           uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        id                     uuid NOT NULL DEFAULT gen_random_uuid(),
        name                   text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
        format                 text NOT NULL CHECK (format IN ('webhook', 'wecom', 'dingtalk', 'feishu')),
        url                    text NOT NULL,
        secret                 text,
        events                 text[] NOT NULL,
        segment_ids            text[],
        journey_ids            uuid[],
        min_alert_level        text NOT NULL DEFAULT 'normal' CHECK (min_alert_level IN ('normal', 'important', 'urgent')),
        enabled                boolean NOT NULL DEFAULT true,
        allow_personal_data    boolean NOT NULL DEFAULT false,
        allow_private_network  boolean NOT NULL DEFAULT false,
        max_attempts           integer NOT NULL DEFAULT 10 CHECK (max_attempts BETWEEN 1 AND 50),
        timeout_ms             integer NOT NULL DEFAULT 5000 CHECK (timeout_ms BETWEEN 100 AND 30000),
        lease_owner            text,
        lease_until            timestamptz,
        created_at             timestamptz NOT NULL DEFAULT now(),
        updated_at             timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (workspace_id, id)
      )`);
    await q.query(`COMMENT ON COLUMN destinations.secret IS 'signing secret (webhook HMAC, DingTalk/Feishu sign); never returned over the API'`);
    await q.query(`COMMENT ON COLUMN destinations.lease_owner IS 'the worker (instance) delivering this destination until lease_until: one sender per destination at a time'`);
    await q.query(`CREATE INDEX destinations_due_idx ON destinations (lease_until) WHERE enabled`);
    await q.query(`
      CREATE TABLE destination_deliveries (
        workspace_id     uuid NOT NULL,
        id               bigserial,
        destination_id   uuid NOT NULL,
        kind             text NOT NULL CHECK (kind IN ('alert', 'journey_trigger', 'segment_change')),
        source_key       text NOT NULL,
        profile_id       uuid,
        data             jsonb NOT NULL,
        status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead', 'suppressed')),
        attempts         integer NOT NULL DEFAULT 0,
        next_attempt_at  timestamptz NOT NULL DEFAULT now(),
        last_attempt_at  timestamptz,
        last_status      integer,
        last_error       text,
        created_at       timestamptz NOT NULL DEFAULT now(),
        finished_at      timestamptz,
        replay_of        bigint,
        replayed_at      timestamptz,
        PRIMARY KEY (workspace_id, id),
        FOREIGN KEY (workspace_id, destination_id) REFERENCES destinations(workspace_id, id) ON DELETE CASCADE
      )`);
    await q.query(`COMMENT ON COLUMN destination_deliveries.source_key IS 'the cause: alert id, journey:profile:entry:step, or membership change id'`);
    await q.query(`COMMENT ON COLUMN destination_deliveries.profile_id IS 'the person an item is about (erasure deletes the row); sent only to destinations allowing personal data'`);
    await q.query(`COMMENT ON COLUMN destination_deliveries.data IS 'the cause as committed, without the person'`);
    await q.query(`CREATE INDEX destination_deliveries_head_idx ON destination_deliveries (destination_id, id) WHERE status = 'pending'`);
    await q.query(`CREATE INDEX destination_deliveries_log_idx ON destination_deliveries (workspace_id, destination_id, id)`);
    await q.query(`CREATE INDEX destination_deliveries_status_idx ON destination_deliveries (workspace_id, status, id)`);

    // Why triggers on the causes' tables rather than a cursor over them or calls from each writer:
    // the causes' own keys do not give a safe cursor (kpi_alerts and journey_triggers have no
    // sequence; membership_changes' bigserial is taken before commit, so a reader can pass an id
    // whose transaction commits later and skip it forever), and membership changes are written by
    // ten statements of the tags module (ingest, sweep, unmerge, deletes). A statement-level AFTER
    // INSERT trigger sees exactly the rows the statement inserted, runs in its transaction (the
    // outbox row commits with the cause or not at all) and costs one indexed probe of
    // `destinations` per statement when a workspace has none.
    await q.query(`
      CREATE FUNCTION destinations_enqueue_alerts() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO destination_deliveries (workspace_id, destination_id, kind, source_key, profile_id, data)
        SELECT a.workspace_id, d.id, 'alert', a.id::text, NULL,
               jsonb_build_object('alertId', a.id, 'ruleId', a.rule_id, 'metric', a.metric, 'level', a.level, 'value', a.value,
                                  'reference', a.reference, 'message', a.message, 'raisedAt', a.raised_at)
          FROM new_rows a
          JOIN destinations d ON d.workspace_id = a.workspace_id AND d.enabled AND 'alert' = ANY (d.events)
         WHERE array_position(ARRAY['normal', 'important', 'urgent'], a.level) >= array_position(ARRAY['normal', 'important', 'urgent'], d.min_alert_level)
         ORDER BY a.raised_at, a.id, d.id;
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE FUNCTION destinations_enqueue_journey_triggers() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO destination_deliveries (workspace_id, destination_id, kind, source_key, profile_id, data)
        SELECT t.workspace_id, d.id, 'journey_trigger', concat_ws(':', t.journey_id, t.profile_id, t.entry_no, t.step_key), t.profile_id,
               jsonb_build_object('journeyId', t.journey_id, 'journeyName', j.name, 'stepKey', t.step_key, 'entryNo', t.entry_no, 'at', t.at)
          FROM new_rows t
          JOIN destinations d ON d.workspace_id = t.workspace_id AND d.enabled AND 'journey_trigger' = ANY (d.events)
          LEFT JOIN journeys j ON j.workspace_id = t.workspace_id AND j.id = t.journey_id
         WHERE NOT t.vetoed AND (d.journey_ids IS NULL OR t.journey_id = ANY (d.journey_ids))
         ORDER BY t.at, t.journey_id, t.profile_id, t.entry_no, t.step_key, d.id;
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE FUNCTION destinations_enqueue_membership_changes() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO destination_deliveries (workspace_id, destination_id, kind, source_key, profile_id, data)
        SELECT m.workspace_id, d.id, 'segment_change', m.id::text, m.profile_id,
               jsonb_build_object('segmentId', m.subject, 'segmentKey', s.key, 'segmentName', s.name, 'change', m.change, 'cause', m.cause, 'at', m.at)
          FROM new_rows m
          JOIN destinations d ON d.workspace_id = m.workspace_id AND d.enabled AND 'segment_change' = ANY (d.events)
          LEFT JOIN segments s ON s.workspace_id = m.workspace_id AND s.id::text = m.subject
         WHERE m.subject_kind = 'segment' AND (d.segment_ids IS NULL OR m.subject = ANY (d.segment_ids))
         ORDER BY m.id, d.id;
        RETURN NULL;
      END $$`);
    await q.query(`CREATE TRIGGER destinations_enqueue AFTER INSERT ON kpi_alerts REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION destinations_enqueue_alerts()`);
    await q.query(`CREATE TRIGGER destinations_enqueue AFTER INSERT ON journey_triggers REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION destinations_enqueue_journey_triggers()`);
    await q.query(`CREATE TRIGGER destinations_enqueue AFTER INSERT ON membership_changes REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION destinations_enqueue_membership_changes()`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of ['kpi_alerts', 'journey_triggers', 'membership_changes']) await q.query(`DROP TRIGGER destinations_enqueue ON ${t}`);
    for (const f of ['destinations_enqueue_alerts', 'destinations_enqueue_journey_triggers', 'destinations_enqueue_membership_changes']) await q.query(`DROP FUNCTION ${f}()`);
    await q.query(`DROP TABLE destination_deliveries`);
    await q.query(`DROP TABLE destinations`);
  }
}
