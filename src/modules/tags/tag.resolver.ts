import { Arg, Authorized, Ctx, Extensions, FieldResolver, ID, Int, Mutation, Query, Resolver, Root, Subscription } from 'type-graphql';
import { OWN_LIST_LIMIT } from '../../platform/graphql/input-text';
import { Role, requireAuth } from '../../platform/auth';
import { AppError } from '../../platform/errors';
import type { RequestContext } from '../../platform/graphql/context';
import { Topics } from '../../platform/pubsub';
import { actorOf, type AuditService } from '../compliance';
import { PageInfo, Profile, ProfileConnection, ProfileEdge, encodeCursor, toProfile, type ProfileService } from '../profiles';
import type { SegmentRow, TagRow } from './tag.repository';
import type { SweepStatus, SweepStep, TagService } from './tag.service';
import { PROFILE_SEGMENTS_LOADER, PROFILE_TAGS_LOADER, toProfileSegment, toProfileTag } from './tag.prefetch';
import {
  BreakdownCount,
  CreateSegmentInput,
  CreateTagInput,
  MembershipChangeKind,
  ProfileSegment,
  ProfileTag,
  Segment,
  SegmentMembershipChange,
  SegmentThresholdsInput,
  SegmentThresholdsType,
  SweepStatusType,
  RuleWindowStatusType,
  Tag,
  TagBreakdown,
  TagDistributionRow,
  TagKindType,
  UpdateSegmentInput,
  UpdateTagInput,
} from './tag.type';

/** The services the tag and segment resolvers use; the app's services object provides them. */
export interface TagResolverDeps {
  readonly tags: TagService;
  readonly profiles: ProfileService;
  readonly audit: AuditService;
  /** `runSweep`: every read model's sweep step, in the projections' order (tags last). */
  readonly sweepSteps: readonly SweepStep[];
  /** `runSweep`: the workspace's due work (what time alone changed), run now. */
  readonly due: { runWorkspace(workspaceId: string, now: Date, batch: number): Promise<number> };
}

const toTag = (t: TagRow): Tag =>
  Object.assign(new Tag(), {
    key: t.key,
    name: t.name,
    group: t.group_name,
    kind: t.kind as TagKindType,
    expression: t.expression,
    description: t.description,
    timeDependent: t.time_dependent,
    createdAt: t.created_at,
  });

const toSegment = (s: SegmentRow): Segment =>
  Object.assign(new Segment(), {
    id: s.id,
    key: s.key,
    name: s.name,
    description: s.description,
    expression: s.expression,
    isDefault: s.is_default,
    timeDependent: s.time_dependent,
    createdAt: s.created_at,
    updatedAt: s.updated_at,
  });

const VIEWERS = [Role.READ, Role.ANALYST] as const;

@Resolver(() => Segment)
export class SegmentResolver {
  constructor(private readonly services: TagResolverDeps) {}

  @Authorized(...VIEWERS)
  @Query(() => [Segment], { description: 'Every segment of the workspace, defaults first. READ or ANALYST.' })
  async segments(@Ctx() ctx: RequestContext): Promise<Segment[]> {
    return (await this.services.tags.listSegments(requireAuth(ctx).workspaceId)).map(toSegment);
  }

  @Authorized(...VIEWERS)
  @Query(() => Segment, { description: 'One segment. READ or ANALYST.' })
  async segment(@Arg('id', () => ID, { description: 'Segment id.' }) id: string, @Ctx() ctx: RequestContext): Promise<Segment> {
    return toSegment(await this.services.tags.getSegment(requireAuth(ctx).workspaceId, id));
  }

  @FieldResolver(() => Int, { description: 'Members now.' })
  async size(@Root() s: Segment, @Ctx() ctx: RequestContext): Promise<number> {
    const ws = requireAuth(ctx).workspaceId;
    const l = ctx.loaders.get('segment.size', async (ids: readonly string[]) => {
      const m = await this.services.tags.segmentSizes(ws, ids);
      return ids.map((id) => m.get(id) ?? 0);
    });
    return l.load(s.id);
  }

  @FieldResolver(() => ProfileConnection, { description: 'Members in creation order (a Relay connection). READ.' })
  async members(
    @Root() s: Segment,
    @Ctx() ctx: RequestContext,
    @Arg('first', () => Int, { defaultValue: 20, description: 'Page size, 1–100.' }) first: number,
    @Arg('after', () => String, { nullable: true, description: 'Cursor from `pageInfo.endCursor`.' }) after?: string | null,
  ): Promise<ProfileConnection> {
    const auth = requireAuth(ctx);
    if (auth.role !== Role.READ && auth.role !== Role.ADMIN) throw AppError.forbidden('Segment members are profiles: this needs a READ key.');
    const { rows, hasNext } = await this.services.profiles.list(auth.workspaceId, { segment: s.id }, first, after);
    const edges = rows.map((r) => Object.assign(new ProfileEdge(), { cursor: encodeCursor('p', r.seq), node: toProfile(r) }));
    return Object.assign(new ProfileConnection(), {
      edges,
      pageInfo: Object.assign(new PageInfo(), { hasNextPage: hasNext, endCursor: edges.at(-1)?.cursor ?? null }),
      // What `totalCount` counts: the same list, all pages.
      query: { workspaceId: auth.workspaceId, filter: { segment: s.id } },
    });
  }

