import type { DataSource, EntityManager } from 'typeorm';
import { lockWorkspaceWrites, tryLockWorkspaceWrites } from '../../platform/db';
import type { BatchContext, Projection, SystemTagUpdate, SystemTagWriter } from '../events';
import { HEALTH_PROFILE_PREFETCH } from './health.prefetch';
import { HealthRepository, type DayBuckets, type ProfileHealthRow } from './health.repository';
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

  constructor(
    private readonly ds: DataSource,
    /** Writes the tier tags where no tags projection runs after this one (sweeps, settings changes, rebuilds). */
    private readonly systemTags: SystemTagWriter,
  ) {
    this.audit = new AuditService(ds);
  }

  /** The read model: scores of the people a batch touched (and their inviters), kept in the batch's transaction. */
  readonly projection: Projection = {
    name: 'health',
    // Scores may read the stage.
    after: ['stages'],
    apply: (b) => this.afterBatch(b),
    // After an unmerge moved events back: both people's day buckets are rebuilt from their events.
    refresh: async (r) => {
      await this.repo.rebuildDays(r.em, r.workspaceId, r.profileIds, r.now);
      return { systemTags: [await this.recompute(r.em, r.workspaceId, r.profileIds, r.now, await this.settings(r.workspaceId, r.em), `health:${r.cause}`)] };
    },
    rebuild: async (em, ws, ids, now) => {
      await this.repo.rebuildDays(em, ws, ids, now);
      return { systemTags: [await this.recompute(em, ws, ids, now, await this.settings(ws, em), 'health:recompute')] };
    },
    // Every person's day buckets are in the workspace's zone again (after a zone change).
    rebuilt: (em, ws) => this.repo.markDaysConsistent(em, ws),
    sweep: (ws, now, max) => this.sweepStep(ws, now, max),
    due: { skip: 'scores decay continuously; the sweep re-scores the oldest first' },
    prefetch: HEALTH_PROFILE_PREFETCH,
  };

  async settings(ws: string, em: EntityManager = this.ds.manager): Promise<{ settings: HealthSettings; version: number }> {
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
    const version = await this.ds.transaction(async (em) => {
      await lockWorkspaceWrites(em, ws);
      await this.audit.record(em, actor, { action: 'health_settings.update', targetType: 'workspace', targetId: ws, details: { changed: Object.keys(patch) } });
      return this.repo.saveSettings(em, ws, next);
    });
    let afterSeq = 0;
    for (let i = 0; i < RECOMPUTE_CHUNKS_IN_MUTATION; i++) {
      const { n, publish, last } = await this.ds.transaction(async (em) => {
        await lockWorkspaceWrites(em, ws);
        const current = await this.settings(ws, em);
        // A later update superseded this one: it recomputes for itself.
        if (current.version !== version) return { n: 0, publish: () => {}, last: afterSeq };
        const chunk = await this.repo.staleChunk(em, ws, version, afterSeq, RECOMPUTE_CHUNK);
        const tags = await this.recompute(em, ws, chunk.map((c) => c.id), new Date(), current, 'health:settings');
        return { n: chunk.length, publish: (await this.systemTags.writeSystemTags(em, ws, [tags])).publish, last: chunk.at(-1)?.seq ?? afterSeq };
      });
      publish();
      afterSeq = last;
      if (n < RECOMPUTE_CHUNK) break;
    }
    return next;
  }

  async recomputeStatus(ws: string): Promise<RecomputeStatus> {
    const { version } = await this.settings(ws);
    return { settingsVersion: version, ...(await this.repo.recomputeStatus(this.ds.manager, ws, version)) };
  }

  /**
   * One bounded sweep step: up to `maxProfiles` live profiles — those computed with older settings
   * (or never) first, then the oldest `computed_at` — are recomputed as of `now`, so scores decay as
   * time passes. Skipped (returns 0) while another writer holds the workspace's ingest lock.
   */
  async sweepStep(ws: string, now: Date, maxProfiles: number): Promise<number> {
    const r = await this.ds.transaction(async (em) => {
      if (!(await tryLockWorkspaceWrites(em, ws))) return null;
      const s = await this.settings(ws, em);
      const ids = await this.repo.sweepCandidates(em, ws, s.version, maxProfiles);
      return { n: ids.length, publish: (await this.systemTags.writeSystemTags(em, ws, [await this.recompute(em, ws, ids, now, s, 'health:sweep')])).publish };
    });
    if (!r) return 0;
    r.publish();
    return r.n;
  }

  async healthOf(ws: string, ids: readonly string[]): Promise<(ProfileHealthRead | null)[]> {
    const rows = await this.repo.healthOf(this.ds.manager, ws, ids);
    const m = new Map(rows.map((r) => [r.profile_id, toRead(r)]));
    return ids.map((id) => m.get(id) ?? null);
  }

  async indices(ws: string, now = new Date()): Promise<HealthIndicesValue & { computedAt: Date }> {
    const { settings } = await this.settings(ws);
    return { ...healthIndices(await this.repo.aggregates(this.ds.manager, ws, now), settings), computedAt: now };
  }

  private async afterBatch(b: BatchContext): Promise<{ systemTags: SystemTagUpdate[] }> {
    const s = await this.settings(b.workspaceId, b.em);
    await this.repo.remove(b.em, b.workspaceId, b.merged.map((m) => m.mergedId));
    const days = await this.repo.applyBatch(b.em, b.workspaceId, b.merged, b.events, b.now);
    // Inviters whose invitees arrived in this batch have a new referral value.
    const inviters = await this.repo.invitersOf(b.em, b.workspaceId, b.events.filter((e) => e.name === 'Invite Accepted').map((e) => e.messageId));
    const ids = [...new Set([...b.profiles.map((p) => p.id), ...inviters])];
    return { systemTags: [await this.recompute(b.em, b.workspaceId, ids, b.now, s, 'health:ingest', days)] };
  }

  /** Computes and stores the scores of the live profiles among `ids` as of `now`; returns their tier tags. */
  private async recompute(
    em: EntityManager,
    ws: string,
    ids: string[],
    now: Date,
    s: { settings: HealthSettings; version: number },
    cause: string,
    days?: ReadonlyMap<string, DayBuckets>,
  ): Promise<SystemTagUpdate> {
    if (!ids.length) return { group: 'health', rows: [], cause };
    const inputs = await this.repo.inputs(em, ws, ids, now, s.settings.interactionEvents, days);
    const values = inputs.map((i) => profileHealth(i, s.settings, now));
    await this.repo.upsert(em, ws, values, s.version, now);
    return { group: 'health', rows: values.map((v) => ({ profileId: v.profileId, key: `health:${v.tier}`, name: `健康度: ${TIER_LABELS[v.tier]}` })), cause };
  }
}

export function toRead(r: ProfileHealthRow): ProfileHealthRead {
  return { profileId: r.profile_id, score: Number(r.score), tier: r.tier as HealthTierKey, components: r.components, computedAt: r.computed_at };
}
