import type { EntityManager } from 'typeorm';
import type { ProfileAggregate } from './profile-aggregate';
import { survivorOf } from './profile.survivor';

interface AggregateRow {
  id: string;
  first_seen_at: Date | null;
  last_seen_at: Date | null;
  channels: string[];
  traits: ProfileAggregate['traits'];
  event_count: number;
  order_count: number;
  total_spend: string;
  last_order_at: Date | null;
}

export interface ProfileRow extends AggregateRow {
  workspace_id: string;
  seq: string;
  merged_into: string | null;
  created_at: Date;
  updated_at: Date;
}

const toAggregate = (r: AggregateRow): ProfileAggregate => ({
  id: r.id,
  firstSeenAt: r.first_seen_at,
  lastSeenAt: r.last_seen_at,
  channels: r.channels,
  traits: r.traits,
  eventCount: r.event_count,
  orderCount: r.order_count,
  totalSpend: Number(r.total_spend),
  lastOrderAt: r.last_order_at,
});

function columns(rows: ProfileAggregate[]) {
  return [
    rows.map((r) => r.id),
    rows.map((r) => r.firstSeenAt),
    rows.map((r) => r.lastSeenAt),
    rows.map((r) => `{${r.channels.join(',')}}`),
    rows.map((r) => JSON.stringify(r.traits)),
    rows.map((r) => r.eventCount),
    rows.map((r) => r.orderCount),
    rows.map((r) => r.totalSpend),
    rows.map((r) => r.lastOrderAt),
  ];
}

const UNNEST = `unnest($2::uuid[], $3::timestamptz[], $4::timestamptz[], $5::text[], $6::jsonb[], $7::int[], $8::int[], $9::numeric[], $10::timestamptz[])
  AS u(id, first_seen_at, last_seen_at, channels, traits, event_count, order_count, total_spend, last_order_at)`;

/** SQL of profiles. Aggregates are written for a whole batch at once. */
export class ProfileRepository {
  /** The aggregates of these profiles (only the live ones among them with `liveOnly`). */
  async loadAggregates(em: EntityManager, workspaceId: string, ids: string[], opts: { liveOnly?: boolean } = {}): Promise<Map<string, ProfileAggregate>> {
    if (!ids.length) return new Map();
    const rows: AggregateRow[] = await em.query(
      `SELECT id, first_seen_at, last_seen_at, channels, traits, event_count, order_count, total_spend, last_order_at
       FROM profiles WHERE workspace_id = $1 AND id = ANY($2::uuid[])${opts.liveOnly ? ' AND merged_into IS NULL' : ''}`,
      [workspaceId, ids],
    );
    return new Map(rows.map((r) => [r.id, toAggregate(r)]));
  }

  /** New profiles in creation order (their `seq` follows it), with merged ones already redirected. */
  async insertProfiles(em: EntityManager, workspaceId: string, rows: ProfileAggregate[], mergedInto: (string | null)[]): Promise<void> {
    if (!rows.length) return;
    await em.query(
      `INSERT INTO profiles (workspace_id, id, first_seen_at, last_seen_at, channels, traits, event_count, order_count, total_spend, last_order_at, merged_into)
       SELECT $1, u.id, u.first_seen_at, u.last_seen_at, u.channels::text[], u.traits, u.event_count, u.order_count, u.total_spend, u.last_order_at, u.merged_into
       FROM unnest($2::uuid[], $3::timestamptz[], $4::timestamptz[], $5::text[], $6::jsonb[], $7::int[], $8::int[], $9::numeric[], $10::timestamptz[], $11::uuid[])
         AS u(id, first_seen_at, last_seen_at, channels, traits, event_count, order_count, total_spend, last_order_at, merged_into)`,
      [workspaceId, ...columns(rows), mergedInto],
    );
  }

  async updateAggregates(em: EntityManager, workspaceId: string, rows: ProfileAggregate[]): Promise<void> {
    if (!rows.length) return;
    await em.query(
      `UPDATE profiles p SET first_seen_at = u.first_seen_at, last_seen_at = u.last_seen_at, channels = u.channels::text[],
         traits = u.traits, event_count = u.event_count, order_count = u.order_count, total_spend = u.total_spend,
         last_order_at = u.last_order_at, updated_at = now()
       FROM ${UNNEST} WHERE p.workspace_id = $1 AND p.id = u.id`,
      [workspaceId, ...columns(rows)],
    );
  }
}

