import { Field, Float, Int, ObjectType, registerEnumType } from 'type-graphql';

export enum AttributionModel {
  FIRST_TOUCH = 'FIRST_TOUCH',
  LAST_TOUCH = 'LAST_TOUCH',
  LINEAR = 'LINEAR',
  TIME_DECAY = 'TIME_DECAY',
  POSITION_BASED = 'POSITION_BASED',
  SHAPLEY = 'SHAPLEY',
}

registerEnumType(AttributionModel, {
  name: 'AttributionModel',
  description:
    'How a conversion\'s credit (1 conversion and its revenue) is split over the touches of its path — the touches of the person (after identity resolution) in the lookback window before it. A conversion with no touch having a value in the dimension credits `(none)`.',
  valuesConfig: {
    FIRST_TOUCH: { description: 'All credit to the first touch of the path.' },
    LAST_TOUCH: { description: 'All credit to the last touch before the conversion.' },
    LINEAR: { description: '1/n to each of the n touches.' },
    TIME_DECAY: { description: 'Touch i weighs 2^(−(conversion time − touch time) ÷ halfLifeDays); weights normalised to 1.' },
    POSITION_BASED: { description: '40 % to the first touch, 40 % to the last, 20 % split evenly over the touches between (one touch: 100 %; two: 50 % each).' },
    SHAPLEY: {
      description:
        'Data-driven Shapley credit. Paths: converting (a conversion and the touches in the window before it) and non-converting (a run of touches no conversion followed within the window, counted once the window has passed after its last touch). v(S) = converting ÷ all paths whose value set is exactly S (0 where none). A converting path with value set P splits its credit in shares φ_i ÷ v(P), where φ_i = Σ_{S ⊆ P∖{i}} |S|!(|P|−|S|−1)!/|P|! · (v(S∪{i}) − v(S)) is the exact Shapley value of i in v restricted to subsets of P (enumerating all 2^|P| subsets; a path keeps its 12 most recently touched values). v is computed over the paths of the asked range.',
    },
  },
});

export enum AttributionDimension {
  CHANNEL = 'CHANNEL',
  TOUCHPOINT = 'TOUCHPOINT',
  CAMPAIGN = 'CAMPAIGN',
}

registerEnumType(AttributionDimension, {
  name: 'AttributionDimension',
  description: 'What credit is split over.',
  valuesConfig: {
    CHANNEL: { description: 'The touch event\'s channel.' },
    TOUCHPOINT: { description: 'The touch event\'s `context.touchpoint`; touches without one are not touches of this dimension.' },
    CAMPAIGN: { description: 'The touch event\'s campaign: `context.campaign` when a string, else `context.campaign.name` (Segment\'s UTM fields); touches without one are not touches of this dimension.' },
  },
});

@ObjectType({ description: 'A conversion definition: events of this name are conversions, never touches.' })
export class ConversionDefinitionType {
  @Field({ description: 'Stable key, the `conversion` argument of `attribution`.' })
  key: string;
  @Field({ description: 'Event name (track events).' })
  event: string;
  @Field({ description: '`revenue`: the order value as ingest validated it (`properties.revenue`, else `properties.total`); another name: that number property of the event, else 0.' })
  valueProperty: string;
}

@ObjectType({ description: 'Attribution settings in force (a new version on every change).' })
export class AttributionSettingsType {
  @Field(() => Int, { description: 'Version (0: the defaults, never changed).' })
  version: number;
  @Field(() => Int, { description: 'Touches count for a conversion this many days before it; a run of touches closes as a non-converting path this long after its last touch (1–90, default 7).' })
  lookbackDays: number;
  @Field(() => Float, { description: 'TIME_DECAY half-life in days (default 7).' })
  halfLifeDays: number;
  @Field(() => [ConversionDefinitionType], { description: 'Conversion definitions (default: `order` = `Order Completed` valued by its revenue). The first is the default of `attribution`.' })
  conversions: ConversionDefinitionType[];
  @Field(() => [String], { nullable: true, description: 'Touch filter: only events of these names are touches; null: every track, page and screen event that is not a conversion.' })
  touchEvents: string[] | null;
  @Field(() => Date, { nullable: true, description: 'When this version was written (null for the defaults).' })
  changedAt: Date | null;
}

@ObjectType({ description: 'One value\'s credit in an attribution report.' })
export class AttributionRow {
  @Field({ description: 'The channel, touchpoint or campaign; `(none)` for conversions without a touch of the dimension.' })
  value: string;
  @Field(() => Float, { description: 'Credited conversions: Σ over the range\'s conversions of this value\'s share of each.' })
  conversions: number;
  @Field(() => Float, { description: 'Credited revenue: Σ share × conversion value.' })
  revenue: number;
  @Field(() => Float, { description: 'conversions ÷ the report\'s total conversions.' })
  share: number;
  @Field(() => Float, { nullable: true, description: 'Marketing cost of the value over the range (`setMarketingCost`); null when none is set.' })
  cost: number | null;
  @Field(() => Float, { nullable: true, description: 'CAC = cost ÷ credited conversions (null without cost or conversions).' })
  cac: number | null;
  @Field(() => Float, { nullable: true, description: 'ROI = credited revenue ÷ cost, as a ratio (2.0 = revenue twice the cost; null without a positive cost).' })
  roi: number | null;
}

@ObjectType({ description: 'Attribution of one conversion definition over a range of days: credit per value of a dimension under a model.' })
export class AttributionReport {
  @Field(() => AttributionModel, { description: 'The model.' })
  model: AttributionModel;
  @Field(() => AttributionDimension, { description: 'The dimension.' })
  dimension: AttributionDimension;
  @Field({ description: 'The conversion definition\'s key.' })
  conversion: string;
  @Field({ description: 'First local day (of the conversions), YYYY-MM-DD.' })
  from: string;
  @Field({ description: 'Last local day, inclusive.' })
  to: string;
  @Field({ description: 'The workspace time zone the days are in.' })
  timeZone: string;
  @Field(() => Float, { description: 'Conversions in the range (Σ of the rows\' credited conversions).' })
  conversions: number;
  @Field(() => Float, { description: 'Their value (Σ of the rows\' credited revenue).' })
  revenue: number;
  @Field(() => Float, { nullable: true, description: 'Σ marketing cost of the dimension\'s values over the range (null when none is set).' })
  cost: number | null;
  @Field(() => [AttributionRow], { description: 'One row per credited value or value with a cost, most credited first.' })
  rows: AttributionRow[];
}

@ObjectType({ description: 'A version of the attribution settings.' })
export class AttributionSettingsVersion {
  @Field(() => Int, { description: 'Version number.' })
  version: number;
  @Field(() => AttributionSettingsType, { description: 'The settings of this version.' })
  settings: AttributionSettingsType;
  @Field(() => Date, { description: 'When it was written.' })
  changedAt: Date;
  @Field(() => String, { nullable: true, description: 'The API key id that wrote it.' })
  changedBy: string | null;
}

@ObjectType({ description: 'A live attribution report.' })
export class AttributionUpdate {
  @Field(() => Int, { description: 'Increases with every push of this report (a slow reader may skip versions).' })
  version: number;
  @Field(() => AttributionReport, { description: 'The report as of this version.' })
  report: AttributionReport;
}

@ObjectType({ description: 'What `setMarketingCost` wrote.' })
export class MarketingCostResult {
  @Field(() => Int, { description: 'Days the amount was spread over (each gets amount ÷ days).' })
  days: number;
}
