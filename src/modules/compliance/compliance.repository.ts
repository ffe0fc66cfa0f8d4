import type { EntityManager } from 'typeorm';
import { survivorOf } from '../profiles';
import type { ConsentPolicyKey } from './consent';

export interface ConsentRow {
  profile_id: string;
  purpose: string;
  state: string;
  source: string;
  policy_version: string | null;
  at: Date;
}

export interface ConsentHistoryRow extends ConsentRow {
  id: string;
  recorded_at: Date;
  event_message_id: string | null;
  actor_key_id: string | null;
}

export interface ConsentWrite {
  profileId: string;
  purpose: string;
  state: string;
  source: string;
  policyVersion: string | null;
  at: Date;
  eventMessageId: string | null;
  actorKeyId: string | null;
}

export interface SettingsRow {
  consent_policy: ConsentPolicyKey;
  event_retention_days: number | null;
}

export interface AuditRow {
  id: string;
  actor_key_id: string | null;
  actor_role: string | null;
  action: string;
  target_type: string;
  target_id: string | null;
  details: Record<string, unknown>;
  request_id: string | null;
  at: Date;
}

export interface AuditWrite {
  workspaceId: string;
  actorKeyId: string | null;
  actorRole: string | null;
  action: string;
  targetType: string;
  targetId: string | null;
  details: Record<string, unknown>;
  requestId: string | null;
}

export interface AuditQuery {
  action?: string | null;
  targetId?: string | null;
  actorKeyId?: string | null;
  from?: Date | null;
  to?: Date | null;
  beforeId?: string | null;
  limit: number;
}

/** A table holding rows about people: the columns that name a profile. */
export interface PersonTable {
  table: string;
  columns: string[];
  hasWorkspace: boolean;
}

/** Columns that name a profile in any table (besides `profiles` itself). */
const PERSON_COLUMNS = ['profile_id', 'from_profile_id', 'to_profile_id', 'origin_profile_id', 'other_profile_id', 'survivor_id', 'merged_id', 'profile_a', 'profile_b'];

const q = (ident: string) => `"${ident.replace(/"/g, '""')}"`;

/** SQL of the compliance module. */
export class ComplianceRepository {
  async settings(em: EntityManager, ws: string): Promise<SettingsRow> {
    const [r] = await em.query(`SELECT consent_policy, event_retention_days FROM compliance_settings WHERE workspace_id = $1`, [ws]);
    return r ?? { consent_policy: 'require_granted', event_retention_days: null };
  }

  async saveSettings(em: EntityManager, ws: string, s: SettingsRow): Promise<void> {
    await em.query(
      `INSERT INTO compliance_settings (workspace_id, consent_policy, event_retention_days) VALUES ($1, $2, $3)
       ON CONFLICT (workspace_id) DO UPDATE SET consent_policy = EXCLUDED.consent_policy, event_retention_days = EXCLUDED.event_retention_days, updated_at = now()`,
      [ws, s.consent_policy, s.event_retention_days],
    );
  }

  /** Workspaces with a retention period (the sweep purges only there). */
  async retentionDays(em: EntityManager, ws: string): Promise<number | null> {
    return (await this.settings(em, ws)).event_retention_days;
  }

  /** The live profile an id names (a merged id resolves to its survivor), or null. */
  async liveProfileId(em: EntityManager, ws: string, id: string): Promise<string | null> {
    const [r] = await em.query(`SELECT ${survivorOf('p')} AS id FROM profiles p WHERE p.workspace_id = $1 AND p.id = $2`, [ws, id]);
    return r?.id ?? null;
  }

  /** The person: the live profile and every profile merged into it. */
  async personIds(em: EntityManager, ws: string, live: string): Promise<string[]> {
    const rows: { id: string }[] = await em.query(
      `SELECT id FROM profiles WHERE workspace_id = $1 AND (id = $2 OR merged_into = $2) ORDER BY seq`,
      [ws, live],
    );
    return rows.map((r) => r.id);
  }

