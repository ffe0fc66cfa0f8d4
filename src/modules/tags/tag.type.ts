import { Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { describeDefaults } from './segment-defaults';
import { FIELD_DOCS } from './expression';

export enum TagKindType {
  MANUAL = 'manual',
  RULE = 'rule',
  SYSTEM = 'system',
}
registerEnumType(TagKindType, {
  name: 'TagKind',
  description: 'Who maintains a tag.',
  valuesConfig: {
    MANUAL: { description: 'Set by operators (`tagProfiles`) or by ingest (`traits.tags`).' },
    RULE: { description: 'Kept current by Siyu from its expression: on ingest for the profiles an event touched, and by the sweep for time-based conditions.' },
    SYSTEM: { description: 'Maintained by Siyu: RFM cells `rfm:<R><F><M>` (quintiles 1–5 of recency, frequency, monetary among buyers, 5 = best).' },
  },
});

export const EXPRESSION_DOC = `Expression language (rule tags and segments): comparisons \`== != > >= < <=\`, \`in (…)\`, \`and\`, \`or\`, \`not\`, parentheses. Fields and functions:\n${FIELD_DOCS.map((f) => `- \`${f.name}\`: ${f.description} e.g. \`${f.example}\``).join('\n')}`;

@ObjectType({ description: 'A label on profiles.' })
export class Tag {
  @Field({ description: 'Unique key in the workspace (1–64 letters, digits, `_ : . -`; Chinese allowed).' })
  key: string;

  @Field({ description: 'Display name (Chinese welcome).' })
  name: string;

  @Field({ description: 'Group, e.g. `会员等级`, `RFM`.' })
  group: string;

  @Field(() => TagKindType, { description: 'Manual, rule or system.' })
  kind: TagKindType;

  @Field(() => String, { nullable: true, description: `The rule (rule tags only).\n\n${EXPRESSION_DOC}` })
  expression: string | null;

  @Field(() => String, { nullable: true, description: 'What it means.' })
  description: string | null;

  @Field({ description: 'Whether the rule can change with time alone (re-evaluated by the sweep).' })
  timeDependent: boolean;

  @Field({ description: 'Created.' })
  createdAt: Date;
}

@ObjectType({ description: 'A tag on one profile.' })
export class ProfileTag {
  @Field({ description: 'Tag key.' })
  key: string;

  @Field({ description: 'Display name.' })
  name: string;

  @Field({ description: 'Group.' })
  group: string;

  @Field(() => TagKindType, { description: 'Kind.' })
  kind: TagKindType;

  @Field({ description: 'How it got there: manual, ingest, rule or system.' })
  source: string;

  @Field({ description: 'When it was added.' })
  addedAt: Date;
}

@ObjectType({
  description: `A saved audience (用户分层): the live profiles matching an expression, kept current as events arrive.\n\nDefault segments, created with every workspace (thresholds are workspace settings, see \`segmentThresholds\`):\n${describeDefaults()}`,
})
export class Segment {
  @Field(() => ID, { description: 'Segment id.' })
  id: string;

  @Field({ description: 'Key (defaults: high_value, potential, new, churn_risk, silent, churned).' })
  key: string;

  @Field({ description: 'Display name, e.g. 高价值.' })
  name: string;

  @Field(() => String, { nullable: true, description: 'What it means.' })
  description: string | null;

  @Field({ description: `Who belongs.\n\n${EXPRESSION_DOC}` })
  expression: string;

  @Field({ description: 'One of the six default segments.' })
  isDefault: boolean;

  @Field({ description: 'Whether membership can change with time alone (kept current by the sweep).' })
  timeDependent: boolean;

  @Field({ description: 'Created.' })
  createdAt: Date;

  @Field({ description: 'Definition last changed.' })
  updatedAt: Date;
}

@ObjectType({ description: 'A segment a profile belongs to.' })
export class ProfileSegment {
  @Field(() => ID, { description: 'Segment id.' })
  id: string;

