import { bootAppPerFile } from '../support/app';
import { ingest } from '../support/api';
import { makeEvent } from '../support/events';
import { topicSubscribed } from '../support/wait';
import { collect, wsClient } from '../support/ws';
import { Topics } from '../../src/platform/pubsub';
import {
  AcknowledgeAlertDocument,
  AlertRaisedDocument,
  AlertRulesDocument,
  AlertsDocument,
  CreateAlertRuleDocument,
  IngestDocument,
  KpisDocument,
  UnmergeDocument,
  ResolveAlertDocument,
  SetTargetDocument,
  type AlertRaisedSubscription,
  type EventInput,
} from '../generated/graphql';

const t = bootAppPerFile();

const order = (member: string, revenue: number): EventInput =>
  makeEvent({ identifiers: [`member_id::${member}`], name: 'Order Completed', properties: { revenue }, timestamp: new Date(Date.now() - 60_000).toISOString() });

/** Waits until the workspace's scheduled alert evaluations are done. */
const settled = () => t.app.services.kpis.alerts.idle();

describe('targets and alerts', () => {
  it('a threshold rule fires once when the KPI crosses it, reaches alertRaised, and is acknowledged and resolved with who and when', async () => {
    const { adminKey, workspaceId } = await t.newWorkspace('alerts-threshold');
    const rule = await t.gql(CreateAlertRuleDocument, { input: { name: 'orders surge', metric: 'ORDERS', kind: 'ABOVE', threshold: 2, level: 'URGENT', cooldownSeconds: 0 } }, adminKey);
    expect(rule.errors).toBeUndefined();
    const low = await t.gql(CreateAlertRuleDocument, { input: { name: 'any order', metric: 'ORDERS', kind: 'ABOVE', threshold: 0, level: 'NORMAL' } }, adminKey);
    expect(low.errors).toBeUndefined();

    const ws = wsClient(t.url, adminKey);
    await ws.connected;
    const listening = topicSubscribed(t, Topics.alertRaised(workspaceId));
    const sub = collect<AlertRaisedSubscription>(ws.client, AlertRaisedDocument, { minLevel: 'IMPORTANT' });
    await listening;

    await ingest(t, adminKey, [order('a1', 10), order('a2', 20)]);
    await settled();
    // Two orders: the NORMAL rule (> 0) fired, but the subscriber asked for IMPORTANT and above.
    expect((await t.gql(AlertsDocument, {}, adminKey)).data!.alerts.map((a) => a.ruleId)).toEqual([low.data!.createAlertRule.id]);

    await ingest(t, adminKey, [order('a3', 30)]);
    const [first] = await sub.next(1);
    expect(first.errors).toBeUndefined();
    expect(first.data!.alertRaised).toMatchObject({ ruleId: rule.data!.createAlertRule.id, metric: 'ORDERS', level: 'URGENT', value: 3, reference: 2, status: 'OPEN' });

    // Still above the threshold: no second alert while the condition keeps holding.
    await ingest(t, adminKey, [order('a4', 40)]);
    await ingest(t, adminKey, [order('a5', 50)]);
    await settled();
    const urgent = (await t.gql(AlertsDocument, { level: 'URGENT' }, adminKey)).data!.alerts;
    expect(urgent).toHaveLength(1);
    expect(sub.results).toHaveLength(1);
    const rules = (await t.gql(AlertRulesDocument, {}, adminKey)).data!.alertRules;
    expect(rules.find((r) => r.id === rule.data!.createAlertRule.id)!.breached).toBe(true);

    const ack = await t.gql(AcknowledgeAlertDocument, { id: urgent[0].id }, adminKey);
    expect(ack.errors).toBeUndefined();
    expect(ack.data!.acknowledgeAlert).toMatchObject({ status: 'ACKNOWLEDGED' });
    expect(ack.data!.acknowledgeAlert.acknowledgedBy).toBeTruthy();
    expect(Date.parse(ack.data!.acknowledgeAlert.acknowledgedAt!)).toBeGreaterThan(Date.now() - 60_000);
    const again = await t.gql(AcknowledgeAlertDocument, { id: urgent[0].id }, adminKey);
    expect(again.errors?.[0].extensions.code).toBe('CONFLICT');
    const res = await t.gql(ResolveAlertDocument, { id: urgent[0].id }, adminKey);
    expect(res.data!.resolveAlert).toMatchObject({ status: 'RESOLVED' });
    expect((await t.gql(AlertsDocument, { status: 'OPEN', level: 'URGENT' }, adminKey)).data!.alerts).toHaveLength(0);
    sub.unsubscribe();
    await ws.dispose();
  });

  it('a deviation rule compares the KPI with its target (default: more than 5%)', async () => {
    const { adminKey } = await t.newWorkspace('alerts-deviation');
    await ingest(t, adminKey, [order('d1', 100), order('d2', 100)]);
    const today = new Date(Date.now() + 8 * 3_600_000).toISOString().slice(0, 10);
    const near = await t.gql(SetTargetDocument, { metric: 'GMV', value: 196, period: { from: today, to: today } }, adminKey);
    const far = await t.gql(SetTargetDocument, { metric: 'GMV', value: 400, period: { from: today, to: today } }, adminKey);
    expect(near.errors).toBeUndefined();
    const a = await t.gql(CreateAlertRuleDocument, { input: { name: 'near', metric: 'GMV', kind: 'DEVIATION', targetId: near.data!.setTarget.id, level: 'IMPORTANT' } }, adminKey);
    const b = await t.gql(CreateAlertRuleDocument, { input: { name: 'far', metric: 'GMV', kind: 'DEVIATION', targetId: far.data!.setTarget.id, level: 'IMPORTANT' } }, adminKey);
    expect(a.data!.createAlertRule.deviationPct).toBe(5);
    await settled();
    const alerts = (await t.gql(AlertsDocument, {}, adminKey)).data!.alerts;
    // 200 vs 196 is 2% off (quiet); 200 vs 400 is 50% off (fires).
    expect(alerts.map((x) => x.ruleId)).toEqual([b.data!.createAlertRule.id]);
    expect(alerts[0]).toMatchObject({ value: 200, reference: 400 });
  });

  it('bad rules are refused with the field, and other workspaces\' alerts are not found', async () => {
    const { adminKey } = await t.newWorkspace('alerts-bad');
    const noThreshold = await t.gql(CreateAlertRuleDocument, { input: { name: 'x', metric: 'GMV', kind: 'ABOVE', level: 'NORMAL' } }, adminKey);
    expect(noThreshold.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: [{ field: 'input.threshold' }] });
    const noTarget = await t.gql(CreateAlertRuleDocument, { input: { name: 'x', metric: 'GMV', kind: 'DEVIATION', targetId: '00000000-0000-4000-8000-000000000000', level: 'NORMAL' } }, adminKey);
    expect(noTarget.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'TARGET_NOT_FOUND', fields: [{ field: 'input.targetId' }] });
    const badPeriod = await t.gql(SetTargetDocument, { metric: 'GMV', value: 1, period: { from: '2026-02-30', to: '2026-03-01' } }, adminKey);
    expect(badPeriod.errors?.[0].extensions).toMatchObject({ reason: 'INVALID_KPI_RANGE', fields: [{ field: 'period.from' }] });
    const ack = await t.gql(AcknowledgeAlertDocument, { id: 'not-a-uuid' }, adminKey);
    expect(ack.errors?.[0].extensions.code).toBe('NOT_FOUND');
    expect((await t.gql(AlertRulesDocument, {}, adminKey)).data!.alertRules).toHaveLength(0);
  });
});

