import type { EntityManager } from 'typeorm';
import type { BatchContext, IngestHook, SweepTask } from '../../platform/hooks';
import type { ModuleContext } from '../../platform/module';
import type { MembershipChange } from '../tags';
import { HealthRepository, type ProfileHealthRow } from './health.repository';
import { healthIndices, profileHealth, TIER_LABELS, type HealthIndicesValue, type HealthTierKey, type ProfileHealthValue } from './health.score';
import { applyPatch, withDefaults, type HealthSettings, type HealthSettingsPatch } from './health.settings';
import { AuditService, type AuditActor } from '../compliance';

/** Profiles recomputed per transaction when settings change. */
export const RECOMPUTE_CHUNK = 1000;
/** Chunks recomputed inside `updateSettings` itself; the sweep finishes larger workspaces. */
export const RECOMPUTE_CHUNKS_IN_MUTATION = 10;

export interface RecomputeStatus {
  settingsVersion: number;
  done: number;
  total: number;
}

export interface ProfileHealthRead {
  profileId: string;
  score: number;
  tier: HealthTierKey;
  components: ProfileHealthValue['components'];
  computedAt: Date;
}

/**
 * Health scores (健康度): per profile, kept current on ingest (an IngestHook in the batch's
 * transaction), decayed by a sweep task, with the tier as system tag `health:<tier>`; and the
 * workspace composite indices.
 */
export class HealthService {
  private readonly repo = new HealthRepository();
  private readonly audit: AuditService;

  constructor(protected readonly ctx: ModuleContext) {
    this.audit = new AuditService(ctx.ds);
    const hook: IngestHook = { name: 'health', afterBatch: (b) => this.afterBatch(b) };
    const task: SweepTask = { name: 'health', step: (ws, now, max) => this.sweepStep(ws, now, max) };
    ctx.addIngestHook(hook);
    ctx.addSweepTask(task);
  }

  async settings(ws: string, em: EntityManager = this.ctx.ds.manager): Promise<{ settings: HealthSettings; version: number }> {
    const r = await this.repo.settings(em, ws);
    return { settings: withDefaults(r.settings), version: r.version };
  }

  /**
   * Validates and stores new settings (all or nothing), then recomputes scores in chunks of
   * `RECOMPUTE_CHUNK` profiles, each in its own transaction, at most `RECOMPUTE_CHUNKS_IN_MUTATION`
   * chunks here; the sweep task recomputes what is left first (see `recomputeStatus`).
   */
  async updateSettings(actor: AuditActor, patch: HealthSettingsPatch): Promise<HealthSettings> {
    const ws = actor.workspaceId;
    const next = applyPatch((await this.settings(ws)).settings, patch);
    const version = await this.ctx.ds.transaction(async (em) => {
      await this.lock(em, ws);
      await this.audit.record(em, actor, { action: 'health_settings.update', targetType: 'workspace', targetId: ws, details: { changed: Object.keys(patch) } });
      return this.repo.saveSettings(em, ws, next);
    });
    let afterSeq = 0;
    for (let i = 0; i < RECOMPUTE_CHUNKS_IN_MUTATION; i++) {
      const { n, changes, last } = await this.ctx.ds.transaction(async (em) => {
        await this.lock(em, ws);
        const current = await this.settings(ws, em);
        // A later update superseded this one: it recomputes for itself.
        if (current.version !== version) return { n: 0, changes: [] as MembershipChange[], last: afterSeq };
        const chunk = await this.repo.staleChunk(em, ws, version, afterSeq, RECOMPUTE_CHUNK);
        const changes = await this.recompute(em, ws, chunk.map((c) => c.id), new Date(), current, 'health:settings');
        return { n: chunk.length, changes, last: chunk.at(-1)?.seq ?? afterSeq };
      });
      this.ctx.tags.publish(ws, changes);
      afterSeq = last;
      if (n < RECOMPUTE_CHUNK) break;
    }
    return next;
  }

