import { Field, Float, ID, Int, ObjectType } from 'type-graphql';

@ObjectType({ description: 'A variant of an experiment.' })
export class ExperimentVariant {
  @Field({ description: 'Key: the `variation_id` of its `Experiment Viewed` events.' })
  key: string;

  @Field({ description: 'Display name (the `variation_name`).' })
  name: string;

  @Field(() => Float, { description: 'Relative weight (> 0): of the enrolled people, weight ÷ the sum of the weights are assigned this variant.' })
  weight: number;

  @Field({ description: 'Whether it is the control, the baseline every other variant is compared with (exactly one is).' })
  control: boolean;
}

@ObjectType({
  description:
    'An experiment (A/B test), or a grey release (灰度发布: an experiment with `rolloutPercent` below 100, whose people outside the rollout are not enrolled). ' +
    'People are exposed by `Experiment Viewed` events (Segment spec: `properties.experiment_id`, `experiment_name`, `variation_id`, `variation_name`), sent by any SDK or tool or recorded by `assignVariant`. ' +
    'An `Experiment Viewed` event for a key nobody has defined still counts: it defines the experiment (`autoCreated`) with the variants seen, equal weights, the first variant seen as the control, full rollout and the default conversion — exposures from SDKs and outside testing tools are facts not to be lost, and an admin adjusts the definition afterwards with `updateExperiment`.',
})
export class Experiment {
  @Field({ description: 'Key, stable: the `experiment_id` of its events.' })
  key: string;

  @Field({ description: 'Name.' })
  name: string;

  @Field(() => [ExperimentVariant], { description: 'Variants, in assignment order.' })
  variants: ExperimentVariant[];

  @Field(() => Int, { description: 'Share of people enrolled, 1–100 (below 100: a grey release). A person is enrolled when their bucket (see `assignVariant`) is below rolloutPercent ÷ 100, so raising it keeps everyone already in.' })
  rolloutPercent: number;

  @Field(() => String, { nullable: true, description: 'Event whose occurrence at or after a person\'s first exposure makes them `clicked` (CTR); null: no CTR.' })
  clickEvent: string | null;

  @Field({ description: 'Event that converts a person within the window after their first exposure (CVR), valued by its revenue: `Order Completed`\'s validated order value (`properties.revenue`, else `total`), for another event `properties.revenue` (or `total`) when it is a non-negative number, else 0.' })
  conversionEvent: string;

  @Field(() => Int, { description: 'Conversion window: conversions count in [first exposure, first exposure + days × 24 h).' })
  conversionWindowDays: number;

  @Field({ description: 'Defined by an `Experiment Viewed` event for an unknown key: new variants seen are appended (weight 1) until an admin changes the definition.' })
  autoCreated: boolean;

  @Field({ description: 'Created.' })
  createdAt: Date;

  @Field({ description: 'Last changed.' })
  updatedAt: Date;
}

@ObjectType({ description: 'The variant of one person (`assignVariant`).' })
export class VariantAssignment {
  @Field({ description: 'Experiment key.' })
  experiment: string;

  @Field({ description: 'Whether the person is in the experiment (false: outside a grey release\'s rollout; nothing was recorded).' })
  enrolled: boolean;

  @Field(() => ExperimentVariant, { nullable: true, description: 'The variant to show; null when not enrolled.' })
  variant: ExperimentVariant | null;

  @Field(() => ID, { nullable: true, description: 'The person (created by the exposure when new); null when not enrolled and unknown.' })
  profileId: string | null;

  @Field(() => Date, { nullable: true, description: 'When the person was first exposed to the experiment; null when not enrolled.' })
  firstExposedAt: Date | null;

  @Field({ description: 'True when the variant is the person\'s earlier first exposure (kept whatever the hash says now, also across merges).' })
  sticky: boolean;
}

@ObjectType({ description: 'An estimate with its 95% confidence interval.' })
export class Estimate {
  @Field(() => Float, { description: 'The estimate.' })
  value: number;

  @Field(() => Float, { description: 'Lower bound of the 95% interval.' })
  lower: number;

  @Field(() => Float, { description: 'Upper bound of the 95% interval.' })
  upper: number;
}

@ObjectType({ description: 'A variant compared with the control.' })
export class VariantComparison {
  @Field(() => Float, { description: 'Difference: variant − control.' })
  difference: number;

  @Field(() => Float, { nullable: true, description: 'The z statistic; null when there is no variance to test against (see the field\'s formula).' })
  z: number | null;

  @Field(() => Float, { nullable: true, description: 'Two-sided p-value: 2 · (1 − Φ(|z|)), Φ the standard normal CDF; null with z.' })
  pValue: number | null;
}

@ObjectType({ description: 'Results of one variant. Every number counts the people first exposed to this variant and never to another one (contaminated people are excluded and counted in `contaminated`).' })
export class VariantResult {
  @Field({ description: 'Variant key.' })
  key: string;

  @Field({ description: 'Variant name.' })
  name: string;

  @Field({ description: 'Whether it is the control.' })
  control: boolean;

  @Field({ description: 'False for a variant seen in `Experiment Viewed` events that the definition does not list (not in the sample-ratio test).' })
  defined: boolean;

