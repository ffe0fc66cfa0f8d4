import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Every sender of a referral relation (invited, referred, shared_to to someone else) gets a
 * `kpi_person_refs` row, pending (no acquisition: nothing in the day sets) where they had none.
 * Ingest then learns from the rows alone who sent relations (src/modules/kpis/kpi.refs.ts) instead
 * of probing `relations` by sender, which the planner turned into a sequential scan per person once
 * one account sent most invitations of a workspace.
 */
export class KpiPendingReferrers1765100000000 implements MigrationInterface {
  name = 'KpiPendingReferrers1765100000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      INSERT INTO kpi_person_refs (workspace_id, profile_id, state)
      SELECT DISTINCT r.workspace_id, r.from_profile_id, '{"o": -1, "d": "", "m": [], "ref": false, "inv": false, "by": [], "rd": []}'::jsonb
      FROM relations r
      WHERE r.kind IN ('invited', 'referred', 'shared_to') AND r.from_profile_id IS NOT NULL AND r.from_profile_id <> r.to_profile_id
      ON CONFLICT (workspace_id, profile_id) DO NOTHING`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DELETE FROM kpi_person_refs WHERE (state ->> 'o')::int = -1`);
  }
}
