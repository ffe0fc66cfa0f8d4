import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Experiments (A/B tests and grey releases): definitions keyed by the events' `experiment_id`; one
 * row per exposed person and experiment (first variant, first exposure, contamination, click,
 * conversion and its value in the window), kept current on ingest; and per-variant counters carried
 * by deltas in the same transaction, so that results read one row per variant and contamination.
 * Revenue is in cents (bigint), its sum of squares in cents² (numeric: exact).
 */
export class Experiments1765400000000 implements MigrationInterface {
  name = 'Experiments1765400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE experiments (
        workspace_id            uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        key                     text NOT NULL CHECK (length(key) BETWEEN 1 AND 200),
        name                    text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
        variants                jsonb NOT NULL,
        rollout_percent         integer NOT NULL CHECK (rollout_percent BETWEEN 1 AND 100),
        click_event             text,
        conversion_event        text NOT NULL,
        conversion_window_days  integer NOT NULL CHECK (conversion_window_days BETWEEN 1 AND 90),
        auto_created            boolean NOT NULL DEFAULT false,
        created_at              timestamptz NOT NULL DEFAULT now(),
        updated_at              timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (workspace_id, key)
      )`);
    await q.query(`COMMENT ON COLUMN experiments.variants IS '[{key, name, weight, control}] in assignment order; exactly one control'`);
    await q.query(`COMMENT ON COLUMN experiments.auto_created IS 'created from Experiment Viewed events for an undefined key; new variants seen are appended until an admin changes it'`);
    await q.query(`
      CREATE TABLE experiment_exposures (
        workspace_id      uuid NOT NULL,
        experiment_key    text NOT NULL,
        profile_id        uuid NOT NULL,
        variant_key       text NOT NULL,
        first_exposed_at  timestamptz NOT NULL,
        contaminated      boolean NOT NULL DEFAULT false,
        clicked           boolean NOT NULL DEFAULT false,
        converted         boolean NOT NULL DEFAULT false,
        revenue_cents     bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (workspace_id, experiment_key, profile_id),
        FOREIGN KEY (workspace_id, experiment_key) REFERENCES experiments(workspace_id, key) ON DELETE CASCADE
      )`);
    await q.query(`CREATE INDEX experiment_exposures_profile_idx ON experiment_exposures (workspace_id, profile_id)`);
    await q.query(`
      CREATE TABLE experiment_variant_counts (
        workspace_id      uuid NOT NULL,
        experiment_key    text NOT NULL,
        variant_key       text NOT NULL,
        contaminated      boolean NOT NULL,
        exposed           bigint NOT NULL DEFAULT 0,
        clicked           bigint NOT NULL DEFAULT 0,
        converted         bigint NOT NULL DEFAULT 0,
        revenue_cents     bigint NOT NULL DEFAULT 0,
        revenue_sq_cents  numeric NOT NULL DEFAULT 0,
        PRIMARY KEY (workspace_id, experiment_key, variant_key, contaminated),
        FOREIGN KEY (workspace_id, experiment_key) REFERENCES experiments(workspace_id, key) ON DELETE CASCADE
      )`);
    await q.query(`COMMENT ON TABLE experiment_variant_counts IS 'people per experiment, first variant and contamination, with clicks, conversions and revenue sums: the sums of experiment_exposures kept by deltas (erased people stay counted)'`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of ['experiment_variant_counts', 'experiment_exposures', 'experiments']) await q.query(`DROP TABLE ${t}`);
  }
}
