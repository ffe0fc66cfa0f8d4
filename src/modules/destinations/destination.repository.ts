import type { EntityManager } from 'typeorm';
import type { DeliveryKind, DestinationFormatKey } from './destination.formats';

export interface DestinationRow {
  id: string;
  workspace_id: string;
  name: string;
  format: DestinationFormatKey;
  url: string;
  /** The signing secret as stored: sealed (`secret_sealed`) or, for rows from before sealing, plain. */
  secret: string | null;
  secret_sealed: boolean;
  events: DeliveryKind[];
  segment_ids: string[] | null;
  journey_ids: string[] | null;
  min_alert_level: 'normal' | 'important' | 'urgent';
  enabled: boolean;
  allow_personal_data: boolean;
  allow_private_network: boolean;
  max_attempts: number;
  timeout_ms: number;
  created_at: Date;
  updated_at: Date;
}

export type DeliveryStatusKey = 'pending' | 'delivered' | 'dead' | 'suppressed';

export interface DeliveryRow {
  id: string;
  workspace_id: string;
  destination_id: string;
  kind: DeliveryKind;
  source_key: string;
  profile_id: string | null;
  data: Record<string, unknown>;
  status: DeliveryStatusKey;
  attempts: number;
  next_attempt_at: Date;
  last_attempt_at: Date | null;
  last_status: number | null;
  last_error: string | null;
  created_at: Date;
  finished_at: Date | null;
  replay_of: string | null;
  replayed_at: Date | null;
}

/** The writable settings of a destination. */
export type DestinationSettings = Omit<DestinationRow, 'id' | 'workspace_id' | 'created_at' | 'updated_at'>;

const DEST_COLS = `id, workspace_id, name, format, url, secret, secret_sealed, events, segment_ids, journey_ids, min_alert_level, enabled, allow_personal_data, allow_private_network, max_attempts, timeout_ms, created_at, updated_at`;
// `id` and `replay_of` read as text (bigint); ORDER BY must name the column (`dd.id`), not the text alias.
const DELIVERY_COLS = `dd.id::text AS id, workspace_id, destination_id, kind, source_key, profile_id, data, status, attempts, next_attempt_at, last_attempt_at, last_status, last_error, created_at, finished_at, dd.replay_of::text AS replay_of, replayed_at`;

/**
 * The lease a worker holds on a destination while it sends: twice its timeout plus 5 s, renewed
 * before each item (an instance that dies mid-send holds its destinations this long at most).
 */
const LEASE = `make_interval(secs => timeout_ms / 500.0 + 5)`;

/** SQL of destinations and their outbox (`destination_deliveries`). */
export class DestinationRepository {
  list(em: EntityManager, ws: string): Promise<DestinationRow[]> {
    return em.query(`SELECT ${DEST_COLS} FROM destinations WHERE workspace_id = $1 ORDER BY created_at, id`, [ws]);
  }

  async get(em: EntityManager, ws: string, id: string): Promise<DestinationRow | null> {
    const [r] = await em.query(`SELECT ${DEST_COLS} FROM destinations WHERE workspace_id = $1 AND id = $2`, [ws, id]);
    return r ?? null;
  }

  async insert(em: EntityManager, ws: string, s: DestinationSettings): Promise<DestinationRow> {
    const [r] = await em.query(
      `INSERT INTO destinations (workspace_id, name, format, url, secret, events, segment_ids, journey_ids, min_alert_level, enabled, allow_personal_data, allow_private_network, max_attempts, timeout_ms, secret_sealed)
       VALUES ($1, $2, $3, $4, $5, $6::text[], $7::text[], $8::uuid[], $9, $10, $11, $12, $13, $14, $15) RETURNING ${DEST_COLS}`,
      [ws, s.name, s.format, s.url, s.secret, s.events, s.segment_ids, s.journey_ids, s.min_alert_level, s.enabled, s.allow_personal_data, s.allow_private_network, s.max_attempts, s.timeout_ms, s.secret_sealed],
    );
    return r;
  }

