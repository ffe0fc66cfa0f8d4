import type { EntityManager } from 'typeorm';
import type { LedgerEntry, LevelBasis, LevelChange, LevelRules, MemberState } from './membership.rules';
import { ORDER_COMPLETED, POINTS_EARNED, POINTS_REDEEMED } from './membership.rules';

export interface LedgerRow extends LedgerEntry {
  profileId: string;
  reason: string | null;
}

export interface LevelChangeRow extends LevelChange {
  id: string;
  profileId: string;
  basis: LevelBasis;
}

/** A person's carried SPEND state (`spend` null: never derived under a SPEND ladder). */
export interface SpendState {
  level: string | null;
  since: Date | null;
  spend: number | null;
  asOf: Date | null;
}

type RulesRow = { version: number; levels: LevelRules['levels']; basis: LevelBasis | null; window_days: number | null; changed_at: Date; changed_by: string | null };
const toVersion = (r: RulesRow): RulesVersion => ({
  version: r.version,
  // Rows saved before the basis existed read the points balance.
  rules: { levels: r.levels, basis: r.basis ?? 'POINTS', windowDays: r.window_days ?? null },
  changedAt: r.changed_at,
  changedBy: r.changed_by,
});

export interface RulesVersion {
  version: number;
  rules: LevelRules;
  changedAt: Date;
  changedBy: string | null;
}

const num = (v: unknown): number => Number(v);

/** SQL of the membership module. Every statement is set-based (`unnest`, `= ANY`). */
export class MembershipRepository {
  async currentRules(em: EntityManager, ws: string): Promise<RulesVersion | null> {
    const [r] = await em.query(`SELECT version, levels, basis, window_days, changed_at, changed_by FROM membership_rules WHERE workspace_id = $1 ORDER BY version DESC LIMIT 1`, [ws]);
    return r ? toVersion(r) : null;
  }

  async rulesHistory(em: EntityManager, ws: string, first: number): Promise<RulesVersion[]> {
    const rows: RulesRow[] = await em.query(`SELECT version, levels, basis, window_days, changed_at, changed_by FROM membership_rules WHERE workspace_id = $1 ORDER BY version DESC LIMIT $2`, [ws, first]);
    return rows.map(toVersion);
  }

  async saveRules(em: EntityManager, ws: string, rules: LevelRules, by: string | null): Promise<number> {
    const [r] = await em.query(
      `INSERT INTO membership_rules (workspace_id, version, levels, changed_by, basis, window_days)
       SELECT $1, coalesce(max(version), 0) + 1, $2::jsonb, $3, $4, $5::int FROM membership_rules WHERE workspace_id = $1
       RETURNING version`,
      [ws, JSON.stringify(rules.levels), by, rules.basis, rules.windowDays],
    );
    return r.version;
  }

  /**
   * Appends ledger rows; a message id already in the ledger is skipped (`resync`: its row is set
   * to the event's person instead). Returns the rows inserted.
   */
  async insertLedger(em: EntityManager, ws: string, rows: LedgerRow[], resync = false): Promise<LedgerRow[]> {
    if (!rows.length) return [];
    const ins: { message_id: string }[] = await em.query(
      `WITH i AS (
         INSERT INTO points_ledger (workspace_id, message_id, profile_id, delta, reason, ts)
         SELECT $1, * FROM unnest($2::text[], $3::uuid[], $4::numeric[], $5::text[], $6::timestamptz[])
         ON CONFLICT (workspace_id, message_id) DO ${resync ? 'UPDATE SET profile_id = excluded.profile_id, delta = excluded.delta, reason = excluded.reason, ts = excluded.ts' : 'NOTHING'}
         RETURNING message_id)
       SELECT message_id FROM i`,
      [ws, rows.map((r) => r.messageId), rows.map((r) => r.profileId), rows.map((r) => r.delta), rows.map((r) => r.reason), rows.map((r) => r.ts)],
    );
    const done = new Set(ins.map((r) => r.message_id));
    return rows.filter((r) => done.has(r.messageId));
  }

