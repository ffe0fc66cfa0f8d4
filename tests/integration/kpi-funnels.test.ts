import { bootAppPerFile } from '../support/app';
import { DAY, HOUR } from '../support/time';
import { makeEvent } from '../support/events';
import { ingest } from '../support/api';
import { rng } from '../../src/shared/random';
import {
  DeleteSavedFunnelDocument,
  FilteredFunnelDocument,
  RunSweepDocument,
  SaveFunnelDocument,
  SavedFunnelsDocument,
  UnmergeDocument,
  UpdateWorkspaceDocument,
  type EventInput,
} from '../generated/graphql';

/**
 * Saved funnels kept at ingest answer `funnel` exactly as the events would: for many ranges, the
 * saved answer equals the events path of the same query (forced by a filter on every channel) and a
 * recomputation from the raw events written here from the documented rule. The data: a DST zone
 * (America/New_York, whose 2026-11-01 has 25 hours), events arriving out of order in random batches,
 * people seen on a device and as a member who merge, an unmerge; one funnel saved before the
 * history (kept by ingest), one after it (backfilled by the sweep).
 */

const t = bootAppPerFile();

const TZ = 'America/New_York';
const CHANNELS = ['wechat_mp', 'wecom', 'douyin', 'app'];
const NAMES = ['Product Viewed', 'Product Added', 'Order Completed', 'Coupon Claimed', 'Page Viewed'];
const BROWSE = { name: 'browse to buy', steps: ['Product Viewed', 'Product Added', 'Order Completed'], withinHours: 48 };
/** Saved after the history: a repeated step name (the same event may count for both) and a window of days. */
const REPEAT = { name: 'buy again', steps: ['Order Completed', 'Product Viewed', 'Order Completed'], withinHours: 24 * 9 };

