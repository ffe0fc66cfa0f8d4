import type { EntityManager } from 'typeorm';
import { lockWorkspaceWrites, tryLockWorkspaceWrites } from '../../platform/db/workspace-lock';
import { AppError, ErrorClass } from '../../platform/errors';
import type { Rejection } from '../../platform/errors';
import type { BatchContext, Projection, ScreenContext, ScreenResult } from '../events';
import type { ModuleDeps } from '../../platform/module';
import { PII_TYPES, revealPersonalJson, splitIdKey, type PiiCipher } from '../identities';
import { AuditService, type AuditActor } from './audit.service';
import { ComplianceErrorCode } from './compliance.errors';
import { ComplianceRepository, type ConsentHistoryRow, type ConsentRow, type ConsentWrite, type PersonTable, type SettingsRow } from './compliance.repository';
import { CONSENT_PURPOSES, CONSENT_STATES, consentsInEvent, isPurpose, type ConsentPolicyKey, type ConsentPurposeKey, type ConsentStateKey } from './consent';
import { UUID } from '../../shared/uuid';

const MAX_TEXT = 64;
/** The purpose journeys' triggers and segment exports serve. */
export const MARKETING: ConsentPurposeKey = 'marketing';

export interface ComplianceSettings {
  consentPolicy: ConsentPolicyKey;
  /** Raw events older than this many days are purged by the sweep; null keeps them forever. */
  eventRetentionDays: number | null;
}

export interface SetConsentInput {
  profileId: string;
  purpose: string;
  state: string;
  policyVersion: string;
  source?: string | null;
  at?: Date | null;
}

export interface ErasureResult {
  profileId: string;
  profileIds: string[];
  suppressedIdentifiers: number;
  deleted: { table: string; rows: number }[];
  auditId: string;
}

function assertUuid(id: string, field = 'id'): void {
  if (!UUID.test(id)) throw AppError.badInput(ComplianceErrorCode.INVALID_ID, field, `${field} must be a profile id (UUID)`);
}

/**
 * PIPL compliance: consents per person and purpose (GraphQL and ingest), the consent check of
 * marketing activation (journey triggers, segment exports), the rights of the person (export,
 * erasure with a suppression list ingest honours), raw-event retention, and the audit log.
 */
export class ComplianceService {
  private readonly repo = new ComplianceRepository();
  readonly audit: AuditService;

  constructor(
    protected readonly ctx: ModuleDeps,
    private readonly cipher: PiiCipher,
  ) {
    this.audit = new AuditService(ctx.ds);
  }

  /**
   * The read model: consents recorded from each batch's consent events; the suppression list
   * screens events of erased people; raw-event retention is the sweep.
   */
  readonly projection: Projection = {
    name: 'compliance',
    after: [],
    validate: (e) => {
      const r = consentsInEvent(e);
      return r.ok ? null : r.rejection;
    },
    screen: (s) => this.screen(s),
    apply: (b) => this.afterBatch(b),
    refresh: { skip: 'consents are keyed by the profile that gave them and move only with merges; an unmerge leaves each where its event put it' },
    rebuild: { skip: 'consent state is its own history (consent_history), not derived from other read models' },
    sweep: (ws, now, max) => this.retentionStep(ws, now, max),
    due: { skip: 'retention works on whole days of the workspace, not per person: its sweep does it' },
    prefetch: { skip: 'consents are read through their own loader' },
  };

  // ---- settings ------------------------------------------------------------------------------

  async settings(ws: string, em: EntityManager = this.ctx.ds.manager): Promise<ComplianceSettings> {
    const r = await this.repo.settings(em, ws);
    return { consentPolicy: r.consent_policy, eventRetentionDays: r.event_retention_days };
  }

  /** Changes the settings given (undefined = keep; `eventRetentionDays: null` = keep events forever). */
  async updateSettings(actor: AuditActor, patch: { consentPolicy?: ConsentPolicyKey | null; eventRetentionDays?: number | null }): Promise<ComplianceSettings> {
    const ws = actor.workspaceId;
    const d = patch.eventRetentionDays;
    if (d !== undefined && d !== null && (!Number.isInteger(d) || d < 1 || d > 36500)) {
      throw new AppError(ErrorClass.BAD_USER_INPUT, ComplianceErrorCode.INVALID_COMPLIANCE_SETTINGS, 'eventRetentionDays must be an integer from 1 to 36500, or null to keep events forever', [
        { field: 'input.eventRetentionDays', message: `must be an integer from 1 to 36500, or null; got ${d}` },
      ]);
    }
    return this.ctx.ds.transaction(async (em) => {
      const cur = await this.repo.settings(em, ws);
      const next: SettingsRow = {
        consent_policy: patch.consentPolicy ?? cur.consent_policy,
        event_retention_days: d === undefined ? cur.event_retention_days : d,
      };
      await this.repo.saveSettings(em, ws, next);
      const s = { consentPolicy: next.consent_policy, eventRetentionDays: next.event_retention_days };
      const changed = Object.keys(patch).filter((k) => (patch as Record<string, unknown>)[k] !== undefined);
      await this.audit.record(em, actor, { action: 'compliance_settings.update', targetType: 'workspace', targetId: ws, details: { changed, ...s } });
      return s;
    });
  }