  /** Moves merged-away profiles' ledger rows to their survivors and drops their own state and history (the survivor's is replayed). */
  async moveMerged(em: EntityManager, ws: string, merged: { mergedId: string; survivorId: string }[]): Promise<void> {
    if (!merged.length) return;
    const ids = merged.map((m) => m.mergedId);
    await em.query(
      `UPDATE points_ledger l SET profile_id = u.s FROM unnest($2::uuid[], $3::uuid[]) AS u(m, s) WHERE l.workspace_id = $1 AND l.profile_id = u.m`,
      [ws, ids, merged.map((m) => m.survivorId)],
    );
    await this.deleteStates(em, ws, ids);
  }

  /** These people's stored points events (an unmerge moved events between them; a rebuild). */
  async pointsEvents(em: EntityManager, ws: string, ids: string[]): Promise<{ message_id: string; profile_id: string; ts: Date; type: string; name: string; properties: Record<string, unknown> | null }[]> {
    if (!ids.length) return [];
    return em.query(
      `SELECT e.message_id, e.profile_id, e.ts, e.type, e.name, e.properties FROM events e
       WHERE e.workspace_id = $1 AND e.profile_id = ANY($2::uuid[]) AND e.type = 'track' AND e.name IN ('${POINTS_EARNED}', '${POINTS_REDEEMED}')`,
      [ws, ids],
    );
  }

  /** The whole ledger of these people, in (time, message id) order (replays: merges, late entries, rule changes, rebuilds). */
  async ledgerOf(em: EntityManager, ws: string, ids: readonly string[]): Promise<LedgerRow[]> {
    if (!ids.length) return [];
    const rows = await em.query(
      `SELECT message_id, profile_id, delta, reason, ts FROM points_ledger WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[]) ORDER BY profile_id, ts, message_id`,
      [ws, ids],
    );
    return rows.map((r: Record<string, unknown>) => ({ messageId: r.message_id as string, profileId: r.profile_id as string, delta: num(r.delta), reason: r.reason as string | null, ts: r.ts as Date }));
  }

  /** The newest `first` ledger rows of each person, newest first. */
  async recentLedger(em: EntityManager, ws: string, ids: readonly string[], first: number): Promise<LedgerRow[]> {
    const rows = await em.query(
      `SELECT l.* FROM unnest($2::uuid[]) AS u(p)
       CROSS JOIN LATERAL (SELECT message_id, profile_id, delta, reason, ts FROM points_ledger
                           WHERE workspace_id = $1 AND profile_id = u.p ORDER BY ts DESC, message_id DESC LIMIT $3) l`,
      [ws, ids, first],
    );
    return rows.map((r: Record<string, unknown>) => ({ messageId: r.message_id as string, profileId: r.profile_id as string, delta: num(r.delta), reason: r.reason as string | null, ts: r.ts as Date }));
  }

  async states(em: EntityManager, ws: string, ids: readonly string[]): Promise<Map<string, MemberState>> {
    if (!ids.length) return new Map();
    const rows = await em.query(`SELECT profile_id, points, level, level_since, last_entry_at, spend FROM profile_membership WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[])`, [ws, ids]);
    return new Map(
      rows.map((r: Record<string, unknown>) => [
        r.profile_id as string,
        { points: num(r.points), level: r.level as string | null, since: r.level_since as Date | null, lastEntryAt: r.last_entry_at as Date | null, spend: r.spend === null ? null : num(r.spend) },
      ]),
    );
  }

  /** These people's carried SPEND state (people without a row are absent). */
  async spendStates(em: EntityManager, ws: string, ids: readonly string[]): Promise<Map<string, SpendState>> {
    if (!ids.length) return new Map();
    const rows = await em.query(`SELECT profile_id, level, level_since, spend, spend_as_of FROM profile_membership WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[])`, [ws, ids]);
    return new Map(
      rows.map((r: Record<string, unknown>) => [
        r.profile_id as string,
        { level: r.level as string | null, since: r.level_since as Date | null, spend: r.spend === null ? null : num(r.spend), asOf: r.spend_as_of as Date | null },
      ]),
    );
  }

