import type { GraphQLResolveInfo } from 'graphql';
import { Arg, Authorized, Ctx, FieldResolver, ID, Info, Int, Query, Resolver, Root, Subscription } from 'type-graphql';
import { Role, requireAuth, requireRole } from '../../platform/auth';
import { AppError } from '../../platform/errors';
import type { RequestContext } from '../../platform/graphql/context';
import { servicesFor } from '../../platform/graphql/services-for';
import type { LiveUpdate } from '../../platform/live';
import { subscribeToProfile, type ProfileLiveDeps, type ProfileLiveValue } from './profile.live';
import type { AuditService } from '../compliance';
import { profileLoaders } from './profile.loaders';
import { ProfileFilter } from './profile.inputs';
import type { MergeReadRow, ConflictReadRow, ProfileRow } from './profile.repository';
import { assertId, encodeCursor, eventCursor } from './profile.service';
import {
  ConflictRule,
  Identifier,
  IdentifierRef,
  IdentityConflict,
  Merge,
  PageInfo,
  Profile,
  ProfileConnection,
  ProfileEdge,
  ProfileEvent,
  ProfileEventConnection,
  ProfileEventEdge,
  ProfileUpdate,
  Relation,
  RelationDirection,
  RelationKind,
  Trait,
  toProfile,
} from './profile.type';
import { IdentifierInput, maskPersonalJson } from '../identities';

/** The services the profile resolver uses (`profileUpdated` too, through `profileDeps`); the app's services object provides them. */
export interface ProfileResolverDeps extends ProfileLiveDeps {
  readonly audit: AuditService;
}

/** A subscription's `subscribe` has no resolver instance: it reads the same services from the schema. */
const profileDeps = (info: GraphQLResolveInfo) => servicesFor(info) as ProfileResolverDeps;

const ref = (t: [string, string, string]) => Object.assign(new IdentifierRef(), { type: t[0], namespace: t[1] || null });

export function toMerge(m: MergeReadRow): Merge {
  return Object.assign(new Merge(), {
    id: m.id,
    survivorId: m.survivor_id,
    mergedId: m.merged_id,
    eventMessageId: m.event_message_id,
    linkedBy: m.linking.map(ref),
    rule: `shared ${[...new Set(m.linking.map((l) => l[0]))].join(', ')}; the union stays within every maxPerProfile limit; the oldest profile survives`,
    createdAt: m.created_at,
    undoneAt: m.undone_at,
  });
}

/** A conflict as the profile `viewer` sees it: `otherProfileId` is the other side, never `viewer` itself. */
function toConflict(c: ConflictReadRow, viewer: string): IdentityConflict {
  return Object.assign(new IdentityConflict(), {
    id: c.id,
    rule: c.rule as ConflictRule,
    limitType: c.limit_type,
    identifier: c.identifier ? ref(c.identifier) : null,
    profileId: c.profile_id,
    otherProfileId: c.other_profile_id === viewer ? c.profile_id : c.other_profile_id,
    eventMessageId: c.event_message_id,
    createdAt: c.created_at,
  });
}

const READERS = [Role.READ] as const;

@Resolver(() => Profile)
export class ProfileResolver {
  constructor(private readonly services: ProfileResolverDeps) {}

  @Authorized(...READERS)
  @Query(() => Profile, { description: 'One profile by id; the id of a merged profile resolves to the survivor. READ.' })
  async profile(@Arg('id', () => ID, { description: 'Profile id.' }) id: string, @Ctx() ctx: RequestContext, @Info() info: GraphQLResolveInfo): Promise<Profile> {
    // The selected relations come with the profile in one statement and prime their loaders.
    const plan = this.services.profiles.prefetch.plan(info);
    const { row, values } = await this.services.profiles.getWith(requireAuth(ctx).workspaceId, id, plan);
    this.services.profiles.prefetch.prime(ctx.loaders, row.id, plan, values);
    return toProfile(row);
  }

  @Authorized(...READERS)
  @Subscription(() => ProfileUpdate, {
    description:
      'The profile, live: first its current value, then a new version after each committed change (ingest on any instance, unmerge, manual tags), coalesced to at most one push per `Workspace.liveUpdateIntervalMs`. A merged-away id follows its survivor. All subscribers of a profile share one computation. READ.',
    subscribe: async ({ args, context, info }) => {
      // @Authorized checks each pushed value; refuse here too, so that no live source starts for a caller who may not read.
      const auth = requireRole(context as RequestContext, READERS);
      return subscribeToProfile(profileDeps(info), auth.workspaceId, args.id as string);
    },
  })
  profileUpdated(
    @Arg('id', () => ID, { description: 'Profile id (a merged-away id follows its survivor).' }) _id: string,
    @Root() update: LiveUpdate<ProfileLiveValue>,
    @Ctx() ctx: RequestContext,
  ): ProfileUpdate {
    // Nested fields of this version load once for all its subscribers (same workspace; masking stays per caller).
    ctx.loaders = update.value.loaders;
    return Object.assign(new ProfileUpdate(), { version: update.version, profile: update.value.profile });
  }

