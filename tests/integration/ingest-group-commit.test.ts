import { bootApp, testProjection, usingPostgres, type TestApp } from '../support/app';
import { makeEvent } from '../support/events';
import { IngestDocument } from '../generated/graphql';

/**
 * Group commit: concurrent ingest calls of one workspace share write transactions, and each call
 * still gets exactly its own per-event results, answered after the commit that holds its events.
 */
// A read model that fails on one event (standing in for any error inside the write transaction).
const poison = testProjection('test-poison', async (b) => {
  if (b.events.some((e) => e.messageId === 'gc-poison')) throw new TypeError('poisoned batch');
});

let t: TestApp;
beforeAll(async () => {
  t = await bootApp({}, { extraProjections: [poison] });
});
afterAll(() => t.stop());

it('concurrent single-event calls are written in fewer transactions, each with its own results', async () => {
  const { workspaceId, adminKey } = await t.newWorkspace('group commit');
  const stats = t.app.services.ingest.stats;
  const before = { ...stats };
  const calls = Array.from({ length: 60 }, (_, i) => {
    if (i === 7) return [makeEvent({ messageId: 'gc-bad', channel: 'nowhere' as never })];
    // Two calls send the same messageId: one is stored, the other reports DUPLICATE.
    const messageId = i === 11 ? 'gc-10' : `gc-${i}`;
    return [makeEvent({ messageId, identifiers: [`member_id::GC-${i % 20}`] })];
  });
  const answers = await Promise.all(calls.map((events) => t.gql(IngestDocument, { events }, adminKey)));
  for (const a of answers) expect(a.errors).toBeUndefined();
  const results = answers.map((a) => a.data!.ingestEvents.results[0]);
  expect(results[7]).toMatchObject({ status: 'REJECTED', error: { field: 'channel' } });
  expect([results[10].status, results[11].status].sort()).toEqual(['ACCEPTED', 'DUPLICATE']);
  results.forEach((r, i) => {
    if (i !== 7 && i !== 10 && i !== 11) expect(r).toMatchObject({ status: 'ACCEPTED', messageId: `gc-${i}` });
  });
  // People are resolved across the group: events of the same member share one profile.
  const byMember = new Map<number, Set<string>>();
  results.forEach((r, i) => {
    if (r.status === 'ACCEPTED') byMember.set(i % 20, (byMember.get(i % 20) ?? new Set()).add(r.profileId!));
  });
  for (const ids of byMember.values()) expect(ids.size).toBe(1);
  const [{ n }] = await t.app.db.dataSource.query(`SELECT count(*)::int AS n FROM events WHERE workspace_id = $1`, [workspaceId]);
  expect(n).toBe(58);
  // 59 calls reached the write path (one was rejected in validation).
  expect(stats.calls - before.calls).toBe(59);
  // On PostgreSQL they share transactions. Embedded PGlite runs each statement synchronously on the
  // event loop, so the next calls only arrive after a transaction ends: there, one per call.
  if (usingPostgres()) expect(stats.transactions - before.transactions).toBeLessThan(30);
  else expect(stats.transactions - before.transactions).toBeLessThanOrEqual(59);
});

it('a call whose transaction fails fails alone: the others of its group are retried and stored', async () => {
  const { workspaceId, adminKey } = await t.newWorkspace('group commit failure');
  const answers = await Promise.all(
    Array.from({ length: 30 }, (_, i) => t.gql(IngestDocument, { events: [makeEvent({ messageId: i === 13 ? 'gc-poison' : `gcf-${i}`, identifiers: [`member_id::GCF-${i}`] })] }, adminKey)),
  );
  answers.forEach((a, i) => {
    if (i === 13) expect(a.errors?.[0].extensions.code).toBe('INTERNAL_SERVER_ERROR');
    else expect(a.data!.ingestEvents.results[0]).toMatchObject({ status: 'ACCEPTED', messageId: `gcf-${i}` });
  });
  const [{ n }] = await t.app.db.dataSource.query(`SELECT count(*)::int AS n FROM events WHERE workspace_id = $1`, [workspaceId]);
  expect(n).toBe(29);
  const [{ p }] = await t.app.db.dataSource.query(`SELECT count(*)::int AS p FROM events WHERE workspace_id = $1 AND message_id = 'gc-poison'`, [workspaceId]);
  expect(p).toBe(0);
});
