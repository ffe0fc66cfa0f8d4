import type { DataSource, EntityManager } from 'typeorm';
import { AppError } from '../../platform/errors';
import { DueWork, lockWorkspaceWrites, tryLockWorkspaceWrites } from '../../platform/db';
import type { BatchContext, Projection, SystemTagUpdate, SystemTagWriter } from '../events';
import { STAGE_PROFILE_PREFETCH } from './stage.prefetch';
import { StageErrorCode } from './stage.errors';
import { canonical, compile, currentStage, DEFAULT_MODEL, evaluate, validateModel, type ActivityFacts, type CompiledModel, type CurrentStage, type StageFacts, type StageModel, type StageModelInputShape, type StageState, type Transition } from './stage.model';
import { StageRepository, type StateRow, type TransitionRow } from './stage.repository';
import { AuditService, type AuditActor } from '../compliance';

/** System tag group of the stage tag `stage:<key>`. */
export const STAGE_TAG_GROUP = 'lifecycle';
const RECOMPUTE_PAGE = 2000;
const MAX_RANGE_DAYS = 3660;

export interface FunnelStage {
  key: string;
  name: string;
  inactive: boolean;
  current: number;
  reached: number;
  conversionToNext: number | null;
  medianHoursInStage: number | null;
}

export interface Funnel {
  modelKey: string;
  from: Date;
  to: Date;
  stages: FunnelStage[];
  wakeUps: number;
}

/**
 * Lifecycle stages (生命周期): the workspace's stage model, every person's current stage kept in
 * the ingest transaction, inactivity (沉默/流失) by a sweep, wake-ups, the stage system tag and the
 * funnel.
 */
export class StageService {
  private readonly repo = new StageRepository();
  private readonly due = new DueWork();
  private readonly audit: AuditService;

  constructor(
    private readonly ds: DataSource,
    /** Writes the stage tags where no tags projection runs after this one (sweeps, model changes, rebuilds). */
    private readonly systemTags: SystemTagWriter,
  ) {
    this.audit = new AuditService(ds);
  }

  /** The read model: stages of the people a batch touched, kept in the batch's transaction. */
  readonly projection: Projection = {
    name: 'stages',
    after: [],
    apply: (b) => this.afterBatch(b),
    // Events moved between these people (an unmerge): their histories are replayed from their events.
    refresh: async (r) => ({ systemTags: [await this.derive(r.em, r.workspaceId, r.profileIds, r.now, `lifecycle:${r.cause}`, true)] }),
    rebuild: async (em, ws, ids, now) => ({ systemTags: [await this.derive(em, ws, ids, now, 'lifecycle:recompute', false)] }),
    sweep: (ws, now, max) => this.sweepStep(ws, now, max),
    // People whose inactivity threshold (沉默/流失 after N days without activity) has come.
    due: async (r) => {
      if (!r.profileIds.length) return;
      const m = compile(await this.model(r.workspaceId, r.em));
      return { systemTags: [await this.advance(r.em, r.workspaceId, m, r.profileIds, { now: r.now, inactivity: true, newEventsOnly: true, tagCause: 'lifecycle:due' })] };
    },
    prefetch: STAGE_PROFILE_PREFETCH,
  };

  // ---- model -------------------------------------------------------------------------------

  async model(ws: string, em: EntityManager = this.ds.manager): Promise<StageModel> {
    return (await this.repo.model(em, ws)) ?? DEFAULT_MODEL;
  }

  /**
   * Replaces the workspace's model after validating it (all errors at once, nothing changed). A
   * changed model re-derives every person's stage from their history under it; their earlier
   * transitions stay, under the old model key.
   */
  async updateModel(actor: AuditActor, input: StageModelInputShape): Promise<StageModel> {
    const ws = actor.workspaceId;
    const next = validateModel(input);
    let publish = () => {};
    await this.ds.transaction(async (em) => {
      await lockWorkspaceWrites(em, ws);
      await this.audit.record(em, actor, { action: 'stage_model.update', targetType: 'workspace', targetId: ws, details: { model: input.key } });
      const current = await this.model(ws, em);
      if (canonical(current) === canonical(next)) return;
      await this.repo.saveModel(em, ws, next);
      await this.repo.deleteStates(em, ws, null);
      const m = compile(next);
      const now = new Date();
      let after = 0;
      const updates: SystemTagUpdate[] = [];
      for (;;) {
        const page = await this.repo.liveIdsAfter(em, ws, after, RECOMPUTE_PAGE);
        if (page.lastSeq === null) break;
        updates.push(await this.advance(em, ws, m, page.ids, { now, inactivity: true, tagCause: `lifecycle:model:${next.key}` }));
        after = page.lastSeq;
      }
      publish = (await this.systemTags.writeSystemTags(em, ws, updates)).publish;
    });
    publish();
    return this.model(ws, this.ds.manager);
  }

