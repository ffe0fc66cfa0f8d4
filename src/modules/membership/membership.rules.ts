import { AppError, ErrorClass, type FieldError, type Rejection } from '../../platform/errors';
import { MembershipErrorCode } from './membership.errors';

export const POINTS_EARNED = 'Points Earned';
export const POINTS_REDEEMED = 'Points Redeemed';
/** Largest points of one event; balances are numeric(20, 2). */
export const MAX_POINTS = 1_000_000_000;
export const MAX_LEVELS = 20;
const KEY = /^[a-z][a-z0-9_]{0,31}$/;

/** One level: people whose points balance is at least `threshold` (and below the next level's) hold it. */
export interface LevelRule {
  key: string;
  name: string;
  threshold: number;
}

/** The workspace's level ladder, lowest threshold first. */
export interface LevelRules {
  levels: LevelRule[];
}

/** The ladder until an admin sets one: 普通 member from 0 points, 银卡 1000, 金卡 5000, 钻石 20000. */
export const DEFAULT_LEVEL_RULES: LevelRules = Object.freeze({
  levels: [
    { key: 'member', name: '普通会员', threshold: 0 },
    { key: 'silver', name: '银卡会员', threshold: 1000 },
    { key: 'gold', name: '金卡会员', threshold: 5000 },
    { key: 'diamond', name: '钻石会员', threshold: 20000 },
  ],
}) as LevelRules;

export interface LevelRulesInputShape {
  levels: { key: string; name: string; threshold: number }[];
}

/**
 * Checks level rules as sent to `updateMembershipRules` and returns them normalised. Every problem
 * is reported at once with its input path (`input.levels.2.threshold`); nothing is changed.
 */
export function validateRules(input: LevelRulesInputShape, base = 'input'): LevelRules {
  const errors: FieldError[] = [];
  const fail = (field: string, message: string) => errors.push({ field: `${base}.${field}`, message });
  const levels: LevelRule[] = [];
  const list = input.levels ?? [];
  if (list.length > MAX_LEVELS) fail('levels', `at most ${MAX_LEVELS} levels`);
  const seen = new Map<string, number>();
  list.slice(0, MAX_LEVELS).forEach((l, i) => {
    const key = l.key?.trim() ?? '';
    if (!KEY.test(key)) fail(`levels.${i}.key`, 'a level key is 1–32 lower-case letters, digits or _, starting with a letter');
    else if (seen.has(key)) fail(`levels.${i}.key`, `duplicate level key ${JSON.stringify(key)} (also levels.${seen.get(key)})`);
    else seen.set(key, i);
    const name = l.name?.trim() ?? '';
    if (!name || name.length > 64) fail(`levels.${i}.name`, 'a name is 1–64 characters');
    const th = l.threshold;
    if (typeof th !== 'number' || !Number.isFinite(th) || Math.abs(th) > MAX_POINTS * 1000 || Math.round(th * 100) !== th * 100) {
      fail(`levels.${i}.threshold`, 'a threshold is a number of points with at most 2 decimals, within ±1e12');
    } else if (i > 0 && typeof list[i - 1].threshold === 'number' && th <= list[i - 1].threshold) {
      fail(`levels.${i}.threshold`, `thresholds must increase: ${th} is not above ${list[i - 1].threshold} of levels.${i - 1}`);
    }
    levels.push({ key, name, threshold: th });
  });
  if (errors.length) {
    throw new AppError(ErrorClass.BAD_USER_INPUT, MembershipErrorCode.INVALID_LEVEL_RULES, `The level rules are invalid: ${errors.map((x) => `${x.field}: ${x.message}`).join('; ')}`, errors);
  }
  return { levels };
}

/** The level a balance holds: the last level whose threshold it reaches; null below the first. */
export function levelOf(rules: LevelRules, points: number): LevelRule | null {
  let out: LevelRule | null = null;
  for (const l of rules.levels) if (points >= l.threshold) out = l;
  return out;
}

/** Rounds to cents, as numeric(20, 2) stores it. */
export const cents = (n: number): number => Math.round(n * 100) / 100;

/**
 * The ledger change of a points event: +points for `Points Earned`, −points for `Points Redeemed`;
 * null for other events. `properties.points` is a positive number (or a plain decimal string) of at
 * most `MAX_POINTS`, rounded to cents; anything else is a rejection naming the property.
 */
export function pointsDelta(e: { type: string; name: string | null; properties: Record<string, unknown> | null }): { delta: number; reason: string | null } | Rejection | null {
  if (e.type !== 'track' || (e.name !== POINTS_EARNED && e.name !== POINTS_REDEEMED)) return null;
  const raw = e.properties?.points;
  const n = typeof raw === 'string' && /^\d+(\.\d+)?$/.test(raw.trim()) ? Number(raw) : raw;
  if (typeof n !== 'number' || !Number.isFinite(n) || cents(n) <= 0 || n > MAX_POINTS) {
    return { reason: MembershipErrorCode.INVALID_POINTS, field: 'properties.points', message: `${e.name} needs properties.points: a positive number of at most ${MAX_POINTS}` };
  }
  const r = e.properties?.reason;
  return { delta: e.name === POINTS_EARNED ? cents(n) : -cents(n), reason: typeof r === 'string' && r.trim() ? r.trim().slice(0, 200) : null };
}

export const isRejection = (x: unknown): x is Rejection => typeof x === 'object' && x !== null && 'field' in x && 'message' in x;

/** A person's carried membership state. */
export interface MemberState {
  points: number;
  level: string | null;
  since: Date | null;
  lastEntryAt: Date | null;
}

export interface LedgerEntry {
  messageId: string;
  delta: number;
  ts: Date;
}

export interface LevelChange {
  from: string | null;
  to: string | null;
  at: Date;
  cause: string;
  points: number;
}

export const EMPTY_STATE: MemberState = Object.freeze({ points: 0, level: null, since: null, lastEntryAt: null }) as MemberState;

/**
 * Applies ledger entries, in (time, message id) order, to a carried state: the balance after each
 * entry, and a level change (dated at the entry, caused by it) whenever the level it holds differs.
 * From the empty state over a person's whole ledger this is the plain recomputation; from the
 * carried state over a batch's entries (all later than the carried ones) it gives the same.
 */
export function applyEntries(rules: LevelRules, state: MemberState, entries: LedgerEntry[]): { state: MemberState; changes: LevelChange[] } {
  const sorted = [...entries].sort((a, b) => a.ts.getTime() - b.ts.getTime() || (a.messageId < b.messageId ? -1 : a.messageId > b.messageId ? 1 : 0));
  let s = { ...state };
  const changes: LevelChange[] = [];
  for (const e of sorted) {
    const points = cents(s.points + e.delta);
    const level = levelOf(rules, points)?.key ?? null;
    if (level !== s.level) {
      changes.push({ from: s.level, to: level, at: e.ts, cause: `event:${e.messageId}`, points });
      s = { points, level, since: e.ts, lastEntryAt: e.ts };
    } else s = { ...s, points, lastEntryAt: e.ts };
  }
  return { state: s, changes };
}
