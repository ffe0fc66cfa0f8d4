import { bootAppPerFile } from '../support/app';
import { DAY, HOUR } from '../support/time';
import { ingest } from '../support/api';
import { makeEvent } from '../support/events';
import { collect, wsClient } from '../support/ws';
import { systemActor } from '../../src/modules/compliance';
import {
  CreateJourneyDocument,
  CreateJourneyFromTemplateDocument,
  DeleteJourneyDocument,
  JourneyEntriesDocument,
  JourneysDocument,
  JourneyStatsDocument,
  JourneyTemplatesDocument,
  JourneyTriggeredDocument,
  PathAnalysisDocument,
  UpdateJourneyDocument,
  type JourneyTriggeredSubscription,
} from '../generated/graphql';

const t = bootAppPerFile();

/** A fixed origin a few days back, on a whole hour, so windows are easy to read. */
const T0 = new Date(Math.floor((Date.now() - 20 * DAY) / HOUR) * HOUR);
const at = (ms: number) => new Date(T0.getTime() + ms);

const ev = (who: string, name: string, when: Date, over: Partial<ReturnType<typeof makeEvent>> = {}) =>
  makeEvent({ identifiers: [`member_id::${who}`], name, timestamp: when.toISOString(), ...over });

async function entries(key: string, journeyId: string, profileId: string) {
  const r = await t.gql(JourneyEntriesDocument, { id: journeyId, profileId }, key);
  expect(r.errors).toBeUndefined();
  return r.data!.journey.entries;
}

