import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Experiment variants carried per variant (src/modules/kpis/kpi.variants.ts): the EXPERIMENT_VARIANT
 * breakdown and the experiment filter read per-variant member bitmaps and day totals instead of each
 * member's activity. Workspaces with exposures from before keep the activity path
 * (`kpi_rollup_state.variants_ready` false) until `siyu recompute --parts kpis`.
 */
export class KpiVariants1765600000000 implements MigrationInterface {
  name = 'KpiVariants1765600000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE kpi_variant_people (
        workspace_id    uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        profile_id      uuid NOT NULL,
        experiment_key  text NOT NULL,
        variant_key     text NOT NULL,
        ordinal         integer NOT NULL,
        PRIMARY KEY (workspace_id, profile_id, experiment_key)
      )`);
    await q.query(`COMMENT ON TABLE kpi_variant_people IS 'per person and experiment: the variant and ordinal the person counts under in the variant rollups (clean first exposure)'`);
    await q.query(`
      CREATE TABLE kpi_variant_person_days (
        workspace_id    uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        profile_id      uuid NOT NULL,
        experiment_key  text NOT NULL,
        day             date NOT NULL,
        variant_key     text NOT NULL,
        events          integer NOT NULL,
        interactions    integer NOT NULL,
        orders          integer NOT NULL,
        revenue         numeric(16,2) NOT NULL,
        nps_responses   integer NOT NULL,
        nps_promoters   integer NOT NULL,
        nps_detractors  integer NOT NULL,
        PRIMARY KEY (workspace_id, profile_id, experiment_key, day)
      )`);
    await q.query(`COMMENT ON TABLE kpi_variant_person_days IS 'what each variant member adds to kpi_variant_day_totals per local day (taken back when they leave the variant)'`);
    await q.query(`
      CREATE TABLE kpi_variant_day_totals (
        workspace_id    uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        experiment_key  text NOT NULL,
        variant_key     text NOT NULL,
        day             date NOT NULL,
        events          bigint NOT NULL DEFAULT 0,
        orders          bigint NOT NULL DEFAULT 0,
        revenue         numeric(18,2) NOT NULL DEFAULT 0,
        nps_responses   bigint NOT NULL DEFAULT 0,
        nps_promoters   bigint NOT NULL DEFAULT 0,
        nps_detractors  bigint NOT NULL DEFAULT 0,
        active          bigint NOT NULL DEFAULT 0,
        interacting     bigint NOT NULL DEFAULT 0,
        buyers          bigint NOT NULL DEFAULT 0,
        wau             bigint NOT NULL DEFAULT 0,
        mau             bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (workspace_id, experiment_key, variant_key, day)
      )`);
    await q.query(`COMMENT ON TABLE kpi_variant_day_totals IS 'per experiment, variant and local day: events, orders, revenue and NPS answers of the variant''s members (all their activity), how many of them were active, interacting and buying that day, and how many were active in the 7 and 30 days ending with it'`);
    await q.query(`
      CREATE TABLE kpi_variant_members (
        workspace_id    uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        experiment_key  text NOT NULL,
        variant_key     text NOT NULL,
        chunk           integer NOT NULL,
        bits            bit(4096) NOT NULL,
        PRIMARY KEY (workspace_id, experiment_key, variant_key, chunk)
      )`);
    await q.query(`COMMENT ON TABLE kpi_variant_members IS 'per experiment, variant and chunk of 4,096 person ordinals: the variant''s clean members as a bitmap'`);
    await q.query(`ALTER TABLE kpi_rollup_state ADD COLUMN variants_ready boolean NOT NULL DEFAULT true`);
    await q.query(`UPDATE kpi_rollup_state s SET variants_ready = false WHERE EXISTS (SELECT 1 FROM experiment_exposures x WHERE x.workspace_id = s.workspace_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE kpi_rollup_state DROP COLUMN variants_ready`);
    await q.query(`DROP TABLE kpi_variant_members`);
    await q.query(`DROP TABLE kpi_variant_day_totals`);
    await q.query(`DROP TABLE kpi_variant_person_days`);
    await q.query(`DROP TABLE kpi_variant_people`);
  }
}