  @FieldResolver(() => [SegmentMembershipChange], { description: 'Who entered or left, when and why — newest first. READ.' })
  async changes(
    @Root() s: Segment,
    @Ctx() ctx: RequestContext,
    @Arg('last', () => Int, { defaultValue: 50, description: 'How many, 1–1000.' }) last: number,
  ): Promise<SegmentMembershipChange[]> {
    const auth = requireAuth(ctx);
    if (auth.role !== Role.READ && auth.role !== Role.ADMIN) throw AppError.forbidden('Membership changes name profiles: this needs a READ key.');
    if (!Number.isInteger(last) || last < 1 || last > 1000) throw AppError.badInput('INVALID_LIMIT', 'last', 'last must be between 1 and 1000');
    const rows = await this.services.tags.segmentChanges(auth.workspaceId, s.id, last);
    return rows.map((c) =>
      Object.assign(new SegmentMembershipChange(), { segmentId: c.subject, profileId: c.profileId, change: c.change as MembershipChangeKind, cause: c.cause, at: c.at }),
    );
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => Segment, { description: 'Create a segment; its members are computed at once. ADMIN.' })
  async createSegment(@Arg('input', () => CreateSegmentInput, { description: 'Key, name, expression.' }) input: CreateSegmentInput, @Ctx() ctx: RequestContext): Promise<Segment> {
    const s = toSegment(await this.services.tags.createSegment(actorOf(ctx), input));
    return s;
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => Segment, { description: 'Change a segment; a new expression recomputes membership. ADMIN.' })
  async updateSegment(
    @Arg('id', () => ID, { description: 'Segment id.' }) id: string,
    @Arg('input', () => UpdateSegmentInput, { description: 'Changes.' }) input: UpdateSegmentInput,
    @Ctx() ctx: RequestContext,
  ): Promise<Segment> {
    const s = toSegment(await this.services.tags.updateSegment(actorOf(ctx), id, input));
    return s;
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => Boolean, { description: 'Delete a (non-default) segment; members leave it. ADMIN.' })
  async deleteSegment(@Arg('id', () => ID, { description: 'Segment id.' }) id: string, @Ctx() ctx: RequestContext): Promise<boolean> {
    await this.services.tags.deleteSegment(actorOf(ctx), id);
    return true;
  }

  @Authorized(...VIEWERS)
  @Query(() => SegmentThresholdsType, { description: 'Thresholds of the default segments. READ or ANALYST.' })
  async segmentThresholds(@Ctx() ctx: RequestContext): Promise<SegmentThresholdsType> {
    return Object.assign(new SegmentThresholdsType(), await this.services.tags.thresholds(requireAuth(ctx).workspaceId));
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => SegmentThresholdsType, { description: 'Change the default segments\' thresholds; they are recomputed. ADMIN.' })
  async updateSegmentThresholds(@Arg('input', () => SegmentThresholdsInput, { description: 'Thresholds to change.' }) input: SegmentThresholdsInput, @Ctx() ctx: RequestContext): Promise<SegmentThresholdsType> {
    const t = await this.services.tags.updateThresholds(actorOf(ctx), input);
    return Object.assign(new SegmentThresholdsType(), t);
  }

  @Authorized(Role.READ)
  @Subscription(() => SegmentMembershipChange, {
    description: 'Profiles entering and leaving a segment, live, from any instance, committed before they are sent. READ.',
    topics: ({ args, context }) => Topics.segmentMembership(requireAuth(context as RequestContext).workspaceId, args.segmentId as string),
  })
  segmentMembershipChanged(
    @Arg('segmentId', () => ID, { description: 'Segment id.' }) _segmentId: string,
    @Root() p: { subject: string; profileId: string; change: string; cause: string; at: string },
  ): SegmentMembershipChange {
    return Object.assign(new SegmentMembershipChange(), {
      segmentId: p.subject,
      profileId: p.profileId,
      change: p.change as MembershipChangeKind,
      cause: p.cause,
      at: new Date(p.at),
    });
  }
}

@Resolver(() => Tag)
export class TagResolver {
  constructor(private readonly services: TagResolverDeps) {}

