import type { EntityManager } from 'typeorm';

/**
 * The `due_work` table: when time alone next changes a projection's state of a person. Projections
 * schedule their people's next moment as they write them; the due scheduler takes what has come.
 */
export class DueWork {
  /** Sets (or clears, with `at: null`) the next due moment of each person for a projection. */
  async schedule(em: EntityManager, ws: string, projection: string, rows: { profileId: string; at: Date | null }[]): Promise<void> {
    if (!rows.length) return;
    const set = rows.filter((r) => r.at !== null);
    const clear = rows.filter((r) => r.at === null).map((r) => r.profileId);
    if (clear.length) await em.query(`DELETE FROM due_work WHERE workspace_id = $1 AND projection = $2 AND profile_id = ANY($3::uuid[])`, [ws, projection, clear]);
    if (set.length) {
      await em.query(
        `INSERT INTO due_work (workspace_id, projection, profile_id, due_at)
         SELECT $1, $2, u.p, u.at FROM unnest($3::uuid[], $4::timestamptz[]) AS u(p, at)
         ON CONFLICT (workspace_id, projection, profile_id) DO UPDATE SET due_at = EXCLUDED.due_at`,
        [ws, projection, set.map((r) => r.profileId), set.map((r) => r.at!.toISOString())],
      );
    }
  }

  /** Workspaces with work due by `now` (any projection), oldest first. */
  async dueWorkspaces(em: EntityManager, now: Date, limit: number): Promise<string[]> {
    const rows: { workspace_id: string }[] = await em.query(
      `SELECT workspace_id FROM (SELECT workspace_id, min(due_at) AS d FROM due_work WHERE due_at <= $1 GROUP BY workspace_id) w ORDER BY d LIMIT $2`,
      [now.toISOString(), limit],
    );
    return rows.map((r) => r.workspace_id);
  }

  /** Takes (deletes and returns) up to `limit` people of a projection whose moment has come. */
  async take(em: EntityManager, ws: string, projection: string, now: Date, limit: number): Promise<string[]> {
    const rows: { profile_id: string }[] = await em.query(
      // A CTE so that the driver answers rows (a bare DELETE … RETURNING answers [rows, count]).
      `WITH taken AS (
         DELETE FROM due_work d USING (
           SELECT profile_id FROM due_work WHERE workspace_id = $1 AND projection = $2 AND due_at <= $3 ORDER BY due_at LIMIT $4
         ) x WHERE d.workspace_id = $1 AND d.projection = $2 AND d.profile_id = x.profile_id
         RETURNING d.profile_id)
       SELECT profile_id FROM taken`,
      [ws, projection, now.toISOString(), limit],
    );
    return rows.map((r) => r.profile_id);
  }

  /** A merged-away person's due work goes with them: the survivor's is rescheduled by the batch. */
  async forget(em: EntityManager, ws: string, profileIds: string[]): Promise<void> {
    if (profileIds.length) await em.query(`DELETE FROM due_work WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[])`, [ws, profileIds]);
  }
}
