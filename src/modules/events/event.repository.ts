import type { EntityManager } from 'typeorm';
import { keyTriple } from '../identities';
import { survivorOf } from '../profiles';
import type { RelationKind, ValidEvent } from './event-validation';

export interface EventRow {
  event: ValidEvent;
  profileId: string;
  originProfileId: string;
}

export interface RelationRow {
  kind: RelationKind;
  fromProfileId: string | null;
  toProfileId: string;
  staffId: string | null;
  eventMessageId: string;
  occurredAt: Date;
}

/** SQL of the event store. */
export class EventRepository {
  async existingMessageIds(em: EntityManager, workspaceId: string, ids: string[]): Promise<Set<string>> {
    if (!ids.length) return new Set();
    const rows: { message_id: string }[] = await em.query(
      `SELECT message_id FROM events WHERE workspace_id = $1 AND message_id = ANY($2::text[])`,
      [workspaceId, ids],
    );
    return new Set(rows.map((r) => r.message_id));
  }

  /** The live (survivor) profile of each stored event, by `messageId`: who a duplicate belongs to now. */
  async currentOwners(em: EntityManager, workspaceId: string, ids: string[]): Promise<Map<string, string>> {
    if (!ids.length) return new Map();
    const rows: { message_id: string; profile_id: string }[] = await em.query(
      `SELECT e.message_id, ${survivorOf('p')} AS profile_id
         FROM events e JOIN profiles p ON p.workspace_id = e.workspace_id AND p.id = e.profile_id
        WHERE e.workspace_id = $1 AND e.message_id = ANY($2::text[])`,
      [workspaceId, ids],
    );
    return new Map(rows.map((r) => [r.message_id, r.profile_id]));
  }

  /**
   * Adds a write's received and rejected events to `ingest_counts` (per quarter hour of receipt and
   * dimension: '' everyone, `c:<channel>`), which INGEST_ERROR_RATE reads. One statement.
   */
  async addIngestCounts(em: EntityManager, workspaceId: string, receivedAt: Date, counts: Map<string, { received: number; rejected: number }>): Promise<void> {
    const rows = [...counts].filter(([, c]) => c.received > 0).map(([m, c]) => ({ m, rc: c.received, rj: c.rejected }));
    if (!rows.length) return;
    await em.query(
      `INSERT INTO ingest_counts AS k (workspace_id, dim, quarter, received, rejected)
       SELECT $1, u.m, date_bin('15 minutes', $2::timestamptz, '2000-01-01T00:00:00Z'), u.rc, u.rj FROM jsonb_to_recordset($3::jsonb) AS u(m text, rc int, rj int)
       ON CONFLICT (workspace_id, dim, quarter) DO UPDATE SET received = k.received + EXCLUDED.received, rejected = k.rejected + EXCLUDED.rejected`,
      [workspaceId, receivedAt, JSON.stringify(rows)],
    );
  }

  async insertEvents(em: EntityManager, workspaceId: string, rows: EventRow[], receivedAt: Date): Promise<void> {
    if (!rows.length) return;
    const json = (v: unknown) => (v === null || v === undefined ? null : JSON.stringify(v));
    await em.query(
      `INSERT INTO events (workspace_id, message_id, type, name, channel, ts, received_at, profile_id, origin_profile_id, identifier_keys, traits, properties, context)
       SELECT $1, u.message_id, u.type, u.name, u.channel, u.ts, $2, u.profile_id, u.origin_profile_id, u.identifier_keys, u.traits, u.properties, u.context
       FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[], $8::uuid[], $9::uuid[], $10::jsonb[], $11::jsonb[], $12::jsonb[], $13::jsonb[])
         AS u(message_id, type, name, channel, ts, profile_id, origin_profile_id, identifier_keys, traits, properties, context)
       ON CONFLICT (workspace_id, message_id) DO NOTHING`,
      [
        workspaceId,
        receivedAt,
        rows.map((r) => r.event.messageId),
        rows.map((r) => r.event.type),
        rows.map((r) => r.event.name),
        rows.map((r) => r.event.channel),
        rows.map((r) => r.event.ts),
        rows.map((r) => r.profileId),
        rows.map((r) => r.originProfileId),
        rows.map((r) => JSON.stringify(r.event.identifiers.map((i) => keyTriple(i.key)))),
        rows.map((r) => json(r.event.traits)),
        rows.map((r) => json(r.event.properties)),
        rows.map((r) => json(r.event.context)),
      ],
    );
  }

  async insertRelations(em: EntityManager, workspaceId: string, rows: RelationRow[]): Promise<void> {
    if (!rows.length) return;
    await em.query(
      `INSERT INTO relations (workspace_id, kind, from_profile_id, to_profile_id, staff_id, event_message_id, occurred_at)
       SELECT $1, * FROM unnest($2::text[], $3::uuid[], $4::uuid[], $5::text[], $6::text[], $7::timestamptz[])
       ON CONFLICT (workspace_id, event_message_id, kind) DO NOTHING`,
      [
        workspaceId,
        rows.map((r) => r.kind),
        rows.map((r) => r.fromProfileId),
        rows.map((r) => r.toProfileId),
        rows.map((r) => r.staffId),
        rows.map((r) => r.eventMessageId),
        rows.map((r) => r.occurredAt),
      ],
    );
  }
}