  /**
   * Appends consent changes to the history and applies them to the current state, where a change
   * with a later (or equal, later in the list) `at` than the stored one wins. One statement.
   */
  async applyConsents(em: EntityManager, ws: string, changes: ConsentWrite[]): Promise<void> {
    if (!changes.length) return;
    await em.query(
      `WITH c AS (
         SELECT * FROM jsonb_to_recordset($2::jsonb) AS u(o int, p uuid, purpose text, state text, source text, v text, at timestamptz, m text, k uuid)),
       h AS (
         INSERT INTO consent_history (workspace_id, profile_id, purpose, state, source, policy_version, at, event_message_id, actor_key_id)
         SELECT $1, p, purpose, state, source, v, at, m, k FROM c ORDER BY o)
       INSERT INTO consents (workspace_id, profile_id, purpose, state, source, policy_version, at)
       SELECT DISTINCT ON (p, purpose) $1, p, purpose, state, source, v, at FROM c ORDER BY p, purpose, at DESC, o DESC
       ON CONFLICT (workspace_id, profile_id, purpose) DO UPDATE
         SET state = EXCLUDED.state, source = EXCLUDED.source, policy_version = EXCLUDED.policy_version, at = EXCLUDED.at, updated_at = now()
         WHERE consents.at <= EXCLUDED.at`,
      [
        ws,
        JSON.stringify(
          changes.map((c, o) => ({ o, p: c.profileId, purpose: c.purpose, state: c.state, source: c.source, v: c.policyVersion, at: c.at.toISOString(), m: c.eventMessageId, k: c.actorKeyId })),
        ),
      ],
    );
  }

  /** Consents and their history follow merged profiles to the survivor (the latest change wins). */
  async moveOnMerge(em: EntityManager, ws: string, merged: string[], survivors: string[]): Promise<void> {
    if (!merged.length) return;
    const params = [ws, merged, survivors];
    const u = `unnest($2::uuid[], $3::uuid[]) AS u(m, s)`;
    await em.query(`UPDATE consent_history h SET profile_id = u.s FROM ${u} WHERE h.workspace_id = $1 AND h.profile_id = u.m`, params);
    await em.query(
      `INSERT INTO consents (workspace_id, profile_id, purpose, state, source, policy_version, at)
       SELECT DISTINCT ON (u.s, c.purpose) $1, u.s, c.purpose, c.state, c.source, c.policy_version, c.at
       FROM consents c JOIN ${u} ON c.profile_id = u.m WHERE c.workspace_id = $1
       ORDER BY u.s, c.purpose, c.at DESC
       ON CONFLICT (workspace_id, profile_id, purpose) DO UPDATE
         SET state = EXCLUDED.state, source = EXCLUDED.source, policy_version = EXCLUDED.policy_version, at = EXCLUDED.at, updated_at = now()
         WHERE consents.at < EXCLUDED.at`,
      params,
    );
    await em.query(`DELETE FROM consents c USING ${u} WHERE c.workspace_id = $1 AND c.profile_id = u.m`, params);
  }

  consentsOf(em: EntityManager, ws: string, ids: readonly string[]): Promise<ConsentRow[]> {
    return em.query(
      `SELECT profile_id, purpose, state, source, policy_version, at FROM consents WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[]) ORDER BY profile_id, purpose`,
      [ws, ids],
    );
  }

  historyOf(em: EntityManager, ws: string, ids: readonly string[]): Promise<ConsentHistoryRow[]> {
    return em.query(
      `SELECT id::text, profile_id, purpose, state, source, policy_version, at, recorded_at, event_message_id, actor_key_id
       FROM consent_history WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[]) ORDER BY consent_history.profile_id, consent_history.id DESC`,
      [ws, ids],
    );
  }

  /**
   * Of `ids`, those that may be used for `purpose`: with `require_granted` only a current state of
   * granted; with `allow_unless_denied` also no recorded state.
   */
  async allowed(em: EntityManager, ws: string, ids: readonly string[], purpose: string, policy: ConsentPolicyKey): Promise<Set<string>> {
    if (!ids.length) return new Set();
    const rows: { id: string }[] = await em.query(
      `SELECT u.id FROM unnest($2::uuid[]) AS u(id)
       LEFT JOIN consents c ON c.workspace_id = $1 AND c.profile_id = u.id AND c.purpose = $3
       WHERE c.state = 'granted' OR ($4 = 'allow_unless_denied' AND c.state IS NULL)`,
      [ws, ids, purpose, policy],
    );
    return new Set(rows.map((r) => r.id));
  }

