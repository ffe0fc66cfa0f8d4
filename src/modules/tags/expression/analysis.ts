import { windowHours, type DaysSince, type Expr, type Value } from './ast';
import { eventWindowSource, measureUse, type MeasureUse, type WindowSource } from './measures';

/** What `evaluate` needs loaded for an expression, and whether time alone can change its result. */
export interface ExpressionRequirements {
  /**
   * How many days of events (back from `now`) `evaluate` needs: 0 when it needs none, `'all'` when
   * a `count`/`sum` without `within` needs the whole history.
   */
  windowDays: number | 'all' | 0;
  /** The expression calls `has_tag`/`tag`, so `ProfileFacts.tags` must be loaded. */
  usesTags: boolean;
  /** The expression calls `in_segment`, so `ProfileFacts.segments` must be loaded. */
  usesSegments: boolean;
  /** The expression calls `variant`, so `ProfileFacts.variants` must be loaded (see `referencedExperiments`). */
  usesVariants: boolean;
  /** The expression reads `points` or `level`, so `ProfileFacts.membership` must be loaded. */
  usesMembership: boolean;
  /** Uses a `*_days` field, a windowed aggregate or `within`: a periodic sweep must re-evaluate it. */
  timeDependent: boolean;
}

function values(expr: Expr, out: Value[] = []): Value[] {
  switch (expr.kind) {
    case 'and':
    case 'or':
      for (const a of expr.args) values(a, out);
      break;
    case 'not':
      values(expr.arg, out);
      break;
    case 'compare':
      out.push(expr.left, expr.right);
      break;
    case 'in':
      out.push(expr.value);
      break;
    case 'truth':
      out.push(expr.value);
      break;
  }
  return out;
}

export function requirements(expr: Expr): ExpressionRequirements {
  let windowDays: number | 'all' = 0;
  let usesTags = false;
  let usesSegments = false;
  let usesVariants = false;
  let usesMembership = false;
  let timeDependent = false;
  const need = (days: number | 'all') => {
    if (windowDays === 'all') return;
    windowDays = days === 'all' ? 'all' : Math.max(windowDays, days);
  };
  for (const v of values(expr)) {
    switch (v.kind) {
      case 'days_since':
        timeDependent = true;
        break;
      case 'window':
        timeDependent = true;
        need(v.days);
        break;
      case 'count':
      case 'sum':
        if (v.within) {
          timeDependent = true;
          need(Math.ceil(windowHours(v.within) / 24));
        } else need('all');
        break;
      case 'has_tag':
        usesTags = true;
        break;
      case 'in_segment':
        usesSegments = true;
        break;
      case 'variant':
        usesVariants = true;
        break;
      case 'points':
      case 'level':
        usesMembership = true;
        break;
    }
  }
  return { windowDays, usesTags, usesSegments, usesVariants, usesMembership, timeDependent };
}

/** The tag keys an expression refers to with `has_tag`/`tag`, each once, in order of appearance. */
export function referencedTags(expr: Expr): string[] {
  const keys = new Set<string>();
  for (const v of values(expr)) if (v.kind === 'has_tag') keys.add(v.key);
  return [...keys];
}

/** The segment keys an expression refers to with `in_segment`, each once, in order of appearance. */
export function referencedSegments(expr: Expr): string[] {
  const keys = new Set<string>();
  for (const v of values(expr)) if (v.kind === 'in_segment') keys.add(v.key);
  return [...keys];
}

/** The experiment keys an expression refers to with `variant`, each once, in order of appearance. */
export function referencedExperiments(expr: Expr): string[] {
  const keys = new Set<string>();
  for (const v of values(expr)) if (v.kind === 'variant') keys.add(v.experiment);
  return [...keys];
}

/** Every windowed aggregate an expression reads (`orders_30d`, `count(…)`, `sum(…)`), in order of appearance. */
export function measureUses(expr: Expr): MeasureUse[] {
  return values(expr).flatMap((v) => measureUse(v) ?? []);
}

/** What time alone can change in an expression: the `*_days` fields it reads and its windowed aggregates. */
export interface TimeTriggers {
  daysSince: DaysSince[];
  windows: (MeasureUse & { hours: number })[];
}

export function timeTriggers(expr: Expr): TimeTriggers {
  const daysSince = new Set<DaysSince>();
  const windows = new Map<string, MeasureUse & { hours: number }>();
  for (const v of values(expr)) {
    if (v.kind === 'days_since') daysSince.add(v.name);
    else {
      const u = measureUse(v);
      if (u && u.hours !== null) windows.set(`${u.key}@${u.hours}`, { ...u, hours: u.hours });
    }
  }
  return { daysSince: [...daysSince], windows: [...windows.values()] };
}

const DAY_MS = 86_400_000;

/**
 * The next moment after `now` at which time alone may change the value of expressions with these
 * triggers for one person: the next whole-day boundary of a `*_days` field (its value steps once a
 * day), or the moment the oldest counted event inside a window leaves it. Never later than the real
 * change (it may be earlier: the rule is then re-evaluated and the next moment scheduled); null when
 * time cannot change anything.
 */
export function nextTimeChange(
  triggers: TimeTriggers[],
  facts: { firstSeenAt: Date | null; lastSeenAt: Date | null; lastOrderAt: Date | null; events: { name: string | null; ts: Date; properties: Record<string, unknown> | null }[]; windows?: WindowSource },
  now: Date,
): Date | null {
  const t = now.getTime();
  let next = Infinity;
  const fieldTs = { first_seen_days: facts.firstSeenAt, last_seen_days: facts.lastSeenAt, last_order_days: facts.lastOrderAt };
  const source = facts.windows ?? eventWindowSource(facts.events);
  for (const tr of triggers) {
    for (const name of tr.daysSince) {
      const ts = fieldTs[name];
      if (!ts) continue;
      const start = ts.getTime();
      next = Math.min(next, start + (Math.floor((t - start) / DAY_MS) + 1) * DAY_MS);
    }
    for (const w of tr.windows) {
      const exit = source.firstExit(w, t);
      if (exit !== null) next = Math.min(next, exit);
    }
  }
  return Number.isFinite(next) ? new Date(next) : null;
}
