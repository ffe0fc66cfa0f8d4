import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';

export enum IngestStatusType {
  ACCEPTED = 'ACCEPTED',
  DUPLICATE = 'DUPLICATE',
  REJECTED = 'REJECTED',
}
registerEnumType(IngestStatusType, {
  name: 'IngestStatus',
  description: 'What happened to one event.',
  valuesConfig: {
    ACCEPTED: { description: 'Committed, identity resolved, read models updated.' },
    DUPLICATE: { description: 'Its messageId was seen before (or earlier in this batch): nothing changed.' },
    REJECTED: { description: 'Invalid: nothing was written for it; `error` says why.' },
  },
});

@ObjectType({ description: 'Why an event was rejected.' })
export class IngestError {
  @Field({ description: 'Always BAD_USER_INPUT.' })
  code: string;

  @Field({ description: 'Specific reason, e.g. UNKNOWN_CHANNEL, INVALID_PHONE, NAMESPACE_REQUIRED, EVENT_TOO_LARGE, TIMESTAMP_IN_FUTURE.' })
  reason: string;

  @Field({ description: 'Path of the offending field inside the event, e.g. `identifiers.1.value` (empty for the whole event).' })
  field: string;

  @Field({ description: 'Human-readable explanation.' })
  message: string;
}

@ObjectType({ description: 'The outcome of one event of the batch.' })
export class IngestEventResult {
  @Field(() => Int, { description: 'Position in the batch (0-based).' })
  index: number;

  @Field(() => String, { nullable: true, description: 'Its messageId, when it had a readable one.' })
  messageId: string | null;

  @Field(() => IngestStatusType, { description: 'Accepted, duplicate or rejected.' })
  status: IngestStatusType;

  @Field(() => ID, { nullable: true, description: 'The profile the event belongs to now: for ACCEPTED the one it was written to; for DUPLICATE the live profile (the survivor of any merge since) of the stored event it repeats; null for REJECTED.' })
  profileId: string | null;

  @Field(() => Int, { description: 'Identifiers dropped because their value is blocked (empty, "null", "0", …).' })
  droppedIdentifiers: number;

  @Field(() => IngestError, { nullable: true, description: 'Why it was rejected.' })
  error: IngestError | null;
}

@ObjectType({ description: 'What a batch did. Returned only after the batch is committed.' })
export class IngestResult {
  @Field(() => Int, { description: 'Events accepted.' })
  accepted: number;

  @Field(() => Int, { description: 'Events skipped as duplicates.' })
  duplicates: number;

  @Field(() => Int, { description: 'Events rejected.' })
  rejected: number;

  @Field(() => Int, { description: 'Blocked identifier values dropped across the batch.' })
  droppedIdentifiers: number;

  @Field(() => [IngestEventResult], { description: 'One result per event, in batch order.' })
  results: IngestEventResult[];
}
