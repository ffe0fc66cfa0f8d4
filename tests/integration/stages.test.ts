import { randomUUID } from 'node:crypto';
import { bootAppPerFile } from '../support/app';
import { DAY, HOUR } from '../support/time';
import { ingest } from '../support/api';
import { idInput, makeEvent } from '../support/events';
import { DemoGenerator } from '../../src/demo/generator';
import {
  CreateApiKeyDocument,
  KpiDocument,
  ProfileByIdentifierDocument,
  ProfilesStagesDocument,
  ProfileStageDocument,
  StageFunnelDocument,
  StageModelDocument,
  UpdateStageModelDocument,
  type StageModelInput,
} from '../generated/graphql';

const t = bootAppPerFile();

async function profileOf(key: string, id: string) {
  const r = await t.gql(ProfileByIdentifierDocument, { identifier: idInput(id) }, key);
  return r.data!.profileByIdentifier.id;
}
async function stageOf(key: string, pid: string) {
  const r = await t.gql(ProfileStageDocument, { id: pid }, key);
  expect(r.errors).toBeUndefined();
  const p = r.data!.profile;
  return { stage: p.stage, history: p.stageHistory, lifecycleTags: p.tags.filter((x) => x.group === 'lifecycle') };
}
/** An event of `who` at `at` (`name` and `properties` as given). */
function ev(who: string, at: Date, name: string, properties?: Record<string, unknown>) {
  return makeEvent({ identifiers: [who], name, timestamp: at.toISOString(), ...(properties ? { properties } : {}) });
}
const order = (who: string, at: Date) => ev(who, at, 'Order Completed', { revenue: 100 });

