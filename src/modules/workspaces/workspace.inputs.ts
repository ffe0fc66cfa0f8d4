import { IsBoolean, IsEnum, IsInt, IsOptional, IsString, Length, Max, Min, Validate, ValidatorConstraint, type ValidatorConstraintInterface } from 'class-validator';
import { Field, InputType, Int } from 'type-graphql';
import { Role } from '../../platform/auth';
import { WorkspaceLocale } from './workspace.type';

@ValidatorConstraint({ name: 'timeZone' })
export class IsTimeZone implements ValidatorConstraintInterface {
  validate(value: unknown): boolean {
    if (typeof value !== 'string' || value.length === 0) return false;
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: value });
      return true;
    } catch {
      return false;
    }
  }
  defaultMessage(): string {
    return 'must be an IANA time zone such as Asia/Shanghai';
  }
}

@InputType({ description: 'A new workspace.' })
export class CreateWorkspaceInput {
  @Field({ description: 'Display name, 1–100 characters.' })
  @IsString()
  @Length(1, 100)
  name: string;

  @Field({ nullable: true, description: 'IANA time zone; default `Asia/Shanghai`.' })
  @IsOptional()
  @Validate(IsTimeZone)
  timeZone?: string;
}

@InputType({ description: 'Changes to the workspace settings; omitted fields stay as they are.' })
export class UpdateWorkspaceInput {
  @Field({ nullable: true, description: 'Display name, 1–100 characters.' })
  @IsOptional()
  @IsString()
  @Length(1, 100)
  name?: string;

  @Field({ nullable: true, description: 'IANA time zone, e.g. `Asia/Shanghai`.' })
  @IsOptional()
  @Validate(IsTimeZone)
  timeZone?: string;

  @Field(() => Int, { nullable: true, description: 'Coalescing interval of live updates in milliseconds, 100–60000 (default 1000).' })
  @IsOptional()
  @IsInt()
  @Min(100)
  @Max(60_000)
  liveUpdateIntervalMs?: number;

  @Field(() => WorkspaceLocale, { nullable: true, description: 'Language of alert messages written from now on (default `ZH_CN`).' })
  @IsOptional()
  @IsEnum(WorkspaceLocale)
  locale?: WorkspaceLocale;
}

@InputType({ description: 'A new API key.' })
export class CreateApiKeyInput {
  @Field(() => Role, { description: 'The one role the key carries.' })
  @IsEnum(Role)
  role: Role;

  @Field({ description: 'Human label, 1–100 characters.' })
  @IsString()
  @Length(1, 100)
  name: string;

  @Field({ nullable: true, defaultValue: false, description: 'Let a READ key see unmasked personal data. ADMIN keys always may (the flag changes nothing); INGEST and ANALYST keys never may: `true` for them is refused (BAD_USER_INPUT `PII_NOT_ALLOWED`, field `input.pii`).' })
  @IsOptional()
  @IsBoolean()
  pii?: boolean;
}