  @Authorized(...READERS)
  @Query(() => Profile, { description: 'The profile holding an identifier (normalised like ingest: phone to E.164, e-mail lower-case). READ.' })
  async profileByIdentifier(
    @Arg('identifier', () => IdentifierInput, { description: 'Type, namespace and value.' }) identifier: IdentifierInput,
    @Ctx() ctx: RequestContext,
    @Info() info: GraphQLResolveInfo,
  ): Promise<Profile> {
    const plan = this.services.profiles.prefetch.plan(info);
    const { row, values } = await this.services.profiles.byIdentifierWith(requireAuth(ctx).workspaceId, identifier, plan);
    this.services.profiles.prefetch.prime(ctx.loaders, row.id, plan, values);
    return toProfile(row);
  }

  @Authorized(...READERS)
  @Query(() => ProfileConnection, { description: 'Profiles in creation order, filtered, as a Relay connection. READ.' })
  async profiles(
    @Ctx() ctx: RequestContext,
    @Info() info: GraphQLResolveInfo,
    @Arg('filter', () => ProfileFilter, { nullable: true, description: 'Conditions; all must hold.' }) filter?: ProfileFilter,
    @Arg('first', () => Int, { defaultValue: 20, description: 'Page size, 1–100.' }) first = 20,
    @Arg('after', () => String, { nullable: true, description: 'Cursor from `pageInfo.endCursor`.' }) after?: string | null,
  ): Promise<ProfileConnection> {
    const prefetch = this.services.profiles.prefetch;
    const plan = prefetch.plan(info, ['edges', 'node']);
    const { rows, hasNext } = await this.services.profiles.listWith(requireAuth(ctx).workspaceId, filter ?? {}, first, after, plan);
    for (const { row, values } of rows) prefetch.prime(ctx.loaders, row.id, plan, values);
    const edges = rows.map(({ row: r }) => Object.assign(new ProfileEdge(), { cursor: encodeCursor('p', r.seq), node: toProfile(r) }));
    return Object.assign(new ProfileConnection(), {
      edges,
      pageInfo: Object.assign(new PageInfo(), { hasNextPage: hasNext, endCursor: edges.at(-1)?.cursor ?? null }),
      query: { workspaceId: requireAuth(ctx).workspaceId, filter: filter ?? {} },
    });
  }

  @FieldResolver(() => [Identifier], { description: 'Every identifier of the person.' })
  async identifiers(@Root() p: Profile, @Ctx() ctx: RequestContext): Promise<Identifier[]> {
    const rows = await profileLoaders(ctx, this.services.profiles).identifiers.load(p.id);
    const pii = requireAuth(ctx).pii;
    // An unmasked phone/e-mail is personal data read: audited (batched per operation).
    if (pii && rows.some((r) => r.value_enc)) await this.services.audit.unmaskedRead(ctx, p.id);
    return rows.map((r) =>
      Object.assign(new Identifier(), {
        type: r.type,
        namespace: r.namespace || null,
        ...this.services.profiles.displayValue(r, pii),
        firstSeenAt: r.first_seen_at,
        lastSeenAt: r.last_seen_at,
      }),
    );
  }

  @FieldResolver(() => [Trait], { description: 'Traits, last write wins per trait by event time. Without the PII scope, phones, e-mails, ID numbers and contact fields (address, …) in values are masked.' })
  traits(@Root() p: Profile, @Ctx() ctx: RequestContext): Trait[] {
    const pii = requireAuth(ctx).pii;
    return p.traits.map((t) => Object.assign(new Trait(), { ...t, value: (this.services.profiles.displayJson({ [t.name]: t.value }, pii) as Record<string, unknown>)[t.name] }));
  }