  /**
   * The orders of these people with event time at or after `from` − window (`from` null: all), in
   * (time, message id) order: each person's own rows of `events_orders_idx` (partial on the order
   * event's name, which is why the name is in the statement rather than a parameter).
   */
  async ordersFrom(em: EntityManager, ws: string, pairs: { profileId: string; from: Date | null }[], windowDays: number): Promise<{ profile_id: string; message_id: string; ts: Date; properties: Record<string, unknown> | null }[]> {
    if (!pairs.length) return [];
    return em.query(
      `SELECT e.profile_id, e.message_id, e.ts, e.properties FROM unnest($2::uuid[], $3::timestamptz[]) AS u(p, f)
       JOIN events e ON e.workspace_id = $1 AND e.profile_id = u.p AND e.name = '${ORDER_COMPLETED}' AND e.type = 'track'
        AND e.ts >= coalesce(u.f - $4::int * interval '1 day', '-infinity'::timestamptz)
       ORDER BY e.profile_id, e.ts, e.message_id`,
      [ws, pairs.map((p) => p.profileId), pairs.map((p) => p.from), windowDays],
    );
  }

  /** Deletes each person's level changes at or after their `from` (null: all of them): the walk writes them again. */
  async cutChanges(em: EntityManager, ws: string, pairs: { profileId: string; from: Date | null }[]): Promise<void> {
    if (!pairs.length) return;
    await em.query(
      `DELETE FROM level_changes c USING unnest($2::uuid[], $3::timestamptz[]) AS u(p, f)
       WHERE c.workspace_id = $1 AND c.profile_id = u.p AND (u.f IS NULL OR c.at >= u.f)`,
      [ws, pairs.map((p) => p.profileId), pairs.map((p) => p.from)],
    );
  }

  /** Sets these people's SPEND level, since, in-window spend and the instant it was derived at (a new row has no points). */
  async upsertSpend(em: EntityManager, ws: string, rows: { profileId: string; level: string | null; since: Date | null; spend: number; asOf: Date }[]): Promise<void> {
    if (!rows.length) return;
    await em.query(
      `INSERT INTO profile_membership (workspace_id, profile_id, points, level, level_since, spend, spend_as_of)
       SELECT $1, u.p, 0, u.l, u.s, u.n, u.a FROM unnest($2::uuid[], $3::text[], $4::timestamptz[], $5::numeric[], $6::timestamptz[]) AS u(p, l, s, n, a)
       ON CONFLICT (workspace_id, profile_id) DO UPDATE SET level = excluded.level, level_since = excluded.level_since, spend = excluded.spend,
         spend_as_of = excluded.spend_as_of, updated_at = now()`,
      [ws, rows.map((r) => r.profileId), rows.map((r) => r.level), rows.map((r) => r.since), rows.map((r) => r.spend), rows.map((r) => r.asOf)],
    );
  }

  /** Sets these people's points balance alone (under a SPEND ladder the level does not read it). */
  async upsertPoints(em: EntityManager, ws: string, rows: { profileId: string; s: MemberState }[]): Promise<void> {
    if (!rows.length) return;
    await em.query(
      `INSERT INTO profile_membership (workspace_id, profile_id, points, last_entry_at)
       SELECT $1, * FROM unnest($2::uuid[], $3::numeric[], $4::timestamptz[])
       ON CONFLICT (workspace_id, profile_id) DO UPDATE SET points = excluded.points, last_entry_at = excluded.last_entry_at, updated_at = now()`,
      [ws, rows.map((r) => r.profileId), rows.map((r) => r.s.points), rows.map((r) => r.s.lastEntryAt)],
    );
  }

