import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Journeys (旅程): definitions, one state row per person per entry, the step history behind the
 * funnel statistics, and the fired triggers (unique per person, entry and step, so a retried batch
 * or a second sweep cannot fire twice). Every table is keyed by workspace_id first.
 */
export class Journeys1763891000000 implements MigrationInterface {
  name = 'Journeys1763891000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE journeys (
        workspace_id   uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        id             uuid NOT NULL DEFAULT gen_random_uuid(),
        name           text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
        description    text,
        template       text,
        steps          jsonb NOT NULL,
        active         boolean NOT NULL DEFAULT true,
        allow_reentry  boolean NOT NULL DEFAULT true,
        created_at     timestamptz NOT NULL DEFAULT now(),
        updated_at     timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (workspace_id, id)
      )`);
    await q.query(`
      CREATE TABLE journey_states (
        workspace_id  uuid NOT NULL,
        journey_id    uuid NOT NULL,
        profile_id    uuid NOT NULL,
        entry_no      integer NOT NULL,
        entry_key     text,
        step_index    integer NOT NULL,
        status        text NOT NULL CHECK (status IN ('active', 'completed', 'dropped', 'expired')),
        entered_at    timestamptz NOT NULL,
        step_at       timestamptz NOT NULL,
        deadline      timestamptz,
        completed_at  timestamptz,
        PRIMARY KEY (workspace_id, journey_id, profile_id, entry_no),
        FOREIGN KEY (workspace_id, journey_id) REFERENCES journeys(workspace_id, id) ON DELETE CASCADE
      )`);
    await q.query(`COMMENT ON COLUMN journey_states.deadline IS 'active only: when the next step''s window (within) ends; the sweep acts on it'`);
    await q.query(`COMMENT ON COLUMN journey_states.entry_key IS 'dedupe key of time-based entries, e.g. birthday:2026'`);
    await q.query(`CREATE UNIQUE INDEX journey_states_entry_key_uq ON journey_states (workspace_id, journey_id, profile_id, entry_key) WHERE entry_key IS NOT NULL`);
    await q.query(`CREATE INDEX journey_states_deadline_idx ON journey_states (workspace_id, deadline) WHERE status = 'active' AND deadline IS NOT NULL`);
    await q.query(`CREATE INDEX journey_states_profile_idx ON journey_states (workspace_id, profile_id)`);
    await q.query(`CREATE INDEX journey_states_entered_idx ON journey_states (workspace_id, journey_id, entered_at)`);
    await q.query(`
      CREATE TABLE journey_step_history (
        workspace_id  uuid NOT NULL,
        journey_id    uuid NOT NULL,
        profile_id    uuid NOT NULL,
        entry_no      integer NOT NULL,
        step_index    integer NOT NULL,
        reached_at    timestamptz NOT NULL,
        PRIMARY KEY (workspace_id, journey_id, profile_id, entry_no, step_index),
        FOREIGN KEY (workspace_id, journey_id) REFERENCES journeys(workspace_id, id) ON DELETE CASCADE
      )`);
    await q.query(`
      CREATE TABLE journey_triggers (
        workspace_id  uuid NOT NULL,
        journey_id    uuid NOT NULL,
        profile_id    uuid NOT NULL,
        entry_no      integer NOT NULL,
        step_key      text NOT NULL,
        at            timestamptz NOT NULL,
        vetoed        boolean NOT NULL DEFAULT false,
        fired_at      timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (workspace_id, journey_id, profile_id, entry_no, step_key),
        FOREIGN KEY (workspace_id, journey_id) REFERENCES journeys(workspace_id, id) ON DELETE CASCADE
      )`);
    await q.query(`COMMENT ON COLUMN journey_triggers.vetoed IS 'recorded but not published: the consent check vetoed it'`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of ['journey_triggers', 'journey_step_history', 'journey_states', 'journeys']) await q.query(`DROP TABLE ${t}`);
  }
}
