import type { DataSource, EntityManager } from 'typeorm';
import { AppError } from '../../platform/errors';
import type { Logger } from '../../platform/logging';
import { IdentityErrorCode } from './identity.errors';
import { IdentityRepository } from './identity.repository';
import { DEFAULT_IDENTITY_RULES, IdentityRules, type IdentityRulesDocument } from './identity-rules';
import type { PiiCipher } from './pii-cipher';
import { UnmergeRepository, type MergeRow } from './unmerge.repository';
// The file, not the module's index: compliance imports identities (its PII helpers).
import { AuditService, type AuditActor } from '../compliance/audit.service';

const RULES_TTL_MS = 5_000;

/** Identity rules, the PII cipher, and undoing merges. Resolution itself runs inside ingest. */
export class IdentityService {
  private readonly repo = new IdentityRepository();
  private readonly unmerges = new UnmergeRepository();
  private readonly rulesCache = new Map<string, { rules: IdentityRules; until: number }>();
  private readonly audit: AuditService;
  /** Called in the unmerge transaction with both profiles (tags and segments are re-evaluated). */
  onUnmerged: (em: EntityManager, workspaceId: string, profileIds: string[]) => Promise<unknown[]> = async () => [];
  /** Called after an unmerge committed, with both profiles (live subscribers are told). */
  onUnmergeCommitted: (workspaceId: string, profileIds: string[]) => void = () => {};

  constructor(
    private readonly ds: DataSource,
    readonly cipher: PiiCipher,
    private readonly log: Logger,
  ) {
    this.audit = new AuditService(ds);
  }

  /** The workspace's rules (defaults until an admin changes them); cached for 5 s per instance. */
  async rules(workspaceId: string): Promise<IdentityRules> {
    const c = this.rulesCache.get(workspaceId);
    if (c && c.until > Date.now()) return c.rules;
    const doc = await this.repo.loadRules(this.ds.manager, workspaceId);
    const rules = doc ? new IdentityRules(doc) : new IdentityRules(DEFAULT_IDENTITY_RULES);
    this.rulesCache.set(workspaceId, { rules, until: Date.now() + RULES_TTL_MS });
    return rules;
  }

  async updateRules(actor: AuditActor, doc: IdentityRulesDocument): Promise<IdentityRules> {
    const workspaceId = actor.workspaceId;
    const rules = IdentityRules.validate(doc);
    await this.ds.transaction(async (em) => {
      await this.repo.saveRules(em, workspaceId, rules.doc);
      const details = { types: doc.types.length, blockedValues: doc.blockedValues.length, blockedPatterns: doc.blockedPatterns.length };
      await this.audit.record(em, actor, { action: 'identity_rules.update', targetType: 'workspace', targetId: workspaceId, details });
    });
    this.rulesCache.delete(workspaceId);
    this.log.info({ workspaceId }, 'identity rules changed');
    return rules;
  }

  /**
   * Undoes a merge: the merged profile gets back its identifiers and its events from before the
   * merge; the merging event and later ones go to the holder of their strongest identifier; the two
   * profiles are never merged automatically again until an admin clears the exclusion.
   */
  async unmerge(workspaceId: string, mergeId: string): Promise<{ merge: MergeRow; survivorId: string; restoredId: string; changes: unknown[] }> {
    const result = await this.ds.transaction(async (em) => {
      await this.repo.lockWorkspace(em, workspaceId);
      const m = await this.unmerges.lockMerge(em, workspaceId, mergeId);
      if (!m) throw AppError.notFound(IdentityErrorCode.MERGE_NOT_FOUND, `Merge ${mergeId} does not exist in this workspace.`);
      if (m.undone_at) throw AppError.conflict(IdentityErrorCode.MERGE_ALREADY_UNDONE, `Merge ${mergeId} was already undone.`);
      const live = await this.unmerges.liveId(em, workspaceId, m.survivor_id);
      const absorbed = await this.unmerges.absorbed(em, workspaceId, m);
      await this.unmerges.restore(em, workspaceId, m, live, absorbed);
      await this.unmerges.recomputeAggregates(em, workspaceId, [live, m.merged_id]);
      const changes = await this.onUnmerged(em, workspaceId, [live, m.merged_id]);
      this.log.info({ workspaceId, mergeId, survivorId: live, restoredId: m.merged_id }, 'merge undone');
      return { merge: { ...m, undone_at: new Date() }, survivorId: live, restoredId: m.merged_id, changes };
    });
    this.onUnmergeCommitted(workspaceId, [result.survivorId, result.restoredId]);
    return result;
  }

  /** Lets two profiles that were unmerged be merged automatically again. */
  async clearExclusion(workspaceId: string, mergeId: string): Promise<void> {
    const n = await this.unmerges.deleteExclusion(this.ds.manager, workspaceId, mergeId);
    if (!n) throw AppError.notFound(IdentityErrorCode.EXCLUSION_NOT_FOUND, `No merge exclusion from merge ${mergeId}.`);
  }
}
