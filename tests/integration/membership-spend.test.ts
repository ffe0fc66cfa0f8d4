import { randomUUID } from 'node:crypto';
import { bootAppPerFile } from '../support/app';
import { ingest } from '../support/api';
import { idInput, makeEvent } from '../support/events';
import {
  CreateSegmentDocument,
  MembershipRulesBasisDocument,
  ProfileByIdentifierDocument,
  ProfileDocument,
  ProfileSpendMembershipDocument,
  ProfileTagsDocument,
  UnmergeDocument,
  UpdateMembershipRulesBasisDocument,
  type EventInput,
  type MembershipBasis,
} from '../generated/graphql';

/**
 * Membership levels by spend over a trailing window (SPEND ladder) through the public API: levels,
 * in-window spend and level histories equal a plain recomputation from the orders sent (generated
 * people, orders over 60 days sent in shuffled batches); a level falls with time alone when the due
 * work runs at the moment an order leaves the window; switching a workspace between POINTS and
 * SPEND replays everyone; a merge, an unmerge and a rebuild keep it equal to the recomputation; bad
 * rules are refused with typed errors naming each field.
 */
const t = bootAppPerFile();

const MIN = 60_000;
const DAY = 86_400_000;
/** Whole minutes, so that the deliberate ties below are exact. */
const NOW = Math.floor(Date.now() / MIN) * MIN;
/** No generated order enters or leaves the window this close to NOW (the server's clock runs on while the test sends). */
const MARGIN = 15 * MIN;

interface Level {
  key: string;
  name: string;
  threshold: number;
}
interface Order {
  who: string;
  messageId: string;
  ts: number;
  value: number;
}
interface Expected {
  level: string | null;
  spend: number;
  since: string | null;
  history: { from: string | null; to: string | null; at: string; cause: string; points: number; basis: MembershipBasis }[];
  /** The earliest instant after `at` at which one of the person's orders leaves the window. */
  nextDue: number | null;
}

/** A small seeded generator, so that a failure can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const maxId = (ids: string[]) => ids.reduce((m, x) => (x > m ? x : m));

/**
 * The plain recomputation at instant `at`: at every instant an order enters (its time) or leaves
 * (its time + window), spend = Σ value of the orders with time in (instant − window, instant],
 * level = the last one whose threshold it reaches; a change when it differs from the level before
 * (none before the first order). Rising: caused by the last order arriving then (by message id);
 * falling: by the last order leaving then.
 */
function recompute(orders: Order[], levels: Level[], windowDays: number, at: number): Map<string, Expected> {
  const w = windowDays * DAY;
  const rank = (k: string | null) => levels.findIndex((l) => l.key === k);
  const spendAt = (os: Order[], t: number) => os.filter((o) => o.ts <= t && o.ts > t - w).reduce((s, o) => s + Math.round(o.value * 100), 0) / 100;
  const out = new Map<string, Expected>();
  for (const who of new Set(orders.map((o) => o.who))) {
    const os = orders.filter((o) => o.who === who);
    const instants = [...new Set(os.flatMap((o) => [o.ts, o.ts + w]).filter((t) => t <= at))].sort((a, b) => a - b);
    const x: Expected = { level: null, spend: spendAt(os, at), since: null, history: [], nextDue: null };
    for (const t of instants) {
      const s = spendAt(os, t);
      const held = levels.filter((l) => s >= l.threshold).at(-1)?.key ?? null;
      if (held === x.level) continue;
      const cause =
        rank(held) > rank(x.level) ? `event:${maxId(os.filter((o) => o.ts === t).map((o) => o.messageId))}` : `window:${maxId(os.filter((o) => o.ts + w === t).map((o) => o.messageId))}`;
      x.history.unshift({ from: x.level, to: held, at: new Date(t).toISOString(), cause, points: s, basis: 'SPEND' as MembershipBasis });
      x.level = held;
      x.since = new Date(t).toISOString();
    }
    const exits = os.map((o) => o.ts + w).filter((t) => t > at);
    x.nextDue = exits.length ? Math.min(...exits) : null;
    out.set(who, x);
  }
  return out;
}

