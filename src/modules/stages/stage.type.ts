import { Field, Float, ID, InputType, Int, ObjectType } from 'type-graphql';

const KINDS_DOC =
  '`first_event` (any event), `event_any_of` (an event named one of `events`), `orders_within` (`count` `Order Completed` events within `days` days), ' +
  '`invitee_bought` (someone the person invited — relation `invited` — has at least one order), `inactive_days` (no event for `days` days: an inactivity stage such as 沉默 or 流失).';

@ObjectType({ description: `When a person enters a stage: one condition. Kinds: ${KINDS_DOC}` })
export class StageCondition {
  @Field({ description: 'One of `first_event`, `event_any_of`, `orders_within`, `invitee_bought`, `inactive_days`.' })
  kind: string;

  @Field(() => [String], { nullable: true, description: '`event_any_of`: the event names; null for other kinds.' })
  events: string[] | null;

  @Field(() => Int, { nullable: true, description: '`orders_within`: how many orders; null for other kinds.' })
  count: number | null;

  @Field(() => Int, { nullable: true, description: '`orders_within`: the window in days; `inactive_days`: days without any event. Null for other kinds.' })
  days: number | null;
}

@ObjectType({ description: 'One stage of a model.' })
export class StageDefinition {
  @Field({ description: 'Stable key, e.g. `awareness`; the system tag is `stage:<key>`.' })
  key: string;

  @Field({ description: 'Display name, e.g. 认知.' })
  name: string;

  @Field({ description: 'True for inactivity stages (`inactive_days`), false for the main sequence.' })
  inactive: boolean;

  @Field(() => StageCondition, { description: 'When a person enters it.' })
  enter: StageCondition;
}

@ObjectType({
  description:
    'A lifecycle stage model (生命周期模型): an ordered list of stages with entry conditions. Stages that are not `inactive_days` form the main sequence in the order ' +
    'listed; a person only moves forward in it, to the furthest stage whose condition holds (stages may be skipped). `inactive_days` stages come last with increasing ' +
    'days: a person with no event for that many days moves there, dated when the threshold passed (last event + days); their next event takes them back to the main stage they left ' +
    '(a wake-up, 沉默唤醒, dated at that event). Transitions follow event time, not arrival time: the sweep records a silence as its threshold passes, and events that arrive ' +
    'after a gap — a history loaded at once (`siyu seed`, an import), a late event — record the silences and wake-ups of the gap at their times. An event dated before ' +
    'transitions already recorded (a late event, or the events a merge brings the survivor) replays the person\'s transitions from its time, so the history is the one the ' +
    'events would have made arriving one by one in time order. ' +
    'Default model `default`: 认知 awareness (`first_event`) → 兴趣 interest (`event_any_of` interactions) → 购买 purchase (`event_any_of` `Order Completed`) → ' +
    '忠诚 loyalty (`orders_within` 2 in 90 days) → 推荐 advocacy (`invitee_bought`); 沉默 silent (`inactive_days` 30), 流失 churned (`inactive_days` 90).',
})
export class StageModel {
  @Field({ description: 'Model key, e.g. `default`.' })
  key: string;

  @Field({ description: 'Display name.' })
  name: string;

  @Field(() => [StageDefinition], { description: 'Stages in order: main sequence first, then inactivity stages.' })
  stages: StageDefinition[];
}

@InputType({ description: `An entry condition. Kinds: ${KINDS_DOC} Give only the fields the kind uses.` })
export class StageConditionInput {
  @Field({ description: 'One of `first_event`, `event_any_of`, `orders_within`, `invitee_bought`, `inactive_days`.' })
  kind: string;

  @Field(() => [String], { nullable: true, description: '`event_any_of` only: 1–50 distinct event names.' })
  events?: string[] | null;

  @Field(() => Int, { nullable: true, description: '`orders_within` only: orders needed, 1–1000.' })
  count?: number | null;

  @Field(() => Int, { nullable: true, description: '`orders_within` (window) and `inactive_days` (idle days): 1–3650. Inactivity stages need strictly increasing days (N < M).' })
  days?: number | null;
}

@InputType({ description: 'One stage of a model.' })
export class StageDefinitionInput {
  @Field({ description: 'Key: 1–32 lower-case letters, digits or _, starting with a letter; unique in the model.' })
  key: string;

  @Field({ description: 'Display name, 1–64 characters.' })
  name: string;

  @Field(() => StageConditionInput, { description: 'When a person enters it.' })
  enter: StageConditionInput;
}

@InputType({ description: 'A whole stage model (replaces the current one). See `StageModel` for the rules.' })
export class StageModelInput {
  @Field({ description: 'Model key: 1–32 lower-case letters, digits or _.' })
  key: string;

  @Field({ description: 'Display name, 1–64 characters.' })
  name: string;

  @Field(() => [StageDefinitionInput], { description: '1–20 stages: at least one main-sequence stage, then the `inactive_days` stages; at most one `first_event`.' })
  stages: StageDefinitionInput[];
}

