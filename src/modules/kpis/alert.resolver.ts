import { Arg, Authorized, Ctx, Float, ID, Int, Mutation, Query, Resolver, Root, Subscription } from 'type-graphql';
import { Role, requireAuth } from '../../platform/auth';
import type { RequestContext } from '../../platform/graphql/context';
import { Topics } from '../../platform/pubsub';
import type { AlertRow, AlertRuleRow, TargetRow } from './alert.repository';
import { LEVEL_RANK, type AlertLevel as AlertLevelKey } from './alert.service';
import { Alert, AlertEvaluation, AlertLevel, AlertRule, AlertRuleInput, AlertRuleKind, AlertStatus, KpiTarget } from './alert.type';
import { KpiMetric } from './kpi.catalogue';
import { KpiFilterInput, KpiRangeInput } from './kpi.inputs';
import type { KpiService } from './kpi.service';
import { KpiRangeType } from './kpi.type';

/** The services the alert resolver uses; the app's services object provides them. */
export interface AlertResolverDeps {
  readonly kpis: KpiService;
}

const VIEWERS = [Role.READ, Role.ANALYST] as const;

const toTarget = (t: TargetRow): KpiTarget =>
  Object.assign(new KpiTarget(), { id: t.id, metric: t.metric as KpiMetric, value: Number(t.value), period: Object.assign(new KpiRangeType(), t.period), filter: t.filter, createdAt: t.created_at });

const toRule = (r: AlertRuleRow): AlertRule =>
  Object.assign(new AlertRule(), {
    id: r.id,
    name: r.name,
    metric: r.metric as KpiMetric,
    kind: r.kind as AlertRuleKind,
    threshold: r.threshold === null ? null : Number(r.threshold),
    targetId: r.target_id,
    deviationPct: r.deviation_pct === null ? null : Number(r.deviation_pct),
    level: r.level as AlertLevel,
    cooldownSeconds: r.cooldown_sec,
    windowDays: r.window_days,
    evaluate: r.evaluate as AlertEvaluation,
    autoResolve: r.auto_resolve,
    breached: r.breached,
    lastFiredAt: r.last_fired_at,
  });

export const toAlert = (a: AlertRow): Alert =>
  Object.assign(new Alert(), {
    id: a.id,
    ruleId: a.rule_id,
    metric: a.metric as KpiMetric,
    level: a.level as AlertLevel,
    value: a.value === null ? null : Number(a.value),
    reference: a.reference === null ? null : Number(a.reference),
    message: a.message,
    status: a.status as AlertStatus,
    raisedAt: a.raised_at,
    acknowledgedBy: a.acknowledged_by,
    acknowledgedAt: a.acknowledged_at,
    resolvedBy: a.resolved_by,
    resolvedAt: a.resolved_at,
  });

@Resolver()
export class AlertResolver {
  constructor(private readonly services: AlertResolverDeps) {}

  @Authorized(Role.ANALYST)
  @Mutation(() => KpiTarget, { description: 'Set a target for a KPI over a period (e.g. RETENTION_D1 0.41 this quarter). ANALYST or ADMIN.' })
  async setTarget(
    @Arg('metric', () => KpiMetric, { description: 'The metric.' }) metric: KpiMetric,
    @Arg('value', () => Float, { description: 'Target value (rates as fractions).' }) value: number,
    @Arg('period', () => KpiRangeInput, { description: 'Local dates, inclusive.' }) period: KpiRangeInput,
    @Ctx() ctx: RequestContext,
    @Arg('filter', () => KpiFilterInput, { nullable: true, description: 'Filter the metric is measured with.' }) filter?: KpiFilterInput | null,
  ): Promise<KpiTarget> {
    return toTarget(await this.services.kpis.alerts.setTarget(requireAuth(ctx).workspaceId, metric, value, { ...period }, { ...(filter ?? {}) }));
  }

  @Authorized(...VIEWERS)
  @Query(() => [KpiTarget], { description: 'Targets of the workspace, oldest first. READ or ANALYST.' })
  async targets(@Ctx() ctx: RequestContext): Promise<KpiTarget[]> {
    return (await this.services.kpis.alerts.targets(requireAuth(ctx).workspaceId)).map(toTarget);
  }

