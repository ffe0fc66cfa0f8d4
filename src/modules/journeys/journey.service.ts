import type { EntityManager } from 'typeorm';
import { DueWork } from '../../platform/db/due-work';
import { lockWorkspaceWrites, tryLockWorkspaceWrites } from '../../platform/db/workspace-lock';
import { AppError } from '../../platform/errors';
import type { ModuleDeps } from '../../platform/module';
import type { BatchContext, Projection } from '../events';
import { Topics } from '../../platform/pubsub';
import { survivorOf } from '../profiles';
import { ANY_EVENT, BIRTHDAY_EVENT, validateName, validateSteps, type StepDef, type StepInputLike } from './journey.definition';
import { advanceByTime, applyEvent, enter, newOutput, type EngineJourney, type EngineOutput, type JourneyState } from './journey.engine';
import { JourneyErrorCode } from './journey.errors';
import { JourneyRepository, type JourneyRow, type PathRow, type TriggerRow } from './journey.repository';
import { JOURNEY_TEMPLATES, type JourneyTemplate, type JourneyTemplateKey } from './journey.templates';
import { AuditService, type AuditActor } from '../compliance';
import { UUID } from '../../shared/uuid';

export interface JourneyInputLike {
  name?: string | null;
  description?: string | null;
  active?: boolean | null;
  allowReentry?: boolean | null;
  steps?: StepInputLike[] | null;
}

/** A trigger about to fire (the payload of `journeyTriggered`). */
export interface TriggerCandidate {
  journeyId: string;
  profileId: string;
  entryNo: number;
  stepKey: string;
  at: Date;
}

/** The topic payload: ids and strings only (it crosses Redis as JSON). */
export interface JourneyTriggeredPayload {
  journeyId: string;
  profileId: string;
  stepKey: string;
  entryNo: number;
  at: string;
}

/**
 * Decides, per candidate, whether a trigger may fire (consent for marketing, PIPL). It runs inside
 * the transaction that records the trigger; a vetoed trigger is recorded as vetoed and never
 * published (nor fired later for that entry); `Journey.vetoedTriggers` and `JourneyStats.vetoed` show it.
 */
export type TriggerConsentCheck = (em: EntityManager, workspaceId: string, candidates: TriggerCandidate[]) => Promise<boolean[]>;

export interface JourneyStats {
  entered: number;
  active: number;
  completed: number;
  dropped: number;
  expired: number;
  /** Triggers of those entries sent, and held back by the consent check. */
  triggered: number;
  vetoed: number;
  steps: { key: string; name: string; reached: number; dropOff: number; medianSecondsFromPrevious: number | null }[];
}

export interface PathAnalysis {
  startEvent: string;
  depth: number;
  from: Date;
  to: Date;
  starts: number;
  scannedEvents: number;
  truncated: boolean;
  paths: { events: string[]; count: number; share: number }[];
}

const DAY_MS = 86_400_000;
/** Path analysis reads at most this many events (oldest first in the range) … */
export const PATH_SCAN_CAP = 200_000;
/** … over at most this many days (default: the last 30 days). */
export const PATH_MAX_RANGE_DAYS = 92;

const toEngine = (j: JourneyRow): EngineJourney => ({ id: j.id, steps: j.steps, allowReentry: j.allow_reentry });

/** The local calendar day of `now` in a time zone: `{ year, md: 'MM-DD' }`. */
export function localDay(now: Date, timeZone: string): { year: number; md: string } {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).formatToParts(now);
  const get = (t: string) => parts.find((p) => p.type === t)!.value;
  return { year: Number(get('year')), md: `${get('month')}-${get('day')}` };
}

const isLeap = (y: number) => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;

/**
 * Journeys (旅程): definitions and templates, per-person state advanced in every ingest batch's
 * transaction, the time-based part (windows ending, birthdays) in a sweep task, triggers published
 * after commit exactly once per person, entry and step, and funnel statistics.
 */
