import { GraphQLJSON } from 'graphql-scalars';
import { Field, Float, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { JourneyTemplateKey } from './journey.templates';

export enum JourneyStatusType {
  ACTIVE = 'active',
  COMPLETED = 'completed',
  DROPPED = 'dropped',
  EXPIRED = 'expired',
}
registerEnumType(JourneyStatusType, {
  name: 'JourneyStatus',
  description: 'Where one entry of a person stands.',
  valuesConfig: {
    ACTIVE: { description: 'Waiting for the next step.' },
    COMPLETED: { description: 'Reached the last step.' },
    DROPPED: { description: 'Left: the event a negative step waited NOT to see happened in its window (or a merge kept the other entry).' },
    EXPIRED: { description: 'The window (`within`) of the next positive step ended without the event.' },
  },
});

registerEnumType(JourneyTemplateKey, {
  name: 'JourneyTemplateKey',
  description: 'Built-in journeys.',
  valuesConfig: {
    CART_ABANDONMENT: { description: '购物车放弃: Product Added → no Order Completed within 24h (trigger).' },
    ONBOARDING: { description: '新用户引导 → 激活 → 留存 → 转化: first event → Message Sent within 7d → any event within 7d → Order Completed within 30d (trigger).' },
    SILENT_WAKEUP: { description: '沉默唤醒: an event after ≥ 30 days of silence (trigger) → Order Completed within 7d.' },
    BIRTHDAY: { description: '生日关怀: the `birthday` trait\'s day in the workspace time zone (trigger, by the sweep) → Order Completed within 7d.' },
  },
});

@ObjectType({ description: 'A condition on an event property.' })
export class PropertyCondition {
  @Field({ description: 'Property name or dotted path.' })
  property: string;

  @Field({ description: '`==`, `!=`, `>`, `>=`, `<`, `<=` or `in`.' })
  op: string;

  @Field(() => GraphQLJSON, { description: 'Value (a list for `in`).' })
  value: unknown;
}

@ObjectType({ description: 'Which event reaches a step.' })
export class StepMatch {
  @Field({ description: 'Event name, `*` (any event) or `$birthday`.' })
  event: string;

  @Field(() => [PropertyCondition], { description: 'Property conditions (all must hold).' })
  where: PropertyCondition[];

  @Field(() => Int, { nullable: true, description: 'Only after at least this many days without events.' })
  afterSilenceDays: number | null;

  @Field({ description: 'Only the person\'s first event ever.' })
  firstEvent: boolean;
}

@ObjectType({ description: 'A journey step.' })
export class JourneyStep {
  @Field({ description: 'Key, unique in the journey.' })
  key: string;

  @Field({ description: 'Display name.' })
  name: string;

  @Field(() => StepMatch, { description: 'The event.' })
  match: StepMatch;

  @Field(() => String, { nullable: true, description: 'Window from the previous step, `<N>h` or `<N>d`.' })
  within: string | null;

  @Field({ description: 'Reached when no matching event happens within the window.' })
  negative: boolean;

  @Field({ description: 'Publishes `journeyTriggered` when reached.' })
  trigger: boolean;
}

@ObjectType({ description: 'Funnel numbers of one step.' })
export class JourneyStepStats {
  @Field({ description: 'Step key.' })
  key: string;

  @Field({ description: 'Step name.' })
  name: string;

  @Field(() => Int, { description: 'Entries (started in the range) that reached the step.' })
  reached: number;

  @Field(() => Int, { description: 'Entries that reached the previous step but not this one (0 for the first step).' })
  dropOff: number;

  @Field(() => Float, { nullable: true, description: 'Median seconds from reaching the previous step to reaching this one (null for the first step or when nobody reached it).' })
  medianSecondsFromPrevious: number | null;
}

@ObjectType({ description: 'Funnel statistics of the entries that started in a range.' })
export class JourneyStats {
  @Field(() => Int, { description: 'Entries started (a person re-entering counts again).' })
  entered: number;

  @Field(() => Int, { description: 'Of those, still active.' })
  active: number;

  @Field(() => Int, { description: 'Of those, completed (reached the last step).' })
  completed: number;

  @Field(() => Int, { description: 'Of those, dropped.' })
  dropped: number;

  @Field(() => Int, { description: 'Of those, expired.' })
  expired: number;

  @Field(() => Int, { description: 'Triggers of those entries that were sent (published on `journeyTriggered`).' })
  triggered: number;

  @Field(() => Int, { description: 'Triggers of those entries held back by the consent check (no marketing consent under the workspace\'s consent policy): recorded, never sent, never sent later for that entry. `Journey.vetoedTriggers` lists them.' })
  vetoed: number;

  @Field(() => [JourneyStepStats], { description: 'Per step, in order.' })
  steps: JourneyStepStats[];
}

@ObjectType({ description: 'One entry of a person into a journey.' })
export class JourneyEntry {
  @Field(() => ID, { description: 'Profile id.' })
  profileId: string;

  @Field(() => Int, { description: 'Entry number of this person in this journey, from 1.' })
  entryNo: number;

  @Field({ description: 'Key of the last step reached.' })
  stepKey: string;

  @Field(() => Int, { description: 'Index of the last step reached, from 0.' })
  stepIndex: number;

  @Field(() => JourneyStatusType, { description: 'Status.' })
  status: JourneyStatusType;

  @Field({ description: 'When the first step was reached.' })
  enteredAt: Date;

  @Field({ description: 'When the last step reached was reached.' })
  stepAt: Date;

  @Field(() => Date, { nullable: true, description: 'Active only: when the next step\'s window ends.' })
  deadline: Date | null;

  @Field(() => Date, { nullable: true, description: 'When it completed, dropped or expired.' })
  endedAt: Date | null;
}

@ObjectType({
  description:
    'A journey (旅程): a sequence of steps each person moves through, kept current on ingest (events in batch order advance the person\'s active entry by at most one step each) and by the sweep (windows ending, birthdays). Steps with `trigger` publish `journeyTriggered` once per person and entry.',
})
export class Journey {
  @Field(() => ID, { description: 'Journey id.' })
  id: string;

  @Field({ description: 'Name.' })
  name: string;

  @Field(() => String, { nullable: true, description: 'Description.' })
  description: string | null;

  @Field(() => JourneyTemplateKey, { nullable: true, description: 'The template it was created from.' })
  template: JourneyTemplateKey | null;

  @Field({ description: 'Whether states advance.' })
  active: boolean;

  @Field({ description: 'Whether a person may enter again after an entry ended.' })
  allowReentry: boolean;

  @Field(() => [JourneyStep], { description: 'Steps in order.' })
  steps: JourneyStep[];

  @Field({ description: 'Created.' })
  createdAt: Date;

  @Field({ description: 'Last changed.' })
  updatedAt: Date;
}

@ObjectType({ description: 'A ready journey definition.' })
export class JourneyTemplate {
  @Field(() => JourneyTemplateKey, { description: 'Template key (for `createJourneyFromTemplate`).' })
  key: JourneyTemplateKey;

  @Field({ description: 'Default name.' })
  name: string;

  @Field({ description: 'What it does.' })
  description: string;

  @Field({ description: 'Whether a person may enter again.' })
  allowReentry: boolean;

  @Field(() => [JourneyStep], { description: 'Steps.' })
  steps: JourneyStep[];
}

@ObjectType({ description: 'A person reached a trigger step. Ids only: load the profile through `profile(id)`.' })
export class JourneyTrigger {
  @Field(() => ID, { description: 'Journey id.' })
  journeyId: string;

  @Field(() => ID, { description: 'Profile id.' })
  profileId: string;

  @Field({ description: 'Key of the trigger step.' })
  stepKey: string;

  @Field(() => Int, { description: 'Entry number.' })
  entryNo: number;

  @Field({ description: 'When the step was reached (event time, or the end of the window for a negative step).' })
  at: Date;
}

export enum TriggerVetoReason {
  NO_MARKETING_CONSENT = 'no_marketing_consent',
}
registerEnumType(TriggerVetoReason, {
  name: 'TriggerVetoReason',
  description: 'Why a journey trigger was held back.',
  valuesConfig: {
    NO_MARKETING_CONSENT: {
      description: 'The person has no marketing consent under the workspace\'s consent policy (`ComplianceSettings.consentPolicy`: denied or withdrawn, or never given under REQUIRE_GRANTED) when the trigger step was reached.',
    },
  },
});

@ObjectType({ description: 'A trigger step a person reached that was held back, not sent: recorded once, never sent later for that entry.' })
export class VetoedTrigger extends JourneyTrigger {
  @Field(() => TriggerVetoReason, { description: 'Why it was held back.' })
  reason: TriggerVetoReason;
}

@ObjectType({ description: 'A sequence of event names and how often it followed the start event.' })
export class EventPath {
  @Field(() => [String], { description: 'Event names in order (shorter than `depth` when the person did nothing more in the range).' })
  events: string[];

  @Field(() => Int, { description: 'Occurrences.' })
  count: number;

  @Field(() => Float, { description: 'count ÷ starts.' })
  share: number;
}

@ObjectType({ description: 'What people do after an event. Aggregates only.' })
export class PathAnalysis {
  @Field({ description: 'Start event.' })
  startEvent: string;

  @Field(() => Int, { description: 'Events followed after each start.' })
  depth: number;

  @Field({ description: 'Range start (inclusive).' })
  from: Date;

  @Field({ description: 'Range end (exclusive).' })
  to: Date;

  @Field(() => Int, { description: 'Occurrences of the start event in the events read.' })
  starts: number;

  @Field(() => Int, { description: 'Events read.' })
  scannedEvents: number;

  @Field({ description: 'Whether the 200,000-event read cap was hit (later events of the range were not read).' })
  truncated: boolean;

  @Field(() => [EventPath], { description: 'Most common paths first.' })
  paths: EventPath[];
}
