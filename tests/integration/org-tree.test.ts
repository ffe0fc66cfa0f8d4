import { bootAppPerFile } from '../support/app';
import { DAY, HOUR } from '../support/time';
import { makeEvent } from '../support/events';
import { rng } from '../../src/shared/random';
import { collect, wsClient } from '../support/ws';
import {
  AssignTouchpointsDocument,
  CreateAlertRuleDocument,
  DeleteOrgNodeDocument,
  FilteredFunnelDocument,
  IngestDocument,
  KpiDocument,
  OrgTouchpointsDocument,
  OrgTreeDocument,
  ProfileByIdentifierDocument,
  ProfileDocument,
  ProfileOwnerDocument,
  SaveOrgNodeDocument,
  SaveStaffMemberDocument,
  ScopedAlertsDocument,
  SetScopedTargetDocument,
  StaffMembersDocument,
  UnmergeDocument,
  KpiUpdatedFilteredDocument,
  type KpiUpdatedFilteredSubscription,
  type EventInput,
  type KpiBreakdown,
  type KpiFilterInput,
  type KpiGrain,
  type KpiMetric,
} from '../generated/graphql';

/**
 * The org tree and staff through the public API (#18 "Organisation and staff"): KPIs by org node
 * equal a recomputation from the raw events stored (touchpoints of each node's subtree), a
 * parent's counts equal the sum of its children's, staff numbers (current SERVED_BY owner) equal
 * a recomputation, funnels filter by node, the tree can be set up from event context and moved,
 * alert rules and targets are scoped to a node, and bad input is refused with typed errors.
 */
const t = bootAppPerFile();

const STAFF = ['wx_li', 'wx_wang', 'wx_zhao'];
/** Touchpoint → node as the admin sets it up (qr_sz comes from event context; group_x and '' stay unassigned). */
const ASSIGN: Record<string, string> = { qr_sh: 'store_sh', qr_sh2: 'store_sh', qr_hz: 'store_hz', live_east: 'east', qr_gz: 'store_gz' };
const TOUCHPOINTS = ['qr_sh', 'qr_sh2', 'qr_hz', 'live_east', 'qr_gz', 'group_x', null, 'qr_sz'];

interface Raw {
  p: string;
  t: number;
  m: string;
  ch: string;
  tp: string;
  name: string | null;
  rv: number;
  staff: string | null;
}

const day = (ms: number) => new Date(ms + 8 * HOUR).toISOString().slice(0, 10);

