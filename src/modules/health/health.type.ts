import { Field, Float, Int, ObjectType, registerEnumType } from 'type-graphql';

export enum HealthTier {
  HEALTHY = 'healthy',
  STABLE = 'stable',
  AT_RISK = 'at_risk',
  DORMANT = 'dormant',
}
registerEnumType(HealthTier, {
  name: 'HealthTier',
  description: 'Health tier of a person, from the score and the workspace tier boundaries; also the system tag `health:<value>` (group `health`).',
  valuesConfig: {
    HEALTHY: { description: '健康: score ≥ `tiers.healthy` (default 70). Tag `health:healthy`.' },
    STABLE: { description: '稳定: score ≥ `tiers.stable` (default 40). Tag `health:stable`.' },
    AT_RISK: { description: '风险: score ≥ `tiers.atRisk` (default 20). Tag `health:at_risk`.' },
    DORMANT: { description: '沉睡: score below `tiers.atRisk`. Tag `health:dormant`.' },
  },
});

@ObjectType({ description: 'One weighted component of a score: `contribution` = round(100 × weight × value, 2).' })
export class HealthComponent {
  @Field({ description: 'Stable component name, e.g. `interaction`, `spending`, `activeTime`, `recency`, `referral`, `stickiness`.' })
  name: string;

  @Field({ description: 'Chinese label operators use, e.g. 互动指数.' })
  label: string;

  @Field(() => Float, { nullable: true, description: 'The measured figure behind `value` (a count, CNY, days, a sub-index score); null when there is none (e.g. never seen).' })
  measure: number | null;

  @Field(() => Float, { description: 'Normalised value in [0, 1] (shown rounded to 4 decimals; the contribution uses the exact value).' })
  value: number;

  @Field(() => Float, { description: 'Weight from the workspace settings; the weights of a score sum to 1.' })
  weight: number;

  @Field(() => Float, { description: 'Points this component adds: round(100 × weight × value, 2). The contributions add up to the score exactly.' })
  contribution: number;
}

@ObjectType({
  description: `健康度 of one person, 0–100: score = Σ contribution, contribution = round(100 × weight × value, 2), so the
components add up to the score. Components (windows end at the time of computation, days in the workspace time zone):
- \`interaction\` 互动指数 = min(1, n / interactionTarget), n = events named in \`interactionEvents\` in the last 30 days (default target 10).
- \`spending\` 消费能力 = 1 − exp(−spend90 / spendScale), spend90 = \`Order Completed\` revenue (or total), CNY, in the last 90 days (default scale 500).
- \`activeTime\` 活跃时长 = distinct days with any event in the last 30 days ÷ 30.
- \`recency\` 最近活跃 = 0.5 ^ (days since last seen ÷ recencyHalfLifeDays) (default half-life 14 days); 0 if never seen; measure = those days.
- \`referral\` 推荐裂变 = min(1, invitees / referralTarget), invitees = distinct people with an \`invited\` relation from this person (default target 3).
Default weights: interaction 0.25, spending 0.25, activeTime 0.2, recency 0.2, referral 0.1. Recomputed for the people each ingest batch touches (and the inviters it credits), and by the sweep as time passes (decay).`,
})
export class ProfileHealth {
  @Field(() => Float, { description: 'Score 0–100 (2 decimals) = Σ components.contribution.' })
  score: number;

  @Field(() => HealthTier, { description: 'Tier from the score and the tier boundaries.' })
  tier: HealthTier;

  @Field(() => [HealthComponent], { description: 'interaction, spending, activeTime, recency, referral — in this order.' })
  components: HealthComponent[];

  @Field({ description: 'The time the score was computed as of.' })
  computedAt: Date;
}

@ObjectType({ description: 'A composite index: score = Σ contribution (0–100), contribution = round(100 × weight × value, 2).' })
export class HealthIndex {
  @Field({ description: 'Index name: `activity`, `conversion` or `brandHealth`.' })
  name: string;

  @Field({ description: 'Chinese label: 活跃度指数, 转化效率指数, 品牌健康度指数.' })
  label: string;

  @Field(() => Float, { description: 'Score 0–100 = Σ components.contribution.' })
  score: number;

  @Field(() => [HealthComponent], { description: 'Weighted components.' })
  components: HealthComponent[];
}

@ObjectType({
  description: `Workspace composite indices (no personal data), computed now from live profiles and the events of the last 30 days:
- 活跃度指数 \`activity\`: \`stickiness\` = average DAU over the 30 days ÷ MAU (distinct profiles with an event in 30 days), weight activityWeights.stickiness (default 0.5);
  \`activeShare\` = MAU ÷ live profiles (default 0.5).
- 转化效率指数 \`conversion\`: \`orderedShare\` = profiles with ≥ 1 order ÷ live profiles (default 0.5); \`repurchaseShare\` = profiles with ≥ 2 orders ÷ profiles with ≥ 1 (复购率, default 0.5).
- 品牌健康度指数 \`brandHealth\`: \`scale\` = min(1, live profiles ÷ scaleTarget) (default target 10,000, weight 0.2); \`activity\` = activity score ÷ 100 (0.3); \`conversion\` = conversion score ÷ 100 (0.5).
A share with a zero denominator is 0.`,
})
export class HealthIndices {
  @Field(() => HealthIndex, { description: '活跃度指数.' })
  activity: HealthIndex;

