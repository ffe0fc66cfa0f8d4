import type { TestApp } from './app';

/** Rows of a workspace (or of every workspace) in the tables ingest writes to. */
export async function countRows(t: TestApp, workspaceId?: string): Promise<{ events: number; profiles: number; identifiers: number }> {
  const where = workspaceId ? 'WHERE workspace_id = $1' : '';
  const params = workspaceId ? [workspaceId] : [];
  const [r] = await t.app.db.dataSource.query(
    `SELECT (SELECT count(*) FROM events ${where})::int AS events,
            (SELECT count(*) FROM profiles ${where})::int AS profiles,
            (SELECT count(*) FROM identifiers ${where})::int AS identifiers`,
    params,
  );
  return r;
}
