import { Arg, Authorized, Ctx, Float, ID, Int, Mutation, Query, Resolver, Root, Subscription } from 'type-graphql';
import { Role, requireAuth } from '../../platform/auth';
import type { RequestContext } from '../../platform/graphql/context';
import { maskPersonalText } from '../../platform/privacy';
import { Topics } from '../../platform/pubsub';
import type { AlertRow, AlertRuleRow, AlertStepRow, TargetRow } from './alert.repository';
import type { AlertSla } from './alert.sla';
import { LEVEL_RANK, type AlertLevel as AlertLevelKey } from './alert.service';
import { Alert, AlertAction, AlertEvaluation, AlertLevel, AlertRule, AlertRuleInput, AlertRuleKind, AlertServiceLevel, AlertServiceLevelInput, AlertStatus, AlertStep, KpiTarget } from './alert.type';
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

/**
 * A note as the caller may read it. Notes are free text written by people (acknowledgement, root
 * cause, fix) and can name a customer: without the PII scope, phone numbers and e-mail addresses
 * in them are masked, as everywhere else personal data is shown.
 */
const shownNote = (text: string | null, pii: boolean): string | null => (text === null || pii ? text : maskPersonalText(text));

const toStep = (s: AlertStepRow, pii: boolean): AlertStep =>
  Object.assign(new AlertStep(), { action: s.action as AlertAction, actor: s.actor, level: s.level as AlertLevel, note: shownNote(s.note, pii), at: s.at });

const toSla = (s: AlertSla): AlertServiceLevel =>
  Object.assign(new AlertServiceLevel(), {
    level: s.level as AlertLevel,
    acknowledgeWithinSeconds: s.acknowledgeWithinSec,
    resolveWithinSeconds: s.resolveWithinSec,
    rootCauseRequired: s.rootCauseRequired,
    updatedBy: s.updatedBy,
    updatedAt: s.updatedAt,
  });

