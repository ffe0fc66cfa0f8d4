import { Field, Float, InputType, Int } from 'type-graphql';

@InputType({ description: 'A variant of an experiment.' })
export class ExperimentVariantInput {
  @Field({ description: 'Key, unique in the experiment, 1–200 characters: the `variation_id` its `Experiment Viewed` events carry.' })
  key: string;

  @Field(() => String, { nullable: true, description: 'Display name, 1–200 characters (default: the key).' })
  name?: string | null;

  @Field(() => Float, { description: 'Relative weight, above 0 (at most 1,000,000): e.g. 50/50, or 1/1/2.' })
  weight: number;

  @Field(() => Boolean, { nullable: true, description: 'The control (baseline). Exactly one variant must be (default false).' })
  control?: boolean | null;
}

@InputType({ description: 'An experiment definition.' })
export class CreateExperimentInput {
  @Field({ description: 'Key, stable, 1–200 characters: the `experiment_id` its `Experiment Viewed` events carry.' })
  key: string;

  @Field({ description: 'Name, 1–200 characters.' })
  name: string;

  @Field(() => [ExperimentVariantInput], { description: '2–20 variants, in assignment order, exactly one of them the control.' })
  variants: ExperimentVariantInput[];

  @Field(() => Int, { nullable: true, description: 'Share of people enrolled, 1–100 (default 100; below 100: a grey release).' })
  rolloutPercent?: number | null;

  @Field(() => String, { nullable: true, description: 'Click event for CTR, e.g. `Experiment Clicked` or any event name (default: none).' })
  clickEvent?: string | null;

  @Field(() => String, { nullable: true, description: 'Conversion event for CVR and revenue (default `Order Completed`).' })
  conversionEvent?: string | null;

  @Field(() => Int, { nullable: true, description: 'Conversion window in days after the first exposure, 1–90 (default 7).' })
  conversionWindowDays?: number | null;
}

@InputType({ description: 'Changes to an experiment; omitted fields stay. A new click event, conversion event or window re-derives every exposed person from their events.' })
export class UpdateExperimentInput {
  @Field(() => String, { nullable: true, description: 'Name.' })
  name?: string | null;

  @Field(() => [ExperimentVariantInput], { nullable: true, description: 'All variants (replacing the list): 2–20, exactly one control. People keep the variant they were first exposed to.' })
  variants?: ExperimentVariantInput[] | null;

  @Field(() => Int, { nullable: true, description: 'Rollout, 1–100.' })
  rolloutPercent?: number | null;

  @Field(() => String, { nullable: true, description: 'Click event; an empty string removes it.' })
  clickEvent?: string | null;

  @Field(() => String, { nullable: true, description: 'Conversion event.' })
  conversionEvent?: string | null;

  @Field(() => Int, { nullable: true, description: 'Conversion window in days, 1–90.' })
  conversionWindowDays?: number | null;
}
