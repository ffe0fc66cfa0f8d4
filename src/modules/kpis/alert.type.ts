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
  RESOLVED = 'resolved',
}
registerEnumType(AlertStatus, {
  name: 'AlertStatus',
  description: 'Where an alert stands.',
  valuesConfig: { OPEN: { description: 'Raised, nobody has acknowledged it.' }, ACKNOWLEDGED: { description: 'Someone is on it.' }, RESOLVED: { description: 'Closed.' } },
});

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
  @Field(() => AlertLevel, { description: 'Level.' })
  level: AlertLevel;
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
  @Field(() => String, { nullable: true, description: 'API key id that resolved it; null when its rule resolved it (`autoResolve`).' })
  resolvedBy: string | null;
  @Field(() => Date, { nullable: true, description: 'When it was resolved.' })
  resolvedAt: Date | null;
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