  // ---- suppression ---------------------------------------------------------------------------

  async identifiersOf(em: EntityManager, ws: string, ids: string[]): Promise<{ type: string; namespace: string; value_key: string; value_enc: string | null; profile_id: string; first_seen_at: Date; last_seen_at: Date }[]> {
    return em.query(
      `SELECT type, namespace, value_key, value_enc, profile_id, first_seen_at, last_seen_at FROM identifiers
       WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[]) ORDER BY type, namespace, first_seen_at`,
      [ws, ids],
    );
  }

  async suppress(em: EntityManager, ws: string, entries: { hash: string; type: string }[]): Promise<number> {
    if (!entries.length) return 0;
    const rows = await em.query(
      `INSERT INTO suppressed_identifiers (workspace_id, id_hash, type)
       SELECT $1, h, t FROM unnest($2::text[], $3::text[]) AS u(h, t)
       ON CONFLICT DO NOTHING RETURNING 1`,
      [ws, entries.map((e) => e.hash), entries.map((e) => e.type)],
    );
    return rows.length;
  }

  async suppressedAmong(em: EntityManager, ws: string, hashes: string[]): Promise<Set<string>> {
    if (!hashes.length) return new Set();
    const rows: { id_hash: string }[] = await em.query(`SELECT id_hash FROM suppressed_identifiers WHERE workspace_id = $1 AND id_hash = ANY($2::text[])`, [ws, hashes]);
    return new Set(rows.map((r) => r.id_hash));
  }

  async countRejections(em: EntityManager, ws: string, counts: Map<string, number>): Promise<void> {
    if (!counts.size) return;
    await em.query(
      `UPDATE suppressed_identifiers s SET rejected_events = s.rejected_events + u.n, last_rejected_at = now()
       FROM unnest($2::text[], $3::int[]) AS u(h, n) WHERE s.workspace_id = $1 AND s.id_hash = u.h`,
      [ws, [...counts.keys()], [...counts.values()]],
    );
  }

  async suppressionStats(em: EntityManager, ws: string): Promise<{ identifiers: number; rejected: number; lastRejectedAt: Date | null }> {
    const [r] = await em.query(
      `SELECT count(*)::int AS identifiers, coalesce(sum(rejected_events), 0)::bigint::text AS rejected, max(last_rejected_at) AS last
       FROM suppressed_identifiers WHERE workspace_id = $1`,
      [ws],
    );
    return { identifiers: r.identifiers, rejected: Number(r.rejected), lastRejectedAt: r.last };
  }

  // ---- every table about people ----------------------------------------------------------------

  /**
   * Tables with a column naming a profile, found in the catalogue so that tables added later are
   * covered without a change here. `kpi_*` rollups (aggregates kept through erasure) and the audit
   * log are not among them.
   */
  async personTables(em: EntityManager): Promise<PersonTable[]> {
    const rows: { table_name: string; cols: string[]; has_ws: boolean }[] = await em.query(
      `SELECT c.table_name, array_agg(c.column_name::text ORDER BY c.column_name) AS cols,
              EXISTS (SELECT 1 FROM information_schema.columns w
                      WHERE w.table_schema = c.table_schema AND w.table_name = c.table_name AND w.column_name = 'workspace_id') AS has_ws
       FROM information_schema.columns c
       JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE'
       WHERE c.table_schema = current_schema() AND c.column_name = ANY($1::text[]) AND c.data_type = 'uuid'
         AND left(c.table_name, 4) <> 'kpi_' AND c.table_name NOT IN ('profiles', 'audit_log')
       GROUP BY c.table_schema, c.table_name ORDER BY c.table_name`,
      [PERSON_COLUMNS],
    );
    return rows.map((r) => ({ table: r.table_name, columns: r.cols, hasWorkspace: r.has_ws }));
  }

  private where(t: PersonTable): string {
    const cond = t.columns.map((c) => `${q(c)} = ANY($2::uuid[])`).join(' OR ');
    return t.hasWorkspace ? `workspace_id = $1 AND (${cond})` : `($1::uuid IS NOT NULL AND (${cond}))`;
  }

