import type { EntityManager } from 'typeorm';

/** Advisory-lock namespace of a workspace's writes (ingest batches, sweeps, recompute chunks). */
export const WORKSPACE_WRITE_LOCK = 7;

/** Takes the workspace's write lock for the rest of the transaction, waiting for it. */
export async function lockWorkspaceWrites(em: EntityManager, workspaceId: string): Promise<void> {
  await em.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, ${WORKSPACE_WRITE_LOCK}))`, [workspaceId]);
}

/** Takes the workspace's write lock for the rest of the transaction if it is free; false when busy. */
export async function tryLockWorkspaceWrites(em: EntityManager, workspaceId: string): Promise<boolean> {
  const [{ ok }] = await em.query(`SELECT pg_try_advisory_xact_lock(hashtextextended($1, ${WORKSPACE_WRITE_LOCK})) AS ok`, [workspaceId]);
  return ok;
}