describe('default lifecycle model (认知 → 兴趣 → 购买 → 忠诚 → 推荐, 沉默, 流失)', () => {
  it('walks one person through every stage, with history, causes, wake-up and the stage tag', async () => {
    const { workspaceId: ws, adminKey: key } = await t.newWorkspace();
    const a = `member_id::A-${randomUUID()}`;
    const f = `member_id::F-${randomUUID()}`;
    const t0 = new Date(Date.now() - 200 * DAY);
    const at = (days: number) => new Date(t0.getTime() + days * DAY);
    const expectStage = async (pid: string, stage: string, name: string) => {
      const s = await stageOf(key, pid);
      expect(s.stage).toMatchObject({ key: stage, name });
      expect(s.lifecycleTags).toEqual([{ key: `stage:${stage}`, name, group: 'lifecycle', kind: 'SYSTEM' }]);
      return s;
    };

    const view = ev(a, at(0), 'Product Viewed');
    await ingest(t, key, [view]);
    const pa = await profileOf(key, a);
    await expectStage(pa, 'awareness', '认知');

    const msg = ev(a, at(1), 'Message Sent');
    await ingest(t, key, [msg]);
    await expectStage(pa, 'interest', '兴趣');

    const o1 = order(a, at(2));
    await ingest(t, key, [o1]);
    await expectStage(pa, 'purchase', '购买');

    const o2 = order(a, at(10));
    await ingest(t, key, [o2]);
    await expectStage(pa, 'loyalty', '忠诚');

    // The invitee accepts: nothing yet (they have not bought) …
    await ingest(t, key, [ev(f, at(20), 'Invite Accepted', { inviter: idInput(a) })]);
    const pf = await profileOf(key, f);
    await expectStage(pa, 'loyalty', '忠诚');
    await expectStage(pf, 'interest', '兴趣');
    // … then orders: the inviter becomes an advocate in the same commit.
    await ingest(t, key, [order(f, at(21))]);
    await expectStage(pa, 'advocacy', '推荐');
    await expectStage(pf, 'purchase', '购买');

    // Inactivity: 30 days after the last event → 沉默, 90 → 流失 (the sweep, run with a later "now").
    const stages = t.app.services.stages;
    expect(await stages.sweepStep(ws, at(10 + 29), 100)).toBe(0);
    expect(await stages.sweepStep(ws, at(10 + 31), 100)).toBe(1);
    const silent = await expectStage(pa, 'silent', '沉默');
    expect(silent.stage).toMatchObject({ previousStage: 'advocacy', mainStage: 'advocacy', inactive: true, enteredAt: at(40).toISOString() });
    expect(await stages.sweepStep(ws, at(10 + 91), 100)).toBe(2); // A → 流失, F → 沉默
    await expectStage(pa, 'churned', '流失');
    await expectStage(pf, 'silent', '沉默');
    expect(await stages.sweepStep(ws, at(10 + 91), 100)).toBe(0);

    // New activity: back to the stage they left, recorded as a wake-up (沉默唤醒).
    const back = ev(a, at(150), 'Product Viewed');
    await ingest(t, key, [back]);
    const woke = await expectStage(pa, 'advocacy', '推荐');
    expect(woke.stage).toMatchObject({ previousStage: 'churned', enteredAt: at(150).toISOString(), inactive: false });

    expect(woke.history.map((h) => ({ from: h.from, to: h.to, at: h.at, cause: h.cause, wakeUp: h.wakeUp, modelKey: h.modelKey }))).toEqual([
      { from: null, to: 'awareness', at: at(0).toISOString(), cause: `first_event:event:${view.messageId}`, wakeUp: false, modelKey: 'default' },
      { from: 'awareness', to: 'interest', at: at(1).toISOString(), cause: `event_any_of:Message Sent:event:${msg.messageId}`, wakeUp: false, modelKey: 'default' },
      { from: 'interest', to: 'purchase', at: at(2).toISOString(), cause: `event_any_of:Order Completed:event:${o1.messageId}`, wakeUp: false, modelKey: 'default' },
      { from: 'purchase', to: 'loyalty', at: at(10).toISOString(), cause: `orders_within:2/90d:event:${o2.messageId}`, wakeUp: false, modelKey: 'default' },
      { from: 'loyalty', to: 'advocacy', at: at(21).toISOString(), cause: `invitee_bought:profile:${pf}`, wakeUp: false, modelKey: 'default' },
      { from: 'advocacy', to: 'silent', at: at(40).toISOString(), cause: 'inactive_days:30', wakeUp: false, modelKey: 'default' },
      { from: 'silent', to: 'churned', at: at(100).toISOString(), cause: 'inactive_days:90', wakeUp: false, modelKey: 'default' },
      { from: 'churned', to: 'advocacy', at: at(150).toISOString(), cause: `wake_up:event:${back.messageId}`, wakeUp: true, modelKey: 'default' },
    ]);
  });

  it('never moves back along the main sequence, and two orders 100 days apart are not loyalty', async () => {
    const { adminKey: key } = await t.newWorkspace();
    const a = `member_id::${randomUUID()}`;
    const t0 = new Date(Date.now() - 300 * DAY);
    await ingest(t, key, [order(a, t0), order(a, new Date(t0.getTime() + 100 * DAY))]);
    const pa = await profileOf(key, a);
    let s = await stageOf(key, pa);
    expect(s.stage!.key).toBe('purchase');
    // A first order jumps straight to 购买 (one transition); the 100 days between the orders were a
    // silence (沉默 at 30 days, 流失 at 90), woken by the second order — recorded although both
    // orders arrived in one batch. A later interaction does not move back to 兴趣.
    const history = [
      [null, 'purchase', false],
      ['purchase', 'silent', false],
      ['silent', 'churned', false],
      ['churned', 'purchase', true],
    ];
    expect(s.history.map((h) => [h.from, h.to, h.wakeUp])).toEqual(history);
    await ingest(t, key, [ev(a, new Date(t0.getTime() + 101 * DAY), 'Message Sent')]);
    s = await stageOf(key, pa);
    expect(s.stage!.key).toBe('purchase');
    expect(s.history.map((h) => [h.from, h.to, h.wakeUp])).toEqual(history);
  });

  it('loads stage and history for a page of profiles with per-operation loaders', async () => {
    const { adminKey: key } = await t.newWorkspace();
    const t0 = new Date(Date.now() - DAY);
    await ingest(t, key, [ev(`member_id::${randomUUID()}`, t0, 'Product Viewed'), ev(`member_id::${randomUUID()}`, t0, 'Liked'), order(`member_id::${randomUUID()}`, t0)]);
    const stagesOf = jest.spyOn(t.app.services.stages, 'stagesOf');
    const historyOf = jest.spyOn(t.app.services.stages, 'historyOf');
    const r = await t.gql(ProfilesStagesDocument, { first: 10 }, key);
    expect(r.errors).toBeUndefined();
    // One batched read per field per operation, however many profiles are listed (the stage none:
    // the list read fetches it with the profiles, profile.prefetch.ts).
    expect(stagesOf).toHaveBeenCalledTimes(0);
    expect(historyOf).toHaveBeenCalledTimes(1);
    stagesOf.mockRestore();
    historyOf.mockRestore();
    expect(r.data!.profiles.edges.map((e) => e.node.stage!.key).sort()).toEqual(['awareness', 'interest', 'purchase']);
    expect(r.data!.profiles.edges.every((e) => e.node.stageHistory.length === 1)).toBe(true);
  });
});

