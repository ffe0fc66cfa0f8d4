import { Arg, Authorized, Ctx, Extensions, Mutation, Resolver } from 'type-graphql';
import { Role, requireAuth } from '../../platform/auth';
import type { RequestContext } from '../../platform/graphql/context';
import { TEXT_CHECKED_PER_ITEM } from '../../platform/graphql/input-text';
import { EventInput } from './event.inputs';
import { IngestError, IngestEventResult, IngestResult, IngestStatusType } from './event.type';
import type { IngestOutcome, IngestService } from './ingest.service';

/** The services the event resolver uses; the app's services object provides them. */
export interface EventResolverDeps {
  readonly ingest: IngestService;
}

export function toIngestResult(o: IngestOutcome): IngestResult {
  return Object.assign(new IngestResult(), {
    accepted: o.accepted,
    duplicates: o.duplicates,
    rejected: o.rejected,
    droppedIdentifiers: o.droppedIdentifiers,
    results: o.results.map((r) =>
      Object.assign(new IngestEventResult(), {
        index: r.index,
        messageId: r.messageId,
        status: r.status as IngestStatusType,
        profileId: r.profileId,
        droppedIdentifiers: r.droppedIdentifiers,
        error: r.error ? Object.assign(new IngestError(), { code: 'BAD_USER_INPUT', ...r.error }) : null,
      }),
    ),
  });
}

@Resolver()
export class EventResolver {
  constructor(private readonly services: EventResolverDeps) {}

  @Authorized(Role.INGEST)
  // Each event's text is checked on its own (INVALID_TEXT for that event only), not the whole call.
  @Extensions({ [TEXT_CHECKED_PER_ITEM]: true })
  @Mutation(() => IngestResult, {
    description:
      'Ingest up to 1,000 events. Each is accepted, a duplicate (messageId seen before) or rejected with a reason; one bad event never sinks the others. Answers after commit; a retry of the same batch changes nothing. INGEST.',
  })
  async ingestEvents(
    @Arg('events', () => [EventInput], { description: 'The events, in order (identity is resolved in this order).' }) events: EventInput[],
    @Ctx() ctx: RequestContext,
  ): Promise<IngestResult> {
    return toIngestResult(await this.services.ingest.ingest(requireAuth(ctx).workspaceId, events));
  }
}
