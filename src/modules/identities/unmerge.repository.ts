import type { EntityManager } from 'typeorm';
import { survivorOf } from '../profiles';

export interface MergeRow {
  id: string;
  survivor_id: string;
  merged_id: string;
  event_message_id: string;
  linking: [string, string, string][];
  moved: [string, string, string][];
  created_at: Date;
  undone_at: Date | null;
}

/** SQL of undoing a merge (DESIGN.md §3 step 7): rare, correctness over speed, still set-based. */
export class UnmergeRepository {
  async lockMerge(em: EntityManager, workspaceId: string, mergeId: string): Promise<MergeRow | null> {
    const rows = await em.query(`SELECT * FROM identity_merges WHERE workspace_id = $1 AND id = $2 FOR UPDATE`, [workspaceId, mergeId]);
    return rows[0] ?? null;
  }

  async liveId(em: EntityManager, workspaceId: string, profileId: string): Promise<string> {
    const [r] = await em.query(`SELECT ${survivorOf('p')} AS id FROM profiles p WHERE p.workspace_id = $1 AND p.id = $2`, [workspaceId, profileId]);
    return r.id;
  }

  /** The merged profile and every profile merged into it (transitively) before this merge. */
  async absorbed(em: EntityManager, workspaceId: string, m: MergeRow): Promise<string[]> {
    const rows: { id: string }[] = await em.query(
      `WITH RECURSIVE a(id) AS (
         SELECT $2::uuid
         UNION
         SELECT mm.merged_id FROM identity_merges mm JOIN a ON mm.survivor_id = a.id
         WHERE mm.workspace_id = $1 AND mm.undone_at IS NULL AND mm.id <> $3 AND mm.created_at <= $4
       ) SELECT id FROM a`,
      [workspaceId, m.merged_id, m.id, m.created_at],
    );
    return rows.map((r) => r.id);
  }

  async restore(em: EntityManager, workspaceId: string, m: MergeRow, live: string, absorbed: string[]): Promise<void> {
    const x = m.merged_id;
    await em.query(
      `UPDATE identifiers i SET profile_id = $2
       FROM jsonb_array_elements($4::jsonb) AS k(v)
       WHERE i.workspace_id = $1 AND i.profile_id = $3 AND i.type = k.v->>0 AND i.namespace = k.v->>1 AND i.value_key = k.v->>2`,
      [workspaceId, x, live, JSON.stringify(m.moved)],
    );
    await em.query(`UPDATE profiles SET merged_into = NULL, updated_at = now() WHERE workspace_id = $1 AND id = $2`, [workspaceId, x]);
    await em.query(`UPDATE profiles SET merged_into = $2, updated_at = now() WHERE workspace_id = $1 AND id = ANY($3::uuid[]) AND id <> $2`, [
      workspaceId,
      x,
      absorbed,
    ]);
    // Events from before the merge go back where they came from; the merging event and later ones go
    // to the profile holding their highest-priority identifier.
    await em.query(
      `UPDATE events e SET profile_id = $2
       WHERE e.workspace_id = $1 AND e.profile_id = $3 AND (
         (e.received_at < $4 AND e.origin_profile_id = ANY($5::uuid[]))
         OR (e.received_at >= $4 AND $2 = (
           SELECT i.profile_id FROM jsonb_array_elements(e.identifier_keys) WITH ORDINALITY AS k(v, o)
           JOIN identifiers i ON i.workspace_id = $1 AND i.type = k.v->>0 AND i.namespace = k.v->>1 AND i.value_key = k.v->>2
           ORDER BY k.o LIMIT 1)))`,
      [workspaceId, x, live, m.created_at, absorbed],
    );
    await em.query(
      `UPDATE relations r SET to_profile_id = $2
       WHERE r.workspace_id = $1 AND r.to_profile_id = $3
         AND EXISTS (SELECT 1 FROM events e WHERE e.workspace_id = $1 AND e.message_id = r.event_message_id AND e.profile_id = $2)`,
      [workspaceId, x, live],
    );
    await em.query(`UPDATE identity_merges SET undone_at = now() WHERE workspace_id = $1 AND id = $2`, [workspaceId, m.id]);
    await em.query(
      `INSERT INTO identity_exclusions (workspace_id, profile_a, profile_b, merge_id) VALUES ($1, least($2::uuid, $3::uuid), greatest($2::uuid, $3::uuid), $4)
       ON CONFLICT DO NOTHING`,
      [workspaceId, x, live, m.id],
    );
  }

  /** Rebuilds the read model of some profiles from their events (after events moved between them). */
  async recomputeAggregates(em: EntityManager, workspaceId: string, ids: string[]): Promise<void> {
    await em.query(
      `UPDATE profiles SET first_seen_at = NULL, last_seen_at = NULL, channels = '{}', traits = '{}', event_count = 0,
         order_count = 0, total_spend = 0, last_order_at = NULL, updated_at = now()
       WHERE workspace_id = $1 AND id = ANY($2::uuid[])`,
      [workspaceId, ids],
    );
    await em.query(
      `WITH a AS (
         SELECT profile_id, min(ts) AS first_seen, max(ts) AS last_seen, array_agg(DISTINCT channel) AS channels, count(*)::int AS n,
                (count(*) FILTER (WHERE name = 'Order Completed'))::int AS orders,
                coalesce(sum(coalesce((properties->>'revenue')::numeric, (properties->>'total')::numeric, 0)) FILTER (WHERE name = 'Order Completed'), 0) AS spend,
                max(ts) FILTER (WHERE name = 'Order Completed') AS last_order
         FROM events WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[]) GROUP BY profile_id
       ), latest AS (
         SELECT DISTINCT ON (e.profile_id, t.key) e.profile_id, t.key, t.value, e.channel, e.ts
         FROM events e, jsonb_each(e.traits) AS t(key, value)
         WHERE e.workspace_id = $1 AND e.profile_id = ANY($2::uuid[]) AND e.traits IS NOT NULL
         ORDER BY e.profile_id, t.key, e.ts DESC
       ), tr AS (
         SELECT profile_id, jsonb_object_agg(key, jsonb_build_object('value', value, 'channel', channel,
                  'at', to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))) AS traits
         FROM latest GROUP BY profile_id
       )
       UPDATE profiles p SET first_seen_at = a.first_seen, last_seen_at = a.last_seen, channels = a.channels, event_count = a.n,
         order_count = a.orders, total_spend = a.spend, last_order_at = a.last_order, traits = coalesce(tr.traits, '{}'::jsonb)
       FROM a LEFT JOIN tr USING (profile_id)
       WHERE p.workspace_id = $1 AND p.id = a.profile_id`,
      [workspaceId, ids],
    );
  }

  async deleteExclusion(em: EntityManager, workspaceId: string, mergeId: string): Promise<number> {
    const r = await em.query(`DELETE FROM identity_exclusions WHERE workspace_id = $1 AND merge_id = $2 RETURNING 1`, [workspaceId, mergeId]);
    return r.length;
  }
}
