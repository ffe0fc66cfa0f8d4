import { Field, Int, InputType, ObjectType } from 'type-graphql';

@ObjectType({
  description:
    'A node of the workspace\'s org tree (总部统筹-区域协同-终端执行): headquarters, a region, a store, a community group — any depth. Touchpoints and staff belong to nodes; ' +
    'KPIs broken down or filtered by org node count the activity at the touchpoints of the node\'s whole subtree.',
})
export class OrgNode {
  @Field({ description: 'Stable key (store code, region code): 1–64 letters, digits, _, -, . or :.' })
  key: string;

  @Field({ description: 'Display name, e.g. 华东大区 or 上海南京西路店.' })
  name: string;

  @Field(() => String, { nullable: true, description: 'Key of the parent node; null for a top-level node.' })
  parentKey: string | null;

  @Field(() => [String], { description: 'Keys from the top-level node down to this one (this one last).' })
  path: string[];

  @Field(() => Int, { description: 'Depth: 1 for a top-level node.' })
  depth: number;

  @Field(() => [String], { description: 'Keys of the direct children, sorted.' })
  children: string[];

  @Field({ description: 'When the node was created (by an admin, or by the first event naming it in `context.orgNode`).' })
  createdAt: Date;

  @Field({ description: 'When its name or parent last changed.' })
  updatedAt: Date;
}

@ObjectType({ description: 'A touchpoint the workspace has seen or declared, and the org node it belongs to.' })
export class OrgTouchpoint {
  @Field({ description: 'The touchpoint (`context.touchpoint`, first 200 characters); the empty string stands for events without one.' })
  touchpoint: string;

  @Field(() => String, { nullable: true, description: 'The org node it belongs to; null when unassigned.' })
  nodeKey: string | null;

  @Field({ description: 'When it was first seen or declared.' })
  firstSeen: Date;

  @Field(() => Date, { nullable: true, description: 'When its node was last set; null if never.' })
  assignedAt: Date | null;
}

@ObjectType({ description: 'A WeCom staff member (企微员工): seen in events (`context.staff` on channel wecom) or declared by an admin.' })
export class StaffMember {
  @Field({ description: 'The WeCom user id, as `context.staff` carries it.' })
  staffId: string;

  @Field(() => String, { nullable: true, description: 'Display name set by an admin; phone numbers and e-mail addresses in it are masked unless the key may see personal data.' })
  name: string | null;

  @Field(() => String, { nullable: true, description: 'The org node (store, group) the staff member belongs to; null when unassigned.' })
  nodeKey: string | null;

  @Field({ description: 'When first seen or declared.' })
  firstSeen: Date;

  @Field(() => Int, { description: 'Customers served now: people whose current owner (`Profile.owner`) is this staff member.' })
  customers: number;
}

@ObjectType({ description: 'A person\'s current staff owner (SERVED_BY): the staff of their latest WeCom event carrying `context.staff` (by event time, then message id).' })
export class ProfileOwner {
  @Field({ description: 'The staff member\'s WeCom user id.' })
  staffId: string;

  @Field({ description: 'Time of the event that made them the owner.' })
  since: Date;

  @Field({ description: 'Message id of that event.' })
  messageId: string;
}

@InputType({ description: 'Creates an org node, or renames or moves one (its whole subtree moves with it).' })
export class OrgNodeInput {
  @Field({ description: 'Key: 1–64 letters, digits, _, -, . or :, starting with a letter or digit. An existing key changes that node.' })
  key: string;

  @Field({ description: 'Display name, 1–100 characters.' })
  name: string;

  @Field(() => String, { nullable: true, description: 'Parent key; null or absent for a top-level node. Not the node itself or one of its descendants; the tree is at most 12 levels deep and a node has at most 200 children.' })
  parentKey?: string | null;
}

@InputType({ description: 'Declares a staff member or changes one.' })
export class StaffMemberInput {
  @Field({ description: 'The WeCom user id (1–128 characters), as `context.staff` carries it.' })
  staffId: string;

  @Field(() => String, { nullable: true, description: 'Display name, 1–100 characters; null clears it.' })
  name?: string | null;

  @Field(() => String, { nullable: true, description: 'The org node the staff member belongs to; null unassigns.' })
  nodeKey?: string | null;
}
