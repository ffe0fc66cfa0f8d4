import { bootAppPerFile } from '../support/app';
import { makeEvent } from '../support/events';
import { AlertsDocument, CreateAlertRuleDocument, IngestDocument, KpiDocument, KpisDocument, type EventInput, type KpiBreakdown, type KpiGrain, type KpiMetric } from '../generated/graphql';

/**
 * Risk signals (issue #18) through the public API: INGEST_ERROR_RATE from what ingest answered
 * (rejected ÷ (accepted + rejected), duplicates neither), its typed error where it has no meaning,
 * and an alert rule on COMPLAINT_RATE. Complaints and sentiment against a recomputation from raw
 * events, with merges, are in kpi-recompute and kpi-day-sets.
 */

const t = bootAppPerFile();

/** Today and yesterday in Asia/Shanghai (the default zone): a range that holds now even across local midnight. */
const localDay = (daysAgo = 0) => new Date(Date.now() + 8 * 3_600_000 - daysAgo * 86_400_000).toISOString().slice(0, 10);
const range = () => ({ from: localDay(1), to: localDay(0) });
const recent = () => new Date(Date.now() - 60_000).toISOString();

describe('INGEST_ERROR_RATE', () => {
  let key: string;
  /** What ingest answered, per channel ('' the total), for the events this test sent. */
  const sent = new Map<string, { accepted: number; rejected: number }>();
  const note = (ch: string | null, status: string) => {
    for (const k of ch === null ? [''] : ['', ch]) {
      const c = sent.get(k) ?? { accepted: 0, rejected: 0 };
      if (status === 'ACCEPTED') c.accepted++;
      if (status === 'REJECTED') c.rejected++;
      sent.set(k, c);
    }
  };
  const send = async (events: EventInput[]) => {
    const r = await t.gql(IngestDocument, { events }, key);
    expect(r.errors).toBeUndefined();
    const known = new Set(['wechat_mp', 'wecom', 'douyin', 'app', 'store', 'wechat_oa']);
    r.data!.ingestEvents.results.forEach((x, i) => note(known.has(events[i].channel as string) ? (events[i].channel as string) : null, x.status));
    return r.data!.ingestEvents;
  };

  beforeAll(async () => {
    ({ adminKey: key } = await t.newWorkspace('risk-ingest-errors'));
    const good = (ch: string, id = `member_id::ie-${Math.random()}`) => makeEvent({ identifiers: [id], channel: ch, timestamp: recent() });
    // A batch with rejections of several kinds beside good events.
    const a = await send([
      good('wecom'),
      good('wecom'),
      good('app'),
      makeEvent({ identifiers: [], channel: 'wecom', timestamp: recent() }),
      makeEvent({ identifiers: ['member_id::ie-bad-ts'], channel: 'app', timestamp: 'yesterday' }),
      makeEvent({ identifiers: ['member_id::ie-bad-ch'], channel: 'myspace', timestamp: recent() }),
      makeEvent({ identifiers: ['member_id::ie-neg'], channel: 'wecom', name: 'Order Completed', properties: { revenue: -5 }, timestamp: recent() }),
    ]);
    expect(a).toMatchObject({ accepted: 3, rejected: 4, duplicates: 0 });
    // Duplicates: one repeated in its own call, one repeating a stored event. Neither counts.
    const dup = good('douyin');
    const b = await send([dup, dup, good('douyin'), makeEvent({ identifiers: ['member_id::ie-future'], channel: 'douyin', timestamp: new Date(Date.now() + 3 * 86_400_000).toISOString() })]);
    expect(b).toMatchObject({ accepted: 2, rejected: 1, duplicates: 1 });
    const c = await send([dup]);
    expect(c).toMatchObject({ accepted: 0, rejected: 0, duplicates: 1 });
    // A call of rejected events only: no event is written, the rejections still count.
    const d = await send([makeEvent({ identifiers: [], channel: 'store', timestamp: recent() }), makeEvent({ identifiers: ['member_id::x'], type: 'purchase', channel: 'store', timestamp: recent() })]);
    expect(d).toMatchObject({ accepted: 0, rejected: 2 });
    // Rejected inside the write transaction (a projection's screen: a tag the workspace does not have).
    const e = await send([good('app'), makeEvent({ identifiers: ['member_id::ie-tag'], type: 'identify', name: null, channel: 'app', traits: { tags: ['no-such-tag'] }, timestamp: recent() })]);
    expect(e).toMatchObject({ accepted: 1, rejected: 1 });
  });

  const want = (k: string) => {
    const c = sent.get(k)!;
    return c.rejected / (c.accepted + c.rejected);
  };

  it('equals rejected ÷ (accepted + rejected) of what ingest answered, in total and by channel (kpi and kpis)', async () => {
    const r = await t.gql(KpiDocument, { metric: 'INGEST_ERROR_RATE' as KpiMetric, range: range(), grain: 'DAY' as KpiGrain, breakdown: 'CHANNEL' as KpiBreakdown }, key);
    expect(r.errors).toBeUndefined();
    // Everything was received today (or, across local midnight, in one of the two days).
    expect(r.data!.kpi.total.points.filter((p) => p.value !== null).length).toBeGreaterThan(0);
    const whole = await t.gql(KpiDocument, { metric: 'INGEST_ERROR_RATE' as KpiMetric, range: range(), grain: 'MONTH' as KpiGrain, breakdown: 'CHANNEL' as KpiBreakdown }, key);
    expect(whole.errors).toBeUndefined();
    // One MONTH bucket holds both days unless they straddle a month: then the total over the two is checked by kpis below.
    const two = await t.gql(KpisDocument, { metrics: ['INGEST_ERROR_RATE' as KpiMetric], range: range() }, key);
    expect(two.data!.kpis.values[0].value).toBeCloseTo(want(''), 12);
    expect(want('')).toBeCloseTo(8 / 14, 12);
    const month = whole.data!.kpi;
    if (month.total.points.length === 1) {
      expect(month.total.points[0].value).toBeCloseTo(want(''), 12);
      const byChannel = Object.fromEntries(month.breakdown.map((s) => [s.key, s.points[0].value]));
      const expected = Object.fromEntries([...sent.keys()].filter((k) => k).map((k) => [k, want(k)]));
      expect(Object.keys(byChannel).sort()).toEqual(Object.keys(expected).sort());
      for (const [k, v] of Object.entries(expected)) expect(byChannel[k]).toBeCloseTo(v, 12);
      // The unknown channel's rejection counts in the total only.
      expect(byChannel.myspace).toBeUndefined();
    }
    // A channel filter reads that channel's counts.
    const f = await t.gql(KpisDocument, { metrics: ['INGEST_ERROR_RATE' as KpiMetric], range: range(), filter: { channels: ['wecom'] } }, key);
    expect(f.data!.kpis.values[0].value).toBeCloseTo(want('wecom'), 12);
  });

  it('the HOUR grain puts the counts in the hour they were received', async () => {
    const r = await t.gql(KpiDocument, { metric: 'INGEST_ERROR_RATE' as KpiMetric, range: range(), grain: 'HOUR' as KpiGrain }, key);
    expect(r.errors).toBeUndefined();
    const now = Date.now();
    const hour = r.data!.kpi.total.points.find((p) => Date.parse(p.start as unknown as string) <= now && now < Date.parse(p.end as unknown as string))!;
    const withValues = r.data!.kpi.total.points.filter((p) => p.value !== null);
    // All of it in this hour, or (sent just before the hour turned) the one before.
    expect(withValues.length).toBeGreaterThanOrEqual(1);
    expect(withValues.length).toBeLessThanOrEqual(2);
    if (withValues.length === 1) expect(hour.value).toBeCloseTo(want(''), 12);
  });

  it('answers breakdowns and filters it has no meaning for with a typed error', async () => {
    for (const breakdown of ['TAG', 'TOUCHPOINT', 'STAGE', 'SEGMENT'] as KpiBreakdown[]) {
      const r = await t.gql(KpiDocument, { metric: 'INGEST_ERROR_RATE' as KpiMetric, range: range(), grain: 'DAY' as KpiGrain, breakdown }, key);
      expect(r.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'INVALID_KPI_ARGUMENT', fields: [{ field: 'breakdown' }] });
    }
    const f = await t.gql(KpisDocument, { metrics: ['INGEST_ERROR_RATE' as KpiMetric, 'ORDERS' as KpiMetric], range: range(), filter: { tag: 'vip' } }, key);
    expect(f.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'INVALID_KPI_ARGUMENT', fields: [{ field: 'filter' }] });
    const rule = await t.gql(CreateAlertRuleDocument, { input: { name: 'errors of vips', metric: 'INGEST_ERROR_RATE', kind: 'ABOVE', threshold: 0.1, level: 'URGENT', filter: { stage: 'ACTIVE' } } } as never, key);
    expect(rule.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'INVALID_KPI_ARGUMENT' });
  });
});