describe('merges', () => {
  it('the survivor is re-evaluated over both histories; the merged profile keeps no state or second stage tag', async () => {
    const { adminKey: key } = await t.newWorkspace();
    const dev = `device_id::${randomUUID()}`;
    const mem = `member_id::${randomUUID()}`;
    const t0 = new Date(Date.now() - 10 * DAY);
    await ingest(t, key, [ev(dev, t0, 'Message Sent'), order(dev, new Date(t0.getTime() + 2 * DAY))]);
    await ingest(t, key, [order(mem, new Date(t0.getTime() + DAY))]);
    const pd = await profileOf(key, dev);
    const pm = await profileOf(key, mem);
    // One order each: 购买. Together they have two orders within 90 days: 忠诚.
    expect((await stageOf(key, pd)).stage!.key).toBe('purchase');
    expect((await stageOf(key, pm)).stage!.key).toBe('purchase');
    await ingest(t, key, [makeEvent({ identifiers: [dev, mem], name: 'Product Viewed', timestamp: new Date(t0.getTime() + 3 * DAY).toISOString() })]);
    const survivor = await profileOf(key, mem);
    expect(survivor).toBe(pd); // the older profile survives
    const s = await stageOf(key, survivor);
    expect(s.stage).toMatchObject({ key: 'loyalty', previousStage: 'purchase' });
    expect(s.lifecycleTags.map((x) => x.key)).toEqual(['stage:loyalty']);
    const f = await t.gql(StageFunnelDocument, { range: { from: t0.toISOString(), to: new Date().toISOString() } }, key);
    expect(f.data!.stageFunnel.stages.reduce((n, x) => n + x.current, 0)).toBe(1);
  });
});