describe('cart abandonment (购物车放弃)', () => {
  it('the sweep reaches the negative step 24h later and triggers exactly once, live over graphql-ws', async () => {
    const { workspaceId: ws, adminKey: key } = await t.newWorkspace();
    // Nobody here answered a consent question: let triggers fire (compliance.test.ts tests the veto).
    await t.app.services.compliance.updateSettings(systemActor(ws), { consentPolicy: 'allow_unless_denied' });
    const created = await t.gql(CreateJourneyFromTemplateDocument, { template: 'CART_ABANDONMENT' }, key);
    expect(created.errors).toBeUndefined();
    const journey = created.data!.createJourneyFromTemplate;
    expect(journey).toMatchObject({ name: '购物车放弃', template: 'CART_ABANDONMENT', active: true });
    expect(journey.steps.map((s) => [s.key, s.match.event, s.within, s.negative, s.trigger])).toEqual([
      ['added', 'Product Added', null, false, false],
      ['abandoned', 'Order Completed', '24h', true, true],
    ]);
    const sweep = (now: Date) => t.app.services.journeys.sweepStep(ws, now, 1000);

    const sock = wsClient(t.url, key);
    await sock.connected;
    const sub = collect<JourneyTriggeredSubscription>(sock.client, JourneyTriggeredDocument, { journeyId: journey.id });
    // The subscription registers asynchronously: abandon probe carts until one is heard.
    let probes = 0;
    for (; sub.results.length === 0 && probes < 50; probes++) {
      await ingest(t, key, [ev(`probe-${probes}`, 'Product Added', T0)]);
      await sweep(at(25 * HOUR));
      await sub.next(1, 150).catch(() => undefined);
    }
    const heard = sub.results.length;
    expect(heard).toBeGreaterThan(0);

    // A adds to the cart and never orders; B orders 2 hours later.
    const added = ev('A', 'Product Added', T0, { properties: { sku: 'X1' } });
    const a = (await ingest(t, key, [added])).results[0].profileId!;
    const b = (await ingest(t, key, [ev('B', 'Product Added', T0), ev('B', 'Order Completed', at(2 * HOUR), { properties: { revenue: 99 } })])).results[0].profileId!;
    expect(await entries(key, journey.id, a)).toMatchObject([{ entryNo: 1, stepKey: 'added', status: 'ACTIVE', deadline: at(24 * HOUR).toISOString() }]);
    expect(await entries(key, journey.id, b)).toMatchObject([{ entryNo: 1, stepKey: 'added', status: 'DROPPED', endedAt: at(2 * HOUR).toISOString() }]);

    // 23 hours later nothing is due; 25 hours later A's window has passed.
    expect(await sweep(at(23 * HOUR))).toBe(0);
    expect(sub.results).toHaveLength(heard);
    expect(await sweep(at(25 * HOUR))).toBe(1);
    const got = await sub.next(heard + 1);
    expect(got[heard].data!.journeyTriggered).toEqual({ journeyId: journey.id, profileId: a, stepKey: 'abandoned', entryNo: 1, at: at(24 * HOUR).toISOString() });
    expect(await entries(key, journey.id, a)).toMatchObject([{ entryNo: 1, stepKey: 'abandoned', status: 'COMPLETED', endedAt: at(24 * HOUR).toISOString(), deadline: null }]);

    // A second sweep and a re-sent event change nothing; nor does a late order.
    expect(await sweep(at(26 * HOUR))).toBe(0);
    await ingest(t, key, [added], { duplicates: 1 });
    await ingest(t, key, [ev('A', 'Order Completed', at(30 * HOUR))]);
    expect(await sweep(at(48 * HOUR))).toBe(0);
    expect(await entries(key, journey.id, a)).toHaveLength(1);

    // A barrier: C's trigger is the next thing the subscriber hears — nothing for A or B came before it.
    const c = (await ingest(t, key, [ev('C', 'Product Added', at(40 * HOUR))])).results[0].profileId!;
    expect(await sweep(at(65 * HOUR))).toBe(1);
    const after = await sub.next(heard + 2);
    expect(after).toHaveLength(heard + 2);
    expect(after[heard + 1].data!.journeyTriggered).toMatchObject({ profileId: c, entryNo: 1 });

    // A new cart later is a new entry (re-entry allowed), with its own trigger.
    await ingest(t, key, [ev('A', 'Product Added', at(50 * HOUR))]);
    expect((await entries(key, journey.id, a)).map((e) => [e.entryNo, e.status])).toEqual([
      [1, 'COMPLETED'],
      [2, 'ACTIVE'],
    ]);
    sub.unsubscribe();
    await sock.dispose();

    const stats = await t.gql(JourneyStatsDocument, { id: journey.id, range: { from: at(-HOUR).toISOString(), to: at(HOUR).toISOString() } }, key);
    // Entered in the first hour: the probes, A, B (C and A's second cart came later).
    expect(stats.data!.journey.stats).toMatchObject({ entered: probes + 2, completed: probes + 1, dropped: 1 });
  });

  it('a person who orders within 24h is dropped and never triggers', async () => {
    const { workspaceId: ws, adminKey: key } = await t.newWorkspace();
    const j = (await t.gql(CreateJourneyFromTemplateDocument, { template: 'CART_ABANDONMENT', name: '弃购提醒' }, key)).data!.createJourneyFromTemplate;
    const p = (await ingest(t, key, [ev('D', 'Product Added', T0)])).results[0].profileId!;
    await ingest(t, key, [ev('D', 'Order Completed', at(23 * HOUR))]);
    expect(await t.app.services.journeys.sweepStep(ws, at(48 * HOUR), 1000)).toBe(0);
    expect(await entries(key, j.id, p)).toMatchObject([{ status: 'DROPPED', stepKey: 'added', endedAt: at(23 * HOUR).toISOString() }]);
    const [{ n }] = await t.app.db.dataSource.query(`SELECT count(*)::int AS n FROM journey_triggers WHERE workspace_id = $1`, [ws]);
    expect(n).toBe(0);
  });

  it('an order after the window has passed does not undo the abandonment, even before the sweep ran', async () => {
    const { adminKey: key } = await t.newWorkspace();
    const j = (await t.gql(CreateJourneyFromTemplateDocument, { template: 'CART_ABANDONMENT' }, key)).data!.createJourneyFromTemplate;
    const p = (await ingest(t, key, [ev('E', 'Product Added', T0)])).results[0].profileId!;
    await ingest(t, key, [ev('E', 'Order Completed', at(30 * HOUR))]);
    expect(await entries(key, j.id, p)).toMatchObject([{ status: 'COMPLETED', stepKey: 'abandoned', endedAt: at(24 * HOUR).toISOString() }]);
  });
});

