import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { liveIntervalOf, localeOf } from './workspace.settings';
import { Role } from '../../platform/auth';
import type { ApiKeyEntity } from './api-key.entity';
import type { WorkspaceEntity } from './workspace.entity';

export enum WorkspaceLocale {
  ZH_CN = 'zh-CN',
  EN = 'en',
}
registerEnumType(WorkspaceLocale, {
  name: 'WorkspaceLocale',
  description: 'Language of the text Siyu writes for a workspace (alert messages: labels, numbers, units).',
  valuesConfig: { ZH_CN: { description: 'Simplified Chinese (简体中文), the default.' }, EN: { description: 'English.' } },
});

@ObjectType({ description: 'A tenant: one brand. Nothing crosses workspaces.' })
export class Workspace {
  @Field(() => ID, { description: 'Workspace id.' })
  id: string;

  @Field({ description: 'Display name (Chinese names welcome).' })
  name: string;

  @Field({ description: 'IANA time zone that defines "a day" for KPIs and schedules. Default `Asia/Shanghai`.' })
  timeZone: string;

  @Field(() => Int, {
    description: 'Live updates (`profileUpdated`, …): a shared value is pushed at most once per this many milliseconds (coalesced). Default 1000, at least 100.',
  })
  liveUpdateIntervalMs: number;

  @Field(() => WorkspaceLocale, { description: 'Language of alert messages (whole sentences, metric names, rounded values with units). Default `ZH_CN`; messages keep the language they were written in.' })
  locale: WorkspaceLocale;

  @Field({ description: 'When the workspace was created.' })
  createdAt: Date;

  @Field({ description: 'When the settings last changed.' })
  updatedAt: Date;
}

@ObjectType({ description: 'An API key of the workspace. The secret itself is shown once, at creation.' })
export class ApiKey {
  @Field(() => ID, { description: 'Key id (not the secret).' })
  id: string;

  @Field({ description: 'Human label, e.g. "mini program SDK".' })
  name: string;

  @Field(() => Role, { description: 'What the key may do.' })
  role: Role;

  @Field({ description: 'Whether a READ key may see unmasked personal data (ADMIN keys always may).' })
  pii: boolean;

  @Field({ description: 'The first characters of the secret, to recognise it.' })
  prefix: string;

  @Field({ description: 'When the key was created.' })
  createdAt: Date;

  @Field(() => Date, { nullable: true, description: 'When the key was revoked; null while active.' })
  revokedAt: Date | null;
}

@ObjectType({ description: 'The caller: the workspace and role of the API key that made the request.' })
export class Me {
  @Field(() => Workspace, { description: "The caller's workspace." })
  workspace: Workspace;

  @Field(() => Role, { description: "The caller's role." })
  role: Role;

  @Field(() => ID, { description: 'Id of the API key used.' })
  apiKeyId: string;

  @Field({ description: 'Whether the caller sees unmasked personal data.' })
  pii: boolean;
}

@ObjectType({ description: 'A new API key. `key` is the secret: store it now, it is never shown again.' })
export class CreatedApiKey {
  @Field(() => ApiKey, { description: 'The key record.' })
  apiKey: ApiKey;

  @Field({ description: 'The secret, for `Authorization: Bearer <key>`. Shown once.' })
  key: string;
}

@ObjectType({ description: 'A new workspace with its first ADMIN key.' })
export class CreatedWorkspace {
  @Field(() => Workspace, { description: 'The new workspace.' })
  workspace: Workspace;

  @Field(() => CreatedApiKey, { description: 'Its first ADMIN key (the secret is shown once).' })
  adminKey: CreatedApiKey;
}

export function toWorkspace(e: WorkspaceEntity): Workspace {
  return Object.assign(new Workspace(), {
    id: e.id,
    name: e.name,
    timeZone: e.timeZone,
    liveUpdateIntervalMs: liveIntervalOf(e.settings),
    locale: localeOf(e.settings) as WorkspaceLocale,
    createdAt: e.createdAt,
    updatedAt: e.updatedAt,
  });
}

export function toApiKey(e: ApiKeyEntity): ApiKey {
  return Object.assign(new ApiKey(), {
    id: e.id,
    name: e.name,
    role: e.role,
    pii: e.pii,
    prefix: e.keyPrefix,
    createdAt: e.createdAt,
    revokedAt: e.revokedAt,
  });
}
