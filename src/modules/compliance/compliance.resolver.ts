import { GraphQLJSON } from 'graphql-scalars';
import { Arg, Authorized, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { Role, requireAuth } from '../../platform/auth';
import type { RequestContext } from '../../platform/graphql/context';
import { Profile } from '../profiles';
import { actorOf, auditCursor, type AuditService } from './audit.service';
import { AuditLogFilter, SetConsentInput, UpdateComplianceSettingsInput } from './compliance.inputs';
import type { ConsentHistoryRow, ConsentRow } from './compliance.repository';
import type { ComplianceService, ComplianceSettings } from './compliance.service';
import {
  AuditEntry,
  AuditLogPage,
  ComplianceSettingsType,
  Consent,
  ConsentChange,
  ConsentPolicy,
  ConsentPurpose,
  ConsentState,
  ErasedTable,
  ErasureResult,
  SuppressionStats,
} from './compliance.type';

/** The services the compliance resolvers use; the app's services object provides them. */
export interface ComplianceResolverDeps {
  readonly compliance: ComplianceService;
  readonly audit: AuditService;
}

const toConsent = (r: ConsentRow): Consent =>
  Object.assign(new Consent(), { purpose: r.purpose as ConsentPurpose, state: r.state as ConsentState, source: r.source, policyVersion: r.policy_version, at: r.at });

const toChange = (r: ConsentHistoryRow): ConsentChange =>
  Object.assign(new ConsentChange(), { ...toConsent(r), recordedAt: r.recorded_at, eventMessageId: r.event_message_id, actorKeyId: r.actor_key_id });

const toSettings = (s: ComplianceSettings): ComplianceSettingsType =>
  Object.assign(new ComplianceSettingsType(), { consentPolicy: s.consentPolicy as ConsentPolicy, eventRetentionDays: s.eventRetentionDays });

@Resolver()
export class ComplianceResolver {
  constructor(private readonly services: ComplianceResolverDeps) {}

  @Authorized(Role.READ)
  @Mutation(() => Consent, {
    description:
      'Record a consent answer (a member page, a CRM side panel). History keeps every answer; the current state is the answer with the latest `at`. READ (or ADMIN). Ingest can record consents too (README: "Consent on ingest").',
  })
  async setConsent(@Arg('input', () => SetConsentInput, { description: 'The answer.' }) input: SetConsentInput, @Ctx() ctx: RequestContext): Promise<Consent> {
    return toConsent(await this.services.compliance.setConsent(actorOf(ctx), { ...input }));
  }

  @Authorized(Role.READ, Role.ANALYST)
  @Query(() => ComplianceSettingsType, { description: 'Privacy settings: consent policy and event retention. READ or ANALYST.' })
  async complianceSettings(@Ctx() ctx: RequestContext): Promise<ComplianceSettingsType> {
    return toSettings(await this.services.compliance.settings(requireAuth(ctx).workspaceId));
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => ComplianceSettingsType, { description: 'Change the consent policy or the event retention period. Audited. ADMIN.' })
  async updateComplianceSettings(
    @Arg('input', () => UpdateComplianceSettingsInput, { description: 'Settings to change.' }) input: UpdateComplianceSettingsInput,
    @Ctx() ctx: RequestContext,
  ): Promise<ComplianceSettingsType> {
    const s = await this.services.compliance.updateSettings(actorOf(ctx), { consentPolicy: input.consentPolicy, eventRetentionDays: input.eventRetentionDays });
    return toSettings(s);
  }

  @Authorized(Role.ADMIN)
  @Query(() => GraphQLJSON, {
    description:
      'Everything Siyu holds about one person as one JSON document (PIPL art. 45): profile and traits, identifiers decrypted, events, tags, stage, health, consents and their history, relations, journey states, segment memberships, merges (`records` lists every table about people by name). Audited. ADMIN.',
  })
  async exportProfile(@Arg('id', () => ID, { description: 'Profile id (a merged id exports the whole person).' }) id: string, @Ctx() ctx: RequestContext): Promise<unknown> {
    return this.services.compliance.exportProfile(actorOf(ctx), id);
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => ErasureResult, {
    description:
      'Erase a person (PIPL art. 47): every row about them and the profiles merged into them, in every table but the `kpi_*` aggregates, and the profiles; their identifiers\' keyed hashes go on the suppression list so replayed or late events carrying them are rejected `SUPPRESSED`. Takes the ingest lock; one transaction with its audit row. ADMIN.',
  })
  async eraseProfile(@Arg('id', () => ID, { description: 'Profile id (a merged id erases the whole person).' }) id: string, @Ctx() ctx: RequestContext): Promise<ErasureResult> {
    const r = await this.services.compliance.erase(actorOf(ctx), id);
    return Object.assign(new ErasureResult(), { ...r, deleted: r.deleted.map((d) => Object.assign(new ErasedTable(), d)) });
  }

  @Authorized(Role.ADMIN)
  @Query(() => SuppressionStats, { description: 'The suppression list: how many identifiers, how many events it rejected. ADMIN.' })
  async suppressionStats(@Ctx() ctx: RequestContext): Promise<SuppressionStats> {
    const s = await this.services.compliance.suppressionStats(requireAuth(ctx).workspaceId);
    return Object.assign(new SuppressionStats(), { identifiers: s.identifiers, rejectedEvents: s.rejected, lastRejectedAt: s.lastRejectedAt });
  }

  @Authorized(Role.ADMIN)
  @Query(() => AuditLogPage, { description: 'The audit log, newest first, filtered and paginated. ADMIN.' })
  async auditLog(
    @Ctx() ctx: RequestContext,
    @Arg('filter', () => AuditLogFilter, { nullable: true, description: 'Conditions; all must hold.' }) filter?: AuditLogFilter | null,
    @Arg('first', () => Int, { defaultValue: 50, description: 'Page size, 1–200.' }) first = 50,
    @Arg('after', () => String, { nullable: true, description: 'Cursor from `endCursor`.' }) after?: string | null,
  ): Promise<AuditLogPage> {
    const { rows, hasNext } = await this.services.audit.list(requireAuth(ctx).workspaceId, { ...(filter ?? {}) }, first, after ?? null);
    const entries = rows.map((r) =>
      Object.assign(new AuditEntry(), {
        id: r.id,
        at: r.at,
        actorKeyId: r.actor_key_id,
        actorRole: r.actor_role as Role | null,
        action: r.action,
        targetType: r.target_type,
        targetId: r.target_id,
        details: r.details,
        requestId: r.request_id,
      }),
    );
    return Object.assign(new AuditLogPage(), { entries, hasNextPage: hasNext, endCursor: entries.length ? auditCursor(entries.at(-1)!.id) : null });
  }
}

@Resolver(() => Profile)
export class ProfileConsentResolver {
  constructor(private readonly services: ComplianceResolverDeps) {}

  @FieldResolver(() => [Consent], { description: 'Current consent per purpose (purposes never answered are absent).' })
  async consents(@Root() p: Profile, @Ctx() ctx: RequestContext): Promise<Consent[]> {
    const ws = requireAuth(ctx).workspaceId;
    const rows = await ctx.loaders.get('profile.consents', (ids: readonly string[]) => this.services.compliance.consentsOf(ws, ids)).load(p.id);
    return rows.map(toConsent);
  }

  @FieldResolver(() => [ConsentChange], { description: 'Every recorded consent change, newest first.' })
  async consentHistory(@Root() p: Profile, @Ctx() ctx: RequestContext): Promise<ConsentChange[]> {
    const ws = requireAuth(ctx).workspaceId;
    const rows = await ctx.loaders.get('profile.consentHistory', (ids: readonly string[]) => this.services.compliance.consentHistoryOf(ws, ids)).load(p.id);
    return rows.map(toChange);
  }
}
