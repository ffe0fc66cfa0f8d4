import { bootAppPerFile } from '../support/app';
import { DAY, HOUR } from '../support/time';
import { makeEvent } from '../support/events';
import { ingest } from '../support/api';
import { rng } from '../../src/shared/random';
import { HealthRepository } from '../../src/modules/health/health.repository';
import { ProfileHealthDocument, UnmergeDocument, UpdateWorkspaceDocument, type EventInput } from '../generated/graphql';

/**
 * Health score inputs carried forward in per-person local-day buckets (`health_state`: one row per person, local day → events per name and order value) against the
 * definition read from raw events (`inputsFromEvents`): after a random stream with merges, an
 * unmerge and string order values, in a half-hour zone, at moments that move each window's first
 * (partial) day; through a zone change (events answer until `siyu recompute --parts health`) and
 * its rebuild; and through the API, where a profile's components show the buckets' figures.
 */

const t = bootAppPerFile();
const repo = new HealthRepository();
const INTERACTIONS = ['Message Sent', 'Liked', 'Content Shared', 'Group Joined', 'Comment Posted'];

function stream(seed: number, now: number): EventInput[] {
  const r = rng(seed);
  const out: EventInput[] = [];
  let n = 0;
  const ev = (ids: string[], ts: number, over: Partial<EventInput> = {}) => out.push(makeEvent({ messageId: `hd${seed}-${n++}`, identifiers: ids, timestamp: new Date(ts).toISOString(), ...over }));
  const merges: [string, string][] = [];
  for (let i = 0; i < 45; i++) {
    const member = `member_id::HD${seed}-${i}`;
    const anon = `anonymous_id::HDA${seed}-${i}`;
    const merge = r.chance(0.35);
    for (let j = 0, k = 3 + r.int(14); j < k; j++) {
      // Up to 100 days back (older than every window) and a few hours ahead.
      const ts = now - r.int(100 * 24) * HOUR - r.int(3600) * 1000 + (r.chance(0.05) ? 5 * HOUR : 0);
      const ids = merge && j < 3 ? [anon] : [member];
      const roll = r.next();
      if (roll < 0.2) ev(ids, ts, { name: 'Order Completed', properties: { revenue: r.chance(0.2) ? `${(5 + r.int(200)).toFixed(2)}` : Math.round((5 + r.next() * 300) * 100) / 100 } });
      else if (roll < 0.3) ev(ids, ts, { name: 'Order Completed', properties: { total: 12.5 } });
      else if (roll < 0.6) ev(ids, ts, { name: r.pick(INTERACTIONS) });
      else if (roll < 0.7) ev(ids, ts, { type: 'page', name: null });
      else ev(ids, ts, { name: 'Product Viewed' });
    }
    if (merge) merges.push([anon, member]);
  }
  // The events naming both ids come last, in later batches: two people with buckets are merged.
  for (const ids of merges) ev(ids, now - r.int(20 * 24) * HOUR);
  return out;
}

async function liveIds(ws: string): Promise<string[]> {
  return ((await t.app.db.dataSource.manager.query(`SELECT id FROM profiles WHERE workspace_id = $1 AND merged_into IS NULL`, [ws])) as { id: string }[]).map((r) => r.id);
}

/** Inputs from the buckets that differ from the definition over raw events, at several moments. */
async function mismatches(ws: string, moments: number[]): Promise<string[]> {
  const em = t.app.db.dataSource.manager;
  const ids = await liveIds(ws);
  const out: string[] = [];
  for (const m of moments) {
    const now = new Date(m);
    const fast = await repo.inputs(em, ws, ids, now, INTERACTIONS);
    const slow = new Map((await repo.inputsFromEvents(em, ws, ids, now, INTERACTIONS)).map((x) => [x.profileId, x]));
    expect(fast.length).toBe(ids.length);
    for (const f of fast) {
      const s = slow.get(f.profileId);
      if (!s || f.interactions30 !== s.interactions30 || f.activeDays30 !== s.activeDays30 || Math.abs(f.spend90 - s.spend90) > 0.001 || f.invitees !== s.invitees) out.push(`${now.toISOString()} ${f.profileId}: buckets ${JSON.stringify(f)}, events ${JSON.stringify(s)}`);
    }
  }
  return out;
}