describe('merges in the funnel', () => {
  const funnelOf = async (key: string, from: Date, to: Date) => {
    const f = await t.gql(StageFunnelDocument, { range: { from: from.toISOString(), to: to.toISOString() } }, key);
    expect(f.errors).toBeUndefined();
    return { wakeUps: f.data!.stageFunnel.wakeUps, by: Object.fromEntries(f.data!.stageFunnel.stages.map((x) => [x.key, x])) };
  };

  it('two channel profiles of one person merged via a shared identifier are one person in every count', async () => {
    const { adminKey: key } = await t.newWorkspace();
    const T = new Date(Date.now() - 10 * DAY);
    const at = (days: number) => new Date(T.getTime() + days * DAY);
    const dev = `device_id::${randomUUID()}`;
    const mem = `member_id::${randomUUID()}`;
    const other = `member_id::${randomUUID()}`;
    // One person on two channels, not yet linked: the app (a view on day 0), the store (a message on day 1, an order on day 2).
    await ingest(t, key, [ev(dev, at(0), 'Product Viewed'), ev(other, at(0), 'Product Viewed')]);
    await ingest(t, key, [ev(mem, at(1), 'Message Sent'), order(mem, at(2))]);
    const before = await funnelOf(key, at(-1), new Date());
    // Unlinked, they are two profiles (and someone else is a third).
    expect([before.by.awareness.reached, before.by.interest.reached, before.by.purchase.reached]).toEqual([3, 1, 1]);
    // Day 3: an event carries both ids and the profiles merge (the older one survives).
    await ingest(t, key, [makeEvent({ identifiers: [dev, mem], name: 'Product Viewed', timestamp: at(3).toISOString() })]);
    const pd = await profileOf(key, dev);
    expect(await profileOf(key, mem)).toBe(pd);
    const f = await funnelOf(key, at(-1), new Date());
    expect(Object.values(f.by).reduce((n, x) => n + x.current, 0)).toBe(2);
    // Two people reached 认知; one of them 兴趣 and 购买 — the merged profile's own transitions are not a second person.
    expect(f.by.awareness).toMatchObject({ reached: 2, conversionToNext: 0.5, medianHoursInStage: 24 });
    expect(f.by.interest).toMatchObject({ current: 0, reached: 1, conversionToNext: 1, medianHoursInStage: 24 });
    expect(f.by.purchase).toMatchObject({ current: 1, reached: 1, conversionToNext: 0 });
    // The survivor's history is the person's (what the times above are), replayed over both profiles' events from day 1 on.
    expect((await stageOf(key, pd)).history.map((h) => [h.from, h.to, h.at])).toEqual([
      [null, 'awareness', at(0).toISOString()],
      ['awareness', 'interest', at(1).toISOString()],
      ['interest', 'purchase', at(2).toISOString()],
    ]);
  });

  it('a merge withdraws the silence one channel profile seemed to have while the person was active on another', async () => {
    const { adminKey: key } = await t.newWorkspace();
    const T = new Date(Date.now() - 100 * DAY);
    const at = (days: number) => new Date(T.getTime() + days * DAY);
    const dev = `device_id::${randomUUID()}`;
    const mem = `member_id::${randomUUID()}`;
    // One person on two channels, not yet linked: the app on days 0 and 40, the store (a member) on day 20.
    await ingest(t, key, [ev(dev, at(0), 'Product Viewed')]);
    await ingest(t, key, [ev(mem, at(20), 'Message Sent')]);
    await ingest(t, key, [ev(dev, at(40), 'Product Viewed')]);
    const pd = await profileOf(key, dev);
    expect(await profileOf(key, mem)).not.toBe(pd);
    // Seen alone, the app profile was silent from day 30 and woke on day 40.
    expect((await stageOf(key, pd)).history.map((h) => [h.to, h.wakeUp])).toEqual([
      ['awareness', false],
      ['silent', false],
      ['awareness', true],
    ]);
    // Day 41: an event carries both ids and the profiles merge (the older one survives).
    await ingest(t, key, [makeEvent({ identifiers: [dev, mem], name: 'Product Viewed', timestamp: at(41).toISOString() })]);
    expect(await profileOf(key, mem)).toBe(pd);

    // The person was active on days 0, 20, 40 and 41: never 30 days silent. The survivor's history is
    // replayed over both profiles' events from the merged one's first (day 20).
    const s = await stageOf(key, pd);
    expect(s.history.map((h) => [h.from, h.to, h.at, h.wakeUp])).toEqual([
      [null, 'awareness', at(0).toISOString(), false],
      ['awareness', 'interest', at(20).toISOString(), false],
    ]);
    const funnel = (from: Date, to: Date) => funnelOf(key, from, to);
    const all = await funnel(at(-1), new Date());
    // One person: reached 认知 and 兴趣 once (the merged profile's own 兴趣 on day 20 is not a second person).
    expect(all.by.awareness).toMatchObject({ current: 0, reached: 1, conversionToNext: 1, medianHoursInStage: 20 * 24 });
    expect(all.by.interest).toMatchObject({ current: 1, reached: 1 });
    expect(all.by.silent).toMatchObject({ current: 0, reached: 0, medianHoursInStage: null });
    expect(all.wakeUps).toBe(0);
    // Not silent on day 35 (active on day 20): no wake-up on day 40, as SILENT_WAKEUP_RATE sees it.
    expect((await funnel(at(35), at(45))).wakeUps).toBe(0);
  });
});