  /** Every row of `t` about these profiles, as JSON (without the workspace id). */
  rowsOf(em: EntityManager, ws: string, t: PersonTable, ids: string[]): Promise<{ row: Record<string, unknown> }[]> {
    return em.query(`SELECT to_jsonb(x) - 'workspace_id' AS row FROM ${q(t.table)} x WHERE ${this.where(t)}`, [ws, ids]);
  }

  async deleteFrom(em: EntityManager, ws: string, t: PersonTable, ids: string[]): Promise<number> {
    const [r] = await em.query(`WITH d AS (DELETE FROM ${q(t.table)} WHERE ${this.where(t)} RETURNING 1) SELECT count(*)::int AS n FROM d`, [ws, ids]);
    return r.n;
  }

  profileRows(em: EntityManager, ws: string, ids: string[]): Promise<{ row: Record<string, unknown> }[]> {
    return em.query(`SELECT to_jsonb(p) - 'workspace_id' AS row FROM profiles p WHERE workspace_id = $1 AND id = ANY($2::uuid[]) ORDER BY seq`, [ws, ids]);
  }

  async deleteProfiles(em: EntityManager, ws: string, ids: string[]): Promise<number> {
    const [r] = await em.query(`WITH d AS (DELETE FROM profiles WHERE workspace_id = $1 AND id = ANY($2::uuid[]) RETURNING 1) SELECT count(*)::int AS n FROM d`, [ws, ids]);
    return r.n;
  }

  tagNames(em: EntityManager, ws: string, keys: string[]): Promise<{ key: string; name: string }[]> {
    if (!keys.length) return Promise.resolve([]);
    return em.query(`SELECT key, name FROM tags WHERE workspace_id = $1 AND key = ANY($2::text[])`, [ws, keys]);
  }

  // ---- retention ---------------------------------------------------------------------------

  /** Deletes up to `limit` of the oldest events with `ts` before `cutoff`; returns how many. */
  async purgeEvents(em: EntityManager, ws: string, cutoff: Date, limit: number): Promise<number> {
    const [r] = await em.query(
      `WITH d AS (
         DELETE FROM events WHERE workspace_id = $1 AND message_id IN (
           SELECT message_id FROM events WHERE workspace_id = $1 AND ts < $2 ORDER BY ts LIMIT $3)
         RETURNING 1)
       SELECT count(*)::int AS n FROM d`,
      [ws, cutoff, limit],
    );
    return r.n;
  }

  // ---- audit ---------------------------------------------------------------------------------

  async insertAudit(em: EntityManager, rows: AuditWrite[]): Promise<string[]> {
    if (!rows.length) return [];
    const r: { id: string }[] = await em.query(
      `INSERT INTO audit_log (workspace_id, actor_key_id, actor_role, action, target_type, target_id, details, request_id)
       SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::jsonb[], $8::text[])
       RETURNING id::text`,
      [
        rows.map((x) => x.workspaceId),
        rows.map((x) => x.actorKeyId),
        rows.map((x) => x.actorRole),
        rows.map((x) => x.action),
        rows.map((x) => x.targetType),
        rows.map((x) => x.targetId),
        rows.map((x) => JSON.stringify(x.details)),
        rows.map((x) => x.requestId),
      ],
    );
    return r.map((x) => x.id);
  }

  listAudit(em: EntityManager, ws: string, f: AuditQuery): Promise<AuditRow[]> {
    return em.query(
      `SELECT id::text, actor_key_id, actor_role, action, target_type, target_id, details, request_id, at FROM audit_log
       WHERE workspace_id = $1 AND ($2::text IS NULL OR action = $2) AND ($3::text IS NULL OR target_id = $3)
         AND ($4::uuid IS NULL OR actor_key_id = $4) AND ($5::timestamptz IS NULL OR at >= $5) AND ($6::timestamptz IS NULL OR at < $6)
         AND ($7::bigint IS NULL OR id < $7)
       ORDER BY audit_log.id DESC LIMIT $8`,
      [ws, f.action ?? null, f.targetId ?? null, f.actorKeyId ?? null, f.from ?? null, f.to ?? null, f.beforeId ?? null, f.limit],
    );
  }
}
