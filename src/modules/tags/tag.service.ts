import type { DataSource, EntityManager } from 'typeorm';
import { DueWork } from '../../platform/db/due-work';
import { lockWorkspaceWrites, tryLockWorkspaceWrites } from '../../platform/db/workspace-lock';
import { AppError, ErrorClass } from '../../platform/errors';
import type { Logger } from '../../platform/logging';
import { Topics, publishProfilesChanged, type SiyuPubSub } from '../../platform/pubsub';
import { ProfileRepository, survivorOf, type ProfileAggregate } from '../profiles';
import { parseExpression, referencedSegments, referencedTags, requirements } from './expression';
import { DEFAULT_THRESHOLDS, defaultSegments, type SegmentThresholds } from './segment-defaults';
import { evaluateProfiles, rulesOf, ruleCondition, type CompiledRule } from './tag-engine';

/** One step of a read model's time-based work for a workspace (each projection's `sweep`). */
export interface SweepStep {
  name: string;
  run(workspaceId: string, now: Date, maxProfiles: number): Promise<unknown>;
}
import { MAX_BULK_PROFILES, TAG_KEY, TagErrorCode } from './tag.errors';
import { RuleWindowStore, type MeasureState } from './rule-windows';
import type { MeasuredEvent } from './expression';
import { TagRepository, type MembershipChange, type SegmentRow, type SweepStateRow, type TagKind, type TagRow } from './tag.repository';
import { AuditService, type AuditActor } from '../compliance';
import { UUID } from '../../shared/uuid';

export interface TagInput {
  key: string;
  name: string;
  group?: string;
  kind: 'manual' | 'rule';
  expression?: string | null;
  description?: string | null;
}

export interface SegmentInput {
  key: string;
  name: string;
  expression: string;
  description?: string | null;
}

export interface SweepStatus {
  cursor: number;
  profilesDone: number;
  profilesTotal: number;
  passStartedAt: Date | null;
  lastPassAt: Date | null;
  changes: number;
  /** The rules' windowed measures and their backfill. */
  ruleWindows: MeasureState[];
}

/** People per backfill step of a rule window taken inside an ingest batch (the sweep takes its own batch size). */
const WINDOW_BACKFILL_CHUNK = 1000;

/**
 * Tags and segments (用户分层): definitions, manual tagging, evaluation of rules for the profiles an
 * event touched (inside the ingest transaction), full recomputation, and the time-based sweep.
 */
export class TagService {
  private readonly repo = new TagRepository();
  private readonly windows = new RuleWindowStore();
  private readonly profiles = new ProfileRepository();
  private readonly due = new DueWork();
  private readonly ensured = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private readonly audit: AuditService;

  constructor(
    private readonly ds: DataSource,
    private readonly pubSub: SiyuPubSub,
    private readonly log: Logger,
  ) {
    this.audit = new AuditService(ds);
  }

  // ---- definitions -------------------------------------------------------------------------

  listTags(ws: string, group?: string): Promise<TagRow[]> {
    return this.repo.listTags(this.ds.manager, ws, group);
  }

  async getTag(ws: string, key: string): Promise<TagRow> {
    const t = await this.repo.getTag(this.ds.manager, ws, key);
    if (!t) throw AppError.notFound(TagErrorCode.TAG_NOT_FOUND, `Tag ${JSON.stringify(key)} does not exist.`);
    return t;
  }

