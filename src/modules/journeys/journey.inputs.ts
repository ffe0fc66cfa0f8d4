import { GraphQLJSON } from 'graphql-scalars';
import { Field, InputType, Int } from 'type-graphql';

@InputType({ description: 'A condition on an event property.' })
export class PropertyConditionInput {
  @Field({ description: 'Property name or dotted path into `properties`, e.g. `revenue`, `product.category`.' })
  property: string;

  @Field({ description: 'One of `==`, `!=`, `>`, `>=`, `<`, `<=`, `in`. Numbers compare numerically, strings in order; a missing property satisfies only `!=`.' })
  op: string;

  @Field(() => GraphQLJSON, { description: 'A string, number or boolean; for `in` a list of them.' })
  value: unknown;
}

@InputType({ description: 'Which event reaches a step.' })
export class StepMatchInput {
  @Field({ description: 'Event name (e.g. `Product Added`), `*` for any event, or `$birthday` (first step only: entered by the sweep on the day of the `birthday` trait, `MM-DD` or `YYYY-MM-DD`, in the workspace time zone).' })
  event: string;

  @Field(() => [PropertyConditionInput], { nullable: true, description: 'Property conditions, all must hold (at most 20).' })
  where?: PropertyConditionInput[] | null;

  @Field(() => Int, { nullable: true, description: 'Only an event whose person\'s previous event is at least this many days older (沉默唤醒), 1–3650.' })
  afterSilenceDays?: number | null;

  @Field(() => Boolean, { nullable: true, description: 'Only the person\'s first event ever (its time equals the profile\'s first-seen time).' })
  firstEvent?: boolean | null;
}

@InputType({ description: 'A journey step.' })
export class JourneyStepInput {
  @Field({ description: 'Key, unique in the journey (1–64 letters, digits, `_ : . -`).' })
  key: string;

  @Field({ description: 'Display name, e.g. 激活.' })
  name: string;

  @Field(() => StepMatchInput, { description: 'The event that reaches the step (or, for a negative step, that must not happen).' })
  match: StepMatchInput;

  @Field(() => String, { nullable: true, description: '`<N>h` or `<N>d` (at most 366 days), measured from when the previous step was reached. Not on the first step; required on a negative step.' })
  within?: string | null;

  @Field(() => Boolean, { nullable: true, description: 'Negative step: reached when NO matching event happens within `within`; a matching event inside the window drops the person (e.g. no Order Completed within 24h). Not the first step.' })
  negative?: boolean | null;

  @Field(() => Boolean, { nullable: true, description: 'Publish `journeyTriggered` when a person reaches the step (once per person and entry).' })
  trigger?: boolean | null;
}

@InputType({ description: 'A journey definition.' })
export class CreateJourneyInput {
  @Field({ description: 'Name, 1–100 characters.' })
  name: string;

  @Field(() => String, { nullable: true, description: 'What it is for.' })
  description?: string | null;

  @Field(() => Boolean, { nullable: true, description: 'Advance states on ingest and in the sweep (default true).' })
  active?: boolean | null;

  @Field(() => Boolean, { nullable: true, description: 'May a person enter again after an entry ended (default true)?' })
  allowReentry?: boolean | null;

  @Field(() => [JourneyStepInput], { description: 'Steps in order, 1–20.' })
  steps: JourneyStepInput[];
}

@InputType({ description: 'Changes to a journey; omitted fields stay. Steps can change only while nobody has entered.' })
export class UpdateJourneyInput {
  @Field(() => String, { nullable: true, description: 'Name.' })
  name?: string | null;

  @Field(() => String, { nullable: true, description: 'Description.' })
  description?: string | null;

  @Field(() => Boolean, { nullable: true, description: 'Active.' })
  active?: boolean | null;

  @Field(() => Boolean, { nullable: true, description: 'Allow re-entry.' })
  allowReentry?: boolean | null;

  @Field(() => [JourneyStepInput], { nullable: true, description: 'New steps (only while nobody has entered).' })
  steps?: JourneyStepInput[] | null;
}

@InputType({ description: 'A time range [from, to).' })
export class JourneyRangeInput {
  @Field({ description: 'From (inclusive).' })
  from: Date;

  @Field({ description: 'To (exclusive).' })
  to: Date;
}
