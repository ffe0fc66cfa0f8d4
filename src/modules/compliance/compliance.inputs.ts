import { Field, ID, InputType, Int } from 'type-graphql';
import { ConsentPolicy, ConsentPurpose, ConsentState } from './compliance.type';

@InputType({ description: 'One consent answer of a person.' })
export class SetConsentInput {
  @Field(() => ID, { description: 'Profile id (a merged id resolves to the survivor).' })
  profileId: string;
  @Field(() => ConsentPurpose, { description: 'Purpose.' })
  purpose: ConsentPurpose;
  @Field(() => ConsentState, { description: 'Answer.' })
  state: ConsentState;
  @Field({ description: 'Version of the privacy policy shown (1–64 characters).' })
  policyVersion: string;
  @Field(() => String, { nullable: true, description: 'Where it was given, e.g. `mini_program_member_page` (1–64 characters). Default `api`.' })
  source?: string | null;
  @Field(() => Date, { nullable: true, description: 'When the person answered. Default now. An answer older than the current one goes into the history only.' })
  at?: Date | null;
}

@InputType({ description: 'Privacy settings to change; omitted fields keep their value.' })
export class UpdateComplianceSettingsInput {
  @Field(() => ConsentPolicy, { nullable: true, description: 'What a missing marketing consent means.' })
  consentPolicy?: ConsentPolicy | null;
  @Field(() => Int, { nullable: true, description: 'Days (1–36500) raw events are kept; explicit null keeps them forever.' })
  eventRetentionDays?: number | null;
}

@InputType({ description: 'Audit log conditions; all given must hold.' })
export class AuditLogFilter {
  @Field(() => String, { nullable: true, description: 'Exact action, e.g. `profile.erase`.' })
  action?: string | null;
  @Field(() => String, { nullable: true, description: 'Target id (profile id, key id, tag key, …).' })
  targetId?: string | null;
  @Field(() => ID, { nullable: true, description: 'API key that acted.' })
  actorKeyId?: string | null;
  @Field(() => Date, { nullable: true, description: 'At or after.' })
  from?: Date | null;
  @Field(() => Date, { nullable: true, description: 'Before.' })
  to?: Date | null;
}
