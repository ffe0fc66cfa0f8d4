import { AppError, ErrorClass, type FieldError } from '../../platform/errors';
import { JourneyErrorCode } from './journey.errors';

/** Comparison operators of a property condition. */
export const CONDITION_OPS = ['==', '!=', '>', '>=', '<', '<=', 'in'] as const;
export type ConditionOp = (typeof CONDITION_OPS)[number];

/** Matches any event (track, page, screen, identify, …). */
export const ANY_EVENT = '*';
/** A synthetic event the sweep generates on the person's birthday (first step only). */
export const BIRTHDAY_EVENT = '$birthday';

export interface Condition {
  property: string;
  op: ConditionOp;
  value: unknown;
}

export interface StepMatch {
  /** Event name, `*` (any event) or `$birthday`. */
  event: string;
  where: Condition[];
  /** Only when the person's previous event is at least this many days older (沉默唤醒). */
  afterSilenceDays: number | null;
  /** Only the person's first event ever (its time is the profile's first-seen time). */
  firstEvent: boolean;
}

export interface StepDef {
  key: string;
  name: string;
  match: StepMatch;
  /** `<N>h` or `<N>d`, measured from the previous step; null = no time limit. */
  within: string | null;
  negative: boolean;
  trigger: boolean;
}

export interface JourneyDefinition {
  name: string;
  description: string | null;
  steps: StepDef[];
  allowReentry: boolean;
  active: boolean;
}

/** What the GraphQL inputs carry (everything optional so that validation reports precisely). */
export interface StepInputLike {
  key?: string | null;
  name?: string | null;
  match?: { event?: string | null; where?: { property?: string | null; op?: string | null; value?: unknown }[] | null; afterSilenceDays?: number | null; firstEvent?: boolean | null } | null;
  within?: string | null;
  negative?: boolean | null;
  trigger?: boolean | null;
}

export const MAX_STEPS = 20;
export const MAX_CONDITIONS = 20;
const STEP_KEY = /^[\p{L}\p{N}_:.-]{1,64}$/u;
const WITHIN = /^([1-9][0-9]{0,4})(h|d)$/;
const MAX_WITHIN_MS = 366 * 86_400_000;
const PROPERTY = /^[\p{L}\p{N}_$-]+(\.[\p{L}\p{N}_$-]+)*$/u;

/** `24h` → 86 400 000; null when malformed. */
export function withinMs(within: string): number | null {
  const m = WITHIN.exec(within);
  if (!m) return null;
  return Number(m[1]) * (m[2] === 'h' ? 3_600_000 : 86_400_000);
}

function isScalar(v: unknown): boolean {
  return typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));
}

/**
 * Validates a step list and returns the normalised definition, or throws one BAD_USER_INPUT
 * `INVALID_JOURNEY` listing every problem with its field path (`input.steps.1.within`).
 */
export function validateSteps(raw: StepInputLike[] | null | undefined, path: string): StepDef[] {
  const errors: FieldError[] = [];
  const err = (field: string, message: string) => errors.push({ field, message });
  const steps: StepDef[] = [];
  if (!Array.isArray(raw) || raw.length === 0) err(path, 'a journey needs at least one step');
  else if (raw.length > MAX_STEPS) err(path, `at most ${MAX_STEPS} steps`);
  const keys = new Map<string, number>();
  (Array.isArray(raw) ? raw.slice(0, MAX_STEPS) : []).forEach((s, i) => {
    const p = `${path}.${i}`;
    const key = (s.key ?? '').trim();
    if (!STEP_KEY.test(key)) err(`${p}.key`, 'key must be 1–64 letters, digits or _ : . -');
    else if (keys.has(key)) err(`${p}.key`, `key ${JSON.stringify(key)} is already used by step ${keys.get(key)}`);
    else keys.set(key, i);
    const name = (s.name ?? '').trim();
    if (!name || name.length > 100) err(`${p}.name`, 'name must be 1–100 characters');
    const event = (s.match?.event ?? '').trim();
    if (!s.match) err(`${p}.match`, 'match is required');
    else if (!event || event.length > 200) err(`${p}.match.event`, 'event must be 1–200 characters (an event name, "*" for any event, or "$birthday")');
    else if (event === BIRTHDAY_EVENT && i > 0) err(`${p}.match.event`, '"$birthday" can only be the first step');
    else if (event.startsWith('$') && event !== BIRTHDAY_EVENT) err(`${p}.match.event`, 'the only special event is "$birthday"');
    const where: Condition[] = [];
    const rawWhere = s.match?.where ?? [];
    if (rawWhere.length > MAX_CONDITIONS) err(`${p}.match.where`, `at most ${MAX_CONDITIONS} conditions`);
    if (event === BIRTHDAY_EVENT && rawWhere.length) err(`${p}.match.where`, '"$birthday" has no properties to match');
    rawWhere.slice(0, MAX_CONDITIONS).forEach((c, k) => {
      const cp = `${p}.match.where.${k}`;
      const property = (c.property ?? '').trim();
      if (!PROPERTY.test(property) || property.length > 200) err(`${cp}.property`, 'property must be a property name or a dotted path (e.g. "product.category")');
      const op = c.op as ConditionOp;
      if (!CONDITION_OPS.includes(op)) {
        err(`${cp}.op`, `op must be one of ${CONDITION_OPS.join(', ')}`);
        return;
      }
      const v = c.value;
      if (op === 'in') {
        if (!Array.isArray(v) || v.length === 0 || v.length > 100 || !v.every(isScalar)) err(`${cp}.value`, '"in" needs a list of 1–100 strings, numbers or booleans');
      } else if (op === '==' || op === '!=') {
        if (!isScalar(v)) err(`${cp}.value`, `"${op}" needs a string, number or boolean`);
      } else if (!(typeof v === 'number' && Number.isFinite(v)) && typeof v !== 'string') {
        err(`${cp}.value`, `"${op}" needs a number or a string (strings compare in order, e.g. ISO dates)`);
      }
      where.push({ property, op, value: v });
    });
    const silence = s.match?.afterSilenceDays ?? null;
    if (silence !== null && (!Number.isInteger(silence) || silence < 1 || silence > 3650)) err(`${p}.match.afterSilenceDays`, 'afterSilenceDays must be a whole number of days, 1–3650');
    if (silence !== null && event === BIRTHDAY_EVENT) err(`${p}.match.afterSilenceDays`, 'not with "$birthday"');
    const negative = s.negative ?? false;
    const trigger = s.trigger ?? false;
    const within = s.within?.trim() || null;
    if (within !== null) {
      const ms = withinMs(within);
      if (ms === null) err(`${p}.within`, 'within must look like "24h" or "7d"');
      else if (ms > MAX_WITHIN_MS) err(`${p}.within`, 'within can be at most 366 days');
      else if (i === 0) err(`${p}.within`, 'the first step has no previous step to measure within from');
    }
    if (negative && i === 0) err(`${p}.negative`, 'the first step cannot be negative: a journey is entered by an event');
    else if (negative && within === null) err(`${p}.within`, 'a negative step needs within: "no matching event within …"');
    if (negative && event === BIRTHDAY_EVENT) err(`${p}.negative`, '"$birthday" cannot be negative');
    steps.push({
      key,
      name,
      match: { event, where, afterSilenceDays: silence, firstEvent: s.match?.firstEvent ?? false },
      within,
      negative,
      trigger,
    });
  });
  if (errors.length) {
    throw new AppError(ErrorClass.BAD_USER_INPUT, JourneyErrorCode.INVALID_JOURNEY, `Invalid journey: ${errors.map((e) => `${e.field}: ${e.message}`).join('; ')}`, errors);
  }
  return steps;
}

