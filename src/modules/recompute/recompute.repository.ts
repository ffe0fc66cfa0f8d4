import type { EntityManager } from 'typeorm';
import { lockWorkspaceWrites } from '../../platform/db/workspace-lock';

export interface RecomputeStateRow {
  part: string;
  cursor_seq: string;
  profiles_done: number;
  started_at: Date;
  updated_at: Date;
}

/** SQL of `siyu recompute`: live profiles in `seq` order, and the saved cursor per part. */
export class RecomputeRepository {
  async countLive(em: EntityManager, ws: string): Promise<number> {
    const [r] = await em.query(`SELECT count(*)::int AS n FROM profiles WHERE workspace_id = $1 AND merged_into IS NULL`, [ws]);
    return r.n;
  }

  async countLiveUpTo(em: EntityManager, ws: string, seq: string): Promise<number> {
    const [r] = await em.query(`SELECT count(*)::int AS n FROM profiles WHERE workspace_id = $1 AND merged_into IS NULL AND seq <= $2::bigint`, [ws, seq]);
    return r.n;
  }

  /** The next `limit` live profiles after `seq`, in `seq` order. */
  async liveAfter(em: EntityManager, ws: string, seq: string, limit: number): Promise<{ ids: string[]; lastSeq: string | null }> {
    const rows: { id: string; seq_text: string }[] = await em.query(
      // Ordered by the bigint column, not by its text form in the output.
      `SELECT p.id, p.seq::text AS seq_text FROM profiles p WHERE p.workspace_id = $1 AND p.merged_into IS NULL AND p.seq > $2::bigint ORDER BY p.seq LIMIT $3`,
      [ws, seq, limit],
    );
    return { ids: rows.map((r) => r.id), lastSeq: rows.length ? rows[rows.length - 1].seq_text : null };
  }

  async states(em: EntityManager, ws: string): Promise<RecomputeStateRow[]> {
    return em.query(`SELECT part, cursor_seq::text AS cursor_seq, profiles_done, started_at, updated_at FROM recompute_state WHERE workspace_id = $1 ORDER BY part`, [ws]);
  }

  async state(em: EntityManager, ws: string, part: string): Promise<RecomputeStateRow | null> {
    const rows: RecomputeStateRow[] = await em.query(
      `SELECT part, cursor_seq::text AS cursor_seq, profiles_done, started_at, updated_at FROM recompute_state WHERE workspace_id = $1 AND part = $2`,
      [ws, part],
    );
    return rows[0] ?? null;
  }

  async save(em: EntityManager, ws: string, part: string, seq: string, done: number): Promise<void> {
    await em.query(
      `INSERT INTO recompute_state (workspace_id, part, cursor_seq, profiles_done) VALUES ($1, $2, $3::bigint, $4)
       ON CONFLICT (workspace_id, part) DO UPDATE SET cursor_seq = EXCLUDED.cursor_seq, profiles_done = EXCLUDED.profiles_done, updated_at = now()`,
      [ws, part, seq, done],
    );
  }

  async clear(em: EntityManager, ws: string, part: string): Promise<void> {
    await em.query(`DELETE FROM recompute_state WHERE workspace_id = $1 AND part = $2`, [ws, part]);
  }

  /** The workspace's write lock (the one ingest takes), for the caller's transaction. */
  async lock(em: EntityManager, ws: string): Promise<void> {
    await lockWorkspaceWrites(em, ws);
  }
}
