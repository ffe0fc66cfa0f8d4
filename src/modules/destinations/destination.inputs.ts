import { Field, ID, InputType, Int } from 'type-graphql';
import { AlertLevel } from '../kpis';
import { DestinationEvent, DestinationFormat } from './destination.type';

@InputType({ description: 'A new destination.' })
export class CreateDestinationInput {
  @Field({ description: 'Name, 1–200 characters.' })
  name: string;

  @Field(() => DestinationFormat, { description: 'Message format.' })
  format: DestinationFormat;

  @Field({ description: 'Endpoint: http(s), no credentials. Its host must resolve to public addresses unless `allowPrivateNetwork`.' })
  url: string;

  @Field(() => String, { nullable: true, description: 'Signing secret, 16–200 characters: required for WEBHOOK (HMAC-SHA256), optional for DINGTALK and FEISHU (their 加签 / 签名校验 secret), not allowed for WECOM.' })
  secret?: string | null;

  @Field(() => [DestinationEvent], { description: 'Kinds of items to send (at least one).' })
  events: DestinationEvent[];

  @Field(() => [ID], { nullable: true, description: 'Only these segments\' entries and exits (default: every segment).' })
  segmentIds?: string[] | null;

  @Field(() => [ID], { nullable: true, description: 'Only these journeys\' triggers (default: every journey).' })
  journeyIds?: string[] | null;

  @Field(() => AlertLevel, { nullable: true, description: 'Alerts from this level up (default NORMAL).' })
  minAlertLevel?: AlertLevel | null;

  @Field(() => Boolean, { nullable: true, description: 'Default true.' })
  enabled?: boolean | null;

  @Field(() => Boolean, { nullable: true, description: 'Send the person (`profileId`) with journey triggers and segment changes; every such attempt is audited (default false).' })
  allowPersonalData?: boolean | null;

  @Field(() => Boolean, { nullable: true, description: 'Allow a loopback, private or link-local address (127/8, 10/8, 172.16/12, 192.168/16, 169.254/16, ::1, fc00::/7, fe80::/10). Default false.' })
  allowPrivateNetwork?: boolean | null;

  @Field(() => Int, { nullable: true, description: 'Attempts before the dead letter, 1–50 (default 10).' })
  maxAttempts?: number | null;

  @Field(() => Int, { nullable: true, description: 'Deadline of one attempt in ms, 100–30000 (default 5000).' })
  timeoutMs?: number | null;
}

@InputType({ description: 'Changes to a destination; omitted fields stay.' })
export class UpdateDestinationInput {
  @Field(() => String, { nullable: true, description: 'Name.' })
  name?: string | null;
  @Field(() => DestinationFormat, { nullable: true, description: 'Message format.' })
  format?: DestinationFormat | null;
  @Field(() => String, { nullable: true, description: 'Endpoint (checked as on create).' })
  url?: string | null;
  @Field(() => String, { nullable: true, description: 'New signing secret; an empty string removes it (not for WEBHOOK).' })
  secret?: string | null;
  @Field(() => [DestinationEvent], { nullable: true, description: 'Kinds of items to send.' })
  events?: DestinationEvent[] | null;
  @Field(() => [ID], { nullable: true, description: 'Segment filter (null: every segment; an empty list: none).' })
  segmentIds?: string[] | null;
  @Field(() => [ID], { nullable: true, description: 'Journey filter (null: every journey; an empty list: none).' })
  journeyIds?: string[] | null;
  @Field(() => AlertLevel, { nullable: true, description: 'Alerts from this level up.' })
  minAlertLevel?: AlertLevel | null;
  @Field(() => Boolean, { nullable: true, description: 'Enabled.' })
  enabled?: boolean | null;
  @Field(() => Boolean, { nullable: true, description: 'Send the person with items about one (audited).' })
  allowPersonalData?: boolean | null;
  @Field(() => Boolean, { nullable: true, description: 'Allow loopback, private and link-local addresses.' })
  allowPrivateNetwork?: boolean | null;
  @Field(() => Int, { nullable: true, description: 'Attempts before the dead letter, 1–50.' })
  maxAttempts?: number | null;
  @Field(() => Int, { nullable: true, description: 'Deadline of one attempt in ms, 100–30000.' })
  timeoutMs?: number | null;
}
