import type { EntityManager } from 'typeorm';

export type TagKind = 'manual' | 'rule' | 'system';

export interface TagRow {
  key: string;
  name: string;
  group_name: string;
  kind: TagKind;
  expression: string | null;
  description: string | null;
  time_dependent: boolean;
  created_at: Date;
  updated_at: Date;
}

export interface SegmentRow {
  id: string;
  key: string;
  name: string;
  description: string | null;
  expression: string;
  is_default: boolean;
  time_dependent: boolean;
  created_at: Date;
  updated_at: Date;
}

export interface MembershipChange {
  subjectKind: 'tag' | 'segment';
  subject: string;
  profileId: string;
  change: 'entered' | 'left';
  cause: string;
  at: Date;
}

export interface SweepStateRow {
  cursor_seq: string;
  pass_started_at: Date | null;
  last_pass_at: Date | null;
  profiles_done: number;
  profiles_total: number;
  changes: string;
}

const CHANGE_COLUMNS = 'subject_kind, subject, profile_id, change, cause, at';

/** SQL of tags, segments and memberships. Diffs are written set-based, with their change log. */
export class TagRepository {
  listTags(em: EntityManager, ws: string, group?: string): Promise<TagRow[]> {
    return em.query(
      `SELECT * FROM tags WHERE workspace_id = $1 AND ($2::text IS NULL OR group_name = $2) ORDER BY group_name, key`,
      [ws, group ?? null],
    );
  }

  async getTag(em: EntityManager, ws: string, key: string): Promise<TagRow | null> {
    return (await em.query(`SELECT * FROM tags WHERE workspace_id = $1 AND key = $2`, [ws, key]))[0] ?? null;
  }

  async existingTagKeys(em: EntityManager, ws: string, keys: string[]): Promise<Map<string, TagKind>> {
    if (!keys.length) return new Map();
    const rows: { key: string; kind: TagKind }[] = await em.query(`SELECT key, kind FROM tags WHERE workspace_id = $1 AND key = ANY($2::text[])`, [ws, keys]);
    return new Map(rows.map((r) => [r.key, r.kind]));
  }