  async createTag(actor: AuditActor, input: TagInput): Promise<TagRow> {
    const ws = actor.workspaceId;
    this.checkKey(input.key, 'input.key');
    if (input.key.startsWith('rfm:')) throw AppError.badInput(TagErrorCode.INVALID_TAG_KEY, 'input.key', 'keys starting with "rfm:" are reserved for system tags');
    const expression = input.kind === 'rule' ? this.checkExpression(input.expression, 'input.expression') : null;
    if (input.kind === 'manual' && input.expression) throw AppError.badInput('EXPRESSION_NOT_ALLOWED', 'input.expression', 'a manual tag has no expression');
    const changes = await this.ds.transaction(async (em) => {
      await this.lock(em, ws);
      if (await this.repo.getTag(em, ws, input.key)) throw AppError.conflict(TagErrorCode.TAG_EXISTS, `Tag ${JSON.stringify(input.key)} already exists.`);
      if (expression) await this.checkReferences(em, ws, expression, 'input.expression', { tag: input.key });
      await this.repo.insertTag(em, ws, {
        key: input.key,
        name: input.name.trim(),
        group_name: input.group?.trim() || 'default',
        kind: input.kind,
        expression,
        description: input.description ?? null,
        time_dependent: expression ? requirements(parseExpression(expression)).timeDependent : false,
      });
      await this.audit.record(em, actor, { action: 'tag.create', targetType: 'tag', targetId: input.key, details: { kind: input.kind, expression: input.expression ?? null } });
      return expression ? this.recomputeAll(em, ws, `definition:tag:${input.key}`) : [];
    });
    this.publish(ws, changes);
    return this.getTag(ws, input.key);
  }

  async updateTag(actor: AuditActor, key: string, input: { name?: string; group?: string; expression?: string | null; description?: string | null }): Promise<TagRow> {
    const ws = actor.workspaceId;
    const changes = await this.ds.transaction(async (em) => {
      await this.lock(em, ws);
      const t = await this.repo.getTag(em, ws, key);
      if (!t) throw AppError.notFound(TagErrorCode.TAG_NOT_FOUND, `Tag ${JSON.stringify(key)} does not exist.`);
      if (t.kind === 'system') throw AppError.badInput(TagErrorCode.SYSTEM_TAG, 'key', 'system tags are maintained by Siyu');
      if (t.kind === 'manual' && input.expression) throw AppError.badInput('EXPRESSION_NOT_ALLOWED', 'input.expression', 'a manual tag has no expression');
      const expression = t.kind === 'rule' && input.expression !== undefined ? this.checkExpression(input.expression, 'input.expression') : t.expression;
      if (expression) await this.checkReferences(em, ws, expression, 'input.expression', { tag: key });
      await this.repo.updateTag(em, ws, {
        key,
        name: input.name?.trim() || t.name,
        group_name: input.group?.trim() || t.group_name,
        expression,
        description: input.description === undefined ? t.description : input.description,
        time_dependent: expression ? requirements(parseExpression(expression)).timeDependent : false,
      });
      await this.audit.record(em, actor, { action: 'tag.update', targetType: 'tag', targetId: key, details: { changed: Object.keys(input) } });
      return expression !== t.expression ? this.recomputeAll(em, ws, `definition:tag:${key}`) : [];
    });
    this.publish(ws, changes);
    return this.getTag(ws, key);
  }

  async deleteTag(actor: AuditActor, key: string): Promise<void> {
    const ws = actor.workspaceId;
    const changes = await this.ds.transaction(async (em) => {
      await this.lock(em, ws);
      const t = await this.repo.getTag(em, ws, key);
      if (!t) throw AppError.notFound(TagErrorCode.TAG_NOT_FOUND, `Tag ${JSON.stringify(key)} does not exist.`);
      if (t.kind === 'system') throw AppError.badInput(TagErrorCode.SYSTEM_TAG, 'key', 'system tags are maintained by Siyu');
      const users = (await this.definitions(em, ws)).filter((r) => referencedTags(r.expr).includes(key));
      if (users.length) {
        throw AppError.conflict('TAG_IN_USE', `Tag ${key} is used by ${users.map((u) => `${u.kind} ${u.key}`).join(', ')}; change those first.`);
      }
      await this.audit.record(em, actor, { action: 'tag.delete', targetType: 'tag', targetId: key });
      return this.repo.deleteTag(em, ws, key, `definition:tag:${key}:deleted`);
    });
    this.publish(ws, changes);
  }

