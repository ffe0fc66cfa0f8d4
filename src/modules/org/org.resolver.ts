import { Arg, Authorized, Ctx, FieldResolver, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { Role, requireAuth } from '../../platform/auth';
import type { RequestContext } from '../../platform/graphql/context';
import { maskPersonalText } from '../../platform/privacy';
import { actorOf } from '../compliance';
import { Profile } from '../profiles';
import type { OrgNodeView, OrgService } from './org.service';
import type { StaffRow } from './org.repository';
import { OrgNode, OrgNodeInput, OrgTouchpoint, ProfileOwner, StaffMember, StaffMemberInput } from './org.type';

/** The services the org resolvers use; the app's services object provides them. */
export interface OrgResolverDeps {
  readonly org: OrgService;
}

const toNode = (n: OrgNodeView): OrgNode =>
  Object.assign(new OrgNode(), { key: n.key, name: n.name, parentKey: n.parentKey, path: n.path, depth: n.path.length, children: n.children, createdAt: n.createdAt, updatedAt: n.updatedAt });

const toStaff = (s: StaffRow, pii: boolean): StaffMember =>
  Object.assign(new StaffMember(), { staffId: s.staffId, name: s.name === null || pii ? s.name : maskPersonalText(s.name), nodeKey: s.nodeKey, firstSeen: s.firstSeen, customers: s.customers });

@Resolver(() => OrgNode)
export class OrgResolver {
  constructor(private readonly services: OrgResolverDeps) {}

  @Authorized(Role.READ, Role.ANALYST)
  @Query(() => [OrgNode], { description: 'The whole org tree, depth first (top-level nodes and siblings by key). READ or ANALYST.' })
  async orgTree(@Ctx() ctx: RequestContext): Promise<OrgNode[]> {
    return (await this.services.org.tree(requireAuth(ctx).workspaceId)).map(toNode);
  }

  @Authorized(Role.READ, Role.ANALYST)
  @Query(() => [OrgTouchpoint], { description: 'Touchpoints seen or declared, by touchpoint, with their org node. READ or ANALYST.' })
  async orgTouchpoints(
    @Arg('nodeKey', () => String, { nullable: true, description: 'Only those assigned directly to this node.' }) nodeKey: string | null,
    @Arg('unassignedOnly', { defaultValue: false, description: 'Only those without a node.' }) unassignedOnly: boolean,
    @Arg('first', () => Int, { defaultValue: 100, description: 'How many, 1–500.' }) first: number,
    @Arg('after', () => String, { nullable: true, description: 'Only touchpoints sorting after this one (the last of the previous page).' }) after: string | null,
    @Ctx() ctx: RequestContext,
  ): Promise<OrgTouchpoint[]> {
    const rows = await this.services.org.touchpoints(requireAuth(ctx).workspaceId, nodeKey ?? null, unassignedOnly, first, after ?? null);
    return rows.map((r) => Object.assign(new OrgTouchpoint(), r));
  }

  @Authorized(Role.READ, Role.ANALYST)
  @Query(() => [StaffMember], { description: 'Staff members by staff id, with how many customers each serves now. READ or ANALYST.' })
  async staffMembers(
    @Arg('nodeKey', () => String, { nullable: true, description: 'Only those assigned directly to this node.' }) nodeKey: string | null,
    @Arg('first', () => Int, { defaultValue: 100, description: 'How many, 1–500.' }) first: number,
    @Arg('after', () => String, { nullable: true, description: 'Only staff ids sorting after this one (the last of the previous page).' }) after: string | null,
    @Ctx() ctx: RequestContext,
  ): Promise<StaffMember[]> {
    const auth = requireAuth(ctx);
    return (await this.services.org.staff(auth.workspaceId, nodeKey ?? null, first, after ?? null)).map((s) => toStaff(s, auth.pii));
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => OrgNode, {
    description:
      'Create an org node, or rename or move one with its subtree (audited). Refused with the offending field (BAD_USER_INPUT, reason INVALID_ORG_NODE) and nothing changed: a bad key or name, ' +
      'an unknown parent, a parent inside the node\'s own subtree, more than 12 levels, 200 children or 10,000 nodes. KPIs read the tree as it is when they are asked. ADMIN.',
  })
  async saveOrgNode(@Arg('input', () => OrgNodeInput, { description: 'The node.' }) input: OrgNodeInput, @Ctx() ctx: RequestContext): Promise<OrgNode> {
    return toNode(await this.services.org.saveNode(actorOf(ctx), input));
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => Boolean, {
    description:
      'Delete an org node (audited); its touchpoints and staff become unassigned. Refused while it has children (CONFLICT ORG_NODE_HAS_CHILDREN) or an alert rule or target is scoped to it ' +
      '(CONFLICT ORG_NODE_IN_USE); NOT_FOUND ORG_NODE_NOT_FOUND for an unknown key. ADMIN.',
  })
  async deleteOrgNode(@Arg('key', { description: 'Node key.' }) key: string, @Ctx() ctx: RequestContext): Promise<boolean> {
    return this.services.org.deleteNode(actorOf(ctx), key);
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => [OrgTouchpoint], {
    description:
      'Assign touchpoints to an org node, or unassign them with a null node (audited). Touchpoints not seen yet are registered, so a tree can be set up before events arrive. ' +
      'An assignment moves the touchpoint\'s whole history: KPIs by org node read the assignment in force when asked. 1–500 touchpoints of 1–200 characters (INVALID_TOUCHPOINT, field `touchpoints.<i>`). ADMIN.',
  })
  async assignTouchpoints(
    @Arg('touchpoints', () => [String], { description: 'Touchpoints (`context.touchpoint` values).' }) touchpoints: string[],
    @Arg('nodeKey', () => String, { nullable: true, description: 'The node; null unassigns.' }) nodeKey: string | null,
    @Ctx() ctx: RequestContext,
  ): Promise<OrgTouchpoint[]> {
    return (await this.services.org.assignTouchpoints(actorOf(ctx), touchpoints, nodeKey ?? null)).map((r) => Object.assign(new OrgTouchpoint(), r));
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => StaffMember, { description: 'Declare a staff member or change their name or org node (audited). Bad input: INVALID_STAFF or INVALID_ORG_NODE with the field. ADMIN.' })
  async saveStaffMember(@Arg('input', () => StaffMemberInput, { description: 'The staff member.' }) input: StaffMemberInput, @Ctx() ctx: RequestContext): Promise<StaffMember> {
    return toStaff(await this.services.org.saveStaff(actorOf(ctx), input), true);
  }
}

@Resolver(() => Profile)
export class ProfileOwnerResolver {
  constructor(private readonly services: OrgResolverDeps) {}

  @Authorized(Role.READ)
  @FieldResolver(() => ProfileOwner, { nullable: true, description: 'The person\'s current staff owner (SERVED_BY, 企微归属); null when no WeCom event named one. READ.' })
  async owner(@Root() p: Profile, @Ctx() ctx: RequestContext): Promise<ProfileOwner | null> {
    const ws = requireAuth(ctx).workspaceId;
    const o = await ctx.loaders.get('profile.owner', (ids: readonly string[]) => this.services.org.ownersOf(ws, ids)).load(p.id);
    return o ? Object.assign(new ProfileOwner(), { staffId: o.staffId, since: o.since, messageId: o.messageId }) : null;
  }
}
