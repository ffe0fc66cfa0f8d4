import { bootApp, testProjection, usingPostgres, type TestApp } from '../support/app';
import { makeEvent } from '../support/events';
import type { BatchContext } from '../../src/modules/events';
import { IngestDocument } from '../generated/graphql';

// A probe read model, ordered with the manifests' projections like any other.
const seen: { ctx: BatchContext; inTx: number; parallel: string }[] = [];
const committed: string[] = [];
let probeWorkspace = '';
const probe = testProjection(
  'probe',
  async (ctx) => {
    if (ctx.workspaceId !== probeWorkspace) return;
    // Inside the transaction: the batch's events are visible through its manager.
    const [{ n }] = await ctx.em.query(`SELECT count(*)::int AS n FROM events WHERE workspace_id = $1`, [ctx.workspaceId]);
    const [{ parallel }] = await ctx.em.query(`SELECT current_setting('max_parallel_workers_per_gather') AS parallel`);
    seen.push({ ctx, inTx: n, parallel });
    return { afterCommit: () => committed.push(ctx.events.map((e) => e.messageId).join(',')) };
  },
  ['tags'],
);

let t: TestApp;
beforeAll(async () => {
  t = await bootApp({}, { extraProjections: [probe] });
});
afterAll(() => t.stop());

describe('projections (read models kept current in the batch transaction)', () => {
  it('see the batch after identity resolution, write in its transaction, and act after commit', async () => {
    const { workspaceId, adminKey } = await t.newWorkspace();
    probeWorkspace = workspaceId;
    const r = await t.gql(
      IngestDocument,
      { events: [makeEvent({ identifiers: ['member_id::H1'] }), makeEvent({ identifiers: ['member_id::H1', 'device_id::HD'], name: 'Order Completed', properties: { revenue: 12 } })] },
      adminKey,
    );
    expect(r.data!.ingestEvents.accepted).toBe(2);
    expect(seen).toHaveLength(1);
    const { ctx, inTx, parallel } = seen[0];
    expect(inTx).toBe(2);
    // The batch runs without parallel workers (set with the workspace lock, for its transaction only).
    expect(parallel).toBe('0');
    // Only there: the pooled connection is back at the server's setting (PostgreSQL's default is 2;
    // the embedded database has no workers to give).
    const [{ after }] = await t.app.db.dataSource.query(`SELECT current_setting('max_parallel_workers_per_gather') AS after`);
    expect(after).toBe(usingPostgres() ? '2' : '0');
    expect(ctx.events.map((e) => e.profileId)).toEqual([r.data!.ingestEvents.results[0].profileId, r.data!.ingestEvents.results[0].profileId]);
    expect(ctx.profiles).toHaveLength(1);
    expect(ctx.profiles[0]).toMatchObject({ orderCount: 1, totalSpend: 12, eventCount: 2 });
    expect(committed).toEqual([r.data!.ingestEvents.results.map((x) => x.messageId).join(',')]);
  });

  it('runs in the order the manifests declare: after the tags projection it asked to follow', () => {
    const names = t.app.services.phases.ordered.map((p) => p.name);
    expect(names.indexOf('probe')).toBeGreaterThan(names.indexOf('tags'));
    expect(names.indexOf('tags')).toBeGreaterThan(names.indexOf('stages'));
    expect(names.indexOf('tags')).toBeGreaterThan(names.indexOf('health'));
  });
});