describe('onboarding (新用户引导 → 激活 → 留存 → 转化)', () => {
  it('advances on ingest, expires a missed window, and has funnel statistics', async () => {
    const { adminKey: key } = await t.newWorkspace();
    const j = (await t.gql(CreateJourneyFromTemplateDocument, { template: 'ONBOARDING' }, key)).data!.createJourneyFromTemplate;
    expect(j.allowReentry).toBe(false);
    const p1 = (await ingest(t, key, [ev('N1', 'Page Viewed', T0)])).results[0].profileId!;
    expect(await entries(key, j.id, p1)).toMatchObject([{ stepKey: 'joined', status: 'ACTIVE', deadline: at(7 * DAY).toISOString() }]);
    await ingest(t, key, [ev('N1', 'Message Sent', at(1 * DAY))]);
    expect((await entries(key, j.id, p1))[0].stepKey).toBe('activated');
    await ingest(t, key, [ev('N1', 'App Opened', at(2 * DAY))]);
    expect((await entries(key, j.id, p1))[0].stepKey).toBe('retained');
    await ingest(t, key, [ev('N1', 'Order Completed', at(10 * DAY))]);
    expect(await entries(key, j.id, p1)).toMatchObject([{ entryNo: 1, stepKey: 'converted', status: 'COMPLETED' }]);
    // Not entered again: the journey is once per person.
    await ingest(t, key, [ev('N1', 'Page Viewed', at(11 * DAY))]);
    expect(await entries(key, j.id, p1)).toHaveLength(1);

    const p2 = (await ingest(t, key, [ev('N2', 'Page Viewed', T0), ev('N2', 'Message Sent', at(3 * DAY))])).results[0].profileId!;
    expect((await entries(key, j.id, p2))[0]).toMatchObject({ stepKey: 'activated', status: 'ACTIVE' });
    const p3 = (await ingest(t, key, [ev('N3', 'Page Viewed', T0)])).results[0].profileId!;
    await ingest(t, key, [ev('N3', 'Message Sent', at(8 * DAY))]);
    expect(await entries(key, j.id, p3)).toMatchObject([{ stepKey: 'joined', status: 'EXPIRED', endedAt: at(7 * DAY).toISOString() }]);

    const stats = (await t.gql(JourneyStatsDocument, { id: j.id }, key)).data!.journey.stats;
    expect(stats).toEqual({
      entered: 3,
      active: 1,
      completed: 1,
      dropped: 0,
      expired: 1,
      steps: [
        { key: 'joined', reached: 3, dropOff: 0, medianSecondsFromPrevious: null },
        { key: 'activated', reached: 2, dropOff: 1, medianSecondsFromPrevious: 2 * 86400 },
        { key: 'retained', reached: 1, dropOff: 1, medianSecondsFromPrevious: 86400 },
        { key: 'converted', reached: 1, dropOff: 0, medianSecondsFromPrevious: 8 * 86400 },
      ],
    });
    const none = (await t.gql(JourneyStatsDocument, { id: j.id, range: { from: at(DAY).toISOString(), to: at(2 * DAY).toISOString() } }, key)).data!.journey.stats;
    expect(none.entered).toBe(0);
    expect(none.steps.map((s) => s.reached)).toEqual([0, 0, 0, 0]);

    // Steps are fixed once people have entered.
    const upd = await t.gql(UpdateJourneyDocument, { id: j.id, input: { steps: [{ key: 'x', name: 'x', match: { event: 'Page Viewed' } }] } }, key);
    expect(upd.errors![0].extensions).toMatchObject({ code: 'CONFLICT', reason: 'JOURNEY_HAS_ENTRIES' });
    const renamed = await t.gql(UpdateJourneyDocument, { id: j.id, input: { name: '新人引导', active: false } }, key);
    expect(renamed.data!.updateJourney).toMatchObject({ name: '新人引导', active: false });
  });
});

