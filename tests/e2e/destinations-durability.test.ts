import { Client } from 'pg';
import { print } from 'graphql';
import { bootApp, TEST_PII_KEY, usingPostgres } from '../support/app';
import { makeEvent } from '../support/events';
import { buildDist, startServer, type ServerProcess } from '../support/process';
import { Receiver } from '../support/receiver';
import { systemActor } from '../../src/modules/compliance';
import { CreateAlertRuleDocument, CreateDestinationDocument, CreateJourneyDocument, CreateSegmentDocument, IngestDocument, type EventInput } from '../generated/graphql';

/**
 * Outbound delivery across a SIGKILL of the server (PostgreSQL): the real server process delivers
 * to a local receiver that fails, resets and hangs at random, and is killed mid-stream while it
 * sends. Everything in the outbox at the kill (every acknowledged cause's items, and the items in
 * flight) is delivered after a restart, at least once and in order per destination.
 */
const BATCHES = 12;
const PER_BATCH = 5;
const KILL_AFTER_ACKED_ITEMS = 15;
const SECRET = 'whsec-durable-0123456789';

const batches: EventInput[][] = Array.from({ length: BATCHES }, (_, b) =>
  Array.from({ length: PER_BATCH }, (_, i) =>
    makeEvent({ messageId: `dd-${b}-${i}`, identifiers: [`member_id::dd-${b}-${i}`], name: 'Order Completed', properties: { revenue: 10 }, timestamp: new Date(Date.now() - 60_000).toISOString() }),
  ),
);

function serverEnv(): Record<string, string> {
  return {
    DATABASE_URL: process.env.SIYU_TEST_DATABASE_URL!,
    SIYU_PII_KEY: TEST_PII_KEY,
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    SIYU_SWEEP_INTERVAL_MS: '0',
    SIYU_DELIVERY_INTERVAL_MS: '20',
    SIYU_DELIVERY_BACKOFF_MS: '10',
    SIYU_DELIVERY_BACKOFF_MAX_MS: '100',
  };
}

async function urlOf(server: ServerProcess): Promise<string> {
  const [, url] = await server.waitFor(/GraphQL:\s+(http:\/\/\S+)\/graphql/, 60_000);
  return url;
}

async function send(url: string, key: string, events: EventInput[]): Promise<boolean> {
  try {
    const res = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: JSON.stringify({ query: print(IngestDocument), variables: { events } }) });
    const body = (await res.json()) as { data?: { ingestEvents: { accepted: number; duplicates: number } } };
    return res.status === 200 && !!body.data && body.data.ingestEvents.accepted + body.data.ingestEvents.duplicates === events.length;
  } catch {
    return false;
  }
}