  async upsertStates(em: EntityManager, ws: string, rows: { profileId: string; s: MemberState }[]): Promise<void> {
    if (!rows.length) return;
    await em.query(
      `INSERT INTO profile_membership (workspace_id, profile_id, points, level, level_since, last_entry_at)
       SELECT $1, * FROM unnest($2::uuid[], $3::numeric[], $4::text[], $5::timestamptz[], $6::timestamptz[])
       ON CONFLICT (workspace_id, profile_id) DO UPDATE SET points = excluded.points, level = excluded.level, level_since = excluded.level_since,
         last_entry_at = excluded.last_entry_at, updated_at = now()`,
      [ws, rows.map((r) => r.profileId), rows.map((r) => r.s.points), rows.map((r) => r.s.level), rows.map((r) => r.s.since), rows.map((r) => r.s.lastEntryAt)],
    );
  }

  /** Deletes these people's balance, level and level history (a replay writes them again). */
  async deleteStates(em: EntityManager, ws: string, ids: string[]): Promise<void> {
    if (!ids.length) return;
    await em.query(`DELETE FROM profile_membership WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[])`, [ws, ids]);
    await em.query(`DELETE FROM level_changes WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[])`, [ws, ids]);
  }

  async insertChanges(em: EntityManager, ws: string, rows: { profileId: string; c: LevelChange }[]): Promise<void> {
    if (!rows.length) return;
    await em.query(
      `INSERT INTO level_changes (workspace_id, profile_id, from_level, to_level, at, cause, points, basis)
       SELECT $1, u.p, u.f, u.t, u.a, u.c, u.n, u.b
       FROM unnest($2::uuid[], $3::text[], $4::text[], $5::timestamptz[], $6::text[], $7::numeric[], $8::text[]) WITH ORDINALITY AS u(p, f, t, a, c, n, b, o)
       ORDER BY u.o`,
      [ws, rows.map((r) => r.profileId), rows.map((r) => r.c.from), rows.map((r) => r.c.to), rows.map((r) => r.c.at), rows.map((r) => r.c.cause), rows.map((r) => r.c.points), rows.map((r) => r.c.basis ?? 'POINTS')],
    );
  }

  /** The newest `first` level changes of each person, newest first. */
  async recentChanges(em: EntityManager, ws: string, ids: readonly string[], first: number): Promise<LevelChangeRow[]> {
    const rows = await em.query(
      `SELECT c.* FROM unnest($2::uuid[]) AS u(p)
       CROSS JOIN LATERAL (SELECT id, profile_id, from_level, to_level, at, cause, points, basis FROM level_changes
                           WHERE workspace_id = $1 AND profile_id = u.p ORDER BY id DESC LIMIT $3) c`,
      [ws, ids, first],
    );
    return rows.map((r: Record<string, unknown>) => ({
      id: String(r.id),
      profileId: r.profile_id as string,
      from: r.from_level as string | null,
      to: r.to_level as string | null,
      at: r.at as Date,
      cause: r.cause as string,
      points: num(r.points),
      basis: r.basis as LevelBasis,
    }));
  }

  /**
   * People with a membership row (and, `withOrders`, people with an order), by id, a page at a time
   * (a rules change replays them all).
   */
  async membersAfter(em: EntityManager, ws: string, after: string | null, limit: number, withOrders = false): Promise<string[]> {
    // Each branch stops at its first `limit` people in id order (buyers: an in-order walk of `events_orders_idx`).
    const orders = withOrders
      ? `UNION (SELECT DISTINCT profile_id FROM events WHERE workspace_id = $1 AND name = '${ORDER_COMPLETED}' AND type = 'track'
                  AND profile_id > coalesce($2::uuid, '00000000-0000-0000-0000-000000000000'::uuid) ORDER BY profile_id LIMIT $3)`
      : '';
    const rows: { profile_id: string }[] = await em.query(
      `SELECT profile_id FROM (
         (SELECT profile_id FROM profile_membership WHERE workspace_id = $1 AND profile_id > coalesce($2::uuid, '00000000-0000-0000-0000-000000000000'::uuid) ORDER BY profile_id LIMIT $3)
         ${orders}) m
       ORDER BY profile_id LIMIT $3`,
      [ws, after, limit],
    );
    return rows.map((r) => r.profile_id);
  }
}
