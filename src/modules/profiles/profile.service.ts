import type { DataSource } from 'typeorm';
import { AppError } from '../../platform/errors';
import { CHANNELS, PII_TYPES, maskEmail, maskPhone, maskPersonalJson, prepareIdentifier, revealPersonalJson, type IdentityService } from '../identities';
import { ProfileErrorCode } from './profile.errors';
import { ProfilePrefetch, type PlannedPart, type ProfilePrefetchPart } from './profile.prefetch';
import {
  ProfileReadRepository,
  type ConflictReadRow,
  type EventReadRow,
  type IdentifierReadRow,
  type MergeReadRow,
  type ProfileListFilter,
  type ProfileRow,
  type RelationReadRow,
} from './profile.repository';
import { UUID } from '../../shared/uuid';

const notFound = (id: string) => AppError.notFound(ProfileErrorCode.PROFILE_NOT_FOUND, `Profile ${id} does not exist in this workspace.`);

export function assertId(id: string, field = 'id'): void {
  if (!UUID.test(id)) throw AppError.badInput(ProfileErrorCode.INVALID_ID, field, `${field} must be a profile id (UUID)`);
}

function group<T>(rows: T[], keys: readonly string[], keyOf: (r: T) => (string | null)[]): T[][] {
  const m = new Map<string, T[]>(keys.map((k) => [k, []]));
  for (const r of rows) for (const k of new Set(keyOf(r))) if (k && m.has(k)) m.get(k)!.push(r);
  return keys.map((k) => m.get(k)!);
}

/** Reads of the 360° view. Batch methods take many profile ids and return results in key order. */
export class ProfileService {
  private readonly repo = new ProfileReadRepository();
  /** Relations a profile read may fetch with the profile: this module's and the projections' prefetch parts. */
  readonly prefetch: ProfilePrefetch;

  constructor(
    private readonly ds: DataSource,
    private readonly identities: IdentityService,
    prefetchParts: readonly ProfilePrefetchPart[],
  ) {
    this.prefetch = new ProfilePrefetch(prefetchParts);
  }

  async get(workspaceId: string, id: string): Promise<ProfileRow> {
    assertId(id);
    const row = (await this.repo.profilesByIds(this.ds.manager, workspaceId, [id])).get(id);
    if (!row) throw notFound(id);
    return row;
  }

  /** `get`, with the planned relations read in the same statement (their values in plan order). */
  async getWith(workspaceId: string, id: string, plan: PlannedPart[]): Promise<{ row: ProfileRow; values: unknown[] }> {
    if (!plan.length) return { row: await this.get(workspaceId, id), values: [] };
    assertId(id);
    const r = await this.repo.profileWith(this.ds.manager, workspaceId, { id }, (param) => this.prefetch.columns(plan, param));
    if (!r) throw notFound(id);
    return r;
  }

  async byIdentifier(workspaceId: string, input: { type: string; namespace?: string; value: string }): Promise<ProfileRow> {
    return (await this.byIdentifierWith(workspaceId, input, [])).row;
  }

  /** `byIdentifier`, with the planned relations read with the profile. */
  async byIdentifierWith(workspaceId: string, input: { type: string; namespace?: string; value: string }, plan: PlannedPart[]): Promise<{ row: ProfileRow; values: unknown[] }> {
    const r = prepareIdentifier(input, await this.identities.rules(workspaceId), this.identities.cipher);
    if (!r.ok) {
      if (r.dropped) throw AppError.badInput('BLOCKED_VALUE', 'identifier.value', 'this value is blocked and never identifies anyone');
      throw AppError.badInput(r.reason, `identifier.${r.field}`, r.message);
    }
    const { type, namespace, valueKey } = r.id;
    if (plan.length) {
      // The holder and its planned relations in one statement.
      const found = await this.repo.profileWith(this.ds.manager, workspaceId, { identifier: { type, namespace, valueKey } }, (param) => this.prefetch.columns(plan, param));
      if (!found) throw AppError.notFound(ProfileErrorCode.PROFILE_NOT_FOUND, 'No profile holds this identifier.');
      return found;
    }
    const id = await this.repo.profileIdByIdentifier(this.ds.manager, workspaceId, type, namespace, valueKey);
    if (!id) throw AppError.notFound(ProfileErrorCode.PROFILE_NOT_FOUND, 'No profile holds this identifier.');
    return { row: await this.get(workspaceId, id), values: [] };
  }

  async list(workspaceId: string, filter: ProfileListFilter, first: number, after?: string | null): Promise<{ rows: ProfileRow[]; hasNext: boolean }> {
    const { rows, hasNext } = await this.listWith(workspaceId, filter, first, after, []);
    return { rows: rows.map((r) => r.row), hasNext };
  }

  /** `list`, with the planned relations of each profile read in the same statement. */
  async listWith(
    workspaceId: string,
    filter: ProfileListFilter,
    first: number,
    after: string | null | undefined,
    plan: PlannedPart[],
  ): Promise<{ rows: { row: ProfileRow; values: unknown[] }[]; hasNext: boolean }> {
    if (!Number.isInteger(first) || first < 1 || first > 100) throw AppError.badInput('INVALID_PAGE_SIZE', 'first', 'first must be between 1 and 100');
    validateFilter(filter);
    const afterSeq = after ? decodeCursor(after, 'p') : null;
    const columns = plan.length ? (param: (value: unknown) => string) => this.prefetch.columns(plan, param) : undefined;
    const rows = await this.repo.list(this.ds.manager, workspaceId, filter, first + 1, afterSeq === null ? null : Number(afterSeq), columns);
    return { rows: rows.slice(0, first), hasNext: rows.length > first };
  }

