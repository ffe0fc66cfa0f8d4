import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Attribution (src/modules/attribution): workspace settings with their history, each person's
 * closed paths (converting and non-converting, with their touches), and what the queries read —
 * per day the rule-based models' credit per value, and per day the path counts per value set that
 * data-driven Shapley credit is computed from; plus marketing costs per value and day.
 */
export class Attribution1765500000000 implements MigrationInterface {
  name = 'Attribution1765500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE attribution_settings (
        workspace_id  uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        version       integer NOT NULL,
        settings      jsonb NOT NULL,
        changed_at    timestamptz NOT NULL DEFAULT now(),
        changed_by    text,
        PRIMARY KEY (workspace_id, version)
      )`);
    await q.query(`COMMENT ON TABLE attribution_settings IS 'every version of the settings; the highest is in force (none: the defaults)'`);
    await q.query(`
      CREATE TABLE attribution_paths (
        workspace_id   uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        profile_id     uuid NOT NULL,
        conversion     text NOT NULL,
        anchor_at      timestamptz NOT NULL,
        conversion_id  text NOT NULL,
        day            date NOT NULL,
        revenue        double precision NOT NULL,
        half_life_days double precision NOT NULL,
        touches        jsonb NOT NULL,
        PRIMARY KEY (workspace_id, profile_id, conversion, anchor_at, conversion_id)
      )`);
    await q.query(`COMMENT ON COLUMN attribution_paths.anchor_at IS 'the conversion''s time (converting path) or the last touch''s (non-converting path)'`);
    await q.query(`COMMENT ON COLUMN attribution_paths.conversion_id IS 'the converting event''s message id; empty for a non-converting path'`);
    await q.query(`COMMENT ON COLUMN attribution_paths.half_life_days IS 'the TIME_DECAY half-life its credit was written with (so that removing it takes back exactly that)'`);
    await q.query(`COMMENT ON COLUMN attribution_paths.touches IS '[[ms, channel, touchpoint, campaign], …] oldest first, at most 200'`);
    await q.query(`
      CREATE TABLE attribution_pending (
        workspace_id  uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        profile_id    uuid NOT NULL,
        since         timestamptz NOT NULL,
        PRIMARY KEY (workspace_id, profile_id)
      )`);
    await q.query(`COMMENT ON TABLE attribution_pending IS 'per person, the earliest touch that may still end a run no path has decided yet: the next re-derivation starts there'`);
    await q.query(`
      CREATE TABLE attribution_credits (
        workspace_id  uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        conversion    text NOT NULL,
        dimension     smallint NOT NULL,
        model         smallint NOT NULL,
        day           date NOT NULL,
        value         text NOT NULL,
        conversions   double precision NOT NULL,
        revenue       double precision NOT NULL,
        PRIMARY KEY (workspace_id, conversion, dimension, model, day, value)
      )`);
    await q.query(`COMMENT ON TABLE attribution_credits IS 'rule-based models: credited conversions and revenue per value and day of conversion (kept through erasure)'`);
    await q.query(`
      CREATE TABLE attribution_sets (
        workspace_id  uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        conversion    text NOT NULL,
        dimension     smallint NOT NULL,
        day           date NOT NULL,
        value_set     text NOT NULL,
        paths         bigint NOT NULL,
        conversions   bigint NOT NULL,
        revenue       double precision NOT NULL,
        PRIMARY KEY (workspace_id, conversion, dimension, day, value_set)
      )`);
    await q.query(`COMMENT ON TABLE attribution_sets IS 'Shapley: paths (converting and not) per value set (JSON array, sorted) and day of their anchor (kept through erasure)'`);
    await q.query(`
      CREATE TABLE marketing_costs (
        workspace_id  uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        dimension     smallint NOT NULL,
        value         text NOT NULL,
        day           date NOT NULL,
        amount        double precision NOT NULL,
        PRIMARY KEY (workspace_id, dimension, value, day)
      )`);

    // BI: the rule-based models' daily credit and the costs, for the read-only reporting role.
    await q.query(`
      CREATE VIEW reporting.daily_attribution AS
      SELECT c.workspace_id, c.conversion, (ARRAY['CHANNEL', 'TOUCHPOINT', 'CAMPAIGN'])[c.dimension + 1] AS dimension,
             (ARRAY['FIRST_TOUCH', 'LAST_TOUCH', 'LINEAR', 'TIME_DECAY', 'POSITION_BASED'])[c.model + 1] AS model,
             c.day, c.value, c.conversions AS credited_conversions, c.revenue AS credited_revenue
      FROM attribution_credits c`);
    await q.query(`
      CREATE VIEW reporting.daily_marketing_costs AS
      SELECT m.workspace_id, (ARRAY['CHANNEL', 'TOUCHPOINT', 'CAMPAIGN'])[m.dimension + 1] AS dimension, m.value, m.day, m.amount
      FROM marketing_costs m`);
    await q.query(`GRANT SELECT ON reporting.daily_attribution, reporting.daily_marketing_costs TO siyu_reporting`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP VIEW reporting.daily_marketing_costs`);
    await q.query(`DROP VIEW reporting.daily_attribution`);
    for (const t of ['marketing_costs', 'attribution_sets', 'attribution_credits', 'attribution_pending', 'attribution_paths', 'attribution_settings']) await q.query(`DROP TABLE ${t}`);
    await q.query(`DELETE FROM due_work WHERE projection = 'attribution'`);
  }
}