  @Field(() => Float, { nullable: true, description: 'Weight; null when not defined.' })
  weight: number | null;

  @Field(() => Float, { nullable: true, description: 'Expected share of the enrolled people: weight ÷ Σ weights; null when not defined.' })
  expectedShare: number | null;

  @Field(() => Int, { description: 'n: people first exposed to this variant and never to another.' })
  exposed: number;

  @Field(() => Int, { description: 'People first exposed to this variant who were later exposed to another (or merged with someone who was): excluded from every other number here.' })
  contaminated: number;

  @Field(() => Int, { description: 'Of the n, people with a click event at or after their first exposure.' })
  clicked: number;

  @Field(() => Int, { description: 'Of the n, people with a conversion event within the window after their first exposure.' })
  converted: number;

  @Field(() => Float, { description: 'Revenue of those conversions (the sum over the n people).' })
  revenue: number;

  @Field(() => Estimate, { nullable: true, description: 'CTR = clicked ÷ exposed, with the Wald interval p ± 1.96·√(p(1−p)/n) clamped to [0, 1]; null when n = 0 or the experiment has no click event.' })
  ctr: Estimate | null;

  @Field(() => Estimate, { nullable: true, description: 'CVR = converted ÷ exposed, with the Wald interval p ± 1.96·√(p(1−p)/n) clamped to [0, 1]; null when n = 0.' })
  cvr: Estimate | null;

  @Field(() => Estimate, {
    nullable: true,
    description: 'Revenue per exposed person: mean = Σx ÷ n over each person\'s revenue x (0 without a conversion), interval mean ± 1.96·√(s²/n), s² = (Σx² − (Σx)²/n) ÷ (n − 1) from the carried sums (0 when n < 2); null when n = 0.',
  })
  revenuePerExposed: Estimate | null;

  @Field(() => VariantComparison, {
    nullable: true,
    description: 'CTR against the control: difference, and the pooled two-proportion z-test: p̂ = (x_c + x_v)/(n_c + n_v), z = (p_v − p_c) / √(p̂(1 − p̂)(1/n_c + 1/n_v)), p = 2(1 − Φ(|z|)). Null for the control, without a click event, or when a group is empty; z and p null when p̂ is 0 or 1.',
  })
  ctrVsControl: VariantComparison | null;

  @Field(() => VariantComparison, {
    nullable: true,
    description: 'CVR against the control: difference, and the pooled two-proportion z-test: p̂ = (x_c + x_v)/(n_c + n_v), z = (p_v − p_c) / √(p̂(1 − p̂)(1/n_c + 1/n_v)), p = 2(1 − Φ(|z|)). Null for the control or when a group is empty; z and p null when p̂ is 0 or 1.',
  })
  cvrVsControl: VariantComparison | null;

  @Field(() => VariantComparison, {
    nullable: true,
    description: 'Revenue per exposed person against the control: difference of the means, and Welch\'s z: z = (m_v − m_c) / √(s_c²/n_c + s_v²/n_v), p = 2(1 − Φ(|z|)) (normal approximation). Null for the control or when a group is empty; z and p null when a group has fewer than 2 people or both variances are 0.',
  })
  revenuePerExposedVsControl: VariantComparison | null;
}

@ObjectType({ description: 'Sample-ratio mismatch: do the assigned people follow the weights?' })
export class SampleRatioMismatch {
  @Field(() => Float, {
    description:
      'χ² = Σ (O_i − E_i)² ÷ E_i over the defined variants: O_i the people whose first exposure was variant i (contaminated included: contamination happens after assignment), E_i = N · w_i ÷ Σw with N = Σ O_i. The rollout scales every variant alike, so it cancels out.',
  })
  chiSquare: number;

  @Field(() => Int, { description: 'Degrees of freedom: defined variants − 1.' })
  degreesOfFreedom: number;

  @Field(() => Float, { description: 'p = P(χ²_df ≥ χ²), the chi-square survival function (regularized upper incomplete gamma Q(df/2, χ²/2)).' })
  pValue: number;
}

@ObjectType({ description: 'Results of an experiment, read from per-variant counters kept current on ingest (one row per variant, however many people).' })
export class ExperimentResults {
  @Field(() => Experiment, { description: 'The experiment.' })
  experiment: Experiment;

  @Field(() => Int, { description: 'People counted in the variants (Σ exposed; contaminated people excluded).' })
  exposed: number;

  @Field(() => Int, { description: 'People exposed to more than one variant, each counted once (Σ of the variants\' contaminated).' })
  contaminated: number;

  @Field(() => [VariantResult], { description: 'Per variant: the defined ones in order, then any seen but not defined.' })
  variants: VariantResult[];

  @Field(() => SampleRatioMismatch, { nullable: true, description: 'The sample-ratio-mismatch test; null with fewer than two defined variants or nobody exposed.' })
  srm: SampleRatioMismatch | null;

  @Field({ description: 'True when the sample-ratio test\'s p-value is below 0.001: the assignment or the exposure logging is broken, and the other numbers cannot be trusted.' })
  srmWarning: boolean;
}
