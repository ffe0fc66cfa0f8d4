import { Field, Float, InputType } from 'type-graphql';
import { AttributionModel } from '../attribution';
import { AttributionMeasure } from './kpi.type';

export { KpiRangeInput } from '../../platform/graphql/date-range.input';

@InputType({ description: 'Restricts a KPI to some activity or people. All given conditions apply.' })
export class KpiFilterInput {
  @Field(() => [String], { nullable: true, description: 'Only activity on these channels (acquisition channel for new-profile metrics).' })
  channels?: string[] | null;
  @Field(() => [String], { nullable: true, description: 'Only activity at these touchpoints (`context.touchpoint`).' })
  touchpoints?: string[] | null;
  @Field(() => String, { nullable: true, description: 'Only people currently in this lifecycle stage.' })
  stage?: string | null;
  @Field(() => String, { nullable: true, description: 'Only people currently holding this membership level (level key).' })
  level?: string | null;
  @Field(() => String, { nullable: true, description: 'Only people currently carrying this tag key.' })
  tag?: string | null;
  @Field(() => String, { nullable: true, description: 'Only people currently in this segment (segment key).' })
  segment?: string | null;
  @Field(() => String, {
    nullable: true,
    description: 'Only people exposed to this experiment (experiment key) and not contaminated; required with the EXPERIMENT_VARIANT breakdown, which splits them by variant.',
  })
  experiment?: string | null;
  @Field(() => String, { nullable: true, description: 'Only people whose first exposure to `experiment` was to this variant (variant key); needs `experiment`.' })
  variant?: string | null;
  @Field(() => String, {
    nullable: true,
    description:
      'Only activity at the touchpoints of this org node\'s whole subtree (node key, see `orgTree`; rolled up; new people by their first touchpoint). With the ORG_NODE breakdown, the node whose children the answer splits by. ' +
      'An unknown key is BAD_USER_INPUT INVALID_KPI_FILTER on `filter.orgNode`.',
  })
  orgNode?: string | null;
  @Field(() => String, { nullable: true, description: 'Only people whose current staff owner is this staff id (`Profile.owner`).' })
  staff?: string | null;
}

@InputType({ description: 'A funnel to keep at ingest.' })
export class SavedFunnelInput {
  @Field({ description: 'Name, 1–200 characters.' })
  name: string;
  @Field(() => [String], { description: '2–8 event names, in order.' })
  steps: string[];
  @Field(() => Float, { defaultValue: 24 * 7, description: 'Window from step 1, hours (0–8784].' })
  withinHours: number;
}

@InputType({ description: 'An attribution measure for `aggregate`: a model\'s credit per channel or touchpoint and time bucket.' })
export class AggregateAttributionInput {
  @Field(() => AttributionModel, { description: 'The model (formulas on `AttributionModel`).' })
  model: AttributionModel;
  @Field(() => AttributionMeasure, { description: 'The number.' })
  measure: AttributionMeasure;
  @Field(() => String, { nullable: true, description: 'Conversion definition key; default the first (`attributionSettings.conversions`).' })
  conversion?: string | null;
}