export class JourneyService {
  private readonly repo = new JourneyRepository();
  private readonly due = new DueWork();
  private readonly audit: AuditService;

  constructor(
    protected readonly ctx: ModuleDeps,
    /** Marketing consent of the people a trigger would reach (the compliance module); vetoed triggers are never published. */
    private readonly consentCheck: TriggerConsentCheck,
  ) {
    this.audit = new AuditService(ctx.ds);
  }

  /** The read model: journey states advanced by each batch's events, in the batch's transaction. */
  readonly projection: Projection = {
    name: 'journeys',
    // Consents recorded in a batch count for that batch's triggers; journeys may read the stage.
    after: ['compliance', 'stages'],
    apply: async (b) => {
      const publish = await this.afterBatch(b);
      return publish ? { afterCommit: publish } : undefined;
    },
    refresh: { skip: 'journey entries and triggers are history: an unmerge does not re-enter or re-trigger anyone (their entries stay where the events put them)' },
    rebuild: { skip: 'journey states are advanced only by events as they arrive; replaying history would re-send triggers' },
    sweep: (ws, now, max) => this.sweepStep(ws, now, max),
    // Entries whose window ended (a step not reached in time, a negative step reached by waiting).
    due: async (r) => {
      if (!r.profileIds.length) return;
      const journeys = new Map((await this.repo.list(r.em, r.workspaceId, true)).map((j) => [j.id, toEngine(j)]));
      const out = newOutput();
      for (const s of await this.repo.dueOf(r.em, r.workspaceId, r.profileIds, r.now)) {
        const j = journeys.get(s.journeyId);
        if (j) advanceByTime(j, s, r.now, true, out);
      }
      const publish = await this.write(r.em, r.workspaceId, out);
      await this.scheduleDeadlines(r.em, r.workspaceId, r.profileIds);
      return publish.length ? { afterCommit: () => this.publish(r.workspaceId, publish) } : undefined;
    },
    prefetch: { skip: 'no Profile field of this module' },
  };

  /** Each person's earliest active deadline becomes their due moment (`due_work`, projection `journeys`). */
  private async scheduleDeadlines(em: EntityManager, ws: string, ids: string[]): Promise<void> {
    const next = await this.repo.nextDeadlines(em, ws, ids);
    await this.due.schedule(em, ws, 'journeys', ids.map((id) => ({ profileId: id, at: next.get(id) ?? null })));
  }

  // ---- definitions -------------------------------------------------------------------------

  list(ws: string): Promise<JourneyRow[]> {
    return this.repo.list(this.ctx.ds.manager, ws);
  }

  async get(ws: string, id: string): Promise<JourneyRow> {
    if (!UUID.test(id)) throw AppError.badInput(JourneyErrorCode.INVALID_ID, 'id', 'id must be a journey id (UUID)');
    const j = await this.repo.get(this.ctx.ds.manager, ws, id);
    if (!j) throw AppError.notFound(JourneyErrorCode.JOURNEY_NOT_FOUND, `Journey ${id} does not exist in this workspace.`);
    return j;
  }

  /** The journey's triggers as they are published; NOT_FOUND for a journey not of this workspace. */
  async subscribeTriggered(ws: string, journeyId: string): Promise<AsyncIterable<unknown>> {
    await this.get(ws, journeyId);
    return this.ctx.pubSub.subscribe(Topics.journeyTriggered(ws, journeyId));
  }

  templates(): readonly JourneyTemplate[] {
    return JOURNEY_TEMPLATES;
  }

  async create(actor: AuditActor, input: JourneyInputLike, template: string | null = null): Promise<JourneyRow> {
    const ws = actor.workspaceId;
    const name = validateName(input.name, 'input.name');
    const steps = validateSteps(input.steps, 'input.steps');
    const id = await this.ctx.ds.transaction(async (em) => {
      const id = await this.repo.insert(em, ws, {
        name,
        description: input.description?.trim() || null,
        template,
        steps,
        active: input.active ?? true,
        allowReentry: input.allowReentry ?? true,
      });
      await this.audit.record(em, actor, { action: 'journey.create', targetType: 'journey', targetId: id, details: template ? { name, template } : { name } });
      return id;
    });
    return this.get(ws, id);
  }