const bucketState = async (ws: string) => (await t.app.db.dataSource.manager.query(`SELECT time_zone FROM health_day_state WHERE workspace_id = $1`, [ws]))[0]?.time_zone ?? null;

describe('health inputs from local-day buckets', () => {
  let ws: string;
  let key: string;
  const now = Date.now();
  // Moments that put each window's first day at different local times (Kolkata is +5:30).
  const moments = [now, now + 7 * HOUR, now + 13.5 * HOUR + 17 * 60_000, now + 3 * DAY + 2 * HOUR, now - 2 * DAY];

  beforeAll(async () => {
    ({ workspaceId: ws, adminKey: key } = await t.newWorkspace('health days'));
    expect((await t.gql(UpdateWorkspaceDocument, { input: { timeZone: 'Asia/Kolkata' } }, key)).errors).toBeUndefined();
    const events = stream(7, now);
    for (let i = 0; i < events.length; i += 150) await ingest(t, key, events.slice(i, i + 150));
  });

  it('equal the definition over raw events after merges, at moments that move the windows’ first days', async () => {
    const [{ n }] = await t.app.db.dataSource.manager.query(`SELECT count(*)::int AS n FROM identity_merges WHERE workspace_id = $1`, [ws]);
    expect(n).toBeGreaterThan(5);
    expect(await bucketState(ws)).toBe('Asia/Kolkata');
    // Buckets exist and carry the spend: the comparison is not between two empty answers.
    const [{ rows, spend }] = await t.app.db.dataSource.manager.query(`SELECT count(*)::int AS rows, sum((d.value ->> 1)::numeric)::float AS spend FROM health_state h CROSS JOIN LATERAL jsonb_each(h.days) d WHERE h.workspace_id = $1`, [ws]);
    expect(rows).toBeGreaterThan(100);
    expect(spend).toBeGreaterThan(0);
    expect(await mismatches(ws, moments)).toEqual([]);
  });

  it('an unmerge rebuilds both people’s buckets', async () => {
    const [m]: { id: string }[] = await t.app.db.dataSource.manager.query(`SELECT id FROM identity_merges WHERE workspace_id = $1 AND undone_at IS NULL ORDER BY created_at LIMIT 1`, [ws]);
    expect((await t.gql(UnmergeDocument, { mergeId: m.id }, key)).errors).toBeUndefined();
    expect(await mismatches(ws, moments)).toEqual([]);
  });

  it('a profile’s score components show the buckets’ figures', async () => {
    const member = 'member_id::HD7-4';
    await ingest(t, key, [makeEvent({ identifiers: [member], name: 'Liked', timestamp: new Date(now - 60_000).toISOString() })]);
    const r = await t.gql(ProfileHealthDocument, { identifier: { type: 'member_id', value: 'HD7-4' } }, key);
    const p = r.data!.profileByIdentifier!;
    const at = new Date(p.health!.computedAt as string);
    const [want] = await repo.inputsFromEvents(t.app.db.dataSource.manager, ws, [p.id], at, INTERACTIONS);
    const measure = (name: string) => p.health!.components.find((c) => c.name === name)!.measure;
    expect(measure('interaction')).toBe(want.interactions30);
    expect(measure('spending')).toBeCloseTo(want.spend90, 2);
    expect(measure('activeTime')).toBe(want.activeDays30);
    expect(want.interactions30).toBeGreaterThan(0);
  });

  it('a zone change reads events until the rebuild, then the buckets again, in the new zone', async () => {
    expect((await t.gql(UpdateWorkspaceDocument, { input: { timeZone: 'Asia/Kathmandu' } }, key)).errors).toBeUndefined();
    await ingest(t, key, [makeEvent({ identifiers: ['member_id::HD7-9'], name: 'Liked', timestamp: new Date(now - 5 * 60_000).toISOString() })]);
    expect(await bucketState(ws)).toBeNull();
    expect(await mismatches(ws, moments)).toEqual([]);
    const run = await t.app.services.recompute.run(ws, { parts: ['health'] });
    expect(run.stopped).toBe(false);
    expect(await bucketState(ws)).toBe('Asia/Kathmandu');
    expect(await mismatches(ws, moments)).toEqual([]);
  });
});
