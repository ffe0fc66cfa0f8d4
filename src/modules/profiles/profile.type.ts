import { GraphQLJSON } from 'graphql-scalars';
import { Field, Float, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import type { ProfileListFilter, ProfileRow } from './profile.repository';

@ObjectType({ description: 'One identifier of a person. Phone and e-mail values are masked (`138****5678`) unless the caller may see personal data.' })
export class Identifier {
  @Field({ description: 'Identifier type, e.g. `wechat_openid`, `phone`.' })
  type: string;

  @Field(() => String, { nullable: true, description: 'Namespace (app id, corp id, open-platform account) for namespaced types; null otherwise.' })
  namespace: string | null;

  @Field({ description: 'The value; masked for phone and e-mail unless the caller has the PII scope.' })
  value: string;

  @Field({ description: 'Whether `value` is masked.' })
  masked: boolean;

  @Field({ description: 'First event that carried it.' })
  firstSeenAt: Date;

  @Field({ description: 'Latest event that carried it.' })
  lastSeenAt: Date;
}

@ObjectType({ description: 'A trait of the person: last write wins by event time.' })
export class Trait {
  @Field({ description: 'Trait name, e.g. `city`, `birthday`.' })
  name: string;

  @Field(() => GraphQLJSON, { nullable: true, description: 'The value as sent.' })
  value: unknown;

  @Field({ description: 'Channel of the event that wrote it.' })
  channel: string;

  @Field({ description: 'Time of the event that wrote it.' })
  updatedAt: Date;
}

@ObjectType({ description: 'An event on the profile timeline.' })
export class ProfileEvent {
  @Field({ description: 'The idempotency key it was sent with.' })
  messageId: string;

  @Field({ description: 'track, identify, page, screen, group or alias.' })
  type: string;

  @Field(() => String, { nullable: true, description: 'Event name (track).' })
  name: string | null;

  @Field({ description: 'Channel.' })
  channel: string;

  @Field({ description: 'When it happened.' })
  timestamp: Date;

  @Field({ description: 'When Siyu committed it.' })
  receivedAt: Date;

  @Field(() => GraphQLJSON, { nullable: true, description: 'Event properties.' })
  properties: unknown;

  @Field(() => GraphQLJSON, { nullable: true, description: 'Event context.' })
  context: unknown;

  @Field(() => GraphQLJSON, { nullable: true, description: 'Traits sent with the event.' })
  traits: unknown;
}

@ObjectType({ description: 'Relay page information.' })
export class PageInfo {
  @Field({ description: 'Whether more items follow.' })
  hasNextPage: boolean;

  @Field(() => String, { nullable: true, description: 'Cursor of the last item; pass it as `after`.' })
  endCursor: string | null;
}

@ObjectType({ description: 'An event with its cursor.' })
export class ProfileEventEdge {
  @Field({ description: 'Opaque cursor.' })
  cursor: string;

  @Field(() => ProfileEvent, { description: 'The event.' })
  node: ProfileEvent;
}

@ObjectType({ description: 'A page of a profile timeline, newest first.' })
export class ProfileEventConnection {
  @Field(() => [ProfileEventEdge], { description: 'The events of this page.' })
  edges: ProfileEventEdge[];

  @Field(() => PageInfo, { description: 'Paging.' })
  pageInfo: PageInfo;
}

@ObjectType({ description: 'The identifier type and namespace that linked two profiles (values are not shown).' })
export class IdentifierRef {
  @Field({ description: 'Identifier type.' })
  type: string;

  @Field(() => String, { nullable: true, description: 'Namespace, if any.' })
  namespace: string | null;
}

@ObjectType({ description: 'A merge of two profiles, with what caused it. Undo it with `unmergeProfiles`.' })
export class Merge {
  @Field(() => ID, { description: 'Merge id.' })
  id: string;

  @Field(() => ID, { description: 'The surviving (oldest) profile.' })
  survivorId: string;

  @Field(() => ID, { description: 'The profile merged into it; its id keeps resolving to the survivor.' })
  mergedId: string;

  @Field({ description: 'The event that linked them.' })
  eventMessageId: string;

  @Field(() => [IdentifierRef], { description: 'The identifiers of that event that both profiles matched.' })
  linkedBy: IdentifierRef[];

  @Field({ description: 'Why: the rule that allowed it.' })
  rule: string;

  @Field({ description: 'When it happened.' })
  createdAt: Date;

  @Field(() => Date, { nullable: true, description: 'When an admin undid it; null while in effect.' })
  undoneAt: Date | null;
}

export enum ConflictRule {
  MAX_PER_PROFILE = 'MAX_PER_PROFILE',
  UNMERGED_PAIR = 'UNMERGED_PAIR',
}
registerEnumType(ConflictRule, {
  name: 'ConflictRule',
  description: 'Why a link was refused.',
  valuesConfig: {
    MAX_PER_PROFILE: { description: 'It would give one person more identifiers of a type than `maxPerProfile` allows (two unionids, a second openid in one app, …).' },
    UNMERGED_PAIR: { description: 'An admin unmerged these two profiles; they are kept apart until the exclusion is cleared.' },
  },
});

@ObjectType({ description: 'A refused link, recorded instead of a wrong merge.' })
export class IdentityConflict {
  @Field(() => ID, { description: 'Conflict id.' })
  id: string;

  @Field(() => ConflictRule, { description: 'Which rule refused it.' })
  rule: ConflictRule;

  @Field(() => String, { nullable: true, description: 'For MAX_PER_PROFILE: the identifier type whose limit would break.' })
  limitType: string | null;

  @Field(() => IdentifierRef, { nullable: true, description: 'The identifier whose link was refused.' })
  identifier: IdentifierRef | null;

  @Field(() => ID, { description: 'The profile the event went to.' })
  profileId: string;

  @Field(() => ID, { nullable: true, description: 'The other profile of the refused merge, seen from the profile being read: never that profile itself (read on the profile the event did not go to, it is `profileId`).' })
  otherProfileId: string | null;

  @Field({ description: 'The event that tried the link.' })
  eventMessageId: string;

  @Field({ description: 'When.' })
  createdAt: Date;
}

export enum RelationKind {
  INVITED = 'invited',
  REFERRED = 'referred',
  SHARED_TO = 'shared_to',
  GROUP_BUY_WITH = 'group_buy_with',
  DISTRIBUTOR_OF = 'distributor_of',
  SERVED_BY = 'served_by',
}
registerEnumType(RelationKind, {
  name: 'RelationKind',
  description: 'Kinds of person-to-person edges (fission 裂变 analytics run on them).',
  valuesConfig: {
    INVITED: { description: '邀请: `from` invited `to` (`Invite Accepted` with `properties.inviter`).' },
    REFERRED: { description: '`from` referred `to` (`context.referrer`).' },
    SHARED_TO: { description: '分享: `to` arrived through `from`\'s share (`context.sharedBy`).' },
    GROUP_BUY_WITH: { description: '拼团: `to` joined `from`\'s group buy (`Group Buy Joined`).' },
    DISTRIBUTOR_OF: { description: '分销: `from` is the distributor of `to` (`Distributor Bound`).' },
    SERVED_BY: { description: 'WeCom staff `staffId` owns the contact `to` (`context.staff` on channel wecom).' },
  },
});

export enum RelationDirection {
  OUTGOING = 'OUTGOING',
  INCOMING = 'INCOMING',
}
registerEnumType(RelationDirection, {
  name: 'RelationDirection',
  description: 'Seen from the profile asked: OUTGOING when it is `from` (the inviter), INCOMING when it is `to`.',
});

@ObjectType({ description: 'An edge between this person and another (or a staff member).' })
export class Relation {
  @Field(() => ID, { description: 'Relation id.' })
  id: string;

  @Field(() => RelationKind, { description: 'Kind of edge.' })
  kind: RelationKind;

  @Field(() => RelationDirection, { description: 'Direction seen from this profile.' })
  direction: RelationDirection;

  @Field(() => ID, { nullable: true, description: 'The other person, if the edge is to a person.' })
  otherProfileId: string | null;

  @Field(() => String, { nullable: true, description: 'The WeCom staff user id, for SERVED_BY.' })
  staffId: string | null;

  @Field({ description: 'The event that created the edge.' })
  eventMessageId: string;

  @Field({ description: 'When.' })
  occurredAt: Date;
}

@ObjectType({ description: 'The unified person (用户画像, the 360° view).' })
export class Profile {
  @Field(() => ID, { description: 'Profile id. Ids of profiles merged into this one resolve here.' })
  id: string;

  @Field(() => [String], { description: 'Channels the person has been seen on.' })
  channels: string[];

  @Field(() => [Trait], { description: 'Traits, last write wins per trait by event time.' })
  traits: Trait[];

  @Field(() => Date, { nullable: true, description: 'First event time.' })
  firstSeenAt: Date | null;

  @Field(() => Date, { nullable: true, description: 'Latest event time.' })
  lastSeenAt: Date | null;

  @Field(() => Int, { description: 'Events on the profile.' })
  eventCount: number;

  @Field(() => Int, { description: 'Orders: count of `Order Completed` events.' })
  orderCount: number;

  @Field(() => Float, { description: 'Total spend: sum of `Order Completed` revenue (CNY).' })
  totalSpend: number;

  @Field(() => Date, { nullable: true, description: 'Latest `Order Completed` time.' })
  lastOrderAt: Date | null;

  @Field({ description: 'When Siyu first created the profile.' })
  createdAt: Date;
}

export function toProfile(r: ProfileRow): Profile {
  return Object.assign(new Profile(), {
    id: r.id,
    channels: r.channels,
    traits: Object.entries(r.traits).map(([name, t]) => Object.assign(new Trait(), { name, value: t.value, channel: t.channel, updatedAt: new Date(t.at) })),
    firstSeenAt: r.first_seen_at,
    lastSeenAt: r.last_seen_at,
    eventCount: r.event_count,
    orderCount: r.order_count,
    totalSpend: Number(r.total_spend),
    lastOrderAt: r.last_order_at,
    createdAt: r.created_at,
  });
}

@ObjectType({ description: 'A profile with its cursor.' })
export class ProfileEdge {
  @Field({ description: 'Opaque cursor.' })
  cursor: string;

  @Field(() => Profile, { description: 'The profile.' })
  node: Profile;
}

@ObjectType({ description: 'A page of profiles in creation order.' })
export class ProfileConnection {
  @Field(() => [ProfileEdge], { description: 'The profiles of this page.' })
  edges: ProfileEdge[];

  @Field(() => PageInfo, { description: 'Paging.' })
  pageInfo: PageInfo;

  /** What `totalCount` counts (not a field): the workspace and the list's filter. */
  query: { workspaceId: string; filter: ProfileListFilter };
}

@ObjectType({ description: 'The result of undoing a merge.' })
export class UnmergeResult {
  @Field(() => Merge, { description: 'The merge, now with `undoneAt`.' })
  merge: Merge;

  @Field(() => Profile, { description: 'The surviving profile, without the restored one.' })
  survivor: Profile;

  @Field(() => Profile, { description: 'The restored profile.' })
  restored: Profile;
}

@ObjectType({ description: 'A pushed version of a profile (`profileUpdated`).' })
export class ProfileUpdate {
  @Field(() => Int, {
    description:
      'Increases with every push of this profile on the instance serving the subscription (1 = the value when subscribing). A slow reader may see gaps (intermediate versions are dropped), never a repeat or a decrease.',
  })
  version: number;

  @Field(() => Profile, { description: 'The profile now, as `profile(id)` returns it (same masking). A merged-away id shows its survivor.' })
  profile: Profile;
}
