import { Arg, Authorized, Ctx, ID, Int, Mutation, Query, Resolver } from 'type-graphql';
import { Role, requireAuth } from '../../platform/auth';
import type { RequestContext } from '../../platform/graphql/context';
import { actorOf } from '../compliance';
import type { AlertLevel } from '../kpis';
import { CreateDestinationInput, UpdateDestinationInput } from './destination.inputs';
import type { DeliveryRow, DestinationRow } from './destination.repository';
import type { DestinationService } from './destination.service';
import { Delivery, DeliveryPage, DeliveryStatus, Destination, DestinationEvent, DestinationFormat } from './destination.type';

/** The services the destination resolver uses; the app's services object provides them. */
export interface DestinationResolverDeps {
  readonly destinations: DestinationService;
}

const toDestination = (r: DestinationRow): Destination =>
  Object.assign(new Destination(), {
    id: r.id,
    name: r.name,
    format: r.format as DestinationFormat,
    url: r.url,
    hasSecret: !!r.secret,
    events: r.events as DestinationEvent[],
    segmentIds: r.segment_ids,
    journeyIds: r.journey_ids,
    minAlertLevel: r.min_alert_level as AlertLevel,
    enabled: r.enabled,
    allowPersonalData: r.allow_personal_data,
    allowPrivateNetwork: r.allow_private_network,
    maxAttempts: r.max_attempts,
    timeoutMs: r.timeout_ms,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  });

const toDelivery = (r: DeliveryRow): Delivery =>
  Object.assign(new Delivery(), {
    id: r.id,
    destinationId: r.destination_id,
    kind: r.kind as DestinationEvent,
    sourceKey: r.source_key,
    profileId: r.profile_id,
    data: r.data,
    status: r.status as DeliveryStatus,
    attempts: r.attempts,
    nextAttemptAt: r.next_attempt_at,
    lastAttemptAt: r.last_attempt_at,
    lastStatus: r.last_status,
    lastError: r.last_error,
    createdAt: r.created_at,
    finishedAt: r.finished_at,
    replayOf: r.replay_of,
    replayedAt: r.replayed_at,
  });

const page = (p: { rows: DeliveryRow[]; hasNext: boolean; endCursor: string | null }): DeliveryPage =>
  Object.assign(new DeliveryPage(), { nodes: p.rows.map(toDelivery), hasNextPage: p.hasNext, endCursor: p.endCursor });

@Resolver()
export class DestinationResolver {
  constructor(private readonly services: DestinationResolverDeps) {}

  @Authorized(Role.ADMIN)
  @Query(() => [Destination], { description: 'Outbound destinations of the workspace, oldest first. ADMIN.' })
  async destinations(@Ctx() ctx: RequestContext): Promise<Destination[]> {
    return (await this.services.destinations.list(requireAuth(ctx).workspaceId)).map(toDestination);
  }

  @Authorized(Role.ADMIN)
  @Query(() => DeliveryPage, { description: 'The delivery log, newest first: every item queued for a destination, its attempts and outcome. ADMIN.' })
  async deliveries(
    @Ctx() ctx: RequestContext,
    @Arg('destination', () => ID, { nullable: true, description: 'Only this destination\'s deliveries.' }) destination?: string | null,
    @Arg('status', () => DeliveryStatus, { nullable: true, description: 'Only deliveries with this status.' }) status?: DeliveryStatus | null,
    @Arg('first', () => Int, { defaultValue: 50, description: 'Page size, 1–200.' }) first = 50,
    @Arg('after', () => String, { nullable: true, description: '`endCursor` of the previous page.' }) after?: string | null,
  ): Promise<DeliveryPage> {
    return page(await this.services.destinations.deliveries(requireAuth(ctx).workspaceId, { destinationId: destination, status }, first, after ?? null));
  }

  @Authorized(Role.ADMIN)
  @Query(() => DeliveryPage, { description: 'The dead letter, newest first: deliveries whose every attempt failed and that were not replayed yet. ADMIN.' })
  async deadLetters(
    @Ctx() ctx: RequestContext,
    @Arg('destination', () => ID, { nullable: true, description: 'Only this destination\'s dead letters.' }) destination?: string | null,
    @Arg('first', () => Int, { defaultValue: 50, description: 'Page size, 1–200.' }) first = 50,
    @Arg('after', () => String, { nullable: true, description: '`endCursor` of the previous page.' }) after?: string | null,
  ): Promise<DeliveryPage> {
    return page(await this.services.destinations.deliveries(requireAuth(ctx).workspaceId, { destinationId: destination, deadOnly: true }, first, after ?? null));
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => Destination, { description: 'Add a destination. Bad input (`extensions.fields` names it, e.g. `input.url` for a private address) changes nothing. ADMIN.' })
  async createDestination(@Arg('input', () => CreateDestinationInput, { description: 'The destination.' }) input: CreateDestinationInput, @Ctx() ctx: RequestContext): Promise<Destination> {
    return toDestination(await this.services.destinations.create(actorOf(ctx), { ...input }));
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => Destination, { description: 'Change a destination (NOT_FOUND `DESTINATION_NOT_FOUND`). Items already queued keep their place. ADMIN.' })
  async updateDestination(
    @Arg('id', () => ID, { description: 'Destination id.' }) id: string,
    @Arg('input', () => UpdateDestinationInput, { description: 'The changes.' }) input: UpdateDestinationInput,
    @Ctx() ctx: RequestContext,
  ): Promise<Destination> {
    return toDestination(await this.services.destinations.update(actorOf(ctx), id, { ...input }));
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => Boolean, { description: 'Remove a destination with its delivery log and dead letter. ADMIN.' })
  async deleteDestination(@Arg('id', () => ID, { description: 'Destination id.' }) id: string, @Ctx() ctx: RequestContext): Promise<boolean> {
    return this.services.destinations.delete(actorOf(ctx), id);
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => Delivery, { description: 'Queue a dead letter again, at the end of its destination\'s queue, as a new delivery (`replayOf`); it leaves `deadLetters` (CONFLICT `NOT_A_DEAD_LETTER` otherwise). ADMIN.' })
  async replayDeadLetter(@Arg('id', () => ID, { description: 'The dead delivery.' }) id: string, @Ctx() ctx: RequestContext): Promise<Delivery> {
    const [row] = await this.services.destinations.replay(actorOf(ctx), { ids: [id] });
    return toDelivery(row);
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => [Delivery], { description: 'Queue every dead letter of a destination again, oldest first; answers the new deliveries. ADMIN.' })
  async replayDeadLetters(@Arg('destination', () => ID, { description: 'Destination id.' }) destination: string, @Ctx() ctx: RequestContext): Promise<Delivery[]> {
    return (await this.services.destinations.replay(actorOf(ctx), { destinationId: destination })).map(toDelivery);
  }
}
