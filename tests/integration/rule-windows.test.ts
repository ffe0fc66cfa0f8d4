import { PostgresQueryRunner } from 'typeorm/driver/postgres/PostgresQueryRunner';
import { bootAppPerFile } from '../support/app';
import { makeEvent } from '../support/events';
import { DAY, HOUR } from '../support/time';
import { rng } from '../../src/shared/random';
import { compileToSql, parseExpression } from '../../src/modules/tags/expression';
import { RuleWindowStore } from '../../src/modules/tags/rule-windows';
import { IngestDocument, RunSweepDocument, CreateSegmentDocument, CreateTagDocument, EraseProfileDocument, ProfileByIdentifierDocument, ProfileDocument, UnmergeDocument, type EventInput } from '../generated/graphql';

/**
 * State carried forward from each batch never drifts from the truth. Tag and segment rules read
 * windowed aggregates from per-person day buckets kept at ingest; lifecycle stages read only each
 * batch's new events. After a long random stream — with merges, an unmerge, an erasure, and a rule
 * added halfway (backfilled while ingest goes on) — the buckets equal a rebuild from raw events,
 * every rule tag and segment holds exactly the people the rule's SQL selects from raw events, and
 * every stage and stage history equals a derivation from scratch.
 */

const t = bootAppPerFile();

const RULE_TAGS = [
  { key: 'rw_viewer_7d', expression: 'count(event = "Product Viewed", within = "7d") >= 2' },
  { key: 'rw_buyer_30d', expression: 'orders_30d >= 1 and spend_30d > 100' },
  { key: 'rw_qty_36h', expression: 'sum(property = "quantity", within = "36h") >= 3' },
  { key: 'rw_all_views', expression: 'count(event = "Product Viewed") >= 5' },
];
const LATE_SEGMENT = { key: 'rw_price_10d', expression: 'sum(property = "price", event = "Product Viewed", within = "10d") > 150 and events_14d >= 3' };
/** Every window the rules above use, in hours: no event is generated near one of their edges. */
const WINDOWS_H = [7 * 24, 30 * 24, 36, 10 * 24, 14 * 24, ...[1, 3, 7, 14, 30, 60, 90].map((d) => d * 24)];

/** A timestamp `back` ms before `now`, moved away from every window edge by at least 40 minutes. */
function safeTs(now: number, back: number): number {
  let ts = now - back;
  for (let guard = 0; guard < 20; guard++) {
    const near = WINDOWS_H.find((h) => Math.abs(now - h * HOUR - ts) < 40 * 60_000);
    if (near === undefined) break;
    ts -= 90 * 60_000;
  }
  return ts;
}

function stream(seed: number, now: number, people: number, events: number): EventInput[] {
  const r = rng(seed);
  const out: EventInput[] = [];
  const seen = new Map<number, number>();
  for (let k = 0; k < events; k++) {
    // Skewed activity: a few heavy people, many with a handful of events.
    const i = Math.floor(people * r.next() ** 2);
    const member = `member_id::RW${seed}-${i}`;
    const anon = `anonymous_id::RWA${seed}-${i}`;
    // A third of the people are seen anonymously, then as a member, then as both (a merge).
    const c = seen.get(i) ?? 0;
    seen.set(i, c + 1);
    const ids = i % 3 !== 0 ? [member] : c === 0 ? [anon] : c === 1 ? [member] : r.chance(0.5) ? [anon, member] : [member];
    const ts = safeTs(now, r.chance(0.3) ? r.int(2 * DAY) : r.int(40 * DAY));
    const roll = r.next();
    const name = roll < 0.2 ? 'Order Completed' : roll < 0.65 ? 'Product Viewed' : roll < 0.8 ? 'Cart Updated' : 'Page Viewed';
    const properties =
      name === 'Order Completed'
        ? r.chance(0.3) ? { total: 20 + r.int(200) } : { revenue: (5 + r.int(30000) / 100).toFixed(2) }
        : name === 'Product Viewed'
          ? { price: r.int(100), quantity: r.pick<unknown>([1, 2, '3', 'x']) }
          : name === 'Cart Updated'
            ? { quantity: r.int(4) }
            : { path: '/' };
    out.push(makeEvent({ messageId: `rw${seed}-${k}`, identifiers: ids, name, properties, channel: r.pick(['app', 'wecom', 'wechat_mp']), timestamp: new Date(ts).toISOString() }));
  }
  return out;
}

async function inBatches(key: string, events: EventInput[], size: number): Promise<void> {
  for (let i = 0; i < events.length; i += size) {
    const r = await t.gql(IngestDocument, { events: events.slice(i, i + size) }, key);
    const bad = r.data?.ingestEvents.results.filter((x) => x.error).map((x) => JSON.stringify(x.error));
    expect({ errors: r.errors, bad }).toEqual({ errors: undefined, bad: [] });
  }
}

