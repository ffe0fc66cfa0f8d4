import { Field, Float, ID, InputType, Int, ObjectType } from 'type-graphql';

const POINTS_DOC =
  'Points balance = Σ `properties.points` of the person\'s `Points Earned` events − Σ `properties.points` of their `Points Redeemed` events (each event counted once, by message id; ' +
  'rounded to cents). It may be negative: a redemption beyond the balance is recorded as sent (the events are the truth).';

@ObjectType({ description: 'One level of the ladder: people whose points balance is at least `threshold` (and below the next level\'s) hold it.' })
export class MembershipLevel {
  @Field({ description: 'Stable key, e.g. `gold`.' })
  key: string;

  @Field({ description: 'Display name, e.g. 金卡会员.' })
  name: string;

  @Field(() => Float, { description: 'Lowest points balance of the level.' })
  threshold: number;
}

@ObjectType({
  description:
    'The workspace\'s level rules (会员等级): an ordered ladder on the points balance. A person holds the last level whose threshold their balance reaches, and none below the first. ' +
    'Version 0 is the default ladder (no admin has set rules): 普通会员 member from 0 points, 银卡会员 silver from 1000, 金卡会员 gold from 5000, 钻石会员 diamond from 20000.',
})
export class MembershipRules {
  @Field(() => Int, { description: 'Rules version: 0 for the default ladder, then 1, 2, … per change.' })
  version: number;

  @Field(() => [MembershipLevel], { description: 'Levels, lowest threshold first (may be empty: nobody holds a level).' })
  levels: MembershipLevel[];

  @Field(() => Date, { nullable: true, description: 'When this version was saved; null for the default ladder.' })
  changedAt: Date | null;

  @Field(() => ID, { nullable: true, description: 'API key that saved this version; null for the default ladder or a command-line change.' })
  changedBy: string | null;
}

@InputType({ description: 'One level of a ladder.' })
export class MembershipLevelInput {
  @Field({ description: 'Key: 1–32 lower-case letters, digits or _, starting with a letter; unique in the ladder.' })
  key: string;

  @Field({ description: 'Display name, 1–64 characters.' })
  name: string;

  @Field(() => Float, { description: 'Lowest points balance of the level: at most 2 decimals, within ±1e12, strictly above the previous level\'s threshold.' })
  threshold: number;
}

@InputType({ description: 'A whole ladder of levels (replaces the current one). See `MembershipRules`.' })
export class MembershipRulesInput {
  @Field(() => [MembershipLevelInput], { description: '0–20 levels, lowest threshold first.' })
  levels: MembershipLevelInput[];
}

@ObjectType({ description: 'One change of a person\'s level.' })
export class LevelChange {
  @Field(() => ID, { description: 'Change id (increasing in recording order).' })
  id: string;

  @Field(() => String, { nullable: true, description: 'Level left; null when the person held none.' })
  from: string | null;

  @Field(() => String, { nullable: true, description: 'Level entered; null when the balance fell below the first level.' })
  to: string | null;

  @Field({ description: 'When: the time of the ledger entry whose balance crossed the threshold.' })
  at: Date;

  @Field({ description: 'Why: `event:<messageId>`, the points event that moved the balance across the threshold.' })
  cause: string;

  @Field(() => Float, { description: 'The balance right after that event.' })
  points: number;
}

@ObjectType({ description: 'One points ledger entry: one `Points Earned` or `Points Redeemed` event.' })
export class PointsEntry {
  @Field({ description: 'Message id of the event (an event re-sent with the same id is counted once).' })
  messageId: string;

  @Field(() => Float, { description: '+points for `Points Earned`, −points for `Points Redeemed`.' })
  delta: number;

  @Field(() => String, { nullable: true, description: 'The event\'s `properties.reason`, if a non-empty string (at most 200 characters).' })
  reason: string | null;

  @Field({ description: 'Event time.' })
  at: Date;
}

@ObjectType({ description: `A person's membership (积分-等级). ${POINTS_DOC}` })
export class Membership {
  /** Not a GraphQL field: the person, for the nested loaders. */
  profileId: string;

  @Field(() => MembershipLevel, { nullable: true, description: 'The level the balance holds under the current rules; null without any points event or below the first level.' })
  level: MembershipLevel | null;

  @Field(() => Float, { description: `The points balance. ${POINTS_DOC} 0 without any points event.` })
  points: number;

  @Field(() => Date, {
    nullable: true,
    description:
      'Since when the person holds the current level — or, with none, since their balance fell below the first level: the time of the ledger entry that moved them there. Null when their level never changed (no points event, or never reached the first level).',
  })
  since: Date | null;
}