describe('stageFunnel', () => {
  it('counts current stages, conversion between consecutive stages, median time in stage and wake-ups', async () => {
    const { workspaceId: ws, adminKey: key } = await t.newWorkspace();
    const T = new Date(Date.now() - 100 * DAY);
    const h = (hours: number) => new Date(T.getTime() + hours * HOUR);
    const [p1, p2, p3, p4] = [1, 2, 3, 4].map((i) => `member_id::P${i}-${randomUUID()}`);
    await ingest(t, key, [ev(p1, h(0), 'Product Viewed'), ev(p2, h(0), 'Product Viewed'), ev(p3, h(0), 'Product Viewed')]);
    await ingest(t, key, [ev(p2, h(2), 'Message Sent'), ev(p3, h(4), 'Comment Posted')]);
    await ingest(t, key, [order(p3, h(10)), order(p4, h(1))]);
    await t.app.services.stages.sweepStep(ws, h(40 * 24), 100); // everyone 沉默
    await ingest(t, key, [ev(p1, h(45 * 24), 'Product Viewed')]); // one wake-up

    const { data: an } = await t.gql(CreateApiKeyDocument, { input: { role: 'ANALYST', name: 'bi' } }, key);
    const analyst = an!.createApiKey.key;
    const f1 = await t.gql(StageFunnelDocument, { range: { from: h(-1).toISOString(), to: h(24).toISOString() } }, analyst);
    expect(f1.errors).toBeUndefined();
    const byKey = Object.fromEntries(f1.data!.stageFunnel.stages.map((s) => [s.key, s]));
    expect(f1.data!.stageFunnel).toMatchObject({ modelKey: 'default', wakeUps: 0 });
    expect(f1.data!.stageFunnel.stages.map((s) => s.key)).toEqual(['awareness', 'interest', 'purchase', 'loyalty', 'advocacy', 'silent', 'churned']);
    // Now: P1 woke up (认知), P2–P4 沉默.
    expect(Object.fromEntries(f1.data!.stageFunnel.stages.map((s) => [s.key, s.current]))).toEqual({ awareness: 1, interest: 0, purchase: 0, loyalty: 0, advocacy: 0, silent: 3, churned: 0 });
    // Reached in range (k or later): awareness 4 (P4 skipped ahead), interest 3, purchase 2.
    expect(byKey.awareness).toMatchObject({ reached: 4, conversionToNext: 0.75, medianHoursInStage: 3 }); // P2 2 h, P3 4 h
    expect(byKey.interest.reached).toBe(3);
    expect(byKey.interest.conversionToNext).toBeCloseTo(2 / 3);
    expect(byKey.interest.medianHoursInStage).toBe(6); // P3: 4 h → 10 h
    expect(byKey.purchase).toMatchObject({ reached: 2, conversionToNext: 0, medianHoursInStage: null });
    expect(byKey.loyalty).toMatchObject({ reached: 0, conversionToNext: null });
    expect(byKey.advocacy).toMatchObject({ reached: 0, conversionToNext: null });
    expect(byKey.silent).toMatchObject({ reached: 0, inactive: true, conversionToNext: null });

    const f2 = await t.gql(StageFunnelDocument, { range: { from: h(24).toISOString(), to: h(60 * 24).toISOString() } }, analyst);
    const s2 = Object.fromEntries(f2.data!.stageFunnel.stages.map((s) => [s.key, s]));
    // P1 went silent (day 30) after this range began: not silent at its start, so not one of its wake-ups …
    expect(f2.data!.stageFunnel.wakeUps).toBe(0);
    // … but one of a range starting while they were silent.
    const f3 = await t.gql(StageFunnelDocument, { range: { from: h(35 * 24).toISOString(), to: h(60 * 24).toISOString() } }, analyst);
    expect(f3.data!.stageFunnel.wakeUps).toBe(1);
    expect(s2.silent.reached).toBe(4);
    expect(s2.awareness.reached).toBe(0); // a wake-up is not progress
    expect(s2.silent.medianHoursInStage).toBe(15 * 24); // P1: 沉默 at 30 d, woke at 45 d
    expect(s2.awareness.medianHoursInStage).toBe(30 * 24);

    const bad = await t.gql(StageFunnelDocument, { range: { from: h(2).toISOString(), to: h(1).toISOString() } }, analyst);
    expect(bad.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'INVALID_RANGE' });
    // Per-profile stage data is personal data: not for ANALYST keys.
    const pid = await profileOf(key, p1);
    const denied = await t.gql(ProfileStageDocument, { id: pid }, analyst);
    expect(denied.errors![0].extensions.code).toBe('FORBIDDEN');
  });
});

