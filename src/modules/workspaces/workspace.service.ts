import type { DataSource, EntityManager } from 'typeorm';
import { AppError, ErrorClass } from '../../platform/errors';
import { Role, displayPrefix, generateApiKey, hashApiKey, type AuthInfo } from '../../platform/auth';
import { Topics, type SiyuPubSub } from '../../platform/pubsub';
import type { Logger } from '../../platform/logging';
import type { ApiKeyEntity } from './api-key.entity';
import type { WorkspaceEntity } from './workspace.entity';
import { WorkspaceRepository } from './workspace.repository';
import { WorkspaceErrorCode } from './workspace.errors';
import { MIN_LIVE_INTERVAL_MS } from '../../platform/live';
import { MAX_LIVE_INTERVAL_MS, liveIntervalOf, localeOf, type WorkspaceLocaleKey } from './workspace.settings';
import { AuditService, type AuditActor } from '../compliance';

export const DEFAULT_TIME_ZONE = 'Asia/Shanghai';

/** How long a resolved key is trusted before it is looked up again (revocation delay on other instances). */
const AUTH_CACHE_TTL_MS = 5_000;
const AUTH_CACHE_MAX = 10_000;

export interface BootstrapResult {
  /** True when this start created the `default` workspace. */
  created: boolean;
  workspaceId?: string;
  /** A generated admin key (embedded default without SIYU_BOOTSTRAP_ADMIN_KEY): print once. */
  generatedKey?: string;
}

export class WorkspaceService {
  private readonly repo = new WorkspaceRepository();
  private readonly authCache = new Map<string, { auth: AuthInfo | null; until: number }>();
  private readonly audit: AuditService;
  constructor(
    private readonly ds: DataSource,
    private readonly pubSub: SiyuPubSub,
    private readonly log: Logger,
    /** Run in the creating transaction of every new workspace: other modules set up their defaults (the default segments). */
    private readonly onCreated: (em: EntityManager, workspaceId: string) => Promise<void>,
  ) {
    this.audit = new AuditService(ds);
  }

  /** Resolves an API key secret to the caller, or null when unknown or revoked. */
  async authenticate(key: string): Promise<AuthInfo | null> {
    const keyHash = hashApiKey(key);
    const now = Date.now();
    const cached = this.authCache.get(keyHash);
    if (cached && cached.until > now) return cached.auth;
    const k = await this.repo.findActiveKeyByHash(this.ds.manager, keyHash);
    const auth = k ? toAuth(k) : null;
    if (this.authCache.size >= AUTH_CACHE_MAX) this.authCache.clear();
    this.authCache.set(keyHash, { auth, until: now + AUTH_CACHE_TTL_MS });
    return auth;
  }

  async getWorkspace(id: string): Promise<WorkspaceEntity> {
    const ws = await this.repo.findWorkspace(this.ds.manager, id);
    if (!ws) throw AppError.notFound(WorkspaceErrorCode.WORKSPACE_NOT_FOUND, `Workspace ${id} does not exist.`);
    return ws;
  }

  /** The workspace's coalescing interval for live updates (ms). */
  async liveInterval(workspaceId: string): Promise<number> {
    return liveIntervalOf((await this.getWorkspace(workspaceId)).settings);
  }

  async createWorkspace(
    name: string,
    timeZone: string | undefined,
  ): Promise<{ workspace: WorkspaceEntity; apiKey: ApiKeyEntity; key: string }> {
    return this.ds.transaction(async (em) => {
      const workspace = await this.repo.insertWorkspace(em, name.trim(), timeZone ?? DEFAULT_TIME_ZONE);
      await this.onCreated(em, workspace.id);
      const key = generateApiKey();
      const apiKey = await this.insertKey(em, workspace.id, Role.ADMIN, 'first admin key', false, key);
      this.log.info({ workspaceId: workspace.id }, 'workspace created');
      return { workspace, apiKey, key };
    });
  }

  async updateWorkspace(workspaceId: string, patch: { name?: string; timeZone?: string; liveUpdateIntervalMs?: number | null; locale?: WorkspaceLocaleKey | null }): Promise<WorkspaceEntity> {
    const interval = patch.liveUpdateIntervalMs;
    if (interval !== undefined && interval !== null && !(Number.isInteger(interval) && interval >= MIN_LIVE_INTERVAL_MS && interval <= MAX_LIVE_INTERVAL_MS)) {
      throw AppError.badInput(WorkspaceErrorCode.INVALID_LIVE_INTERVAL, 'input.liveUpdateIntervalMs', `liveUpdateIntervalMs must be an integer from ${MIN_LIVE_INTERVAL_MS} to ${MAX_LIVE_INTERVAL_MS}`);
    }
    if (patch.name !== undefined && patch.name.trim() === '') {
      throw AppError.badInput(WorkspaceErrorCode.INVALID_NAME, 'input.name', 'name must not be blank');
    }
    if (patch.locale !== undefined && patch.locale !== null && localeOf({ locale: patch.locale }) !== patch.locale) {
      throw AppError.badInput(WorkspaceErrorCode.INVALID_LOCALE, 'input.locale', 'locale must be ZH_CN or EN');
    }
    const settings = {
      ...(interval !== undefined && interval !== null ? { liveUpdateIntervalMs: interval } : {}),
      ...(patch.locale ? { locale: patch.locale } : {}),
    };
    const ws = await this.repo.updateWorkspace(this.ds.manager, workspaceId, {
      name: patch.name?.trim(),
      timeZone: patch.timeZone,
      settings: Object.keys(settings).length ? settings : undefined,
    });
    if (!ws) throw AppError.notFound(WorkspaceErrorCode.WORKSPACE_NOT_FOUND, `Workspace ${workspaceId} does not exist.`);
    this.pubSub.publish(Topics.workspaceUpdated(workspaceId), { workspaceId });
    return ws;
  }