  async createFromTemplate(actor: AuditActor, key: JourneyTemplateKey, name?: string | null): Promise<JourneyRow> {
    const t = JOURNEY_TEMPLATES.find((x) => x.key === key);
    if (!t) throw AppError.badInput(JourneyErrorCode.INVALID_JOURNEY, 'template', `unknown template ${JSON.stringify(key)}`);
    return this.create(actor, { name: name ?? t.name, description: t.description, allowReentry: t.allowReentry, steps: t.steps }, t.key);
  }

  /**
   * Name, description, active and re-entry can change at any time. Steps can change only while no
   * one has entered: entries and their statistics refer to step positions (create a new journey
   * and deactivate this one instead).
   */
  async update(actor: AuditActor, id: string, input: JourneyInputLike): Promise<JourneyRow> {
    const ws = actor.workspaceId;
    const current = await this.get(ws, id);
    const name = input.name !== undefined && input.name !== null ? validateName(input.name, 'input.name') : current.name;
    const steps: StepDef[] = input.steps !== undefined && input.steps !== null ? validateSteps(input.steps, 'input.steps') : current.steps;
    await this.ctx.ds.transaction(async (em) => {
      await this.lock(em, ws);
      if (input.steps && JSON.stringify(steps) !== JSON.stringify(current.steps) && (await this.repo.hasEntries(em, ws, id))) {
        throw AppError.conflict(JourneyErrorCode.JOURNEY_HAS_ENTRIES, 'People have entered this journey: its steps can no longer change. Create a new journey and deactivate this one.');
      }
      await this.repo.update(em, ws, id, {
        name,
        description: input.description === undefined ? current.description : input.description?.trim() || null,
        steps,
        active: input.active ?? current.active,
        allowReentry: input.allowReentry ?? current.allow_reentry,
      });
      await this.audit.record(em, actor, { action: 'journey.update', targetType: 'journey', targetId: id, details: { changed: Object.keys(input) } });
    });
    return this.get(ws, id);
  }

  /** Deletes the journey with its states, history and fired triggers. */
  async delete(actor: AuditActor, id: string): Promise<void> {
    const ws = actor.workspaceId;
    await this.get(ws, id);
    await this.ctx.ds.transaction(async (em) => {
      await this.lock(em, ws);
      await this.repo.delete(em, ws, id);
      await this.audit.record(em, actor, { action: 'journey.delete', targetType: 'journey', targetId: id });
    });
  }

  async entries(ws: string, journeyId: string, profileId: string): Promise<JourneyState[]> {
    if (!UUID.test(profileId)) throw AppError.badInput(JourneyErrorCode.INVALID_ID, 'profileId', 'profileId must be a profile id (UUID)');
    const [r] = await this.ctx.ds.query(
      `SELECT coalesce((SELECT ${survivorOf('p')} FROM profiles p WHERE p.workspace_id = $1 AND p.id = $2), $2::uuid) AS id`,
      [ws, profileId],
    );
    return this.repo.entriesOf(this.ctx.ds.manager, ws, journeyId, r.id);
  }

  // ---- ingest --------------------------------------------------------------------------------

