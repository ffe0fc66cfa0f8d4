import { GraphQLJSONObject } from 'graphql-scalars';
import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { AlertLevel } from '../kpis';

export enum DestinationFormat {
  WEBHOOK = 'webhook',
  WECOM = 'wecom',
  DINGTALK = 'dingtalk',
  FEISHU = 'feishu',
}
registerEnumType(DestinationFormat, {
  name: 'DestinationFormat',
  description: 'The message format a destination receives.',
  valuesConfig: {
    WEBHOOK: { description: 'Generic JSON webhook `{id, type, workspaceId, createdAt, data}`, signed: header `X-Siyu-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the secret>`.' },
    WECOM: { description: '企业微信 group robot: `{"msgtype":"markdown","markdown":{"content":…}}`; success is `errcode` 0.' },
    DINGTALK: { description: '钉钉 robot: markdown message; with a secret, signed (加签) with `timestamp` and `sign` in the URL query; success is `errcode` 0.' },
    FEISHU: { description: '飞书 bot: `{"msg_type":"text","content":{"text":…}}`; with a secret, `timestamp` and `sign` (签名校验) in the body; success is `code` 0.' },
  },
});

export enum DestinationEvent {
  ALERT = 'alert',
  JOURNEY_TRIGGER = 'journey_trigger',
  SEGMENT_CHANGE = 'segment_change',
}
registerEnumType(DestinationEvent, {
  name: 'DestinationEvent',
  description: 'A kind of item a destination can receive.',
  valuesConfig: {
    ALERT: { description: 'A KPI alert raised (webhook type `alert.raised`), and again each time it escalates past its service level (`alert.escalated`, at its new level, with `escalation`, `raisedLevel` and `reason`).' },
    JOURNEY_TRIGGER: { description: 'A journey step trigger that passed the consent check (`journey.triggered`). Marketing: sent only while the person allows marketing.' },
    SEGMENT_CHANGE: { description: 'A person entered or left a segment (`segment.entered`, `segment.left`). Marketing: sent only while the person allows marketing.' },
  },
});

export enum DeliveryStatus {
  PENDING = 'pending',
  DELIVERED = 'delivered',
  DEAD = 'dead',
  SUPPRESSED = 'suppressed',
}
registerEnumType(DeliveryStatus, {
  name: 'DeliveryStatus',
  description: 'Where a delivery stands.',
  valuesConfig: {
    PENDING: { description: 'Waiting to be sent, or for its next retry (`nextAttemptAt`).' },
    DELIVERED: { description: 'The endpoint accepted it (2xx, and for robots error code 0).' },
    DEAD: { description: 'Dead letter: every attempt (`Destination.maxAttempts`) failed. `replayDeadLetter` queues it again.' },
    SUPPRESSED: { description: 'Not sent: the person does not allow marketing (consent).' },
  },
});

@ObjectType({ description: 'An HTTP endpoint that receives alerts, journey triggers and segment changes. ADMIN only.' })
export class Destination {
  @Field(() => ID, { description: 'Id.' })
  id: string;
  @Field({ description: 'Name.' })
  name: string;
  @Field(() => DestinationFormat, { description: 'Message format.' })
  format: DestinationFormat;
  @Field({ description: 'Endpoint URL (robot URLs carry their access token: ADMIN only).' })
  url: string;
  @Field({ description: 'A signing secret is set (the secret itself is never returned).' })
  hasSecret: boolean;
  @Field(() => [DestinationEvent], { description: 'Kinds of items sent.' })
  events: DestinationEvent[];
  @Field(() => [ID], { nullable: true, description: 'Only these segments\' changes (null: every segment).' })
  segmentIds: string[] | null;
  @Field(() => [ID], { nullable: true, description: 'Only these journeys\' triggers (null: every journey).' })
  journeyIds: string[] | null;
  @Field(() => AlertLevel, { description: 'Alerts from this level up.' })
  minAlertLevel: AlertLevel;
  @Field({ description: 'New items are queued and sent. A disabled destination queues nothing new and sends nothing.' })
  enabled: boolean;
  @Field({ description: 'Items carry the person (`profileId`); each attempt that sends one is audited (`destination.deliver_personal_data`).' })
  allowPersonalData: boolean;
  @Field({ description: 'The URL may point at loopback, private or link-local addresses (checked when the host is resolved and on every connection).' })
  allowPrivateNetwork: boolean;
  @Field(() => Int, { description: 'Attempts before an item goes to the dead letter.' })
  maxAttempts: number;
  @Field(() => Int, { description: 'Deadline of one attempt (connect, send, answer), ms.' })
  timeoutMs: number;
  @Field({ description: 'Created at.' })
  createdAt: Date;
  @Field({ description: 'Last changed at.' })
  updatedAt: Date;
}

@ObjectType({ description: 'One item for one destination: the delivery log and the dead letter.' })
export class Delivery {
  @Field(() => ID, { description: 'Id, increasing in the order items are sent to a destination (the webhook\'s `id`; robots show it as `Siyu #<id>`).' })
  id: string;
  @Field(() => ID, { description: 'The destination.' })
  destinationId: string;
  @Field(() => DestinationEvent, { description: 'Kind of item.' })
  kind: DestinationEvent;
  @Field({ description: 'The cause: alert id; `journey:profile:entry:step`; or the membership change id.' })
  sourceKey: string;
  @Field(() => ID, { nullable: true, description: 'The person the item is about (sent only to destinations with `allowPersonalData`).' })
  profileId: string | null;
  @Field(() => GraphQLJSONObject, { description: 'The item as sent in the webhook\'s `data` (without the person).' })
  data: Record<string, unknown>;
  @Field(() => DeliveryStatus, { description: 'Status.' })
  status: DeliveryStatus;
  @Field(() => Int, { description: 'Attempts made.' })
  attempts: number;
  @Field({ description: 'When a pending item is next tried.' })
  nextAttemptAt: Date;
  @Field(() => Date, { nullable: true, description: 'Last attempt.' })
  lastAttemptAt: Date | null;
  @Field(() => Int, { nullable: true, description: 'HTTP status of the last attempt (null: no answer).' })
  lastStatus: number | null;
  @Field(() => String, { nullable: true, description: 'Why the last attempt failed (or why the item was suppressed).' })
  lastError: string | null;
  @Field({ description: 'Queued at (the cause\'s commit).' })
  createdAt: Date;
  @Field(() => Date, { nullable: true, description: 'Delivered, dead-lettered or suppressed at.' })
  finishedAt: Date | null;
  @Field(() => ID, { nullable: true, description: 'The dead delivery this one replays.' })
  replayOf: string | null;
  @Field(() => Date, { nullable: true, description: 'A dead delivery: when it was replayed (it then leaves `deadLetters`).' })
  replayedAt: Date | null;
}

@ObjectType({ description: 'A page of deliveries, newest first.' })
export class DeliveryPage {
  @Field(() => [Delivery], { description: 'Deliveries, newest first.' })
  nodes: Delivery[];
  @Field({ description: 'More deliveries follow.' })
  hasNextPage: boolean;
  @Field(() => String, { nullable: true, description: 'Pass as `after` for the next page.' })
  endCursor: string | null;
}
