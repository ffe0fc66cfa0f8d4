import type { DataSource, EntityManager } from 'typeorm';
import { AppError } from '../../platform/errors';
import type { Logger } from '../../platform/logging';
import { IdentityErrorCode } from './identity.errors';
import { IdentityRepository } from './identity.repository';
import { DEFAULT_IDENTITY_RULES, IdentityRules, type IdentityRulesDocument } from './identity-rules';
import type { PiiCipher } from './pii-cipher';
import { UnmergeRepository, type MergeRow } from './unmerge.repository';
// Types only: compliance imports identities (its PII helpers), so the audit log is passed in.
import type { AuditActor, AuditService } from '../compliance';

const RULES_TTL_MS = 5_000;

/** What follows an unmerge: read models re-derive both people in its transaction; subscribers are told after commit. */
export interface UnmergeFollowers {
  /** In the unmerge's transaction; returns the effects to run after commit. */
  refresh(em: EntityManager, workspaceId: string, profileIds: string[]): Promise<(() => void)[]>;
  /** After commit, with both profiles. */
  committed(workspaceId: string, profileIds: string[]): void;
}

/** Identity rules, the PII cipher, and undoing merges. Resolution itself runs inside ingest. */
export class IdentityService {
  private readonly repo = new IdentityRepository();
  private readonly unmerges = new UnmergeRepository();
  private readonly rulesCache = new Map<string, { rules: IdentityRules; until: number }>();

  constructor(
    private readonly ds: DataSource,
    readonly cipher: PiiCipher,
    private readonly log: Logger,
    /** Who re-derives both people of an unmerge (every read model's `refresh`) and is told after commit. */
    private readonly followers: UnmergeFollowers,
    /** The audit log, written in the same transaction as a rules change. */
    private readonly audit: AuditService,
  ) {}

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
  async unmerge(workspaceId: string, mergeId: string): Promise<{ merge: MergeRow; survivorId: string; restoredId: string }> {
    const result = await this.ds.transaction(async (em) => {
      await this.repo.lockWorkspace(em, workspaceId);
      const m = await this.unmerges.lockMerge(em, workspaceId, mergeId);
      if (!m) throw AppError.notFound(IdentityErrorCode.MERGE_NOT_FOUND, `Merge ${mergeId} does not exist in this workspace.`);
      if (m.undone_at) throw AppError.conflict(IdentityErrorCode.MERGE_ALREADY_UNDONE, `Merge ${mergeId} was already undone.`);
      const live = await this.unmerges.liveId(em, workspaceId, m.survivor_id);
      const absorbed = await this.unmerges.absorbed(em, workspaceId, m);
      await this.unmerges.restore(em, workspaceId, m, live, absorbed);
      await this.unmerges.recomputeAggregates(em, workspaceId, [live, m.merged_id]);
      const afterCommit = await this.followers.refresh(em, workspaceId, [live, m.merged_id]);
      this.log.info({ workspaceId, mergeId, survivorId: live, restoredId: m.merged_id }, 'merge undone');
      return { merge: { ...m, undone_at: new Date() }, survivorId: live, restoredId: m.merged_id, afterCommit };
    });
    this.followers.committed(workspaceId, [result.survivorId, result.restoredId]);
    for (const f of result.afterCommit) f();
    return { merge: result.merge, survivorId: result.survivorId, restoredId: result.restoredId };
  }

  /** Lets two profiles that were unmerged be merged automatically again. */
  async clearExclusion(workspaceId: string, mergeId: string): Promise<void> {
    const n = await this.unmerges.deleteExclusion(this.ds.manager, workspaceId, mergeId);
    if (!n) throw AppError.notFound(IdentityErrorCode.EXCLUSION_NOT_FOUND, `No merge exclusion from merge ${mergeId}.`);
  }
}