export function validateName(name: string | null | undefined, field: string): string {
  const n = (name ?? '').trim();
  if (!n || n.length > 100) throw AppError.badInput(JourneyErrorCode.INVALID_JOURNEY, field, 'name must be 1–100 characters');
  return n;
}

// ---- matching ------------------------------------------------------------------------------

export interface MatchableEvent {
  name: string | null;
  ts: Date;
  properties: Record<string, unknown> | null;
}

/** What a matcher may need beyond the event: the person's previous event and first-seen time. */
export interface MatchInfo {
  previousEventAt: Date | null;
  firstSeenAt: Date | null;
}

function lookup(obj: Record<string, unknown> | null, path: string): unknown {
  let v: unknown = obj;
  for (const part of path.split('.')) {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

function same(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' || typeof b === 'number') {
    const x = typeof a === 'string' && a.trim() !== '' ? Number(a) : a;
    const y = typeof b === 'string' && b.trim() !== '' ? Number(b) : b;
    return typeof x === 'number' && typeof y === 'number' && x === y;
  }
  return a === b;
}

function order(a: unknown, b: unknown): number | null {
  const x = typeof a === 'string' && typeof b === 'number' && a.trim() !== '' ? Number(a) : a;
  if (typeof x === 'number' && typeof b === 'number') return Number.isNaN(x) ? null : x - b;
  if (typeof x === 'string' && typeof b === 'string') return x < b ? -1 : x > b ? 1 : 0;
  return null;
}

/**
 * Whether an event property satisfies a condition. Numbers compare numerically (numeric strings in
 * the event are read as numbers when the condition's value is a number), strings in code-point
 * order. A missing property satisfies only `!=`.
 */
export function conditionHolds(c: Condition, properties: Record<string, unknown> | null): boolean {
  const v = lookup(properties, c.property);
  if (v === undefined || v === null) return c.op === '!=';
  switch (c.op) {
    case '==':
      return same(v, c.value);
    case '!=':
      return !same(v, c.value);
    case 'in':
      return (c.value as unknown[]).some((x) => same(v, x));
    default: {
      const d = order(v, c.value);
      if (d === null) return false;
      return c.op === '>' ? d > 0 : c.op === '>=' ? d >= 0 : c.op === '<' ? d < 0 : d <= 0;
    }
  }
}

const DAY_MS = 86_400_000;

export function stepMatches(m: StepMatch, e: MatchableEvent, info: MatchInfo): boolean {
  if (m.event === BIRTHDAY_EVENT) return e.name === BIRTHDAY_EVENT;
  if (m.event !== ANY_EVENT && e.name !== m.event) return false;
  if (m.event === ANY_EVENT && e.name === BIRTHDAY_EVENT) return false;
  if (m.firstEvent && (!info.firstSeenAt || info.firstSeenAt.getTime() !== e.ts.getTime())) return false;
  if (m.afterSilenceDays !== null) {
    if (!info.previousEventAt || e.ts.getTime() - info.previousEventAt.getTime() < m.afterSilenceDays * DAY_MS) return false;
  }
  return m.where.every((c) => conditionHolds(c, e.properties));
}