const order = (who: string, ts: number, value: number, messageId = `o-${randomUUID()}`): EventInput =>
  makeEvent({ identifiers: [who], messageId, name: 'Order Completed', timestamp: new Date(ts).toISOString(), properties: { revenue: value, orderId: messageId } });

const points = (who: string, ts: number, delta: number): EventInput =>
  makeEvent({ identifiers: [who], name: delta > 0 ? 'Points Earned' : 'Points Redeemed', timestamp: new Date(ts).toISOString(), properties: { points: Math.abs(delta) } });

async function profileOf(key: string, id: string): Promise<string> {
  const r = await t.gql(ProfileByIdentifierDocument, { identifier: idInput(id) }, key);
  expect(r.errors).toBeUndefined();
  return r.data!.profileByIdentifier.id;
}

async function observed(key: string, pid: string) {
  const r = await t.gql(ProfileSpendMembershipDocument, { id: pid, first: 200 }, key);
  expect(r.errors).toBeUndefined();
  const m = r.data!.profile.membership;
  return {
    points: m.points,
    level: m.level?.key ?? null,
    spend: m.spend,
    since: m.since ? new Date(m.since).toISOString() : null,
    history: m.history.map((h) => ({ from: h.from, to: h.to, at: new Date(h.at).toISOString(), cause: h.cause, points: h.points, basis: h.basis })),
  };
}

/** Every person as the API reads them equals the recomputation (`pointsOf`: their points balance). */
async function expectAll(key: string, people: Map<string, string>, want: Map<string, Expected>, pointsOf: (who: string) => number, label: string) {
  for (const [who, pid] of people) {
    const x = want.get(who);
    const exp = { points: pointsOf(who), level: x?.level ?? null, spend: x?.spend ?? 0, since: x?.since ?? null, history: x?.history ?? [] };
    expect({ label, who, got: await observed(key, pid) }).toEqual({ label, who, got: exp });
  }
}

async function dueOf(ws: string): Promise<Map<string, number>> {
  const rows: { profile_id: string; due_at: Date }[] = await t.app.db.dataSource.query(`SELECT profile_id, due_at FROM due_work WHERE workspace_id = $1 AND projection = 'membership'`, [ws]);
  return new Map(rows.map((r) => [r.profile_id, new Date(r.due_at).getTime()]));
}

async function drainDue(ws: string, at: number): Promise<void> {
  while ((await t.app.services.due.runWorkspace(ws, new Date(at), 5000)) > 0);
}

/** Generated orders of these people over the 60 days before NOW, at whole minutes, none entering or leaving the window within MARGIN of NOW. */
function generate(rand: () => number, who: string[], windowDays: number, perPerson: number): Order[] {
  const out: Order[] = [];
  for (const w of who) {
    const n = 1 + Math.floor(rand() * perPerson);
    for (let i = 0; i < n; i++) {
      let ts: number;
      do ts = NOW - (MARGIN + Math.floor(rand() * (60 * DAY - MARGIN) / MIN) * MIN);
      while (Math.abs(ts + windowDays * DAY - NOW) < MARGIN);
      out.push({ who: w, messageId: `o-${randomUUID()}`, ts, value: Math.round((40 + rand() * 900) * 100) / 100 });
    }
  }
  return out;
}

function shuffle<T>(rand: () => number, xs: T[]): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

const LADDER: Level[] = [
  { key: 'bronze', name: '铜', threshold: 0 },
  { key: 'silver', name: '银', threshold: 500 },
  { key: 'gold', name: '金', threshold: 2000 },
];

