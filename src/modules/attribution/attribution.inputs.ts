import { Field, Float, InputType, Int } from 'type-graphql';
import { AttributionDimension } from './attribution.type';

@InputType({ description: 'A conversion definition.' })
export class ConversionDefinitionInput {
  @Field({ description: 'Stable key: a lower-case letter, then letters, digits or _ (1–40).' })
  key: string;
  @Field({ description: 'Event name of the conversion (track events).' })
  event: string;
  @Field(() => String, { nullable: true, description: 'Value property (default `revenue`: the validated order value).' })
  valueProperty?: string | null;
}

@InputType({ description: 'Attribution settings to change; omitted fields keep their value.' })
export class UpdateAttributionSettingsInput {
  @Field(() => Int, { nullable: true, description: 'Lookback window in days, 1–90.' })
  lookbackDays?: number | null;
  @Field(() => Float, { nullable: true, description: 'TIME_DECAY half-life in days, 0.1–90.' })
  halfLifeDays?: number | null;
  @Field(() => [ConversionDefinitionInput], { nullable: true, description: '1–5 conversion definitions, replacing the current ones.' })
  conversions?: ConversionDefinitionInput[] | null;
  @Field(() => [String], { nullable: true, description: 'Touch filter: 1–100 event names; only they are touches.' })
  touchEvents?: string[] | null;
  @Field(() => Boolean, { nullable: true, description: 'True: clear the touch filter (every track, page and screen event that is not a conversion is a touch).' })
  clearTouchEvents?: boolean | null;
}

@InputType({ description: 'A marketing cost of a channel, touchpoint or campaign over a period.' })
export class MarketingCostInput {
  @Field(() => AttributionDimension, { description: 'What the value is.' })
  dimension: AttributionDimension;
  @Field({ description: 'The channel, touchpoint or campaign.' })
  value: string;
  @Field({ description: 'First local day, YYYY-MM-DD.' })
  from: string;
  @Field({ description: 'Last local day, inclusive.' })
  to: string;
  @Field(() => Float, { description: 'Cost over the period (0–1e12), spread evenly over its days; replaces what those days had.' })
  amount: number;
}
