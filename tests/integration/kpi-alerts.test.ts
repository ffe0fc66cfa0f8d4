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
  UpdateWorkspaceDocument,
  type AlertRaisedSubscription,
  type EventInput,
} from '../generated/graphql';

const t = bootAppPerFile();

const order = (member: string, revenue: number): EventInput =>
  makeEvent({ identifiers: [`member_id::${member}`], name: 'Order Completed', properties: { revenue }, timestamp: new Date(Date.now() - 60_000).toISOString() });

/** Waits until the workspace's scheduled alert evaluations are done. */
const settled = () => t.app.services.kpis.alerts.idle();

/** A local date (Asia/Shanghai, the default time zone) `daysAgo` days before today. */
const localDay = (daysAgo = 0) => new Date(Date.now() + 8 * 3_600_000 - daysAgo * 86_400_000).toISOString().slice(0, 10);
const view = (member: string, msAgo = 60_000): EventInput =>
  makeEvent({ identifiers: [`member_id::${member}`], name: 'Product Viewed', timestamp: new Date(Date.now() - msAgo).toISOString() });

describe('targets and alerts', () => {
  it('a threshold rule fires once when the KPI crosses it, reaches alertRaised, and is acknowledged and resolved with who and when', async () => {
    const { adminKey, workspaceId } = await t.newWorkspace('alerts-threshold');
    const rule = await t.gql(CreateAlertRuleDocument, { input: { name: 'orders surge', metric: 'ORDERS', kind: 'ABOVE', threshold: 2, level: 'URGENT', cooldownSeconds: 0, evaluate: 'CURRENT_PERIOD' } }, adminKey);
    expect(rule.errors).toBeUndefined();
    const low = await t.gql(CreateAlertRuleDocument, { input: { name: 'any order', metric: 'ORDERS', kind: 'ABOVE', threshold: 0, level: 'NORMAL', evaluate: 'CURRENT_PERIOD' } }, adminKey);
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
    const a = await t.gql(CreateAlertRuleDocument, { input: { name: 'near', metric: 'GMV', kind: 'DEVIATION', targetId: near.data!.setTarget.id, level: 'IMPORTANT', evaluate: 'CURRENT_PERIOD' } }, adminKey);
    const b = await t.gql(CreateAlertRuleDocument, { input: { name: 'far', metric: 'GMV', kind: 'DEVIATION', targetId: far.data!.setTarget.id, level: 'IMPORTANT', evaluate: 'CURRENT_PERIOD' } }, adminKey);
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

describe('alert messages, auto-resolve and the period evaluated', () => {
  /** Three people today, one of whom ordered ¥123.456 (stored as 123.46); rules in `locale`; their messages by rule name. */
  async function messagesIn(locale: 'ZH_CN' | 'EN' | null, names: { conversion: string; gmv: string; dau: string; target: string }) {
    const { adminKey } = await t.newWorkspace(`alerts-${locale ?? 'default'}`);
    if (locale) {
      const u = await t.gql(UpdateWorkspaceDocument, { input: { locale } }, adminKey);
      expect(u.errors).toBeUndefined();
      expect(u.data!.updateWorkspace.locale).toBe(locale);
    } else {
      expect((await t.gql<{ workspace: { locale: string } }>('{ workspace { locale } }', {}, adminKey)).data!.workspace.locale).toBe('ZH_CN');
    }
    await ingest(t, adminKey, [view('m1'), view('m2'), order('m3', 123.456)]);
    const target = await t.gql(SetTargetDocument, { metric: 'GMV', value: 185.19, period: { from: localDay(), to: localDay() } }, adminKey);
    const rules = [
      { name: names.conversion, metric: 'CONVERSION_RATE', kind: 'BELOW', threshold: 0.5 },
      { name: names.gmv, metric: 'GMV', kind: 'ABOVE', threshold: 100 },
      // Two days, nobody yesterday: DAU is 1.5 people a day.
      { name: names.dau, metric: 'DAU', kind: 'BELOW', threshold: 5, windowDays: 2 },
      { name: names.target, metric: 'GMV', kind: 'DEVIATION', targetId: target.data!.setTarget.id },
    ] as const;
    for (const input of rules) {
      const r = await t.gql(CreateAlertRuleDocument, { input: { ...input, level: 'NORMAL', evaluate: 'CURRENT_PERIOD' } }, adminKey);
      expect(r.errors).toBeUndefined();
    }
    await settled();
    const alerts = (await t.gql(AlertsDocument, {}, adminKey)).data!.alerts;
    expect(alerts.find((a) => a.metric === 'DAU')!.value).toBe(1.5);
    return Object.fromEntries(alerts.map((a) => [a.message.split(/[:：]/)[0], a.message]));
  }

  it('are written wholly in the workspace language (default Chinese), with values rounded and in their units', async () => {
    const [today, yesterday] = [localDay(), localDay(1)];
    const zh = await messagesIn(null, { conversion: '转化率过低', gmv: '大促', dau: '日活过低', target: 'GMV 目标' });
    expect(zh).toEqual({
      转化率过低: `转化率过低：转化率为 33.3%，低于阈值 50%（${today}，截至目前）`,
      大促: `大促：GMV为 ¥123.46，高于阈值 ¥100.00（${today}，截至目前）`,
      日活过低: `日活过低：日活为 2，低于阈值 5（${yesterday} 至 ${today}，截至目前）`,
      'GMV 目标': `GMV 目标：GMV为 ¥123.46，目标 ¥185.19（${today}，截至目前），低于目标 33.3%（允许偏差 5%）`,
    });
    const en = await messagesIn('EN', { conversion: 'conversion low', gmv: 'big day', dau: 'quiet', target: 'GMV target' });
    expect(en).toEqual({
      'conversion low': `conversion low: Conversion rate is 33.3%, below the threshold of 50% (${today}, so far)`,
      'big day': `big day: GMV is ¥123.46, above the threshold of ¥100.00 (${today}, so far)`,
      quiet: `quiet: DAU is 2, below the threshold of 5 (${yesterday} to ${today}, so far)`,
      'GMV target': `GMV target: GMV is ¥123.46 against the target of ¥185.19 (${today}, so far), 33.3% below the target (allowed 5%)`,
    });
  });

  it('a rule with autoResolve resolves its alerts (resolvedAt, no resolvedBy) when the condition clears; others stay open', async () => {
    const { adminKey } = await t.newWorkspace('alerts-auto-resolve');
    const input = { metric: 'ORDERS', kind: 'BELOW', threshold: 2, level: 'IMPORTANT', evaluate: 'CURRENT_PERIOD' } as const;
    const auto = await t.gql(CreateAlertRuleDocument, { input: { ...input, name: 'few orders (auto)', autoResolve: true } }, adminKey);
    const manual = await t.gql(CreateAlertRuleDocument, { input: { ...input, name: 'few orders' } }, adminKey);
    expect(auto.data!.createAlertRule.autoResolve).toBe(true);
    expect(manual.data!.createAlertRule.autoResolve).toBe(false);
    await settled();
    // No order yet: both fire; someone acknowledges the auto-resolving one.
    const raised = (await t.gql(AlertsDocument, {}, adminKey)).data!.alerts;
    expect(raised.map((a) => a.status)).toEqual(['OPEN', 'OPEN']);
    const autoAlert = raised.find((a) => a.ruleId === auto.data!.createAlertRule.id)!;
    expect((await t.gql(AcknowledgeAlertDocument, { id: autoAlert.id }, adminKey)).errors).toBeUndefined();

    await ingest(t, adminKey, [order('r1', 10), order('r2', 20)]);
    await settled();
    const after = (await t.gql(AlertsDocument, {}, adminKey)).data!.alerts;
    const byRule = (id: string) => after.find((a) => a.ruleId === id)!;
    expect(byRule(auto.data!.createAlertRule.id)).toMatchObject({ status: 'RESOLVED', resolvedBy: null });
    expect(Date.parse(byRule(auto.data!.createAlertRule.id).resolvedAt!)).toBeGreaterThan(Date.now() - 60_000);
    expect(byRule(manual.data!.createAlertRule.id)).toMatchObject({ status: 'OPEN', resolvedAt: null });
    const rules = (await t.gql(AlertRulesDocument, {}, adminKey)).data!.alertRules;
    expect(rules.map((r) => r.breached)).toEqual([false, false]);
  });

  it('a BELOW rule created when a day has just begun measures the last completed day by default, not the partial one', async () => {
    const { adminKey } = await t.newWorkspace('alerts-completed');
    // Two people yesterday; today nobody yet (the day has just begun).
    await ingest(t, adminKey, [view('y1', 86_400_000), view('y2', 86_400_000)]);
    const create = (name: string, threshold: number, evaluate?: 'CURRENT_PERIOD' | 'COMPLETED_PERIOD') =>
      t.gql(CreateAlertRuleDocument, { input: { name, metric: 'DAU', kind: 'BELOW', threshold, level: 'URGENT', ...(evaluate ? { evaluate } : {}) } }, adminKey);
    const quiet = await create('DAU < 2', 2);
    expect(quiet.data!.createAlertRule.evaluate).toBe('COMPLETED_PERIOD');
    const low = await create('DAU < 3', 3);
    const current = await create('DAU < 2 today', 2, 'CURRENT_PERIOD');
    expect(current.data!.createAlertRule.evaluate).toBe('CURRENT_PERIOD');
    await settled();
    const alerts = (await t.gql(AlertsDocument, {}, adminKey)).data!.alerts;
    // Yesterday's DAU 2 is not below 2; it is below 3. Today's partial 0 fires only the CURRENT_PERIOD rule.
    expect(alerts.map((a) => a.ruleId).sort()).toEqual([low.data!.createAlertRule.id, current.data!.createAlertRule.id].sort());
    expect(alerts.find((a) => a.ruleId === low.data!.createAlertRule.id)!.message).toBe(`DAU < 3：日活为 2，低于阈值 3（${localDay(1)}）`);
    expect(alerts.find((a) => a.ruleId === current.data!.createAlertRule.id)!.message).toBe(`DAU < 2 today：日活为 0，低于阈值 2（${localDay()}，截至目前）`);
    expect((await t.gql(AlertRulesDocument, {}, adminKey)).data!.alertRules.map((r) => [r.name, r.evaluate, r.breached])).toEqual([
      ['DAU < 2', 'COMPLETED_PERIOD', false],
      ['DAU < 3', 'COMPLETED_PERIOD', true],
      ['DAU < 2 today', 'CURRENT_PERIOD', true],
    ]);
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
