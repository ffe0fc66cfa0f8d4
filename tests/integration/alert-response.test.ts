import { bootAppPerFile } from '../support/app';
import { ingest } from '../support/api';
import { makeEvent } from '../support/events';
import { Receiver } from '../support/receiver';
import { topicSubscribed, waitUntil } from '../support/wait';
import { collect, wsClient } from '../support/ws';
import { Topics } from '../../src/platform/pubsub';
import {
  AcknowledgeAlertWithNoteDocument,
  AlertChangedDocument,
  AlertProcessListDocument,
  AlertRaisedProcessDocument,
  AlertServiceLevelsDocument,
  CreateAlertRuleDocument,
  CreateApiKeyDocument,
  CreateDestinationDocument,
  DeliveriesDocument,
  RecordAlertRootCauseDocument,
  ResolveAlertWithNoteDocument,
  SetAlertServiceLevelsDocument,
  type AlertChangedSubscription,
  type AlertProcessFragment,
  type AlertRaisedProcessSubscription,
  type EventInput,
} from '../generated/graphql';

/**
 * The response process of alerts (应急响应 → 根源分析 → 改进落实) and their service levels:
 * OPEN → ACKNOWLEDGED → ROOT_CAUSE_RECORDED → RESOLVED with who, when and notes; an alert past its
 * service level escalates one level, is pushed again (subscription and destinations), and its
 * deadlines restart under the new level.
 */
// The escalation sweep runs every `SIYU_DUE_INTERVAL_MS` (off by default in tests); deliveries every 20 ms.
const t = bootAppPerFile({ SIYU_DUE_INTERVAL_MS: '100', SIYU_DELIVERY_INTERVAL_MS: '20' });
const receiver = new Receiver(1, { error500: 0, reset: 0, hang: 0 });
beforeAll(() => receiver.start());
afterAll(() => receiver.stop());

const order = (member: string, revenue: number): EventInput =>
  makeEvent({ identifiers: [`member_id::${member}`], name: 'Order Completed', properties: { revenue }, timestamp: new Date(Date.now() - 60_000).toISOString() });

/** Creates a rule that fires on the next order, sends one, and returns the alert raised. */
async function raise(key: string, level: 'NORMAL' | 'IMPORTANT' | 'URGENT', member: string): Promise<AlertProcessFragment> {
  const rule = await t.gql(CreateAlertRuleDocument, { input: { name: `${level} orders`, metric: 'ORDERS', kind: 'ABOVE', threshold: 0, level, cooldownSeconds: 0, evaluate: 'CURRENT_PERIOD' } }, key);
  expect(rule.errors).toBeUndefined();
  await ingest(t, key, [order(member, 10)]);
  await t.app.services.kpis.alerts.idle();
  const alerts = (await t.gql(AlertProcessListDocument, {}, key)).data!.alerts.filter((a) => a.ruleId === rule.data!.createAlertRule.id);
  expect(alerts).toHaveLength(1);
  return alerts[0];
}

const seconds = (from: string, to: string | null | undefined) => (Date.parse(to!) - Date.parse(from)) / 1000;