describe('alert rules on risk signals', () => {
  it('an INGEST_ERROR_RATE rule fires when most of what an integration sends is rejected', async () => {
    const { adminKey } = await t.newWorkspace('risk-ingest-alert');
    const rule = await t.gql(CreateAlertRuleDocument, { input: { name: '接入错误率', metric: 'INGEST_ERROR_RATE', kind: 'ABOVE', threshold: 0.4, level: 'IMPORTANT', cooldownSeconds: 0, evaluate: 'CURRENT_PERIOD' } } as never, adminKey);
    expect(rule.errors).toBeUndefined();
    const r = await t.gql(IngestDocument, { events: [makeEvent({ identifiers: ['member_id::ia-1'], timestamp: recent() }), makeEvent({ identifiers: [], timestamp: recent() }), makeEvent({ identifiers: ['member_id::ia-2'], channel: 'myspace', timestamp: recent() })] }, adminKey);
    expect(r.data!.ingestEvents).toMatchObject({ accepted: 1, rejected: 2 });
    await t.app.services.kpis.alerts.idle();
    const alerts = (await t.gql(AlertsDocument, {}, adminKey)).data!.alerts;
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ ruleId: rule.data!.createAlertRule.id, metric: 'INGEST_ERROR_RATE', level: 'IMPORTANT', reference: 0.4 });
    expect(alerts[0].value).toBeCloseTo(2 / 3, 12);
  });

  it('a COMPLAINT_RATE rule fires when complaints per order cross its threshold', async () => {
    const { adminKey } = await t.newWorkspace('risk-complaints');
    const rule = await t.gql(CreateAlertRuleDocument, { input: { name: '客诉率过高', metric: 'COMPLAINT_RATE', kind: 'ABOVE', threshold: 0.5, level: 'URGENT', cooldownSeconds: 0, evaluate: 'CURRENT_PERIOD' } } as never, adminKey);
    expect(rule.errors).toBeUndefined();
    const ev = (id: string, name: string, properties: Record<string, unknown> = {}) => makeEvent({ identifiers: [`member_id::${id}`], name, properties, timestamp: recent() });
    const ing = async (events: EventInput[]) => {
      const r = await t.gql(IngestDocument, { events }, adminKey);
      expect(r.data!.ingestEvents.rejected).toBe(0);
      await t.app.services.kpis.alerts.idle();
    };
    // Two orders, one complaint: 0.5, not above.
    await ing([ev('c1', 'Order Completed', { revenue: 10 }), ev('c2', 'Order Completed', { revenue: 12 }), ev('c1', 'Complaint Filed', { sentiment: -0.8 })]);
    expect((await t.gql(AlertsDocument, {}, adminKey)).data!.alerts).toHaveLength(0);
    const k = await t.gql(KpisDocument, { metrics: ['COMPLAINT_RATE' as KpiMetric, 'NEGATIVE_SENTIMENT_SHARE' as KpiMetric], range: { from: localDay(0), to: localDay(0) } }, adminKey);
    expect(k.data!.kpis.values.map((v) => v.value)).toEqual([0.5, 1]);
    // A second complaint: 1.0 > 0.5.
    await ing([ev('c2', 'Complaint Filed')]);
    const alerts = (await t.gql(AlertsDocument, {}, adminKey)).data!.alerts;
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ ruleId: rule.data!.createAlertRule.id, metric: 'COMPLAINT_RATE', level: 'URGENT', value: 1, reference: 0.5 });
  });
});
