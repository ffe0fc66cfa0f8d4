import type { ProfileAggregate } from '../profiles';
import type { EntityManager } from 'typeorm';
import { AppError, ErrorClass } from '../../platform/errors';
import { compileToSql, evaluate, measureUses, nextTimeChange, parseExpression, referencedTags, referencedSegments, referencedExperiments, requirements, timeTriggers, type Expr, type MeasureUse, type ProfileFacts, type TimeTriggers, type WindowSource } from './expression';
import { TagErrorCode } from './tag.errors';
import { TagRepository, type MembershipChange, type SegmentRow, type TagRow } from './tag.repository';

/** A compiled rule: a rule tag or a segment, with what evaluating it needs. */
export interface CompiledRule {
  kind: 'tag' | 'segment';
  /** Tag key or segment id. */
  id: string;
  /** Segment key (segments only), for `in_segment`. */
  key: string;
  expr: Expr;
  windowDays: number | 'all' | 0;
  timeDependent: boolean;
  /** What time alone can change in the expression (null when nothing). */
  triggers: TimeTriggers | null;
  /** The windowed aggregates it reads (served by `RuleWindowStore`). */
  uses: MeasureUse[];
  /** The experiments whose `variant()` it reads (their exposures are loaded only when some rule names one). */
  experiments: string[];
  /** It reads `points` or `level` (the membership balances are loaded only when some rule does). */
  membership: boolean;
}


/**
 * Orders rules so that every rule comes after the tags and segments it refers to; a cycle is an
 * error naming the rules in it.
 */
export function orderRules(rules: CompiledRule[]): CompiledRule[] {
  const byRef = new Map<string, CompiledRule>();
  for (const r of rules) byRef.set(r.kind === 'tag' ? `tag:${r.id}` : `segment:${r.key}`, r);
  const out: CompiledRule[] = [];
  const state = new Map<CompiledRule, 'visiting' | 'done'>();
  const visit = (r: CompiledRule, path: string[]) => {
    const s = state.get(r);
    if (s === 'done') return;
    const name = r.kind === 'tag' ? `tag ${r.id}` : `segment ${r.key}`;
    if (s === 'visiting') {
      throw new AppError(ErrorClass.BAD_USER_INPUT, r.kind === 'segment' ? TagErrorCode.SEGMENT_SELF_REFERENCE : TagErrorCode.TAG_CYCLE, `The rules refer to each other in a cycle: ${[...path, name].join(' → ')}`, [
        { field: 'expression', message: `cycle: ${[...path, name].join(' → ')}` },
      ]);
    }
    state.set(r, 'visiting');
    for (const k of referencedTags(r.expr)) {
      const dep = byRef.get(`tag:${k}`);
      if (dep) visit(dep, [...path, name]);
    }
    for (const k of referencedSegments(r.expr)) {
      const dep = byRef.get(`segment:${k}`);
      if (dep) visit(dep, [...path, name]);
    }
    state.set(r, 'done');
    out.push(r);
  };
  for (const r of rules) visit(r, []);
  return out;
}

export function compileRule(kind: 'tag' | 'segment', id: string, key: string, expression: string): CompiledRule {
  const expr = parseExpression(expression);
  const req = requirements(expr);
  return {
    kind,
    id,
    key,
    expr,
    windowDays: req.windowDays,
    timeDependent: req.timeDependent,
    triggers: req.timeDependent ? timeTriggers(expr) : null,
    uses: measureUses(expr),
    experiments: req.usesVariants ? referencedExperiments(expr) : [],
    membership: req.usesMembership,
  };
}

export function rulesOf(tags: TagRow[], segments: SegmentRow[]): CompiledRule[] {
  return orderRules([
    ...tags.filter((t) => t.kind === 'rule' && t.expression).map((t) => compileRule('tag', t.key, t.key, t.expression!)),
    ...segments.map((s) => compileRule('segment', s.id, s.key, s.expression)),
  ]);
}

/**
 * Evaluates every rule tag and segment for some profiles, in memory, and writes the differences —
 * in the caller's transaction, so memberships change in the same commit as the event that changed
 * them. Windowed aggregates come from `windows` (the per-day buckets kept at ingest, loaded for
 * `now`); without it, from the profiles' events. Returns the membership changes to publish after commit.
 */
