import { AppError, ErrorClass, type FieldError } from '../../platform/errors';
import { StageErrorCode } from './stage.errors';

/**
 * The declarative rule form of a lifecycle stage model (生命周期模型). A model is an ordered list of
 * stages, each `{ key, name, enter }` where `enter` is one condition:
 *
 * - `first_event` — the person has any event.
 * - `event_any_of { events }` — the person has an event whose name is one of `events`.
 * - `orders_within { count, days }` — `count` `Order Completed` events within `days` days.
 * - `invitee_bought` — someone the person invited (relation `invited`) has ordered.
 * - `inactive_days { days }` — no event for `days` days (an inactivity stage, e.g. 沉默, 流失).
 *
 * Stages with the first four kinds form the main sequence, in the order listed: a person moves
 * forward only, to the furthest stage whose condition holds. Inactivity stages come last with
 * increasing `days`; any activity after one takes the person back to the main stage they left
 * (a wake-up, 沉默唤醒).
 */
export type StageCondition =
  | { kind: 'first_event' }
  | { kind: 'event_any_of'; events: string[] }
  | { kind: 'orders_within'; count: number; days: number }
  | { kind: 'invitee_bought' }
  | { kind: 'inactive_days'; days: number };

export type ConditionKind = StageCondition['kind'];
export const CONDITION_KINDS: readonly ConditionKind[] = ['first_event', 'event_any_of', 'orders_within', 'invitee_bought', 'inactive_days'];

export interface StageDefinition {
  key: string;
  name: string;
  enter: StageCondition;
}

export interface StageModel {
  key: string;
  name: string;
  stages: StageDefinition[];
}

/** The name of the order event counted by `orders_within`. */
export const ORDER_EVENT = 'Order Completed';

export const DEFAULT_INTERACTIONS = ['Message Sent', 'Liked', 'Content Shared', 'Group Joined', 'Comment Posted', 'Invite Accepted', 'Followed'];

export const DEFAULT_MODEL: StageModel = Object.freeze({
  key: 'default',
  name: '默认生命周期',
  stages: [
    { key: 'awareness', name: '认知', enter: { kind: 'first_event' } },
    { key: 'interest', name: '兴趣', enter: { kind: 'event_any_of', events: DEFAULT_INTERACTIONS } },
    { key: 'purchase', name: '购买', enter: { kind: 'event_any_of', events: [ORDER_EVENT] } },
    { key: 'loyalty', name: '忠诚', enter: { kind: 'orders_within', count: 2, days: 90 } },
    { key: 'advocacy', name: '推荐', enter: { kind: 'invitee_bought' } },
    { key: 'silent', name: '沉默', enter: { kind: 'inactive_days', days: 30 } },
    { key: 'churned', name: '流失', enter: { kind: 'inactive_days', days: 90 } },
  ],
}) as StageModel;

/** A model ready for evaluation: main sequence with ranks, inactivity stages by increasing days. */
export interface CompiledModel {
  model: StageModel;
  main: StageDefinition[];
  inactive: { key: string; name: string; days: number }[];
  rank: Map<string, number>;
  inactiveIndex: Map<string, number>;
  names: Map<string, string>;
}

/** A person's current stage as `Profile.stage` reads it: the stored state under the model, named. */
export interface CurrentStage {
  state: StageState;
  name: string;
  inactive: boolean;
}

export function currentStage(m: CompiledModel, s: StageState | undefined | null): CurrentStage | null {
  return s ? { state: s, name: m.names.get(s.stage) ?? s.stage, inactive: m.inactiveIndex.has(s.stage) } : null;
}

export function compile(model: StageModel): CompiledModel {
  const main = model.stages.filter((s) => s.enter.kind !== 'inactive_days');
  const inactive = model.stages.flatMap((s) => (s.enter.kind === 'inactive_days' ? [{ key: s.key, name: s.name, days: s.enter.days }] : []));
  return {
    model,
    main,
    inactive,
    rank: new Map(main.map((s, i) => [s.key, i])),
    inactiveIndex: new Map(inactive.map((s, i) => [s.key, i])),
    names: new Map(model.stages.map((s) => [s.key, s.name])),
  };
}

