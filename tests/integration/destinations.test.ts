import { bootAppPerFile, type GqlResponse } from '../support/app';
import { ingest } from '../support/api';
import { makeEvent } from '../support/events';
import { Receiver } from '../support/receiver';
import { systemActor } from '../../src/modules/compliance';
import {
  AuditLogDocument,
  CreateAlertRuleDocument,
  CreateApiKeyDocument,
  CreateDestinationDocument,
  CreateJourneyDocument,
  CreateSegmentDocument,
  DeadLettersDocument,
  DeleteDestinationDocument,
  DeliveriesDocument,
  DestinationsDocument,
  EraseProfileDocument,
  ReplayDeadLetterDocument,
  ReplayDeadLettersDocument,
  SetConsentDocument,
  UpdateDestinationDocument,
  type CreateDestinationInput,
  type DeliveriesQuery,
  type EventInput,
} from '../generated/graphql';

/**
 * Outbound destinations against a local receiver (127.0.0.1, allowed by `allowPrivateNetwork`)
 * that answers 500, resets the connection or never answers at random: every alert, journey
 * trigger and segment change reaches every destination at least once, in order, signed; what
 * exhausts its attempts waits in the dead letter until a replay delivers it.
 */
const t = bootAppPerFile({ SIYU_DELIVERY_INTERVAL_MS: '20', SIYU_DELIVERY_BACKOFF_MS: '10', SIYU_DELIVERY_BACKOFF_MAX_MS: '100' });
const receiver = new Receiver();
beforeAll(() => receiver.start());
afterAll(() => receiver.stop());

const SECRET = 'whsec-test-0123456789abcdef';
const order = (member: string, revenue = 100): EventInput =>
  makeEvent({ identifiers: [`member_id::${member}`], name: 'Order Completed', properties: { revenue }, timestamp: new Date(Date.now() - 60_000).toISOString() });

async function createDestination(key: string, input: CreateDestinationInput) {
  const r = await t.gql(CreateDestinationDocument, { input }, key);
  expect(r.errors).toBeUndefined();
  return r.data!.createDestination;
}

