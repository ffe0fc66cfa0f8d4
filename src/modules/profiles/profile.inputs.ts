import { GraphQLJSON } from 'graphql-scalars';
import { Field, Float, ID, InputType } from 'type-graphql';
import { HealthTier } from '../health';

@InputType({ description: 'Trait equality: the trait `name` has exactly `equals`.' })
export class TraitFilter {
  @Field({ description: 'Trait name.' })
  name: string;

  @Field(() => GraphQLJSON, { description: 'The value to match (JSON equality).' })
  equals: unknown;
}

@InputType({ description: 'Which profiles to list; all conditions must hold.' })
export class ProfileFilter {
  @Field({ nullable: true, description: 'Seen on this channel.' })
  channel?: string;

  @Field(() => [String], { nullable: true, description: 'Has every one of these tags (keys).' })
  tags?: string[];

  @Field(() => ID, { nullable: true, description: 'Is a member of this segment.' })
  segment?: string;

  @Field(() => [TraitFilter], { nullable: true, description: 'Trait values.' })
  traits?: TraitFilter[];

  @Field({ nullable: true, description: 'First seen at or after.' })
  firstSeenFrom?: Date;

  @Field({ nullable: true, description: 'First seen before.' })
  firstSeenTo?: Date;

  @Field({ nullable: true, description: 'Last seen at or after.' })
  lastSeenFrom?: Date;

  @Field({ nullable: true, description: 'Last seen before.' })
  lastSeenTo?: Date;

  @Field(() => HealthTier, { nullable: true, description: 'Health tier (健康度) is this one.' })
  healthTier?: HealthTier;

  @Field(() => Float, { nullable: true, description: 'Health score at least this (0–100, inclusive). Profiles without a score do not match.' })
  healthScoreMin?: number;

  @Field(() => Float, { nullable: true, description: 'Health score at most this (0–100, inclusive); not below healthScoreMin.' })
  healthScoreMax?: number;

  @Field({ nullable: true, description: 'Lifecycle stage key (e.g. `purchase`) in any stage model.' })
  stage?: string;
}