/** A model with its fields in a fixed order (jsonb does not keep key order): for comparing. */
export function canonical(m: StageModel): string {
  return JSON.stringify({
    key: m.key,
    name: m.name,
    stages: m.stages.map((s) => {
      const e = s.enter;
      return [s.key, s.name, e.kind, e.kind === 'event_any_of' ? e.events : null, e.kind === 'orders_within' ? e.count : null, e.kind === 'orders_within' || e.kind === 'inactive_days' ? e.days : null];
    }),
  });
}

// ---- validation ------------------------------------------------------------------------------

export interface StageModelInputShape {
  key: string;
  name: string;
  stages: { key: string; name: string; enter: { kind: string; events?: string[] | null; count?: number | null; days?: number | null } }[];
}

const KEY = /^[a-z][a-z0-9_]{0,31}$/;
const MAX_STAGES = 20;
const MAX_EVENTS = 50;
const MAX_DAYS = 3650;

/**
 * Checks a model as sent to `updateStageModel` and returns it normalised. Every problem is
 * reported at once with its input path (`input.stages.2.enter.days`); nothing is changed.
 */
export function validateModel(input: StageModelInputShape, base = 'input'): StageModel {
  const errors: FieldError[] = [];
  const fail = (field: string, message: string) => errors.push({ field: `${base}.${field}`, message });
  const key = input.key?.trim() ?? '';
  if (!KEY.test(key)) fail('key', 'a model key is 1–32 lower-case letters, digits or _, starting with a letter');
  const name = input.name?.trim() ?? '';
  if (!name || name.length > 64) fail('name', 'a name is 1–64 characters');
  const stages: StageDefinition[] = [];
  if (!input.stages?.length) fail('stages', 'a model needs at least one stage');
  if ((input.stages?.length ?? 0) > MAX_STAGES) fail('stages', `at most ${MAX_STAGES} stages`);
  const seen = new Map<string, number>();
  let lastInactiveDays: number | null = null;
  let firstEvent = -1;
  (input.stages ?? []).slice(0, MAX_STAGES).forEach((s, i) => {
    const at = `stages.${i}`;
    const sk = s.key?.trim() ?? '';
    if (!KEY.test(sk)) fail(`${at}.key`, 'a stage key is 1–32 lower-case letters, digits or _, starting with a letter');
    else if (seen.has(sk)) fail(`${at}.key`, `duplicate stage key ${JSON.stringify(sk)} (also stages.${seen.get(sk)})`);
    else seen.set(sk, i);
    const sn = s.name?.trim() ?? '';
    if (!sn || sn.length > 64) fail(`${at}.name`, 'a name is 1–64 characters');
    const e = s.enter ?? { kind: '' };
    const used = { events: false, count: false, days: false };
    let cond: StageCondition | null = null;
    const days = (field: string): number | null => {
      used.days = true;
      if (e.days === null || e.days === undefined) return fail(`${at}.enter.${field}`, `${e.kind} needs days`), null;
      if (!Number.isInteger(e.days) || e.days < 1 || e.days > MAX_DAYS) return fail(`${at}.enter.${field}`, `days must be a whole number from 1 to ${MAX_DAYS}`), null;
      return e.days;
    };
    switch (e.kind) {
      case 'first_event':
        if (firstEvent >= 0) fail(`${at}.enter.kind`, `only one stage may use first_event (also stages.${firstEvent})`);
        firstEvent = i;
        cond = { kind: 'first_event' };
        break;
      case 'invitee_bought':
        cond = { kind: 'invitee_bought' };
        break;
      case 'event_any_of': {
        used.events = true;
        const names = (e.events ?? []).map((n) => n?.trim() ?? '');
        if (!names.length) fail(`${at}.enter.events`, 'event_any_of needs at least one event name');
        else if (names.length > MAX_EVENTS) fail(`${at}.enter.events`, `at most ${MAX_EVENTS} event names`);
        names.forEach((n, j) => {
          if (!n || n.length > 200) fail(`${at}.enter.events.${j}`, 'an event name is 1–200 characters');
          else if (names.indexOf(n) !== j) fail(`${at}.enter.events.${j}`, `duplicate event name ${JSON.stringify(n)}`);
        });
        cond = { kind: 'event_any_of', events: names };
        break;
      }
      case 'orders_within': {
        used.count = true;
        const d = days('days');
        if (e.count === null || e.count === undefined) fail(`${at}.enter.count`, 'orders_within needs count');
        else if (!Number.isInteger(e.count) || e.count < 1 || e.count > 1000) fail(`${at}.enter.count`, 'count must be a whole number from 1 to 1000');
        cond = { kind: 'orders_within', count: e.count ?? 0, days: d ?? 0 };
        break;
      }
      case 'inactive_days': {
        const d = days('days');
        if (d !== null && lastInactiveDays !== null && d <= lastInactiveDays) {
          fail(`${at}.enter.days`, `inactivity stages need increasing days: ${d} must be greater than ${lastInactiveDays} of the stage before`);
        }
        if (d !== null) lastInactiveDays = d;
        cond = { kind: 'inactive_days', days: d ?? 0 };
        break;
      }
      default:
        fail(`${at}.enter.kind`, `unknown condition kind ${JSON.stringify(e.kind)}; one of ${CONDITION_KINDS.join(', ')}`);
    }
    if (cond && cond.kind !== 'inactive_days' && lastInactiveDays !== null) {
      fail(`${at}.enter.kind`, 'main-sequence stages come before the inactivity (inactive_days) stages');
    }
    if (cond) {
      if (!used.events && e.events != null) fail(`${at}.enter.events`, `${e.kind} takes no events`);
      if (!used.count && e.count != null) fail(`${at}.enter.count`, `${e.kind} takes no count`);
      if (!used.days && e.days != null) fail(`${at}.enter.days`, `${e.kind} takes no days`);
      stages.push({ key: sk, name: sn, enter: cond });
    }
  });
  if (input.stages?.length && !input.stages.some((s) => s.enter?.kind !== 'inactive_days')) {
    fail('stages', 'a model needs at least one main-sequence stage (not inactive_days)');
  }
  if (errors.length) {
    throw new AppError(ErrorClass.BAD_USER_INPUT, StageErrorCode.INVALID_STAGE_MODEL, `The stage model is invalid: ${errors.map((x) => `${x.field}: ${x.message}`).join('; ')}`, errors);
  }
  return { key, name, stages };
}

