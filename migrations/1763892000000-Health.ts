import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Health scores (健康度): per-profile scores with their components, and per-workspace settings. */
export class Health1763892000000 implements MigrationInterface {
  name = 'Health1763892000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE health_settings (
        workspace_id  uuid PRIMARY KEY REFERENCES workspaces(id) ON DELETE CASCADE,
        settings      jsonb NOT NULL,
        version       integer NOT NULL DEFAULT 1,
        updated_at    timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`COMMENT ON COLUMN health_settings.version IS 'incremented on every change; profile_health.settings_version says which settings a score used'`);
    await q.query(`
      CREATE TABLE profile_health (
        workspace_id      uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        profile_id        uuid NOT NULL,
        score             numeric(5,2) NOT NULL CHECK (score BETWEEN 0 AND 100),
        tier              text NOT NULL CHECK (tier IN ('healthy', 'stable', 'at_risk', 'dormant')),
        components        jsonb NOT NULL,
        settings_version  integer NOT NULL DEFAULT 0,
        computed_at       timestamptz NOT NULL,
        PRIMARY KEY (workspace_id, profile_id)
      )`);
    await q.query(`CREATE INDEX profile_health_computed_idx ON profile_health (workspace_id, computed_at)`);
    await q.query(`CREATE INDEX profile_health_tier_score_idx ON profile_health (workspace_id, tier, score)`);
    await q.query(`CREATE INDEX profile_health_score_idx ON profile_health (workspace_id, score)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE profile_health`);
    await q.query(`DROP TABLE health_settings`);
  }
}
