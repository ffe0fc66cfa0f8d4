import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `recompute_state.part` names a projection with a rebuild phase. The list of those is derived from
 * the module manifests at start-up (`ProjectionPhases.rebuildParts`), and `RecomputeService`
 * refuses any other name; a CHECK listing them here would be a second list to keep in step.
 */
export class RecomputePartsFromManifests1764000000000 implements MigrationInterface {
  name = 'RecomputePartsFromManifests1764000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE recompute_state DROP CONSTRAINT IF EXISTS recompute_state_part_check`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE recompute_state ADD CONSTRAINT recompute_state_part_check CHECK (part IN ('kpis', 'stages', 'health', 'tags'))`);
  }
}
