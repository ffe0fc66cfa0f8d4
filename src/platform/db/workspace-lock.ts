import type { EntityManager } from 'typeorm';

/**
 * Key namespace of the workspace write lock: the seed with which the workspace id is hashed into
 * the 64-bit advisory lock key (see `KEY`). Changing it would let old and new instances write one
 * workspace at the same time during a rolling deploy.
 */
export const WORKSPACE_WRITE_LOCK_NAMESPACE = 7;

const KEY = `hashtextextended($1, ${WORKSPACE_WRITE_LOCK_NAMESPACE})`;

/**
 * The workspace write lock ("the ingest lock"), held until the caller's transaction ends. It
 * serialises, per workspace, everything that changes profiles and what is derived from them:
 * ingest batches (identity resolution, aggregates, stages, health, tags, journeys), the periodic
 * sweeps (tags, stages, health, journeys, retention), `siyu recompute` chunks, and settings or
 * definition changes (stage model, health settings, tags, segments, journeys), consent changes and
 * erasures: a reader of one workspace's rows under this lock sees no half-written batch.
 */
export async function lockWorkspaceWrites(em: EntityManager, workspaceId: string): Promise<void> {
  await em.query(`SELECT pg_advisory_xact_lock(${KEY})`, [workspaceId]);
}

/** `lockWorkspaceWrites` without waiting: false when another transaction holds it (sweeps skip). */
export async function tryLockWorkspaceWrites(em: EntityManager, workspaceId: string): Promise<boolean> {
  const [{ ok }] = await em.query(`SELECT pg_try_advisory_xact_lock(${KEY}) AS ok`, [workspaceId]);
  return ok;
}

/** Serialises workspace bootstrap across instances starting at once (a lock of its own). */
export async function lockWorkspaceBootstrap(em: EntityManager): Promise<void> {
  await em.query(`SELECT pg_advisory_xact_lock(hashtext('siyu.bootstrap'))`);
}
