import { windowHours, type Expr, type Value } from './ast';

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
    }
  }
  return { windowDays, usesTags, usesSegments, timeDependent };
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