@ObjectType({ description: 'Where a person is in the lifecycle stage model now.' })
export class LifecycleStage {
  @Field({ description: 'Stage key, e.g. `purchase`.' })
  key: string;

  @Field({ description: 'Display name, e.g. 购买.' })
  name: string;

  @Field({ description: 'True for an inactivity stage (沉默, 流失).' })
  inactive: boolean;

  @Field({ description: 'When the person entered it (the time of the event that caused it, or when the inactivity threshold passed).' })
  enteredAt: Date;

  @Field(() => String, { nullable: true, description: 'Key of the stage before this one; null for the first.' })
  previousStage: string | null;

  @Field(() => String, { nullable: true, description: 'The furthest main-sequence stage reached: where a wake-up returns to.' })
  mainStage: string | null;
}

@ObjectType({ description: 'One change of a person\'s stage.' })
export class StageTransition {
  @Field(() => ID, { description: 'Transition id (increasing in recording order).' })
  id: string;

  @Field(() => String, { nullable: true, description: 'Stage left; null for the first stage.' })
  from: string | null;

  @Field({ description: 'Stage entered.' })
  to: string;

  @Field({ description: 'When: the time of the causing event, or when an inactivity threshold passed (last activity + days).' })
  at: Date;

  @Field({
    description:
      'Why: `first_event:event:<messageId>`, `event_any_of:<event name>:event:<messageId>`, `orders_within:<count>/<days>d:event:<messageId>` (the order that completed the window), ' +
      '`invitee_bought:profile:<invitee id>`, `inactive_days:<days>`, or `wake_up:event:<messageId>`.',
  })
  cause: string;

  @Field({ description: 'True for a wake-up (沉默唤醒): activity took the person from an inactivity stage back to the stage they left.' })
  wakeUp: boolean;

  @Field({ description: 'The model the transition was made under.' })
  modelKey: string;
}

@InputType({ description: 'A time range [from, to) of at most 3660 days.' })
export class StageFunnelRange {
  @Field({ description: 'Start (inclusive).' })
  from: Date;

  @Field({ description: 'End (exclusive); after `from`.' })
  to: Date;
}

@ObjectType({ description: 'One stage of the funnel. No personal data.' })
export class StageFunnelStage {
  @Field({ description: 'Stage key.' })
  key: string;

  @Field({ description: 'Display name.' })
  name: string;

  @Field({ description: 'True for an inactivity stage.' })
  inactive: boolean;

  @Field(() => Int, { description: 'People in this stage now (not limited to the range): live profiles, each once; a profile merged into another is not counted.' })
  current: number;

  @Field(() => Int, {
    description:
      'Main stage k: people with a forward (non-wake-up) transition in the range into stage k or a later main stage (a skipped stage counts as passed). ' +
      'Inactivity stage: people with a transition into it in the range. People are live profiles, each counted once, by their own stage history: the transitions a profile ' +
      'made before it was merged into another are not counted, because the merge replays the survivor\'s history over the events of both from the merged profile\'s first ' +
      'event on (counting both would count one person twice, and progress or silences the person as a whole never had).',
  })
  reached: number;

  @Field(() => Float, {
    nullable: true,
    description: 'Conversion to the next main stage = reached(k+1) ÷ reached(k) over the range (the share of people who reached k that also reached k+1). Null for the last main stage, inactivity stages and when reached(k) = 0.',
  })
  conversionToNext: number | null;

  @Field(() => Float, {
    nullable: true,
    description:
      'Median time in the stage, in hours: over live people\'s stays that ended in the range (a transition out of the stage at a time in the range), the median of ' +
      '(leaving transition\'s time − entering transition\'s time). Stays recorded under a profile since merged into another are not counted (see `reached`). Null when none ended.',
  })
  medianHoursInStage: number | null;
}

@ObjectType({ description: 'The lifecycle funnel of the current model over a range. No personal data.' })
export class StageFunnel {
  @Field({ description: 'The model it was computed for (transitions of other models are not counted).' })
  modelKey: string;

  @Field({ description: 'Range start (inclusive).' })
  from: Date;

  @Field({ description: 'Range end (exclusive).' })
  to: Date;

  @Field(() => [StageFunnelStage], { description: 'Every stage of the model, in model order.' })
  stages: StageFunnelStage[];

  @Field(() => Int, {
    description:
      'Wake-ups (沉默唤醒): people silent at the start of the range who came back in it — live people whose last transition before `from` went into an inactivity stage and ' +
      'who have a wake-up (their next event, dated at its time) in [from, to); each person once. Someone who went silent after `from` and came back within the range is not ' +
      'counted. This is the woken count of SILENT_WAKEUP_RATE with the range as its bucket (silent: active before the bucket, no event in the 30 days before its start; woken: ' +
      'active in it) whenever the model\'s first inactivity stage is 30 days (the default 沉默), the range starts where a KPI bucket can (a local midnight, or a whole hour ' +
      'at HOUR grain) and no daylight-saving change falls in the 30 days before `from` (KPI days are local days, the model\'s are 24 h). Under a model whose first ' +
      'inactivity stage is N days, silent means N days without an event.',
  })
  wakeUps: number;
}
