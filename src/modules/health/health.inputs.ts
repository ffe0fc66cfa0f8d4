import { Field, Float, InputType, Int } from 'type-graphql';

@InputType({ description: 'Per-person component weights: each in [0, 1], summing to 1 (± 1e-6).' })
export class HealthWeightsInput {
  @Field(() => Float, { description: '互动指数.' })
  interaction: number;
  @Field(() => Float, { description: '消费能力.' })
  spending: number;
  @Field(() => Float, { description: '活跃时长.' })
  activeTime: number;
  @Field(() => Float, { description: '最近活跃.' })
  recency: number;
  @Field(() => Float, { description: '推荐裂变.' })
  referral: number;
}

@InputType({ description: 'Tier boundaries: each in (0, 100], strictly descending healthy > stable > atRisk.' })
export class HealthTierBoundsInput {
  @Field(() => Float, { description: 'HEALTHY from this score.' })
  healthy: number;
  @Field(() => Float, { description: 'STABLE from this score.' })
  stable: number;
  @Field(() => Float, { description: 'AT_RISK from this score.' })
  atRisk: number;
}

@InputType({ description: '品牌健康度指数 weights: each in [0, 1], summing to 1 (± 1e-6).' })
export class BrandHealthWeightsInput {
  @Field(() => Float, { description: 'Scale.' })
  scale: number;
  @Field(() => Float, { description: '活跃度指数.' })
  activity: number;
  @Field(() => Float, { description: '转化效率指数.' })
  conversion: number;
}

@InputType({ description: '活跃度指数 weights: each in [0, 1], summing to 1 (± 1e-6).' })
export class ActivityIndexWeightsInput {
  @Field(() => Float, { description: 'Stickiness.' })
  stickiness: number;
  @Field(() => Float, { description: 'Active share.' })
  activeShare: number;
}

@InputType({ description: '转化效率指数 weights: each in [0, 1], summing to 1 (± 1e-6).' })
export class ConversionIndexWeightsInput {
  @Field(() => Float, { description: 'Ordered share.' })
  orderedShare: number;
  @Field(() => Float, { description: 'Repurchase share.' })
  repurchaseShare: number;
}

@InputType({ description: 'Health settings to change; omitted fields keep their value, a group (weights, tiers, …) is replaced whole. All or nothing: any invalid field rejects the whole update with every problem listed.' })
export class UpdateHealthSettingsInput {
  @Field(() => HealthWeightsInput, { nullable: true, description: 'Per-person component weights.' })
  weights?: HealthWeightsInput | null;
  @Field(() => HealthTierBoundsInput, { nullable: true, description: 'Tier boundaries.' })
  tiers?: HealthTierBoundsInput | null;
  @Field(() => [String], { nullable: true, description: '1–50 distinct event names (1–200 characters) counted as interactions.' })
  interactionEvents?: string[] | null;
  @Field(() => Float, { nullable: true, description: '> 0, ≤ 1,000,000.' })
  interactionTarget?: number | null;
  @Field(() => Float, { nullable: true, description: 'CNY, > 0, ≤ 1e9.' })
  spendScale?: number | null;
  @Field(() => Float, { nullable: true, description: 'Days, > 0, ≤ 3650.' })
  recencyHalfLifeDays?: number | null;
  @Field(() => Float, { nullable: true, description: '> 0, ≤ 1,000,000.' })
  referralTarget?: number | null;
  @Field(() => Int, { nullable: true, description: 'Integer, 1–1e9.' })
  scaleTarget?: number | null;
  @Field(() => BrandHealthWeightsInput, { nullable: true, description: '品牌健康度指数 weights.' })
  brandWeights?: BrandHealthWeightsInput | null;
  @Field(() => ActivityIndexWeightsInput, { nullable: true, description: '活跃度指数 weights.' })
  activityWeights?: ActivityIndexWeightsInput | null;
  @Field(() => ConversionIndexWeightsInput, { nullable: true, description: '转化效率指数 weights.' })
  conversionWeights?: ConversionIndexWeightsInput | null;
}
