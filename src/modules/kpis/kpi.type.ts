import { Field, Float, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { CATALOGUE, KpiMetric } from './kpi.catalogue';
import { AttributionModel } from '../attribution';

registerEnumType(KpiMetric, {
  name: 'KpiMetric',
  description:
    'The KPI catalogue. Each value states its formula. Active: at least one event in the bucket (on the breakdown channel/touchpoint when broken down by them). New: first event in the bucket (broken down by the channel/touchpoint of that first event). Days are days in the workspace time zone. Tag, segment, stage and experiment variant breakdowns and filters use current membership.',
  valuesConfig: Object.fromEntries(Object.entries(CATALOGUE).map(([k, d]) => [k, { description: `${d.label}: ${d.formula}.` }])),
});

export enum KpiGrain {
  HOUR = 'HOUR',
  DAY = 'DAY',
  WEEK = 'WEEK',
  MONTH = 'MONTH',
}
registerEnumType(KpiGrain, {
  name: 'KpiGrain',
  description: 'Time bucket size, in the workspace time zone (weeks start on Monday).',
  valuesConfig: { HOUR: { description: 'Clock hours.' }, DAY: { description: 'Days.' }, WEEK: { description: 'ISO weeks (Monday).' }, MONTH: { description: 'Calendar months.' } },
});

export enum KpiBreakdown {
  CHANNEL = 'CHANNEL',
  TOUCHPOINT = 'TOUCHPOINT',
  STAGE = 'STAGE',
  LEVEL = 'LEVEL',
  TAG = 'TAG',
  SEGMENT = 'SEGMENT',
  EXPERIMENT_VARIANT = 'EXPERIMENT_VARIANT',
  ORG_NODE = 'ORG_NODE',
  STAFF = 'STAFF',
}
registerEnumType(KpiBreakdown, {
  name: 'KpiBreakdown',
  description: 'What a series is split by.',
  valuesConfig: {
    CHANNEL: { description: 'Channel of the activity (acquisition channel for new-profile, cohort and referral metrics).' },
    TOUCHPOINT: { description: '`context.touchpoint` of the activity (of the first event for new-profile metrics); empty string when none.' },
    STAGE: { description: 'Current lifecycle stage.' },
    LEVEL: { description: 'Current membership level (level key, see `membershipRules`); people holding no level are in no group (the total still counts them).' },
    TAG: { description: 'Current tags (a person counts under each tag they carry).' },
    SEGMENT: { description: 'Current segments (by segment key).' },
    EXPERIMENT_VARIANT: {
      description:
        'Variant of the experiment named by `filter.experiment` (required): each person counts under the variant of their first exposure, with all their activity in the range (before and after exposure). Contaminated people (exposed to more than one variant) and people never exposed are left out, of the total too; `experimentResults` reports them. Active, interacting and buying people, DAU, WAU, MAU, orders, GMV and NPS are read from per-variant rollups carried at ingest (per variant and local day: the totals and the members active, interacting, buying, and active in the 7 and 30 days before; a multi-day bucket\'s distinct people: member bitmaps ANDed with the day sets), so a DAY series costs one row per day and variant, not the history; other metrics, a channel, touchpoint, stage, tag or segment filter beside it, and the HOUR grain read per-person hourly activity.',
    },
    ORG_NODE: {
      description:
        'Org node (组织), one level at a time: the children of `filter.orgNode` (the top-level nodes without it), each counting the activity at the touchpoints of its whole subtree (rolled up), ' +
        'plus a key for `filter.orgNode` itself counting the touchpoints assigned to it directly, and at the top a key \'\' for touchpoints of no node and events without a touchpoint. The keys partition ' +
        'the touchpoints: orders, GMV, events and new people (by first touchpoint) add up over them to the total; a person active under two children counts once in the parent. The tree and ' +
        'touchpoint assignments are read as they are when asked (reassigning a touchpoint moves its history). Each key reads the carried touchpoint rollups as a touchpoint filter.',
    },
    STAFF: {
      description:
        'Current staff owner (SERVED_BY, 企微归属: the staff of the person\'s latest WeCom event carrying `context.staff`, see `Profile.owner`), with all the person\'s activity; people without an owner are in no group (the total still counts them). ' +
        'Customers served, active, converted and GMV per staff member: ACTIVE_USERS, CONVERSION_RATE, GMV by STAFF, and `staffMembers.customers`. Read from per-person hourly activity, like STAGE.',
    },
  },
});

@ObjectType({ description: 'One bucket of a KPI series.' })
export class KpiPoint {
  @Field({ description: 'Bucket start, local time of the workspace (YYYY-MM-DDTHH:MM:SS).' })
  localStart: string;
  @Field({ description: 'Bucket end (exclusive), local time; the last bucket ends with the range.' })
  localEnd: string;
  @Field({ description: 'Bucket start as an instant.' })
  start: Date;
  @Field({ description: 'Bucket end as an instant (exclusive).' })
  end: Date;
  @Field(() => Float, { nullable: true, description: 'The value; null when the formula divides by zero.' })
  value: number | null;
}

@ObjectType({ description: 'A series of points: the total, or one breakdown value.' })
export class KpiSeries {
  @Field(() => String, { nullable: true, description: 'Breakdown value (channel, touchpoint, stage, tag key, segment key or variant key); null for the total.' })
  key: string | null;
  @Field(() => [KpiPoint], { description: 'One point per bucket, in time order.' })
  points: KpiPoint[];
}

@ObjectType({ description: 'A KPI time series with its definition.' })
export class KpiResult {
  @Field(() => KpiMetric, { description: 'The metric.' })
  metric: KpiMetric;
  @Field({ description: 'Chinese label operators use.' })
  label: string;
  @Field({ description: 'The formula.' })
  formula: string;
  @Field(() => KpiGrain, { description: 'Bucket size.' })
  grain: KpiGrain;
  @Field({ description: 'Time zone of the buckets (the workspace time zone).' })
  timeZone: string;
  @Field(() => KpiSeries, { description: 'The total series.' })
  total: KpiSeries;
  @Field(() => [KpiSeries], { description: 'One series per breakdown value (empty without a breakdown), sorted by key.' })
  breakdown: KpiSeries[];
}

@ObjectType({ description: 'A metric over a range, and over the equally long range just before.' })
export class KpiSnapshotValue {
  @Field(() => KpiMetric, { description: 'The metric.' })
  metric: KpiMetric;
  @Field({ description: 'Chinese label.' })
  label: string;
  @Field({ description: 'The formula.' })
  formula: string;
  @Field(() => Float, { nullable: true, description: 'Value over the range (one bucket).' })
  value: number | null;
  @Field(() => Float, { nullable: true, description: 'Value over the previous range.' })
  previous: number | null;
  @Field(() => Float, { nullable: true, description: '(value − previous) ÷ |previous|; null when previous is 0 or null.' })
  change: number | null;
}

@ObjectType({ description: 'A local date range (inclusive).' })
export class KpiRangeType {
  @Field({ description: 'First day, YYYY-MM-DD.' })
  from: string;
  @Field({ description: 'Last day, YYYY-MM-DD (inclusive).' })
  to: string;
}

@ObjectType({ description: 'KPIs over a range with period-over-period change.' })
export class KpiSnapshot {
  @Field(() => KpiRangeType, { description: 'The range.' })
  range: KpiRangeType;
  @Field(() => KpiRangeType, { description: 'The equally long range just before.' })
  previousRange: KpiRangeType;
  @Field({ description: 'Workspace time zone.' })
  timeZone: string;
  @Field(() => [KpiSnapshotValue], { description: 'One value per metric asked, in order.' })
  values: KpiSnapshotValue[];
}

@ObjectType({ description: 'One cohort of a retention matrix.' })
export class RetentionCohort {
  @Field({ description: 'Local start of the cohort bucket.' })
  cohortStart: string;
  @Field(() => Int, { description: 'People whose first event falls in the bucket.' })
  size: number;
  @Field(() => [Float], { nullable: 'items', description: 'Share of the cohort active in period j after it (index 0 = its own period; null when the period is after the range data or the cohort is empty).' })
  retention: (number | null)[];
}

@ObjectType({ description: 'Retention cohort matrix.' })
export class RetentionMatrix {
  @Field(() => KpiGrain, { description: 'Cohort and period size.' })
  grain: KpiGrain;
  @Field({ description: 'Workspace time zone.' })
  timeZone: string;
  @Field(() => [RetentionCohort], { description: 'Cohorts in time order.' })
  cohorts: RetentionCohort[];
}

@ObjectType({ description: 'One funnel step.' })
export class FunnelStep {
  @Field({ description: 'Event name.' })
  name: string;
  @Field(() => Int, { description: 'People reaching this step.' })
  count: number;
  @Field(() => Float, { nullable: true, description: 'count ÷ previous step count.' })
  conversionFromPrevious: number | null;
  @Field(() => Float, { nullable: true, description: 'count ÷ first step count.' })
  conversionFromFirst: number | null;
}

@ObjectType({
  description:
    'A saved funnel: kept at ingest, so `funnel` with the same steps and window answers from per-day counts (cost by days, not events) for ranges of up to 93 days without a filter, once ready. Other ranges, filters and steps read the events of the steps.',
})
export class SavedFunnel {
  @Field(() => ID, { description: 'Funnel id.' })
  id: string;
  @Field({ description: 'Name, for people.' })
  name: string;
  @Field(() => [String], { description: 'Event names, in order.' })
  steps: string[];
  @Field(() => Float, { description: 'Window from step 1, hours.' })
  withinHours: number;
  @Field({ description: 'True once every person\'s history is in (at once in a workspace without events; else after the sweep\'s backfill, or a `siyu recompute --parts kpis` begun after it was saved).' })
  ready: boolean;
  @Field({ description: 'When it was saved.' })
  createdAt: Date;
}

@ObjectType({ description: 'One value of an aggregate row.' })
export class AggregateValue {
  @Field(() => KpiMetric, { description: 'The measure.' })
  measure: KpiMetric;
  @Field(() => Float, { nullable: true, description: 'Its value for the row.' })
  value: number | null;
}

export enum AttributionMeasure {
  CONVERSIONS = 'CONVERSIONS',
  REVENUE = 'REVENUE',
  SHARE = 'SHARE',
  COST = 'COST',
  CAC = 'CAC',
  ROI = 'ROI',
}
registerEnumType(AttributionMeasure, {
  name: 'AttributionMeasure',
  description: 'An attribution number of `aggregate`, per time bucket and channel or touchpoint (the same numbers `attribution` gives for the bucket\'s days).',
  valuesConfig: {
    CONVERSIONS: { description: 'Credited conversions: Σ the credit shares of the conversions in the bucket (whole conversions in the total row).' },
    REVENUE: { description: 'Credited revenue: Σ share × conversion value.' },
    SHARE: { description: 'CONVERSIONS ÷ all credited conversions of the bucket (1 in the total row when there are any, else 0).' },
    COST: { description: 'Marketing cost of the value over the bucket\'s days (`setMarketingCost`); null when none is set.' },
    CAC: { description: 'COST ÷ CONVERSIONS; null without cost or conversions.' },
    ROI: { description: 'REVENUE ÷ COST, as a ratio (0.4 = 40 %); null without cost.' },
  },
});

@ObjectType({ description: 'One attribution measure of a row.' })
export class AttributedValue {
  @Field(() => AttributionModel, { description: 'The model.' })
  model: AttributionModel;
  @Field(() => AttributionMeasure, { description: 'The measure.' })
  measure: AttributionMeasure;
  @Field({ description: 'Key of the conversion definition.' })
  conversion: string;
  @Field(() => Float, { nullable: true, description: 'Its value for the row.' })
  value: number | null;
}

@ObjectType({ description: 'One row of an aggregate: a time bucket and a dimension value, with every measure asked.' })
export class AggregateRow {
  @Field({ description: 'Local start of the time bucket.' })
  bucket: string;
  @Field(() => String, { nullable: true, description: 'Value of the dimension (null without one).' })
  dimension: string | null;
  @Field(() => [AggregateValue], { description: 'Measures in the order asked; null for a dimension value the KPI has no series for (attribution\'s `(none)`).' })
  values: AggregateValue[];
  @Field(() => [AttributedValue], { description: 'Attribution measures in the order asked (empty without `attribution`).' })
  attributed: AttributedValue[];
}

@ObjectType({ description: 'A page of aggregate rows, ordered by bucket then dimension.' })
export class AggregatePage {
  @Field(() => [AggregateRow], { description: 'Rows of this page.' })
  rows: AggregateRow[];
  @Field(() => Int, { description: 'Rows in all pages.' })
  totalCount: number;
  @Field(() => String, { nullable: true, description: 'Cursor of the next page (pass as `after`); null on the last page.' })
  nextCursor: string | null;
}


@ObjectType({ description: 'A live KPI value: every metric asked, over the last `periods` buckets ending with the current one.' })
export class KpiUpdate {
  @Field(() => Int, { description: 'Strictly increasing for this subscription (versions may be skipped by a slow reader; the first message is the current value).' })
  version: number;
  @Field({ description: 'When this version was computed.' })
  computedAt: Date;
  @Field(() => [KpiResult], { description: 'One result per metric, in the order asked.' })
  results: KpiResult[];
}
