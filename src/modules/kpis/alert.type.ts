import { GraphQLJSONObject } from 'graphql-scalars';
import { Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { KpiMetric } from './kpi.catalogue';
import { KpiFilterInput } from './kpi.inputs';
import { KpiRangeType } from './kpi.type';

export enum AlertLevel {
  NORMAL = 'normal',
  IMPORTANT = 'important',
  URGENT = 'urgent',
}
registerEnumType(AlertLevel, {
  name: 'AlertLevel',
  description: 'Alert level, lowest first.',
  valuesConfig: { NORMAL: { description: '一般 normal.' }, IMPORTANT: { description: '重要 important.' }, URGENT: { description: '紧急 urgent.' } },
});

export enum AlertRuleKind {
  ABOVE = 'above',
  BELOW = 'below',
  DEVIATION = 'deviation',
}
registerEnumType(AlertRuleKind, {
  name: 'AlertRuleKind',
  description: 'What makes a rule hold.',
  valuesConfig: {
    ABOVE: { description: 'The metric over `windowDays` local days (which days: `evaluate`) is above `threshold`.' },
    BELOW: { description: 'The metric over `windowDays` local days (which days: `evaluate`) is below `threshold`.' },
    DEVIATION: { description: 'The metric over the target period (whole or to date: `evaluate`) differs from the target by more than `deviationPct` percent (either way).' },
  },
});

export enum AlertEvaluation {
  COMPLETED_PERIOD = 'completed_period',
  CURRENT_PERIOD = 'current_period',
}
registerEnumType(AlertEvaluation, {
  name: 'AlertEvaluation',
  description: 'Which period a rule measures.',
  valuesConfig: {
    COMPLETED_PERIOD: {
      description: 'Completed periods only (the default): ABOVE/BELOW measure the `windowDays` local days ending yesterday; DEVIATION compares the target period once it has ended. A period that has just begun cannot fire a BELOW rule.',
    },
    CURRENT_PERIOD: { description: 'The period under way, so far: ABOVE/BELOW measure the last `windowDays` local days with today; DEVIATION compares the target period to date.' },
  },
});

export enum AlertStatus {
  OPEN = 'open',
  ACKNOWLEDGED = 'acknowledged',
  ROOT_CAUSE_RECORDED = 'root_cause_recorded',
  RESOLVED = 'resolved',
}
registerEnumType(AlertStatus, {
  name: 'AlertStatus',
  description: 'Where an alert stands in the response process (应急响应 → 根源分析 → 改进落实): OPEN → ACKNOWLEDGED → ROOT_CAUSE_RECORDED → RESOLVED. Status only moves forward.',
  valuesConfig: {
    OPEN: { description: 'Raised, nobody has acknowledged it (应急响应 pending).' },
    ACKNOWLEDGED: { description: 'Someone is on it.' },
    ROOT_CAUSE_RECORDED: { description: 'Its root cause is recorded (根源分析); the fix is under way.' },
    RESOLVED: { description: 'Closed (改进落实), by a person or by its rule (`autoResolve`).' },
  },
});

export enum AlertAction {
  RAISED = 'raised',
  ACKNOWLEDGED = 'acknowledged',
  ROOT_CAUSE_RECORDED = 'root_cause_recorded',
  RESOLVED = 'resolved',
  ESCALATED = 'escalated',
}
registerEnumType(AlertAction, {
  name: 'AlertAction',
  description: 'A step in an alert\'s history.',
  valuesConfig: {
    RAISED: { description: 'Its rule raised it.' },
    ACKNOWLEDGED: { description: 'Acknowledged (`acknowledgeAlert`).' },
    ROOT_CAUSE_RECORDED: { description: 'Root cause recorded or revised (`recordAlertRootCause`); the note is the root cause.' },
    RESOLVED: { description: 'Resolved (`resolveAlert`, or its rule with `autoResolve`: no actor).' },
    ESCALATED: { description: 'Its service level passed (`AlertServiceLevel`): moved one level up and pushed again; no actor; the note says which deadline passed.' },
  },
});

@ObjectType({ description: 'One step of an alert\'s response process.' })
export class AlertStep {
  @Field(() => AlertAction, { description: 'What happened.' })
  action: AlertAction;
  @Field(() => String, { nullable: true, description: 'API key id that took the step; null when Siyu did (raise, escalation, auto-resolve).' })
  actor: string | null;
  @Field(() => AlertLevel, { description: 'The alert\'s level after the step.' })
  level: AlertLevel;
  @Field(() => String, { nullable: true, description: 'The note given with the step (the root cause for ROOT_CAUSE_RECORDED; why, for ESCALATED). Without the PII scope (ANALYST keys, READ keys without `pii`), phone numbers and e-mail addresses in it are masked.' })
  note: string | null;
  @Field({ description: 'When.' })
  at: Date;
}

@ObjectType({ description: 'The service level (SLA) of one alert level: how soon its alerts must be acknowledged and resolved. Deadlines count from the raise, and restart from each escalation under the new level.' })
export class AlertServiceLevel {
  @Field(() => AlertLevel, { description: 'The alert level.' })
  level: AlertLevel;
  @Field(() => Int, { description: 'Seconds to acknowledge; an alert still OPEN then escalates. Default: URGENT 900 (15 min), IMPORTANT 3600 (1 h), NORMAL 14400 (4 h).' })
  acknowledgeWithinSeconds: number;
  @Field(() => Int, { description: 'Seconds to resolve; an alert not RESOLVED then escalates. Default: URGENT 14400 (4 h), IMPORTANT 86400 (24 h), NORMAL 259200 (72 h).' })
  resolveWithinSeconds: number;
  @Field(() => Boolean, { description: 'Resolving needs a recorded root cause first (ROOT_CAUSE_RECORDED); a rule\'s `autoResolve` is exempt. Default false.' })
  rootCauseRequired: boolean;
  @Field(() => String, { nullable: true, description: 'API key id that set it; null while the default applies.' })
  updatedBy: string | null;
  @Field(() => Date, { nullable: true, description: 'When it was set; null while the default applies.' })
  updatedAt: Date | null;
}

@InputType({ description: 'The service level of one alert level.' })
export class AlertServiceLevelInput {
  @Field(() => AlertLevel, { description: 'The alert level.' })
  level: AlertLevel;
  @Field(() => Int, { description: 'Seconds to acknowledge (1–7776000).' })
  acknowledgeWithinSeconds: number;
  @Field(() => Int, { description: 'Seconds to resolve (1–7776000, not shorter than `acknowledgeWithinSeconds`).' })
  resolveWithinSeconds: number;
  @Field(() => Boolean, { nullable: true, defaultValue: false, description: 'Require a root cause before resolving (default false).' })
  rootCauseRequired?: boolean | null;
}

@ObjectType({ description: 'A goal for a KPI over a period (e.g. D1 retention 0.41 this quarter).' })
export class KpiTarget {
  @Field(() => ID, { description: 'Target id.' })
  id: string;
  @Field(() => KpiMetric, { description: 'The metric.' })
  metric: KpiMetric;
  @Field(() => Float, { description: 'Target value, in the metric\'s unit (rates as fractions).' })
  value: number;
  @Field(() => KpiRangeType, { description: 'The period, local dates inclusive.' })
  period: KpiRangeType;
  @Field(() => GraphQLJSONObject, { description: 'Filter the metric is measured with.' })
  filter: Record<string, unknown>;
  @Field({ description: 'When it was set.' })
  createdAt: Date;
}

@ObjectType({ description: 'A rule that raises alerts: fires once when its condition starts to hold, again only after it stopped holding and the cooldown passed.' })
export class AlertRule {
  @Field(() => ID, { description: 'Rule id.' })
  id: string;
  @Field({ description: 'Name shown with its alerts.' })
  name: string;
  @Field(() => KpiMetric, { description: 'The metric watched.' })
  metric: KpiMetric;
  @Field(() => AlertRuleKind, { description: 'Condition kind.' })
  kind: AlertRuleKind;
  @Field(() => Float, { nullable: true, description: 'ABOVE/BELOW threshold.' })
  threshold: number | null;
  @Field(() => ID, { nullable: true, description: 'DEVIATION: the target.' })
  targetId: string | null;
  @Field(() => Float, { nullable: true, description: 'DEVIATION: allowed deviation, percent (default 5).' })
  deviationPct: number | null;
  @Field(() => AlertLevel, { description: 'Level of its alerts.' })
  level: AlertLevel;
  @Field(() => Int, { description: 'Minimum seconds between two alerts of this rule.' })
  cooldownSeconds: number;
  @Field(() => Int, { description: 'ABOVE/BELOW: local days measured (ending yesterday or today: `evaluate`).' })
  windowDays: number;
  @Field(() => AlertEvaluation, { description: 'Which period is measured: completed periods (default) or the current one so far.' })
  evaluate: AlertEvaluation;
  @Field(() => Boolean, { description: 'Its open and acknowledged alerts are resolved (with `resolvedAt`, no `resolvedBy`) when the condition stops holding.' })
  autoResolve: boolean;
  @Field(() => Boolean, { description: 'The condition held at the last evaluation.' })
  breached: boolean;
  @Field(() => Date, { nullable: true, description: 'When it last raised an alert.' })
  lastFiredAt: Date | null;
}

@ObjectType({ description: 'An alert raised by a rule.' })
export class Alert {
  @Field(() => ID, { description: 'Alert id.' })
  id: string;
  @Field(() => ID, { description: 'The rule that raised it.' })
  ruleId: string;
  @Field(() => KpiMetric, { description: 'The metric.' })
  metric: KpiMetric;
  @Field(() => AlertLevel, { description: 'Level now: the level raised at, one step higher per escalation (URGENT stays URGENT).' })
  level: AlertLevel;
  @Field(() => AlertLevel, { description: 'Level it was raised at (its rule\'s).' })
  raisedLevel: AlertLevel;
  @Field(() => Int, { description: 'Times it escalated past its service level.' })
  escalations: number;
  @Field(() => String, { nullable: true, description: 'The org node its rule is scoped to (the rule\'s `filter.orgNode`), for routing: 重要问题由总部解决，一般问题由区域团队解决. Null for a workspace-wide rule.' })
  orgNode: string | null;
  @Field(() => Date, { nullable: true, description: 'When it last escalated.' })
  escalatedAt: Date | null;
  @Field(() => Float, { nullable: true, description: 'Metric value that raised it.' })
  value: number | null;
  @Field(() => Float, { nullable: true, description: 'Threshold or target it was compared with.' })
  reference: number | null;
  @Field({ description: "What happened, in one line, in the workspace's language (`Workspace.locale`) at the time it was raised: metric name, rounded values with units, the days measured." })
  message: string;
  @Field(() => AlertStatus, { description: 'Status.' })
  status: AlertStatus;
  @Field({ description: 'When it was raised.' })
  raisedAt: Date;
  @Field(() => String, { nullable: true, description: 'API key id that acknowledged it.' })
  acknowledgedBy: string | null;
  @Field(() => Date, { nullable: true, description: 'When it was acknowledged.' })
  acknowledgedAt: Date | null;
  @Field(() => String, { nullable: true, description: 'The root cause recorded (根源分析). Without the PII scope (ANALYST keys, READ keys without `pii`), phone numbers and e-mail addresses in it are masked.' })
  rootCause: string | null;
  @Field(() => String, { nullable: true, description: 'API key id that recorded the root cause (last revision).' })
  rootCauseBy: string | null;
  @Field(() => Date, { nullable: true, description: 'When the root cause was recorded (last revision).' })
  rootCauseAt: Date | null;
  @Field(() => String, { nullable: true, description: 'API key id that resolved it; null when its rule resolved it (`autoResolve`).' })
  resolvedBy: string | null;
  @Field(() => Date, { nullable: true, description: 'When it was resolved.' })
  resolvedAt: Date | null;
  @Field(() => String, { nullable: true, description: 'The note given when resolving (the improvement made, 改进落实). Without the PII scope (ANALYST keys, READ keys without `pii`), phone numbers and e-mail addresses in it are masked.' })
  resolutionNote: string | null;
  @Field(() => Date, { nullable: true, description: 'Acknowledge deadline: raised (or last escalated) + the level\'s `acknowledgeWithinSeconds`. Null for alerts raised before service levels existed.' })
  acknowledgeDueAt: Date | null;
  @Field(() => Date, { nullable: true, description: 'Resolve deadline: raised (or last escalated) + the level\'s `resolveWithinSeconds`.' })
  resolveDueAt: Date | null;
  @Field(() => Date, { nullable: true, description: 'The deadline that escalates it next (acknowledge while OPEN, then resolve); null once RESOLVED.' })
  dueAt: Date | null;
  @Field(() => [AlertStep], { description: 'Every step, oldest first: raised, acknowledged, root cause, escalations, resolved — with who, when and notes (masked like `rootCause` without the PII scope).' })
  history: AlertStep[];
}

@InputType({ description: 'A new alert rule.' })
export class AlertRuleInput {
  @Field({ description: 'Name (1–200 characters).' })
  name: string;
  @Field(() => KpiMetric, { description: 'The metric watched.' })
  metric: KpiMetric;
  @Field(() => AlertRuleKind, { description: 'Condition kind.' })
  kind: AlertRuleKind;
  @Field(() => Float, { nullable: true, description: 'ABOVE/BELOW: the threshold.' })
  threshold?: number | null;
  @Field(() => ID, { nullable: true, description: 'DEVIATION: a target id.' })
  targetId?: string | null;
  @Field(() => Float, { nullable: true, description: 'DEVIATION: allowed deviation in percent, default 5.' })
  deviationPct?: number | null;
  @Field(() => AlertLevel, { defaultValue: AlertLevel.NORMAL, description: 'Level of its alerts.' })
  level: AlertLevel;
  @Field(() => Int, { nullable: true, description: 'Seconds between two alerts of the rule (0–2592000, default 3600).' })
  cooldownSeconds?: number | null;
  @Field(() => Int, { nullable: true, description: 'ABOVE/BELOW: local days measured (1–366, default 1), ending yesterday or today (`evaluate`).' })
  windowDays?: number | null;
  @Field(() => AlertEvaluation, { defaultValue: AlertEvaluation.COMPLETED_PERIOD, description: 'Which period is measured: completed periods (default), or the current one so far.' })
  evaluate: AlertEvaluation;
  @Field(() => Boolean, { defaultValue: false, description: 'Resolve its alerts when the condition stops holding (default false: people resolve them).' })
  autoResolve: boolean;
  @Field(() => KpiFilterInput, { nullable: true, description: 'ABOVE/BELOW: filter for the metric.' })
  filter?: KpiFilterInput | null;
}

