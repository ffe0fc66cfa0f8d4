import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `due_work`: per workspace, projection and person, the next moment time alone can change that
 * projection's state of the person (a window rule's event leaving its window, a day boundary of a
 * `*_days` rule, an inactivity threshold, a journey step's deadline). The due scheduler takes the
 * rows whose moment has come, on any instance, under the workspace's write lock.
 */
export class DueWork1764050000000 implements MigrationInterface {
  name = 'DueWork1764050000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE due_work (
        workspace_id uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        projection   text NOT NULL,
        profile_id   uuid NOT NULL,
        due_at       timestamptz NOT NULL,
        PRIMARY KEY (workspace_id, projection, profile_id)
      )`);
    await q.query(`CREATE INDEX due_work_due_idx ON due_work (due_at)`);
    await q.query(`CREATE INDEX due_work_workspace_due_idx ON due_work (workspace_id, projection, due_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE due_work`);
  }
}