// ---- evaluation ------------------------------------------------------------------------------

/** A person's current place in the model. `mainStage` is the furthest main stage reached. */
export interface StageState {
  stage: string;
  mainStage: string | null;
  enteredAt: Date;
  previousStage: string | null;
}

/**
 * A person's activity after `since` (the moment an evaluation replays from): the first event at or
 * after it, and every gap — an event after at least the first inactivity stage's days without any —
 * ending at or after it. `from` is the activity before the gap (possibly before `since`).
 */
export interface ActivityFacts {
  first: { at: Date; cause: string } | null;
  gaps: { from: Date; to: Date; cause: string }[];
}

export interface StageFacts {
  lastSeenAt: Date | null;
  /** Main stages whose condition holds, with when it first held and why. */
  hits: Map<string, { at: Date; cause: string }>;
  /**
   * Activity to replay (ingest, re-derivation). Without it, the stored last activity stands for it:
   * someone inactive who was seen after their silence began wakes up then.
   */
  activity?: ActivityFacts;
}

export interface Transition {
  from: string | null;
  to: string;
  at: Date;
  cause: string;
  wakeUp: boolean;
}

const DAY_MS = 86_400_000;
const later = (a: Date, b: Date | null | undefined) => (b && b > a ? b : a);

/** A moment of the replay: an inactivity threshold passing, activity (wakes the inactive), a main stage's condition holding. */
type Point =
  | { at: Date; kind: 0; inactive: number }
  | { at: Date; kind: 1; cause: string }
  | { at: Date; kind: 2; key: string; rank: number; cause: string };