  // ---- kept current ------------------------------------------------------------------------

  private async afterBatch(b: BatchContext): Promise<{ systemTags: SystemTagUpdate[] } | void> {
    const { em, workspaceId: ws } = b;
    await this.repo.deleteStates(em, ws, b.merged.map((m) => m.mergedId));
    const touched = b.profiles.map((p) => p.id);
    if (!touched.length) return;
    const m = compile(await this.model(ws, em));
    // An order can make the buyer's inviter an advocate: re-evaluate inviters of buyers too.
    const buyers = b.profiles.filter((p) => p.orderCount > 0).map((p) => p.id);
    const inviters = m.main.some((s) => s.enter.kind === 'invitee_bought') && buyers.length ? await this.repo.invitersOf(em, ws, buyers) : [];
    // Each person's history is replayed from their earliest new activity: this batch's events (a
    // loaded history arrives with past times, in any order) and the events a merge brought them.
    const since = new Map<string, Date>();
    const earlier = (id: string, at: Date) => {
      const s = since.get(id);
      if (!s || at < s) since.set(id, at);
    };
    for (const e of b.events) earlier(e.profileId, e.ts);
    const firstSeen = await this.repo.firstSeen(em, ws, b.merged.map((x) => x.mergedId));
    for (const x of b.merged) {
      const at = firstSeen.get(x.mergedId);
      if (at) earlier(x.survivorId, at);
    }
    const ids = [...new Set([...touched, ...inviters])];
    return { systemTags: [await this.advance(em, ws, m, ids, { now: b.now, inactivity: false, since, newEventsOnly: true, tagCause: 'lifecycle:ingest' })] };
  }

  /**
   * Re-derives the stage of some live people in the caller's transaction, returning their stage
   * tags: `replay` re-derives their whole history from their stored events (after an unmerge moved
   * events between them); otherwise they advance from their current state (a rebuild), and people
   * without one are replayed.
   */
  private async derive(em: EntityManager, ws: string, ids: string[], now: Date, cause: string, replay: boolean): Promise<SystemTagUpdate> {
    const m = compile(await this.model(ws, em));
    return this.advance(em, ws, m, ids, { now, inactivity: false, since: replay ? new Map(ids.map((id) => [id, null])) : undefined, tagCause: cause });
  }

  /**
   * One bounded step of the inactivity sweep: up to `maxProfiles` people whose last activity is old
   * enough for their next inactivity stage (沉默 after N days, 流失 after M) move there, with the
   * transition dated when the threshold passed. Skipped (returns 0) while a batch holds the
   * workspace's write lock. Returns how many people moved.
   */
  async sweepStep(ws: string, now = new Date(), maxProfiles = 5000): Promise<number> {
    let publish = () => {};
    const n = await this.ds.transaction(async (em) => {
      if (!(await tryLockWorkspaceWrites(em, ws))) return 0;
      const m = compile(await this.model(ws, em));
      if (!m.inactive.length) return 0;
      const next = [...m.main.map((s) => ({ stage: s.key, days: m.inactive[0].days })), ...m.inactive.slice(0, -1).map((s, i) => ({ stage: s.key, days: m.inactive[i + 1].days }))];
      const due = await this.repo.dueForInactivity(em, ws, m.model.key, next, now, maxProfiles);
      publish = (await this.systemTags.writeSystemTags(em, ws, [await this.write(em, ws, m, due, new Map(), { now, inactivity: true, tagCause: 'lifecycle:sweep' })])).publish;
      return due.length;
    });
    publish();
    return n;
  }

