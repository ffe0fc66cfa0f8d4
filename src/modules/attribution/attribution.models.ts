/**
 * Attribution's pure parts: a person's paths from their events, the credit of each rule-based
 * model for one path, and data-driven Shapley credit from path-set counts. No database here: the
 * service reads and writes, these decide.
 */

/** What credit is split over: the touch's channel, its `context.touchpoint`, its campaign. */
export const DIMENSIONS = ['CHANNEL', 'TOUCHPOINT', 'CAMPAIGN'] as const;
export type Dimension = (typeof DIMENSIONS)[number];

/** Models whose credit of a conversion depends on its own path alone (carried per day). */
export const RULE_MODELS = ['FIRST_TOUCH', 'LAST_TOUCH', 'LINEAR', 'TIME_DECAY', 'POSITION_BASED'] as const;
export type RuleModel = (typeof RULE_MODELS)[number];
export type Model = RuleModel | 'SHAPLEY';

/** The value credited with a conversion that has no touch with a value of the dimension in its window. */
export const NONE = '(none)';
/** A path keeps at most this many touches (the most recent in its window). */
export const MAX_PATH_TOUCHES = 200;
/** Shapley is computed exactly over a path's values; a path keeps its most recently touched this many. */
export const MAX_SHAPLEY_VALUES = 12;

/** One touch: when, and its value in each dimension (channel always; touchpoint and campaign when present). */
export interface Touch {
  at: number;
  values: readonly [string, string | null, string | null];
}

/** One event of a person, as attribution sees it. */
export interface PersonEvent {
  at: number;
  id: string;
  /** The conversion definitions it matches, with its value under each (then it is not a touch). */
  conversions: ReadonlyMap<string, number>;
  /** Its touch, when it is one. */
  touch: Touch | null;
}

/** A closed path: a conversion with the touches in its window, or touches no conversion followed within the window. */
export interface Path {
  conversion: string;
  anchorAt: number;
  /** The converting event's message id; '' for a non-converting path. */
  conversionId: string;
  revenue: number;
  touches: Touch[];
}

const byTime = (a: { at: number; id?: string }, b: { at: number; id?: string }) => a.at - b.at || ((a.id ?? '') < (b.id ?? '') ? -1 : (a.id ?? '') > (b.id ?? '') ? 1 : 0);

/**
 * The paths of one person anchored at or after `from`, for each conversion definition:
 * - a **converting path** per conversion: the touches in `[at − lookback, at]`;
 * - a **non-converting path** per touch that neither another touch nor a conversion followed within
 *   `lookback` (the last touch of a run), once `lookback` has passed after it (`at + lookback ≤ now`):
 *   the touches in `[at − lookback, at]` after the person's previous conversion.
 * `events` must hold every event of the person from `from − lookback` on. `nextDue` is the moment
 * the person's open run (a last touch not yet `lookback` old) closes, when there is one.
 */
export function pathsOf(events: readonly PersonEvent[], conversions: readonly string[], lookbackMs: number, from: number, now: number): { paths: Path[]; nextDue: number | null } {
  const sorted = [...events].sort(byTime);
  const touches = sorted.filter((e) => e.touch !== null);
  const paths: Path[] = [];
  let nextDue: number | null = null;
  const window = (lo: number, hi: number, after: number): Touch[] => {
    const out = touches.filter((t) => t.at >= lo && t.at <= hi && t.at > after).map((t) => t.touch!);
    return out.length > MAX_PATH_TOUCHES ? out.slice(out.length - MAX_PATH_TOUCHES) : out;
  };
  for (const key of conversions) {
    const convs = sorted.filter((e) => e.conversions.has(key));
    for (const c of convs) {
      if (c.at >= from) paths.push({ conversion: key, anchorAt: c.at, conversionId: c.id, revenue: c.conversions.get(key)!, touches: window(c.at - lookbackMs, c.at, -Infinity) });
    }
    for (let i = 0; i < touches.length; i++) {
      const t = touches[i];
      if (t.at < from) continue;
      const next = touches[i + 1];
      if (next && next.at <= t.at + lookbackMs) continue;
      if (convs.some((c) => c.at >= t.at && c.at <= t.at + lookbackMs)) continue;
      if (t.at + lookbackMs > now) {
        nextDue = nextDue === null ? t.at + lookbackMs : Math.min(nextDue, t.at + lookbackMs);
        continue;
      }
      const previous = convs.filter((c) => c.at < t.at).at(-1)?.at ?? -Infinity;
      paths.push({ conversion: key, anchorAt: t.at, conversionId: '', revenue: 0, touches: window(t.at - lookbackMs, t.at, previous) });
    }
  }
  return { paths, nextDue };
}

/** The touches of a path that have a value in dimension `d`, with that value. */
export function valuesOf(touches: readonly Touch[], d: number): { at: number; value: string }[] {
  return touches.flatMap((t) => (t.values[d] === null ? [] : [{ at: t.at, value: t.values[d]! }]));
}

/**
 * One conversion's credit under a rule-based model (shares summing to 1), over its touches with a
 * value in the dimension, oldest first. No such touch: everything to `(none)`.
 * - FIRST_TOUCH / LAST_TOUCH: 1 to the first / last touch.
 * - LINEAR: 1/n to each of the n touches.
 * - TIME_DECAY: touch i weighs 2^(−(conversion time − touch time) ÷ half-life), normalised.
 * - POSITION_BASED: 40 % first, 40 % last, 20 % split evenly over the touches between (one touch:
 *   100 %; two: 50 % each).
 */
