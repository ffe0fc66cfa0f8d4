import { randomUUID } from 'node:crypto';
import { bootAppPerFile } from '../support/app';
import { ingest } from '../support/api';
import { idInput, makeEvent } from '../support/events';
import {
  CreateApiKeyDocument,
  CreateSegmentDocument,
  CreateTagDocument,
  EraseProfileDocument,
  IngestDocument,
  KpiDocument,
  MembershipRulesDocument,
  MembershipRulesHistoryDocument,
  ProfileByIdentifierDocument,
  ProfileDocument,
  ProfileMembershipDocument,
  ProfileTagsDocument,
  UnmergeDocument,
  UpdateMembershipRulesDocument,
  type EventInput,
} from '../generated/graphql';

/**
 * Membership (积分-等级) through the public API: every balance, level and level history equals a
 * plain recomputation from the raw events sent (generated people, batches, re-sent duplicates, a
 * late event), through rule changes, merges, unmerges, erasure and a rebuild; the LEVEL breakdown
 * equals a count of the recomputed levels; bad rules are refused with typed errors.
 */
const t = bootAppPerFile();

interface Level {
  key: string;
  name: string;
  threshold: number;
}
interface Sent {
  who: string;
  messageId: string;
  ts: Date;
  delta: number;
}
interface Expected {
  points: number;
  level: string | null;
  since: string | null;
  history: { from: string | null; to: string | null; at: string; cause: string; points: number }[];
  ledger: number;
}

const DEFAULT_LADDER: Level[] = [
  { key: 'member', name: '普通会员', threshold: 0 },
  { key: 'silver', name: '银卡会员', threshold: 1000 },
  { key: 'gold', name: '金卡会员', threshold: 5000 },
  { key: 'diamond', name: '钻石会员', threshold: 20000 },
];

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

/** The plain recomputation: each person's points events in (time, message id) order, the level after each. */
function recompute(sent: Sent[], levels: Level[]): Map<string, Expected> {
  const out = new Map<string, Expected>();
  const sorted = [...sent].sort((a, b) => a.ts.getTime() - b.ts.getTime() || (a.messageId < b.messageId ? -1 : a.messageId > b.messageId ? 1 : 0));
  for (const e of sorted) {
    const x = out.get(e.who) ?? { points: 0, level: null, since: null, history: [], ledger: 0 };
    x.points = Math.round((x.points + e.delta) * 100) / 100;
    x.ledger++;
    const held = levels.filter((l) => x.points >= l.threshold).at(-1)?.key ?? null;
    if (held !== x.level) {
      x.history.unshift({ from: x.level, to: held, at: e.ts.toISOString(), cause: `event:${e.messageId}`, points: x.points });
      x.level = held;
      x.since = e.ts.toISOString();
    }
    out.set(e.who, x);
  }
  return out;
}

async function profileOf(key: string, id: string): Promise<string> {
  const r = await t.gql(ProfileByIdentifierDocument, { identifier: idInput(id) }, key);
  expect(r.errors).toBeUndefined();
  return r.data!.profileByIdentifier.id;
}

async function membershipOf(key: string, pid: string) {
  const r = await t.gql(ProfileMembershipDocument, { id: pid, first: 200 }, key);
  expect(r.errors).toBeUndefined();
  return r.data!.profile.membership;
}

/** What the API says of a person, in the shape of the recomputation. */
async function observed(key: string, pid: string): Promise<Expected> {
  const m = await membershipOf(key, pid);
  return {
    points: m.points,
    level: m.level?.key ?? null,
    since: m.since ? new Date(m.since).toISOString() : null,
    history: m.history.map((h) => ({ from: h.from, to: h.to, at: new Date(h.at).toISOString(), cause: h.cause, points: h.points })),
    ledger: m.ledger.length,
  };
}

const NOBODY: Expected = { points: 0, level: null, since: null, history: [], ledger: 0 };