/** The alert as the caller may read it (`pii`: the caller's key may see personal data). */
export const toAlert = (a: AlertRow, pii: boolean): Alert =>
  Object.assign(new Alert(), {
    id: a.id,
    ruleId: a.rule_id,
    metric: a.metric as KpiMetric,
    level: a.level as AlertLevel,
    raisedLevel: a.raised_level as AlertLevel,
    escalations: a.escalations,
    orgNode: a.org_node ?? null,
    escalatedAt: a.escalated_at,
    value: a.value === null ? null : Number(a.value),
    reference: a.reference === null ? null : Number(a.reference),
    message: a.message,
    status: a.status as AlertStatus,
    raisedAt: a.raised_at,
    acknowledgedBy: a.acknowledged_by,
    acknowledgedAt: a.acknowledged_at,
    rootCause: shownNote(a.root_cause, pii),
    rootCauseBy: a.root_cause_by,
    rootCauseAt: a.root_cause_at,
    resolvedBy: a.resolved_by,
    resolvedAt: a.resolved_at,
    resolutionNote: shownNote(a.resolution_note, pii),
    acknowledgeDueAt: a.acknowledge_due_at,
    resolveDueAt: a.resolve_due_at,
    dueAt: a.next_due_at,
    history: (a.history ?? []).map((s) => toStep(s, pii)),
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
    @Arg('orgNode', () => String, {
      nullable: true,
      description: 'Only alerts of rules scoped to this org node or a node below it (rule `filter.orgNode`): what a region\'s team handles. An unknown key is INVALID_KPI_FILTER on `orgNode`.',
    })
    orgNode?: string | null,
  ): Promise<Alert[]> {
    const auth = requireAuth(ctx);
    return (await this.services.kpis.alerts.alerts(auth.workspaceId, status ?? null, (level as AlertLevelKey | null) ?? null, first, orgNode ?? null)).map((a) => toAlert(a, auth.pii));
  }

  @Authorized(...VIEWERS)
  @Mutation(() => Alert, { description: 'Acknowledge an OPEN alert (应急响应): records which key, when and the note; stops its acknowledge deadline (the resolve deadline runs on). READ or ANALYST. CONFLICT `ALERT_STATUS` when it is not OPEN.' })
  async acknowledgeAlert(
    @Arg('id', () => ID, { description: 'Alert id.' }) id: string,
    @Ctx() ctx: RequestContext,
    @Arg('note', () => String, { nullable: true, description: 'Note (at most 2,000 characters).' }) note?: string | null,
  ): Promise<Alert> {
    const auth = requireAuth(ctx);
    return toAlert(await this.services.kpis.alerts.step(auth.workspaceId, id, 'acknowledged', auth.apiKeyId, note ?? null), auth.pii);
  }

  @Authorized(...VIEWERS)
  @Mutation(() => Alert, {
    description: 'Record the root cause of an ACKNOWLEDGED alert (根源分析), or revise it while ROOT_CAUSE_RECORDED: records which key, when and the text. READ or ANALYST. CONFLICT `ALERT_STATUS` from OPEN or RESOLVED.',
  })
  async recordAlertRootCause(
    @Arg('id', () => ID, { description: 'Alert id.' }) id: string,
    @Arg('rootCause', () => String, { description: 'The root cause (1–2,000 characters).' }) rootCause: string,
    @Ctx() ctx: RequestContext,
  ): Promise<Alert> {
    const auth = requireAuth(ctx);
    return toAlert(await this.services.kpis.alerts.step(auth.workspaceId, id, 'root_cause_recorded', auth.apiKeyId, rootCause), auth.pii);
  }

  @Authorized(...VIEWERS)
  @Mutation(() => Alert, {
    description:
      'Resolve an alert not yet RESOLVED (改进落实): records which key, when and the note (the improvement made); its deadlines stop. When its level\'s service level has `rootCauseRequired`, only from ROOT_CAUSE_RECORDED (CONFLICT `ALERT_ROOT_CAUSE_REQUIRED`). READ or ANALYST.',
  })
  async resolveAlert(
    @Arg('id', () => ID, { description: 'Alert id.' }) id: string,
    @Ctx() ctx: RequestContext,
    @Arg('note', () => String, { nullable: true, description: 'Note (at most 2,000 characters).' }) note?: string | null,
  ): Promise<Alert> {
    const auth = requireAuth(ctx);
    return toAlert(await this.services.kpis.alerts.step(auth.workspaceId, id, 'resolved', auth.apiKeyId, note ?? null), auth.pii);
  }

  @Authorized(...VIEWERS)
  @Query(() => [AlertServiceLevel], { description: 'The service level of each alert level, NORMAL first (defaults where none was set). READ or ANALYST.' })
  async alertServiceLevels(@Ctx() ctx: RequestContext): Promise<AlertServiceLevel[]> {
    return (await this.services.kpis.alerts.slas(requireAuth(ctx).workspaceId)).map(toSla);
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => [AlertServiceLevel], {
    description: 'Set the service levels of some alert levels (the others keep theirs). Applies to alerts raised or escalated from now on. ADMIN. BAD_USER_INPUT `INVALID_ALERT_SLA` names the field; nothing changes then.',
  })
  async setAlertServiceLevels(
    @Arg('input', () => [AlertServiceLevelInput], { description: 'One entry per level to set.' }) input: AlertServiceLevelInput[],
    @Ctx() ctx: RequestContext,
  ): Promise<AlertServiceLevel[]> {
    const auth = requireAuth(ctx);
    return (await this.services.kpis.alerts.setSlas(auth.workspaceId, input.map((x) => ({ ...x, level: x.level as AlertLevelKey })), auth.apiKeyId)).map(toSla);
  }

  @Authorized(...VIEWERS)
  @Subscription(() => Alert, {
    description: 'Alerts as they are raised, and again when they escalate past their service level (at their new level), from any instance, at `minLevel` and above. READ or ANALYST.',
    topics: ({ context }) => Topics.alertRaised(requireAuth(context as RequestContext).workspaceId),
    filter: ({ payload, args }) => LEVEL_RANK[(payload as { level: AlertLevelKey }).level] >= LEVEL_RANK[((args.minLevel as AlertLevelKey | undefined) ?? 'normal')],
  })
  async alertRaised(
    @Root() p: { alertId: string },
    @Ctx() ctx: RequestContext,
    @Arg('minLevel', () => AlertLevel, { defaultValue: AlertLevel.NORMAL, description: 'Lowest level sent.' }) _minLevel: AlertLevel,
  ): Promise<Alert> {
    const auth = requireAuth(ctx);
    return toAlert(await this.services.kpis.alerts.alert(auth.workspaceId, p.alertId), auth.pii);
  }

  @Authorized(...VIEWERS)
  @Subscription(() => Alert, {
    description: 'Every step of every alert as it happens (raised, acknowledged, root cause recorded, resolved, escalated), from any instance: the alert as it stands after the step, with its history. For alert feeds. READ or ANALYST.',
    topics: ({ context }) => Topics.alertChanged(requireAuth(context as RequestContext).workspaceId),
  })
  async alertChanged(@Root() p: { alertId: string }, @Ctx() ctx: RequestContext): Promise<Alert> {
    const auth = requireAuth(ctx);
    return toAlert(await this.services.kpis.alerts.alert(auth.workspaceId, p.alertId), auth.pii);
  }
}