/** Polls until `check` holds (each poll reads the database), or fails after `ms`. */
async function until(what: string, check: () => Promise<boolean>, ms = 90_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const pendingOf = async (ws: string) =>
  (await t.app.db.dataSource.query(`SELECT count(*)::int AS n FROM destination_deliveries WHERE workspace_id = $1 AND status = 'pending'`, [ws]))[0].n as number;

async function allDeliveries(key: string, destination: string) {
  const out: { id: string; kind: string; status: string; profileId: string | null; attempts: number; replayOf: string | null; replayedAt: string | null; data: unknown }[] = [];
  let after: string | null = null;
  for (;;) {
    const r: GqlResponse<DeliveriesQuery> = await t.gql(DeliveriesDocument, { destination, first: 200, after }, key);
    expect(r.errors).toBeUndefined();
    out.push(...r.data!.deliveries.nodes);
    if (!r.data!.deliveries.hasNextPage) break;
    after = r.data!.deliveries.endCursor;
  }
  return out.reverse();
}

describe('outbound destinations', () => {
  it('deliver every alert, trigger and segment change at least once, in order per destination, signed, through random failures and timeouts', async () => {
    const { workspaceId: ws, adminKey: key } = await t.newWorkspace('destinations');
    await t.app.services.compliance.updateSettings(systemActor(ws), { consentPolicy: 'allow_unless_denied' });
    const url = receiver.url;
    receiver.secrets.set(`/${ws}/webhook`, SECRET);
    receiver.secrets.set(`/${ws}/dingtalk`, SECRET);
    receiver.secrets.set(`/${ws}/feishu`, SECRET);
    const s = await t.gql(CreateSegmentDocument, { input: { key: 'buyers', name: '购买用户', expression: 'order_count >= 1' } }, key);
    expect(s.errors).toBeUndefined();
    const all = ['ALERT', 'JOURNEY_TRIGGER', 'SEGMENT_CHANGE'] as const;
    // Only this segment's changes (the default segments change too as people order).
    const common = { events: [...all], segmentIds: [s.data!.createSegment.id], allowPrivateNetwork: true, timeoutMs: 300, maxAttempts: 50 };
    const dests = {
      webhook: await createDestination(key, { ...common, name: 'automation', format: 'WEBHOOK', url: `${url}/${ws}/webhook`, secret: SECRET, allowPersonalData: true }),
      wecom: await createDestination(key, { ...common, name: '运营群', format: 'WECOM', url: `${url}/${ws}/wecom?key=abc` }),
      dingtalk: await createDestination(key, { ...common, name: '钉钉群', format: 'DINGTALK', url: `${url}/${ws}/dingtalk?access_token=abc`, secret: SECRET }),
      feishu: await createDestination(key, { ...common, name: '飞书群', format: 'FEISHU', url: `${url}/${ws}/feishu`, secret: SECRET }),
    };
    expect(dests.webhook).toMatchObject({ format: 'WEBHOOK', hasSecret: true, allowPersonalData: true, allowPrivateNetwork: true, minAlertLevel: 'NORMAL', enabled: true });
    expect(dests.wecom.hasSecret).toBe(false);

    // Causes: 5 alerts (one per threshold), a trigger and a segment entry per buyer.
    for (let i = 0; i < 5; i++) {
      const r = await t.gql(CreateAlertRuleDocument, { input: { name: `orders > ${i * 3}`, metric: 'ORDERS', kind: 'ABOVE', threshold: i * 3, level: 'IMPORTANT', cooldownSeconds: 0, evaluate: 'CURRENT_PERIOD' } }, key);
      expect(r.errors).toBeUndefined();
    }
    const j = await t.gql(CreateJourneyDocument, { input: { name: '首单', allowReentry: false, steps: [{ key: 'first_order', name: '首单', match: { event: 'Order Completed' }, trigger: true }] } }, key);
    expect(j.errors).toBeUndefined();

    // One buyer denied marketing: their trigger is vetoed at the cause, their segment entry suppressed.
    const denied = (await ingest(t, key, [makeEvent({ identifiers: ['member_id::denied'] })])).results[0].profileId!;
    const c = await t.gql(SetConsentDocument, { input: { profileId: denied, purpose: 'MARKETING', state: 'DENIED', policyVersion: 'v1' } }, key);
    expect(c.errors).toBeUndefined();

    const BUYERS = 16;
    for (let b = 0; b < BUYERS; b += 4) {
      await ingest(t, key, [order(`m${b}`), order(`m${b + 1}`), order(`m${b + 2}`), order(`m${b + 3}`)]);
      await t.app.services.kpis.alerts.idle();
    }
    await ingest(t, key, [order('denied')]);
    await t.app.services.kpis.alerts.idle();

    await until('every destination to have sent everything', async () => (await pendingOf(ws)) === 0);

    for (const [name, d] of Object.entries(dests)) {
      const rows = await allDeliveries(key, d.id);
      const kinds = rows.map((r) => r.kind);
      expect({ name, alerts: kinds.filter((k) => k === 'ALERT').length, triggers: kinds.filter((k) => k === 'JOURNEY_TRIGGER').length, segments: kinds.filter((k) => k === 'SEGMENT_CHANGE').length })
        .toEqual({ name, alerts: 5, triggers: BUYERS, segments: BUYERS + 1 });
      const delivered = rows.filter((r) => r.status === 'DELIVERED').map((r) => r.id);
      expect({ name, delivered: delivered.length, suppressed: rows.filter((r) => r.status === 'SUPPRESSED').map((r) => r.profileId) }).toEqual({ name, delivered: 5 + 2 * BUYERS, suppressed: [denied] });
      // At least once: every delivered item was answered 200 by the receiver; in order: nothing was
      // sent before every earlier item had been answered, and first answers come in id order.
      const path = `/${ws}/${name}`;
      expect(receiver.ackedIds(path)).toEqual(delivered);
      expect(receiver.orderViolations(path, delivered)).toEqual([]);
      const mine = receiver.received.filter((r) => r.path === path);
      expect(mine.some((r) => r.behaviour !== 'ok')).toBe(true);
      if (name !== 'wecom') expect(mine.filter((r) => r.signatureOk !== true).length).toBe(0);
      // The denied buyer's item never left.
      expect(mine.some((r) => JSON.stringify(r.body).includes(denied))).toBe(false);
    }
    // Shapes: the webhook carries the person (allowPersonalData); the robots their own formats, without it.
    const hook = receiver.received.filter((r) => r.path === `/${ws}/webhook` && r.behaviour === 'ok');
    const entered = hook.find((r) => r.body.type === 'segment.entered')!;
    expect(entered.body).toMatchObject({ workspaceId: ws, data: { segmentKey: 'buyers', segmentName: '购买用户', change: 'entered', profileId: expect.any(String) } });
    expect(hook.find((r) => r.body.type === 'alert.raised')!.body).toMatchObject({ data: { metric: 'ORDERS', level: 'important' } });
    expect(hook.find((r) => r.body.type === 'journey.triggered')!.body).toMatchObject({ data: { journeyName: '首单', stepKey: 'first_order' } });
    const wecom = receiver.received.find((r) => r.path === `/${ws}/wecom`)!.body;
    expect(wecom).toEqual({ msgtype: 'markdown', markdown: { content: expect.stringContaining('Siyu #') } });
    expect(receiver.received.find((r) => r.path === `/${ws}/feishu`)!.body).toMatchObject({ msg_type: 'text', content: { text: expect.any(String) }, sign: expect.any(String) });
    const people = new Set((await allDeliveries(key, dests.webhook.id)).flatMap((r) => (r.profileId ? [r.profileId] : [])));
    expect(people.size).toBe(BUYERS + 1);
    const robots = receiver.received.filter((r) => r.path !== `/${ws}/webhook` && r.path.startsWith(`/${ws}/`));
    expect(robots.filter((r) => [...people].some((p) => JSON.stringify(r.body).includes(p))).map((r) => r.body)).toEqual([]);

    // Every attempt that sent a person is audited.
    const audit = await t.gql(AuditLogDocument, { filter: { action: 'destination.deliver_personal_data' }, first: 200 }, key);
    expect(audit.errors).toBeUndefined();
    const personalAttempts = receiver.received.filter((r) => r.path === `/${ws}/webhook` && (r.body.data as Record<string, unknown>).profileId).length;
    expect(audit.data!.auditLog.entries.length).toBeGreaterThanOrEqual(personalAttempts);
    expect(audit.data!.auditLog.entries.length).toBeGreaterThan(0);

    // Erasure removes the person's queued and logged items (every table with a profile column).
    const gone = [...people][0];
    const erased = await t.gql(EraseProfileDocument, { id: gone }, key);
    expect(erased.errors).toBeUndefined();
    expect((await t.app.db.dataSource.query(`SELECT count(*)::int AS n FROM destination_deliveries WHERE workspace_id = $1 AND profile_id = $2`, [ws, gone]))[0].n).toBe(0);

    const metrics = await t.http().get('/metrics');
    expect(metrics.text).toMatch(/siyu_destination_deliveries_total\{format="webhook",outcome="delivered"\} \d+/);
    expect(metrics.text).toMatch(/siyu_destination_attempts_total\{format="dingtalk",result="failed"\} \d+/);
  });

  it('dead-letters what exhausts its attempts, keeps the order behind it, and a replay delivers it', async () => {
    const { workspaceId: ws, adminKey: key } = await t.newWorkspace('dead-letters');
    const path = `/${ws}/flaky`;
    let down = true;
    const decide = receiver.decide;
    receiver.decide = (p, id) => (p === path ? (down ? 'error500' : 'ok') : decide(p, id));
    receiver.secrets.set(path, SECRET);
    try {
      const d = await createDestination(key, { name: 'flaky', format: 'WEBHOOK', url: `${receiver.url}${path}`, secret: SECRET, events: ['ALERT'], allowPrivateNetwork: true, maxAttempts: 3, timeoutMs: 300 });
      for (let i = 0; i < 3; i++) await t.gql(CreateAlertRuleDocument, { input: { name: `r${i}`, metric: 'ORDERS', kind: 'ABOVE', threshold: i, level: 'URGENT', cooldownSeconds: 0, evaluate: 'CURRENT_PERIOD' } }, key);
      await ingest(t, key, [order('x1'), order('x2'), order('x3')]);
      await t.app.services.kpis.alerts.idle();
      await until('the dead letter', async () => (await pendingOf(ws)) === 0);
      const dead = await t.gql(DeadLettersDocument, { destination: d.id }, key);
      expect(dead.errors).toBeUndefined();
      expect(dead.data!.deadLetters.nodes.map((n) => [n.status, n.attempts, n.lastStatus])).toEqual([['DEAD', 3, 500], ['DEAD', 3, 500], ['DEAD', 3, 500]]);
      expect(receiver.received.filter((r) => r.path === path).length).toBe(9);
      // Dead-lettered one after the other: each item's three attempts before the next one's first.
      expect(receiver.log.filter((l) => l.path === path).map((l) => l.id)).toEqual(dead.data!.deadLetters.nodes.map((n) => n.id).reverse().flatMap((id) => [id, id, id]));

      down = false;
      const [oldest, ...rest] = dead.data!.deadLetters.nodes.slice().reverse();
      const one = await t.gql(ReplayDeadLetterDocument, { id: oldest.id }, key);
      expect(one.errors).toBeUndefined();
      expect(one.data!.replayDeadLetter).toMatchObject({ status: 'PENDING', replayOf: oldest.id, attempts: 0 });
      const again = await t.gql(ReplayDeadLetterDocument, { id: oldest.id }, key);
      expect(again.errors?.[0].extensions).toMatchObject({ code: 'CONFLICT', reason: 'NOT_A_DEAD_LETTER' });
      const many = await t.gql(ReplayDeadLettersDocument, { destination: d.id }, key);
      expect(many.data!.replayDeadLetters.map((r) => r.replayOf)).toEqual(rest.map((r) => r.id));
      await until('the replays', async () => (await pendingOf(ws)) === 0);
      expect((await t.gql(DeadLettersDocument, { destination: d.id }, key)).data!.deadLetters.nodes).toEqual([]);
      const replayed = [one.data!.replayDeadLetter.id, ...many.data!.replayDeadLetters.map((r) => r.id)];
      expect(receiver.ackedIds(path)).toEqual(replayed);
      expect(receiver.received.filter((r) => r.path === path).every((r) => r.signatureOk)).toBe(true);
      const log = await allDeliveries(key, d.id);
      expect(log.map((r) => r.status)).toEqual(['DEAD', 'DEAD', 'DEAD', 'DELIVERED', 'DELIVERED', 'DELIVERED']);
      expect(log.slice(0, 3).every((r) => r.replayedAt)).toBe(true);
    } finally {
      receiver.decide = decide;
    }
  });

  it('stores signing secrets sealed, seals the plain ones of older rows at start, and signs with either', async () => {
    const { workspaceId: ws, adminKey: key } = await t.newWorkspace('sealed-secrets');
    const path = `/${ws}/sealed`;
    receiver.secrets.set(path, SECRET);
    const d = await createDestination(key, { name: 'sealed', format: 'WEBHOOK', url: `${receiver.url}${path}`, secret: SECRET, events: ['ALERT'], allowPrivateNetwork: true, timeoutMs: 2000 });
    const stored = async () => (await t.app.db.dataSource.query(`SELECT secret, secret_sealed FROM destinations WHERE workspace_id = $1 AND id = $2`, [ws, d.id]))[0] as { secret: string; secret_sealed: boolean };
    const sealed = await stored();
    expect(sealed.secret_sealed).toBe(true);
    expect(sealed.secret).not.toContain(SECRET);
    // An update that gives no secret keeps the sealed one as it is.
    expect((await t.gql(UpdateDestinationDocument, { id: d.id, input: { name: 'sealed, renamed' } }, key)).errors).toBeUndefined();
    expect(await stored()).toEqual(sealed);
    // A row from before sealing holds its secret in plain text: the start seals it.
    await t.app.db.dataSource.query(`UPDATE destinations SET secret = $3, secret_sealed = false WHERE workspace_id = $1 AND id = $2`, [ws, d.id, SECRET]);
    expect(await t.app.services.destinations.sealLegacySecrets()).toBe(1);
    const resealed = await stored();
    expect(resealed.secret_sealed).toBe(true);
    expect(resealed.secret).not.toContain(SECRET);
    expect(await t.app.services.destinations.sealLegacySecrets()).toBe(0);
    // Requests are still signed with the secret in clear.
    await t.gql(CreateAlertRuleDocument, { input: { name: 'any order', metric: 'ORDERS', kind: 'ABOVE', threshold: 0, level: 'URGENT', cooldownSeconds: 0, evaluate: 'CURRENT_PERIOD' } }, key);
    await ingest(t, key, [order('s1')]);
    await t.app.services.kpis.alerts.idle();
    await until('the delivery', async () => (await pendingOf(ws)) === 0);
    const got = receiver.received.filter((r) => r.path === path && r.behaviour === 'ok');
    expect(got.length).toBeGreaterThan(0);
    expect(got.every((r) => r.signatureOk)).toBe(true);
  });

  it('refuses loopback and private URLs without allowPrivateNetwork (typed error on input.url, nothing written), which only an ADMIN may set', async () => {
    const { workspaceId: ws, adminKey: key } = await t.newWorkspace('private-urls');
    const base = { name: 'x', format: 'WEBHOOK' as const, secret: SECRET, events: ['ALERT' as const] };
    for (const url of ['http://127.0.0.1:9/hook', 'http://localhost:9/hook', 'http://10.1.2.3/hook', 'http://172.20.0.1/hook', 'http://192.168.1.1/hook', 'http://169.254.169.254/latest/meta-data', 'http://[::1]:9/hook', 'http://[fd00::1]/hook', 'http://[fe80::1]/hook', 'http://[::ffff:127.0.0.1]/hook', 'http://0.0.0.0/hook']) {
      const r = await t.gql(CreateDestinationDocument, { input: { ...base, url } }, key);
      expect({ url, ext: r.errors?.[0].extensions }).toMatchObject({ url, ext: { code: 'BAD_USER_INPUT', reason: 'PRIVATE_NETWORK_URL', fields: [{ field: 'input.url' }] } });
    }
    for (const [input, field, reason] of [
      [{ ...base, url: 'ftp://example.com/x' }, 'input.url', 'INVALID_DESTINATION_URL'],
      [{ ...base, url: 'not a url' }, 'input.url', 'INVALID_DESTINATION_URL'],
      [{ ...base, url: 'http://u:p@127.0.0.1/', allowPrivateNetwork: true }, 'input.url', 'INVALID_DESTINATION_URL'],
      [{ ...base, url: 'http://127.0.0.1/', allowPrivateNetwork: true, secret: null }, 'input.secret', 'INVALID_SECRET'],
      [{ ...base, url: 'http://127.0.0.1/', allowPrivateNetwork: true, format: 'WECOM' as const }, 'input.secret', 'INVALID_SECRET'],
      [{ ...base, url: 'http://127.0.0.1/', allowPrivateNetwork: true, events: [] }, 'input.events', 'INVALID_EVENTS'],
      [{ ...base, url: 'http://127.0.0.1/', allowPrivateNetwork: true, timeoutMs: 60_000 }, 'input.timeoutMs', 'INVALID_TIMEOUT'],
      [{ ...base, url: 'http://127.0.0.1/', allowPrivateNetwork: true, segmentIds: ['nope'] }, 'input.segmentIds.0', 'INVALID_FILTER'],
    ] as const) {
      const r = await t.gql(CreateDestinationDocument, { input: input as CreateDestinationInput }, key);
      expect({ input, ext: r.errors?.[0].extensions }).toMatchObject({ input, ext: { code: 'BAD_USER_INPUT', reason, fields: [{ field }] } });
    }
    const [{ n }] = await t.app.db.dataSource.query(`SELECT count(*)::int AS n FROM destinations WHERE workspace_id = $1`, [ws]);
    expect(n).toBe(0);

    // Other roles may do nothing here, the flag included.
    for (const role of ['READ', 'ANALYST'] as const) {
      const k = (await t.gql(CreateApiKeyDocument, { input: { role, name: role, pii: false } }, key)).data!.createApiKey.key;
      const r = await t.gql(CreateDestinationDocument, { input: { ...base, url: 'http://127.0.0.1:9/hook', allowPrivateNetwork: true } }, k);
      expect(r.errors?.[0].extensions.code).toBe('FORBIDDEN');
      expect((await t.gql(DestinationsDocument, {}, k)).errors?.[0].extensions.code).toBe('FORBIDDEN');
    }
    const ok = await createDestination(key, { ...base, url: 'http://127.0.0.1:9/hook', allowPrivateNetwork: true });
    expect(ok.allowPrivateNetwork).toBe(true);
    // Turning the flag off again re-checks the URL.
    const off = await t.gql(UpdateDestinationDocument, { id: ok.id, input: { allowPrivateNetwork: false } }, key);
    expect(off.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'PRIVATE_NETWORK_URL', fields: [{ field: 'input.url' }] });
    expect((await t.gql(DestinationsDocument, {}, key)).data!.destinations.map((d) => d.allowPrivateNetwork)).toEqual([true]);
    const renamed = await t.gql(UpdateDestinationDocument, { id: ok.id, input: { name: 'renamed', minAlertLevel: 'URGENT' } }, key);
    expect(renamed.data!.updateDestination).toMatchObject({ name: 'renamed', minAlertLevel: 'URGENT', allowPrivateNetwork: true, hasSecret: true });
    expect((await t.gql(DeleteDestinationDocument, { id: ok.id }, key)).data!.deleteDestination).toBe(true);
    expect((await t.gql(DeleteDestinationDocument, { id: ok.id }, key)).errors?.[0].extensions).toMatchObject({ code: 'NOT_FOUND', reason: 'DESTINATION_NOT_FOUND' });
  });
});
