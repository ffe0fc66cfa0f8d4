import type { ProfileAggregate } from '../../profiles';
import type { CompareOp, Expr, Literal, Value } from './ast';
import { decCmp, decFromNumber, decFromString, type Dec } from './decimal';
import { eventWindowSource, measureUse, type WindowSource } from './measures';

/** What `evaluate` knows about one profile (the same rows the SQL compiler reads). */
export interface ProfileFacts extends Omit<ProfileAggregate, 'id' | 'traits'> {
  /** Trait values (the aggregate's, which also say where and when each was written). */
  traits: Record<string, { value: unknown }>;
  tags: Set<string>;
  /** Keys of the segments the profile is currently in; needed only when `requirements(expr).usesSegments`. */
  segments?: Set<string>;
  /**
   * Experiment key → variant key of the profile's first exposure, for the experiments it was exposed
   * to without contamination (contaminated exposures are left out: their `variant()` is null);
   * needed only when `requirements(expr).usesVariants` (at least the `referencedExperiments`).
   */
  variants?: Map<string, string>;
  /** The membership balance and level held; needed only when `requirements(expr).usesMembership` (absent: 0 points, no level). */
  membership?: { points: number; level: string | null };
  /**
   * Events within `requirements(expr).windowDays` of now (all events when that is `'all'`, none
   * needed when 0). Extra older events are harmless: every aggregate applies its own window.
   */
  events: { name: string | null; ts: Date; properties: Record<string, unknown> | null }[];
  /**
   * Where windowed aggregates come from when not from `events`: the per-day buckets kept at ingest.
   * When set, `events` is not read.
   */
  windows?: WindowSource;
}

type RuntimeValue =
  | { t: 'null' }
  | { t: 'number'; d: Dec }
  | { t: 'string'; s: string }
  | { t: 'boolean'; b: boolean }
  /** A JSON object or array trait: equal to nothing, never truthy. */
  | { t: 'other' }
  | { t: 'channels'; set: string[] };

const NULL: RuntimeValue = { t: 'null' };
const DAY_MS = 86_400_000;
export { NUMERIC_STRING } from './measures';

const hasOwn = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);

function num(d: Dec | null): RuntimeValue {
  return d ? { t: 'number', d } : NULL;
}

function fromJson(v: unknown): RuntimeValue {
  if (v === null || v === undefined) return NULL;
  if (typeof v === 'number') return num(decFromNumber(v));
  if (typeof v === 'string') return { t: 'string', s: v };
  if (typeof v === 'boolean') return { t: 'boolean', b: v };
  return { t: 'other' };
}


/** Compares by Unicode code point, like PostgreSQL's `COLLATE "C"` on UTF-8 text. */
function compareCodePoints(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < x.length && i < y.length; i++) {
    const d = x[i].codePointAt(0)! - y[i].codePointAt(0)!;
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return x.length === y.length ? 0 : x.length < y.length ? -1 : 1;
}

function holds(op: CompareOp, c: number): boolean {
  switch (op) {
    case '==':
      return c === 0;
    case '!=':
      return c !== 0;
    case '>':
      return c > 0;
    case '>=':
      return c >= 0;
    case '<':
      return c < 0;
    case '<=':
      return c <= 0;
  }
}

class Evaluator {
  private readonly nowMs: number;
  private readonly windows: WindowSource;

  constructor(
    private readonly facts: ProfileFacts,
    now: Date,
  ) {
    this.nowMs = now.getTime();
    this.windows = facts.windows ?? eventWindowSource(facts.events);
  }

  private daysSince(ts: Date | null): RuntimeValue {
    return ts ? num({ m: BigInt(Math.floor((this.nowMs - ts.getTime()) / DAY_MS)), s: 0 }) : NULL;
  }


  value(v: Value): RuntimeValue {
    const f = this.facts;
    switch (v.kind) {
      case 'number':
        return num(decFromString(v.text));
      case 'string':
        return { t: 'string', s: v.value };
      case 'boolean':
        return { t: 'boolean', b: v.value };
      case 'null':
        return NULL;
      case 'profile':
        return num(decFromNumber(v.name === 'total_spend' ? f.totalSpend : v.name === 'order_count' ? f.orderCount : f.eventCount));
      case 'days_since':
        return this.daysSince(v.name === 'last_seen_days' ? f.lastSeenAt : v.name === 'first_seen_days' ? f.firstSeenAt : f.lastOrderAt);
      case 'channel':
        return { t: 'channels', set: f.channels };
      case 'trait':
        return hasOwn(f.traits, v.name) ? fromJson(f.traits[v.name]?.value) : NULL;
      case 'window':
      case 'count':
      case 'sum': {
        const use = measureUse(v)!;
        const a = this.windows.aggregate(use, this.nowMs);
        return use.measure.kind === 'count' ? num({ m: BigInt(a.n), s: 0 }) : num(a.total);
      }
      case 'has_tag':
        return { t: 'boolean', b: f.tags.has(v.key) };
      case 'in_segment':
        return { t: 'boolean', b: f.segments?.has(v.key) ?? false };
      case 'variant': {
        const key = f.variants?.get(v.experiment);
        return key === undefined ? NULL : { t: 'string', s: key };
      }
      case 'points':
        return num(decFromNumber(f.membership?.points ?? 0));
      case 'level': {
        const level = f.membership?.level;
        return level == null ? NULL : { t: 'string', s: level };
      }
    }
  }

  compare(op: CompareOp, left: Value, right: Value): boolean {
    // `x == null` / `x != null` test for null (or a missing trait); any other comparison with null is false.
    if (left.kind === 'null' || right.kind === 'null') {
      const isNull = (left.kind === 'null' || this.value(left).t === 'null') && (right.kind === 'null' || this.value(right).t === 'null');
      return op === '==' ? isNull : !isNull;
    }
    const a = this.value(left);
    const b = this.value(right);
    if (a.t === 'channels' || b.t === 'channels') {
      const [set, name] = a.t === 'channels' ? [a.set, b] : [(b as { set: string[] }).set, a];
      const seen = name.t === 'string' && set.includes(name.s);
      return op === '==' ? seen : !seen;
    }
    if (a.t === 'number' && b.t === 'number') return holds(op, decCmp(a.d, b.d));
    if (a.t === 'string' && b.t === 'string') return holds(op, compareCodePoints(a.s, b.s));
    if (a.t === 'boolean' && b.t === 'boolean' && (op === '==' || op === '!=')) return holds(op, a.b === b.b ? 0 : 1);
    return false;
  }

  within(value: Value, list: Literal[]): boolean {
    return list.some((lit) => this.compare('==', value, lit));
  }

  truth(value: Value): boolean {
    const v = this.value(value);
    switch (v.t) {
      case 'number':
        return v.d.m !== 0n;
      case 'string':
        return v.s !== '';
      case 'boolean':
        return v.b;
      default:
        return false;
    }
  }

  expr(e: Expr): boolean {
    switch (e.kind) {
      case 'and':
        return e.args.every((a) => this.expr(a));
      case 'or':
        return e.args.some((a) => this.expr(a));
      case 'not':
        return !this.expr(e.arg);
      case 'compare':
        return this.compare(e.op, e.left, e.right);
      case 'in':
        return this.within(e.value, e.list);
      case 'truth':
        return this.truth(e.value);
    }
  }
}

/**
 * Evaluates an expression against one profile in memory, with exactly the semantics of
 * `compileToSql` (exact decimals, code-point string order, the same null rules).
 */
export function evaluate(expr: Expr, facts: ProfileFacts, now: Date): boolean {
  return new Evaluator(facts, now).expr(expr);
}