  async update(em: EntityManager, ws: string, id: string, s: DestinationSettings): Promise<DestinationRow> {
    const [[r]] = await em.query(
      `UPDATE destinations SET name = $3, format = $4, url = $5, secret = $6, events = $7::text[], segment_ids = $8::text[], journey_ids = $9::uuid[], min_alert_level = $10,
              enabled = $11, allow_personal_data = $12, allow_private_network = $13, max_attempts = $14, timeout_ms = $15, secret_sealed = $16, updated_at = now()
       WHERE workspace_id = $1 AND id = $2 RETURNING ${DEST_COLS}`,
      [ws, id, s.name, s.format, s.url, s.secret, s.events, s.segment_ids, s.journey_ids, s.min_alert_level, s.enabled, s.allow_personal_data, s.allow_private_network, s.max_attempts, s.timeout_ms, s.secret_sealed],
    );
    return r;
  }

  /** Secrets still stored in plain text (rows from before sealing), any workspace. */
  plainSecrets(em: EntityManager): Promise<{ workspace_id: string; id: string; secret: string }[]> {
    return em.query(`SELECT workspace_id, id, secret FROM destinations WHERE secret IS NOT NULL AND NOT secret_sealed`);
  }

  /** Replaces a plain secret by its sealed form (only if it is still the plain one). */
  async sealSecret(em: EntityManager, ws: string, id: string, plain: string, sealed: string): Promise<void> {
    await em.query(`UPDATE destinations SET secret = $4, secret_sealed = true WHERE workspace_id = $1 AND id = $2 AND secret = $3 AND NOT secret_sealed`, [ws, id, plain, sealed]);
  }

  async delete(em: EntityManager, ws: string, id: string): Promise<boolean> {
    const [rows] = await em.query(`DELETE FROM destinations WHERE workspace_id = $1 AND id = $2 RETURNING id`, [ws, id]);
    return rows.length > 0;
  }

  /** The delivery log, newest first, from before `beforeId`. */
  deliveries(em: EntityManager, ws: string, f: { destinationId: string | null; status: DeliveryStatusKey | null; deadOnly: boolean; beforeId: string | null; limit: number }): Promise<DeliveryRow[]> {
    return em.query(
      `SELECT ${DELIVERY_COLS} FROM destination_deliveries dd
        WHERE workspace_id = $1 AND ($2::uuid IS NULL OR destination_id = $2) AND ($3::text IS NULL OR status = $3)
          AND ($4::bigint IS NULL OR dd.id < $4) ${f.deadOnly ? `AND status = 'dead' AND replayed_at IS NULL` : ''}
        ORDER BY dd.id DESC LIMIT $5`,
      [ws, f.destinationId, f.status, f.beforeId, f.limit],
    );
  }

  async delivery(em: EntityManager, ws: string, id: string): Promise<DeliveryRow | null> {
    const [r] = await em.query(`SELECT ${DELIVERY_COLS} FROM destination_deliveries dd WHERE workspace_id = $1 AND dd.id = $2`, [ws, id]);
    return r ?? null;
  }

  /**
   * Replays dead letters: each goes to the end of its destination's queue as a new delivery (so
   * per-destination order stays the order of the log), and the dead one is marked replayed.
   */
  async replay(em: EntityManager, ws: string, f: { ids: string[] | null; destinationId: string | null }): Promise<DeliveryRow[]> {
    const [marked] = await em.query(
      `UPDATE destination_deliveries SET replayed_at = now()
        WHERE workspace_id = $1 AND status = 'dead' AND replayed_at IS NULL
          AND ($2::bigint[] IS NULL OR id = ANY($2::bigint[])) AND ($3::uuid IS NULL OR destination_id = $3)
        RETURNING id`,
      [ws, f.ids, f.destinationId],
    );
    if (!marked.length) return [];
    return em.query(
      `INSERT INTO destination_deliveries AS dd (workspace_id, destination_id, kind, source_key, profile_id, data, replay_of)
       SELECT workspace_id, destination_id, kind, source_key, profile_id, data, id FROM destination_deliveries
        WHERE workspace_id = $1 AND id = ANY($2::bigint[]) ORDER BY id
       RETURNING ${DELIVERY_COLS}`,
      [ws, marked.map((m: { id: string }) => m.id)],
    );
  }