export async function evaluateProfiles(
  em: EntityManager,
  repo: TagRepository,
  ws: string,
  rules: CompiledRule[],
  profiles: ProfileAggregate[],
  causeOf: (profileId: string) => string,
  now: Date,
  windows: Map<string, WindowSource> | null = null,
): Promise<{ changes: MembershipChange[]; due: { profileId: string; at: Date | null }[] }> {
  if (!rules.length || !profiles.length) return { changes: [], due: profiles.map((p) => ({ profileId: p.id, at: null })) };
  const ids = profiles.map((p) => p.id);
  const spans = rules.map((r) => r.windowDays);
  const since = spans.includes('all') ? null : new Date(now.getTime() - Math.max(0, ...(spans as number[])) * 86_400_000);
  const needEvents = !windows && spans.some((w) => w !== 0);
  // One after another: inside a transaction they share one connection.
  const tagRows = await repo.tagsOf(em, ws, ids);
  const segRows = await repo.segmentsOf(em, ws, ids);
  const events = needEvents ? await repo.eventsSince(em, ws, ids, since) : [];
  // One query for every touched person, only when some rule reads `variant()`.
  const experiments = [...new Set(rules.flatMap((r) => r.experiments))];
  const variantRows = experiments.length ? await repo.variantsOf(em, ws, ids, experiments) : [];
  // Likewise the membership balances, only when some rule reads `points` or `level`.
  const memberRows = rules.some((r) => r.membership) ? await repo.membershipOf(em, ws, ids) : [];
  const facts = new Map<string, ProfileFacts & { segments: Set<string>; variants: Map<string, string> }>();
  const segKeyById = new Map(rules.filter((r) => r.kind === 'segment').map((r) => [r.id, r.key]));
  for (const p of profiles) facts.set(p.id, { ...p, tags: new Set(), segments: new Set(), variants: new Map(), events: [], windows: windows?.get(p.id) });
  for (const t of tagRows) facts.get(t.profile_id)?.tags.add(t.tag_key);
  for (const s of segRows) {
    const k = segKeyById.get(s.segment_id);
    if (k) facts.get(s.profile_id)?.segments.add(k);
  }
  for (const v of variantRows) facts.get(v.profile_id)?.variants.set(v.experiment_key, v.variant_key);
  for (const m of memberRows) {
    const f = facts.get(m.profile_id);
    if (f) f.membership = { points: Number(m.points), level: m.level };
  }
  for (const e of events) facts.get(e.profile_id)?.events.push({ name: e.name, ts: new Date(e.ts), properties: e.properties });

  const addTags: { profileId: string; key: string; source: string; cause: string }[] = [];
  const removeTags: { profileId: string; key: string; cause: string }[] = [];
  const enter: { profileId: string; segmentId: string; cause: string }[] = [];
  const leave: { profileId: string; segmentId: string; cause: string }[] = [];
  for (const rule of rules) {
    for (const [pid, f] of facts) {
      const should = evaluate(rule.expr, f, now);
      if (rule.kind === 'tag') {
        const has = f.tags.has(rule.id);
        if (should && !has) {
          f.tags.add(rule.id);
          addTags.push({ profileId: pid, key: rule.id, source: 'rule', cause: causeOf(pid) });
        } else if (!should && has) {
          f.tags.delete(rule.id);
          removeTags.push({ profileId: pid, key: rule.id, cause: causeOf(pid) });
        }
      } else {
        const has = f.segments.has(rule.key);
        if (should && !has) {
          f.segments.add(rule.key);
          enter.push({ profileId: pid, segmentId: rule.id, cause: causeOf(pid) });
        } else if (!should && has) {
          f.segments.delete(rule.key);
          leave.push({ profileId: pid, segmentId: rule.id, cause: causeOf(pid) });
        }
      }
    }
  }
  // When time alone next changes a rule of each person (the due scheduler re-evaluates them then).
  const triggers = rules.flatMap((r) => (r.triggers ? [r.triggers] : []));
  const due = [...facts].map(([profileId, f]) => ({ profileId, at: triggers.length ? nextTimeChange(triggers, f, now) : null }));
  return {
    changes: [
      ...(await repo.addTags(em, ws, addTags)),
      ...(await repo.removeTags(em, ws, removeTags)),
      ...(await repo.enterSegments(em, ws, enter)),
      ...(await repo.leaveSegments(em, ws, leave)),
    ],
    due,
  };
}

/** The SQL condition of a rule over `profiles p`, with `$1` = workspace and `$2` = now. */
export function ruleCondition(rule: CompiledRule): { condition: string; params: unknown[] } {
  const params: unknown[] = [];
  params.push(null, null); // $1 workspace, $2 now: filled by the caller
  const condition = compileToSql(rule.expr, { profileAlias: 'p', workspaceParam: '$1', nowParam: '$2' }, params);
  return { condition, params };
}