  @Authorized(Role.ANALYST)
  @Mutation(() => AlertRule, { description: 'Create an alert rule; it is evaluated at once and after every ingest commit. ANALYST or ADMIN.' })
  async createAlertRule(@Arg('input', () => AlertRuleInput, { description: 'The rule.' }) input: AlertRuleInput, @Ctx() ctx: RequestContext): Promise<AlertRule> {
    return toRule(
      await this.services.kpis.alerts.createRule(requireAuth(ctx).workspaceId, { ...input, kind: input.kind as AlertRuleRow['kind'], level: input.level as AlertLevelKey, evaluate: input.evaluate as AlertRuleRow['evaluate'], filter: input.filter ? { ...input.filter } : null }),
    );
  }

  @Authorized(Role.ANALYST)
  @Mutation(() => Boolean, { description: 'Delete an alert rule (its alerts stay). ANALYST or ADMIN.' })
  async deleteAlertRule(@Arg('id', () => ID, { description: 'Rule id.' }) id: string, @Ctx() ctx: RequestContext): Promise<boolean> {
    return this.services.kpis.alerts.deleteRule(requireAuth(ctx).workspaceId, id);
  }

  @Authorized(...VIEWERS)
  @Query(() => [AlertRule], { description: 'Alert rules of the workspace. READ or ANALYST.' })
  async alertRules(@Ctx() ctx: RequestContext): Promise<AlertRule[]> {
    return (await this.services.kpis.alerts.rules(requireAuth(ctx).workspaceId)).map(toRule);
  }

  @Authorized(...VIEWERS)
  @Query(() => [Alert], { description: 'Alerts, newest first. READ or ANALYST.' })
  async alerts(
    @Ctx() ctx: RequestContext,
    @Arg('status', () => AlertStatus, { nullable: true, description: 'Only this status.' }) status?: AlertStatus | null,
    @Arg('level', () => AlertLevel, { nullable: true, description: 'Only this level and above.' }) level?: AlertLevel | null,
    @Arg('first', () => Int, { defaultValue: 50, description: 'At most this many (1–1000).' }) first = 50,
  ): Promise<Alert[]> {
    return (await this.services.kpis.alerts.alerts(requireAuth(ctx).workspaceId, status ?? null, (level as AlertLevelKey | null) ?? null, first)).map(toAlert);
  }

  @Authorized(...VIEWERS)
  @Mutation(() => Alert, { description: 'Acknowledge an open alert (records which key and when). READ or ANALYST.' })
  async acknowledgeAlert(@Arg('id', () => ID, { description: 'Alert id.' }) id: string, @Ctx() ctx: RequestContext): Promise<Alert> {
    const auth = requireAuth(ctx);
    return toAlert(await this.services.kpis.alerts.setStatus(auth.workspaceId, id, 'acknowledged', auth.apiKeyId));
  }

  @Authorized(...VIEWERS)
  @Mutation(() => Alert, { description: 'Resolve an open or acknowledged alert (records which key and when). READ or ANALYST.' })
  async resolveAlert(@Arg('id', () => ID, { description: 'Alert id.' }) id: string, @Ctx() ctx: RequestContext): Promise<Alert> {
    const auth = requireAuth(ctx);
    return toAlert(await this.services.kpis.alerts.setStatus(auth.workspaceId, id, 'resolved', auth.apiKeyId));
  }

  @Authorized(...VIEWERS)
  @Subscription(() => Alert, {
    description: 'Alerts as they are raised (from any instance), at `minLevel` and above. READ or ANALYST.',
    topics: ({ context }) => Topics.alertRaised(requireAuth(context as RequestContext).workspaceId),
    filter: ({ payload, args }) => LEVEL_RANK[(payload as { level: AlertLevelKey }).level] >= LEVEL_RANK[((args.minLevel as AlertLevelKey | undefined) ?? 'normal')],
  })
  async alertRaised(
    @Root() p: { alertId: string },
    @Ctx() ctx: RequestContext,
    @Arg('minLevel', () => AlertLevel, { defaultValue: AlertLevel.NORMAL, description: 'Lowest level sent.' }) _minLevel: AlertLevel,
  ): Promise<Alert> {
    return toAlert(await this.services.kpis.alerts.alert(requireAuth(ctx).workspaceId, p.alertId));
  }
}