/** Every statement the app sends while `fn` runs, with its parameters. */
async function statements<T>(fn: () => Promise<T>): Promise<string[]> {
  const proto = PostgresQueryRunner.prototype;
  const original = proto.query;
  const seen: string[] = [];
  proto.query = function (this: PostgresQueryRunner, query: string, parameters?: unknown[], structured?: boolean) {
    seen.push(query.replace(/\s+/g, ' '));
    return original.call(this, query, parameters, structured);
  } as typeof original;
  try {
    await fn();
  } finally {
    proto.query = original;
  }
  return seen;
}

const READS_WHOLE_WINDOW = /FROM events WHERE workspace_id = \$1 AND profile_id = ANY\(\$2::uuid\[\]\) AND \(\$3::timestamptz IS NULL OR ts >= \$3\)/;

describe('rule windows and stages carried forward from each batch', () => {
  it('after a long random stream with merges, an unmerge, an erasure and a rule added halfway, buckets, memberships and stages equal a recomputation from raw events', async () => {
    const { workspaceId: ws, adminKey: key } = await t.newWorkspace();
    const ds = t.app.db.dataSource;
    for (const r of RULE_TAGS) {
      const res = await t.gql(CreateTagDocument, { input: { key: r.key, name: r.key, kind: 'RULE', expression: r.expression } }, key);
      expect(res.errors).toBeUndefined();
    }
    const now = Date.now();
    const events = stream(7, now, 150, 1400);

    // First half; the batches register the rules' measures and build them (an empty workspace: at once).
    await inBatches(key, events.slice(0, 500), 25);
    const store = new RuleWindowStore();
    expect((await store.states(ds.manager, ws)).every((m) => m.ready)).toBe(true);

    // Once every measure is ready, a batch reads no person's events beyond the windows' edge days.
    const ready = await statements(() => inBatches(key, events.slice(500, 600), 25));
    expect(ready.filter((q) => READS_WHOLE_WINDOW.test(q))).toEqual([]);
    expect(ready.some((q) => /INSERT INTO rule_window_days/.test(q))).toBe(true);

    // A rule with a new measure: its buckets are backfilled from events, a chunk per batch, while ingest goes on.
    const seg = await t.gql(CreateSegmentDocument, { input: { key: LATE_SEGMENT.key, name: LATE_SEGMENT.key, expression: LATE_SEGMENT.expression } }, key);
    expect(seg.errors).toBeUndefined();
    // The sweep backfills it 10 people at a time, with progress; the batches in between keep it current.
    const LATE = '["sum","Product Viewed","price"]';
    const people = Number((await ds.query(`SELECT count(*) AS n FROM profiles WHERE workspace_id = $1 AND merged_into IS NULL`, [ws]))[0].n);
    const progress: number[] = [];
    for (let step = 0; step < 3; step++) {
      const s = await t.gql(RunSweepDocument, { maxProfiles: 10 }, key);
      expect(s.errors).toBeUndefined();
      const w = s.data!.runSweep.ruleWindows.find((x) => x.measure === LATE)!;
      expect(w).toMatchObject({ keepDays: 11, allTime: false, ready: false, profilesTotal: people });
      progress.push(w.profilesDone);
    }
    expect(progress).toEqual([10, 20, 30]);
    // A batch takes the next chunk of the backfill (up to 1,000 people: here the rest), so it finishes while ingest goes on.
    await inBatches(key, events.slice(600, 625), 25);
    expect((await store.states(ds.manager, ws)).find((m) => m.key === LATE)).toMatchObject({ ready: true });
    await inBatches(key, events.slice(625, 1000), 25);
    const states = await store.states(ds.manager, ws);
    expect(states.map((m) => m.key)).toContain('["sum","Product Viewed","price"]');
    expect(states.every((m) => m.ready)).toBe(true);

    // Unmerge one merge and erase one person, then the rest of the stream.
    const merged = (await t.gql(ProfileByIdentifierDocument, { identifier: { type: 'member_id', value: 'RW7-0' } }, key)).data?.profileByIdentifier;
    expect(merged).toBeTruthy();
    const history = (await t.gql(ProfileDocument, { id: merged!.id }, key)).data!.profile.mergeHistory;
    expect(history.length).toBeGreaterThan(0);
    const un = await t.gql(UnmergeDocument, { mergeId: history[0].id }, key);
    expect(un.errors).toBeUndefined();
    const victim = (await t.gql(ProfileByIdentifierDocument, { identifier: { type: 'member_id', value: 'RW7-1' } }, key)).data!.profileByIdentifier!;
    const erased = await t.gql(EraseProfileDocument, { id: victim.id }, key);
    expect(erased.errors).toBeUndefined();
    expect(erased.data!.eraseProfile.deleted.map((d) => d.table)).toContain('rule_window_days');
    await inBatches(
      key,
      events.slice(1000).filter((e) => !e.identifiers.some((i) => i.value === 'RW7-1')),
      40,
    );

    // 1. The buckets equal a rebuild from raw events.
    const snapshot = async () =>
      (
        (await ds.query(`SELECT profile_id, measure, day, n, total::text AS total FROM rule_window_days WHERE workspace_id = $1 ORDER BY 1, 2, 3`, [ws])) as {
          profile_id: string;
          measure: string;
          day: number;
          n: number;
          total: string;
        }[]
      ).map((r) => `${r.profile_id} ${r.measure} ${r.day} ${r.n} ${Number(r.total).toFixed(2)}`);
    const kept = await snapshot();
    const live: string[] = (await ds.query(`SELECT id FROM profiles WHERE workspace_id = $1 AND merged_into IS NULL`, [ws])).map((r: { id: string }) => r.id);
    expect(live).not.toContain(victim.id);
    await ds.transaction(async (em) => {
      await em.query(`DELETE FROM rule_window_days WHERE workspace_id = $1`, [ws]);
      await store.rebuild(em, ws, live, await store.states(em, ws), new Date());
    });
    const rebuilt = await snapshot();
    expect(kept.length).toBeGreaterThan(200);
    expect(kept).toEqual(rebuilt);

    // 2. Every rule tag and segment holds exactly the people its SQL selects from raw events.
    const segments: { id: string; key: string; expression: string }[] = await ds.query(`SELECT id, key, expression FROM segments WHERE workspace_id = $1`, [ws]);
    const rules = [
      ...RULE_TAGS.map((r) => ({ label: `tag ${r.key}`, expression: r.expression, members: `SELECT profile_id FROM profile_tags WHERE workspace_id = $1 AND tag_key = '${r.key}'` })),
      ...segments.map((s) => ({ label: `segment ${s.key}`, expression: s.expression, members: `SELECT profile_id FROM segment_members WHERE workspace_id = $1 AND segment_id = '${s.id}'` })),
    ];
    expect(rules.map((r) => r.label)).toContain(`segment ${LATE_SEGMENT.key}`);
    const wrong: string[] = [];
    let nonEmpty = 0;
    for (const rule of rules) {
      const params: unknown[] = [ws, new Date()];
      const condition = compileToSql(parseExpression(rule.expression), { profileAlias: 'p', workspaceParam: '$1', nowParam: '$2' }, params);
      const expected = ((await ds.query(`SELECT p.id FROM profiles p WHERE p.workspace_id = $1 AND p.merged_into IS NULL AND (${condition})`, params)) as { id: string }[]).map((r) => r.id).sort();
      const actual = ((await ds.query(rule.members, [ws])) as { profile_id: string }[]).map((r) => r.profile_id).sort();
      if (expected.length) nonEmpty++;
      if (JSON.stringify(expected) !== JSON.stringify(actual)) wrong.push(`${rule.label}: expected ${expected.length}, holds ${actual.length}`);
    }
    expect(wrong).toEqual([]);
    expect(nonEmpty).toBeGreaterThanOrEqual(5);

    // 3. Every person's lifecycle stage and stage history, derived batch by batch from new events only,
    //    equal a derivation from scratch over their whole stored history.
    const stages = async () => ({
      states: ((await ds.query(
        `SELECT s.profile_id, s.stage, s.main_stage, s.entered_at, s.previous_stage FROM profile_stages s
         JOIN profiles p ON p.workspace_id = s.workspace_id AND p.id = s.profile_id AND p.merged_into IS NULL
         WHERE s.workspace_id = $1 ORDER BY 1`,
        [ws],
      )) as Record<string, unknown>[]).map((r) => JSON.stringify(r)),
      transitions: ((await ds.query(
        `SELECT t.profile_id, t.from_stage, t.to_stage, t.at, t.cause, t.wake_up FROM stage_transitions t
         JOIN profiles p ON p.workspace_id = t.workspace_id AND p.id = t.profile_id AND p.merged_into IS NULL
         WHERE t.workspace_id = $1 ORDER BY t.profile_id, t.at, t.to_stage`,
        [ws],
      )) as Record<string, unknown>[]).map((r) => JSON.stringify(r)),
    });
    // Moves for inactivity up to now are time's work (the sweep and the due scheduler): run it on both sides.
    const sweep = async () => expect((await t.gql(RunSweepDocument, { maxProfiles: 100_000 }, key)).errors).toBeUndefined();
    await sweep();
    const carried = await stages();
    await ds.query(`DELETE FROM stage_transitions WHERE workspace_id = $1`, [ws]);
    await ds.query(`DELETE FROM profile_stages WHERE workspace_id = $1`, [ws]);
    await t.app.services.recompute.run(ws, { parts: ['stages'], restart: true });
    await sweep();
    const scratch = await stages();
    expect(carried.states.length).toBe(live.length);
    expect(new Set(carried.states.map((x) => JSON.parse(x).stage)).size).toBeGreaterThanOrEqual(3);
    expect(carried.states).toEqual(scratch.states);
    expect(carried.transitions).toEqual(scratch.transitions);
  });
});