  async insertTag(em: EntityManager, ws: string, t: Omit<TagRow, 'created_at' | 'updated_at'>): Promise<void> {
    await em.query(
      `INSERT INTO tags (workspace_id, key, name, group_name, kind, expression, description, time_dependent) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [ws, t.key, t.name, t.group_name, t.kind, t.expression, t.description, t.time_dependent],
    );
  }

  async updateTag(em: EntityManager, ws: string, t: Omit<TagRow, 'created_at' | 'updated_at' | 'kind'>): Promise<void> {
    await em.query(
      `UPDATE tags SET name = $3, group_name = $4, expression = $5, description = $6, time_dependent = $7, updated_at = now() WHERE workspace_id = $1 AND key = $2`,
      [ws, t.key, t.name, t.group_name, t.expression, t.description, t.time_dependent],
    );
  }

  async deleteTag(em: EntityManager, ws: string, key: string, cause: string): Promise<MembershipChange[]> {
    const rows = await em.query(
      `WITH gone AS (DELETE FROM profile_tags WHERE workspace_id = $1 AND tag_key = $2 RETURNING profile_id)
       INSERT INTO membership_changes (workspace_id, ${CHANGE_COLUMNS})
       SELECT $1, 'tag', $2, profile_id, 'left', $3, now() FROM gone RETURNING ${CHANGE_COLUMNS}`,
      [ws, key, cause],
    );
    await em.query(`DELETE FROM tags WHERE workspace_id = $1 AND key = $2`, [ws, key]);
    return rows.map(toChange);
  }

  listSegments(em: EntityManager, ws: string): Promise<SegmentRow[]> {
    return em.query(`SELECT * FROM segments WHERE workspace_id = $1 ORDER BY is_default DESC, created_at, key`, [ws]);
  }

  async getSegment(em: EntityManager, ws: string, id: string): Promise<SegmentRow | null> {
    return (await em.query(`SELECT * FROM segments WHERE workspace_id = $1 AND id = $2`, [ws, id]))[0] ?? null;
  }

  async insertSegment(em: EntityManager, ws: string, s: Omit<SegmentRow, 'id' | 'created_at' | 'updated_at'>): Promise<string> {
    const [r] = await em.query(
      `INSERT INTO segments (workspace_id, key, name, description, expression, is_default, time_dependent) VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (workspace_id, key) DO NOTHING RETURNING id`,
      [ws, s.key, s.name, s.description, s.expression, s.is_default, s.time_dependent],
    );
    return r?.id ?? null;
  }

  async updateSegment(em: EntityManager, ws: string, s: Pick<SegmentRow, 'id' | 'name' | 'description' | 'expression' | 'time_dependent'>): Promise<void> {
    await em.query(
      `UPDATE segments SET name = $3, description = $4, expression = $5, time_dependent = $6, updated_at = now() WHERE workspace_id = $1 AND id = $2`,
      [ws, s.id, s.name, s.description, s.expression, s.time_dependent],
    );
  }

  async deleteSegment(em: EntityManager, ws: string, id: string, cause: string): Promise<MembershipChange[]> {
    const rows = await em.query(
      `WITH gone AS (DELETE FROM segment_members WHERE workspace_id = $1 AND segment_id = $2 RETURNING profile_id)
       INSERT INTO membership_changes (workspace_id, ${CHANGE_COLUMNS})
       SELECT $1, 'segment', $2::text, profile_id, 'left', $3, now() FROM gone RETURNING ${CHANGE_COLUMNS}`,
      [ws, id, cause],
    );
    await em.query(`DELETE FROM segments WHERE workspace_id = $1 AND id = $2`, [ws, id]);
    return rows.map(toChange);
  }

  async tagsOf(em: EntityManager, ws: string, ids: readonly string[]): Promise<{ profile_id: string; tag_key: string; source: string; added_at: Date }[]> {
    if (!ids.length) return [];
    return em.query(`SELECT profile_id, tag_key, source, added_at FROM profile_tags WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[]) ORDER BY tag_key`, [ws, ids]);
  }

  async segmentsOf(em: EntityManager, ws: string, ids: readonly string[]): Promise<{ profile_id: string; segment_id: string; entered_at: Date }[]> {
    if (!ids.length) return [];
    return em.query(`SELECT profile_id, segment_id, entered_at FROM segment_members WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[])`, [ws, ids]);
  }

  /**
   * The variants of some profiles in some experiments (`variant()`): one row per clean exposure;
   * contaminated people are left out (their variant is null). Read from the experiments module's
   * read model, like `events`: the same rows the compiled SQL reads.
   */
  async variantsOf(em: EntityManager, ws: string, ids: readonly string[], experiments: readonly string[]): Promise<{ profile_id: string; experiment_key: string; variant_key: string }[]> {
    if (!ids.length || !experiments.length) return [];
    return em.query(
      `SELECT profile_id, experiment_key, variant_key FROM experiment_exposures
       WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[]) AND experiment_key = ANY($3::text[]) AND NOT contaminated`,
      [ws, ids, experiments],
    );
  }

  /**
   * The membership balance and level of some profiles (`points`, `level`), read from the membership
   * module's read model like `variantsOf`: the same rows the compiled SQL reads.
   */
  async membershipOf(em: EntityManager, ws: string, ids: readonly string[]): Promise<{ profile_id: string; points: string; level: string | null }[]> {
    if (!ids.length) return [];
    return em.query(`SELECT profile_id, points, level FROM profile_membership WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[])`, [ws, ids]);
  }

  /** Events of some profiles since a time (null: all), for in-memory evaluation. */
  async eventsSince(em: EntityManager, ws: string, ids: readonly string[], since: Date | null): Promise<{ profile_id: string; name: string | null; ts: Date; properties: Record<string, unknown> | null }[]> {
    if (!ids.length) return [];
    return em.query(
      `SELECT profile_id, name, ts, properties FROM events WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[]) AND ($3::timestamptz IS NULL OR ts >= $3)`,
      [ws, ids, since],
    );
  }

  async addTags(em: EntityManager, ws: string, rows: { profileId: string; key: string; source: string; cause: string }[]): Promise<MembershipChange[]> {
    if (!rows.length) return [];
    const r = await em.query(
      `WITH added AS (
         INSERT INTO profile_tags (workspace_id, profile_id, tag_key, source)
         SELECT $1, u.p, u.k, u.s FROM unnest($2::uuid[], $3::text[], $4::text[]) AS u(p, k, s)
         ON CONFLICT DO NOTHING RETURNING profile_id, tag_key)
       INSERT INTO membership_changes (workspace_id, ${CHANGE_COLUMNS})
       SELECT $1, 'tag', a.tag_key, a.profile_id, 'entered', c.cause, now()
       FROM added a JOIN (SELECT DISTINCT ON (p, k) * FROM unnest($2::uuid[], $3::text[], $5::text[]) AS c(p, k, cause)) c ON c.p = a.profile_id AND c.k = a.tag_key
       RETURNING ${CHANGE_COLUMNS}`,
      [ws, rows.map((x) => x.profileId), rows.map((x) => x.key), rows.map((x) => x.source), rows.map((x) => x.cause)],
    );
    return r.map(toChange);
  }

  async removeTags(em: EntityManager, ws: string, rows: { profileId: string; key: string; cause: string }[]): Promise<MembershipChange[]> {
    if (!rows.length) return [];
    const r = await em.query(
      `WITH gone AS (
         DELETE FROM profile_tags pt USING unnest($2::uuid[], $3::text[]) AS u(p, k)
         WHERE pt.workspace_id = $1 AND pt.profile_id = u.p AND pt.tag_key = u.k RETURNING pt.profile_id, pt.tag_key)
       INSERT INTO membership_changes (workspace_id, ${CHANGE_COLUMNS})
       SELECT $1, 'tag', g.tag_key, g.profile_id, 'left', c.cause, now()
       FROM gone g JOIN (SELECT DISTINCT ON (p, k) * FROM unnest($2::uuid[], $3::text[], $4::text[]) AS c(p, k, cause)) c ON c.p = g.profile_id AND c.k = g.tag_key
       RETURNING ${CHANGE_COLUMNS}`,
      [ws, rows.map((x) => x.profileId), rows.map((x) => x.key), rows.map((x) => x.cause)],
    );
    return r.map(toChange);
  }

  async enterSegments(em: EntityManager, ws: string, rows: { profileId: string; segmentId: string; cause: string }[]): Promise<MembershipChange[]> {
    if (!rows.length) return [];
    const r = await em.query(
      `WITH added AS (
         INSERT INTO segment_members (workspace_id, segment_id, profile_id)
         SELECT $1, u.s, u.p FROM unnest($2::uuid[], $3::uuid[]) AS u(s, p)
         ON CONFLICT DO NOTHING RETURNING segment_id, profile_id)
       INSERT INTO membership_changes (workspace_id, ${CHANGE_COLUMNS})
       SELECT $1, 'segment', a.segment_id::text, a.profile_id, 'entered', c.cause, now()
       FROM added a JOIN (SELECT DISTINCT ON (s, p) * FROM unnest($2::uuid[], $3::uuid[], $4::text[]) AS c(s, p, cause)) c ON c.s = a.segment_id AND c.p = a.profile_id
       RETURNING ${CHANGE_COLUMNS}`,
      [ws, rows.map((x) => x.segmentId), rows.map((x) => x.profileId), rows.map((x) => x.cause)],
    );
    return r.map(toChange);
  }

  async leaveSegments(em: EntityManager, ws: string, rows: { profileId: string; segmentId: string; cause: string }[]): Promise<MembershipChange[]> {
    if (!rows.length) return [];
    const r = await em.query(
      `WITH gone AS (
         DELETE FROM segment_members m USING unnest($2::uuid[], $3::uuid[]) AS u(s, p)
         WHERE m.workspace_id = $1 AND m.segment_id = u.s AND m.profile_id = u.p RETURNING m.segment_id, m.profile_id)
       INSERT INTO membership_changes (workspace_id, ${CHANGE_COLUMNS})
       SELECT $1, 'segment', g.segment_id::text, g.profile_id, 'left', c.cause, now()
       FROM gone g JOIN (SELECT DISTINCT ON (s, p) * FROM unnest($2::uuid[], $3::uuid[], $4::text[]) AS c(s, p, cause)) c ON c.s = g.segment_id AND c.p = g.profile_id
       RETURNING ${CHANGE_COLUMNS}`,
      [ws, rows.map((x) => x.segmentId), rows.map((x) => x.profileId), rows.map((x) => x.cause)],
    );
    return r.map(toChange);
  }

  /**
   * Full (or seq-range) recomputation of one rule tag or segment in one statement: members are the
   * live profiles matching `condition`; the difference is applied and logged.
   */
  async recompute(
    em: EntityManager,
    ws: string,
    target: { kind: 'tag'; key: string } | { kind: 'segment'; id: string },
    condition: string,
    params: unknown[],
    cause: string,
    range: { from: number; to: number } | null,
  ): Promise<MembershipChange[]> {
    const base = params.length;
    const all = [...params, target.kind === 'tag' ? target.key : target.id, cause, range?.from ?? null, range?.to ?? null];
    const subj = `$${base + 1}`;
    const causeP = `$${base + 2}`;
    const inRange = (alias: string) => `($${base + 3}::bigint IS NULL OR (${alias}.seq > $${base + 3} AND ${alias}.seq <= $${base + 4}))`;
    const want = `SELECT p.id FROM profiles p WHERE p.workspace_id = $1 AND p.merged_into IS NULL AND ${inRange('p')} AND (${condition})`;
    const sql =
      target.kind === 'tag'
        ? `WITH want AS (${want}),
           added AS (INSERT INTO profile_tags (workspace_id, profile_id, tag_key, source) SELECT $1, id, ${subj}, 'rule' FROM want ON CONFLICT DO NOTHING RETURNING profile_id),
           gone AS (DELETE FROM profile_tags pt WHERE pt.workspace_id = $1 AND pt.tag_key = ${subj}
                      AND pt.profile_id NOT IN (SELECT id FROM want)
                      AND ($${base + 3}::bigint IS NULL OR pt.profile_id IN (SELECT q.id FROM profiles q WHERE q.workspace_id = $1 AND ${inRange('q')}))
                    RETURNING profile_id)
           INSERT INTO membership_changes (workspace_id, ${CHANGE_COLUMNS})
           SELECT $1, 'tag', ${subj}, profile_id, 'entered', ${causeP}, now() FROM added
           UNION ALL SELECT $1, 'tag', ${subj}, profile_id, 'left', ${causeP}, now() FROM gone
           RETURNING ${CHANGE_COLUMNS}`
        : `WITH want AS (${want}),
           added AS (INSERT INTO segment_members (workspace_id, segment_id, profile_id) SELECT $1, ${subj}::uuid, id FROM want ON CONFLICT DO NOTHING RETURNING profile_id),
           gone AS (DELETE FROM segment_members m WHERE m.workspace_id = $1 AND m.segment_id = ${subj}::uuid
                      AND m.profile_id NOT IN (SELECT id FROM want)
                      AND ($${base + 3}::bigint IS NULL OR m.profile_id IN (SELECT q.id FROM profiles q WHERE q.workspace_id = $1 AND ${inRange('q')}))
                    RETURNING profile_id)
           INSERT INTO membership_changes (workspace_id, ${CHANGE_COLUMNS})
           SELECT $1, 'segment', ${subj}, profile_id, 'entered', ${causeP}, now() FROM added
           UNION ALL SELECT $1, 'segment', ${subj}, profile_id, 'left', ${causeP}, now() FROM gone
           RETURNING ${CHANGE_COLUMNS}`;
    return (await em.query(sql, all)).map(toChange);
  }

  async changesOf(em: EntityManager, ws: string, kind: 'tag' | 'segment', subject: string, limit: number): Promise<MembershipChange[]> {
    const rows = await em.query(
      `SELECT ${CHANGE_COLUMNS} FROM membership_changes WHERE workspace_id = $1 AND subject_kind = $2 AND subject = $3 ORDER BY id DESC LIMIT $4`,
      [ws, kind, subject, limit],
    );
    return rows.map(toChange);
  }

  async segmentSizes(em: EntityManager, ws: string, ids: readonly string[]): Promise<Map<string, number>> {
    const rows: { segment_id: string; n: number }[] = await em.query(
      `SELECT segment_id, count(*)::int AS n FROM segment_members WHERE workspace_id = $1 AND segment_id = ANY($2::uuid[]) GROUP BY segment_id`,
      [ws, ids],
    );
    return new Map(rows.map((r) => [r.segment_id, r.n]));
  }

  async tagSizes(em: EntityManager, ws: string, keys: readonly string[]): Promise<Map<string, number>> {
    const rows: { tag_key: string; n: number }[] = await em.query(
      `SELECT tag_key, count(*)::int AS n FROM profile_tags WHERE workspace_id = $1 AND tag_key = ANY($2::text[]) GROUP BY tag_key`,
      [ws, keys],
    );
    return new Map(rows.map((r) => [r.tag_key, r.n]));
  }

  /** Profiles per tag of a group, broken down by channel (a profile counts once per channel it was seen on). */
  tagDistribution(em: EntityManager, ws: string, group: string): Promise<{ tag_key: string; total: number; channel: string | null; n: number }[]> {
    return em.query(
      `WITH t AS (
         SELECT pt.tag_key, p.id, p.channels FROM profile_tags pt
         JOIN tags g ON g.workspace_id = pt.workspace_id AND g.key = pt.tag_key AND g.group_name = $2
         JOIN profiles p ON p.workspace_id = pt.workspace_id AND p.id = pt.profile_id
         WHERE pt.workspace_id = $1)
       SELECT t.tag_key, (SELECT count(*)::int FROM t t2 WHERE t2.tag_key = t.tag_key) AS total, c.channel, count(*)::int AS n
       FROM t LEFT JOIN LATERAL unnest(t.channels) AS c(channel) ON true
       GROUP BY t.tag_key, c.channel ORDER BY t.tag_key, n DESC`,
      [ws, group],
    );
  }

  async sweepState(em: EntityManager, ws: string): Promise<SweepStateRow | null> {
    return (await em.query(`SELECT * FROM sweep_state WHERE workspace_id = $1`, [ws]))[0] ?? null;
  }

  async saveSweepState(em: EntityManager, ws: string, s: { cursor: number; passStartedAt: Date | null; lastPassAt: Date | null; done: number; total: number; changes: number }): Promise<void> {
    await em.query(
      `INSERT INTO sweep_state (workspace_id, cursor_seq, pass_started_at, last_pass_at, profiles_done, profiles_total, changes, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, now())
       ON CONFLICT (workspace_id) DO UPDATE SET cursor_seq = $2, pass_started_at = $3, last_pass_at = $4, profiles_done = $5,
         profiles_total = $6, changes = sweep_state.changes + $7, updated_at = now()`,
      [ws, s.cursor, s.passStartedAt, s.lastPassAt, s.done, s.total, s.changes],
    );
  }

  /** The next chunk of live profiles by seq after the cursor: its upper bound and how many. */
  async nextChunk(em: EntityManager, ws: string, after: number, size: number): Promise<{ to: number | null; n: number; total: number }> {
    const [r] = await em.query(
      `SELECT max(seq) AS to, count(*)::int AS n, (SELECT count(*)::int FROM profiles WHERE workspace_id = $1 AND merged_into IS NULL) AS total
       FROM (SELECT seq FROM profiles WHERE workspace_id = $1 AND merged_into IS NULL AND seq > $2 ORDER BY seq LIMIT $3) c`,
      [ws, after, size],
    );
    return { to: r.to === null ? null : Number(r.to), n: r.n, total: r.total };
  }

  /** Per workspace: seconds since its last completed sweep pass, or since its creation before the first. */
  async sweepLag(em: EntityManager): Promise<{ workspaceId: string; seconds: number }[]> {
    const rows: { id: string; seconds: number }[] = await em.query(
      `SELECT w.id, extract(epoch FROM now() - coalesce(s.last_pass_at, w.created_at))::float8 AS seconds
         FROM workspaces w LEFT JOIN sweep_state s ON s.workspace_id = w.id`,
    );
    return rows.map((r) => ({ workspaceId: r.id, seconds: Math.max(0, r.seconds) }));
  }

  async workspaceIds(em: EntityManager): Promise<string[]> {
    return (await em.query(`SELECT id FROM workspaces ORDER BY created_at`)).map((r: { id: string }) => r.id);
  }

  /** RFM cells: recency/frequency/monetary quintiles among live buyers, as system tags `rfm:<R><F><M>`. */
  async recomputeRfm(em: EntityManager, ws: string, cause: string): Promise<MembershipChange[]> {
    await em.query(
      `INSERT INTO tags (workspace_id, key, name, group_name, kind, description)
       SELECT $1, 'rfm:' || r || f || m, 'RFM ' || r || f || m, 'RFM', 'system',
              'Recency/frequency/monetary quintiles (5 = best) among buyers of the workspace'
       FROM generate_series(1, 5) r, generate_series(1, 5) f, generate_series(1, 5) m
       ON CONFLICT DO NOTHING`,
      [ws],
    );
    const rows = await em.query(
      `WITH cell AS (
         SELECT id, 'rfm:' || ntile(5) OVER (ORDER BY last_order_at, id) || ntile(5) OVER (ORDER BY order_count, id) || ntile(5) OVER (ORDER BY total_spend, id) AS key
         FROM profiles WHERE workspace_id = $1 AND merged_into IS NULL AND order_count > 0),
       gone AS (DELETE FROM profile_tags pt WHERE pt.workspace_id = $1 AND pt.tag_key LIKE 'rfm:%'
                  AND NOT EXISTS (SELECT 1 FROM cell c WHERE c.id = pt.profile_id AND c.key = pt.tag_key) RETURNING profile_id, tag_key),
       added AS (INSERT INTO profile_tags (workspace_id, profile_id, tag_key, source) SELECT $1, id, key, 'system' FROM cell ON CONFLICT DO NOTHING RETURNING profile_id, tag_key)
       INSERT INTO membership_changes (workspace_id, ${CHANGE_COLUMNS})
       SELECT $1, 'tag', tag_key, profile_id, 'entered', $2, now() FROM added
       UNION ALL SELECT $1, 'tag', tag_key, profile_id, 'left', $2, now() FROM gone
       RETURNING ${CHANGE_COLUMNS}`,
      [ws, cause],
    );
    return rows.map(toChange);
  }

  /**
   * Sets one system tag per profile within a group (e.g. group `lifecycle` → `stage:purchase`):
   * creates the tag definitions as needed, removes the profile's other tags of that group, adds the
   * new one, and logs every change.
   */
  async replaceSystemTags(
    em: EntityManager,
    ws: string,
    group: string,
    rows: { profileId: string; key: string; name: string }[],
    cause: string,
  ): Promise<MembershipChange[]> {
    if (!rows.length) return [];
    await em.query(
      `INSERT INTO tags (workspace_id, key, name, group_name, kind)
       SELECT DISTINCT $1::uuid, u.k, u.n, $2::text, 'system' FROM unnest($3::text[], $4::text[]) AS u(k, n)
       ON CONFLICT DO NOTHING`,
      [ws, group, rows.map((r) => r.key), rows.map((r) => r.name)],
    );
    const r = await em.query(
      // Driven from the people (a primary-key probe each, OFFSET 0 keeps the planner from turning it
      // into a scan of every holder of the group's tags, which grows with the workspace), then by row id.
      `WITH want AS (SELECT * FROM unnest($2::uuid[], $3::text[]) AS u(p, k)),
       gone AS (DELETE FROM profile_tags pt WHERE pt.ctid = ANY(ARRAY(
                  SELECT x.ctid FROM want w
                  CROSS JOIN LATERAL (SELECT q.ctid, q.tag_key FROM profile_tags q WHERE q.workspace_id = $1 AND q.profile_id = w.p AND q.tag_key <> w.k OFFSET 0) x
                  WHERE x.tag_key IN (SELECT t.key FROM tags t WHERE t.workspace_id = $1 AND t.group_name = $4 AND t.kind = 'system')))
                RETURNING pt.profile_id, pt.tag_key),
       added AS (INSERT INTO profile_tags (workspace_id, profile_id, tag_key, source) SELECT $1, p, k, 'system' FROM want ON CONFLICT DO NOTHING RETURNING profile_id, tag_key)
       INSERT INTO membership_changes (workspace_id, ${CHANGE_COLUMNS})
       SELECT $1, 'tag', tag_key, profile_id, 'left', $5, now() FROM gone
       UNION ALL SELECT $1, 'tag', tag_key, profile_id, 'entered', $5, now() FROM added
       RETURNING ${CHANGE_COLUMNS}`,
      [ws, rows.map((x) => x.profileId), rows.map((x) => x.key), group, cause],
    );
    return r.map(toChange);
  }

  /** Merges move manual and system tags to the survivor; segment membership is re-evaluated. */
  async moveTagsOnMerge(em: EntityManager, ws: string, merged: string[], survivors: string[]): Promise<void> {
    if (!merged.length) return;
    await em.query(
      `INSERT INTO profile_tags (workspace_id, profile_id, tag_key, source, added_at)
       SELECT pt.workspace_id, u.s, pt.tag_key, pt.source, pt.added_at FROM profile_tags pt JOIN unnest($2::uuid[], $3::uuid[]) AS u(m, s) ON pt.profile_id = u.m
       WHERE pt.workspace_id = $1 AND pt.source <> 'rule' ON CONFLICT DO NOTHING`,
      [ws, merged, survivors],
    );
    await em.query(`DELETE FROM profile_tags WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[])`, [ws, merged]);
    await em.query(`DELETE FROM segment_members WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[])`, [ws, merged]);
  }
}

function toChange(r: { subject_kind: 'tag' | 'segment'; subject: string; profile_id: string; change: 'entered' | 'left'; cause: string; at: Date }): MembershipChange {
  return { subjectKind: r.subject_kind, subject: r.subject, profileId: r.profile_id, change: r.change, cause: r.cause, at: r.at };
}