  async recomputeStatus(ws: string): Promise<RecomputeStatus> {
    const { version } = await this.settings(ws);
    return { settingsVersion: version, ...(await this.repo.recomputeStatus(this.ctx.ds.manager, ws, version)) };
  }

  /**
   * One bounded sweep step: up to `maxProfiles` live profiles — those computed with older settings
   * (or never) first, then the oldest `computed_at` — are recomputed as of `now`, so scores decay as
   * time passes. Skipped (returns 0) while another writer holds the workspace's ingest lock.
   */
  async sweepStep(ws: string, now: Date, maxProfiles: number): Promise<number> {
    const r = await this.ctx.ds.transaction(async (em) => {
      const [{ ok }] = await em.query(`SELECT pg_try_advisory_xact_lock(hashtextextended($1, 7)) AS ok`, [ws]);
      if (!ok) return null;
      const s = await this.settings(ws, em);
      const ids = await this.repo.sweepCandidates(em, ws, s.version, maxProfiles);
      return { n: ids.length, changes: await this.recompute(em, ws, ids, now, s, 'health:sweep') };
    });
    if (!r) return 0;
    this.ctx.tags.publish(ws, r.changes);
    return r.n;
  }

  async healthOf(ws: string, ids: readonly string[]): Promise<(ProfileHealthRead | null)[]> {
    const rows = await this.repo.healthOf(this.ctx.ds.manager, ws, ids);
    const m = new Map(rows.map((r) => [r.profile_id, toRead(r)]));
    return ids.map((id) => m.get(id) ?? null);
  }

  async indices(ws: string, now = new Date()): Promise<HealthIndicesValue & { computedAt: Date }> {
    const { settings } = await this.settings(ws);
    return { ...healthIndices(await this.repo.aggregates(this.ctx.ds.manager, ws, now), settings), computedAt: now };
  }

  private async afterBatch(b: BatchContext): Promise<(() => void) | void> {
    const s = await this.settings(b.workspaceId, b.em);
    await this.repo.remove(b.em, b.workspaceId, b.merged.map((m) => m.mergedId));
    // Inviters whose invitees arrived in this batch have a new referral value.
    const inviters = await this.repo.invitersOf(b.em, b.workspaceId, b.events.filter((e) => e.name === 'Invite Accepted').map((e) => e.messageId));
    const ids = [...new Set([...b.profiles.map((p) => p.id), ...inviters])];
    const changes = await this.recompute(b.em, b.workspaceId, ids, b.now, s, 'health:ingest');
    if (changes.length) return () => this.ctx.tags.publish(b.workspaceId, changes);
  }

  /** Rescores some profiles in the caller's transaction (after an unmerge). Returns the tag changes. */
  async refresh(em: EntityManager, ws: string, ids: string[], now = new Date(), cause = 'health:unmerge'): Promise<MembershipChange[]> {
    return this.recompute(em, ws, ids, now, await this.settings(ws, em), cause);
  }

  /** Computes, stores and tags the scores of the live profiles among `ids` as of `now`. */
  private async recompute(em: EntityManager, ws: string, ids: string[], now: Date, s: { settings: HealthSettings; version: number }, cause: string): Promise<MembershipChange[]> {
    if (!ids.length) return [];
    const inputs = await this.repo.inputs(em, ws, ids, now, s.settings.interactionEvents);
    const values = inputs.map((i) => profileHealth(i, s.settings, now));
    await this.repo.upsert(em, ws, values, s.version, now);
    return this.ctx.tags.replaceSystemTags(
      em,
      ws,
      'health',
      values.map((v) => ({ profileId: v.profileId, key: `health:${v.tier}`, name: `健康度: ${TIER_LABELS[v.tier]}` })),
      cause,
    );
  }

  private async lock(em: EntityManager, ws: string): Promise<void> {
    // The ingest lock: scores and tags of a workspace change one writer at a time.
    await em.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 7))`, [ws]);
  }
}

export function toRead(r: ProfileHealthRow): ProfileHealthRead {
  return { profileId: r.profile_id, score: Number(r.score), tier: r.tier as HealthTierKey, components: r.components, computedAt: r.computed_at };
}
