import type { EntityManager } from 'typeorm';
import { lockWorkspaceWrites } from '../../platform/db/workspace-lock';
import { splitIdKey, type ConflictDecision, type IdKey, type MergeDecision } from './identity-graph';
import type { IdentityRulesDocument } from './identity-rules';
import type { PreparedIdentifier } from './prepare';

export interface LoadedGraph {
  /** Live profiles holding any of the asked identifiers, with all their identifiers. */
  profiles: { id: string; seq: number; ids: IdKey[] }[];
  exclusions: [string, string][];
}

export interface IdentifierRow {
  type: string;
  namespace: string;
  valueKey: string;
  valueEnc: string | null;
  profileId: string;
  firstSeenAt: Date;
  lastSeenAt: Date;
}

/** SQL of the identity graph. Every statement is set-based: one per kind of change per batch. */
export class IdentityRepository {
  async loadRules(em: EntityManager, workspaceId: string): Promise<IdentityRulesDocument | null> {
    const rows = await em.query('SELECT rules FROM identity_rules WHERE workspace_id = $1', [workspaceId]);
    return rows[0]?.rules ?? null;
  }

  async saveRules(em: EntityManager, workspaceId: string, rules: IdentityRulesDocument): Promise<void> {
    await em.query(
      `INSERT INTO identity_rules (workspace_id, rules) VALUES ($1, $2)
       ON CONFLICT (workspace_id) DO UPDATE SET rules = EXCLUDED.rules, updated_at = now()`,
      [workspaceId, JSON.stringify(rules)],
    );
  }

  /** Serialises identity resolution within one workspace (concurrent batches never split a person). */
  async lockWorkspace(em: EntityManager, workspaceId: string): Promise<void> {
    await lockWorkspaceWrites(em, workspaceId);
  }

  /** The part of the graph a batch can touch: holders of its identifiers, their identifiers, exclusions. */
  async loadGraph(em: EntityManager, workspaceId: string, keys: IdKey[]): Promise<LoadedGraph> {
    if (keys.length === 0) return { profiles: [], exclusions: [] };
    const t: string[] = [], n: string[] = [], v: string[] = [];
    for (const k of keys) {
      const s = splitIdKey(k);
      t.push(s.type);
      n.push(s.namespace);
      v.push(s.valueKey);
    }
    const rows: { id: string; seq: string; type: string; namespace: string; value_key: string }[] = await em.query(
      `WITH holders AS (
         SELECT DISTINCT i.profile_id
         FROM unnest($2::text[], $3::text[], $4::text[]) AS k(type, namespace, value_key)
         JOIN identifiers i ON i.workspace_id = $1 AND i.type = k.type AND i.namespace = k.namespace AND i.value_key = k.value_key
       )
       SELECT p.id, p.seq, i.type, i.namespace, i.value_key
       FROM holders h
       JOIN profiles p ON p.workspace_id = $1 AND p.id = h.profile_id
       JOIN identifiers i ON i.workspace_id = $1 AND i.profile_id = h.profile_id`,
      [workspaceId, t, n, v],
    );
    const byId = new Map<string, { id: string; seq: number; ids: IdKey[] }>();
    for (const r of rows) {
      let p = byId.get(r.id);
      if (!p) byId.set(r.id, (p = { id: r.id, seq: Number(r.seq), ids: [] }));
      p.ids.push(`${r.type}\u0001${r.namespace}\u0001${r.value_key}`);
    }
    const ids = [...byId.keys()];
    const exclusions: [string, string][] = ids.length
      ? (
          await em.query(
            `SELECT profile_a, profile_b FROM identity_exclusions WHERE workspace_id = $1 AND (profile_a = ANY($2::uuid[]) OR profile_b = ANY($2::uuid[]))`,
            [workspaceId, ids],
          )
        ).map((r: { profile_a: string; profile_b: string }) => [r.profile_a, r.profile_b])
      : [];
    return { profiles: [...byId.values()], exclusions };
  }

  /** New identifiers, and last-seen times of the ones already held. */
  async upsertIdentifiers(em: EntityManager, workspaceId: string, rows: IdentifierRow[]): Promise<void> {
    if (!rows.length) return;
    await em.query(
      `INSERT INTO identifiers (workspace_id, type, namespace, value_key, value_enc, profile_id, first_seen_at, last_seen_at)
       SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::uuid[], $7::timestamptz[], $8::timestamptz[])
       ON CONFLICT (workspace_id, type, namespace, value_key) DO UPDATE
         SET last_seen_at = greatest(identifiers.last_seen_at, EXCLUDED.last_seen_at)`,
      [
        workspaceId,
        rows.map((r) => r.type),
        rows.map((r) => r.namespace),
        rows.map((r) => r.valueKey),
        rows.map((r) => r.valueEnc),
        rows.map((r) => r.profileId),
        rows.map((r) => r.firstSeenAt),
        rows.map((r) => r.lastSeenAt),
      ],
    );
  }