  @FieldResolver(() => ProfileEventConnection, { description: 'The event timeline, newest first.' })
  async events(
    @Root() p: Profile,
    @Ctx() ctx: RequestContext,
    @Arg('first', () => Int, { defaultValue: 20, description: 'Page size, 1–100.' }) first: number,
    @Arg('after', () => String, { nullable: true, description: 'Cursor from `pageInfo.endCursor`.' }) after?: string | null,
    @Arg('name', () => String, { nullable: true, description: 'Only events with this name.' }) name?: string | null,
  ): Promise<ProfileEventConnection> {
    if (!Number.isInteger(first) || first < 1 || first > 100) throw AppError.badInput('INVALID_PAGE_SIZE', 'first', 'first must be between 1 and 100');
    const rows = await profileLoaders(ctx, this.services.profiles).events(first, after ?? null, name ?? null).load(p.id);
    const pii = requireAuth(ctx).pii;
    const page = rows.slice(0, first);
    const edges = page.map((e) =>
      Object.assign(new ProfileEventEdge(), {
        cursor: eventCursor(e),
        node: Object.assign(new ProfileEvent(), {
          messageId: e.message_id,
          type: e.type,
          name: e.name,
          channel: e.channel,
          timestamp: e.ts,
          receivedAt: e.received_at,
          // Without the PII scope, phones, e-mails, ID numbers and contact fields inside the JSON are masked.
          properties: pii ? e.properties : maskPersonalJson(e.properties),
          context: pii ? e.context : maskPersonalJson(e.context),
          traits: this.services.profiles.displayJson(e.traits, pii),
        }),
      }),
    );
    return Object.assign(new ProfileEventConnection(), {
      edges,
      pageInfo: Object.assign(new PageInfo(), { hasNextPage: rows.length > first, endCursor: edges.at(-1)?.cursor ?? null }),
    });
  }

  @FieldResolver(() => [Merge], { description: 'Merges this profile took part in, with what caused each (explainable identity).' })
  async mergeHistory(@Root() p: Profile, @Ctx() ctx: RequestContext): Promise<Merge[]> {
    return (await profileLoaders(ctx, this.services.profiles).merges.load(p.id)).map(toMerge);
  }

  @FieldResolver(() => [IdentityConflict], { description: 'Links refused for this profile (instead of wrong merges).' })
  async conflicts(@Root() p: Profile, @Ctx() ctx: RequestContext): Promise<IdentityConflict[]> {
    return (await profileLoaders(ctx, this.services.profiles).conflicts.load(p.id)).map((c) => toConflict(c, p.id));
  }

  @FieldResolver(() => [Relation], { description: 'Person-to-person edges, optionally of one kind.' })
  async relations(
    @Root() p: Profile,
    @Ctx() ctx: RequestContext,
    @Arg('kind', () => RelationKind, { nullable: true, description: 'Only this kind.' }) kind?: RelationKind,
  ): Promise<Relation[]> {
    const rows = await profileLoaders(ctx, this.services.profiles).relations.load(p.id);
    return rows
      .filter((r) => !kind || r.kind === kind)
      .map((r) =>
        Object.assign(new Relation(), {
          id: r.id,
          kind: r.kind as RelationKind,
          direction: r.from_profile_id === p.id ? RelationDirection.OUTGOING : RelationDirection.INCOMING,
          otherProfileId: r.from_profile_id === p.id ? r.to_profile_id : r.from_profile_id,
          staffId: r.staff_id,
          eventMessageId: r.event_message_id,
          occurredAt: r.occurred_at,
        }),
      );
  }

  @FieldResolver(() => Profile, { nullable: true, description: 'Who invited this person (INVITED relation), if anyone.' })
  async invitedBy(@Root() p: Profile, @Ctx() ctx: RequestContext): Promise<Profile | null> {
    const l = profileLoaders(ctx, this.services.profiles);
    const edge = (await l.relations.load(p.id)).find((r) => r.kind === RelationKind.INVITED && r.to_profile_id === p.id && r.from_profile_id);
    if (!edge) return null;
    const row = await l.profile.load(edge.from_profile_id!);
    return row ? toProfile(row) : null;
  }

  @FieldResolver(() => [Profile], { description: 'People this person invited (INVITED relations).' })
  async invitees(@Root() p: Profile, @Ctx() ctx: RequestContext): Promise<Profile[]> {
    const l = profileLoaders(ctx, this.services.profiles);
    const ids = (await l.relations.load(p.id)).filter((r) => r.kind === RelationKind.INVITED && r.from_profile_id === p.id).map((r) => r.to_profile_id);
    const rows = await l.profile.loadMany(ids);
    return rows.filter((r): r is ProfileRow => !!r && !(r instanceof Error)).map(toProfile);
  }
}

export { assertId };

/** Fields of the profile list beyond its page. */
@Resolver(() => ProfileConnection)
export class ProfileConnectionResolver {
  constructor(private readonly services: ProfileResolverDeps) {}

  @FieldResolver(() => Int, {
    description:
      'Exactly how many live profiles (merged-away ones excluded) match the filter, over all pages — not an estimate. It costs one count query, run only when this field is selected.',
  })
  totalCount(@Root() c: ProfileConnection): Promise<number> {
    return this.services.profiles.count(c.query.workspaceId, c.query.filter);
  }
}
