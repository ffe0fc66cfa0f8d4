import { windowHours, type Value } from './ast';
import { decAdd, decFromNumber, decFromString, ZERO, type Dec } from './decimal';
import { ORDER_EVENT } from './vocabulary';

/**
 * What a windowed aggregate of a rule adds up over a person's events: how many events of a name
 * (`count`, `orders_<N>d`, `events_<N>d`) or the sum of a numeric property of them (`sum`,
 * `spend_<N>d`). The same measure at different windows is one measure: its per-day buckets serve
 * every window.
 */
export type Measure =
  | { kind: 'count'; event: string | null }
  | { kind: 'sum'; event: string | null; property: string }
  /** `spend_<N>d`: revenue of orders, or total when revenue is absent or null (as ingest reads an order). */
  | { kind: 'spend' };

/** One aggregate a rule reads: a measure over the last `hours` (null: the whole history). */
export interface MeasureUse {
  measure: Measure;
  key: string;
  hours: number | null;
}

/** The event fields a measure reads. */
export interface MeasuredEvent {
  name: string | null;
  ts: Date;
  properties: Record<string, unknown> | null;
}

/** Event property values that count as numbers in `spend_<N>d` and `sum()` (the SQL uses the same pattern). */
export const NUMERIC_STRING = /^-?[0-9]+(\.[0-9]+)?$/;

/** A stable text key of a measure (the `measure` column of `rule_window_days`). */
export function measureKey(m: Measure): string {
  return m.kind === 'spend' ? '["spend"]' : m.kind === 'count' ? JSON.stringify(['count', m.event]) : JSON.stringify(['sum', m.event, m.property]);
}

export function parseMeasureKey(key: string): Measure {
  const a = JSON.parse(key) as [string, string | null, string?];
  if (a[0] === 'spend') return { kind: 'spend' };
  if (a[0] === 'count') return { kind: 'count', event: a[1] };
  return { kind: 'sum', event: a[1], property: a[2]! };
}

/** The measure and window of a value, when it is a windowed aggregate. */
export function measureUse(v: Value): MeasureUse | null {
  let measure: Measure;
  let hours: number | null;
  switch (v.kind) {
    case 'window':
      measure = v.measure === 'events' ? { kind: 'count', event: null } : v.measure === 'orders' ? { kind: 'count', event: ORDER_EVENT } : { kind: 'spend' };
      hours = v.days * 24;
      break;
    case 'count':
      measure = { kind: 'count', event: v.event };
      hours = v.within ? windowHours(v.within) : null;
      break;
    case 'sum':
      measure = { kind: 'sum', event: v.event, property: v.property };
      hours = v.within ? windowHours(v.within) : null;
      break;
    default:
      return null;
  }
  return { measure, key: measureKey(measure), hours };
}

const hasOwn = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);

function prop(props: Record<string, unknown> | null, key: string): unknown {
  return props && typeof props === 'object' && hasOwn(props, key) ? props[key] : undefined;
}

export function numericProperty(v: unknown): Dec | null {
  if (typeof v === 'number') return decFromNumber(v);
  if (typeof v === 'string' && NUMERIC_STRING.test(v)) return decFromString(v);
  return null;
}

/** Whether an event counts towards a measure. */
export function counts(m: Measure, e: Pick<MeasuredEvent, 'name'>): boolean {
  if (m.kind === 'spend') return e.name === ORDER_EVENT;
  return m.event === null || e.name === m.event;
}

/** What an event adds to a sum measure's total (zero for a count, or a value that is not a number). */
export function amountOf(m: Measure, e: Pick<MeasuredEvent, 'properties'>): Dec {
  if (m.kind === 'count') return ZERO;
  const v = m.kind === 'spend' ? (prop(e.properties, 'revenue') ?? prop(e.properties, 'total')) : prop(e.properties, m.property);
  return numericProperty(v) ?? ZERO;
}

/** A measure's value over a window: how many events counted and the sum of their amounts. */
export interface Aggregate {
  n: number;
  total: Dec;
}

/**
 * Where windowed aggregates come from for one person: either the person's raw events (a rebuild, a
 * test) or the per-day buckets kept at ingest (`rule-windows.ts`).
 */
export interface WindowSource {
  /** The measure over events with `ts >= now − hours` (every event when `hours` is null). */
  aggregate(use: MeasureUse, nowMs: number): Aggregate;
  /**
   * A moment no later than the first time an event counted in the window leaves it (`ts + hours`,
   * exclusive), or null when no event is in the window. Earlier is allowed: the rule is then
   * re-evaluated and the next moment taken.
   */
  firstExit(use: MeasureUse & { hours: number }, nowMs: number): number | null;
}

const HOUR_MS = 3_600_000;

/** A window source that scans the person's raw events (what every other source must agree with). */
export function eventWindowSource(events: readonly MeasuredEvent[]): WindowSource {
  return {
    aggregate(use, nowMs) {
      const cutoff = use.hours === null ? -Infinity : nowMs - use.hours * HOUR_MS;
      let n = 0;
      let total = ZERO;
      for (const e of events) {
        if (e.ts.getTime() < cutoff || !counts(use.measure, e)) continue;
        n++;
        if (use.measure.kind !== 'count') total = decAdd(total, amountOf(use.measure, e));
      }
      return { n, total };
    },
    firstExit(use, nowMs) {
      const cutoff = nowMs - use.hours * HOUR_MS;
      let first = Infinity;
      for (const e of events) {
        const ts = e.ts.getTime();
        if (ts >= cutoff && ts <= nowMs && counts(use.measure, e)) first = Math.min(first, ts + use.hours * HOUR_MS + 1);
      }
      return Number.isFinite(first) ? first : null;
    },
  };
}