  /**
   * Applies merges of existing profiles: identifiers, events, relations and redirects of the merged
   * profiles (and of profiles merged into them earlier) move to the final survivor; exclusions follow.
   */
  async applyMerges(em: EntityManager, workspaceId: string, merged: string[], survivors: string[]): Promise<void> {
    if (!merged.length) return;
    const params = [workspaceId, merged, survivors];
    const u = `unnest($2::uuid[], $3::uuid[]) AS u(m, s)`;
    await em.query(`UPDATE identifiers i SET profile_id = u.s FROM ${u} WHERE i.workspace_id = $1 AND i.profile_id = u.m`, params);
    await em.query(`UPDATE events e SET profile_id = u.s FROM ${u} WHERE e.workspace_id = $1 AND e.profile_id = u.m`, params);
    await em.query(
      `UPDATE profiles p SET merged_into = u.s, updated_at = now() FROM ${u}
       WHERE p.workspace_id = $1 AND (p.id = u.m OR p.merged_into = u.m)`,
      params,
    );
    await em.query(`UPDATE relations r SET to_profile_id = u.s FROM ${u} WHERE r.workspace_id = $1 AND r.to_profile_id = u.m`, params);
    await em.query(`UPDATE relations r SET from_profile_id = u.s FROM ${u} WHERE r.workspace_id = $1 AND r.from_profile_id = u.m`, params);
    await em.query(
      `INSERT INTO identity_exclusions (workspace_id, profile_a, profile_b, merge_id)
       SELECT $1, least(x.a, x.b), greatest(x.a, x.b), x.merge_id FROM (
         SELECT coalesce(ua.s, e.profile_a) AS a, coalesce(ub.s, e.profile_b) AS b, e.merge_id
         FROM identity_exclusions e
         LEFT JOIN unnest($2::uuid[], $3::uuid[]) AS ua(m, s) ON ua.m = e.profile_a
         LEFT JOIN unnest($2::uuid[], $3::uuid[]) AS ub(m, s) ON ub.m = e.profile_b
         WHERE e.workspace_id = $1 AND (ua.m IS NOT NULL OR ub.m IS NOT NULL)
       ) x WHERE x.a <> x.b
       ON CONFLICT DO NOTHING`,
      params,
    );
  }

  async insertMerges(
    em: EntityManager,
    workspaceId: string,
    merges: (MergeDecision & { eventMessageId: string })[],
  ): Promise<void> {
    if (!merges.length) return;
    await em.query(
      `INSERT INTO identity_merges (workspace_id, survivor_id, merged_id, event_message_id, linking, moved)
       SELECT $1, * FROM unnest($2::uuid[], $3::uuid[], $4::text[], $5::jsonb[], $6::jsonb[])`,
      [
        workspaceId,
        merges.map((m) => m.survivorId),
        merges.map((m) => m.mergedId),
        merges.map((m) => m.eventMessageId),
        merges.map((m) => JSON.stringify(m.linking.map(keyTriple))),
        merges.map((m) => JSON.stringify(m.moved.map(keyTriple))),
      ],
    );
  }

  async insertConflicts(em: EntityManager, workspaceId: string, conflicts: (ConflictDecision & { eventMessageId: string })[]): Promise<void> {
    if (!conflicts.length) return;
    await em.query(
      `INSERT INTO identity_conflicts (workspace_id, profile_id, other_profile_id, identifier, rule, limit_type, event_message_id)
       SELECT $1, * FROM unnest($2::uuid[], $3::uuid[], $4::jsonb[], $5::text[], $6::text[], $7::text[])`,
      [
        workspaceId,
        conflicts.map((c) => c.profileId),
        conflicts.map((c) => c.otherProfileId ?? null),
        conflicts.map((c) => (c.identifier ? JSON.stringify(keyTriple(c.identifier)) : null)),
        conflicts.map((c) => c.rule),
        conflicts.map((c) => c.limitType ?? null),
        conflicts.map((c) => c.eventMessageId),
      ],
    );
  }
}

export function keyTriple(k: IdKey): [string, string, string] {
  const s = splitIdKey(k);
  return [s.type, s.namespace, s.valueKey];
}

export function identifierRowFrom(id: PreparedIdentifier, profileId: string, ts: Date): IdentifierRow {
  return { type: id.type, namespace: id.namespace, valueKey: id.valueKey, valueEnc: id.valueEnc, profileId, firstSeenAt: ts, lastSeenAt: ts };
}