export interface IdentifierReadRow {
  profile_id: string;
  type: string;
  namespace: string;
  value_key: string;
  value_enc: string | null;
  first_seen_at: Date;
  last_seen_at: Date;
}

export interface EventReadRow {
  profile_id: string;
  message_id: string;
  type: string;
  name: string | null;
  channel: string;
  ts: Date;
  received_at: Date;
  properties: Record<string, unknown> | null;
  context: Record<string, unknown> | null;
  traits: Record<string, unknown> | null;
}

export interface MergeReadRow {
  id: string;
  survivor_id: string;
  merged_id: string;
  event_message_id: string;
  linking: [string, string, string][];
  created_at: Date;
  undone_at: Date | null;
}

export interface ConflictReadRow {
  id: string;
  profile_id: string;
  other_profile_id: string | null;
  identifier: [string, string, string] | null;
  rule: string;
  limit_type: string | null;
  event_message_id: string;
  created_at: Date;
}

export interface RelationReadRow {
  id: string;
  kind: string;
  from_profile_id: string | null;
  to_profile_id: string;
  staff_id: string | null;
  event_message_id: string;
  occurred_at: Date;
}

export interface ProfileListFilter {
  channel?: string;
  /** Has every one of these tags. */
  tags?: string[];
  /** Is a member of this segment. */
  segment?: string;
  traits?: { name: string; equals: unknown }[];
  firstSeenFrom?: Date;
  firstSeenTo?: Date;
  lastSeenFrom?: Date;
  lastSeenTo?: Date;
  /** Health tier as stored (`healthy`, `stable`, `at_risk`, `dormant`). */
  healthTier?: string;
  healthScoreMin?: number;
  healthScoreMax?: number;
  /** Lifecycle stage key in any stage model. */
  stage?: string;
}

/** Read queries: each takes many keys and answers in one statement (DataLoader batches). */
export class ProfileReadRepository {
  /** Live profiles by id; merged ids resolve to their survivor. Result keyed by the asked id. */
  async profilesByIds(em: EntityManager, workspaceId: string, ids: readonly string[]): Promise<Map<string, ProfileRow>> {
    const rows: (ProfileRow & { asked: string })[] = await em.query(
      `SELECT a.asked, p.* FROM unnest($2::uuid[]) AS a(asked)
       JOIN profiles q ON q.workspace_id = $1 AND q.id = a.asked
       JOIN profiles p ON p.workspace_id = $1 AND p.id = ${survivorOf('q')}`,
      [workspaceId, ids],
    );
    return new Map(rows.map((r) => [r.asked, r]));
  }

  /**
   * `profilesByIds` for one id, with extra json columns computed over the live row `p` in the same
   * statement (a profile read with its relations: see profile.prefetch.ts). Values in column order.
   */
  async profileWith(
    em: EntityManager,
    workspaceId: string,
    key: { id: string } | { identifier: { type: string; namespace: string; valueKey: string } },
    columns: (param: (value: unknown) => string) => string[],
  ): Promise<{ row: ProfileRow; values: unknown[] } | null> {
    const params: unknown[] = [workspaceId];
    const bind = binder(params);
    // By identifier: its holder, looked up in the same statement (as `profileIdByIdentifier`).
    const asked =
      'id' in key
        ? `${bind(key.id)}::uuid`
        : `(SELECT profile_id FROM identifiers WHERE workspace_id = $1 AND type = ${bind(key.identifier.type)} AND namespace = ${bind(key.identifier.namespace)} AND value_key = ${bind(key.identifier.valueKey)})`;
    const extra = columns(bind);
    const [r]: Record<string, unknown>[] = await em.query(
      `SELECT p.*${extra.map((c, i) => `, ${c} AS _pf${i}`).join('')}
       FROM profiles q JOIN profiles p ON p.workspace_id = $1 AND p.id = ${survivorOf('q')}
       WHERE q.workspace_id = $1 AND q.id = ${asked}`,
      params,
    );
    return r ? split(r, extra.length) : null;
  }