async function expectAll(key: string, people: Map<string, string>, want: Map<string, Expected>, label: string) {
  for (const [who, pid] of people) {
    expect({ label, who, got: await observed(key, pid) }).toEqual({ label, who, got: want.get(who) ?? NOBODY });
  }
}

/** The rule tag `big_points` (points >= 300) and the segment `gold_members` (level == "gold") follow the balances and levels. */
async function expectRules(key: string, people: Map<string, string>, want: Map<string, Expected>, label: string) {
  for (const [who, pid] of people) {
    const r = await t.gql(ProfileTagsDocument, { id: pid }, key);
    expect(r.errors).toBeUndefined();
    const x = want.get(who) ?? NOBODY;
    const got = { gold: r.data!.profile.segments.some((s) => s.key === 'gold_members'), big: r.data!.profile.tags.some((g) => g.key === 'big_points') };
    expect({ label, who, got }).toEqual({ label, who, got: { gold: x.level === 'gold', big: x.points >= 300 } });
  }
}

const points = (who: string, ts: Date, delta: number, messageId = `m-${randomUUID()}`): EventInput =>
  makeEvent({ identifiers: [who], messageId, name: delta > 0 ? 'Points Earned' : 'Points Redeemed', timestamp: ts.toISOString(), properties: { points: Math.abs(delta), reason: 'test' } });

const T0 = Date.parse('2026-10-05T04:00:00Z');
const HOUR = 3_600_000;