const localDay = (ms: number) => new Intl.DateTimeFormat('en-CA', { timeZone: TZ, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date(ms));
const addDays = (d: string, n: number) => new Date(Date.parse(`${d}T00:00:00Z`) + n * DAY).toISOString().slice(0, 10);

/** The rule, from raw events: step 1 in [from, to] (local days), t0 its first; each next step's first event at or after the previous one and within the window of t0. */
function recompute(events: { p: string; name: string; ts: number }[], steps: string[], withinHours: number, from: string, to: string): number[] {
  const byPerson = new Map<string, { name: string; ts: number }[]>();
  for (const e of events) byPerson.set(e.p, [...(byPerson.get(e.p) ?? []), e]);
  const counts = steps.map(() => 0);
  for (const evs of byPerson.values()) {
    const first = evs.filter((e) => e.name === steps[0] && localDay(e.ts) >= from && localDay(e.ts) <= to).sort((a, b) => a.ts - b.ts)[0];
    if (!first) continue;
    counts[0]++;
    let t = first.ts;
    for (let k = 1; k < steps.length; k++) {
      const next = evs.filter((e) => e.name === steps[k] && e.ts >= t && e.ts <= first.ts + withinHours * HOUR).sort((a, b) => a.ts - b.ts)[0];
      if (!next) break;
      counts[k]++;
      t = next.ts;
    }
  }
  return counts;
}

function history(now: number): EventInput[] {
  const r = rng(41);
  const out: EventInput[] = [];
  for (let i = 0; i < 1800; i++) {
    const person = Math.floor(90 * r.next() ** 1.4);
    // A third of the people: on a device and as a member, one event carrying both in the middle of their history.
    const sided = person % 3 === 0;
    const ts = now - 40 * DAY + r.int(40 * 24 * 60 - 90) * 60_000 + r.int(60_000);
    const identifiers = !sided
      ? [`member_id::FN-${person}`]
      : ts > now - 20 * DAY && r.chance(0.3)
        ? [`anonymous_id::FD-${person}`, `member_id::FN-${person}`]
        : [r.chance(0.5) ? `anonymous_id::FD-${person}` : `member_id::FN-${person}`];
    const name = NAMES[Math.min(NAMES.length - 1, Math.floor(r.next() ** 1.3 * NAMES.length))];
    out.push(makeEvent({ identifiers, name, timestamp: new Date(ts).toISOString(), channel: r.pick(CHANNELS), properties: name === 'Order Completed' ? { revenue: 10 + r.int(90) } : {} }));
  }
  // Out of order: shuffled, then sent in random batches.
  for (let i = out.length - 1; i > 0; i--) {
    const j = r.int(i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

describe('saved funnels', () => {
  let ws: string;
  let key: string;
  const now = Date.now();

  beforeAll(async () => {
    ({ workspaceId: ws, adminKey: key } = await t.newWorkspace('saved funnels'));
    expect((await t.gql(UpdateWorkspaceDocument, { input: { timeZone: TZ } }, key)).errors).toBeUndefined();
  });

  const rawEvents = async () =>
    ((await t.app.db.dataSource.query(`SELECT profile_id AS p, name, ts FROM events WHERE workspace_id = $1 AND name IS NOT NULL`, [ws])) as { p: string; name: string; ts: Date }[]).map((e) => ({
      p: e.p,
      name: e.name,
      ts: new Date(e.ts).getTime(),
    }));

  /** Ranges over the history (1–40 days, two across the DST change), each through the saved path, the events path and the recomputation. */
  async function compare(f: { steps: string[]; withinHours: number }): Promise<{ mismatches: string[]; nonZero: number }> {
    const raw = await rawEvents();
    const today = localDay(now);
    const r = rng(7);
    const ranges = [
      { from: addDays(today, -40), to: today },
      { from: '2026-10-30', to: '2026-11-02' },
      { from: '2026-11-01', to: '2026-11-01' },
      ...Array.from({ length: 14 }, () => {
        const from = addDays(today, -r.int(40));
        return { from, to: addDays(from, r.int(12)) };
      }),
    ];
    const mismatches: string[] = [];
    let nonZero = 0;
    for (const range of ranges) {
      const vars = { steps: f.steps, range, withinHours: f.withinHours };
      const saved = await t.gql(FilteredFunnelDocument, vars, key);
      const events = await t.gql(FilteredFunnelDocument, { ...vars, filter: { channels: CHANNELS } }, key);
      expect(saved.errors).toBeUndefined();
      expect(events.errors).toBeUndefined();
      const got = saved.data!.funnel.map((s) => s.count);
      const viaEvents = events.data!.funnel.map((s) => s.count);
      const want = recompute(raw, f.steps, f.withinHours, range.from, range.to);
      if (JSON.stringify(got) !== JSON.stringify(want) || JSON.stringify(viaEvents) !== JSON.stringify(want)) {
        mismatches.push(`${range.from}..${range.to}: saved ${JSON.stringify(got)}, events ${JSON.stringify(viaEvents)}, raw ${JSON.stringify(want)}`);
      }
      if (want[want.length - 1] > 0) nonZero++;
    }
    return { mismatches, nonZero };
  }

  it('a funnel saved before the history is kept by ingest through late events, merges and an unmerge', async () => {
    const made = await t.gql(SaveFunnelDocument, { input: BROWSE }, key);
    expect(made.errors).toBeUndefined();
    expect(made.data!.saveFunnel.ready).toBe(true);
    const events = history(now);
    const r = rng(3);
    for (let i = 0; i < events.length; ) {
      const n = 1 + r.int(150);
      await ingest(t, key, events.slice(i, i + n));
      i += n;
    }
    const [{ n: merges }] = await t.app.db.dataSource.query(`SELECT count(*)::int AS n FROM identity_merges WHERE workspace_id = $1`, [ws]);
    expect(merges).toBeGreaterThan(5);
    const before = await compare(BROWSE);
    expect(before.mismatches).toEqual([]);
    expect(before.nonZero).toBeGreaterThan(8);
    // An unmerge gives the split-off person their events back: both are re-derived.
    const [m]: { id: string }[] = await t.app.db.dataSource.query(`SELECT id FROM identity_merges WHERE workspace_id = $1 AND undone_at IS NULL ORDER BY created_at LIMIT 1`, [ws]);
    expect((await t.gql(UnmergeDocument, { mergeId: m.id }, key)).errors).toBeUndefined();
    expect((await compare(BROWSE)).mismatches).toEqual([]);
  });

  it('a funnel saved on a workspace with history is backfilled by the sweep, then answers the same', async () => {
    const made = await t.gql(SaveFunnelDocument, { input: REPEAT }, key);
    expect(made.errors).toBeUndefined();
    expect(made.data!.saveFunnel.ready).toBe(false);
    // Not ready: `funnel` reads the events (and is right).
    expect((await compare(REPEAT)).mismatches).toEqual([]);
    // Late events while it is being backfilled, then the sweep until it is ready.
    await ingest(t, key, [makeEvent({ identifiers: ['member_id::FN-1'], name: 'Order Completed', timestamp: new Date(now - 12 * DAY).toISOString(), channel: 'app', properties: { revenue: 5 } })]);
    let rounds = 0;
    for (; rounds < 50; rounds++) {
      expect((await t.gql(RunSweepDocument, { maxProfiles: 10 }, key)).errors).toBeUndefined();
      const list = await t.gql(SavedFunnelsDocument, {}, key);
      if (list.data!.savedFunnels.find((f) => f.id === made.data!.saveFunnel.id)!.ready) break;
    }
    // More than one bounded step: the backfill is resumable, ten people at a time here.
    expect(rounds).toBeGreaterThan(2);
    expect(rounds).toBeLessThan(50);
    const after = await compare(REPEAT);
    expect(after.mismatches).toEqual([]);
    expect(after.nonZero).toBeGreaterThan(3);
    // Its counts are what answered: they hold rows.
    const [{ n }] = await t.app.db.dataSource.query(`SELECT count(*)::int AS n FROM kpi_funnel_counts WHERE workspace_id = $1 AND funnel_id = $2 AND people <> 0`, [ws, made.data!.saveFunnel.id]);
    expect(n).toBeGreaterThan(10);
    expect((await compare(BROWSE)).mismatches).toEqual([]);
  });

  it('bad definitions are refused with the field named; deleting an unknown funnel says so', async () => {
    const dup = await t.gql(SaveFunnelDocument, { input: BROWSE }, key);
    expect(dup.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'INVALID_KPI_ARGUMENT', fields: [{ field: 'input.steps' }] });
    const one = await t.gql(SaveFunnelDocument, { input: { name: 'x', steps: ['Order Completed'], withinHours: 24 } }, key);
    expect(one.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'INVALID_KPI_ARGUMENT', fields: [{ field: 'input.steps' }] });
    const win = await t.gql(SaveFunnelDocument, { input: { name: 'x', steps: ['A', 'B'], withinHours: 0 } }, key);
    expect(win.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'INVALID_KPI_ARGUMENT', fields: [{ field: 'input.withinHours' }] });
    const noName = await t.gql(SaveFunnelDocument, { input: { name: ' ', steps: ['A', 'B'], withinHours: 1 } }, key);
    expect(noName.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'INVALID_KPI_ARGUMENT', fields: [{ field: 'input.name' }] });
    const gone = await t.gql(DeleteSavedFunnelDocument, { id: '00000000-0000-4000-8000-000000000000' }, key);
    expect(gone.errors?.[0].extensions).toMatchObject({ reason: 'FUNNEL_NOT_FOUND' });
    const list = (await t.gql(SavedFunnelsDocument, {}, key)).data!.savedFunnels;
    expect(list.map((f) => f.name)).toEqual([BROWSE.name, REPEAT.name]);
    // Deleting one: its steps are answered from the events again, still right.
    expect((await t.gql(DeleteSavedFunnelDocument, { id: list[0].id }, key)).data?.deleteSavedFunnel).toBe(true);
    expect((await compare(BROWSE)).mismatches).toEqual([]);
    const [{ n }] = await t.app.db.dataSource.query(`SELECT count(*)::int AS n FROM kpi_funnel_days WHERE workspace_id = $1 AND funnel_id = $2`, [ws, list[0].id]);
    expect(n).toBe(0);
  });
});