describe('silent wake-up and birthday', () => {
  it('an event after 30 silent days enters and triggers; birthdays are entered by the sweep on the day, once', async () => {
    const { workspaceId: ws, adminKey: key } = await t.newWorkspace();
    const wake = (await t.gql(CreateJourneyFromTemplateDocument, { template: 'SILENT_WAKEUP' }, key)).data!.createJourneyFromTemplate;
    const bday = (await t.gql(CreateJourneyFromTemplateDocument, { template: 'BIRTHDAY' }, key)).data!.createJourneyFromTemplate;
    const s = (await ingest(t, key, [ev('S1', 'Page Viewed', at(-40 * DAY)), ev('S1', 'Page Viewed', at(-35 * DAY))])).results[0].profileId!;
    expect(await entries(key, wake.id, s)).toEqual([]);
    await ingest(t, key, [ev('S1', 'App Opened', T0)]);
    expect(await entries(key, wake.id, s)).toMatchObject([{ stepKey: 'woke', status: 'ACTIVE' }]);
    const [{ n }] = await t.app.db.dataSource.query(`SELECT count(*)::int AS n FROM journey_triggers WHERE workspace_id = $1 AND journey_id = $2`, [ws, wake.id]);
    expect(n).toBe(1);

    const b = (await ingest(t, key, [makeEvent({ identifiers: ['member_id::B1'], type: 'identify', name: null, traits: { birthday: '1990-03-15' }, timestamp: T0.toISOString() })])).results[0].profileId!;
    await ingest(t, key, [makeEvent({ identifiers: ['member_id::B2'], type: 'identify', name: null, traits: { birthday: '03-16' }, timestamp: T0.toISOString() })]);
    // 2027-03-14T16:30Z is already 15 March in Asia/Shanghai (the default time zone).
    const day = new Date('2027-03-14T16:30:00Z');
    // The day before (in Shanghai) only the wake-up entry's 7-day order window ends.
    expect(await t.app.services.journeys.sweepStep(ws, new Date('2027-03-14T15:30:00Z'), 100)).toBe(1);
    expect(await entries(key, wake.id, s)).toMatchObject([{ stepKey: 'woke', status: 'EXPIRED', endedAt: at(7 * DAY).toISOString() }]);
    expect(await t.app.services.journeys.sweepStep(ws, day, 100)).toBe(1);
    expect(await t.app.services.journeys.sweepStep(ws, new Date('2027-03-15T10:00:00Z'), 100)).toBe(0);
    expect(await entries(key, bday.id, b)).toMatchObject([{ entryNo: 1, stepKey: 'birthday', status: 'ACTIVE', enteredAt: day.toISOString() }]);
  });
});

describe('path analysis', () => {
  it('counts the sequences that follow a start event', async () => {
    const { adminKey: key } = await t.newWorkspace();
    const seq = async (who: string, names: string[]) => ingest(t, key, names.map((n, i) => ev(who, n, at(i * HOUR))));
    await seq('X', ['Product Viewed', 'Product Added', 'Order Completed']);
    await seq('Y', ['Product Viewed', 'Product Added', 'Page Viewed']);
    await seq('Z', ['Page Viewed', 'Product Viewed', 'Product Added', 'Order Completed', 'Product Viewed']);
    await seq('W', ['Product Viewed']);
    const r = await t.gql(PathAnalysisDocument, { startEvent: 'Product Viewed', depth: 2, top: 5 }, key);
    expect(r.errors).toBeUndefined();
    expect(r.data!.pathAnalysis).toEqual({
      startEvent: 'Product Viewed',
      depth: 2,
      starts: 5,
      scannedEvents: 12,
      truncated: false,
      paths: [
        { events: ['Product Added', 'Order Completed'], count: 2, share: 0.4 },
        { events: ['Product Added', 'Page Viewed'], count: 1, share: 0.2 },
      ],
    });
    const one = await t.gql(PathAnalysisDocument, { startEvent: 'Product Added', depth: 1, top: 1 }, key);
    expect(one.data!.pathAnalysis.paths).toEqual([{ events: ['Order Completed'], count: 2, share: 2 / 3 }]);
    const bad = await t.gql(PathAnalysisDocument, { startEvent: 'Product Viewed', depth: 11 }, key);
    expect(bad.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: [{ field: 'depth' }] });
  });
});

