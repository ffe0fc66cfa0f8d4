import { randomUUID } from 'node:crypto';
import { ingest, ingestOne } from '../support/api';
import { bootAppPerFile } from '../support/app';
import { makeEvent } from '../support/events';
import { waitUntil } from '../support/wait';
import { collect, wsClient } from '../support/ws';
import { CreateAlertRuleDocument, ProfileUpdatedDocument, RunSweepDocument, type ProfileUpdatedSubscription } from '../generated/graphql';

const t = bootAppPerFile();

/** Scrapes /metrics and returns the value of one series (0 when absent), e.g. `siyu_x_total{a="b"}`. */
async function scrape(): Promise<string> {
  const res = await t.http().get('/metrics');
  expect(res.status).toBe(200);
  return res.text;
}
function value(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}
const read = async (series: string) => value(await scrape(), series);

describe('/metrics: what the system is doing', () => {
  it('counts ingested events by status and rejection reason (one IngestService behind GraphQL, /v1 and the CLI)', async () => {
    const { adminKey: key } = await t.newWorkspace();
    const before = await scrape();
    const ok = makeEvent();
    await ingest(t, key, [ok, { ...ok }, makeEvent({ channel: 'fax' })], { duplicates: 1, rejected: 1 });
    const after = await scrape();
    const delta = (s: string) => value(after, s) - value(before, s);
    expect(delta('siyu_ingest_events_total{status="accepted",reason=""}')).toBe(1);
    expect(delta('siyu_ingest_events_total{status="duplicate",reason=""}')).toBe(1);
    expect(delta('siyu_ingest_events_total{status="rejected",reason="UNKNOWN_CHANNEL"}')).toBe(1);
  });

  it('shows live subscribers and the versions pushed to them', async () => {
    const { adminKey: key } = await t.newWorkspace();
    const member = `member_id::${randomUUID()}`;
    const id = await ingestOne(t, key, [member]);
    const pushes = await read('siyu_live_pushes_total{kind="profile"}');
    const subscribers = await read('siyu_live_subscribers');
    const sock = wsClient(t.url, key);
    await sock.connected;
    try {
      const sub = collect<ProfileUpdatedSubscription>(sock.client, ProfileUpdatedDocument, { id });
      await sub.next(1);
      expect(await read('siyu_live_subscribers')).toBe(subscribers + 1);
      expect(await read('siyu_live_pushes_total{kind="profile"}')).toBe(pushes + 1);
      // A change to the person: a second version reaches the subscriber.
      await ingestOne(t, key, [member]);
      await sub.next(2);
      expect(await read('siyu_live_pushes_total{kind="profile"}')).toBe(pushes + 2);
      sub.unsubscribe();
      await waitUntil('the subscriber to leave', async () => (await read('siyu_live_subscribers')) === subscribers);
    } finally {
      await sock.dispose();
    }
  });

  it('counts alerts raised, by level', async () => {
    const { adminKey: key } = await t.newWorkspace();
    const rule = await t.gql(CreateAlertRuleDocument, { input: { name: 'any order', metric: 'ORDERS', kind: 'ABOVE', threshold: 0, level: 'IMPORTANT', evaluate: 'CURRENT_PERIOD' } }, key);
    expect(rule.errors).toBeUndefined();
    const before = await read('siyu_alerts_raised_total{level="important"}');
    await ingest(t, key, [makeEvent({ identifiers: [`member_id::${randomUUID()}`], name: 'Order Completed', properties: { revenue: 10 }, timestamp: new Date(Date.now() - 60_000).toISOString() })]);
    await waitUntil('the alert to be counted', async () => (await read('siyu_alerts_raised_total{level="important"}')) === before + 1);
  });

  it('shows each workspace\'s sweep lag: seconds since its last completed pass', async () => {
    const { workspaceId, adminKey: key } = await t.newWorkspace();
    await ingestOne(t, key, [`member_id::${randomUUID()}`]);
    const series = `siyu_sweep_lag_seconds{workspace="${workspaceId}"}`;
    // Before any pass the lag counts from the workspace's creation.
    expect((await scrape()).split('\n').some((l) => l.startsWith(`${series} `))).toBe(true);

    const pass = await t.gql(RunSweepDocument, { maxProfiles: 1000 }, key);
    expect(pass.errors).toBeUndefined();
    const lastPassAt = Date.parse(pass.data!.runSweep.lastPassAt!);
    const from = Date.now();
    const lag = await read(series);
    const to = Date.now();
    // Measured from that pass (the clock of the database and of this process are the same machine's).
    expect(lag).toBeGreaterThanOrEqual((from - lastPassAt) / 1000 - 1);
    expect(lag).toBeLessThanOrEqual((to - lastPassAt) / 1000 + 1);
  });
});
