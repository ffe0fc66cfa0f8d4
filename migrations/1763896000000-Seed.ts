import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `siyu recompute` progress: per workspace and read model (kpis, stages, health, tags), the `seq`
 * of the last live profile rebuilt, so an interrupted rebuild resumes where it stopped. A row lives
 * only while a rebuild of that part is unfinished.
 */
export class Seed1763896000000 implements MigrationInterface {
  name = 'Seed1763896000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE recompute_state (
        workspace_id  uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        part          text NOT NULL CHECK (part IN ('kpis', 'stages', 'health', 'tags')),
        cursor_seq    bigint NOT NULL DEFAULT 0,
        profiles_done integer NOT NULL DEFAULT 0,
        started_at    timestamptz NOT NULL DEFAULT now(),
        updated_at    timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (workspace_id, part)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE recompute_state`);
  }
}
