import { Arg, Authorized, Ctx, FieldResolver, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { Role, requireAuth } from '../../platform/auth';
import type { RequestContext } from '../../platform/graphql/context';
import { actorOf } from '../compliance';
import { Profile } from '../profiles';
import type { RulesVersion } from './membership.repository';
import type { CurrentRules, MembershipService } from './membership.service';
import { LevelChange, Membership, MembershipBasis, MembershipLevel, MembershipRules, MembershipRulesInput, PointsEntry } from './membership.type';

/** The services the membership resolvers use; the app's services object provides them. */
export interface MembershipResolverDeps {
  readonly membership: MembershipService;
}

export const PROFILE_MEMBERSHIP_LOADER = 'profile.membership';

const toRules = (r: CurrentRules | RulesVersion): MembershipRules =>
  Object.assign(new MembershipRules(), {
    version: r.version,
    levels: r.rules.levels.map((l) => Object.assign(new MembershipLevel(), l)),
    basis: (r.rules.basis ?? 'POINTS') as MembershipBasis,
    windowDays: r.rules.windowDays ?? null,
    changedAt: r.changedAt,
    changedBy: r.changedBy,
  });

@Resolver(() => MembershipRules)
export class MembershipRulesResolver {
  constructor(private readonly services: MembershipResolverDeps) {}

  @Authorized(Role.READ, Role.ANALYST)
  @Query(() => MembershipRules, { description: 'The workspace\'s level rules in force (the default ladder, version 0, until an admin sets others). READ or ANALYST.' })
  async membershipRules(@Ctx() ctx: RequestContext): Promise<MembershipRules> {
    return toRules(await this.services.membership.rules(requireAuth(ctx).workspaceId));
  }

  @Authorized(Role.READ, Role.ANALYST)
  @Query(() => [MembershipRules], { description: 'Every saved version of the level rules, newest first (the default ladder, version 0, is not listed). READ or ANALYST.' })
  async membershipRulesHistory(
    @Arg('first', () => Int, { defaultValue: 20, description: 'How many versions, 1–200.' }) first: number,
    @Ctx() ctx: RequestContext,
  ): Promise<MembershipRules[]> {
    return (await this.services.membership.rulesHistory(requireAuth(ctx).workspaceId, first)).map(toRules);
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => MembershipRules, {
    description:
      'Replace the level rules (saved as the next version; audited). Invalid input (bad or duplicate keys, names, thresholds not strictly increasing, more than 20 levels, a SPEND ' +
      'ladder without windowDays from 1 to 730, a POINTS ladder with one) is refused with every offending field (BAD_USER_INPUT, reason INVALID_LEVEL_RULES) and changes nothing. ' +
      'Every person with a balance (and, for a SPEND ladder, every person with an order) is then re-derived: their level and level history become the ones the new ladder gives ' +
      'over their ledger (SPEND: their orders entering and leaving the window) in event-time order. ADMIN.',
  })
  async updateMembershipRules(@Arg('input', () => MembershipRulesInput, { description: 'The whole ladder.' }) input: MembershipRulesInput, @Ctx() ctx: RequestContext): Promise<MembershipRules> {
    return toRules(await this.services.membership.updateRules(actorOf(ctx), input));
  }
}

@Resolver(() => Membership)
export class MembershipResolver {
  constructor(private readonly services: MembershipResolverDeps) {}

  @FieldResolver(() => [LevelChange], { description: 'The person\'s level changes, newest first (as the current rules give them over the ledger).' })
  async history(@Root() m: Membership, @Arg('first', () => Int, { defaultValue: 20, description: 'How many changes, 1–200.' }) first: number, @Ctx() ctx: RequestContext): Promise<LevelChange[]> {
    const ws = requireAuth(ctx).workspaceId;
    const rows = await ctx.loaders.get(`membership.history:${first}`, (ids: readonly string[]) => this.services.membership.historyOf(ws, ids, first)).load(m.profileId);
    return rows.map((r) => Object.assign(new LevelChange(), { id: r.id, from: r.from, to: r.to, at: r.at, cause: r.cause, points: r.points, basis: r.basis as MembershipBasis }));
  }

  @FieldResolver(() => [PointsEntry], { description: 'The person\'s points ledger, newest first (event time, then message id).' })
  async ledger(@Root() m: Membership, @Arg('first', () => Int, { defaultValue: 20, description: 'How many entries, 1–200.' }) first: number, @Ctx() ctx: RequestContext): Promise<PointsEntry[]> {
    const ws = requireAuth(ctx).workspaceId;
    const rows = await ctx.loaders.get(`membership.ledger:${first}`, (ids: readonly string[]) => this.services.membership.ledgerOf(ws, ids, first)).load(m.profileId);
    return rows.map((r) => Object.assign(new PointsEntry(), { messageId: r.messageId, delta: r.delta, reason: r.reason, at: r.ts }));
  }
}

@Resolver(() => Profile)
export class ProfileMembershipResolver {
  constructor(private readonly services: MembershipResolverDeps) {}

  @Authorized(Role.READ)
  @FieldResolver(() => Membership, { description: 'The person\'s membership (积分-等级): points balance, in-window spend (SPEND ladder), level, since when, level history and ledger. READ.' })
  async membership(@Root() p: Profile, @Ctx() ctx: RequestContext): Promise<Membership> {
    const ws = requireAuth(ctx).workspaceId;
    const m = await ctx.loaders.get(PROFILE_MEMBERSHIP_LOADER, (ids: readonly string[]) => this.services.membership.membershipOf(ws, ids)).load(p.id);
    return Object.assign(new Membership(), { profileId: m.profileId, points: m.points, spend: m.spend, since: m.since, level: m.level ? Object.assign(new MembershipLevel(), m.level) : null });
  }
}