  /**
   * In the batch's transaction: merged-away profiles' entries move to their survivors (numbered
   * after the survivor's; if both still have an active entry of a journey once the windows that
   * ended before the person's first event of the batch are resolved, the one further along stays
   * active and the other is `dropped`); then the batch's events, in batch order, advance the active
   * journeys' states of the touched people (one load, in-memory steps, `unnest` upserts).
   */
  async afterBatch(b: BatchContext): Promise<(() => void) | void> {
    const { em, workspaceId: ws } = b;
    await this.repo.moveOnMerge(em, ws, b.merged.map((m) => m.mergedId), b.merged.map((m) => m.survivorId));
    const journeys = (await this.repo.list(em, ws, true)).map(toEngine);
    if (!journeys.length || !b.events.length) return;
    const profileIds = [...new Set(b.events.map((e) => e.profileId))];
    const { active, maxEntry } = await this.repo.loadForProfiles(em, ws, journeys.map((j) => j.id), profileIds);
    const out = newOutput();
    const activeBy = new Map<string, JourneyState>();
    const byId = new Map(journeys.map((j) => [j.id, j]));
    const firstTs = new Map<string, Date>();
    for (const e of b.events) if (!firstTs.has(e.profileId)) firstTs.set(e.profileId, e.ts);
    for (const s of active) {
      const key = `${s.journeyId}|${s.profileId}`;
      const other = activeBy.get(key);
      if (!other) {
        activeBy.set(key, s);
        continue;
      }
      // Two active entries after a merge. Windows that ended before the person's first event of
      // the batch are resolved first (as that event would resolve them, and as a sweep in between
      // would have): an entry already expired is not "active" at the merge. Of two still active,
      // the one further along (then the earlier) stays.
      const j = byId.get(s.journeyId)!;
      const until = firstTs.get(s.profileId) ?? b.now;
      for (const x of [s, other]) advanceByTime(j, x, until, false, out);
      if (s.status !== 'active' || other.status !== 'active') {
        if (s.status === 'active') activeBy.set(key, s);
        else if (other.status !== 'active') activeBy.delete(key);
        continue;
      }
      const [keep, drop] = s.stepIndex > other.stepIndex || (s.stepIndex === other.stepIndex && s.enteredAt < other.enteredAt) ? [s, other] : [other, s];
      activeBy.set(key, keep);
      drop.status = 'dropped';
      drop.completedAt = b.now;
      drop.deadline = null;
      out.changed.add(drop);
    }

    // The silence matcher needs each candidate event's previous event time (one indexed probe each).
    const silenceEvents = new Set(journeys.flatMap((j) => j.steps.filter((s) => s.match.afterSilenceDays !== null).map((s) => s.match.event)));
    const probe = silenceEvents.size ? b.events.map((e, i) => ({ e, i })).filter(({ e }) => silenceEvents.has(ANY_EVENT) || (e.name !== null && silenceEvents.has(e.name))) : [];
    const prevTimes = await this.repo.previousEventTimes(em, ws, probe.map(({ e }) => e));
    const previous = new Map(probe.map(({ i }, k) => [i, prevTimes[k]]));
    const firstSeen = new Map(b.profiles.map((p) => [p.id, p.firstSeenAt]));

    b.events.forEach((e, i) => {
      const info = { previousEventAt: previous.get(i) ?? null, firstSeenAt: firstSeen.get(e.profileId) ?? null };
      for (const j of journeys) {
        const key = `${j.id}|${e.profileId}`;
        const s = activeBy.get(key);
        const entered = applyEvent(j, s, maxEntry.get(key) ?? 0, e.profileId, e, info, out);
        if (s && s.status !== 'active') activeBy.delete(key);
        if (entered) {
          maxEntry.set(key, entered.entryNo);
          if (entered.status === 'active') activeBy.set(key, entered);
        }
      }
    });
    const publish = await this.write(em, ws, out);
    await this.scheduleDeadlines(em, ws, profileIds);
    return publish.length ? () => this.publish(ws, publish) : undefined;
  }

  // ---- sweep ---------------------------------------------------------------------------------