describe('membership (积分-等级)', () => {
  it('balances, levels and level histories equal a recomputation from the events sent — batches, duplicates, a late event, a rules change, a rebuild, the LEVEL breakdown', async () => {
    const { workspaceId: ws, adminKey: key } = await t.newWorkspace();
    const ladder: Level[] = [
      { key: 'bronze', name: '铜', threshold: 0 },
      { key: 'silver', name: '银', threshold: 200 },
      { key: 'gold', name: '金', threshold: 500 },
    ];
    const set = await t.gql(UpdateMembershipRulesDocument, { input: { levels: ladder } }, key);
    expect(set.errors).toBeUndefined();
    expect(set.data!.updateMembershipRules.version).toBe(1);
    // Expression fields: kept at ingest (evaluated in memory) …
    expect((await t.gql(CreateTagDocument, { input: { key: 'big_points', name: '积分大户', kind: 'RULE', expression: 'points >= 300' } }, key)).errors).toBeUndefined();
    expect((await t.gql(CreateSegmentDocument, { input: { key: 'gold_members', name: '金卡', expression: 'level == "gold"' } }, key)).errors).toBeUndefined();

    const rand = rng(18);
    const who = Array.from({ length: 9 }, (_, i) => `member_id::P${i}-${randomUUID()}`);
    const sent: Sent[] = [];
    const all: EventInput[] = [];
    let hour = 0;
    const batches: EventInput[][] = [];
    for (let b = 0; b < 8; b++) {
      const batch: EventInput[] = [];
      for (let k = 0; k < 9; k++) {
        const w = who[Math.floor(rand() * who.length)];
        const delta = (rand() < 0.3 ? -1 : 1) * (10 + Math.floor(rand() * 140));
        const ts = new Date(T0 + hour++ * HOUR);
        const e = points(w, ts, delta);
        batch.push(e);
        sent.push({ who: w, messageId: e.messageId, ts, delta });
      }
      batches.push(batch);
    }
    // A late event (dated before everything its person has) arrives in the last batch.
    const late = points(who[0], new Date(T0 - 5 * HOUR), 333);
    batches[7].push(late);
    sent.push({ who: who[0], messageId: late.messageId, ts: new Date(T0 - 5 * HOUR), delta: 333 });
    // Someone active without any points event: no level, but counted in the total.
    batches[0].push(makeEvent({ identifiers: [who[8]], name: 'Product Viewed', timestamp: new Date(T0 + 2 * HOUR).toISOString() }));
    const noPoints = `member_id::N-${randomUUID()}`;
    batches[0].push(makeEvent({ identifiers: [noPoints], name: 'Product Viewed', timestamp: new Date(T0 + HOUR).toISOString() }));

    for (const [i, batch] of batches.entries()) {
      // Re-send some events of earlier batches: counted once.
      const again = i ? all.filter(() => rand() < 0.15).slice(0, 5) : [];
      await ingest(t, key, [...batch, ...again.map((e) => ({ ...e }))], { duplicates: again.length });
      all.push(...batch);
    }
    // Points that are not a positive number are rejected, naming the property; nothing changes.
    const bad = await t.gql(
      IngestDocument,
      { events: [makeEvent({ identifiers: [who[1]], name: 'Points Earned', properties: { points: -5 } }), makeEvent({ identifiers: [who[1]], name: 'Points Redeemed', properties: { points: 'many' } })] },
      key,
    );
    expect(bad.data!.ingestEvents.rejected).toBe(2);
    expect(bad.data!.ingestEvents.results.map((r) => [r.error?.reason, r.error?.field])).toEqual([
      ['INVALID_POINTS', 'properties.points'],
      ['INVALID_POINTS', 'properties.points'],
    ]);

    const people = new Map<string, string>();
    for (const w of [...who, noPoints]) people.set(w, await profileOf(key, w));
    const want = recompute(sent, ladder);
    // The generated data covers what it should: a negative balance (no level), every level, changes down as well as up.
    const finals = [...want.values()];
    expect(finals.some((x) => x.points < 0)).toBe(true);
    expect(new Set(finals.map((x) => x.level))).toEqual(new Set([null, 'bronze', 'silver', 'gold']));
    expect(finals.some((x) => x.history.some((h) => ladder.findIndex((l) => l.key === h.to) < ladder.findIndex((l) => l.key === h.from)))).toBe(true);
    await expectAll(key, people, want, 'after ingest');
    await expectRules(key, people, want, 'after ingest');
    // … and counted in SQL when a rule is created over existing people.
    const count = (f: (x: Expected) => boolean) => [...want.values()].filter(f).length;
    const upper = await t.gql(CreateSegmentDocument, { input: { key: 'upper', name: '银卡以上', expression: 'level in ("silver", "gold")' } }, key);
    expect(upper.data!.createSegment.size).toBe(count((x) => x.level === 'silver' || x.level === 'gold'));
    const debt = await t.gql(CreateTagDocument, { input: { key: 'in_debt', name: '透支', kind: 'RULE', expression: 'points < 0 or level == null' } }, key);
    expect(debt.data!.createTag.size).toBe(people.size - count((x) => x.points >= 0 && x.level !== null));
    const bare = await t.gql(CreateTagDocument, { input: { key: 'bad', name: 'bad', kind: 'RULE', expression: 'level > "gold"' } }, key);
    expect(bare.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(bare.errors![0].message).toMatch(/level can only be compared with == or !=/);

    // The LEVEL breakdown (and filter) counts people by their current level; the total counts everyone active.
    const range = { from: '2026-10-01', to: '2026-10-31' };
    const k = await t.gql(KpiDocument, { metric: 'ACTIVE_USERS', range, grain: 'MONTH', breakdown: 'LEVEL' }, key);
    expect(k.errors).toBeUndefined();
    const byLevel = Object.fromEntries(k.data!.kpi.breakdown.map((s) => [s.key, s.points.reduce((n, p) => n + (p.value ?? 0), 0)]));
    const counts: Record<string, number> = {};
    for (const x of finals) if (x.level) counts[x.level] = (counts[x.level] ?? 0) + 1;
    expect(byLevel).toEqual(counts);
    expect(k.data!.kpi.total.points.reduce((n, p) => n + (p.value ?? 0), 0)).toBe(people.size);
    const gold = await t.gql(KpiDocument, { metric: 'ACTIVE_USERS', range, grain: 'MONTH', filter: { level: 'gold' } }, key);
    expect(gold.errors).toBeUndefined();
    expect(gold.data!.kpi.total.points.reduce((n, p) => n + (p.value ?? 0), 0)).toBe(counts.gold);

    // A rules change re-derives every level and history under the new ladder.
    const ladder2: Level[] = [
      { key: 'silver', name: '银', threshold: 100 },
      { key: 'gold', name: '金', threshold: 400 },
    ];
    const set2 = await t.gql(UpdateMembershipRulesDocument, { input: { levels: ladder2 } }, key);
    expect(set2.errors).toBeUndefined();
    expect(set2.data!.updateMembershipRules.version).toBe(2);
    const want2 = recompute(sent, ladder2);
    await expectAll(key, people, want2, 'after a rules change');
    await expectRules(key, people, want2, 'after a rules change');
    const hist = await t.gql(MembershipRulesHistoryDocument, { first: 10 }, key);
    expect(hist.data!.membershipRulesHistory.map((r) => [r.version, r.levels.map((l) => l.threshold)])).toEqual([
      [2, [100, 400]],
      [1, [0, 200, 500]],
    ]);

    // A rebuild from the raw events gives the same state, from nothing.
    const db = t.app.db.dataSource;
    for (const table of ['points_ledger', 'profile_membership', 'level_changes']) await db.query(`DELETE FROM ${table} WHERE workspace_id = $1`, [ws]);
    await expectAll(key, people, new Map(), 'wiped');
    const r = await t.app.services.recompute.run(ws, { parts: ['membership'], restart: true });
    expect(r.parts.map((p) => [p.part, p.finished])).toEqual([['membership', true]]);
    await expectAll(key, people, want2, 'after a rebuild');
    await expectRules(key, people, want2, 'after a rebuild');
  });

  it('a merge moves the points to the survivor (balance = its ledger), an unmerge splits them back, erasure removes every row', async () => {
    const { workspaceId: ws, adminKey: key } = await t.newWorkspace();
    const a = `member_id::A-${randomUUID()}`;
    const b = `wechat_unionid:wx_open:${randomUUID()}`;
    const at = (h: number) => new Date(T0 + h * HOUR);
    const sent: Sent[] = [];
    const send = async (who: string, h: number, delta: number) => {
      const e = points(who, at(h), delta);
      sent.push({ who, messageId: e.messageId, ts: at(h), delta });
      await ingest(t, key, [e]);
    };
    await send(a, 0, 700);
    await send(b, 1, 500);
    await send(a, 2, -100);
    await send(b, 3, 400);
    const pa = await profileOf(key, a);
    const pb = await profileOf(key, b);
    const own = recompute(sent, DEFAULT_LADDER);
    expect(await observed(key, pa)).toEqual(own.get(a));
    expect(await observed(key, pb)).toEqual(own.get(b));
    expect(own.get(a)!.level).toBe('member');

    // One event carrying both identifiers merges them: one person with both ledgers, replayed in time order.
    await ingest(t, key, [makeEvent({ identifiers: [a, b], name: 'Product Viewed', timestamp: at(4).toISOString() })]);
    const survivor = await profileOf(key, a);
    expect(await profileOf(key, b)).toBe(survivor);
    const merged = recompute(
      sent.map((s) => ({ ...s, who: 'one' })),
      DEFAULT_LADDER,
    ).get('one')!;
    expect(merged.points).toBe(1500);
    expect(merged.level).toBe('silver');
    expect(await observed(key, survivor)).toEqual(merged);
    const [{ n }] = await t.app.db.dataSource.query(`SELECT count(*)::int AS n FROM profile_membership WHERE workspace_id = $1`, [ws]);
    expect(n).toBe(1);

    // Points after the merge land on the survivor's carried balance.
    await send(b, 5, 50);
    const merged2 = recompute(
      sent.map((s) => ({ ...s, who: 'one' })),
      DEFAULT_LADDER,
    ).get('one')!;
    expect(await observed(key, survivor)).toEqual(merged2);

    // Unmerge: each profile gets back the ledger of its own events.
    const mergeId = (await t.gql(ProfileDocument, { id: survivor }, key)).data!.profile.mergeHistory[0].id;
    const u = await t.gql(UnmergeDocument, { mergeId }, key);
    expect(u.errors).toBeUndefined();
    const restored = u.data!.unmergeProfiles.restored.id;
    const split = recompute(sent, DEFAULT_LADDER);
    const [sa, sb] = [await profileOf(key, a), await profileOf(key, b)];
    expect(sa).not.toBe(sb);
    expect(restored).toBe(survivor === sa ? sb : sa);
    expect(await observed(key, sa)).toEqual(split.get(a));
    expect(await observed(key, sb)).toEqual(split.get(b));

    // Erasure deletes the person's ledger, balance and level history.
    const erased = await t.gql(EraseProfileDocument, { id: sb }, key);
    expect(erased.errors).toBeUndefined();
    const deleted = Object.fromEntries(erased.data!.eraseProfile.deleted.map((d) => [d.table, d.rows]));
    expect(deleted).toMatchObject({ points_ledger: 3, profile_membership: 1, level_changes: split.get(b)!.history.length });
    for (const table of ['points_ledger', 'profile_membership', 'level_changes']) {
      const [{ n: left }] = await t.app.db.dataSource.query(`SELECT count(*)::int AS n FROM ${table} WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[])`, [ws, erased.data!.eraseProfile.profileIds]);
      expect({ table, left }).toEqual({ table, left: 0 });
    }
    // The other person keeps theirs.
    expect(await observed(key, sa)).toEqual(split.get(a));
  });

  it('refuses bad level rules with typed errors naming each field, changes nothing, and only for an admin', async () => {
    const { adminKey: key } = await t.newWorkspace();
    const before = await t.gql(MembershipRulesDocument, {}, key);
    expect(before.data!.membershipRules).toEqual({ version: 0, changedAt: null, changedBy: null, levels: DEFAULT_LADDER });

    const bad = await t.gql(
      UpdateMembershipRulesDocument,
      {
        input: {
          levels: [
            { key: 'Gold', name: 'G', threshold: 10 },
            { key: 'ok', name: '', threshold: 20 },
            { key: 'ok', name: 'again', threshold: 30 },
            { key: 'low', name: 'Low', threshold: 5 },
            { key: 'frac', name: 'Frac', threshold: 40.001 },
          ],
        },
      },
      key,
    );
    expect(bad.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'INVALID_LEVEL_RULES' });
    expect((bad.errors![0].extensions.fields as { field: string }[]).map((f) => f.field)).toEqual([
      'input.levels.0.key',
      'input.levels.1.name',
      'input.levels.2.key',
      'input.levels.3.threshold',
      'input.levels.4.threshold',
    ]);
    const tooMany = await t.gql(UpdateMembershipRulesDocument, { input: { levels: Array.from({ length: 21 }, (_, i) => ({ key: `l${i}`, name: `L${i}`, threshold: i })) } }, key);
    expect(tooMany.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'INVALID_LEVEL_RULES', fields: [{ field: 'input.levels' }] });

    const { data: rk } = await t.gql(CreateApiKeyDocument, { input: { role: 'READ', name: 'crm' } }, key);
    const denied = await t.gql(UpdateMembershipRulesDocument, { input: { levels: [] } }, rk!.createApiKey.key);
    expect(denied.errors![0].extensions.code).toBe('FORBIDDEN');

    const after = await t.gql(MembershipRulesDocument, {}, key);
    expect(after.data!.membershipRules).toEqual(before.data!.membershipRules);
    expect((await t.gql(MembershipRulesHistoryDocument, { first: 10 }, key)).data!.membershipRulesHistory).toEqual([]);
    const page = await t.gql(MembershipRulesHistoryDocument, { first: 0 }, key);
    expect(page.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'INVALID_PAGE' });
  });
});