  /** How many live profiles match the filter, over all pages (one count query). */
  async count(workspaceId: string, filter: ProfileListFilter): Promise<number> {
    validateFilter(filter);
    return this.repo.count(this.ds.manager, workspaceId, filter);
  }

  async profilesByIds(workspaceId: string, ids: readonly string[]): Promise<(ProfileRow | null)[]> {
    const m = await this.repo.profilesByIds(this.ds.manager, workspaceId, ids);
    return ids.map((id) => m.get(id) ?? null);
  }

  async identifiersOf(workspaceId: string, ids: readonly string[]): Promise<IdentifierReadRow[][]> {
    return group(await this.repo.identifiersOf(this.ds.manager, workspaceId, ids), ids, (r) => [r.profile_id]);
  }

  async eventsOf(workspaceId: string, ids: readonly string[], first: number, after: string | null, name: string | null): Promise<EventReadRow[][]> {
    const before = after ? parseEventCursor(after) : undefined;
    const rows = await this.repo.eventsOf(this.ds.manager, workspaceId, ids, { limit: first + 1, before, name: name ?? undefined });
    return group(rows, ids, (r) => [r.profile_id]);
  }

  async mergesOf(workspaceId: string, ids: readonly string[]): Promise<MergeReadRow[][]> {
    return group(await this.repo.mergesOf(this.ds.manager, workspaceId, ids), ids, (r) => [r.survivor_id, r.merged_id]);
  }

  async conflictsOf(workspaceId: string, ids: readonly string[]): Promise<ConflictReadRow[][]> {
    return group(await this.repo.conflictsOf(this.ds.manager, workspaceId, ids), ids, (r) => [r.profile_id, r.other_profile_id]);
  }

  async relationsOf(workspaceId: string, ids: readonly string[]): Promise<RelationReadRow[][]> {
    return group(await this.repo.relationsOf(this.ds.manager, workspaceId, ids), ids, (r) => [r.from_profile_id, r.to_profile_id]);
  }

  /** The value to show: decrypted and masked for phone/e-mail unless the caller may see personal data. */
  /** Stored traits JSON as a caller sees it: sealed phones/e-mails decrypted, then masked without the PII scope. */
  displayJson(value: unknown, pii: boolean): unknown {
    const plain = revealPersonalJson(value, this.identities.cipher);
    return pii ? plain : maskPersonalJson(plain);
  }

  displayValue(r: { type: string; value_key: string; value_enc: string | null }, pii: boolean): { value: string; masked: boolean } {
    if (!PII_TYPES.has(r.type as never) || !r.value_enc) return { value: r.value_key, masked: false };
    const plain = this.identities.cipher.decrypt(r.value_enc);
    if (pii) return { value: plain, masked: false };
    return { value: r.type === 'phone' ? maskPhone(plain) : maskEmail(plain), masked: true };
  }
}

export function encodeCursor(kind: string, v: string): string {
  return Buffer.from(`${kind}:${v}`, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string, kind: string): string {
  const s = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!s.startsWith(`${kind}:`)) throw AppError.badInput(ProfileErrorCode.INVALID_CURSOR, 'after', 'after is not a cursor from this list');
  const v = s.slice(kind.length + 1);
  if (kind === 'p' && !/^\d+$/.test(v)) throw AppError.badInput(ProfileErrorCode.INVALID_CURSOR, 'after', 'after is not a cursor from this list');
  return v;
}

export function eventCursor(e: { ts: Date; message_id: string }): string {
  return encodeCursor('e', `${e.ts.toISOString()}|${e.message_id}`);
}

function parseEventCursor(c: string): { ts: Date; messageId: string } {
  const v = decodeCursor(c, 'e');
  const i = v.indexOf('|');
  const ts = new Date(v.slice(0, i));
  if (i < 0 || Number.isNaN(ts.getTime())) throw AppError.badInput(ProfileErrorCode.INVALID_CURSOR, 'after', 'after is not a cursor from this list');
  return { ts, messageId: v.slice(i + 1) };
}

/** The checks of a profile list filter (BAD_USER_INPUT naming the field). */
function validateFilter(filter: ProfileListFilter): void {
  if (filter.channel && !(filter.channel in CHANNELS)) throw AppError.badInput('UNKNOWN_CHANNEL', 'filter.channel', `unknown channel ${filter.channel}`);
  if (filter.segment) assertId(filter.segment, 'filter.segment');
  if ((filter.tags?.length ?? 0) > 20) throw AppError.badInput('TOO_MANY_TAGS', 'filter.tags', 'at most 20 tags');
  for (const k of ['healthScoreMin', 'healthScoreMax'] as const) {
    const v = filter[k];
    if (v !== undefined && v !== null && !(Number.isFinite(v) && v >= 0 && v <= 100)) {
      throw AppError.badInput('INVALID_HEALTH_SCORE', `filter.${k}`, `${k} must be a number between 0 and 100`);
    }
  }
  if (filter.healthScoreMin != null && filter.healthScoreMax != null && filter.healthScoreMin > filter.healthScoreMax) {
    throw AppError.badInput('INVALID_HEALTH_SCORE', 'filter.healthScoreMax', 'healthScoreMax must not be below healthScoreMin');
  }
  if (filter.stage !== undefined && filter.stage !== null && (filter.stage.trim() === '' || filter.stage.length > 64)) {
    throw AppError.badInput('INVALID_STAGE', 'filter.stage', 'stage must be a stage key of 1–64 characters');
  }
}