  /**
   * One bounded step of the time-based work: active entries whose window ended by `now` (at most
   * `maxProfiles`, oldest deadline first) expire or reach their negative step; then, with what is
   * left of the budget, today's birthdays (workspace time zone) enter birthday journeys. Runs in its
   * own transaction under the workspace's ingest lock, taken without waiting (skipped when busy);
   * triggers are published after commit. Returns how many profiles it handled.
   */
  async sweepStep(ws: string, now: Date = new Date(), maxProfiles = 5000): Promise<number> {
    const result = await this.ctx.ds.transaction(async (em) => {
      const ok = await tryLockWorkspaceWrites(em, ws);
      if (!ok) return null;
      const journeys = new Map((await this.repo.list(em, ws, true)).map((j) => [j.id, toEngine(j)]));
      if (!journeys.size) return { handled: 0, publish: [] };
      const out = newOutput();
      const handled = new Set<string>();
      for (const s of await this.repo.due(em, ws, now, maxProfiles)) {
        advanceByTime(journeys.get(s.journeyId)!, s, now, true, out);
        handled.add(s.profileId);
      }
      let budget = maxProfiles - handled.size;
      const birthdayJourneys = [...journeys.values()].filter((j) => j.steps[0].match.event === BIRTHDAY_EVENT);
      if (birthdayJourneys.length && budget > 0) {
        const { year, md } = localDay(now, await this.repo.timeZone(em, ws));
        // 29 February birthdays are celebrated on 28 February in common years.
        const days = md === '02-28' && !isLeap(year) ? ['02-28', '02-29'] : [md];
        const entryKey = `birthday:${year}`;
        for (const j of birthdayJourneys) {
          if (budget <= 0) break;
          const ids = await this.repo.birthdays(em, ws, j.id, days, entryKey, budget);
          if (!ids.length) continue;
          const existing = await this.repo.maxEntries(em, ws, j.id, ids);
          const { active } = await this.repo.loadForProfiles(em, ws, [j.id], ids.filter((id) => existing.get(id)?.active));
          for (const s of active) {
            // Last year's entry still waiting: this birthday ends it.
            s.status = 'expired';
            s.completedAt = now;
            s.deadline = null;
            out.changed.add(s);
          }
          for (const id of ids) {
            enter(j, id, (existing.get(id)?.maxNo ?? 0) + 1, entryKey, now, out);
            handled.add(id);
          }
          budget -= ids.length;
        }
      }
      const publish = await this.write(em, ws, out);
      await this.scheduleDeadlines(em, ws, [...handled]);
      return { handled: handled.size, publish };
    });
    if (!result) return 0;
    this.publish(ws, result.publish);
    return result.handled;
  }

  // ---- statistics ----------------------------------------------------------------------------

  /**
   * Funnel of the entries that started in `[from, to)` (all entries without a range): per step how
   * many reached it, how many of those who reached the previous step did not (drop-off), and the
   * median time from the previous step.
   */
  async stats(ws: string, journey: JourneyRow, from: Date | null, to: Date | null): Promise<JourneyStats> {
    if (from && to && from >= to) throw AppError.badInput(JourneyErrorCode.INVALID_RANGE, 'range', 'from must be before to');
    const [counts, triggers, rows] = await Promise.all([
      this.repo.entryCounts(this.ctx.ds.manager, ws, journey.id, from, to),
      this.repo.triggerCounts(this.ctx.ds.manager, ws, journey.id, from, to),
      this.repo.stepStats(this.ctx.ds.manager, ws, journey.id, from, to),
    ]);
    const byIndex = new Map(rows.map((r) => [r.step_index, r]));
    let previous = counts.entered;
    const steps = journey.steps.map((s, i) => {
      const r = byIndex.get(i);
      const reached = r?.reached ?? 0;
      const step = { key: s.key, name: s.name, reached, dropOff: i === 0 ? 0 : previous - reached, medianSecondsFromPrevious: i === 0 ? null : (r?.median_seconds ?? null) };
      previous = reached;
      return step;
    });
    return { ...counts, ...triggers, steps };
  }

