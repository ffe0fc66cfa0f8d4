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

/** What a ladder reads: the points balance, or the order value of a trailing window. */
export type LevelBasis = 'POINTS' | 'SPEND';
export const MAX_WINDOW_DAYS = 730;
export const ORDER_COMPLETED = 'Order Completed';
const DAY_MS = 86_400_000;

/** The workspace's level ladder, lowest threshold first, and the value it reads. */
export interface LevelRules {
  levels: LevelRule[];
  /** Absent: POINTS (rules saved before the basis existed). */
  basis?: LevelBasis;
  /** SPEND: the trailing window in days (spend at t = order value with event time in (t − window, t]); null for POINTS. */
  windowDays?: number | null;
}

/** The ladder until an admin sets one: 普通 member from 0 points, 银卡 1000, 金卡 5000, 钻石 20000. */
export const DEFAULT_LEVEL_RULES: LevelRules = Object.freeze({
  levels: [
    { key: 'member', name: '普通会员', threshold: 0 },
    { key: 'silver', name: '银卡会员', threshold: 1000 },
    { key: 'gold', name: '金卡会员', threshold: 5000 },
    { key: 'diamond', name: '钻石会员', threshold: 20000 },
  ],
  basis: 'POINTS',
  windowDays: null,
}) as LevelRules;

export interface LevelRulesInputShape {
  levels: { key: string; name: string; threshold: number }[];
  basis?: LevelBasis | null;
  windowDays?: number | null;
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
  const basis: LevelBasis = input.basis ?? 'POINTS';
  const w = input.windowDays ?? null;
  if (basis === 'SPEND' && (w === null || !Number.isInteger(w) || w < 1 || w > MAX_WINDOW_DAYS)) fail('windowDays', `a SPEND ladder needs windowDays: a whole number of days from 1 to ${MAX_WINDOW_DAYS}`);
  if (basis === 'POINTS' && w !== null) fail('windowDays', 'windowDays is only for a SPEND ladder (the points balance has no window)');
  const unit = basis === 'SPEND' ? 'yuan of spend' : 'points';
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
      fail(`levels.${i}.threshold`, `a threshold is a number of ${unit} with at most 2 decimals, within ±1e12`);
    } else if (i > 0 && typeof list[i - 1].threshold === 'number' && th <= list[i - 1].threshold) {
      fail(`levels.${i}.threshold`, `thresholds must increase: ${th} is not above ${list[i - 1].threshold} of levels.${i - 1}`);
    }
    levels.push({ key, name, threshold: th });
  });
  if (errors.length) {
    throw new AppError(ErrorClass.BAD_USER_INPUT, MembershipErrorCode.INVALID_LEVEL_RULES, `The level rules are invalid: ${errors.map((x) => `${x.field}: ${x.message}`).join('; ')}`, errors);
  }
  return { levels, basis, windowDays: basis === 'SPEND' ? w : null };
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
  /** SPEND ladder: the carried in-window spend (read only; the SPEND walk writes it). */
  spend?: number | null;
}

export interface LedgerEntry {
  messageId: string;
  delta: number;
  ts: Date;
}

export interface LevelChange {
  /** The value the ladder read: `points` is the balance (POINTS) or the in-window spend (SPEND). */
  basis?: LevelBasis;
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

/** One order of a person as the SPEND ladder reads it: its validated value (yuan, cents-rounded). */
export interface OrderEntry {
  messageId: string;
  ts: Date;
  value: number;
}

/** A person's SPEND state derived at `now`, the level changes from `from` on, and when time alone next changes it. */
export interface SpendWalk {
  level: string | null;
  /** In-window spend at `now`. */
  spend: number;
  changes: LevelChange[];
  /** The earliest instant after `now` at which an order enters (a future-dated one) or leaves the window; null when none. */
  nextDue: Date | null;
}

const byMessage = (a: { messageId: string }, b: { messageId: string }) => (a.messageId < b.messageId ? -1 : a.messageId > b.messageId ? 1 : 0);

/**
 * The SPEND ladder over time. Spend at instant t = Σ value of the person's orders with event time in
 * (t − window, t]: an order enters at its time and leaves at its time + window. The level at t is
 * the last level whose threshold that spend reaches; none before the person's first order.
 *
 * The walk re-derives instants `from` … `now` (`from` null: from the start). `orders` must hold every
 * order of the person with event time ≥ `from` − window (older ones have left before `from` and are
 * ignored); `levelBefore` is the level held just before `from` (the last remaining level change).
 *
 * Ties: everything that happens at one instant is applied before the level is read, so an order
 * leaving at the instant another arrives never records a drop-and-rise (the half-open window has the
 * leaving one out and the arriving one in). One change at most per instant: caused by
 * `event:<messageId>` (the last arriving order, by message id) when the level rose, by
 * `window:<messageId>` (the last order leaving the window, by message id) when it fell.
 */
export function walkSpend(rules: LevelRules, orders: OrderEntry[], from: Date | null, levelBefore: string | null, now: Date): SpendWalk {
  const w = (rules.windowDays ?? 0) * DAY_MS;
  const f = from ? from.getTime() : -Infinity;
  const end = now.getTime();
  // Cents as integers, so that sums do not drift.
  let spend = 0;
  const steps = new Map<number, { in: OrderEntry[]; out: OrderEntry[] }>();
  const at = (t: number) => {
    let s = steps.get(t);
    if (!s) steps.set(t, (s = { in: [], out: [] }));
    return s;
  };
  let nextDue = Infinity;
  for (const o of orders) {
    const t = o.ts.getTime();
    const c = Math.round(o.value * 100);
    if (t + w < f) continue;
    if (t < f) spend += c; // in the window just before `from`; it leaves at t + w ≥ from
    else if (t <= end) at(t).in.push(o);
    else nextDue = Math.min(nextDue, t);
    if (t + w >= f && t + w <= end) at(t + w).out.push(o);
    else if (t + w > end) nextDue = Math.min(nextDue, t + w);
  }
  let level = levelBefore;
  const changes: LevelChange[] = [];
  for (const t of [...steps.keys()].sort((a, b) => a - b)) {
    const s = steps.get(t)!;
    for (const o of s.out) spend -= Math.round(o.value * 100);
    for (const o of s.in) spend += Math.round(o.value * 100);
    const next = levelOf(rules, spend / 100)?.key ?? null;
    if (next === level) continue;
    const rose = rules.levels.findIndex((l) => l.key === next) > rules.levels.findIndex((l) => l.key === level);
    const cause = rose && s.in.length ? `event:${[...s.in].sort(byMessage).at(-1)!.messageId}` : s.out.length ? `window:${[...s.out].sort(byMessage).at(-1)!.messageId}` : `event:${[...s.in].sort(byMessage).at(-1)!.messageId}`;
    changes.push({ basis: 'SPEND', from: level, to: next, at: new Date(t), cause, points: spend / 100 });
    level = next;
  }
  return { level, spend: spend / 100, changes, nextDue: Number.isFinite(nextDue) ? new Date(nextDue) : null };
}
