import { Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';

const POINTS_DOC =
  'Points balance = Σ `properties.points` of the person\'s `Points Earned` events − Σ `properties.points` of their `Points Redeemed` events (each event counted once, by message id; ' +
  'rounded to cents). It may be negative: a redemption beyond the balance is recorded as sent (the events are the truth).';

const SPEND_DOC =
  'Spend at instant t = Σ order value (`properties.revenue`, else `properties.total`, yuan, rounded to cents) of the person\'s `Order Completed` events with event time in (t − windowDays, t]: ' +
  'an order counts from its time until its time + windowDays (excluded).';

/** What a ladder reads (the values are the stored strings). */
export enum MembershipBasis {
  POINTS = 'POINTS',
  SPEND = 'SPEND',
}
registerEnumType(MembershipBasis, {
  name: 'MembershipBasis',
  description: 'What a level ladder reads.',
  valuesConfig: {
    POINTS: { description: 'The points balance (Σ `Points Earned` − Σ `Points Redeemed`). Levels change only with points events.' },
    SPEND: {
      description: `The spend over a trailing window of \`windowDays\` days. ${SPEND_DOC} Levels rise with orders and fall, without any event, when spend leaves the window.`,
    },
  },
});

@ObjectType({ description: 'One level of the ladder: people whose points balance (or in-window spend, under a SPEND ladder) is at least `threshold` (and below the next level\'s) hold it.' })
export class MembershipLevel {
  @Field({ description: 'Stable key, e.g. `gold`.' })
  key: string;

  @Field({ description: 'Display name, e.g. 金卡会员.' })
  name: string;

  @Field(() => Float, { description: 'Lowest points balance of the level; under a SPEND ladder, lowest in-window spend in yuan.' })
  threshold: number;
}

@ObjectType({
  description:
    'The workspace\'s level rules (会员等级): an ordered ladder on the points balance, or on the spend over a trailing window (`basis`). A person holds the last level whose threshold ' +
    'their balance (or in-window spend) reaches, and none below the first (nor before their first points event, or first order). ' +
    'Version 0 is the default ladder (no admin has set rules): 普通会员 member from 0 points, 银卡会员 silver from 1000, 金卡会员 gold from 5000, 钻石会员 diamond from 20000.',
})
export class MembershipRules {
  @Field(() => Int, { description: 'Rules version: 0 for the default ladder, then 1, 2, … per change.' })
  version: number;

  @Field(() => [MembershipLevel], { description: 'Levels, lowest threshold first (may be empty: nobody holds a level).' })
  levels: MembershipLevel[];

  @Field(() => MembershipBasis, { description: 'What the ladder reads: the points balance (POINTS, also every version saved before the basis existed) or the spend over `windowDays` (SPEND).' })
  basis: MembershipBasis;

  @Field(() => Int, { nullable: true, description: 'SPEND: the trailing window in days (1–730); null for a POINTS ladder.' })
  windowDays: number | null;

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

  @Field(() => Float, {
    description: 'Lowest points balance (SPEND: lowest in-window spend in yuan) of the level: at most 2 decimals, within ±1e12, strictly above the previous level\'s threshold.',
  })
  threshold: number;
}

@InputType({ description: 'A whole ladder of levels (replaces the current one). See `MembershipRules`.' })
export class MembershipRulesInput {
  @Field(() => [MembershipLevelInput], { description: '0–20 levels, lowest threshold first.' })
  levels: MembershipLevelInput[];

  @Field(() => MembershipBasis, { nullable: true, defaultValue: MembershipBasis.POINTS, description: 'What the ladder reads; POINTS when left out.' })
  basis?: MembershipBasis | null;

  @Field(() => Int, { nullable: true, description: 'The trailing window in days: required for SPEND (a whole number from 1 to 730), refused for POINTS.' })
  windowDays?: number | null;
}

@ObjectType({ description: 'One change of a person\'s level.' })
export class LevelChange {
  @Field(() => ID, { description: 'Change id (increasing in recording order).' })
  id: string;

  @Field(() => String, { nullable: true, description: 'Level left; null when the person held none.' })
  from: string | null;

  @Field(() => String, { nullable: true, description: 'Level entered; null when the balance (or in-window spend) fell below the first level.' })
  to: string | null;

  @Field({
    description:
      'When: the time of the ledger entry whose balance crossed the threshold; under a SPEND ladder, the instant the in-window spend crossed it (an order\'s time, or an order\'s time + windowDays when it left the window).',
  })
  at: Date;

  @Field({
    description:
      'Why: `event:<messageId>`, the points event (SPEND: the order) that moved the value across the threshold; under a SPEND ladder a fall is `window:<messageId>`, the order that left the window ' +
      '(with no event at that moment). Everything at one instant is applied before the level is read, so an order leaving as another arrives records at most one change: ' +
      '`event:` naming the last arriving order (by message id) if the level rose, `window:` naming the last leaving one if it fell.',
  })
  cause: string;

  @Field(() => Float, { description: 'The value the ladder read right after the change: the points balance, or under a SPEND ladder the in-window spend in yuan (see `basis`).' })
  points: number;

  @Field(() => MembershipBasis, { description: 'The ladder\'s basis when the change was derived (a rules change re-derives every history under the new one).' })
  basis: MembershipBasis;
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

  @Field(() => MembershipLevel, {
    nullable: true,
    description: 'The level the balance (SPEND: the in-window spend) holds under the current rules; null without any points event (SPEND: any order) or below the first level.',
  })
  level: MembershipLevel | null;

  @Field(() => Float, { description: `The points balance. ${POINTS_DOC} 0 without any points event.` })
  points: number;

  @Field(() => Float, {
    nullable: true,
    description: `Under a SPEND ladder, the in-window spend in yuan now (0 without any order in the window); null under a POINTS ladder. ${SPEND_DOC} Kept current by due work within about a second of an order leaving the window.`,
  })
  spend: number | null;

  @Field(() => Date, {
    nullable: true,
    description:
      'Since when the person holds the current level — or, with none, since their balance fell below the first level: the time of the ledger entry that moved them there (SPEND: the instant of the level change). Null when their level never changed (no points event, or never reached the first level).',
  })
  since: Date | null;
}
