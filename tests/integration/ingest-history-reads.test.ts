import request from 'supertest';
import { print } from 'graphql';
import { makeEvent } from '../support/events';
import { withScratchApp } from '../support/scratch-app';
import { waitUntil } from '../support/wait';
import { IngestDocument, type IngestMutation } from '../generated/graphql';

/**
 * Cost follows the batch, not the history: a batch finds the relations it made by its own message
 * ids, one index probe each. Asked as `event_message_id = ANY(500 ids)`, the planner read every
 * relation of the workspace once it held some tens of thousands (a 50,000-person seed: 0.1 ms per
 * batch at the start, 18 ms by the middle), or every invitation through another index.
 *
 * A scratch database of its own, so the table counters are this app's alone: after one batch into
 * a workspace with 30,000 relations, no relation was read by a sequential scan, and the index
 * reads stay a small multiple of the batch, not of the table.
 */
const ADMIN = 'siyu_history-reads-test-key-0123456789abcdef';
const RELATIONS = 30_000;

/**
 * History: `RELATIONS` rows, half invitations, half service relations. Spread: the invitations come
 * from 5,000 other inviters. Skewed: one account (the batch's own inviter, a KOL) sent half of them,
 * the rest come from 20 others — the statistics then say every person sent thousands, and a probe
 * that stops at the first match looks cheaper as a sequential scan.
 */
function historyReads(history: 'spread' | 'skewed'): Promise<void> {
  return withScratchApp('history_reads', ADMIN, 'table read counters are PostgreSQL statistics: set DATABASE_URL to run the relations read test', async ({ url, admin, stop }) => {
    const ingest = (events: ReturnType<typeof makeEvent>[]) =>
      request(url).post('/graphql').set('authorization', `Bearer ${ADMIN}`).send({ query: print(IngestDocument), variables: { events } });
    // The inviter of the batch's invitations, and the workspace.
    const first = await ingest([makeEvent({ identifiers: ['member_id::HIST-0'] })]);
    expect((first.body as { data: IngestMutation }).data.ingestEvents.accepted).toBe(1);
    const [{ ws }] = (await admin.query(`SELECT id AS ws FROM workspaces LIMIT 1`)).rows as { ws: string }[];
    const [{ kol }] = (await admin.query(`SELECT profile_id AS kol FROM identifiers WHERE workspace_id = $1 LIMIT 1`, [ws])).rows as { kol: string }[];
    const other = history === 'spread' ? 5000 : 20;
    await admin.query(
      `INSERT INTO relations (workspace_id, kind, from_profile_id, to_profile_id, staff_id, event_message_id, occurred_at)
       SELECT $1, CASE WHEN g % 2 = 0 THEN 'invited' ELSE 'served_by' END,
              CASE WHEN g % 2 = 1 THEN NULL WHEN $3::boolean AND g % 4 = 0 THEN $4::uuid
                   ELSE ('00000000-0000-4000-8000-' || lpad(to_hex(g % $5::int), 12, '0'))::uuid END,
              gen_random_uuid(), CASE WHEN g % 2 = 1 THEN 'staff-' || g % 50 END, 'history-' || g, now() - g * interval '1 minute'
       FROM generate_series(1, $2::int) g`,
      [ws, RELATIONS, history === 'skewed', kol, other],
    );
    await admin.query(`ANALYZE relations`);
    const counters = async () =>
      (
        await admin.query(
          `SELECT t.seq_scan, t.seq_tup_read, t.idx_scan, (SELECT sum(i.idx_tup_read) FROM pg_stat_user_indexes i WHERE i.relid = t.relid) AS idx_tup_read
       FROM pg_stat_user_tables t WHERE t.relname = 'relations'`)).rows[0] as Record<string, string>;
    const before = await counters();
    // One batch of 500: new people, a third of them invited by the member.
    const events = Array.from({ length: 500 }, (_, i) =>
      makeEvent({
        identifiers: [`member_id::HIST-${i + 1}`],
        ...(i % 3 === 0 ? { name: 'Invite Accepted', properties: { inviter: { type: 'member_id', value: 'HIST-0' } } } : {}),
      }),
    );
    const res = await ingest(events);
    expect((res.body as { data: IngestMutation }).data.ingestEvents.accepted).toBe(500);
    // The app's connections report their counters when they end.
    await stop();
    let after = before;
    await waitUntil('the batch to show in the relations counters', async () => Number((after = await counters()).idx_scan) > Number(before.idx_scan), { timeoutMs: 30_000, intervalMs: 200 });
    // Rows read by sequential scans, not scans: the migrations' scans of the then empty table may
    // reach the counters only now (a backend reports when it ends), and read nothing; a scan of the
    // history reads all of it.
    expect(Number(after.seq_tup_read) - Number(before.seq_tup_read)).toBe(0);
    // Each event's probe, the invited people's and the inviter's own relations: far below the history.
    // A KOL's own earlier invitations are still read again when they invite, twice (their referring
    // days, their invitee count for health): that part follows their history, and is allowed here.
    const own = history === 'skewed' ? 2 * (RELATIONS / 4 + 500 / 3) : 0;
    expect(Number(after.idx_tup_read) - Number(before.idx_tup_read)).toBeLessThan(own + RELATIONS / 10);
  });
}

it('a batch reads relations by its own message ids, not the workspace history (PostgreSQL)', () => historyReads('spread'));

it('a batch reads relations by index when one inviter sent half of them (PostgreSQL)', () => historyReads('skewed'));