  async listSegments(ws: string): Promise<SegmentRow[]> {
    await this.ensureDefaults(ws, this.ds.manager);
    return this.repo.listSegments(this.ds.manager, ws);
  }

  async getSegment(ws: string, id: string): Promise<SegmentRow> {
    if (!UUID.test(id)) throw AppError.badInput('INVALID_ID', 'id', 'id must be a segment id (UUID)');
    await this.ensureDefaults(ws, this.ds.manager);
    const s = await this.repo.getSegment(this.ds.manager, ws, id);
    if (!s) throw AppError.notFound(TagErrorCode.SEGMENT_NOT_FOUND, `Segment ${id} does not exist in this workspace.`);
    return s;
  }

  async createSegment(actor: AuditActor, input: SegmentInput): Promise<SegmentRow> {
    const ws = actor.workspaceId;
    this.checkKey(input.key, 'input.key');
    const expression = this.checkExpression(input.expression, 'input.expression');
    await this.ensureDefaults(ws, this.ds.manager);
    const { id, changes } = await this.ds.transaction(async (em) => {
      await this.lock(em, ws);
      await this.checkReferences(em, ws, expression, 'input.expression', { segment: input.key });
      const id = await this.repo.insertSegment(em, ws, {
        key: input.key,
        name: input.name.trim(),
        description: input.description ?? null,
        expression,
        is_default: false,
        time_dependent: requirements(parseExpression(expression)).timeDependent,
      });
      if (!id) throw AppError.conflict(TagErrorCode.SEGMENT_EXISTS, `Segment ${JSON.stringify(input.key)} already exists.`);
      await this.audit.record(em, actor, { action: 'segment.create', targetType: 'segment', targetId: id, details: { key: input.key, expression: input.expression } });
      return { id, changes: await this.recomputeAll(em, ws, `definition:segment:${input.key}`) };
    });
    this.publish(ws, changes);
    return this.getSegment(ws, id);
  }

  async updateSegment(actor: AuditActor, id: string, input: { name?: string; expression?: string; description?: string | null }): Promise<SegmentRow> {
    const ws = actor.workspaceId;
    const current = await this.getSegment(ws, id);
    const expression = input.expression !== undefined ? this.checkExpression(input.expression, 'input.expression') : current.expression;
    const changes = await this.ds.transaction(async (em) => {
      await this.lock(em, ws);
      await this.checkReferences(em, ws, expression, 'input.expression', { segment: current.key });
      await this.repo.updateSegment(em, ws, {
        id,
        name: input.name?.trim() || current.name,
        description: input.description === undefined ? current.description : input.description,
        expression,
        time_dependent: requirements(parseExpression(expression)).timeDependent,
      });
      await this.audit.record(em, actor, { action: 'segment.update', targetType: 'segment', targetId: id, details: { changed: Object.keys(input), expression } });
      return expression !== current.expression ? this.recomputeAll(em, ws, `definition:segment:${current.key}`) : [];
    });
    this.publish(ws, changes);
    return this.getSegment(ws, id);
  }

  async deleteSegment(actor: AuditActor, id: string): Promise<void> {
    const ws = actor.workspaceId;
    const s = await this.getSegment(ws, id);
    if (s.is_default) throw AppError.badInput(TagErrorCode.DEFAULT_SEGMENT, 'id', 'default segments cannot be deleted; change their thresholds instead');
    const changes = await this.ds.transaction(async (em) => {
      await this.lock(em, ws);
      const users = (await this.definitions(em, ws)).filter((r) => referencedSegments(r.expr).includes(s.key));
      if (users.length) throw AppError.conflict('SEGMENT_IN_USE', `Segment ${s.key} is used by ${users.map((u) => `${u.kind} ${u.key}`).join(', ')}.`);
      await this.audit.record(em, actor, { action: 'segment.delete', targetType: 'segment', targetId: id });
      return this.repo.deleteSegment(em, ws, id, `definition:segment:${s.key}:deleted`);
    });
    this.publish(ws, changes);
  }