  /** A key for `actor`'s workspace, audited as `api_key.create`. */
  async createApiKey(
    actor: AuditActor,
    input: { role: Role; name: string; pii?: boolean },
  ): Promise<{ apiKey: ApiKeyEntity; key: string }> {
    const workspaceId = actor.workspaceId;
    // Only READ keys carry the pii flag; ADMIN always sees personal data, INGEST/ANALYST never:
    // asking for personal data on a key that can never have it is refused, not silently dropped.
    if (input.pii === true && (input.role === Role.INGEST || input.role === Role.ANALYST)) {
      throw AppError.badInput(WorkspaceErrorCode.PII_NOT_ALLOWED, 'input.pii', `a ${input.role.toUpperCase()} key never sees personal data: pii must be false (only READ keys carry the flag; ADMIN keys always see it)`);
    }
    const key = generateApiKey();
    const pii = input.role === Role.ADMIN || (input.role === Role.READ && input.pii === true);
    const apiKey = await this.ds.transaction(async (em) => {
      const k = await this.insertKey(em, workspaceId, input.role, input.name.trim(), pii, key);
      await this.audit.record(em, actor, { action: 'api_key.create', targetType: 'api_key', targetId: k.id, details: { role: k.role, pii: k.pii, name: k.name } });
      return k;
    });
    this.log.info({ workspaceId, apiKeyId: apiKey.id, role: apiKey.role }, 'api key created');
    return { apiKey, key };
  }

  listApiKeys(workspaceId: string): Promise<ApiKeyEntity[]> {
    return this.repo.listApiKeys(this.ds.manager, workspaceId);
  }

  async revokeApiKey(actor: AuditActor, id: string): Promise<ApiKeyEntity> {
    const workspaceId = actor.workspaceId;
    const revoked = await this.ds.transaction(async (em) => {
      await this.repo.lockWorkspace(em, workspaceId);
      const k = await this.repo.findApiKey(em, workspaceId, id);
      if (!k) throw AppError.notFound(WorkspaceErrorCode.API_KEY_NOT_FOUND, `API key ${id} does not exist in this workspace.`);
      if (k.revokedAt) {
        throw AppError.conflict(WorkspaceErrorCode.API_KEY_ALREADY_REVOKED, `API key ${id} is already revoked.`);
      }
      if (k.role === Role.ADMIN && (await this.repo.countActiveAdminKeys(em, workspaceId)) <= 1) {
        throw AppError.conflict(
          WorkspaceErrorCode.LAST_ADMIN_KEY,
          'This is the last active ADMIN key of the workspace; create another ADMIN key first.',
        );
      }
      await this.repo.revokeApiKey(em, workspaceId, id);
      await this.audit.record(em, actor, { action: 'api_key.revoke', targetType: 'api_key', targetId: id, details: { role: k.role } });
      return (await this.repo.findApiKey(em, workspaceId, id))!;
    });
    this.authCache.delete(revoked.keyHash);
    this.log.info({ workspaceId, apiKeyId: id }, 'api key revoked');
    return revoked;
  }

  /**
   * On an empty database, creates workspace `default` with an ADMIN key: the configured bootstrap
   * key, or (when `generate` is set, i.e. the embedded default) a fresh one returned for printing once.
   */
  async bootstrap(configuredKey: string | undefined, generate: boolean): Promise<BootstrapResult> {
    return this.ds.transaction(async (em) => {
      await this.repo.lockBootstrap(em);
      if (await this.repo.anyWorkspaceExists(em)) return { created: false };
      if (!configuredKey && !generate) return { created: false };
      const key = configuredKey ?? generateApiKey();
      const ws = await this.repo.insertWorkspace(em, 'default', DEFAULT_TIME_ZONE);
      await this.onCreated(em, ws.id);
      await this.insertKey(em, ws.id, Role.ADMIN, 'bootstrap admin key', true, key);
      return { created: true, workspaceId: ws.id, generatedKey: configuredKey ? undefined : key };
    });
  }

  private async insertKey(
    em: EntityManager,
    workspaceId: string,
    role: Role,
    name: string,
    pii: boolean,
    key: string,
  ): Promise<ApiKeyEntity> {
    if (!name) throw new AppError(ErrorClass.BAD_USER_INPUT, 'INVALID_NAME', 'name must not be blank', [{ field: 'input.name', message: 'must not be blank' }]);
    return this.repo.insertApiKey(em, {
      workspaceId,
      name,
      role,
      pii,
      keyHash: hashApiKey(key),
      keyPrefix: displayPrefix(key),
    });
  }
}

function toAuth(k: ApiKeyEntity): AuthInfo {
  return Object.freeze({
    workspaceId: k.workspaceId,
    apiKeyId: k.id,
    role: k.role,
    pii: k.role === Role.ADMIN || (k.role === Role.READ && k.pii),
  });
}