  // ---- the worker ------------------------------------------------------------------------------

  /**
   * Leases up to `limit` enabled destinations whose oldest pending delivery is due and that no
   * live lease holds. SKIP LOCKED: instances claiming at once take different destinations.
   */
  claim(em: EntityManager, owner: string, limit: number): Promise<DestinationRow[]> {
    return em.query(
      `UPDATE destinations d SET lease_owner = $1, lease_until = now() + ${LEASE}
        WHERE (d.workspace_id, d.id) IN (
          SELECT c.workspace_id, c.id FROM destinations c
           WHERE c.enabled AND (c.lease_until IS NULL OR c.lease_until < now())
             AND (SELECT h.next_attempt_at FROM destination_deliveries h WHERE h.destination_id = c.id AND h.status = 'pending' ORDER BY h.id LIMIT 1) <= now()
           ORDER BY c.lease_until NULLS FIRST
           LIMIT $2 FOR UPDATE SKIP LOCKED)
        RETURNING ${DEST_COLS.split(', ').map((c) => `d.${c}`).join(', ')}`,
      [owner, limit],
    ).then((r: [DestinationRow[], number] | DestinationRow[]) => (Array.isArray(r[0]) ? (r[0] as DestinationRow[]) : (r as DestinationRow[])));
  }

  /** Extends the lease; false when this worker no longer holds it. */
  async renew(em: EntityManager, ws: string, id: string, owner: string): Promise<boolean> {
    const [rows] = await em.query(`UPDATE destinations SET lease_until = now() + ${LEASE} WHERE workspace_id = $1 AND id = $2 AND lease_owner = $3 RETURNING id`, [ws, id, owner]);
    return rows.length > 0;
  }

  async release(em: EntityManager, ws: string, id: string, owner: string): Promise<void> {
    await em.query(`UPDATE destinations SET lease_owner = NULL, lease_until = NULL WHERE workspace_id = $1 AND id = $2 AND lease_owner = $3`, [ws, id, owner]);
  }

  /** The destination's oldest pending delivery (the only one it may send), with the time. */
  async head(em: EntityManager, ws: string, destinationId: string): Promise<{ row: DeliveryRow | null; now: Date }> {
    const rows: (DeliveryRow & { now: Date })[] = await em.query(
      `SELECT ${DELIVERY_COLS}, now() AS now FROM destination_deliveries dd WHERE workspace_id = $1 AND destination_id = $2 AND status = 'pending' ORDER BY dd.id LIMIT 1`,
      [ws, destinationId],
    );
    if (rows.length) return { row: rows[0], now: rows[0].now };
    const [{ now }] = await em.query(`SELECT now() AS now`);
    return { row: null, now };
  }

  /** Counts an attempt before it is sent (an attempt cut off by a crash still counts). */
  async startAttempt(em: EntityManager, ws: string, id: string): Promise<number> {
    const [[r]] = await em.query(
      `UPDATE destination_deliveries SET attempts = attempts + 1, last_attempt_at = now() WHERE workspace_id = $1 AND id = $2 AND status = 'pending' RETURNING attempts`,
      [ws, id],
    );
    return r?.attempts ?? 0;
  }

  async finish(em: EntityManager, ws: string, id: string, status: 'delivered' | 'dead' | 'suppressed', lastStatus: number | null, error: string | null): Promise<void> {
    await em.query(
      `UPDATE destination_deliveries SET status = $3, finished_at = now(), last_status = $4, last_error = $5 WHERE workspace_id = $1 AND id = $2 AND status = 'pending'`,
      [ws, id, status, lastStatus, error],
    );
  }

  async retryLater(em: EntityManager, ws: string, id: string, delayMs: number, lastStatus: number | null, error: string): Promise<void> {
    await em.query(
      `UPDATE destination_deliveries SET next_attempt_at = now() + make_interval(secs => $3::double precision / 1000), last_status = $4, last_error = $5
        WHERE workspace_id = $1 AND id = $2 AND status = 'pending'`,
      [ws, id, delayMs, lastStatus, error],
    );
  }
}
