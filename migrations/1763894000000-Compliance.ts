import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Compliance (PIPL): consents per person and purpose with their history, workspace settings
 * (consent policy, event retention), the suppression list of erased people's identifiers (keyed
 * hashes only) and the audit log.
 */
export class Compliance1763894000000 implements MigrationInterface {
  name = 'Compliance1763894000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE compliance_settings (
        workspace_id          uuid PRIMARY KEY REFERENCES workspaces(id) ON DELETE CASCADE,
        consent_policy        text NOT NULL DEFAULT 'require_granted' CHECK (consent_policy IN ('require_granted', 'allow_unless_denied')),
        event_retention_days  integer CHECK (event_retention_days BETWEEN 1 AND 36500),
        updated_at            timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`COMMENT ON COLUMN compliance_settings.event_retention_days IS 'raw events older than this many days are purged by the sweep; NULL keeps them forever'`);
    await q.query(`
      CREATE TABLE consents (
        workspace_id    uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        profile_id      uuid NOT NULL,
        purpose         text NOT NULL CHECK (purpose IN ('marketing', 'personalization', 'analytics', 'third_party_sharing', 'sensitive_pi')),
        state           text NOT NULL CHECK (state IN ('granted', 'denied', 'withdrawn')),
        source          text NOT NULL,
        policy_version  text,
        at              timestamptz NOT NULL,
        updated_at      timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (workspace_id, profile_id, purpose)
      )`);
    await q.query(`COMMENT ON TABLE consents IS 'current consent per person and purpose: the change with the latest "at" wins'`);
    await q.query(`
      CREATE TABLE consent_history (
        id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        workspace_id      uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        profile_id        uuid NOT NULL,
        purpose           text NOT NULL,
        state             text NOT NULL,
        source            text NOT NULL,
        policy_version    text,
        at                timestamptz NOT NULL,
        recorded_at       timestamptz NOT NULL DEFAULT now(),
        event_message_id  text,
        actor_key_id      uuid
      )`);
    await q.query(`CREATE INDEX consent_history_profile_idx ON consent_history (workspace_id, profile_id, id)`);
    await q.query(`
      CREATE TABLE suppressed_identifiers (
        workspace_id      uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        id_hash           text NOT NULL,
        type              text NOT NULL,
        suppressed_at     timestamptz NOT NULL DEFAULT now(),
        rejected_events   bigint NOT NULL DEFAULT 0,
        last_rejected_at  timestamptz,
        PRIMARY KEY (workspace_id, id_hash)
      )`);
    await q.query(`COMMENT ON COLUMN suppressed_identifiers.id_hash IS 'HMAC (PII key) of type, namespace and match key: no plain value'`);
    await q.query(`
      CREATE TABLE audit_log (
        id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        workspace_id  uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        actor_key_id  uuid,
        actor_role    text,
        action        text NOT NULL,
        target_type   text NOT NULL,
        target_id     text,
        details       jsonb NOT NULL DEFAULT '{}'::jsonb,
        request_id    text,
        at            timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX audit_log_workspace_idx ON audit_log (workspace_id, id DESC)`);
    await q.query(`CREATE INDEX audit_log_target_idx ON audit_log (workspace_id, target_id, id DESC)`);
    // Retention purges the oldest events of a workspace in bounded batches.
    await q.query(`CREATE INDEX events_workspace_ts_idx ON events (workspace_id, ts)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX events_workspace_ts_idx`);
    for (const t of ['audit_log', 'suppressed_identifiers', 'consent_history', 'consents', 'compliance_settings']) await q.query(`DROP TABLE ${t}`);
  }
}