  @Authorized(...VIEWERS)
  @Query(() => [Tag], { description: 'Tags of the workspace, optionally of one group. READ or ANALYST.' })
  async tags(@Ctx() ctx: RequestContext, @Arg('group', () => String, { nullable: true, description: 'Only this group.' }) group?: string | null): Promise<Tag[]> {
    return (await this.services.tags.listTags(requireAuth(ctx).workspaceId, group ?? undefined)).map(toTag);
  }

  @Authorized(...VIEWERS)
  @Query(() => Tag, { description: 'One tag. READ or ANALYST.' })
  async tag(@Arg('key', { description: 'Tag key.' }) key: string, @Ctx() ctx: RequestContext): Promise<Tag> {
    return toTag(await this.services.tags.getTag(requireAuth(ctx).workspaceId, key));
  }

  @FieldResolver(() => Int, { description: 'Profiles with the tag now.' })
  async size(@Root() t: Tag, @Ctx() ctx: RequestContext): Promise<number> {
    const ws = requireAuth(ctx).workspaceId;
    const l = ctx.loaders.get('tag.size', async (keys: readonly string[]) => {
      const m = await this.services.tags.tagSizes(ws, keys);
      return keys.map((k) => m.get(k) ?? 0);
    });
    return l.load(t.key);
  }

  @Authorized(...VIEWERS)
  @Query(() => [TagDistributionRow], { description: 'How many profiles carry each tag of a group, split by channel. No personal data. READ or ANALYST.' })
  async tagDistribution(
    @Arg('tagGroup', { description: 'Tag group.' }) tagGroup: string,
    @Ctx() ctx: RequestContext,
    @Arg('breakdown', () => TagBreakdown, { defaultValue: TagBreakdown.CHANNEL, description: 'Breakdown (CHANNEL).' }) _breakdown: TagBreakdown,
  ): Promise<TagDistributionRow[]> {
    const ws = requireAuth(ctx).workspaceId;
    const [rows, tags] = await Promise.all([this.services.tags.tagDistribution(ws, tagGroup), this.services.tags.listTags(ws, tagGroup)]);
    const names = new Map(tags.map((t) => [t.key, t.name]));
    const out = new Map<string, TagDistributionRow>();
    for (const r of rows) {
      let row = out.get(r.tag_key);
      if (!row) out.set(r.tag_key, (row = Object.assign(new TagDistributionRow(), { tagKey: r.tag_key, tagName: names.get(r.tag_key) ?? r.tag_key, total: r.total, breakdown: [] })));
      if (r.channel) row.breakdown.push(Object.assign(new BreakdownCount(), { key: r.channel, count: r.n }));
    }
    return [...out.values()];
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => Tag, { description: 'Create a MANUAL or RULE tag; a rule tag is computed at once. ADMIN.' })
  async createTag(@Arg('input', () => CreateTagInput, { description: 'The tag.' }) input: CreateTagInput, @Ctx() ctx: RequestContext): Promise<Tag> {
    if (input.kind === TagKindType.SYSTEM) throw AppError.badInput('SYSTEM_TAG', 'input.kind', 'system tags are maintained by Siyu');
    const tag = toTag(await this.services.tags.createTag(actorOf(ctx), { ...input, kind: input.kind as 'manual' | 'rule' }));
    return tag;
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => Tag, { description: 'Change a tag; a new rule recomputes it. ADMIN.' })
  async updateTag(@Arg('key', { description: 'Tag key.' }) key: string, @Arg('input', () => UpdateTagInput, { description: 'Changes.' }) input: UpdateTagInput, @Ctx() ctx: RequestContext): Promise<Tag> {
    const tag = toTag(await this.services.tags.updateTag(actorOf(ctx), key, input));
    return tag;
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => Boolean, { description: 'Delete a tag not used by other rules; profiles lose it. ADMIN.' })
  async deleteTag(@Arg('key', { description: 'Tag key.' }) key: string, @Ctx() ctx: RequestContext): Promise<boolean> {
    await this.services.tags.deleteTag(actorOf(ctx), key);
    return true;
  }

  @Authorized(Role.ADMIN)
  @Extensions({ [OWN_LIST_LIMIT]: true })
  @Mutation(() => Int, { description: 'Put a MANUAL tag on up to 10,000 profiles (merged ids resolve to survivors); all or nothing. Returns how many gained it. ADMIN.' })
  async tagProfiles(
    @Arg('tagKey', { description: 'A MANUAL tag.' }) tagKey: string,
    @Arg('profileIds', () => [ID], { description: 'Profile ids, at most 10,000.' }) profileIds: string[],
    @Ctx() ctx: RequestContext,
  ): Promise<number> {
    return this.services.tags.tagProfiles(requireAuth(ctx).workspaceId, tagKey, profileIds, true);
  }