/**
 * One person's transitions from their current state, replaying in time order: each inactivity
 * threshold that passed inside a gap of activity (last activity + days), each wake-up (activity
 * after an inactivity stage: back to the main stage left), and each main-stage condition as it
 * first held — a forward move to the furthest stage holding at that moment; one that held while
 * the person was inactive applies when they wake up. With `inactiveAt` (the sweep, a model change)
 * the thresholds after the last activity that passed by then apply too (and those passed by the
 * time a condition held without activity of the person's own). Conditions that held
 * before the current stage was entered count from then; transition times never go backwards.
 */
export function evaluate(m: CompiledModel, current: StageState | null, facts: StageFacts, inactiveAt?: Date): { transitions: Transition[]; state: StageState | null } {
  const out: Transition[] = [];
  let state = current;
  const move = (to: string, at: Date, cause: string, wakeUp: boolean) => {
    const when = later(at, state?.enteredAt);
    out.push({ from: state?.stage ?? null, to, at: when, cause, wakeUp });
    state = { stage: to, mainStage: m.rank.has(to) ? to : (state?.mainStage ?? null), enteredAt: when, previousStage: state?.stage ?? null };
  };
  const rank = () => (state?.mainStage != null ? (m.rank.get(state.mainStage) ?? -1) : -1);
  const inactive = () => (state ? m.inactiveIndex.get(state.stage) : undefined);

  const points: Point[] = [];
  const thresholds = (lastActive: Date, until: Date) => {
    for (let i = 0; i < m.inactive.length; i++) {
      const at = new Date(lastActive.getTime() + m.inactive[i].days * DAY_MS);
      if (at > until) break;
      points.push({ at, kind: 0, inactive: i });
    }
  };
  let activity = facts.activity;
  const ii = inactive();
  if (!activity && state && ii !== undefined && facts.lastSeenAt) {
    const silentSince = new Date(state.enteredAt.getTime() - m.inactive[ii].days * DAY_MS);
    if (facts.lastSeenAt > silentSince) activity = { first: { at: facts.lastSeenAt, cause: 'activity' }, gaps: [] };
  }
  if (activity?.first) points.push({ at: activity.first.at, kind: 1, cause: activity.first.cause });
  for (const g of activity?.gaps ?? []) {
    thresholds(g.from, g.to);
    points.push({ at: g.to, kind: 1, cause: g.cause });
  }
  const from = rank();
  let until = inactiveAt;
  for (const [key, h] of facts.hits) {
    const r = m.rank.get(key);
    if (r === undefined || r <= from) continue;
    const at = later(h.at, state?.enteredAt);
    points.push({ at, kind: 2, key, rank: r, cause: h.cause });
    until = later(at, until);
  }
  // After the last activity: the thresholds passed by `inactiveAt`, and by a condition holding
  // without activity of the person's own (an invitee's order) — they are silent by then.
  if (until && facts.lastSeenAt) thresholds(facts.lastSeenAt, until);
  // Same moment: a threshold, then the activity that ends the silence, then what that activity achieved (furthest first).
  points.sort((a, b) => a.at.getTime() - b.at.getTime() || a.kind - b.kind || (b.kind === 2 && a.kind === 2 ? b.rank - a.rank : 0));

  let deferred: Extract<Point, { kind: 2 }> | null = null;
  for (const p of points) {
    if (p.kind === 0) {
      if (state && p.inactive > (inactive() ?? -1)) move(m.inactive[p.inactive].key, p.at, `inactive_days:${m.inactive[p.inactive].days}`, false);
    } else if (p.kind === 1) {
      if (state?.mainStage && inactive() !== undefined) {
        move(state.mainStage, p.at, `wake_up:${p.cause}`, true);
        // Someone inactive (an invitee of theirs bought, say) advances when they wake up.
        if (deferred && deferred.rank > rank()) move(deferred.key, p.at, deferred.cause, false);
        deferred = null;
      }
    } else if (p.rank > rank()) {
      if (inactive() !== undefined) {
        if (!deferred || p.rank > deferred.rank) deferred = p;
      } else move(p.key, p.at, p.cause, false);
    }
  }
  return { transitions: out, state };
}
