import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Lifecycle stages (生命周期): each workspace's stage model, every person's current stage and the
 * history of transitions with their causes. Every table is keyed by workspace_id first.
 */
export class Lifecycle1763890000000 implements MigrationInterface {
  name = 'Lifecycle1763890000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE stage_models (
        workspace_id  uuid PRIMARY KEY REFERENCES workspaces(id) ON DELETE CASCADE,
        model_key     text NOT NULL,
        name          text NOT NULL,
        definition    jsonb NOT NULL,
        updated_at    timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`COMMENT ON TABLE stage_models IS 'a workspace''s own stage model; absent = the default model'`);
    await q.query(`
      CREATE TABLE profile_stages (
        workspace_id    uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        profile_id      uuid NOT NULL,
        model_key       text NOT NULL,
        stage           text NOT NULL,
        main_stage      text,
        entered_at      timestamptz NOT NULL,
        previous_stage  text,
        updated_at      timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (workspace_id, profile_id)
      )`);
    await q.query(`COMMENT ON COLUMN profile_stages.main_stage IS 'furthest main-sequence stage reached: where a wake-up from silent/churned returns to'`);
    await q.query(`CREATE INDEX profile_stages_stage_idx ON profile_stages (workspace_id, model_key, stage)`);
    await q.query(`
      CREATE TABLE stage_transitions (
        workspace_id  uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        id            bigserial,
        profile_id    uuid NOT NULL,
        model_key     text NOT NULL,
        from_stage    text,
        to_stage      text NOT NULL,
        at            timestamptz NOT NULL,
        cause         text NOT NULL,
        wake_up       boolean NOT NULL DEFAULT false,
        recorded_at   timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (workspace_id, id)
      )`);
    await q.query(`CREATE INDEX stage_transitions_profile_idx ON stage_transitions (workspace_id, profile_id, id)`);
    await q.query(`CREATE INDEX stage_transitions_at_idx ON stage_transitions (workspace_id, model_key, at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of ['stage_transitions', 'profile_stages', 'stage_models']) await q.query(`DROP TABLE ${t}`);
  }
}