  @Authorized(Role.ADMIN)
  @Extensions({ [OWN_LIST_LIMIT]: true })
  @Mutation(() => Int, { description: 'Take a MANUAL tag off up to 10,000 profiles; all or nothing. Returns how many lost it. ADMIN.' })
  async untagProfiles(
    @Arg('tagKey', { description: 'A MANUAL tag.' }) tagKey: string,
    @Arg('profileIds', () => [ID], { description: 'Profile ids, at most 10,000.' }) profileIds: string[],
    @Ctx() ctx: RequestContext,
  ): Promise<number> {
    return this.services.tags.tagProfiles(requireAuth(ctx).workspaceId, tagKey, profileIds, false);
  }

  @Authorized(...VIEWERS)
  @Query(() => SweepStatusType, { description: 'Progress of the time-based sweep (silent after 30 days, windows, RFM). READ or ANALYST.' })
  async sweepStatus(@Ctx() ctx: RequestContext): Promise<SweepStatusType> {
    return toSweepStatus(await this.services.tags.sweepStatus(requireAuth(ctx).workspaceId));
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => SweepStatusType, {
    description:
      'Run one bounded step of every read model\'s time-based work now — the sweep of each projection (retention, stages, health, journeys, then tags and segments) and the due work whose moment has come — for this workspace (the schedulers also run them). Returns the tag/segment sweep status. ADMIN.',
  })
  async runSweep(
    @Ctx() ctx: RequestContext,
    @Arg('maxProfiles', () => Int, { defaultValue: 5000, description: 'Profiles to re-evaluate in this step, 1–100,000.' }) maxProfiles: number,
  ): Promise<SweepStatusType> {
    if (!Number.isInteger(maxProfiles) || maxProfiles < 1 || maxProfiles > 100_000) throw AppError.badInput('INVALID_LIMIT', 'maxProfiles', 'maxProfiles must be between 1 and 100,000');
    const ws = requireAuth(ctx).workspaceId;
    const now = new Date();
    for (const step of this.services.sweepSteps) await step.run(ws, now, maxProfiles);
    await this.services.due.runWorkspace(ws, now, maxProfiles);
    return toSweepStatus(await this.services.tags.sweepStatus(ws));
  }
}

@Resolver(() => Profile)
export class ProfileTagsResolver {
  constructor(private readonly services: TagResolverDeps) {}

  @FieldResolver(() => [ProfileTag], { description: 'Tags of the person (manual, rule and system).' })
  async tags(@Root() p: Profile, @Ctx() ctx: RequestContext): Promise<ProfileTag[]> {
    const ws = requireAuth(ctx).workspaceId;
    // A profile read may have primed this loader with the same values (tag.prefetch.ts).
    const rows = await ctx.loaders
      .get(PROFILE_TAGS_LOADER, async (ids: readonly string[]) => {
        const [assigned, defs] = await Promise.all([this.services.tags.tagsOf(ws, ids), this.services.tags.listTags(ws)]);
        const byKey = new Map(defs.map((d) => [d.key, d]));
        return ids.map((id) => assigned.filter((a) => a.profile_id === id && byKey.has(a.tag_key)).map((a) => toProfileTag(byKey.get(a.tag_key)!, a)));
      })
      .load(p.id);
    return rows;
  }

  @FieldResolver(() => [ProfileSegment], { description: 'Segments the person is in now.' })
  async segments(@Root() p: Profile, @Ctx() ctx: RequestContext): Promise<ProfileSegment[]> {
    const ws = requireAuth(ctx).workspaceId;
    // A profile read may have primed this loader with the same values (tag.prefetch.ts).
    return ctx.loaders
      .get(PROFILE_SEGMENTS_LOADER, async (ids: readonly string[]) => {
        const [members, defs] = await Promise.all([this.services.tags.segmentsOf(ws, ids), this.services.tags.listSegments(ws)]);
        const byProfile = new Map<string, Map<string, (typeof members)[number]>>(ids.map((id) => [id, new Map()]));
        for (const m of members) byProfile.get(m.profile_id)?.set(m.segment_id, m);
        // In the order of the segment list (default segments first, then by creation).
        return ids.map((id) => {
          const mine = byProfile.get(id)!;
          return defs.filter((d) => mine.has(d.id)).map((d) => toProfileSegment(d, mine.get(d.id)!));
        });
      })
      .load(p.id);
  }
}

function toSweepStatus(s: SweepStatus): SweepStatusType {
  return Object.assign(new SweepStatusType(), s, {
    ruleWindows: s.ruleWindows.map((w) => Object.assign(new RuleWindowStatusType(), { measure: w.key, keepDays: w.keepDays, allTime: w.allTime, ready: w.ready, profilesDone: w.profilesDone, profilesTotal: w.profilesTotal })),
  });
}