/** ~60 people over 8 days: views and orders at the touchpoints above, half on WeCom with a staff member, some first anonymous then merged. */
function dataset(seed: number, now: number): EventInput[] {
  const r = rng(seed);
  const out: EventInput[] = [];
  // First seen anonymously, then as members, then linked (a merge of two existing profiles).
  const early: EventInput[] = [];
  const links: EventInput[] = [];
  let n = 0;
  const used = new Set<number>();
  const at = (ts: number) => {
    let x = Math.min(ts, now - 60_000);
    while (used.has(x)) x -= 7;
    used.add(x);
    return x;
  };
  for (let i = 0; i < 60; i++) {
    const member = `member_id::O${seed}-${i}`;
    const anon = `anonymous_id::OA${seed}-${i}`;
    const merge = r.chance(0.3);
    const k = 2 + r.int(9);
    for (let j = 0; j < k; j++) {
      const ts = at(now - r.int(8 * 24) * HOUR - r.int(3600) * 1000);
      const ids = merge && j === 0 ? [anon] : merge && j === 1 ? [anon, member] : [member];
      const tp = r.pick(TOUCHPOINTS);
      const wecom = r.chance(0.45);
      const context: Record<string, unknown> = {};
      if (tp) context.touchpoint = tp;
      if (tp === 'qr_sz') context.orgNode = 'store_sz';
      if (wecom) context.staff = r.pick(STAFF);
      const order = r.chance(0.25);
      (merge && j === 0 ? early : merge && j === 1 ? links : out).push(
        makeEvent({
          messageId: `o${seed}-${n++}`,
          identifiers: ids,
          timestamp: new Date(ts).toISOString(),
          channel: wecom ? 'wecom' : 'app',
          name: order ? 'Order Completed' : 'Product Viewed',
          properties: order ? { revenue: Math.round((5 + r.next() * 300) * 100) / 100 } : undefined,
          context: Object.keys(context).length ? context : undefined,
        }),
      );
    }
  }
  // Orders today at the Shanghai store, for the scoped alert rule.
  const todayStart = Math.floor((now + 8 * HOUR) / DAY) * DAY - 8 * HOUR;
  for (let j = 0; j < 3; j++) {
    out.push(
      makeEvent({
        messageId: `o${seed}-today-${j}`,
        identifiers: [`member_id::O${seed}-${j}`],
        timestamp: new Date(at(Math.max(todayStart + 1000 + j, now - 30_000 - j))).toISOString(),
        channel: 'app',
        name: 'Order Completed',
        properties: { revenue: 10 + j },
        context: { touchpoint: 'qr_sh' },
      }),
    );
  }
  for (let i = out.length - 1; i > 0; i--) {
    const j = r.int(i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return [...early, ...out, ...links];
}

describe('org tree and staff', () => {
  let key: string;
  let ws: string;
  let raw: Raw[];
  let range: { from: string; to: string };
  let days: string[];
  const now = Date.now();
  /** node → parent, as the test sets the tree up (store_sz moves later). */
  const parent = new Map<string, string | null>([
    ['hq', null],
    ['east', 'hq'],
    ['south', 'hq'],
    ['store_sh', 'east'],
    ['store_hz', 'east'],
    ['store_gz', 'south'],
  ]);
  const assign = new Map<string, string>(Object.entries(ASSIGN));

  const gql = async <T, V extends Record<string, unknown>>(doc: Parameters<typeof t.gql<T, V>>[0], vars: V) => {
    const res = await t.gql(doc, vars, key);
    expect(res.errors).toBeUndefined();
    return res.data!;
  };

  const ancestors = (node: string): string[] => {
    const out = [node];
    for (let p = parent.get(node) ?? null; p !== null; p = parent.get(p) ?? null) out.push(p);
    return out;
  };
  /** The key a touchpoint counts under when `node`'s level is split (null: not under `node`). */
  const keyUnder = (tp: string, node: string | null): string | null => {
    const n = assign.get(tp);
    if (!n) return node === null ? '' : null;
    const up = ancestors(n);
    if (node === null) return up.at(-1)!;
    const at = up.indexOf(node);
    return at < 0 ? null : at === 0 ? node : up[at - 1];
  };

  /** The oracle of one metric over the events counted under each key, per local day. */
  const oracle = (metric: string, keyOf: (e: Raw) => string | null): Map<string, Map<string, number | null>> => {
    const first = new Map<string, Raw>();
    for (const e of raw) if (!first.has(e.p) || e.t < first.get(e.p)!.t) first.set(e.p, e);
    const out = new Map<string, Map<string, number | null>>();
    const cell = (k: string) => {
      if (!out.has(k)) out.set(k, new Map());
      return out.get(k)!;
    };
    const groups = new Map<string, Raw[]>();
    for (const e of raw) {
      const k = keyOf(e);
      if (k === null) continue;
      const g = `${k}|${day(e.t)}`;
      groups.set(g, [...(groups.get(g) ?? []), e]);
    }
    if (metric === 'NEW_PROFILES') {
      for (const f of first.values()) {
        const k = keyOf(f);
        if (k === null) continue;
        const m = cell(k);
        m.set(day(f.t), (m.get(day(f.t)) ?? 0) + 1);
      }
      return out;
    }
    for (const [g, es] of groups) {
      const [k, d] = g.split('|');
      const active = new Set(es.map((e) => e.p)).size;
      const orders = es.filter((e) => e.name === 'Order Completed');
      const buyers = new Set(orders.map((e) => e.p)).size;
      const v =
        metric === 'ORDERS' ? orders.length
        : metric === 'GMV' ? Math.round(orders.reduce((a, e) => a + e.rv, 0) * 100) / 100
        : metric === 'ACTIVE_USERS' ? active
        : metric === 'CONVERSION_RATE' ? (active ? buyers / active : null)
        : NaN;
      cell(k).set(d, v);
    }
    return out;
  };

  const owners = (): Map<string, string> => {
    const latest = new Map<string, Raw>();
    for (const e of raw) {
      if (!e.staff) continue;
      const cur = latest.get(e.p);
      if (!cur || e.t > cur.t || (e.t === cur.t && e.m > cur.m)) latest.set(e.p, e);
    }
    return new Map([...latest].map(([p, e]) => [p, e.staff!]));
  };

  const series = async (metric: string, breakdown: string, filter?: KpiFilterInput) => {
    const d = await gql(KpiDocument, { metric: metric as KpiMetric, range, grain: 'DAY' as KpiGrain, breakdown: breakdown === 'NONE' ? undefined : (breakdown as KpiBreakdown), filter });
    const split = new Map<string, Map<string, number | null>>();
    for (const s of d.kpi.breakdown ?? []) split.set(s.key ?? '', new Map(s.points.map((p) => [p.localStart.slice(0, 10), p.value])));
    const total = new Map(d.kpi.total.points.map((p) => [p.localStart.slice(0, 10), p.value]));
    return { split, total };
  };

  const close = (a: number | null | undefined, b: number | null | undefined) => (a == null || b == null ? (a ?? null) === (b ?? null) || ((a ?? 0) === 0 && (b ?? 0) === 0) : Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(b)));

  /** Every key and day of `got` equals `want` (absent = 0 / null), and no key is missing. */
  const same = (got: Map<string, Map<string, number | null>>, want: Map<string, Map<string, number | null>>, label: string) => {
    for (const k of new Set([...got.keys(), ...want.keys()])) {
      for (const d of days) {
        const g = got.get(k)?.get(d);
        const w = want.get(k)?.get(d);
        if (!close(g, w)) throw new Error(`${label}: key ${JSON.stringify(k)} on ${d}: got ${g}, want ${w}`);
      }
    }
  };

  const refreshRaw = async () => {
    const rows: { p: string; ts: Date; m: string; channel: string; name: string | null; properties: Record<string, unknown> | null; context: Record<string, unknown> | null }[] =
      await t.app.db.dataSource.manager.query(`SELECT profile_id AS p, ts, message_id AS m, channel, name, properties, context FROM events WHERE workspace_id = $1`, [ws]);
    raw = rows.map((r) => ({
      p: r.p,
      t: new Date(r.ts).getTime(),
      m: r.m,
      ch: r.channel,
      tp: typeof r.context?.touchpoint === 'string' ? (r.context.touchpoint as string) : '',
      name: r.name,
      rv: r.name === 'Order Completed' ? Number(r.properties?.revenue ?? 0) : 0,
      staff: r.channel === 'wecom' && typeof r.context?.staff === 'string' ? (r.context.staff as string) : null,
    }));
  };

  beforeAll(async () => {
    ({ workspaceId: ws, adminKey: key } = await t.newWorkspace('org-tree'));
    for (const [k, p] of parent) await gql(SaveOrgNodeDocument, { input: { key: k, name: `节点 ${k}`, parentKey: p } });
    for (const [tp, n] of assign) await gql(AssignTouchpointsDocument, { touchpoints: [tp], nodeKey: n });
    const events = dataset(20261205, now);
    for (let i = 0; i < events.length; i += 70) {
      const r = await gql(IngestDocument, { events: events.slice(i, i + 70) });
      expect(r.ingestEvents.rejected).toBe(0);
    }
    // Re-sent: duplicates change nothing.
    const again = await gql(IngestDocument, { events: events.slice(0, 40) });
    expect(again.ingestEvents.duplicates).toBe(40);
    await refreshRaw();
    const merges: { n: number }[] = await t.app.db.dataSource.manager.query(`SELECT count(*)::int AS n FROM identity_merges WHERE workspace_id = $1`, [ws]);
    expect(merges[0].n).toBeGreaterThan(5);
    // The node named in event context was created at the top, and its touchpoint assigned to it.
    parent.set('store_sz', null);
    assign.set('qr_sz', 'store_sz');
    const today = day(now);
    range = { from: day(now - 9 * DAY), to: today };
    days = Array.from({ length: 10 }, (_, i) => day(now - (9 - i) * DAY));
  });

  it('sets the tree up from the API and from event context', async () => {
    const tree = (await gql(OrgTreeDocument, {})).orgTree;
    expect(tree.map((n) => n.key)).toEqual(['hq', 'east', 'store_hz', 'store_sh', 'south', 'store_gz', 'store_sz']);
    expect(tree.find((n) => n.key === 'store_sh')).toMatchObject({ parentKey: 'east', path: ['hq', 'east', 'store_sh'], depth: 3, children: [] });
    expect(tree.find((n) => n.key === 'store_sz')).toMatchObject({ parentKey: null, name: 'store_sz', depth: 1 });
    const tps = (await gql(OrgTouchpointsDocument, { first: 100 })).orgTouchpoints;
    expect(Object.fromEntries(tps.map((x) => [x.touchpoint, x.nodeKey]))).toEqual({ '': null, group_x: null, live_east: 'east', qr_gz: 'store_gz', qr_hz: 'store_hz', qr_sh: 'store_sh', qr_sh2: 'store_sh', qr_sz: 'store_sz' });
    const unassigned = (await gql(OrgTouchpointsDocument, { unassignedOnly: true })).orgTouchpoints.map((x) => x.touchpoint);
    expect(unassigned).toEqual(['', 'group_x']);
  });

  it('breaks KPIs down by org node, one level at a time, equal to a recomputation from the raw events', async () => {
    for (const node of [null, 'hq', 'east', 'south']) {
      for (const metric of ['ORDERS', 'GMV', 'ACTIVE_USERS', 'NEW_PROFILES', 'CONVERSION_RATE']) {
        const got = await series(metric, 'ORG_NODE', node ? { orgNode: node } : undefined);
        same(got.split, oracle(metric, (e) => keyUnder(e.tp, node)), `${metric} under ${node ?? 'the top'}`);
      }
    }
    const top = await series('ORDERS', 'ORG_NODE');
    expect([...top.split.keys()].sort()).toEqual(['', 'hq', 'store_sz']);
    const east = await series('ORDERS', 'ORG_NODE', { orgNode: 'east' });
    expect([...east.split.keys()].sort()).toEqual(['east', 'store_hz', 'store_sh']);
  });

  it('a node equals the sum of its children for counts, and a recomputation (each person once) for people', async () => {
    let checked = 0;
    for (const node of ['hq', 'east', 'south']) {
      for (const metric of ['ORDERS', 'GMV', 'NEW_PROFILES', 'ACTIVE_USERS']) {
        const whole = await series(metric, 'NONE', { orgNode: node });
        const parts = await series(metric, 'ORG_NODE', { orgNode: node });
        const inSubtree = (e: Raw) => (keyUnder(e.tp, node) === null ? null : '');
        const want = oracle(metric, inSubtree).get('') ?? new Map();
        for (const d of days) {
          const sum = [...parts.split.values()].reduce((a, m) => a + (m.get(d) ?? 0), 0);
          expect(close(whole.total.get(d), want.get(d) ?? 0)).toBe(true);
          if (metric === 'ACTIVE_USERS') expect(whole.total.get(d) ?? 0).toBeLessThanOrEqual(sum);
          else expect(close(whole.total.get(d), sum)).toBe(true);
          if (sum > 0) checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(30);
    // The top level partitions the workspace: its keys add up to the unfiltered total.
    const all = await series('GMV', 'ORG_NODE');
    for (const d of days) expect(close(all.total.get(d), [...all.split.values()].reduce((a, m) => a + (m.get(d) ?? 0), 0))).toBe(true);
  });

  it('staff numbers (current owner) equal a recomputation, and Profile.owner names the latest WeCom staff', async () => {
    const own = owners();
    expect(new Set(own.values()).size).toBe(STAFF.length);
    for (const metric of ['ACTIVE_USERS', 'GMV', 'CONVERSION_RATE', 'ORDERS']) {
      const got = await series(metric, 'STAFF');
      same(got.split, oracle(metric, (e) => own.get(e.p) ?? null), `${metric} by staff`);
      const one = await series(metric, 'NONE', { staff: 'wx_li' });
      const want = oracle(metric, (e) => (own.get(e.p) === 'wx_li' ? '' : null)).get('') ?? new Map();
      for (const d of days) expect(close(one.total.get(d), want.get(d) ?? (metric === 'CONVERSION_RATE' ? null : 0))).toBe(true);
    }
    const staff = (await gql(StaffMembersDocument, {})).staffMembers;
    expect(staff.map((s) => [s.staffId, s.customers])).toEqual(STAFF.slice().sort().map((s) => [s, [...own.values()].filter((x) => x === s).length]));
    // A merged person's owner is the latest over both sides.
    const merged: { p: string }[] = await t.app.db.dataSource.manager.query(`SELECT DISTINCT survivor_id AS p FROM identity_merges WHERE workspace_id = $1`, [ws]);
    let seen = 0;
    for (const { p } of merged) {
      const o = (await gql(ProfileOwnerDocument, { id: p })).profile!.owner;
      expect(o?.staffId ?? null).toBe(own.get(p) ?? null);
      if (o) seen++;
    }
    expect(seen).toBeGreaterThan(0);
    // Staff belong to nodes; the declared name shows.
    const s = (await gql(SaveStaffMemberDocument, { input: { staffId: 'wx_li', name: '李店长', nodeKey: 'store_sh' } })).saveStaffMember;
    expect(s).toEqual({ staffId: 'wx_li', name: '李店长', nodeKey: 'store_sh', customers: [...own.values()].filter((x) => x === 'wx_li').length });
    expect((await gql(StaffMembersDocument, { nodeKey: 'store_sh' })).staffMembers.map((x) => x.staffId)).toEqual(['wx_li']);
  });

  it('a merge keeps the later owner; an unmerge gives each side the owner of its own events back', async () => {
    const base = now - 3 * HOUR;
    const wecom = (id: string, staff: string, ts: number, m: string) =>
      makeEvent({ messageId: m, identifiers: [id], channel: 'wecom', timestamp: new Date(ts).toISOString(), context: { staff } });
    // The later staff is on the member side, sent first; the earlier on the anonymous side, sent later (a late event).
    await gql(IngestDocument, { events: [wecom('member_id::own-m', 'wx_wang', base + 60_000, 'own-1')] });
    await gql(IngestDocument, { events: [wecom('anonymous_id::own-a', 'wx_zhao', base, 'own-2'), wecom('anonymous_id::own-a', 'wx_li', base - 60_000, 'own-3')] });
    const link = makeEvent({ messageId: 'own-4', identifiers: ['anonymous_id::own-a', 'member_id::own-m'], channel: 'app', timestamp: new Date(base + 120_000).toISOString() });
    await gql(IngestDocument, { events: [link] });
    const idOf = async (type: string, value: string) => (await gql(ProfileByIdentifierDocument, { identifier: { type, value } })).profileByIdentifier!.id;
    const survivor = await idOf('member_id', 'own-m');
    expect(await idOf('anonymous_id', 'own-a')).toBe(survivor);
    expect((await gql(ProfileOwnerDocument, { id: survivor })).profile!.owner).toMatchObject({ staffId: 'wx_wang', messageId: 'own-1' });
    const mergeId = (await gql(ProfileDocument, { id: survivor })).profile!.mergeHistory[0].id;
    await gql(UnmergeDocument, { mergeId });
    const [m, a] = [await idOf('member_id', 'own-m'), await idOf('anonymous_id', 'own-a')];
    expect(m).not.toBe(a);
    expect((await gql(ProfileOwnerDocument, { id: m })).profile!.owner).toMatchObject({ staffId: 'wx_wang', messageId: 'own-1' });
    expect((await gql(ProfileOwnerDocument, { id: a })).profile!.owner).toMatchObject({ staffId: 'wx_zhao', messageId: 'own-2' });
    await refreshRaw();
  });

  it('filters a funnel by org node and by staff', async () => {
    const within = 48;
    const run = (filter: KpiFilterInput) => gql(FilteredFunnelDocument, { steps: ['Product Viewed', 'Order Completed'], range, withinHours: within, filter });
    const s = Date.parse(`${range.from}T00:00:00+08:00`);
    const e = Date.parse(`${range.to}T00:00:00+08:00`) + DAY;
    const want = (keep: (x: Raw) => boolean) => {
      const byP = new Map<string, Raw[]>();
      for (const x of raw) if (keep(x)) byP.set(x.p, [...(byP.get(x.p) ?? []), x]);
      let a = 0;
      let b = 0;
      for (const xs of byP.values()) {
        const t0 = Math.min(...xs.filter((x) => x.name === 'Product Viewed' && x.t >= s && x.t < e).map((x) => x.t));
        if (!Number.isFinite(t0)) continue;
        a++;
        if (xs.some((x) => x.name === 'Order Completed' && x.t >= t0 && x.t <= t0 + within * HOUR)) b++;
      }
      return [a, b];
    };
    const east = (await run({ orgNode: 'east' })).funnel.map((x) => x.count);
    expect(east).toEqual(want((x) => keyUnder(x.tp, 'east') !== null));
    expect(east[0]).toBeGreaterThan(0);
    const own = owners();
    expect((await run({ staff: 'wx_wang' })).funnel.map((x) => x.count)).toEqual(want((x) => own.get(x.p) === 'wx_wang'));
  });

  it('scopes alert rules and targets to an org node, and lists a region\'s alerts', async () => {
    const rule = await gql(CreateAlertRuleDocument, {
      input: { name: '上海店今日订单', metric: 'ORDERS' as KpiMetric, kind: 'ABOVE', threshold: 0, level: 'NORMAL', evaluate: 'CURRENT_PERIOD', filter: { orgNode: 'store_sh' } },
    });
    const todayOrders = raw.filter((e) => e.name === 'Order Completed' && day(e.t) === day(now) && assign.get(e.tp) === 'store_sh').length;
    expect(todayOrders).toBeGreaterThanOrEqual(3);
    await t.app.services.kpis.alerts.idle();
    const east = (await gql(ScopedAlertsDocument, { orgNode: 'east' })).alerts;
    expect(east).toHaveLength(1);
    expect(east[0]).toMatchObject({ ruleId: rule.createAlertRule.id, orgNode: 'store_sh', value: todayOrders });
    expect((await gql(ScopedAlertsDocument, { orgNode: 'south' })).alerts).toHaveLength(0);
    expect((await gql(ScopedAlertsDocument, {})).alerts.length).toBeGreaterThanOrEqual(1);
    const target = await gql(SetScopedTargetDocument, { metric: 'GMV' as KpiMetric, value: 1000, period: range, filter: { orgNode: 'south' } });
    expect(target.setTarget.filter).toMatchObject({ orgNode: 'south' });
    // A node something is scoped to cannot be deleted; an unknown node cannot be scoped to.
    const inUse = await t.gql(DeleteOrgNodeDocument, { key: 'store_sh' }, key);
    expect(inUse.errors?.[0].extensions).toMatchObject({ code: 'CONFLICT', reason: 'ORG_NODE_IN_USE' });
    const unknown = await t.gql(CreateAlertRuleDocument, { input: { name: 'x', metric: 'ORDERS' as KpiMetric, kind: 'ABOVE', threshold: 1, filter: { orgNode: 'nowhere' } } }, key);
    expect(unknown.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'INVALID_KPI_FILTER', fields: [{ field: 'input.filter.orgNode' }] });
  });

  it('reads the tree as it is: a reassigned touchpoint and a moved node take their history with them, live too', async () => {
    const ws = wsClient(t.url, key);
    await ws.connected;
    const sub = collect<KpiUpdatedFilteredSubscription>(ws.client, KpiUpdatedFilteredDocument, { metrics: ['ORDERS'], grain: 'DAY', periods: 10, breakdown: 'ORG_NODE', filter: { orgNode: 'east' } });
    const [first] = await sub.next(1, 20_000);
    const keysOf = (r: (typeof sub.results)[number]) => r.data!.kpiUpdated.results[0].breakdown!.map((x) => x.key).sort();
    expect(keysOf(first)).toEqual(['east', 'store_hz', 'store_sh']);
    await gql(AssignTouchpointsDocument, { touchpoints: ['qr_hz'], nodeKey: 'store_sh' });
    assign.set('qr_hz', 'store_sh');
    // The live answer follows the tree without any new event: store_hz has no touchpoint left, its orders are store_sh's.
    const [, second] = await sub.next(2, 20_000);
    expect(keysOf(second)).toEqual(['east', 'store_sh']);
    const want = oracle('ORDERS', (e) => keyUnder(e.tp, 'east')).get('store_sh')!;
    for (const p of second.data!.kpiUpdated.results[0].breakdown!.find((x) => x.key === 'store_sh')!.points) expect(p.value ?? 0).toBe(want.get(p.localStart.slice(0, 10)) ?? 0);
    sub.unsubscribe();
    await ws.dispose();
    await gql(SaveOrgNodeDocument, { input: { key: 'store_sz', name: '深圳店', parentKey: 'south' } });
    parent.set('store_sz', 'south');
    for (const node of [null, 'east', 'south']) {
      const got = await series('ORDERS', 'ORG_NODE', node ? { orgNode: node } : undefined);
      same(got.split, oracle('ORDERS', (e) => keyUnder(e.tp, node)), `ORDERS under ${node ?? 'the top'} after the move`);
    }
    const east = await series('GMV', 'ORG_NODE', { orgNode: 'east' });
    expect(east.split.has('store_hz')).toBe(false);
    const south = await series('ORDERS', 'ORG_NODE', { orgNode: 'south' });
    expect([...south.split.keys()].sort()).toEqual(['store_gz', 'store_sz']);
  });

  it('refuses bad input with typed errors and changes nothing', async () => {
    const before = (await gql(OrgTreeDocument, {})).orgTree;
    const cases: [Record<string, unknown>, string, string][] = [
      [{ key: 'hq', name: 'HQ', parentKey: 'store_sh' }, 'INVALID_ORG_NODE', 'input.parentKey'],
      [{ key: 'east', name: 'E', parentKey: 'east' }, 'INVALID_ORG_NODE', 'input.parentKey'],
      [{ key: 'x', name: 'X', parentKey: 'nowhere' }, 'INVALID_ORG_NODE', 'input.parentKey'],
      [{ key: 'bad key!', name: 'X' }, 'INVALID_ORG_NODE', 'input.key'],
      [{ key: 'ok', name: '   ' }, 'INVALID_ORG_NODE', 'input.name'],
    ];
    for (const [input, reason, field] of cases) {
      const r = await t.gql(SaveOrgNodeDocument, { input: input as never }, key);
      expect(r.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason, fields: [{ field }] });
    }
    const children = await t.gql(DeleteOrgNodeDocument, { key: 'east' }, key);
    expect(children.errors?.[0].extensions).toMatchObject({ code: 'CONFLICT', reason: 'ORG_NODE_HAS_CHILDREN' });
    const tps = await t.gql(AssignTouchpointsDocument, { touchpoints: ['ok', ''], nodeKey: 'east' }, key);
    expect(tps.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'INVALID_TOUCHPOINT', fields: [{ field: 'touchpoints.1' }] });
    const filter = await t.gql(KpiDocument, { metric: 'ORDERS' as KpiMetric, range, grain: 'DAY' as KpiGrain, filter: { orgNode: 'nowhere' } }, key);
    expect(filter.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'INVALID_KPI_FILTER', fields: [{ field: 'filter.orgNode' }] });
    expect((await gql(OrgTreeDocument, {})).orgTree).toEqual(before);
    expect((await gql(OrgTouchpointsDocument, { nodeKey: 'east' })).orgTouchpoints.map((x) => x.touchpoint)).toEqual(['live_east']);
    // One event with a bad context.orgNode is rejected with its field; the rest of the batch lands.
    const r = await gql(IngestDocument, {
      events: [
        makeEvent({ identifiers: ['member_id::org-bad'], channel: 'app', context: { touchpoint: 'qr_new', orgNode: 'no spaces allowed' } }),
        makeEvent({ identifiers: ['member_id::org-ok'], channel: 'app', timestamp: new Date(now - HOUR).toISOString(), context: { touchpoint: 'qr_new2', orgNode: 'store_gz' } }),
      ],
    });
    expect(r.ingestEvents.accepted).toBe(1);
    expect(r.ingestEvents.results[0].error).toMatchObject({ reason: 'INVALID_ORG_NODE', field: 'context.orgNode' });
    const gz = (await gql(OrgTouchpointsDocument, { nodeKey: 'store_gz' })).orgTouchpoints.map((x) => x.touchpoint);
    expect(gz).toEqual(['qr_gz', 'qr_new2']);
    await t.app.services.kpis.alerts.idle();
  });
});