describe('rollups follow merges and unmerges', () => {
  it('a merge folds two people into one in every KPI; undoing it splits them again', async () => {
    const { adminKey: key } = await t.newWorkspace('kpi-unmerge');
    const ts = (h: number) => new Date(Date.now() - h * 3_600_000).toISOString();
    const send = async (ids: string[], over: Partial<EventInput>) => {
      const r = await t.gql(IngestDocument, { events: [makeEvent({ identifiers: ids, ...over })] }, key);
      expect(r.data!.ingestEvents.accepted).toBe(1);
    };
    await send(['member_id::KU-1'], { name: 'Order Completed', properties: { revenue: 10 }, timestamp: ts(5), channel: 'app' });
    await send(['anonymous_id::KU-A'], { timestamp: ts(4), channel: 'web' });
    const today = new Date(Date.now() + 8 * 3_600_000).toISOString().slice(0, 10);
    const range = { from: new Date(Date.now() + 8 * 3_600_000 - 86_400_000).toISOString().slice(0, 10), to: today };
    const snap = async () => {
      const r = await t.gql(KpisDocument, { metrics: ['NEW_PROFILES', 'ACTIVE_USERS', 'ORDERS'], range }, key);
      expect(r.errors).toBeUndefined();
      return r.data!.kpis.values.map((v) => v.value);
    };
    expect(await snap()).toEqual([2, 2, 1]);
    await send(['member_id::KU-1', 'anonymous_id::KU-A'], { timestamp: ts(3), channel: 'web' });
    expect(await snap()).toEqual([1, 1, 1]);
    const profile = await t.gql<{ profileByIdentifier: { mergeHistory: { id: string }[] } }>(
      `query { profileByIdentifier(identifier: { type: "member_id", value: "KU-1" }) { mergeHistory { id } } }`,
      {},
      key,
    );
    const u = await t.gql(UnmergeDocument, { mergeId: profile.data!.profileByIdentifier.mergeHistory[0].id }, key);
    expect(u.errors).toBeUndefined();
    expect(await snap()).toEqual([2, 2, 1]);
  });
});