  @Field(() => HealthIndex, { description: '转化效率指数.' })
  conversion: HealthIndex;

  @Field(() => HealthIndex, { description: '品牌健康度指数.' })
  brandHealth: HealthIndex;

  @Field({ description: 'When computed (the end of the 30-day window).' })
  computedAt: Date;
}

@ObjectType({ description: 'Weights of the per-person score components (sum to 1).' })
export class HealthWeights {
  @Field(() => Float, { description: '互动指数. Default 0.25.' })
  interaction: number;
  @Field(() => Float, { description: '消费能力. Default 0.25.' })
  spending: number;
  @Field(() => Float, { description: '活跃时长. Default 0.2.' })
  activeTime: number;
  @Field(() => Float, { description: '最近活跃 (recency). Default 0.2.' })
  recency: number;
  @Field(() => Float, { description: '推荐裂变 (referral). Default 0.1.' })
  referral: number;
}

@ObjectType({ description: 'Lower bounds (inclusive) of the tiers on the score; healthy > stable > atRisk > 0. Below atRisk: DORMANT.' })
export class HealthTierBounds {
  @Field(() => Float, { description: 'HEALTHY from this score. Default 70.' })
  healthy: number;
  @Field(() => Float, { description: 'STABLE from this score. Default 40.' })
  stable: number;
  @Field(() => Float, { description: 'AT_RISK from this score. Default 20.' })
  atRisk: number;
}

@ObjectType({ description: 'Weights of 品牌健康度指数 (sum to 1).' })
export class BrandHealthWeights {
  @Field(() => Float, { description: 'Scale (user base). Default 0.2.' })
  scale: number;
  @Field(() => Float, { description: '活跃度指数. Default 0.3.' })
  activity: number;
  @Field(() => Float, { description: '转化效率指数. Default 0.5.' })
  conversion: number;
}

@ObjectType({ description: 'Weights of 活跃度指数 (sum to 1).' })
export class ActivityIndexWeights {
  @Field(() => Float, { description: 'Stickiness (DAU/MAU). Default 0.5.' })
  stickiness: number;
  @Field(() => Float, { description: 'Share of profiles active in 30 days. Default 0.5.' })
  activeShare: number;
}

@ObjectType({ description: 'Weights of 转化效率指数 (sum to 1).' })
export class ConversionIndexWeights {
  @Field(() => Float, { description: 'Share of profiles who ordered. Default 0.5.' })
  orderedShare: number;
  @Field(() => Float, { description: 'Repurchase share of buyers. Default 0.5.' })
  repurchaseShare: number;
}

@ObjectType('HealthSettings', { description: 'Health settings of the workspace (defaults where never set).' })
export class HealthSettingsType {
  @Field(() => HealthWeights, { description: 'Per-person component weights.' })
  weights: HealthWeights;
  @Field(() => HealthTierBounds, { description: 'Tier boundaries.' })
  tiers: HealthTierBounds;
  @Field(() => [String], { description: 'Event names counted as interactions. Default: Message Sent, Liked, Content Shared, Group Joined, Comment Posted.' })
  interactionEvents: string[];
  @Field(() => Float, { description: 'Interactions in 30 days for the full interaction value. Default 10.' })
  interactionTarget: number;
  @Field(() => Float, { description: 'CNY; spending value = 1 − exp(−spend90 / spendScale). Default 500.' })
  spendScale: number;
  @Field(() => Float, { description: 'Days after which recency halves. Default 14.' })
  recencyHalfLifeDays: number;
  @Field(() => Float, { description: 'Invitees for the full referral value. Default 3.' })
  referralTarget: number;
  @Field(() => Int, { description: 'Live profiles for the full scale value of 品牌健康度指数. Default 10000.' })
  scaleTarget: number;
  @Field(() => BrandHealthWeights, { description: '品牌健康度指数 weights.' })
  brandWeights: BrandHealthWeights;
  @Field(() => ActivityIndexWeights, { description: '活跃度指数 weights.' })
  activityWeights: ActivityIndexWeights;
  @Field(() => ConversionIndexWeights, { description: '转化效率指数 weights.' })
  conversionWeights: ConversionIndexWeights;
}

@ObjectType({ description: 'Progress of recomputing scores after the settings changed: `done` of `total` live profiles carry a score computed with the current settings.' })
export class HealthRecomputeStatus {
  @Field(() => Int, { description: 'Version of the current settings (0 = defaults, never changed).' })
  settingsVersion: number;
  @Field(() => Int, { description: 'Live profiles scored with the current settings.' })
  done: number;
  @Field(() => Int, { description: 'Live profiles.' })
  total: number;
  @Field({ description: 'done = total.' })
  complete: boolean;
}
