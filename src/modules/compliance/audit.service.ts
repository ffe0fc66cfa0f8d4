import os from 'node:os';
import type { DataSource, EntityManager } from 'typeorm';
import type { AuthInfo } from '../../platform/auth';
import { AppError } from '../../platform/errors';
import type { LoaderRegistry } from '../../platform/graphql/loaders';
import { ComplianceErrorCode } from './compliance.errors';
import { ComplianceRepository, type AuditRow } from './compliance.repository';
import { UUID } from '../../shared/uuid';

/**
 * Who did it, and in which workspace: the API key, its role and the request (GraphQL or HTTP), or
 * no key and role and `requestId` `cli:<OS user>` (the command line) or `system`.
 */
export interface AuditActor {
  workspaceId: string;
  apiKeyId: string | null;
  role: string | null;
  requestId: string | null;
}

/** The parts of a request context the audit needs. */
export interface AuditContext {
  auth: AuthInfo | null;
  requestId: string;
  loaders: LoaderRegistry;
}

export interface AuditEntry {
  /** Dotted verb, e.g. `profile.erase`, `api_key.create`, `tag.update` (README lists them). */
  action: string;
  targetType: string;
  targetId: string | null;
  /** Ids, names, counts and flags only: never personal data. */
  details?: Record<string, unknown>;
}

export interface AuditFilter {
  action?: string | null;
  targetId?: string | null;
  actorKeyId?: string | null;
  from?: Date | null;
  to?: Date | null;
}

export const actorOf = (ctx: { auth: AuthInfo | null; requestId: string }): AuditActor => {
  if (!ctx.auth) throw AppError.unauthenticated();
  return { workspaceId: ctx.auth.workspaceId, apiKeyId: ctx.auth.apiKeyId, role: ctx.auth.role, requestId: ctx.requestId };
};

/** The operator running `siyu` on this machine, acting on `workspaceId`. */
export const cliActor = (workspaceId: string): AuditActor => ({ workspaceId, apiKeyId: null, role: null, requestId: `cli:${os.userInfo().username}` });

/** Siyu itself, or a test or benchmark calling a service directly. */
export const systemActor = (workspaceId: string): AuditActor => ({ workspaceId, apiKeyId: null, role: null, requestId: 'system' });

/**
 * The audit log: who read personal data unmasked, exported or erased a person, changed a key or a
 * rule. The service that makes a change calls `record(em, actor, …)` in the change's transaction,
 * so the row commits with the change or not at all, whatever the entry point (GraphQL, HTTP, CLI).
 */
export class AuditService {
  private readonly repo = new ComplianceRepository();

  constructor(private readonly ds: DataSource) {}

  /** One audit row, written by `em`: the transaction of the audited change. */
  async record(em: EntityManager, actor: AuditActor, entry: AuditEntry): Promise<string> {
    const [id] = await this.repo.insertAudit(em, [this.row(actor, entry)]);
    return id;
  }

  /** An audited read (an export): nothing changes, so the row is a statement of its own. */
  read(actor: AuditActor, entry: AuditEntry): Promise<string> {
    return this.record(this.ds.manager, actor, entry);
  }

  /**
   * An unmasked read of a person's phone/e-mail: batched per operation (a list of 100 profiles
   * writes its 100 rows in one statement), one row per profile per operation.
   */
  async unmaskedRead(ctx: AuditContext, profileId: string): Promise<void> {
    const actor = actorOf(ctx);
    await ctx.loaders
      .get<string, boolean>('audit.unmaskedRead', async (ids) => {
        await this.repo.insertAudit(this.ds.manager, ids.map((id) => this.row(actor, { action: 'profile.read_unmasked', targetType: 'profile', targetId: id })));
        return ids.map(() => true);
      })
      .load(profileId);
  }

  async list(ws: string, filter: AuditFilter, first: number, after: string | null): Promise<{ rows: AuditRow[]; hasNext: boolean }> {
    if (!Number.isInteger(first) || first < 1 || first > 200) throw AppError.badInput(ComplianceErrorCode.INVALID_PAGE_SIZE, 'first', 'first must be between 1 and 200');
    if (filter.actorKeyId && !UUID.test(filter.actorKeyId)) throw AppError.badInput(ComplianceErrorCode.INVALID_AUDIT_FILTER, 'filter.actorKeyId', 'actorKeyId must be an API key id (UUID)');
    if (filter.from && filter.to && filter.from > filter.to) throw AppError.badInput(ComplianceErrorCode.INVALID_AUDIT_FILTER, 'filter.to', 'to must not be before from');
    let beforeId: string | null = null;
    if (after) {
      const m = /^a:(\d{1,19})$/.exec(Buffer.from(after, 'base64url').toString('utf8'));
      if (!m) throw AppError.badInput(ComplianceErrorCode.INVALID_CURSOR, 'after', 'after must be a cursor from auditLog.endCursor');
      beforeId = m[1];
    }
    const rows = await this.repo.listAudit(this.ds.manager, ws, { ...filter, beforeId, limit: first + 1 });
    return { rows: rows.slice(0, first), hasNext: rows.length > first };
  }

  private row(actor: AuditActor, e: AuditEntry) {
    return {
      workspaceId: actor.workspaceId,
      actorKeyId: actor.apiKeyId,
      actorRole: actor.role,
      action: e.action,
      targetType: e.targetType,
      targetId: e.targetId,
      details: e.details ?? {},
      requestId: actor.requestId,
    };
  }
}

export const auditCursor = (id: string): string => Buffer.from(`a:${id}`, 'utf8').toString('base64url');