  /**
   * Triggers the consent check held back (recorded, never published, never fired later for that
   * entry), newest first. The check's only reason today is missing marketing consent.
   */
  async vetoedTriggers(ws: string, journeyId: string, first: number): Promise<TriggerRow[]> {
    if (!Number.isInteger(first) || first < 1 || first > 100) throw AppError.badInput(JourneyErrorCode.INVALID_LIMIT, 'first', 'first must be between 1 and 100');
    return this.repo.vetoedTriggers(this.ctx.ds.manager, ws, journeyId, first);
  }

  /**
   * The most common sequences of the `depth` events following each occurrence of `startEvent`
   * (per person, in time order), over `[from, to)` — default the last 30 days, at most 92 days, and
   * at most 200,000 events read (oldest first; `truncated` says when the cap was hit). Sequences
   * shorter than `depth` (the person did nothing more in the range) count as they are; occurrences
   * followed by nothing count in `starts` only.
   */
  async pathAnalysis(ws: string, args: { startEvent: string; depth: number; top: number; from?: Date | null; to?: Date | null }, now = new Date()): Promise<PathAnalysis> {
    const startEvent = args.startEvent.trim();
    if (!startEvent || startEvent.length > 200) throw AppError.badInput(JourneyErrorCode.INVALID_JOURNEY, 'startEvent', 'startEvent must be 1–200 characters');
    if (!Number.isInteger(args.depth) || args.depth < 1 || args.depth > 10) throw AppError.badInput(JourneyErrorCode.INVALID_LIMIT, 'depth', 'depth must be between 1 and 10');
    if (!Number.isInteger(args.top) || args.top < 1 || args.top > 100) throw AppError.badInput(JourneyErrorCode.INVALID_LIMIT, 'top', 'top must be between 1 and 100');
    const to = args.to ?? now;
    const from = args.from ?? new Date(to.getTime() - 30 * DAY_MS);
    if (from >= to) throw AppError.badInput(JourneyErrorCode.INVALID_RANGE, 'range', 'from must be before to');
    if (to.getTime() - from.getTime() > PATH_MAX_RANGE_DAYS * DAY_MS) throw AppError.badInput(JourneyErrorCode.INVALID_RANGE, 'range', `the range can span at most ${PATH_MAX_RANGE_DAYS} days`);
    const r = await this.repo.paths(this.ctx.ds.manager, ws, startEvent, args.depth, args.top, from, to, PATH_SCAN_CAP);
    return {
      startEvent,
      depth: args.depth,
      from,
      to,
      starts: r.starts,
      scannedEvents: r.scanned,
      truncated: r.scanned >= PATH_SCAN_CAP,
      paths: r.rows.map((p: PathRow) => ({ events: p.path, count: p.n, share: r.starts ? p.n / r.starts : 0 })),
    };
  }

  // ---- helpers -------------------------------------------------------------------------------

  /** Writes states, history and triggers; returns the triggers to publish after commit. */
  private async write(em: EntityManager, ws: string, out: EngineOutput): Promise<JourneyTriggeredPayload[]> {
    await this.repo.saveStates(em, ws, [...out.changed]);
    await this.repo.saveHistory(em, ws, out.reached);
    if (!out.fired.length) return [];
    const allowed = await this.consentCheck(em, ws, out.fired);
    const recorded = await this.repo.recordTriggers(em, ws, out.fired.map((f, i) => ({ ...f, vetoed: !allowed[i] })));
    return recorded
      .filter((r) => !r.vetoed)
      .map((r) => ({ journeyId: r.journey_id, profileId: r.profile_id, stepKey: r.step_key, entryNo: r.entry_no, at: new Date(r.at).toISOString() }));
  }

  private publish(ws: string, payloads: JourneyTriggeredPayload[]): void {
    for (const p of payloads) this.ctx.pubSub.publish(Topics.journeyTriggered(ws, p.journeyId), p);
  }

  private async lock(em: EntityManager, ws: string): Promise<void> {
    // The ingest lock: definitions never change under a batch that is advancing states.
    await lockWorkspaceWrites(em, ws);
  }
}