describe('membership levels by spend over a window', () => {
  it('levels, spend and level histories equal a recomputation; a level falls with time alone when the due work runs; a rebuild gives the same', async () => {
    const { workspaceId: ws, adminKey: key } = await t.newWorkspace();
    const set = await t.gql(UpdateMembershipRulesBasisDocument, { input: { basis: 'SPEND' as MembershipBasis, windowDays: 30, levels: LADDER } }, key);
    expect(set.errors).toBeUndefined();
    expect(set.data!.updateMembershipRules).toMatchObject({ version: 1, basis: 'SPEND', windowDays: 30 });
    expect((await t.gql(CreateSegmentDocument, { input: { key: 'gold_spenders', name: '金卡', expression: 'level == "gold"' } }, key)).errors).toBeUndefined();

    const rand = rng(1830);
    const who = Array.from({ length: 12 }, (_, i) => `member_id::S${i}-${randomUUID()}`);
    const orders = generate(rand, who.slice(2), 30, 9);
    // Ties: who[0]'s first order leaves the window at the very instant their second arrives (same
    // value): no drop-and-rise is recorded; who[1] places two orders at one instant.
    const t0 = NOW - 45 * DAY;
    orders.push({ who: who[0], messageId: `o-a-${randomUUID()}`, ts: t0, value: 600 }, { who: who[0], messageId: `o-b-${randomUUID()}`, ts: t0 + 30 * DAY, value: 600 });
    orders.push({ who: who[0], messageId: `o-c-${randomUUID()}`, ts: NOW - 20 * DAY, value: 1500 });
    const t1 = NOW - 25 * DAY;
    orders.push({ who: who[1], messageId: `o-${randomUUID()}`, ts: t1, value: 300 }, { who: who[1], messageId: `o-${randomUUID()}`, ts: t1, value: 250.5 });
    // Someone with points events and no order; and a buyer who also collects points.
    const pointsOnly = `member_id::Q-${randomUUID()}`;
    const pts = new Map([
      [pointsOnly, 120],
      [who[3], 45],
    ]);
    const events = shuffle(rand, [
      ...orders.map((o) => order(o.who, o.ts, o.value, o.messageId)),
      points(pointsOnly, NOW - 3 * DAY, 120),
      points(who[3], NOW - 50 * DAY, 45),
    ]);
    // Shuffled batches: orders arrive late and early against what each person already has.
    for (let i = 0; i < events.length; i += 9) await ingest(t, key, events.slice(i, i + 9));

    const people = new Map<string, string>();
    for (const w of [...who, pointsOnly]) people.set(w, await profileOf(key, w));
    const pointsOf = (w: string) => pts.get(w) ?? 0;
    const want = recompute(orders, LADDER, 30, NOW);
    // The data covers what it should: every level, falls as well as rises, a fall caused by the window.
    expect(new Set([...want.values()].map((x) => x.level))).toEqual(new Set(['bronze', 'silver', 'gold']));
    expect([...want.values()].some((x) => x.history.some((h) => h.cause.startsWith('window:')))).toBe(true);
    expect(want.get(who[0])!.history.map((h) => [h.from, h.to, h.at])).toEqual([
      ['silver', 'gold', new Date(NOW - 20 * DAY).toISOString()],
      [null, 'silver', new Date(t0).toISOString()],
    ]);
    await expectAll(key, people, want, pointsOf, 'after ingest');

    // Each buyer's next moment is scheduled: the earliest instant after now at which an order leaves the window.
    const due = await dueOf(ws);
    for (const [w, pid] of people) expect({ w, at: due.get(pid) ?? null }).toEqual({ w, at: want.get(w)?.nextDue ?? null });

    // Ten days on, nothing was sent; the due work runs at each moment that has come: levels fall.
    const later = NOW + 10 * DAY;
    const want2 = recompute(orders, LADDER, 30, later);
    const fell = [...want2].filter(([w, x]) => x.level !== want.get(w)!.level);
    expect(fell.length).toBeGreaterThan(0);
    expect(fell.every(([, x]) => x.history[0].cause.startsWith('window:'))).toBe(true);
    await expectAll(key, people, want, pointsOf, 'before the due work');
    await drainDue(ws, later);
    await expectAll(key, people, want2, pointsOf, 'after the due work');
    const due2 = await dueOf(ws);
    for (const [w, pid] of people) expect({ w, at: due2.get(pid) ?? null }).toEqual({ w, at: want2.get(w)?.nextDue ?? null });
    // Segments reading `level` follow a fall with time alone.
    for (const [w, pid] of people) {
      const r = await t.gql(ProfileTagsDocument, { id: pid }, key);
      expect({ w, gold: r.data!.profile.segments.some((s) => s.key === 'gold_spenders') }).toEqual({ w, gold: want2.get(w)?.level === 'gold' });
    }

    // A rebuild from nothing (now: the real clock) gives the recomputation at now.
    const db = t.app.db.dataSource;
    for (const table of ['points_ledger', 'profile_membership', 'level_changes', 'due_work']) await db.query(`DELETE FROM ${table} WHERE workspace_id = $1`, [ws]);
    const r = await t.app.services.recompute.run(ws, { parts: ['membership'], restart: true });
    expect(r.parts.map((p) => [p.part, p.finished])).toEqual([['membership', true]]);
    await expectAll(key, people, want, pointsOf, 'after a rebuild');
    const due3 = await dueOf(ws);
    for (const [w, pid] of people) expect({ w, at: due3.get(pid) ?? null }).toEqual({ w, at: want.get(w)?.nextDue ?? null });
  });

  it('switching a workspace from POINTS to SPEND and back replays everyone', async () => {
    const { workspaceId: ws, adminKey: key } = await t.newWorkspace();
    const rand = rng(77);
    const who = Array.from({ length: 6 }, (_, i) => `member_id::W${i}-${randomUUID()}`);
    const orders = generate(rand, who.slice(0, 4), 7, 6);
    const pts = new Map<string, number>([
      [who[1], 1500],
      [who[4], 6000],
      [who[5], 200],
    ]);
    await ingest(t, key, [...orders.map((o) => order(o.who, o.ts, o.value, o.messageId)), ...[...pts].map(([w, p]) => points(w, NOW - 5 * DAY, p))]);
    const people = new Map<string, string>();
    for (const w of who) people.set(w, await profileOf(key, w));
    const pointsOf = (w: string) => pts.get(w) ?? 0;
    // Under the default POINTS ladder: levels from the balance (one event each), no spend, nothing scheduled.
    const byPoints = async (label: string) => {
      for (const [w, pid] of people) {
        const p = pts.get(w);
        const level = p === undefined ? null : p >= 5000 ? 'gold' : p >= 1000 ? 'silver' : 'member';
        const got = await observed(key, pid);
        expect({ label, w, got: { points: got.points, spend: got.spend, level: got.level, history: got.history.map((h) => [h.to, h.basis]) } }).toEqual({
          label,
          w,
          got: { points: p ?? 0, spend: null, level, history: p === undefined ? [] : [[level, 'POINTS']] },
        });
      }
      expect((await dueOf(ws)).size).toBe(0);
    };
    await byPoints('POINTS');

    const ladder: Level[] = [
      { key: 'silver', name: '银', threshold: 300 },
      { key: 'gold', name: '金', threshold: 1200 },
    ];
    const s = await t.gql(UpdateMembershipRulesBasisDocument, { input: { basis: 'SPEND' as MembershipBasis, windowDays: 7, levels: ladder } }, key);
    expect(s.errors).toBeUndefined();
    const want = recompute(orders, ladder, 7, NOW);
    expect([...want.values()].some((x) => x.history.some((h) => h.to === null))).toBe(true);
    await expectAll(key, people, want, pointsOf, 'switched to SPEND');
    const due = await dueOf(ws);
    for (const [w, pid] of people) expect({ w, at: due.get(pid) ?? null }).toEqual({ w, at: want.get(w)?.nextDue ?? null });
    const rules = await t.gql(MembershipRulesBasisDocument, {}, key);
    expect(rules.data!.membershipRules).toMatchObject({ version: 1, basis: 'SPEND', windowDays: 7 });

    const back = await t.gql(
      UpdateMembershipRulesBasisDocument,
      {
        input: {
          levels: [
            { key: 'member', name: '普通会员', threshold: 0 },
            { key: 'silver', name: '银卡会员', threshold: 1000 },
            { key: 'gold', name: '金卡会员', threshold: 5000 },
          ],
        },
      },
      key,
    );
    expect(back.errors).toBeUndefined();
    expect(back.data!.updateMembershipRules).toMatchObject({ version: 2, basis: 'POINTS', windowDays: null });
    await byPoints('back to POINTS');
  });

  it('a merge brings the other person\'s orders into the survivor\'s window, an unmerge splits them back', async () => {
    const { adminKey: key } = await t.newWorkspace();
    const ladder: Level[] = [
      { key: 'silver', name: '银', threshold: 300 },
      { key: 'gold', name: '金', threshold: 1000 },
    ];
    expect((await t.gql(UpdateMembershipRulesBasisDocument, { input: { basis: 'SPEND' as MembershipBasis, windowDays: 14, levels: ladder } }, key)).errors).toBeUndefined();
    const a = `member_id::A-${randomUUID()}`;
    const b = `wechat_unionid:wx_open:${randomUUID()}`;
    const orders = generate(rng(5), [a, b], 14, 7);
    await ingest(t, key, orders.map((o) => order(o.who, o.ts, o.value, o.messageId)));
    const [pa, pb] = [await profileOf(key, a), await profileOf(key, b)];
    const own = recompute(orders, ladder, 14, NOW);
    const pointsOf = () => 0;
    await expectAll(key, new Map([[a, pa], [b, pb]]), own, pointsOf, 'apart');

    await ingest(t, key, [makeEvent({ identifiers: [a, b], name: 'Product Viewed', timestamp: new Date(NOW - DAY).toISOString() })]);
    const survivor = await profileOf(key, a);
    expect(await profileOf(key, b)).toBe(survivor);
    const one = orders.map((o) => ({ ...o, who: 'one' }));
    await expectAll(key, new Map([['one', survivor]]), recompute(one, ladder, 14, NOW), pointsOf, 'merged');
    // An order after the merge lands on the survivor.
    const late = { who: b, messageId: `o-${randomUUID()}`, ts: NOW - 2 * DAY, value: 420 };
    orders.push(late);
    await ingest(t, key, [order(b, late.ts, late.value, late.messageId)]);
    await expectAll(key, new Map([['one', survivor]]), recompute(orders.map((o) => ({ ...o, who: 'one' })), ladder, 14, NOW), pointsOf, 'merged, one more order');

    const mergeId = (await t.gql(ProfileDocument, { id: survivor }, key)).data!.profile.mergeHistory[0].id;
    expect((await t.gql(UnmergeDocument, { mergeId }, key)).errors).toBeUndefined();
    const [sa, sb] = [await profileOf(key, a), await profileOf(key, b)];
    expect(sa).not.toBe(sb);
    await expectAll(key, new Map([[a, sa], [b, sb]]), recompute(orders, ladder, 14, NOW), pointsOf, 'unmerged');
  });

  it('a batch applies the window exits its person\'s carried state has not seen yet (the due work had not run)', async () => {
    const { workspaceId: ws, adminKey: key } = await t.newWorkspace();
    expect((await t.gql(UpdateMembershipRulesBasisDocument, { input: { basis: 'SPEND' as MembershipBasis, windowDays: 30, levels: LADDER } }, key)).errors).toBeUndefined();
    const x = `member_id::X-${randomUUID()}`;
    const orders: Order[] = [
      { who: x, messageId: `o-${randomUUID()}`, ts: NOW - 40 * DAY, value: 1500 },
      { who: x, messageId: `o-${randomUUID()}`, ts: NOW - 35 * DAY, value: 700 },
    ];
    await ingest(t, key, orders.map((o) => order(o.who, o.ts, o.value, o.messageId)));
    const pid = await profileOf(key, x);
    // The person's state as derived 20 days ago (the projection's own rebuild, with that clock): gold,
    // their next moment 10 days ago, and no due work has run since.
    const then = NOW - 20 * DAY;
    const rebuild = t.app.services.membership.projection.rebuild as (em: unknown, ws: string, ids: string[], now: Date) => Promise<void>;
    await t.app.db.dataSource.transaction((em) => rebuild(em, ws, [pid], new Date(then)));
    await expectAll(key, new Map([[x, pid]]), recompute(orders, LADDER, 30, then), () => 0, 'as of 20 days ago');
    expect((await dueOf(ws)).get(pid)).toBe(NOW - 10 * DAY);
    // A new order now: the batch also applies the two exits since (gold → silver → bronze, caused by the window).
    const next = { who: x, messageId: `o-${randomUUID()}`, ts: NOW - DAY, value: 100 };
    orders.push(next);
    await ingest(t, key, [order(x, next.ts, next.value, next.messageId)]);
    const want = recompute(orders, LADDER, 30, NOW);
    expect(want.get(x)!.history.map((h) => [h.to, h.cause.split(':')[0]])).toEqual([
      ['bronze', 'window'],
      ['silver', 'window'],
      ['gold', 'event'],
      ['silver', 'event'],
    ]);
    await expectAll(key, new Map([[x, pid]]), want, () => 0, 'after a new order');
    expect((await dueOf(ws)).get(pid)).toBe(next.ts + 30 * DAY);
  });

  it('refuses bad rules with typed errors naming each field, all at once, and changes nothing', async () => {
    const { adminKey: key } = await t.newWorkspace();
    const fields = async (input: Record<string, unknown>) => {
      const r = await t.gql(UpdateMembershipRulesBasisDocument, { input: input as never }, key);
      expect(r.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'INVALID_LEVEL_RULES' });
      return (r.errors![0].extensions.fields as { field: string }[]).map((f) => f.field);
    };
    const ok = [{ key: 'silver', name: '银', threshold: 100 }];
    expect(await fields({ basis: 'SPEND', levels: ok })).toEqual(['input.windowDays']);
    expect(await fields({ basis: 'SPEND', windowDays: 0, levels: ok })).toEqual(['input.windowDays']);
    expect(await fields({ basis: 'SPEND', windowDays: 731, levels: ok })).toEqual(['input.windowDays']);
    expect(await fields({ basis: 'POINTS', windowDays: 30, levels: ok })).toEqual(['input.windowDays']);
    expect(await fields({ windowDays: 30, levels: ok })).toEqual(['input.windowDays']);
    expect(
      await fields({
        basis: 'SPEND',
        windowDays: -1,
        levels: [
          { key: 'a', name: 'A', threshold: 100 },
          { key: 'b', name: 'B', threshold: 50 },
        ],
      }),
    ).toEqual(['input.windowDays', 'input.levels.1.threshold']);
    const r = await t.gql(MembershipRulesBasisDocument, {}, key);
    expect(r.data!.membershipRules).toMatchObject({ version: 0, basis: 'POINTS', windowDays: null });
    const good = await t.gql(UpdateMembershipRulesBasisDocument, { input: { basis: 'SPEND' as MembershipBasis, windowDays: 730, levels: ok } }, key);
    expect(good.data!.updateMembershipRules).toMatchObject({ version: 1, basis: 'SPEND', windowDays: 730 });
  });
});