describe('outbound delivery across SIGKILL (PostgreSQL)', () => {
  it('delivers after a restart everything the outbox held at the kill, in order per destination', async () => {
    if (!usingPostgres()) {
      process.stdout.write('\n  SKIPPED: the destination durability test needs PostgreSQL (the embedded database lives inside the killed process)\n');
      return;
    }
    buildDist();
    const receiver = new Receiver(7, { error500: 0.25, reset: 0.1, hang: 0.05 });
    await receiver.start();
    const t = await bootApp();
    const { workspaceId: ws, adminKey } = await t.newWorkspace('destination-durability');
    await t.app.services.compliance.updateSettings(systemActor(ws), { consentPolicy: 'allow_unless_denied' });
    const seg = await t.gql(CreateSegmentDocument, { input: { key: 'buyers', name: '购买用户', expression: 'order_count >= 1' } }, adminKey);
    expect(seg.errors).toBeUndefined();
    const paths = [`/${ws}/a`, `/${ws}/b`];
    const destIds: string[] = [];
    for (const p of paths) {
      receiver.secrets.set(p, SECRET);
      const d = await t.gql(
        CreateDestinationDocument,
        { input: { name: p, format: 'WEBHOOK', url: `${receiver.url}${p}`, secret: SECRET, events: ['ALERT', 'JOURNEY_TRIGGER', 'SEGMENT_CHANGE'], segmentIds: [seg.data!.createSegment.id], allowPrivateNetwork: true, timeoutMs: 300, maxAttempts: 50 } },
        adminKey,
      );
      expect(d.errors).toBeUndefined();
      destIds.push(d.data!.createDestination.id);
    }
    expect((await t.gql(CreateJourneyDocument, { input: { name: '首单', steps: [{ key: 'first', name: '首单', match: { event: 'Order Completed' }, trigger: true }] } }, adminKey)).errors).toBeUndefined();
    expect((await t.gql(CreateAlertRuleDocument, { input: { name: 'orders', metric: 'ORDERS', kind: 'ABOVE', threshold: 7, level: 'URGENT', cooldownSeconds: 0, evaluate: 'CURRENT_PERIOD' } }, adminKey)).errors).toBeUndefined();
    await t.stop();

    const db = new Client({ connectionString: process.env.SIYU_TEST_DATABASE_URL });
    await db.connect();
    let server = startServer(serverEnv());
    try {
      let url = await urlOf(server);
      const acked = new Set<number>();
      for (let b = 0; b < BATCHES; b++) {
        if (await send(url, adminKey, batches[b])) acked.add(b);
        if (paths.reduce((n, p) => n + receiver.ackedIds(p).length, 0) >= KILL_AFTER_ACKED_ITEMS) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      server.child.kill('SIGKILL');
      expect((await server.exited).signal).toBe('SIGKILL');
      expect(acked.size).toBeGreaterThan(0);

      // The outbox at the kill: every acknowledged batch's trigger and segment entry per destination.
      const atKill: { destination_id: string; id: string; status: string; profile_id: string | null }[] = (
        await db.query(`SELECT destination_id, id::text, status, profile_id FROM destination_deliveries d WHERE workspace_id = $1 ORDER BY d.id`, [ws])
      ).rows;
      const ackedPeople = (await db.query(`SELECT count(DISTINCT i.profile_id)::int AS n FROM identifiers i WHERE i.workspace_id = $1 AND i.type = 'member_id'`, [ws])).rows[0].n as number;
      expect(ackedPeople).toBeGreaterThanOrEqual(acked.size * PER_BATCH);
      for (const d of destIds) {
        const mine = atKill.filter((r) => r.destination_id === d && r.profile_id);
        expect(mine.length).toBeGreaterThanOrEqual(2 * acked.size * PER_BATCH);
      }
      const undelivered = atKill.filter((r) => r.status === 'pending');
      expect(undelivered.length).toBeGreaterThan(0);

      server = startServer(serverEnv());
      url = await urlOf(server);
      // The rest of the causes after the restart (retried batches are duplicates).
      for (let b = 0; b < BATCHES; b++) if (!acked.has(b)) expect(await send(url, adminKey, batches[b])).toBe(true);

      const deadline = Date.now() + 120_000;
      for (;;) {
        const [{ n }] = (await db.query(`SELECT count(*)::int AS n FROM destination_deliveries WHERE workspace_id = $1 AND status = 'pending'`, [ws])).rows;
        if (n === 0) break;
        if (Date.now() > deadline) throw new Error(`${n} deliveries still pending; server output:\n${server.output().slice(-3000)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const final: { destination_id: string; id: string; status: string }[] = (await db.query(`SELECT destination_id, id::text, status FROM destination_deliveries d WHERE workspace_id = $1 ORDER BY d.id`, [ws])).rows;
      expect(final.filter((r) => r.status !== 'delivered')).toEqual([]);
      for (let i = 0; i < destIds.length; i++) {
        const delivered = final.filter((r) => r.destination_id === destIds[i]).map((r) => r.id);
        expect(delivered.length).toBeGreaterThanOrEqual(2 * BATCHES * PER_BATCH);
        // Everything, including what was pending or in flight at the kill, answered 200 at least once, in order.
        expect(receiver.ackedIds(paths[i])).toEqual(delivered);
        expect(receiver.orderViolations(paths[i], delivered)).toEqual([]);
        expect(atKill.filter((r) => r.destination_id === destIds[i]).every((r) => delivered.includes(r.id))).toBe(true);
      }
      expect(receiver.received.every((r) => r.signatureOk)).toBe(true);
    } finally {
      server.child.kill('SIGKILL');
      await server.exited;
      await db.end();
      await receiver.stop();
    }
  }, 300_000);
});