describe('loaded history (events with past times arriving in bulk)', () => {
  /** Viewed on days 0 and 1, back on 45 and 46 (after 44 silent days), then on 150 (after 104). */
  const DAYS = [0, 1, 45, 46, 150];
  const expected = (at: (days: number) => Date) =>
    [
      [null, 'awareness', at(0), false],
      ['awareness', 'silent', at(31), false],
      ['silent', 'awareness', at(45), true],
      ['awareness', 'silent', at(76), false],
      ['silent', 'churned', at(136), false],
      ['churned', 'awareness', at(150), true],
    ].map(([from, to, when, wakeUp]) => [from, to, (when as Date).toISOString(), wakeUp]);

  it('records each silence and wake-up at its time, loaded at once or newest first', async () => {
    const { adminKey: key } = await t.newWorkspace();
    const t0 = new Date(Date.now() - 200 * DAY);
    const at = (days: number) => new Date(t0.getTime() + days * DAY);
    const once = `member_id::ONCE-${randomUUID()}`;
    const back = `member_id::BACK-${randomUUID()}`;
    const events = DAYS.map((d) => ev(once, at(d), 'Product Viewed'));
    await ingest(t, key, events);
    // The same history newest first, a day per batch: each older day replays what came after it.
    for (const d of [...DAYS].reverse()) await ingest(t, key, [ev(back, at(d), 'Product Viewed')]);
    for (const who of [once, back]) {
      const s = await stageOf(key, await profileOf(key, who));
      expect(s.history.map((h) => [h.from, h.to, h.at, h.wakeUp])).toEqual(expected(at));
      expect(s.stage).toMatchObject({ key: 'awareness', previousStage: 'churned', enteredAt: at(150).toISOString() });
    }
    const s = await stageOf(key, await profileOf(key, once));
    expect(s.history.filter((h) => h.wakeUp).map((h) => h.cause)).toEqual([`wake_up:event:${events[2].messageId}`, `wake_up:event:${events[4].messageId}`]);
    // Both people: silent on day 40, back on day 45; silent on day 140, back on day 150 (each person once per range).
    const wakeUps = async (from: number, to: number) => (await t.gql(StageFunnelDocument, { range: { from: at(from).toISOString(), to: at(to).toISOString() } }, key)).data!.stageFunnel.wakeUps;
    expect([await wakeUps(40, 50), await wakeUps(140, 160), await wakeUps(40, 160), await wakeUps(-1, 40)]).toEqual([2, 2, 2, 0]);
  });

  it('withdraws a silence recorded before older events arrived, rather than waking from it', async () => {
    const { workspaceId: ws, adminKey: key } = await t.newWorkspace();
    const t0 = new Date(Date.now() - 200 * DAY);
    const at = (days: number) => new Date(t0.getTime() + days * DAY);
    const who = `member_id::LATE-${randomUUID()}`;
    await ingest(t, key, [ev(who, at(0), 'Product Viewed')]);
    const pid = await profileOf(key, who);
    // The sweep (or the due scheduler) runs while the history is still loading: from what it knows,
    // 沉默 at day 30 and 流失 at day 90.
    expect(await t.app.services.stages.sweepStep(ws, new Date(), 100)).toBe(1);
    expect((await stageOf(key, pid)).stage!.key).toBe('churned');
    // The rest arrives: an interaction every 20 days up to day 100. The person was never silent.
    await ingest(t, key, [20, 40, 60, 80, 100].map((d) => ev(who, at(d), 'Liked')));
    let s = await stageOf(key, pid);
    expect(s.history.map((h) => [h.from, h.to, h.at, h.wakeUp])).toEqual([
      [null, 'awareness', at(0).toISOString(), false],
      ['awareness', 'interest', at(20).toISOString(), false],
    ]);
    expect(s.stage).toMatchObject({ key: 'interest', inactive: false });
    expect(s.lifecycleTags.map((x) => x.key)).toEqual(['stage:interest']);
    // Now they are silent: 30 and 90 days after day 100.
    expect(await t.app.services.stages.sweepStep(ws, new Date(), 100)).toBe(1);
    s = await stageOf(key, pid);
    expect(s.history.slice(2).map((h) => [h.to, h.at])).toEqual([
      ['silent', at(130).toISOString()],
      ['churned', at(190).toISOString()],
    ]);
    const f = await t.gql(StageFunnelDocument, { range: { from: at(-1).toISOString(), to: new Date().toISOString() } }, key);
    expect(f.data!.stageFunnel.wakeUps).toBe(0);
  });

  it('a seeded demo history with sleepers gives wake-ups equal to a count from the raw events, and to SILENT_WAKEUP_RATE', async () => {
    const { workspaceId: ws, adminKey: key } = await t.newWorkspace();
    const zone = 'Asia/Shanghai'; // the workspace's (the default)
    // 80 people over 70 days: sleepers (silent from day 2, back after day 33) and low-activity people with long gaps.
    const gen = new DemoGenerator({ profiles: 80, days: 70, seed: 7, timeZone: zone });
    for (const batch of gen.batches(500)) await ingest(t, key, batch);

    // The count from the stored events (each on its person's live profile after the merges), by the
    // KPI's definition: silent = active before the bucket, no event in the 30 days before its start;
    // woken = silent and active in the bucket.
    const rows: { profile_id: string; ts: Date }[] = await t.app.db.dataSource.query(`SELECT profile_id, ts FROM events WHERE workspace_id = $1 ORDER BY ts`, [ws]);
    const times = new Map<string, number[]>();
    for (const r of rows) times.set(r.profile_id, [...(times.get(r.profile_id) ?? []), new Date(r.ts).getTime()]);
    const count = (from: number, to: number) => {
      let silent = 0;
      let woken = 0;
      for (const ts of times.values()) {
        const before = ts.filter((x) => x < from);
        if (!before.length || before.at(-1)! >= from - 30 * DAY) continue;
        silent++;
        if (ts.some((x) => x >= from && x < to)) woken++;
      }
      return { silent, woken };
    };
    const wakeUps = async (from: number, to: number) => {
      const f = await t.gql(StageFunnelDocument, { range: { from: new Date(from).toISOString(), to: new Date(to).toISOString() } }, key);
      expect(f.errors).toBeUndefined();
      return f.data!.stageFunnel.wakeUps;
    };

    const day = (ms: number) => new Intl.DateTimeFormat('en-CA', { timeZone: zone }).format(new Date(ms));
    const k = await t.gql(KpiDocument, { metric: 'SILENT_WAKEUP_RATE', range: { from: day(gen.start), to: day(gen.end - 1) }, grain: 'DAY' }, key);
    expect(k.errors).toBeUndefined();
    const points = k.data!.kpi.total.points.map((p) => ({ from: Date.parse(p.start), to: Date.parse(p.end), value: p.value }));
    expect(points).toHaveLength(70);
    const got: number[] = [];
    const want: number[] = [];
    for (const p of points) {
      const c = count(p.from, p.to);
      want.push(c.woken);
      got.push(await wakeUps(p.from, p.to));
      // The independent count is the KPI's: its rate is woken ÷ silent.
      if (c.silent) expect(p.value).toBeCloseTo(c.woken / c.silent, 12);
      else expect(p.value).toBeNull();
    }
    expect(got).toEqual(want);
    expect(want.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(5);
    // Longer ranges (a week, the whole window) agree too.
    for (let i = 30; i < points.length; i += 7) {
      const to = points[Math.min(i + 6, points.length - 1)].to;
      expect(await wakeUps(points[i].from, to)).toBe(count(points[i].from, to).woken);
    }
    expect(await wakeUps(points[0].from, points.at(-1)!.to)).toBe(0); // nobody was silent before the first event
  }, 180_000);
});

const CUSTOM: StageModelInput = {
  key: 'onboarding_v1',
  name: '新用户旅程',
  stages: [
    { key: 'onboarding', name: '新用户引导', enter: { kind: 'first_event' } },
    { key: 'activated', name: '激活', enter: { kind: 'event_any_of', events: ['Profile Completed'] } },
    { key: 'retained', name: '留存', enter: { kind: 'event_any_of', events: ['Checked In'] } },
    { key: 'converted', name: '转化', enter: { kind: 'orders_within', count: 1, days: 365 } },
    { key: 'referrer', name: '推荐', enter: { kind: 'invitee_bought' } },
    { key: 'dormant', name: '沉睡', enter: { kind: 'inactive_days', days: 14 } },
  ],
};

describe('custom stage models', () => {
  it('a workspace defines its own model with the same rule form; people are re-derived under it', async () => {
    const { workspaceId: ws, adminKey: key } = await t.newWorkspace();
    const a = `member_id::${randomUUID()}`;
    const t0 = new Date(Date.now() - 5 * DAY);
    await ingest(t, key, [ev(a, t0, 'Product Viewed')]);
    const pa = await profileOf(key, a);
    expect((await stageOf(key, pa)).stage!.key).toBe('awareness');

    const u = await t.gql(UpdateStageModelDocument, { input: CUSTOM }, key);
    expect(u.errors).toBeUndefined();
    expect(u.data!.updateStageModel.stages.map((s) => [s.key, s.inactive])).toEqual([
      ['onboarding', false],
      ['activated', false],
      ['retained', false],
      ['converted', false],
      ['referrer', false],
      ['dormant', true],
    ]);
    const m = await t.gql(StageModelDocument, {}, key);
    expect(m.data!.stageModel).toEqual(u.data!.updateStageModel);
    expect(m.data!.stageModel.stages[3].enter).toEqual({ kind: 'orders_within', events: null, count: 1, days: 365 });

    let s = await stageOf(key, pa);
    expect(s.stage).toMatchObject({ key: 'onboarding', name: '新用户引导' });
    expect(s.lifecycleTags.map((x) => x.key)).toEqual(['stage:onboarding']);

    await ingest(t, key, [ev(a, new Date(t0.getTime() + DAY), 'Profile Completed')]);
    expect((await stageOf(key, pa)).stage!.key).toBe('activated');
    await ingest(t, key, [order(a, new Date(t0.getTime() + 2 * DAY))]);
    s = await stageOf(key, pa);
    expect(s.stage).toMatchObject({ key: 'converted', name: '转化', previousStage: 'activated' });
    expect(s.history.filter((h) => h.modelKey === 'onboarding_v1').map((h) => h.to)).toEqual(['onboarding', 'activated', 'converted']);

    expect(await t.app.services.stages.sweepStep(ws, new Date(t0.getTime() + 17 * DAY), 100)).toBe(1);
    s = await stageOf(key, pa);
    expect(s.stage).toMatchObject({ key: 'dormant', name: '沉睡', mainStage: 'converted' });
    expect(s.lifecycleTags.map((x) => x.key)).toEqual(['stage:dormant']);

    const f = await t.gql(StageFunnelDocument, { range: { from: new Date(t0.getTime() - DAY).toISOString(), to: new Date().toISOString() } }, key);
    expect(f.data!.stageFunnel.modelKey).toBe('onboarding_v1');
    expect(f.data!.stageFunnel.stages.find((x) => x.key === 'dormant')!.current).toBe(1);

    // Sending the same model again changes nothing (no re-derivation, no new transitions).
    const before = (await stageOf(key, pa)).history.length;
    await t.gql(UpdateStageModelDocument, { input: CUSTOM }, key);
    expect((await stageOf(key, pa)).history).toHaveLength(before);
  });

  it('refuses a bad model with precise field errors and changes nothing', async () => {
    const { adminKey: key } = await t.newWorkspace();
    const a = `member_id::${randomUUID()}`;
    await ingest(t, key, [ev(a, new Date(Date.now() - DAY), 'Liked')]);
    const pa = await profileOf(key, a);
    const before = await stageOf(key, pa);

    const bad = await t.gql(
      UpdateStageModelDocument,
      {
        input: {
          key: 'Bad Key',
          name: '坏模型',
          stages: [
            { key: 'a', name: 'A', enter: { kind: 'first_event', events: ['x'] } },
            { key: 'b', name: 'B', enter: { kind: 'on_birthday' } },
            { key: 'a', name: 'A2', enter: { kind: 'orders_within', days: 30 } },
            { key: 'c', name: 'C', enter: { kind: 'event_any_of', events: [] } },
            { key: 'silent', name: '沉默', enter: { kind: 'inactive_days', days: 90 } },
            { key: 'churned', name: '流失', enter: { kind: 'inactive_days', days: 30 } },
          ],
        },
      },
      key,
    );
    expect(bad.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'INVALID_STAGE_MODEL' });
    const fields = (bad.errors![0].extensions.fields as { field: string; message: string }[]).map((x) => x.field);
    expect(fields).toEqual([
      'input.key',
      'input.stages.0.enter.events',
      'input.stages.1.enter.kind',
      'input.stages.2.key',
      'input.stages.2.enter.count',
      'input.stages.3.enter.events',
      'input.stages.5.enter.days',
    ]);
    const msgs = (bad.errors![0].extensions.fields as { field: string; message: string }[]).map((x) => x.message).join(' | ');
    expect(msgs).toMatch(/unknown condition kind "on_birthday"/);
    expect(msgs).toMatch(/duplicate stage key "a"/);
    expect(msgs).toMatch(/30 must be greater than 90/);

    const notOnlyInactive = await t.gql(UpdateStageModelDocument, { input: { key: 'x', name: 'X', stages: [{ key: 'quiet', name: 'Q', enter: { kind: 'inactive_days', days: 3 } }] } }, key);
    expect(notOnlyInactive.errors![0].extensions).toMatchObject({ reason: 'INVALID_STAGE_MODEL', fields: [{ field: 'input.stages' }] });

    const { data: rk } = await t.gql(CreateApiKeyDocument, { input: { role: 'READ', name: 'crm' } }, key);
    const denied = await t.gql(UpdateStageModelDocument, { input: CUSTOM }, rk!.createApiKey.key);
    expect(denied.errors![0].extensions.code).toBe('FORBIDDEN');

    const m = await t.gql(StageModelDocument, {}, key);
    expect(m.data!.stageModel.key).toBe('default');
    expect(m.data!.stageModel.stages.map((s) => `${s.key}:${s.name}`)).toEqual(['awareness:认知', 'interest:兴趣', 'purchase:购买', 'loyalty:忠诚', 'advocacy:推荐', 'silent:沉默', 'churned:流失']);
    expect(await stageOf(key, pa)).toEqual(before);
  });
});