  @Field({ description: 'Segment key.' })
  key: string;

  @Field({ description: 'Segment name.' })
  name: string;

  @Field({ description: 'When the profile entered it.' })
  enteredAt: Date;
}

export enum MembershipChangeKind {
  ENTERED = 'entered',
  LEFT = 'left',
}
registerEnumType(MembershipChangeKind, { name: 'MembershipChangeKind', description: 'Entered or left.' });

@ObjectType({ description: 'A profile entered or left a segment.' })
export class SegmentMembershipChange {
  @Field(() => ID, { description: 'Segment id.' })
  segmentId: string;

  @Field(() => ID, { description: 'Profile id.' })
  profileId: string;

  @Field(() => MembershipChangeKind, { description: 'Entered or left.' })
  change: MembershipChangeKind;

  @Field({ description: 'Why: `event:<messageId>`, `sweep`, `manual:tag`, `definition:…`.' })
  cause: string;

  @Field({ description: 'When (commit time).' })
  at: Date;
}

@ObjectType({ description: 'Profiles with one tag, and how they split by channel.' })
export class TagDistributionRow {
  @Field({ description: 'Tag key.' })
  tagKey: string;

  @Field({ description: 'Tag name.' })
  tagName: string;

  @Field(() => Int, { description: 'Profiles with the tag.' })
  total: number;

  @Field(() => [BreakdownCount], { description: 'Profiles with the tag per channel they were seen on (a profile on two channels counts in both).' })
  breakdown: BreakdownCount[];
}

@ObjectType({ description: 'A count for one breakdown key.' })
export class BreakdownCount {
  @Field({ description: 'Breakdown key, e.g. the channel.' })
  key: string;

  @Field(() => Int, { description: 'Profiles.' })
  count: number;
}

export enum TagBreakdown {
  CHANNEL = 'CHANNEL',
}
registerEnumType(TagBreakdown, { name: 'TagBreakdown', description: 'How to split a tag distribution.' });

@ObjectType({ description: 'Progress of the time-based sweep of the caller\'s workspace.' })
export class SweepStatusType {
  @Field(() => Int, { description: 'Profiles re-evaluated so far in the current pass.' })
  profilesDone: number;

  @Field(() => Int, { description: 'Live profiles in the workspace.' })
  profilesTotal: number;

  @Field(() => Date, { nullable: true, description: 'When the current pass started (null between passes).' })
  passStartedAt: Date | null;

  @Field(() => Date, { nullable: true, description: 'When the last complete pass finished.' })
  lastPassAt: Date | null;

  @Field(() => Int, { description: 'Membership changes made by the sweep so far.' })
  changes: number;

  @Field(() => [RuleWindowStatusType], {
    description:
      'The windowed aggregates the rules read (`orders_30d`, `count(event = …, within = …)`, `sum(…)`), each kept per person in day buckets updated by every batch, and how far the backfill of a new or longer window has got.',
  })
  ruleWindows: RuleWindowStatusType[];
}

@ObjectType({ description: 'One measure the tag and segment rules read from per-person day buckets, and the progress of its backfill from events.' })
export class RuleWindowStatusType {
  @Field({ description: 'The measure: `["count", event]`, `["sum", event, property]` or `["spend"]` (event null: every event).' })
  measure: string;

  @Field(() => Int, { description: 'UTC days of buckets kept per person: the longest window a rule reads, plus the edge day (0: only an all-time total).' })
  keepDays: number;

  @Field({ description: 'A rule reads it over the whole history (`count`/`sum` without `within`): an all-time total is kept.' })
  allTime: boolean;

  @Field({ description: 'The buckets are complete. Until then, batches read the events of the people they evaluate, and each batch and sweep step backfills the next chunk of people.' })
  ready: boolean;

  @Field(() => Int, { description: 'Live profiles backfilled so far in the current pass.' })
  profilesDone: number;