describe('definitions', () => {
  it('lists the templates', async () => {
    const { adminKey: key } = await t.newWorkspace();
    const r = await t.gql(JourneyTemplatesDocument, {}, key);
    expect(r.data!.journeyTemplates.map((x) => [x.key, x.steps.map((s) => s.key)])).toEqual([
      ['CART_ABANDONMENT', ['added', 'abandoned']],
      ['ONBOARDING', ['joined', 'activated', 'retained', 'converted']],
      ['SILENT_WAKEUP', ['woke', 'converted']],
      ['BIRTHDAY', ['birthday', 'converted']],
    ]);
    expect(r.data!.journeyTemplates[2].steps[0].match).toEqual({ event: '*', afterSilenceDays: 30, firstEvent: false });
  });

  it('rejects bad definitions with every offending field, and writes nothing', async () => {
    const { adminKey: key } = await t.newWorkspace();
    const r = await t.gql(
      CreateJourneyDocument,
      {
        input: {
          name: '坏的',
          steps: [
            { key: 'a', name: 'A', match: { event: 'Product Added' }, negative: true, within: '2h' },
            { key: 'a', name: 'B', match: { event: 'Order Completed', where: [{ property: 'revenue', op: '~', value: 1 }, { property: 'sku', op: 'in', value: [] }] }, within: '3w' },
            { key: 'c', name: 'C', match: { event: 'Order Completed' }, negative: true },
            { key: 'd', name: 'D', match: { event: '$birthday' } },
          ],
        },
      },
      key,
    );
    expect(r.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'INVALID_JOURNEY' });
    expect((r.errors![0].extensions.fields as { field: string }[]).map((f) => f.field)).toEqual([
      'input.steps.0.within',
      'input.steps.0.negative',
      'input.steps.1.key',
      'input.steps.1.match.where.0.op',
      'input.steps.1.match.where.1.value',
      'input.steps.1.within',
      'input.steps.2.within',
      'input.steps.3.match.event',
    ]);
    const empty = await t.gql(CreateJourneyDocument, { input: { name: ' ', steps: [] } }, key);
    expect(empty.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: [{ field: 'input.name' }] });
    expect((await t.gql(JourneysDocument, {}, key)).data!.journeys).toEqual([]);
  });

  it('creates, updates and deletes; ADMIN writes, ANALYST reads', async () => {
    const { adminKey: key } = await t.newWorkspace();
    const c = await t.gql(
      CreateJourneyDocument,
      { input: { name: '大单', steps: [{ key: 'big', name: '大单', match: { event: 'Order Completed', where: [{ property: 'revenue', op: '>=', value: 1000 }] }, trigger: true }] } },
      key,
    );
    expect(c.errors).toBeUndefined();
    const j = c.data!.createJourney;
    expect(j.steps[0].match.where).toEqual([{ property: 'revenue', op: '>=', value: 1000 }]);
    const p = (await ingest(t, key, [ev('R', 'Order Completed', T0, { properties: { revenue: 500 } })])).results[0].profileId!;
    expect(await entries(key, j.id, p)).toEqual([]);
    await ingest(t, key, [ev('R', 'Order Completed', at(HOUR), { properties: { revenue: '1200' } })]);
    expect(await entries(key, j.id, p)).toMatchObject([{ stepKey: 'big', status: 'COMPLETED' }]);

    const analyst = await t.gql(`mutation { createApiKey(input: { role: ANALYST, name: "bi" }) { key } }`, {}, key);
    const akey = (analyst.data as { createApiKey: { key: string } }).createApiKey.key;
    expect((await t.gql(JourneysDocument, {}, akey)).data!.journeys).toHaveLength(1);
    const denied = await t.gql(DeleteJourneyDocument, { id: j.id }, akey);
    expect(denied.errors![0].extensions.code).toBe('FORBIDDEN');
    expect((await t.gql(DeleteJourneyDocument, { id: j.id }, key)).data!.deleteJourney).toBe(true);
    expect((await t.gql(JourneysDocument, {}, key)).data!.journeys).toEqual([]);
  });
});
