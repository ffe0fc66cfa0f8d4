/** The syntax tree of a tag/segment expression (see `language.ts` for the grammar). */

export type CompareOp = '==' | '!=' | '>' | '>=' | '<' | '<=';

export type Literal =
  /** `text` is the literal as written (`12.50`), so SQL and memory compare the exact decimal. */
  | { kind: 'number'; text: string; value: number }
  | { kind: 'string'; value: string }
  | { kind: 'boolean'; value: boolean }
  | { kind: 'null' };

/** A time window: `orders_90d` is 90 days; `within = "24h"` is 24 hours. */
export interface Window {
  amount: number;
  unit: 'd' | 'h';
}

export type ProfileNumber = 'total_spend' | 'order_count' | 'event_count';
export type DaysSince = 'last_seen_days' | 'first_seen_days' | 'last_order_days';
export type WindowMeasure = 'orders' | 'spend' | 'events';

export type Field =
  /** A number kept on the profile row. */
  | { kind: 'profile'; name: ProfileNumber }
  /** Whole days since a profile timestamp; null when the timestamp is null. */
  | { kind: 'days_since'; name: DaysSince }
  /** The set of channels the profile has been seen on. */
  | { kind: 'channel' }
  /** The JSON value of one trait; null when missing. */
  | { kind: 'trait'; name: string }
  /** `orders_<N>d`, `spend_<N>d`, `events_<N>d`. */
  | { kind: 'window'; measure: WindowMeasure; days: number }
  | { kind: 'count'; event: string | null; within: Window | null }
  | { kind: 'sum'; property: string; event: string | null; within: Window | null }
  /** `has_tag("key")` or `tag("key")`. */
  | { kind: 'has_tag'; key: string }
  /** `in_segment("key")`: the profile is currently a member of that segment. */
  | { kind: 'in_segment'; key: string }
  /**
   * `variant("<experiment key>")`: the variant key of the profile's first exposure in that
   * experiment; null when never exposed or contaminated (exposed to more than one variant).
   */
  | { kind: 'variant'; experiment: string }
  /** `points`: the membership points balance (0 without any points event). */
  | { kind: 'points' }
  /** `level`: the key of the membership level held; null when none. */
  | { kind: 'level' };

export type Value = Literal | Field;

export type Expr =
  | { kind: 'and'; args: Expr[] }
  | { kind: 'or'; args: Expr[] }
  | { kind: 'not'; arg: Expr }
  | { kind: 'compare'; op: CompareOp; left: Value; right: Value }
  | { kind: 'in'; value: Value; list: Literal[] }
  /** A value without a comparison: true for a number ≠ 0, `true`, or a non-empty string. */
  | { kind: 'truth'; value: Value };

/** The static type of a value: what the checker knows before seeing any profile. */
export type ValueType = 'number' | 'string' | 'boolean' | 'null' | 'json' | 'channels';

export function typeOf(v: Value): ValueType {
  switch (v.kind) {
    case 'number':
    case 'string':
    case 'boolean':
    case 'null':
      return v.kind;
    case 'trait':
      return 'json';
    case 'channel':
      return 'channels';
    case 'has_tag':
    case 'in_segment':
      return 'boolean';
    case 'variant':
    case 'level':
      return 'string';
    default:
      return 'number';
  }
}

export function windowHours(w: Window): number {
  return w.unit === 'd' ? w.amount * 24 : w.amount;
}

export function isLiteral(v: Value): v is Literal {
  return v.kind === 'number' || v.kind === 'string' || v.kind === 'boolean' || v.kind === 'null';
}