  // ---- consent -------------------------------------------------------------------------------

  /** Records one consent change from an API caller (a member page, a CRM) and returns the current state. */
  async setConsent(actor: AuditActor, input: SetConsentInput): Promise<ConsentRow> {
    assertUuid(input.profileId, 'input.profileId');
    if (!isPurpose(input.purpose)) throw AppError.badInput(ComplianceErrorCode.INVALID_CONSENT, 'input.purpose', `purpose must be one of ${CONSENT_PURPOSES.join(', ')}`);
    if (!(CONSENT_STATES as readonly string[]).includes(input.state)) throw AppError.badInput(ComplianceErrorCode.INVALID_CONSENT, 'input.state', `state must be one of ${CONSENT_STATES.join(', ')}`);
    const text = (v: string | null | undefined, field: string) => {
      if (typeof v !== 'string' || !v.trim() || v.length > MAX_TEXT) throw AppError.badInput(ComplianceErrorCode.INVALID_CONSENT, field, `${field} must be 1–${MAX_TEXT} characters`);
      return v.trim();
    };
    const policyVersion = text(input.policyVersion, 'input.policyVersion');
    const source = input.source === undefined || input.source === null ? 'api' : text(input.source, 'input.source');
    const at = input.at ?? new Date();
    if (Number.isNaN(at.getTime()) || at.getTime() > Date.now() + 24 * 3600 * 1000) throw AppError.badInput(ComplianceErrorCode.INVALID_CONSENT, 'input.at', 'at must not be in the future');
    const ws = actor.workspaceId;
    return this.ctx.ds.transaction(async (em) => {
      // The ingest lock: a merge moving this person's consents cannot interleave.
      await this.lock(em, ws);
      const live = await this.repo.liveProfileId(em, ws, input.profileId);
      if (!live) throw AppError.notFound(ComplianceErrorCode.PROFILE_NOT_FOUND, `Profile ${input.profileId} does not exist in this workspace.`);
      await this.repo.applyConsents(em, ws, [
        { profileId: live, purpose: input.purpose, state: input.state, source, policyVersion, at, eventMessageId: null, actorKeyId: actor.apiKeyId },
      ]);
      return (await this.repo.consentsOf(em, ws, [live])).find((c) => c.purpose === input.purpose)!;
    });
  }

  async consentsOf(ws: string, ids: readonly string[]): Promise<ConsentRow[][]> {
    const rows = await this.repo.consentsOf(this.ctx.ds.manager, ws, ids);
    return ids.map((id) => rows.filter((r) => r.profile_id === id));
  }

  async consentHistoryOf(ws: string, ids: readonly string[]): Promise<ConsentHistoryRow[][]> {
    const rows = await this.repo.historyOf(this.ctx.ds.manager, ws, ids);
    return ids.map((id) => rows.filter((r) => r.profile_id === id));
  }

  /**
   * Which of `ids` may be used for `purpose` under the workspace's consent policy
   * (REQUIRE_GRANTED: only people whose current state is granted; ALLOW_UNLESS_DENIED: everyone but
   * people who denied or withdrew). Used by segment exports (any purpose) and journey triggers.
   */
  async allowed(ws: string, ids: readonly string[], purpose: string, em: EntityManager = this.ctx.ds.manager): Promise<Set<string>> {
    if (!isPurpose(purpose)) throw AppError.badInput(ComplianceErrorCode.UNKNOWN_PURPOSE, 'purpose', `purpose must be one of ${CONSENT_PURPOSES.join(', ')}`);
    const { consentPolicy } = await this.settings(ws, em);
    return this.repo.allowed(em, ws, ids, purpose, consentPolicy);
  }