  /**
   * Evaluates these live people from their stored history and writes what changed. A person with a
   * replay moment in `since` (null: their whole history), and anyone without a state under the model,
   * is replayed: their transitions from that moment on are deleted and derived again, in time order,
   * from their events — so a history loaded at once, late events and merges give the transitions the
   * same events would have given arriving one by one in time order. The others advance from their
   * current state.
   */
  private async advance(
    em: EntityManager,
    ws: string,
    m: CompiledModel,
    ids: string[],
    opts: { now: Date; inactivity: boolean; since?: Map<string, Date | null>; newEventsOnly?: boolean; tagCause: string },
  ): Promise<SystemTagUpdate> {
    const states = await this.repo.states(em, ws, m.model.key, ids);
    const replays = states.flatMap((s) => {
      const since = opts.since?.has(s.profileId) ? opts.since.get(s.profileId)! : s.state ? undefined : null;
      return since === undefined ? [] : [{ profileId: s.profileId, since }];
    });
    const rewound = await this.repo.rewind(em, ws, m.model.key, replays, m.main.map((s) => s.key));
    for (const s of states) if (rewound.has(s.profileId)) s.state = rewound.get(s.profileId)!;
    const activity = m.inactive.length ? await this.repo.activity(em, ws, replays, m.inactive[0].days) : new Map<string, ActivityFacts>();
    const rankOf = (s: StateRow) => (s.state?.mainStage ? (m.rank.get(s.state.mainStage) ?? -1) : -1);

    // Only conditions of stages beyond each person's furthest stage need checking. With `newEventsOnly`
    // (a batch, a due moment), the history before a person's replay moment was judged already: no event
    // there meets a condition beyond the stage it left them in, so only events from that moment on are
    // read, and people who are not replayed (no new events) have no new event hits.
    const from = new Map(replays.map((r) => [r.profileId, r.since]));
    const ask = (kinds: string[]) =>
      states.flatMap((s) =>
        opts.newEventsOnly && !from.has(s.profileId)
          ? []
          : m.main.flatMap((st, r) => (r > rankOf(s) && kinds.includes(st.enter.kind) ? [{ profileId: s.profileId, stageKey: st.key, from: opts.newEventsOnly ? from.get(s.profileId) : null }] : [])),
      );
    const askInvites = (kinds: string[]) =>
      states.flatMap((s) => m.main.flatMap((st, r) => (r > rankOf(s) && kinds.includes(st.enter.kind) ? [{ profileId: s.profileId, stageKey: st.key }] : [])));
    const hits = new Map<string, StageFacts['hits']>(states.map((s) => [s.profileId, new Map()]));
    const add = (h: { profileId: string; stageKey: string; at: Date; cause: string }) => hits.get(h.profileId)?.set(h.stageKey, { at: h.at, cause: h.cause });

    const eventStages = m.main.filter((s) => s.enter.kind === 'first_event' || s.enter.kind === 'event_any_of');
    if (eventStages.length) {
      const anyEvent = eventStages.filter((s) => s.enter.kind === 'first_event').map((s) => s.key);
      const names = eventStages.flatMap((s) => (s.enter.kind === 'event_any_of' ? s.enter.events.map((name) => ({ stageKey: s.key, name })) : []));
      (await this.repo.eventHits(em, ws, ask(['first_event', 'event_any_of']), anyEvent, names)).forEach(add);
    }
    const orderStages = m.main.flatMap((s) => (s.enter.kind === 'orders_within' ? [{ stageKey: s.key, count: s.enter.count, days: s.enter.days }] : []));
    if (orderStages.length) (await this.repo.orderWindowHits(em, ws, ask(['orders_within']), orderStages)).forEach(add);
    const inviteStages = m.main.filter((s) => s.enter.kind === 'invitee_bought');
    if (inviteStages.length) {
      const pairs = askInvites(['invitee_bought']);
      const found = new Map((await this.repo.inviteeHits(em, ws, [...new Set(pairs.map((p) => p.profileId))])).map((f) => [f.profileId, f]));
      for (const p of pairs) {
        const f = found.get(p.profileId);
        if (f) add({ profileId: p.profileId, stageKey: p.stageKey, at: f.at, cause: `invitee_bought:profile:${f.inviteeId}` });
      }
    }
    return this.write(em, ws, m, states, hits, { ...opts, activity, rewound: new Set(rewound.keys()) });
  }