  async profileIdByIdentifier(em: EntityManager, workspaceId: string, type: string, namespace: string, valueKey: string): Promise<string | null> {
    const rows = await em.query(
      `SELECT profile_id FROM identifiers WHERE workspace_id = $1 AND type = $2 AND namespace = $3 AND value_key = $4`,
      [workspaceId, type, namespace, valueKey],
    );
    return rows[0]?.profile_id ?? null;
  }

  identifiersOf(em: EntityManager, workspaceId: string, ids: readonly string[]): Promise<IdentifierReadRow[]> {
    return em.query(
      `SELECT profile_id, type, namespace, value_key, value_enc, first_seen_at, last_seen_at FROM identifiers
       WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[]) ORDER BY profile_id, type, namespace, first_seen_at, value_key`,
      [workspaceId, ids],
    );
  }

  /** The newest events of each profile, keyset-paginated by (ts, message_id) descending. */
  eventsOf(
    em: EntityManager,
    workspaceId: string,
    ids: readonly string[],
    opts: { limit: number; before?: { ts: Date; messageId: string }; name?: string },
  ): Promise<EventReadRow[]> {
    return em.query(
      `SELECT e.* FROM unnest($2::uuid[]) AS p(id) CROSS JOIN LATERAL (
         SELECT profile_id, message_id, type, name, channel, ts, received_at, properties, context, traits FROM events
         WHERE workspace_id = $1 AND profile_id = p.id
           AND ($4::text IS NULL OR name = $4)
           AND ($5::timestamptz IS NULL OR (ts, message_id) < ($5, $6::text))
         ORDER BY ts DESC, message_id DESC LIMIT $3
       ) e`,
      [workspaceId, ids, opts.limit, opts.name ?? null, opts.before?.ts ?? null, opts.before?.messageId ?? null],
    );
  }

  mergesOf(em: EntityManager, workspaceId: string, ids: readonly string[]): Promise<MergeReadRow[]> {
    return em.query(
      `SELECT id, survivor_id, merged_id, event_message_id, linking, created_at, undone_at FROM identity_merges
       WHERE workspace_id = $1 AND (survivor_id = ANY($2::uuid[]) OR merged_id = ANY($2::uuid[])) ORDER BY created_at, id`,
      [workspaceId, ids],
    );
  }

  conflictsOf(em: EntityManager, workspaceId: string, ids: readonly string[]): Promise<ConflictReadRow[]> {
    return em.query(
      `SELECT id, profile_id, other_profile_id, identifier, rule, limit_type, event_message_id, created_at FROM identity_conflicts
       WHERE workspace_id = $1 AND (profile_id = ANY($2::uuid[]) OR other_profile_id = ANY($2::uuid[])) ORDER BY created_at, id`,
      [workspaceId, ids],
    );
  }

  relationsOf(em: EntityManager, workspaceId: string, ids: readonly string[]): Promise<RelationReadRow[]> {
    return em.query(
      `SELECT id, kind, from_profile_id, to_profile_id, staff_id, event_message_id, occurred_at FROM relations
       WHERE workspace_id = $1 AND (to_profile_id = ANY($2::uuid[]) OR from_profile_id = ANY($2::uuid[])) ORDER BY occurred_at, id`,
      [workspaceId, ids],
    );
  }

  /**
   * Live profiles matching the filter, in creation order after `afterSeq`; with `columns`, extra
   * json columns over each row `p` in the same statement (values in column order, per row).
   */
  async list(
    em: EntityManager,
    workspaceId: string,
    filter: ProfileListFilter,
    limit: number,
    afterSeq: number | null,
    columns?: (param: (value: unknown) => string) => string[],
  ): Promise<{ row: ProfileRow; values: unknown[] }[]> {
    const { where, params } = filterWhere(workspaceId, filter);
    if (afterSeq !== null) {
      params.push(afterSeq);
      where.push(`seq > $${params.length}`);
    }
    params.push(limit);
    const page = `SELECT * FROM profiles WHERE ${where.join(' AND ')} ORDER BY seq LIMIT $${params.length}`;
    const extra = columns?.(binder(params)) ?? [];
    if (!extra.length) return (await em.query(page, params)).map((row: ProfileRow) => ({ row, values: [] }));
    const rows: Record<string, unknown>[] = await em.query(
      `SELECT p.*${extra.map((c, i) => `, ${c} AS _pf${i}`).join('')} FROM (${page}) p ORDER BY p.seq`,
      params,
    );
    return rows.map((r) => split(r, extra.length));
  }

