import { GraphQLJSON } from 'graphql-scalars';
import { Field, InputType } from 'type-graphql';
import { IdentifierInput } from '../identities';

/**
 * Fields are deliberately loose (strings, JSON) at the GraphQL level: each event is validated on its
 * own by the ingest pipeline, so one bad event is reported in its result instead of failing the batch.
 */
@InputType({
  description: `One event. Well-known names (track events) that Siyu understands:
- \`Order Completed\` — \`properties.revenue\` (or \`total\`, ≥ 0, CNY) counts as an order and spend.
- \`Product Viewed\`, \`Product Added\`, \`Checkout Started\` — shopping behaviour.
- \`Message Sent\`, \`Group Joined\`, \`Content Shared\`, \`Liked\` — interactions.
- \`Invite Accepted\` — \`properties.inviter\` = the inviter's identifier {type, namespace, value}: an \`invited\` relation.
- \`Group Buy Joined\` — \`properties.groupBuyInitiator\` = identifier: a \`group_buy_with\` relation.
- \`Distributor Bound\` — \`properties.distributor\` = identifier: a \`distributor_of\` relation.
- \`Coupon Redeemed\`, \`Survey Answered\` (\`properties.nps\` 0–10).
Any event may carry \`context.sharedBy\` (identifier of the person whose share brought this one: \`shared_to\`), \`context.referrer\` (identifier: \`referred\`) and, on channel \`wecom\`, \`context.staff\` (the staff user id who owns the contact: \`served_by\`).`,
})
export class EventInput {
  @Field({ description: 'Idempotency key, unique per workspace (1–200 characters). A repeat is reported as DUPLICATE and changes nothing.' })
  messageId: string;

  @Field({ description: 'track, identify, page, screen, group or alias.' })
  type: string;

  @Field({ nullable: true, description: 'Event name; required for track (e.g. `Order Completed`).' })
  name?: string;

  @Field({
    description:
      'Where it happened: wechat_oa, wechat_mp, wechat_channels, wecom, wechat_group, douyin, xiaohongshu, weibo, kuaishou, app, web, store, sms, email, other.',
  })
  channel: string;

  @Field({ nullable: true, description: 'When it happened (ISO 8601). Default: now. At most 24 h in the future, not before 2000.' })
  timestamp?: string;

  @Field(() => [IdentifierInput], { description: 'Who: 1–20 identifiers. Blocked values (empty, "null", "0", …) are dropped and counted.' })
  identifiers: IdentifierInput[];

  @Field(() => GraphQLJSON, { nullable: true, description: 'Traits of the person (JSON object); last write wins per trait by event time.' })
  traits?: unknown;

  @Field(() => GraphQLJSON, { nullable: true, description: 'Properties of the event (JSON object).' })
  properties?: unknown;

  @Field(() => GraphQLJSON, { nullable: true, description: 'Context (JSON object): touchpoint, campaign, staff, device, ip, sharedBy, referrer, …' })
  context?: unknown;
}
