import type { EntityManager } from 'typeorm';
import { ApiKeyEntity } from './api-key.entity';
import { WorkspaceEntity } from './workspace.entity';
import type { Role } from '../../platform/auth';
import { lockWorkspaceBootstrap } from '../../platform/db/workspace-lock';

/** All SQL of the workspaces module. Methods take the manager so they compose in transactions. */
export class WorkspaceRepository {
  findWorkspace(em: EntityManager, id: string): Promise<WorkspaceEntity | null> {
    return em.findOneBy(WorkspaceEntity, { id });
  }

  async anyWorkspaceExists(em: EntityManager): Promise<boolean> {
    const rows: unknown[] = await em.query('SELECT 1 FROM workspaces LIMIT 1');
    return rows.length > 0;
  }

  insertWorkspace(em: EntityManager, name: string, timeZone: string): Promise<WorkspaceEntity> {
    return em.save(em.create(WorkspaceEntity, { name, timeZone, settings: {} }));
  }

  async updateWorkspace(
    em: EntityManager,
    id: string,
    patch: { name?: string; timeZone?: string; settings?: Record<string, unknown> },
  ): Promise<WorkspaceEntity | null> {
    const ws = await em.findOneBy(WorkspaceEntity, { id });
    if (!ws) return null;
    if (patch.name !== undefined) ws.name = patch.name;
    if (patch.timeZone !== undefined) ws.timeZone = patch.timeZone;
    if (patch.settings) ws.settings = { ...(ws.settings ?? {}), ...patch.settings };
    return em.save(ws);
  }

  insertApiKey(
    em: EntityManager,
    k: { workspaceId: string; name: string; role: Role; pii: boolean; keyHash: string; keyPrefix: string },
  ): Promise<ApiKeyEntity> {
    return em.save(em.create(ApiKeyEntity, { ...k, revokedAt: null }));
  }

  /** The active key with this hash, with its workspace's existence checked in the same query. */
  async findActiveKeyByHash(em: EntityManager, keyHash: string): Promise<ApiKeyEntity | null> {
    return em
      .createQueryBuilder(ApiKeyEntity, 'k')
      .where('k.key_hash = :keyHash AND k.revoked_at IS NULL', { keyHash })
      .getOne();
  }

  findApiKey(em: EntityManager, workspaceId: string, id: string): Promise<ApiKeyEntity | null> {
    return em.findOneBy(ApiKeyEntity, { workspaceId, id });
  }

  listApiKeys(em: EntityManager, workspaceId: string): Promise<ApiKeyEntity[]> {
    return em.find(ApiKeyEntity, { where: { workspaceId }, order: { createdAt: 'ASC' } });
  }

  async countActiveAdminKeys(em: EntityManager, workspaceId: string): Promise<number> {
    const [row] = await em.query(
      `SELECT count(*)::int AS n FROM api_keys WHERE workspace_id = $1 AND role = 'admin' AND revoked_at IS NULL`,
      [workspaceId],
    );
    return row.n;
  }

  async revokeApiKey(em: EntityManager, workspaceId: string, id: string): Promise<void> {
    await em.query(`UPDATE api_keys SET revoked_at = now() WHERE workspace_id = $1 AND id = $2`, [workspaceId, id]);
  }

  /** Serialises workspace bootstrap across instances starting at once. */
  async lockBootstrap(em: EntityManager): Promise<void> {
    await lockWorkspaceBootstrap(em);
  }

  /** Serialises key changes within one workspace (last-admin check). */
  async lockWorkspace(em: EntityManager, workspaceId: string): Promise<void> {
    await em.query(`SELECT id FROM workspaces WHERE id = $1 FOR UPDATE`, [workspaceId]);
  }
}