  /** How many live profiles match the filter (all pages). */
  async count(em: EntityManager, workspaceId: string, filter: ProfileListFilter): Promise<number> {
    const { where, params } = filterWhere(workspaceId, filter);
    const [r] = await em.query(`SELECT count(*)::int AS n FROM profiles WHERE ${where.join(' AND ')}`, params);
    return r.n;
  }
}

/** The conditions of `list` and `count`: live profiles of the workspace matching the filter. */
function filterWhere(workspaceId: string, filter: ProfileListFilter): { where: string[]; params: unknown[] } {
  const where = ['workspace_id = $1', 'merged_into IS NULL'];
  const params: unknown[] = [workspaceId];
  const add = (sql: string, v: unknown) => {
    params.push(v);
    where.push(sql.replace('?', `$${params.length}`));
  };
  if (filter.channel) add('? = ANY(channels)', filter.channel);
  for (const t of filter.traits ?? []) {
    add(`traits -> ? -> 'value' = `, t.name);
    params.push(JSON.stringify(t.equals));
    where[where.length - 1] += `$${params.length}::jsonb`;
  }
  for (const tag of filter.tags ?? []) {
    add('EXISTS (SELECT 1 FROM profile_tags pt WHERE pt.workspace_id = profiles.workspace_id AND pt.profile_id = profiles.id AND pt.tag_key = ?)', tag);
  }
  if (filter.segment) {
    add('EXISTS (SELECT 1 FROM segment_members sm WHERE sm.workspace_id = profiles.workspace_id AND sm.profile_id = profiles.id AND sm.segment_id = ?::uuid)', filter.segment);
  }
  if (filter.firstSeenFrom) add('first_seen_at >= ?', filter.firstSeenFrom);
  if (filter.firstSeenTo) add('first_seen_at < ?', filter.firstSeenTo);
  if (filter.lastSeenFrom) add('last_seen_at >= ?', filter.lastSeenFrom);
  if (filter.lastSeenTo) add('last_seen_at < ?', filter.lastSeenTo);
  const health: string[] = [];
  const addHealth = (sql: string, v: unknown) => {
    params.push(v);
    health.push(sql.replace('?', `$${params.length}`));
  };
  if (filter.healthTier) addHealth('ph.tier = ?', filter.healthTier);
  if (filter.healthScoreMin !== undefined && filter.healthScoreMin !== null) addHealth('ph.score >= ?::numeric', filter.healthScoreMin);
  if (filter.healthScoreMax !== undefined && filter.healthScoreMax !== null) addHealth('ph.score <= ?::numeric', filter.healthScoreMax);
  if (health.length) {
    where.push(`EXISTS (SELECT 1 FROM profile_health ph WHERE ph.workspace_id = profiles.workspace_id AND ph.profile_id = profiles.id AND ${health.join(' AND ')})`);
  }
  if (filter.stage) {
    add('EXISTS (SELECT 1 FROM profile_stages ps WHERE ps.workspace_id = profiles.workspace_id AND ps.profile_id = profiles.id AND ps.stage = ?)', filter.stage);
  }
  return { where, params };
}

/** Binds values after `params`' own, returning their placeholders. */
function binder(params: unknown[]): (value: unknown) => string {
  return (value) => {
    params.push(value);
    return `$${params.length}`;
  };
}

/** Separates the extra `_pf<i>` columns from the profile row. */
function split(r: Record<string, unknown>, n: number): { row: ProfileRow; values: unknown[] } {
  const values: unknown[] = [];
  for (let i = 0; i < n; i++) {
    values.push(r[`_pf${i}`]);
    delete r[`_pf${i}`];
  }
  return { row: r as unknown as ProfileRow, values };
}