  private async afterBatch(b: BatchContext): Promise<void> {
    await this.repo.moveOnMerge(b.em, b.workspaceId, b.merged.map((m) => m.mergedId), b.merged.map((m) => m.survivorId));
    const changes: ConsentWrite[] = [];
    for (const e of b.events) {
      const r = consentsInEvent(e);
      if (!r.ok) continue; // validated at ingest; never reached
      for (const c of r.consents) {
        changes.push({
          profileId: e.profileId,
          purpose: c.purpose,
          state: c.state as ConsentStateKey,
          source: c.source ?? `ingest:${e.channel}`,
          policyVersion: c.policyVersion,
          at: e.ts,
          eventMessageId: e.messageId,
          actorKeyId: null,
        });
      }
    }
    await this.repo.applyConsents(b.em, b.workspaceId, changes);
  }

  // ---- suppression ---------------------------------------------------------------------------

  /**
   * The suppression key of an identifier: the keyed hash (HMAC of the PII key, as ingest uses for
   * phone and e-mail) over type, namespace and match key, for every identifier type, so the list
   * holds no plain value.
   */
  suppressionHash(type: string, namespace: string, valueKey: string): string {
    return this.cipher.hash(`suppressed:${type}`, `${namespace}\u0000${valueKey}`);
  }

  private async screen(s: ScreenContext): Promise<ScreenResult> {
    const result = { rejected: new Map<number, Rejection>(), blockedRelatedKeys: new Set<string>() } satisfies ScreenResult;
    const hashOf = new Map<string, string>();
    for (const e of s.events) {
      for (const k of [...e.identifierKeys, ...e.relatedKeys]) {
        if (!hashOf.has(k)) {
          const p = splitIdKey(k);
          hashOf.set(k, this.suppressionHash(p.type, p.namespace, p.valueKey));
        }
      }
    }
    const blocked = await this.repo.suppressedAmong(s.em, s.workspaceId, [...new Set(hashOf.values())]);
    if (!blocked.size) return result;
    const counts = new Map<string, number>();
    for (const e of s.events) {
      const hit = e.identifierKeys.map((k) => hashOf.get(k)!).filter((h) => blocked.has(h));
      if (hit.length) {
        const rejection: Rejection = {
          reason: ComplianceErrorCode.SUPPRESSED,
          field: 'identifiers',
          message: 'the event carries an identifier of a person who was erased; it is not stored and nobody is re-created',
        };
        result.rejected.set(e.index, rejection);
        for (const h of new Set(hit)) counts.set(h, (counts.get(h) ?? 0) + 1);
      }
      for (const k of e.relatedKeys) if (blocked.has(hashOf.get(k)!)) result.blockedRelatedKeys.add(k);
    }
    await this.repo.countRejections(s.em, s.workspaceId, counts);
    return result;
  }

  async suppressionStats(ws: string): Promise<{ identifiers: number; rejected: number; lastRejectedAt: Date | null }> {
    return this.repo.suppressionStats(this.ctx.ds.manager, ws);
  }

  // ---- rights of the person ------------------------------------------------------------------