export function ruleCredit(model: RuleModel, touches: readonly { at: number; value: string }[], anchorAt: number, halfLifeMs: number): Map<string, number> {
  const out = new Map<string, number>();
  const add = (v: string, x: number) => out.set(v, (out.get(v) ?? 0) + x);
  const n = touches.length;
  if (n === 0) return new Map([[NONE, 1]]);
  switch (model) {
    case 'FIRST_TOUCH':
      add(touches[0].value, 1);
      break;
    case 'LAST_TOUCH':
      add(touches[n - 1].value, 1);
      break;
    case 'LINEAR':
      for (const t of touches) add(t.value, 1 / n);
      break;
    case 'TIME_DECAY': {
      const w = touches.map((t) => Math.pow(2, -(anchorAt - t.at) / halfLifeMs));
      const sum = w.reduce((a, b) => a + b, 0);
      touches.forEach((t, i) => add(t.value, w[i] / sum));
      break;
    }
    case 'POSITION_BASED':
      if (n === 1) add(touches[0].value, 1);
      else if (n === 2) {
        add(touches[0].value, 0.5);
        add(touches[1].value, 0.5);
      } else {
        add(touches[0].value, 0.4);
        add(touches[n - 1].value, 0.4);
        for (let i = 1; i < n - 1; i++) add(touches[i].value, 0.2 / (n - 2));
      }
      break;
  }
  return out;
}

/** A path's value set for Shapley: its distinct values, the most recently touched `MAX_SHAPLEY_VALUES`, sorted. */
export function pathSet(touches: readonly { value: string }[]): string[] {
  const seen = new Set<string>();
  for (let i = touches.length - 1; i >= 0 && seen.size < MAX_SHAPLEY_VALUES; i--) seen.add(touches[i].value);
  return [...seen].sort(cmp);
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The key of a value set in `attribution_sets`. */
export const setKey = (values: readonly string[]): string => JSON.stringify(values);

/** Path counts of one value set over a range. */
export interface SetCount {
  values: string[];
  paths: number;
  conversions: number;
  revenue: number;
}

/**
 * Data-driven Shapley credit. The coalition value v(S) is the conversion rate of the paths whose
 * value set is exactly S (converting ÷ all, converting and non-converting; 0 where no path has
 * that set). Each converting set P gets the Shapley values φ_i of the game v restricted to the
 * subsets of P, computed exactly over all 2^|P| subsets:
 *   φ_i = Σ_{S ⊆ P∖{i}} |S|! (|P|−|S|−1)! ÷ |P|! · (v(S ∪ {i}) − v(S)),
 * and its conversions and revenue are split in the shares φ_i ÷ v(P) (they sum to 1 because
 * Σ φ_i = v(P) − v(∅) and v(∅) = 0; a share can be negative when adding a value lowers the rate).
 * Converting paths with no value go to `(none)`.
 */
export function shapleyCredit(sets: readonly SetCount[]): Map<string, { conversions: number; revenue: number }> {
  const rate = new Map<string, number>();
  for (const s of sets) if (s.paths > 0) rate.set(setKey(s.values), s.conversions / s.paths);
  const out = new Map<string, { conversions: number; revenue: number }>();
  const add = (v: string, c: number, r: number) => {
    const o = out.get(v) ?? { conversions: 0, revenue: 0 };
    o.conversions += c;
    o.revenue += r;
    out.set(v, o);
  };
  for (const s of sets) {
    if (s.conversions <= 0) continue;
    if (!s.values.length) {
      add(NONE, s.conversions, s.revenue);
      continue;
    }
    for (const [v, share] of shapleyShares(s.values, (sub) => rate.get(setKey(sub)) ?? 0)) add(v, s.conversions * share, s.revenue * share);
  }
  return out;
}

/** Shares φ_i ÷ v(P) of the values of P (sorted) under the game `v` on subsets of P (given sorted). */
export function shapleyShares(values: readonly string[], v: (subset: string[]) => number): Map<string, number> {
  const k = values.length;
  const size = 1 << k;
  const vm = new Float64Array(size);
  for (let m = 1; m < size; m++) {
    const sub: string[] = [];
    for (let i = 0; i < k; i++) if (m & (1 << i)) sub.push(values[i]);
    vm[m] = v(sub);
  }
  const fact = [1];
  for (let i = 1; i <= k; i++) fact[i] = fact[i - 1] * i;
  const weight = (s: number) => (fact[s] * fact[k - s - 1]) / fact[k];
  const bits = (m: number) => {
    let c = 0;
    for (let x = m; x; x &= x - 1) c++;
    return c;
  };
  const total = vm[size - 1];
  const out = new Map<string, number>();
  for (let i = 0; i < k; i++) {
    const bit = 1 << i;
    let phi = 0;
    for (let m = 0; m < size; m++) if (!(m & bit)) phi += weight(bits(m)) * (vm[m | bit] - vm[m]);
    out.set(values[i], total > 0 ? phi / total : 1 / k);
  }
  return out;
}
