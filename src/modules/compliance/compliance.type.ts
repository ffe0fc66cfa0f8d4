import { GraphQLJSON } from 'graphql-scalars';
import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { Role } from '../../platform/auth';

export enum ConsentPurpose {
  MARKETING = 'marketing',
  PERSONALIZATION = 'personalization',
  ANALYTICS = 'analytics',
  THIRD_PARTY_SHARING = 'third_party_sharing',
  SENSITIVE_PI = 'sensitive_pi',
}
registerEnumType(ConsentPurpose, {
  name: 'ConsentPurpose',
  description: 'What a person consents to (PIPL 个人信息保护法). On ingest the lower-case value is used (`marketing`, …).',
  valuesConfig: {
    MARKETING: { description: '营销: journeys\' triggers and segment exports (the consent policy decides what no answer means).' },
    PERSONALIZATION: { description: '个性化推荐.' },
    ANALYTICS: { description: '统计分析.' },
    THIRD_PARTY_SHARING: { description: '向第三方提供 (PIPL art. 23).' },
    SENSITIVE_PI: { description: '敏感个人信息 (PIPL art. 29: separate consent).' },
  },
});

export enum ConsentState {
  GRANTED = 'granted',
  DENIED = 'denied',
  WITHDRAWN = 'withdrawn',
}
registerEnumType(ConsentState, {
  name: 'ConsentState',
  description: 'A consent answer. On ingest the lower-case value is used (`granted`, …).',
  valuesConfig: {
    GRANTED: { description: '同意.' },
    DENIED: { description: '拒绝: never asked-for use.' },
    WITHDRAWN: { description: '撤回: granted before, withdrawn since (PIPL art. 15).' },
  },
});

export enum ConsentPolicy {
  REQUIRE_GRANTED = 'require_granted',
  ALLOW_UNLESS_DENIED = 'allow_unless_denied',
}
registerEnumType(ConsentPolicy, {
  name: 'ConsentPolicy',
  description: 'What a missing consent means for marketing activation (journey triggers, segment exports).',
  valuesConfig: {
    REQUIRE_GRANTED: { description: 'Default. Only people whose current state for the purpose is GRANTED are exported or triggered.' },
    ALLOW_UNLESS_DENIED: { description: 'Everyone except people whose current state is DENIED or WITHDRAWN.' },
  },
});

@ObjectType({ description: 'The current consent of a person for one purpose: the recorded change with the latest `at`.' })
export class Consent {
  @Field(() => ConsentPurpose, { description: 'Purpose.' })
  purpose: ConsentPurpose;
  @Field(() => ConsentState, { description: 'Current answer.' })
  state: ConsentState;
  @Field({ description: 'Where it was recorded: `api` or the caller-given source for `setConsent`; `ingest:<channel>` or `properties.source` on ingest.' })
  source: string;
  @Field(() => String, { nullable: true, description: 'Version of the privacy policy the person answered (null when an ingest `traits.consents` gave none).' })
  policyVersion: string | null;
  @Field({ description: 'When the person answered (the event time on ingest).' })
  at: Date;
}

@ObjectType({ description: 'One recorded consent change (history is append-only; erasure deletes it with the person).' })
export class ConsentChange extends Consent {
  @Field({ description: 'When Siyu recorded it.' })
  recordedAt: Date;
  @Field(() => String, { nullable: true, description: 'The ingest event that carried it, if any.' })
  eventMessageId: string | null;
  @Field(() => ID, { nullable: true, description: 'The API key that set it through `setConsent`, if any.' })
  actorKeyId: string | null;
}

@ObjectType({ description: 'Privacy settings of the workspace.' })
export class ComplianceSettingsType {
  @Field(() => ConsentPolicy, { description: 'What a missing marketing consent means. Default REQUIRE_GRANTED.' })
  consentPolicy: ConsentPolicy;
  @Field(() => Int, { nullable: true, description: 'Raw events older than this many days are purged by the sweep (profiles, read models and KPI rollups stay); null keeps events forever (default).' })
  eventRetentionDays: number | null;
}

@ObjectType({ description: 'Row counts deleted from one table by an erasure.' })
export class ErasedTable {
  @Field({ description: 'Table name.' })
  table: string;
  @Field(() => Int, { description: 'Rows deleted.' })
  rows: number;
}

@ObjectType({ description: 'What an erasure removed.' })
export class ErasureResult {
  @Field(() => ID, { description: 'The person\'s live profile id (a merged id given resolves to it).' })
  profileId: string;
  @Field(() => [ID], { description: 'Every profile id erased: the live one and those merged into it.' })
  profileIds: string[];
  @Field(() => Int, { description: 'Identifiers whose keyed hashes are now on the suppression list.' })
  suppressedIdentifiers: number;
  @Field(() => [ErasedTable], { description: 'Rows deleted per table (`kpi_*` aggregates are never touched).' })
  deleted: ErasedTable[];
  @Field(() => ID, { description: 'The audit row of this erasure.' })
  auditId: string;
}

@ObjectType({ description: 'The suppression list: keyed hashes of erased people\'s identifiers, and what it stopped.' })
export class SuppressionStats {
  @Field(() => Int, { description: 'Identifiers suppressed.' })
  identifiers: number;
  @Field(() => Int, { description: 'Events rejected `SUPPRESSED` so far.' })
  rejectedEvents: number;
  @Field(() => Date, { nullable: true, description: 'Last rejection.' })
  lastRejectedAt: Date | null;
}

@ObjectType({ description: 'One audit log row. `details` holds ids, names, counts and flags, never personal data.' })
export class AuditEntry {
  @Field(() => ID, { description: 'Row id (increasing).' })
  id: string;
  @Field({ description: 'When.' })
  at: Date;
  @Field(() => ID, { nullable: true, description: 'The API key used.' })
  actorKeyId: string | null;
  @Field(() => Role, { nullable: true, description: 'Its role.' })
  actorRole: Role | null;
  @Field({
    description:
      'What was done: `profile.read_unmasked`, `profile.export`, `profile.erase`, `segment.export`, `api_key.create`, `api_key.revoke`, `identity_rules.update`, `tag.create|update|delete`, `segment.create|update|delete`, `segment_thresholds.update`, `stage_model.update`, `journey.create|update|delete`, `health_settings.update`, `compliance_settings.update`.',
  })
  action: string;
  @Field({ description: 'Kind of target: `profile`, `api_key`, `tag`, `segment`, `journey`, `workspace`, ….' })
  targetType: string;
  @Field(() => String, { nullable: true, description: 'Target id (or key).' })
  targetId: string | null;
  @Field(() => GraphQLJSON, { description: 'Action details without personal data.' })
  details: unknown;
  @Field(() => String, { nullable: true, description: 'The request id (`x-request-id` header, or generated).' })
  requestId: string | null;
}

@ObjectType({ description: 'A page of the audit log, newest first.' })
export class AuditLogPage {
  @Field(() => [AuditEntry], { description: 'Rows, newest first.' })
  entries: AuditEntry[];
  @Field({ description: 'More rows follow.' })
  hasNextPage: boolean;
  @Field(() => String, { nullable: true, description: 'Pass as `after` for the next page.' })
  endCursor: string | null;
}