  async thresholds(ws: string, em: EntityManager = this.ds.manager): Promise<SegmentThresholds> {
    const [r] = await em.query(`SELECT settings -> 'segmentThresholds' AS t FROM workspaces WHERE id = $1`, [ws]);
    return { ...DEFAULT_THRESHOLDS, ...(r?.t ?? {}) };
  }

  /** Changes the default segments' thresholds and recomputes them. */
  async updateThresholds(actor: AuditActor, patch: Partial<SegmentThresholds>): Promise<SegmentThresholds> {
    const ws = actor.workspaceId;
    const next = { ...(await this.thresholds(ws)), ...Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined && v !== null)) } as SegmentThresholds;
    const bad = Object.entries(next).filter(([, v]) => !Number.isFinite(v) || v < 0 || v > 1e9);
    if (bad.length) {
      throw new AppError(ErrorClass.BAD_USER_INPUT, TagErrorCode.INVALID_THRESHOLDS, 'thresholds must be non-negative numbers', bad.map(([k]) => ({ field: `input.${k}`, message: 'must be a non-negative number' })));
    }
    if (!(next.churnRiskDays <= next.silentDays && next.silentDays <= next.churnedDays)) {
      throw new AppError(ErrorClass.BAD_USER_INPUT, TagErrorCode.INVALID_THRESHOLDS, 'need churnRiskDays ≤ silentDays ≤ churnedDays', [{ field: 'input.silentDays', message: 'need churnRiskDays ≤ silentDays ≤ churnedDays' }]);
    }
    await this.ensureDefaults(ws, this.ds.manager);
    const changes = await this.ds.transaction(async (em) => {
      await this.lock(em, ws);
      await em.query(`UPDATE workspaces SET settings = jsonb_set(settings, '{segmentThresholds}', $2::jsonb), updated_at = now() WHERE id = $1`, [ws, JSON.stringify(next)]);
      for (const d of defaultSegments(next)) {
        await em.query(`UPDATE segments SET expression = $3, time_dependent = true, updated_at = now() WHERE workspace_id = $1 AND key = $2 AND is_default`, [ws, d.key, d.expression]);
      }
      await this.audit.record(em, actor, { action: 'segment_thresholds.update', targetType: 'workspace', targetId: ws, details: { thresholds: next } });
      return this.recomputeAll(em, ws, 'definition:thresholds');
    });
    this.publish(ws, changes);
    return next;
  }

  /**
   * Creates the default segments of a workspace (idempotent). Outside a transaction it runs once per
   * workspace per process; inside one (workspace creation) it is not remembered until committed.
   */
  async ensureDefaults(ws: string, em: EntityManager): Promise<void> {
    if (this.ensured.has(ws)) return;
    const t = await this.thresholds(ws, em);
    for (const d of defaultSegments(t)) {
      await this.repo.insertSegment(em, ws, { key: d.key, name: d.name, description: d.description, expression: d.expression, is_default: true, time_dependent: true });
    }
    if (em === this.ds.manager) this.ensured.add(ws);
  }

  // ---- membership --------------------------------------------------------------------------

  async tagProfiles(ws: string, key: string, profileIds: string[], add: boolean): Promise<number> {
    if (profileIds.length > MAX_BULK_PROFILES) {
      throw AppError.badInput(TagErrorCode.TOO_MANY_PROFILES, 'profileIds', `at most ${MAX_BULK_PROFILES} profile ids per call; got ${profileIds.length}`);
    }
    const bad = profileIds.findIndex((id) => !UUID.test(id));
    if (bad >= 0) throw AppError.badInput('INVALID_ID', `profileIds.${bad}`, 'must be a profile id (UUID)');
    await this.ensureDefaults(ws, this.ds.manager);
    const { changes, n, ids } = await this.ds.transaction(async (em) => {
      await this.lock(em, ws);
      const tag = await this.repo.getTag(em, ws, key);
      if (!tag) throw AppError.notFound(TagErrorCode.TAG_NOT_FOUND, `Tag ${JSON.stringify(key)} does not exist.`);
      if (tag.kind !== 'manual') throw AppError.badInput(TagErrorCode.NOT_A_MANUAL_TAG, 'tagKey', `${key} is a ${tag.kind} tag: Siyu maintains it from its rule`);
      const resolved: { asked: string; id: string }[] = await em.query(
        `SELECT a.asked, ${survivorOf('p')} AS id FROM unnest($2::uuid[]) AS a(asked)
         JOIN profiles p ON p.workspace_id = $1 AND p.id = a.asked`,
        [ws, profileIds],
      );
      if (resolved.length !== new Set(profileIds).size) {
        const found = new Set(resolved.map((r) => r.asked));
        const missing = profileIds.filter((id) => !found.has(id));
        throw new AppError(ErrorClass.NOT_FOUND, TagErrorCode.PROFILES_NOT_FOUND, `${missing.length} profile id(s) do not exist in this workspace; nothing was changed.`, missing
          .slice(0, 20)
          .map((id) => ({ field: `profileIds.${profileIds.indexOf(id)}`, message: 'no such profile' })));
      }
      const ids = [...new Set(resolved.map((r) => r.id))];
      const cause = add ? 'manual:tag' : 'manual:untag';
      const direct = add
        ? await this.repo.addTags(em, ws, ids.map((profileId) => ({ profileId, key, source: 'manual', cause })))
        : await this.repo.removeTags(em, ws, ids.map((profileId) => ({ profileId, key, cause })));
      const derived = await this.reevaluate(em, ws, ids, () => cause);
      return { changes: [...direct, ...derived], n: direct.length, ids };
    });
    this.publish(ws, changes);
    publishProfilesChanged(this.pubSub, ws, ids);
    return n;
  }

  /**
   * Re-evaluates rules for some profiles from their stored aggregates (after a manual change, an
   * unmerge, a recompute or a due moment). `rebuildWindows`: their history changed (unmerge,
   * recompute), so their rule-window buckets are rebuilt from their events first.
   */
  async reevaluate(em: EntityManager, ws: string, ids: string[], causeOf: (id: string) => string, now = new Date(), rebuildWindows = false): Promise<MembershipChange[]> {
    if (!ids.length) return [];
    const profiles = [...(await this.profiles.loadAggregates(em, ws, ids, { liveOnly: true })).values()];
    return this.evaluateAndSchedule(em, ws, profiles, causeOf, now, rebuildWindows ? { rebuild: profiles.map((p) => p.id) } : {});
  }

  /**
   * For ingest: the batch's events go into the rule-window buckets (after merged-away people's
   * buckets moved to their survivors), then the rules of the profiles it touched are evaluated —
   * all in the batch's transaction.
   */
  async evaluateTouched(
    em: EntityManager,
    ws: string,
    profiles: ProfileAggregate[],
    causeOf: (id: string) => string,
    now: Date,
    batch: { events: (MeasuredEvent & { profileId: string })[]; merged: { mergedId: string; survivorId: string }[] } = { events: [], merged: [] },
  ): Promise<MembershipChange[]> {
    return this.evaluateAndSchedule(em, ws, profiles, causeOf, now, batch);
  }

  /**
   * Evaluates the rules and schedules each person's next time-driven change (`due_work`, projection
   * `tags`). Windowed aggregates come from the rule-window buckets once every measure the rules read
   * is ready; while one is being backfilled, this step advances the backfill by one chunk and the
   * rules read the people's events as before.
   */
  private async evaluateAndSchedule(
    em: EntityManager,
    ws: string,
    profiles: ProfileAggregate[],
    causeOf: (id: string) => string,
    now: Date,
    work: { events?: (MeasuredEvent & { profileId: string })[]; merged?: { mergedId: string; survivorId: string }[]; rebuild?: string[] },
  ): Promise<MembershipChange[]> {
    const rules = await this.definitions(em, ws);
    const uses = rules.flatMap((r) => r.uses);
    const measures = uses.length || work.events?.length ? await this.windows.register(em, ws, uses) : [];
    if (work.merged?.length) await this.windows.moveOnMerge(em, ws, work.merged);
    if (work.events?.length) await this.windows.applyEvents(em, ws, work.events, measures, now);
    const pending = measures.filter((m) => !m.ready);
    // A survivor already backfilled may have taken a merged person's incomplete buckets: rebuild it (after the batch's events are in).
    if (work.merged?.length && pending.length) await this.windows.rebuild(em, ws, [...new Set(work.merged.map((m) => m.survivorId))], pending, now);
    if (work.rebuild?.length) await this.windows.rebuild(em, ws, work.rebuild, measures, now);
    let ready = !pending.length;
    if (!ready) ready = await this.windows.backfillStep(em, ws, WINDOW_BACKFILL_CHUNK, now);
    const sources = ready && uses.length ? await this.windows.load(em, ws, profiles.map((p) => p.id), uses, now) : null;
    const r = await evaluateProfiles(em, this.repo, ws, rules, profiles, causeOf, now, sources);
    await this.due.schedule(em, ws, 'tags', r.due);
    return r.changes;
  }

  /** For ingest: which of these tag keys exist as manual tags. */
  async manualTagKeys(em: EntityManager, ws: string, keys: string[]): Promise<Set<string>> {
    const m = await this.repo.existingTagKeys(em, ws, keys);
    return new Set([...m].filter(([, kind]) => kind === 'manual').map(([k]) => k));
  }

  addTagsInTransaction(em: EntityManager, ws: string, rows: { profileId: string; key: string; source: string; cause: string }[]): Promise<MembershipChange[]> {
    return this.repo.addTags(em, ws, rows);
  }

  /**
   * For modules that own a system tag group (lifecycle stage, health tier): one tag of the group
   * per profile, set in the caller's transaction. Publish the returned changes after commit with
   * `publish`.
   */
  replaceSystemTags(em: EntityManager, ws: string, group: string, rows: { profileId: string; key: string; name: string }[], cause: string): Promise<MembershipChange[]> {
    return this.repo.replaceSystemTags(em, ws, group, rows, cause);
  }

  moveTagsOnMerge(em: EntityManager, ws: string, merged: string[], survivors: string[]): Promise<void> {
    return this.repo.moveTagsOnMerge(em, ws, merged, survivors);
  }

  // ---- reads -------------------------------------------------------------------------------

  tagsOf(ws: string, ids: readonly string[]) {
    return this.repo.tagsOf(this.ds.manager, ws, ids);
  }

  segmentsOf(ws: string, ids: readonly string[]) {
    return this.repo.segmentsOf(this.ds.manager, ws, ids);
  }

  segmentChanges(ws: string, segmentId: string, limit: number) {
    return this.repo.changesOf(this.ds.manager, ws, 'segment', segmentId, limit);
  }

  segmentSizes(ws: string, ids: readonly string[]) {
    return this.repo.segmentSizes(this.ds.manager, ws, ids);
  }

  tagSizes(ws: string, keys: readonly string[]) {
    return this.repo.tagSizes(this.ds.manager, ws, keys);
  }

  tagDistribution(ws: string, group: string) {
    return this.repo.tagDistribution(this.ds.manager, ws, group);
  }

  // ---- sweep -------------------------------------------------------------------------------

  /** Every workspace's sweep lag (the `siyu_sweep_lag_seconds` gauge). */
  sweepLag(): Promise<{ workspaceId: string; seconds: number }[]> {
    return this.repo.sweepLag(this.ds.manager);
  }

  async sweepStatus(ws: string): Promise<SweepStatus> {
    return { ...toStatus(await this.repo.sweepState(this.ds.manager, ws)), ruleWindows: await this.windows.states(this.ds.manager, ws) };
  }

  /**
   * One bounded step of the time-based sweep for a workspace: the next `maxProfiles` live profiles
   * (by creation order) get their time-dependent rules re-evaluated set-based. At the end of a pass
   * the RFM cells are recomputed and the pass starts over. It takes the workspace's write lock
   * without waiting: while another instance sweeps or a batch is written, the step is skipped.
   */
  async sweepStep(ws: string, maxProfiles = 5000, now = new Date()): Promise<SweepStatus> {
    await this.ensureDefaults(ws, this.ds.manager);
    const changes = await this.ds.transaction(async (em) => {
      // The ingest lock: a step never interleaves with a batch (it would judge a stale snapshot), and
      // while a batch is being written the step is simply skipped until the next tick.
      const ok = await tryLockWorkspaceWrites(em, ws);
      if (!ok) return null;
      const state = toStatus(await this.repo.sweepState(em, ws));
      const chunk = await this.repo.nextChunk(em, ws, state.cursor, maxProfiles);
      const out: MembershipChange[] = [];
      const passStartedAt = state.cursor === 0 ? now : (state.passStartedAt ?? now);
      const all = await this.definitions(em, ws);
      await this.windows.register(em, ws, all.flatMap((r) => r.uses));
      await this.windows.backfillStep(em, ws, maxProfiles, now);
      if (chunk.to !== null) {
        const rules = all.filter((r) => r.timeDependent);
        for (const rule of rules) out.push(...(await this.recomputeRule(em, ws, rule, 'sweep', { from: state.cursor, to: chunk.to }, now)));
      }
      const finished = chunk.to === null || chunk.n < maxProfiles;
      if (finished) out.push(...(await this.repo.recomputeRfm(em, ws, 'sweep:rfm')));
      await this.repo.saveSweepState(em, ws, {
        cursor: finished ? 0 : chunk.to!,
        passStartedAt: finished ? null : passStartedAt,
        lastPassAt: finished ? now : state.lastPassAt,
        done: finished ? chunk.total : (state.cursor === 0 ? 0 : state.profilesDone) + chunk.n,
        total: chunk.total,
        changes: out.length,
      });
      return out;
    });
    if (changes) this.publish(ws, changes);
    return this.sweepStatus(ws);
  }

  /**
   * Runs every read model's sweep step (in the projections' order) for every workspace every
   * `intervalMs` (0 disables).
   */
  startSweeper(intervalMs: number, maxProfiles: number, steps: readonly SweepStep[]): void {
    if (intervalMs <= 0) return;
    let running = false;
    this.timer = setInterval(async () => {
      if (running) return;
      running = true;
      try {
        for (const ws of await this.repo.workspaceIds(this.ds.manager)) {
          for (const step of steps) await step.run(ws, new Date(), maxProfiles);
        }
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'sweep step failed');
      } finally {
        running = false;
      }
    }, intervalMs);
    this.timer.unref();
  }

  stopSweeper(): void {
    if (this.timer) clearInterval(this.timer);
  }

  // ---- helpers -----------------------------------------------------------------------------

  publish(ws: string, changes: MembershipChange[]): void {
    for (const c of changes) {
      const payload = { workspaceId: ws, subjectKind: c.subjectKind, subject: c.subject, profileId: c.profileId, change: c.change, cause: c.cause, at: c.at.toISOString() };
      if (c.subjectKind === 'segment') this.pubSub.publish(Topics.segmentMembership(ws, c.subject), payload);
      else this.pubSub.publish(Topics.tagMembership(ws), payload);
    }
  }

  private async definitions(em: EntityManager, ws: string): Promise<CompiledRule[]> {
    const tags = await this.repo.listTags(em, ws);
    const segments = await this.repo.listSegments(em, ws);
    return rulesOf(tags, segments);
  }

  /** Recomputes every rule (a definition changed): checks cycles, then rule by rule in dependency order. */
  private async recomputeAll(em: EntityManager, ws: string, cause: string): Promise<MembershipChange[]> {
    const rules = await this.definitions(em, ws);
    const out: MembershipChange[] = [];
    for (const r of rules) out.push(...(await this.recomputeRule(em, ws, r, cause, null, new Date())));
    return out;
  }

  private recomputeRule(em: EntityManager, ws: string, rule: CompiledRule, cause: string, range: { from: number; to: number } | null, now: Date) {
    const { condition, params } = ruleCondition(rule);
    params[0] = ws;
    params[1] = now;
    return this.repo.recompute(em, ws, rule.kind === 'tag' ? { kind: 'tag', key: rule.id } : { kind: 'segment', id: rule.id }, condition, params, cause, range);
  }

  private async lock(em: EntityManager, ws: string): Promise<void> {
    // The same lock as ingest: definitions and memberships change one writer at a time.
    await lockWorkspaceWrites(em, ws);
  }

  /** Every tag and segment an expression names must exist; a rule may not name itself. */
  private async checkReferences(em: EntityManager, ws: string, expression: string, field: string, self: { tag?: string; segment?: string }): Promise<void> {
    const expr = parseExpression(expression);
    const tags = referencedTags(expr);
    const segs = referencedSegments(expr);
    if (self.tag && tags.includes(self.tag)) throw AppError.badInput(TagErrorCode.TAG_CYCLE, field, `tag ${self.tag} refers to itself`);
    if (self.segment && segs.includes(self.segment)) throw AppError.badInput(TagErrorCode.SEGMENT_SELF_REFERENCE, field, `segment ${self.segment} refers to itself`);
    const known = await this.repo.existingTagKeys(em, ws, tags);
    const missingTags = tags.filter((k) => !known.has(k) && !k.startsWith('rfm:'));
    if (missingTags.length) throw AppError.badInput(TagErrorCode.UNKNOWN_TAG, field, `unknown tag(s): ${missingTags.join(', ')}`);
    if (segs.length) {
      const rows: { key: string }[] = await em.query(`SELECT key FROM segments WHERE workspace_id = $1 AND key = ANY($2::text[])`, [ws, segs]);
      const have = new Set(rows.map((r) => r.key));
      const missing = segs.filter((k) => !have.has(k));
      if (missing.length) throw AppError.badInput('UNKNOWN_SEGMENT', field, `unknown segment(s): ${missing.join(', ')}`);
    }
  }

  private checkKey(key: string, field: string): void {
    if (!TAG_KEY.test(key)) throw AppError.badInput(TagErrorCode.INVALID_TAG_KEY, field, 'keys are 1–64 letters, digits, _ : . or - (Chinese letters allowed)');
  }

  private checkExpression(expression: string | null | undefined, field: string): string {
    if (!expression || !expression.trim()) throw AppError.badInput('EXPRESSION_REQUIRED', field, 'a rule needs an expression');
    try {
      parseExpression(expression);
    } catch (e) {
      if (e instanceof AppError) throw new AppError(e.errorClass, e.reason, e.message, [{ field, message: e.message }]);
      throw e;
    }
    return expression.trim();
  }
}

function toStatus(r: SweepStateRow | null): Omit<SweepStatus, 'ruleWindows'> {
  return {
    cursor: r ? Number(r.cursor_seq) : 0,
    profilesDone: r?.profiles_done ?? 0,
    profilesTotal: r?.profiles_total ?? 0,
    passStartedAt: r?.pass_started_at ?? null,
    lastPassAt: r?.last_pass_at ?? null,
    changes: r ? Number(r.changes) : 0,
  };
}

export type { TagKind };