  /**
   * Everything held about one person (the live profile and the profiles merged into it) as one
   * JSON document, identifiers decrypted. Audited as `profile.export`.
   */
  async exportProfile(actor: AuditActor, id: string): Promise<Record<string, unknown>> {
    assertUuid(id);
    const ws = actor.workspaceId;
    return this.ctx.ds.transaction('REPEATABLE READ', async (em) => {
      const live = await this.repo.liveProfileId(em, ws, id);
      if (!live) throw AppError.notFound(ComplianceErrorCode.PROFILE_NOT_FOUND, `Profile ${id} does not exist in this workspace.`);
      const ids = await this.repo.personIds(em, ws, live);
      const profiles = (await this.repo.profileRows(em, ws, ids)).map((r) => r.row);
      const main = profiles.find((p) => p.id === live)!;
      const identifiers = (await this.repo.identifiersOf(em, ws, ids)).map((i) => ({
        type: i.type,
        namespace: i.namespace || null,
        value: PII_TYPES.has(i.type as never) && i.value_enc ? this.cipher.decrypt(i.value_enc) : i.value_key,
        profileId: i.profile_id,
        firstSeenAt: i.first_seen_at,
        lastSeenAt: i.last_seen_at,
      }));
      const tables: Record<string, Record<string, unknown>[]> = {};
      for (const t of await this.repo.personTables(em)) {
        if (t.table === 'identifiers') continue;
        const rows = (await this.repo.rowsOf(em, ws, t, ids)).map((r) => r.row);
        if (rows.length) tables[t.table] = rows;
      }
      const tagRows = tables.profile_tags ?? [];
      const names = new Map((await this.repo.tagNames(em, ws, [...new Set(tagRows.map((r) => String(r.tag_key)))])).map((r) => [r.key, r.name]));
      const consents = tables.consents ?? [];
      const stage = (tables.profile_stages ?? [])[0] ?? null;
      const health = (tables.profile_health ?? [])[0] ?? null;
      await this.audit.record(em, actor, { action: 'profile.export', targetType: 'profile', targetId: live, details: { profiles: ids.length, identifiers: identifiers.length, events: (tables.events ?? []).length } });
      const { traits, ...profile } = main;
      // Phones and e-mails sealed in traits (docs/privacy.md) are decrypted, like identifiers.
      return revealPersonalJson({
        exportedAt: new Date().toISOString(),
        workspaceId: ws,
        profileId: live,
        mergedProfileIds: ids.filter((x) => x !== live),
        profile,
        traits,
        identifiers,
        events: tables.events ?? [],
        tags: tagRows.map((r) => ({ ...r, name: names.get(String(r.tag_key)) ?? null })),
        stage,
        health,
        consents,
        relations: tables.relations ?? [],
        // Every table about people, by name (stage transitions, journey states, segment
        // memberships, consent history, merges, …), including tables added after this code.
        records: Object.fromEntries(Object.entries(tables).filter(([k]) => !['events', 'profile_tags', 'consents', 'relations'].includes(k))),
        mergedProfiles: profiles.filter((p) => p.id !== live),
      }, this.cipher) as Record<string, unknown>;
    });
  }

  /**
   * Erases one person: every row about the live profile and the profiles merged into it, in every
   * table with a profile column (found in the catalogue), except `kpi_*` aggregates; the profile
   * rows; then suppresses the keyed hashes of their identifiers so replayed or late events carrying
   * them are rejected (`SUPPRESSED`). Under the workspace ingest lock, in one transaction with its
   * audit row.
   */
  async erase(actor: AuditActor, id: string): Promise<ErasureResult> {
    assertUuid(id);
    const ws = actor.workspaceId;
    return this.ctx.ds.transaction(async (em) => {
      await this.lock(em, ws);
      const live = await this.repo.liveProfileId(em, ws, id);
      if (!live) throw AppError.notFound(ComplianceErrorCode.PROFILE_NOT_FOUND, `Profile ${id} does not exist in this workspace.`);
      const ids = await this.repo.personIds(em, ws, live);
      const held = await this.repo.identifiersOf(em, ws, ids);
      await this.repo.suppress(
        em,
        ws,
        held.map((i) => ({ hash: this.suppressionHash(i.type, i.namespace, i.value_key), type: i.type })),
      );
      const deleted: { table: string; rows: number }[] = [];
      const tables: PersonTable[] = await this.repo.personTables(em);
      for (const t of tables) {
        const n = await this.repo.deleteFrom(em, ws, t, ids);
        if (n) deleted.push({ table: t.table, rows: n });
      }
      deleted.push({ table: 'profiles', rows: await this.repo.deleteProfiles(em, ws, ids) });
      const auditId = await this.audit.record(em, actor, {
        action: 'profile.erase',
        targetType: 'profile',
        targetId: live,
        details: { profiles: ids.length, suppressedIdentifiers: held.length, identifierTypes: [...new Set(held.map((i) => i.type))], deleted: Object.fromEntries(deleted.map((d) => [d.table, d.rows])) },
      });
      return { profileId: live, profileIds: ids, suppressedIdentifiers: held.length, deleted, auditId };
    });
  }

  // ---- retention -----------------------------------------------------------------------------

  /**
   * One bounded retention step: deletes up to `max` of the workspace's oldest events older than the
   * retention period. Profile aggregates, read models and `kpi_*` rollups stay. Skipped while a
   * batch holds the ingest lock.
   */
  async retentionStep(ws: string, now: Date, max: number): Promise<number> {
    return this.ctx.ds.transaction(async (em) => {
      const days = await this.repo.retentionDays(em, ws);
      if (days === null) return 0;
      const ok = await tryLockWorkspaceWrites(em, ws);
      if (!ok) return 0;
      return this.repo.purgeEvents(em, ws, new Date(now.getTime() - days * 86400_000), Math.max(1, max));
    });
  }

  private async lock(em: EntityManager, ws: string): Promise<void> {
    await lockWorkspaceWrites(em, ws);
  }
}