  private async write(
    em: EntityManager,
    ws: string,
    m: CompiledModel,
    states: StateRow[],
    hits: Map<string, StageFacts['hits']>,
    opts: { now: Date; inactivity: boolean; activity?: Map<string, ActivityFacts>; rewound?: Set<string>; tagCause: string },
  ): Promise<SystemTagUpdate> {
    const transitions: { profileId: string; t: Transition }[] = [];
    const next: { profileId: string; s: StageState }[] = [];
    const cleared: string[] = [];
    const after = new Map<string, StageState | null>();
    const tagged: { profileId: string; key: string; name: string }[] = [];
    for (const s of states) {
      const facts: StageFacts = { lastSeenAt: s.lastSeenAt, hits: hits.get(s.profileId) ?? new Map(), activity: opts.activity?.get(s.profileId) };
      const r = evaluate(m, s.state, facts, opts.inactivity ? opts.now : undefined);
      const rewound = opts.rewound?.has(s.profileId) ?? false;
      for (const t of r.transitions) transitions.push({ profileId: s.profileId, t });
      if (r.state && (r.transitions.length || rewound)) next.push({ profileId: s.profileId, s: r.state });
      else if (!r.state && rewound) cleared.push(s.profileId);
      // Every evaluated person with a stage gets exactly that stage tag (a merge may have brought a second).
      if (r.state) tagged.push({ profileId: s.profileId, key: `stage:${r.state.stage}`, name: m.names.get(r.state.stage) ?? r.state.stage });
      after.set(s.profileId, r.state);
    }
    await this.repo.insertTransitions(em, ws, m.model.key, transitions);
    await this.repo.upsertStates(em, ws, m.model.key, next);
    await this.repo.deleteStates(em, ws, cleared);
    // When each person next moves for inactivity: the due scheduler moves them then.
    await this.due.schedule(em, ws, 'stages', states.map((s) => ({ profileId: s.profileId, at: this.nextInactivity(m, after.get(s.profileId) ?? null, s.lastSeenAt) })));
    return { group: STAGE_TAG_GROUP, rows: tagged, cause: opts.tagCause };
  }

  /** When a person in `state`, last active at `lastSeenAt`, next moves for inactivity (null: never). */
  private nextInactivity(m: CompiledModel, state: StageState | null, lastSeenAt: Date | null): Date | null {
    if (!state || !lastSeenAt || !m.inactive.length) return null;
    const i = m.inactive.findIndex((s) => s.key === state.stage);
    const days = i < 0 ? m.inactive[0].days : m.inactive[i + 1]?.days;
    return days === undefined ? null : new Date(lastSeenAt.getTime() + days * 86_400_000);
  }

  // ---- reads -------------------------------------------------------------------------------

  /** Current stage of each profile id (null without one), in key order. */
  async stagesOf(ws: string, ids: readonly string[]): Promise<(CurrentStage | null)[]> {
    const m = compile(await this.model(ws, this.ds.manager));
    const map = await this.repo.currentOf(this.ds.manager, ws, m.model.key, ids);
    return ids.map((id) => currentStage(m, map.get(id)));
  }

  /** Transitions of each profile id, oldest first, in key order. */
  async historyOf(ws: string, ids: readonly string[]): Promise<TransitionRow[][]> {
    const rows = await this.repo.historyOf(this.ds.manager, ws, ids);
    return ids.map((id) => rows.filter((r) => r.profileId === id));
  }

  /** The funnel of the current model over [from, to); formulas in the GraphQL descriptions. */
  async funnel(ws: string, from: Date, to: Date): Promise<Funnel> {
    if (!(from < to)) throw AppError.badInput(StageErrorCode.INVALID_RANGE, 'range.to', 'to must be after from');
    if (to.getTime() - from.getTime() > MAX_RANGE_DAYS * 86_400_000) throw AppError.badInput(StageErrorCode.INVALID_RANGE, 'range', `a range is at most ${MAX_RANGE_DAYS} days`);
    const em = this.ds.manager;
    const m = compile(await this.model(ws, em));
    const key = m.model.key;
    const [current, reached, median, wakeUps] = await Promise.all([
      this.repo.currentCounts(em, ws, key),
      this.repo.reached(em, ws, key, m.main.map((s) => s.key), m.inactive.map((s) => s.key), from, to),
      this.repo.medianHours(em, ws, key, from, to),
      this.repo.wakeUps(em, ws, key, m.inactive.map((s) => s.key), from, to),
    ]);
    const stages: FunnelStage[] = m.model.stages.map((s) => {
      const r = m.rank.get(s.key);
      const n = reached.get(s.key) ?? 0;
      const nextKey = r !== undefined ? m.main[r + 1]?.key : undefined;
      return {
        key: s.key,
        name: s.name,
        inactive: r === undefined,
        current: current.get(s.key) ?? 0,
        reached: n,
        conversionToNext: nextKey && n > 0 ? (reached.get(nextKey) ?? 0) / n : null,
        medianHoursInStage: median.get(s.key) ?? null,
      };
    });
    return { modelKey: key, from, to, stages, wakeUps };
  }
}