  @Field(() => Int, { description: 'Live profiles to backfill.' })
  profilesTotal: number;
}

@ObjectType({ description: 'Thresholds of the default segments.' })
export class SegmentThresholdsType {
  @Field({ description: '高价值: total_spend at least this (CNY). Default 2000.' })
  highValueSpend: number;
  @Field({ description: '高价值: seen within this many days. Default 90.' })
  highValueActiveDays: number;
  @Field({ description: '潜力: never ordered, at least this many events in 30 days. Default 5.' })
  potentialEvents30d: number;
  @Field({ description: '新用户: first seen within this many days. Default 7.' })
  newDays: number;
  @Field({ description: '流失风险: a buyer not seen for more than this many days (up to silentDays). Default 14.' })
  churnRiskDays: number;
  @Field({ description: '沉默: not seen for more than this many days (up to churnedDays). Default 30.' })
  silentDays: number;
  @Field({ description: '流失: not seen for more than this many days. Default 90.' })
  churnedDays: number;
}

@InputType({ description: 'Thresholds to change; omitted ones stay.' })
export class SegmentThresholdsInput {
  @Field({ nullable: true, description: 'See SegmentThresholds.highValueSpend.' })
  highValueSpend?: number;
  @Field({ nullable: true, description: 'See SegmentThresholds.highValueActiveDays.' })
  highValueActiveDays?: number;
  @Field({ nullable: true, description: 'See SegmentThresholds.potentialEvents30d.' })
  potentialEvents30d?: number;
  @Field({ nullable: true, description: 'See SegmentThresholds.newDays.' })
  newDays?: number;
  @Field({ nullable: true, description: 'See SegmentThresholds.churnRiskDays.' })
  churnRiskDays?: number;
  @Field({ nullable: true, description: 'See SegmentThresholds.silentDays.' })
  silentDays?: number;
  @Field({ nullable: true, description: 'See SegmentThresholds.churnedDays.' })
  churnedDays?: number;
}

@InputType({ description: 'A new tag.' })
export class CreateTagInput {
  @Field({ description: 'Key (1–64 letters, digits, `_ : . -`; Chinese allowed; `rfm:` is reserved).' })
  key: string;
  @Field({ description: 'Display name.' })
  name: string;
  @Field({ nullable: true, description: 'Group; default `default`.' })
  group?: string;
  @Field(() => TagKindType, { description: 'MANUAL or RULE (SYSTEM tags are Siyu\'s).' })
  kind: TagKindType;
  @Field({ nullable: true, description: 'The rule, for RULE tags.' })
  expression?: string;
  @Field({ nullable: true, description: 'What it means.' })
  description?: string;
}

@InputType({ description: 'Changes to a tag; omitted fields stay.' })
export class UpdateTagInput {
  @Field({ nullable: true, description: 'Display name.' })
  name?: string;
  @Field({ nullable: true, description: 'Group.' })
  group?: string;
  @Field({ nullable: true, description: 'The rule (RULE tags); changing it recomputes the tag.' })
  expression?: string;
  @Field({ nullable: true, description: 'What it means.' })
  description?: string;
}

@InputType({ description: 'A new segment.' })
export class CreateSegmentInput {
  @Field({ description: 'Key (1–64 letters, digits, `_ : . -`).' })
  key: string;
  @Field({ description: 'Display name.' })
  name: string;
  @Field({ description: 'Who belongs (see Segment.expression).' })
  expression: string;
  @Field({ nullable: true, description: 'What it means.' })
  description?: string;
}

@InputType({ description: 'Changes to a segment; omitted fields stay.' })
export class UpdateSegmentInput {
  @Field({ nullable: true, description: 'Display name.' })
  name?: string;
  @Field({ nullable: true, description: 'Who belongs; changing it recomputes membership.' })
  expression?: string;
  @Field({ nullable: true, description: 'What it means.' })
  description?: string;
}