describe('alert response process', () => {
  it('moves OPEN → ACKNOWLEDGED → ROOT_CAUSE_RECORDED → RESOLVED with who, when and notes, visible to alertChanged subscribers; out-of-order steps are refused', async () => {
    const { workspaceId: ws, adminKey } = await t.newWorkspace('alert-process');
    const reader = (await t.gql(CreateApiKeyDocument, { input: { role: 'READ', name: 'on duty' } }, adminKey)).data!.createApiKey;
    const key = reader.key;
    const client = wsClient(t.url, key);
    await client.connected;
    try {
      const listening = topicSubscribed(t, Topics.alertChanged(ws));
      const feed = collect<AlertChangedSubscription>(client.client, AlertChangedDocument);
      await listening;
      const a = await raise(adminKey, 'URGENT', 'p1');
      // Raised under the default URGENT service level: acknowledge within 15 minutes, resolve within 4 hours.
      expect(a).toMatchObject({ status: 'OPEN', level: 'URGENT', raisedLevel: 'URGENT', escalations: 0, rootCause: null });
      expect(seconds(a.raisedAt, a.acknowledgeDueAt)).toBe(900);
      expect(seconds(a.raisedAt, a.resolveDueAt)).toBe(4 * 3600);
      expect(a.dueAt).toBe(a.acknowledgeDueAt);
      expect(a.history.map((s) => [s.action, s.actor, s.level])).toEqual([['RAISED', null, 'URGENT']]);

      // A root cause before anyone acknowledged, and an empty one, are refused and change nothing.
      const early = await t.gql(RecordAlertRootCauseDocument, { id: a.id, rootCause: '库存同步延迟' }, key);
      expect(early.errors?.[0].extensions).toMatchObject({ code: 'CONFLICT', reason: 'ALERT_STATUS' });
      const ack = await t.gql(AcknowledgeAlertWithNoteDocument, { id: a.id, note: '值班同学已介入' }, key);
      expect(ack.errors).toBeUndefined();
      expect(ack.data!.acknowledgeAlert).toMatchObject({ status: 'ACKNOWLEDGED', acknowledgedBy: reader.apiKey.id });
      // Acknowledged: the acknowledge deadline no longer escalates; the resolve deadline does.
      expect(ack.data!.acknowledgeAlert.dueAt).toBe(a.resolveDueAt);
      const empty = await t.gql(RecordAlertRootCauseDocument, { id: a.id, rootCause: '   ' }, key);
      expect(empty.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'INVALID_ALERT_NOTE', fields: [{ field: 'rootCause' }] });
      const long = await t.gql(ResolveAlertWithNoteDocument, { id: a.id, note: 'x'.repeat(2001) }, key);
      expect(long.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'INVALID_ALERT_NOTE', fields: [{ field: 'note' }] });

      const cause = await t.gql(RecordAlertRootCauseDocument, { id: a.id, rootCause: '618 预售订单重复推送' }, key);
      expect(cause.data!.recordAlertRootCause).toMatchObject({ status: 'ROOT_CAUSE_RECORDED', rootCause: '618 预售订单重复推送', rootCauseBy: reader.apiKey.id });
      const revised = await t.gql(RecordAlertRootCauseDocument, { id: a.id, rootCause: '小程序支付回调重试未去重' }, adminKey);
      expect(revised.data!.recordAlertRootCause.rootCause).toBe('小程序支付回调重试未去重');
      const done = await t.gql(ResolveAlertWithNoteDocument, { id: a.id, note: '回调按订单号幂等' }, key);
      expect(done.errors).toBeUndefined();
      const r = done.data!.resolveAlert;
      expect(r).toMatchObject({ status: 'RESOLVED', resolvedBy: reader.apiKey.id, resolutionNote: '回调按订单号幂等', dueAt: null });
      expect(r.history.map((s) => [s.action, s.actor, s.note])).toEqual([
        ['RAISED', null, null],
        ['ACKNOWLEDGED', reader.apiKey.id, '值班同学已介入'],
        ['ROOT_CAUSE_RECORDED', reader.apiKey.id, '618 预售订单重复推送'],
        ['ROOT_CAUSE_RECORDED', expect.any(String), '小程序支付回调重试未去重'],
        ['RESOLVED', reader.apiKey.id, '回调按订单号幂等'],
      ]);
      expect(r.history.map((s) => Date.parse(s.at))).toEqual([...r.history.map((s) => Date.parse(s.at))].sort((x, y) => x - y));
      // Resolved is final.
      for (const again of [
        await t.gql(AcknowledgeAlertWithNoteDocument, { id: a.id }, key),
        await t.gql(RecordAlertRootCauseDocument, { id: a.id, rootCause: 'late' }, key),
        await t.gql(ResolveAlertWithNoteDocument, { id: a.id }, key),
      ]) {
        expect(again.errors?.[0].extensions).toMatchObject({ code: 'CONFLICT', reason: 'ALERT_STATUS' });
      }
      expect((await t.gql(AlertProcessListDocument, {}, key)).data!.alerts[0].history).toHaveLength(5);

      // The feed saw every step, in order, each with the alert as it stood after it.
      const steps = await feed.next(5, 20_000);
      expect(steps.map((s) => [s.data!.alertChanged.status, s.data!.alertChanged.history.length])).toEqual([
        ['OPEN', 1],
        ['ACKNOWLEDGED', 2],
        ['ROOT_CAUSE_RECORDED', 3],
        ['ROOT_CAUSE_RECORDED', 4],
        ['RESOLVED', 5],
      ]);
      feed.unsubscribe();
    } finally {
      await client.dispose();
    }
  });

  it('notes people write (acknowledgement, root cause, fix, history) are masked for keys without the PII scope, in answers and on the alertChanged feed, and exact for keys with it', async () => {
    const { workspaceId: ws, adminKey } = await t.newWorkspace('alert-notes-pii');
    const newKey = async (role: 'READ' | 'ANALYST', pii: boolean) => {
      const k = await t.gql(CreateApiKeyDocument, { input: { role, name: `${role} pii=${pii}`, pii } }, adminKey);
      expect(k.data!.createApiKey.apiKey.pii).toBe(pii);
      return k.data!.createApiKey.key;
    };
    const reader = await newKey('READ', false);
    const piiReader = await newKey('READ', true);
    const analyst = await newKey('ANALYST', false);
    // A customer's phone number and e-mail address, as people write them into notes.
    const notes = {
      ack: '客户 13800138000 来电投诉，已回拨',
      rootCause: '会员李雷 (li.lei@example.com) 的订单被重复推送',
      fix: '已电话 +86 138-0013-8000 告知 li.lei@example.com，回调按订单号幂等',
    };
    const masked = {
      ack: '客户 138****8000 来电投诉，已回拨',
      rootCause: '会员李雷 (l***@example.com) 的订单被重复推送',
      fix: '已电话 138****8000 告知 l***@example.com，回调按订单号幂等',
    };
    const view = (a: AlertProcessFragment) => ({ rootCause: a.rootCause, resolutionNote: a.resolutionNote, history: a.history.map((s) => [s.action, s.note]) });
    const expected = (n: typeof notes) => ({
      rootCause: n.rootCause,
      resolutionNote: n.fix,
      history: [
        ['RAISED', null],
        ['ACKNOWLEDGED', n.ack],
        ['ROOT_CAUSE_RECORDED', n.rootCause],
        ['RESOLVED', n.fix],
      ],
    });

    const masking = wsClient(t.url, reader);
    const exact = wsClient(t.url, piiReader);
    await Promise.all([masking.connected, exact.connected]);
    try {
      // topicSubscribed sees one subscription at a time: one feed, then the other.
      let listening = topicSubscribed(t, Topics.alertChanged(ws));
      const maskedFeed = collect<AlertChangedSubscription>(masking.client, AlertChangedDocument);
      await listening;
      listening = topicSubscribed(t, Topics.alertChanged(ws));
      const exactFeed = collect<AlertChangedSubscription>(exact.client, AlertChangedDocument);
      await listening;

      const a = await raise(adminKey, 'URGENT', 'pii1');
      // The key that writes a note without the PII scope gets it back masked too.
      const ack = await t.gql(AcknowledgeAlertWithNoteDocument, { id: a.id, note: notes.ack }, reader);
      expect(ack.errors).toBeUndefined();
      expect(ack.data!.acknowledgeAlert.history.at(-1)!.note).toBe(masked.ack);
      const cause = await t.gql(RecordAlertRootCauseDocument, { id: a.id, rootCause: notes.rootCause }, analyst);
      expect(cause.errors).toBeUndefined();
      expect(cause.data!.recordAlertRootCause.rootCause).toBe(masked.rootCause);
      const done = await t.gql(ResolveAlertWithNoteDocument, { id: a.id, note: notes.fix }, piiReader);
      expect(done.errors).toBeUndefined();
      expect(view(done.data!.resolveAlert)).toEqual(expected(notes));

      const read = async (key: string) => view((await t.gql(AlertProcessListDocument, {}, key)).data!.alerts.find((x) => x.id === a.id)!);
      for (const key of [reader, analyst]) {
        const seen = await read(key);
        expect(seen).toEqual(expected(masked));
        expect(JSON.stringify(seen)).not.toMatch(/13800138000|138-0013-8000|li\.lei@/);
      }
      // Stored as written: keys with the PII scope read it exactly.
      for (const key of [piiReader, adminKey]) expect(await read(key)).toEqual(expected(notes));

      // The feed resolves through the same fields: RAISED, ACKNOWLEDGED, ROOT_CAUSE_RECORDED, RESOLVED.
      const last = async (feed: typeof maskedFeed) => view((await feed.next(4, 20_000))[3].data!.alertChanged);
      expect(await last(maskedFeed)).toEqual(expected(masked));
      expect(await last(exactFeed)).toEqual(expected(notes));
      maskedFeed.unsubscribe();
      exactFeed.unsubscribe();
    } finally {
      await Promise.all([masking.dispose(), exact.dispose()]);
    }
  });

  it('service levels are settings with defaults; bad ones are typed errors naming the field and change nothing; a required root cause gates resolving', async () => {
    const { adminKey: key } = await t.newWorkspace('alert-sla');
    const defaults = (await t.gql(AlertServiceLevelsDocument, {}, key)).data!.alertServiceLevels;
    expect(defaults.map((s) => [s.level, s.acknowledgeWithinSeconds, s.resolveWithinSeconds, s.rootCauseRequired, s.updatedBy])).toEqual([
      ['NORMAL', 4 * 3600, 72 * 3600, false, null],
      ['IMPORTANT', 3600, 24 * 3600, false, null],
      ['URGENT', 900, 4 * 3600, false, null],
    ]);
    const bad = async (input: unknown[], field: string) => {
      const r = await t.gql(SetAlertServiceLevelsDocument, { input } as never, key);
      expect(r.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'INVALID_ALERT_SLA', fields: [{ field }] });
    };
    const ok = { level: 'URGENT', acknowledgeWithinSeconds: 60, resolveWithinSeconds: 600 };
    await bad([], 'input');
    await bad([ok, { ...ok }], 'input.1.level');
    await bad([ok, { level: 'NORMAL', acknowledgeWithinSeconds: 0, resolveWithinSeconds: 600 }], 'input.1.acknowledgeWithinSeconds');
    await bad([{ ...ok, resolveWithinSeconds: 90 * 86400 + 1 }], 'input.0.resolveWithinSeconds');
    await bad([{ ...ok, resolveWithinSeconds: 30 }], 'input.0.resolveWithinSeconds');
    expect((await t.gql(AlertServiceLevelsDocument, {}, key)).data!.alertServiceLevels).toEqual(defaults);
    // Only ADMIN sets them.
    const analyst = (await t.gql(CreateApiKeyDocument, { input: { role: 'ANALYST', name: 'analyst' } }, key)).data!.createApiKey.key;
    expect((await t.gql(SetAlertServiceLevelsDocument, { input: [ok] } as never, analyst)).errors?.[0].extensions.code).toBe('FORBIDDEN');

    const set = await t.gql(SetAlertServiceLevelsDocument, { input: [{ ...ok, rootCauseRequired: true }] } as never, key);
    expect(set.errors).toBeUndefined();
    expect(set.data!.setAlertServiceLevels.map((s) => [s.level, s.acknowledgeWithinSeconds, s.resolveWithinSeconds, s.rootCauseRequired, !!s.updatedBy])).toEqual([
      ['NORMAL', 4 * 3600, 72 * 3600, false, false],
      ['IMPORTANT', 3600, 24 * 3600, false, false],
      ['URGENT', 60, 600, true, true],
    ]);
    const a = await raise(key, 'URGENT', 's1');
    expect([seconds(a.raisedAt, a.acknowledgeDueAt), seconds(a.raisedAt, a.resolveDueAt)]).toEqual([60, 600]);
    await t.gql(AcknowledgeAlertWithNoteDocument, { id: a.id }, key);
    const early = await t.gql(ResolveAlertWithNoteDocument, { id: a.id, note: 'fixed' }, key);
    expect(early.errors?.[0].extensions).toMatchObject({ code: 'CONFLICT', reason: 'ALERT_ROOT_CAUSE_REQUIRED' });
    expect((await t.gql(AlertProcessListDocument, {}, key)).data!.alerts[0].status).toBe('ACKNOWLEDGED');
    await t.gql(RecordAlertRootCauseDocument, { id: a.id, rootCause: 'cause' }, key);
    expect((await t.gql(ResolveAlertWithNoteDocument, { id: a.id, note: 'fixed' }, key)).data!.resolveAlert.status).toBe('RESOLVED');
  });

  it('an alert past its service level escalates one level, is pushed again to subscribers and destinations, and restarts its deadlines; urgent stays urgent', async () => {
    const { workspaceId: ws, adminKey: key } = await t.newWorkspace('alert-escalation');
    // NORMAL: acknowledge within 3 s; IMPORTANT: within 3 s; both resolve within 1 hour.
    const set = await t.gql(
      SetAlertServiceLevelsDocument,
      {
        input: [
          { level: 'NORMAL', acknowledgeWithinSeconds: 3, resolveWithinSeconds: 3600 },
          { level: 'IMPORTANT', acknowledgeWithinSeconds: 3, resolveWithinSeconds: 3600 },
        ],
      } as never,
      key,
    );
    expect(set.errors).toBeUndefined();
    const path = `/${ws}/escalations`;
    const dest = await t.gql(
      CreateDestinationDocument,
      { input: { name: 'on call', format: 'WEBHOOK', url: `${receiver.url}${path}`, secret: 'escalation-secret', events: ['ALERT'], minAlertLevel: 'IMPORTANT', allowPrivateNetwork: true, timeoutMs: 2000, maxAttempts: 5 } },
      key,
    );
    expect(dest.errors).toBeUndefined();
    receiver.secrets.set(path, 'escalation-secret');

    const client = wsClient(t.url, key);
    await client.connected;
    let alertId: string;
    try {
      const listening = topicSubscribed(t, Topics.alertRaised(ws));
      const pushed = collect<AlertRaisedProcessSubscription>(client.client, AlertRaisedProcessDocument, { minLevel: 'IMPORTANT' });
      await listening;
      const a = await raise(key, 'NORMAL', 'e1');
      alertId = a.id;
      expect(a.raisedLevel).toBe('NORMAL');
      // Nobody acknowledges: after 3 s it escalates to IMPORTANT and reaches the IMPORTANT subscriber.
      const [first] = await pushed.next(1, 20_000);
      const e = first.data!.alertRaised;
      expect(e).toMatchObject({ id: a.id, level: 'IMPORTANT', raisedLevel: 'NORMAL', escalations: 1, status: 'OPEN' });
      expect(Date.parse(e.escalatedAt!)).toBeGreaterThanOrEqual(Date.parse(a.acknowledgeDueAt!));
      // Its deadlines restart from the escalation under IMPORTANT's service level.
      expect(seconds(e.escalatedAt!, e.acknowledgeDueAt)).toBe(3);
      expect(seconds(e.escalatedAt!, e.resolveDueAt)).toBe(3600);
      // (Read when pushed: a slow machine may already show the next escalation after these two.)
      expect(e.history.slice(0, 2).map((s) => [s.action, s.level, s.actor])).toEqual([
        ['RAISED', 'NORMAL', null],
        ['ESCALATED', 'IMPORTANT', null],
      ]);
      expect(e.history[1].note).toMatch(/^not acknowledged by /);
      // Still nobody: IMPORTANT → URGENT.
      const [, second] = await pushed.next(2, 20_000);
      expect(second.data!.alertRaised).toMatchObject({ level: 'URGENT', escalations: 2 });
      // Acknowledged now: no further escalation until the resolve deadline (URGENT default: 4 h from the escalation).
      const ack = (await t.gql(AcknowledgeAlertWithNoteDocument, { id: a.id, note: '客户 13800138000 来电' }, key)).data!.acknowledgeAlert;
      expect(ack.dueAt).toBe(ack.resolveDueAt);
      expect(seconds(ack.escalatedAt!, ack.resolveDueAt)).toBe(4 * 3600);
      // (The sweep is global: other workspaces' alerts in this database may escalate too; only this one is looked at.)
      const mine = <T extends { id: string }>(rows: T[]) => rows.filter((x) => x.id === a.id);
      expect(mine(await t.app.services.kpis.alerts.escalateDue(new Date(Date.parse(ack.resolveDueAt!) - 1000)))).toEqual([]);
      // Past the resolve deadline: urgent stays urgent, escalates again and is pushed again.
      const late = mine(await t.app.services.kpis.alerts.escalateDue(new Date(Date.parse(ack.resolveDueAt!) + 1000)));
      expect(late.map((x) => [x.id, x.level, x.escalations])).toEqual([[a.id, 'urgent', 3]]);
      const [, , third] = await pushed.next(3, 20_000);
      expect(third.data!.alertRaised).toMatchObject({ level: 'URGENT', escalations: 3, status: 'ACKNOWLEDGED' });
      expect(third.data!.alertRaised.history.at(-1)!.note).toMatch(/^not resolved by /);
      pushed.unsubscribe();
    } finally {
      await client.dispose();
    }

    // The destination (IMPORTANT and above) got the three escalations, signed, in order; the NORMAL raise was below it.
    await waitUntil('three escalations delivered', () => receiver.received.filter((r) => r.path === path).length >= 3, { timeoutMs: 30_000 });
    const got = receiver.received.filter((r) => r.path === path);
    expect(got.map((r) => [r.body.type, (r.body.data as Record<string, unknown>).level, (r.body.data as Record<string, unknown>).escalation])).toEqual([
      ['alert.escalated', 'important', 1],
      ['alert.escalated', 'urgent', 2],
      ['alert.escalated', 'urgent', 3],
    ]);
    expect(got.every((r) => r.signatureOk)).toBe(true);
    // Deliveries carry the alert and the escalation's reason, never the notes people wrote (the third came after the acknowledgement's note).
    expect(got.map((r) => JSON.stringify(r.body)).join('\n')).not.toContain('13800138000');
    const log = (await t.gql(DeliveriesDocument, { destination: dest.data!.createDestination.id }, key)).data!.deliveries.nodes;
    expect(log.map((d) => d.sourceKey).sort()).toEqual([`${alertId!}:2`, `${alertId!}:3`, `${alertId!}:5`].sort());
  });
});
