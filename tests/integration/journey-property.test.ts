import { bootAppPerFile } from '../support/app';
import { makeEvent } from '../support/events';
import { DAY, HOUR } from '../support/time';
import { rng } from '../../src/shared/random';
import { CreateJourneyDocument, IngestDocument, RunSweepDocument, type EventInput } from '../generated/graphql';

/**
 * Journey states carried forward batch by batch (states loaded per batch, windows resolved by the
 * next event or, once past, by the sweep) equal one pass over each person's raw events in time
 * order through a reference written here from the documented rules — after a long random stream
 * cut into random batches, with positive and negative windowed steps, property conditions, re-entry
 * on and off. The stream arrives in time order (journeys follow events as they arrive: a late event
 * older than an entry's current step is ignored by design, so arrival order is part of the
 * definition) and the sweep runs once at the end, when every window that ended has ended for good.
 */

const t = bootAppPerFile();

interface RefStep {
  event: string;
  minRevenue?: number;
  withinMs?: number;
  negative?: boolean;
}
interface RefJourney {
  name: string;
  allowReentry: boolean;
  steps: RefStep[];
}

const JOURNEYS: RefJourney[] = [
  // Cart abandonment, then a visit within two days of the reminder.
  { name: 'cart', allowReentry: true, steps: [{ event: 'Product Added' }, { event: 'Order Completed', withinMs: 24 * HOUR, negative: true }, { event: 'Page Viewed', withinMs: 2 * DAY }] },
  // Browse → buy within 3 days → buy again within 7 days; entered once.
  { name: 'repeat', allowReentry: false, steps: [{ event: 'Product Viewed' }, { event: 'Order Completed', withinMs: 3 * DAY }, { event: 'Order Completed', withinMs: 7 * DAY }] },
  // Any event, then a big order within 2 days.
  { name: 'big', allowReentry: true, steps: [{ event: '*' }, { event: 'Order Completed', minRevenue: 100, withinMs: 2 * DAY }] },
];

/** Every span from an event to a window's end: each `within`, and a negative step's window followed by the next. */
const WINDOW_ENDS = [24 * HOUR, 2 * DAY, 3 * DAY, 7 * DAY, 24 * HOUR + 2 * DAY];

const within = (ms: number) => (ms % DAY === 0 ? `${ms / DAY}d` : `${ms / HOUR}h`);

interface Ev {
  person: number;
  name: string;
  ts: number;
  revenue?: number;
}

interface RefEntry {
  entryNo: number;
  stepIndex: number;
  status: 'active' | 'completed' | 'dropped' | 'expired';
  enteredAt: number;
  stepAt: number;
  deadline: number | null;
  completedAt: number | null;
  history: number[];
}

/** The reference: one person's entries of one journey after their events in time order, then time passing to `now`. */
function reference(j: RefJourney, events: Ev[], now: number): RefEntry[] {
  const entries: RefEntry[] = [];
  const matches = (s: RefStep, e: Ev) => (s.event === '*' || s.event === e.name) && (s.minRevenue === undefined || (e.revenue ?? -Infinity) >= s.minRevenue);
  const reach = (x: RefEntry, i: number, at: number) => {
    x.stepIndex = i;
    x.stepAt = at;
    x.history.push(at);
    if (i === j.steps.length - 1) {
      x.status = 'completed';
      x.completedAt = at;
      x.deadline = null;
    } else {
      const w = j.steps[i + 1].withinMs;
      x.deadline = w === undefined ? null : at + w;
    }
  };
  // Windows that ended before `until` (or at it, when inclusive): a positive step not reached expires
  // at the deadline; a negative one is reached at the deadline and the next window starts there.
  const pass = (x: RefEntry, until: number, inclusive: boolean) => {
    while (x.status === 'active' && x.deadline !== null && (inclusive ? x.deadline <= until : x.deadline < until)) {
      const at = x.deadline;
      if (!j.steps[x.stepIndex + 1].negative) {
        x.status = 'expired';
        x.completedAt = at;
        x.deadline = null;
      } else reach(x, x.stepIndex + 1, at);
    }
  };
  for (const e of events) {
    const active = entries.find((x) => x.status === 'active');
    if (active) {
      if (e.ts < active.stepAt) continue;
      pass(active, e.ts, false);
      if (active.status === 'active') {
        const next = j.steps[active.stepIndex + 1];
        if (matches(next, e)) {
          if (next.negative) {
            active.status = 'dropped';
            active.completedAt = e.ts;
            active.deadline = null;
          } else reach(active, active.stepIndex + 1, e.ts);
        }
        continue;
      }
    }
    if (!j.allowReentry && entries.length) continue;
    if (!matches(j.steps[0], e)) continue;
    const x: RefEntry = { entryNo: entries.length + 1, stepIndex: 0, status: 'active', enteredAt: e.ts, stepAt: e.ts, deadline: null, completedAt: null, history: [] };
    entries.push(x);
    reach(x, 0, e.ts);
  }
  for (const x of entries) pass(x, now, true);
  return entries;
}

function stream(seed: number, people: number, count: number, now: number): Ev[] {
  const r = rng(seed);
  const out: Ev[] = [];
  const used = new Set<number>();
  for (let k = 0; k < count; k++) {
    const person = Math.floor(people * r.next() ** 1.5);
    // Ten days back, whole seconds, never two events at one instant (ties are not what this tests).
    let ts = now - 10 * DAY + r.int(10 * 24 * 3600 - 60) * 1000;
    // No window may end near the test's "now" (from a minute before to a quarter hour after): the
    // sweep's clock and the reference's then agree on which windows have ended.
    while (used.has(ts) || WINDOW_ENDS.some((w) => ts + w > now - 60_000 && ts + w < now + 15 * 60_000)) ts += 1000;
    used.add(ts);
    const roll = r.next();
    const name = roll < 0.25 ? 'Product Added' : roll < 0.45 ? 'Order Completed' : roll < 0.75 ? 'Product Viewed' : 'Page Viewed';
    out.push({ person, name, ts, ...(name === 'Order Completed' ? { revenue: 20 + r.int(200) } : {}) });
  }
  return out.sort((a, b) => a.ts - b.ts);
}

describe('journey states carried forward', () => {
  it('equal one pass over the raw events after a long random stream in random batches', async () => {
    const { workspaceId: ws, adminKey: key } = await t.newWorkspace('journey property');
    const ids = new Map<string, RefJourney>();
    for (const j of JOURNEYS) {
      const steps = j.steps.map((s, i) => ({
        key: `s${i}`,
        name: `s${i}`,
        match: { event: s.event, where: s.minRevenue === undefined ? [] : [{ property: 'revenue', op: '>=', value: s.minRevenue }] },
        ...(s.withinMs === undefined ? {} : { within: within(s.withinMs) }),
        ...(s.negative ? { negative: true } : {}),
      }));
      const res = await t.gql(CreateJourneyDocument, { input: { name: j.name, allowReentry: j.allowReentry, steps } }, key);
      expect(res.errors).toBeUndefined();
      ids.set(res.data!.createJourney.id, j);
    }

    const now = Date.now();
    const events = stream(11, 60, 1500, now);
    const r = rng(5);
    for (let i = 0; i < events.length; ) {
      const n = 1 + r.int(80);
      const batch: EventInput[] = events.slice(i, i + n).map((e, k) =>
        makeEvent({ messageId: `jp-${i + k}`, identifiers: [`member_id::JP-${e.person}`], name: e.name, timestamp: new Date(e.ts).toISOString(), properties: e.revenue === undefined ? {} : { revenue: e.revenue } }),
      );
      const res = await t.gql(IngestDocument, { events: batch }, key);
      expect({ errors: res.errors, accepted: res.data?.ingestEvents.accepted }).toEqual({ errors: undefined, accepted: batch.length });
      i += n;
    }
    // Every window that ended by now is resolved by the sweep (its due work), run until nothing changes.
    for (let k = 0; k < 5; k++) expect((await t.gql(RunSweepDocument, { maxProfiles: 10_000 }, key)).errors).toBeUndefined();
    const sweptAt = Date.now();
    expect(sweptAt).toBeLessThan(now + 15 * 60_000);

    const ds = t.app.db.dataSource;
    const people = new Map<string, number>(
      ((await ds.query(
        `SELECT i.profile_id, i.value_key FROM identifiers i WHERE i.workspace_id = $1 AND i.type = 'member_id'`,
        [ws],
      )) as { profile_id: string; value_key: string }[]).map((x) => [x.profile_id, Number(/JP-(\d+)$/.exec(x.value_key)?.[1] ?? NaN)]),
    );
    expect(people.size).toBeGreaterThan(40);
    expect([...people.values()].every((p) => Number.isInteger(p))).toBe(true);

    const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
    const stored = (
      (await ds.query(
        `SELECT s.journey_id, s.profile_id, s.entry_no, s.step_index, s.status, s.entered_at, s.step_at, s.deadline, s.completed_at,
                (SELECT array_agg(h.reached_at ORDER BY h.step_index) FROM journey_step_history h
                 WHERE h.workspace_id = s.workspace_id AND h.journey_id = s.journey_id AND h.profile_id = s.profile_id AND h.entry_no = s.entry_no) AS history
         FROM journey_states s WHERE s.workspace_id = $1`,
        [ws],
      )) as { journey_id: string; profile_id: string; entry_no: number; step_index: number; status: string; entered_at: Date; step_at: Date; deadline: Date | null; completed_at: Date | null; history: Date[] }[]
    )
      .map((s) => JSON.stringify([ids.get(s.journey_id)!.name, people.get(s.profile_id), s.entry_no, s.step_index, s.status, iso(s.entered_at.getTime()), iso(s.step_at.getTime()), iso(s.deadline?.getTime() ?? null), iso(s.completed_at?.getTime() ?? null), s.history.map((h) => iso(new Date(h).getTime()))]))
      .sort();

    const byPerson = new Map<number, Ev[]>();
    for (const e of events) byPerson.set(e.person, [...(byPerson.get(e.person) ?? []), e]);
    const want: string[] = [];
    for (const j of JOURNEYS) {
      for (const [person, evs] of byPerson) {
        for (const x of reference(j, evs, sweptAt)) {
          want.push(JSON.stringify([j.name, person, x.entryNo, x.stepIndex, x.status, iso(x.enteredAt), iso(x.stepAt), iso(x.deadline), iso(x.completedAt), x.history.map(iso)]));
        }
      }
    }
    want.sort();

    // The comparison is not between two trivial answers: every status and several entries per person occur.
    const statuses = new Set(want.map((w) => JSON.parse(w)[4]));
    expect([...statuses].sort()).toEqual(['active', 'completed', 'dropped', 'expired']);
    expect(want.filter((w) => JSON.parse(w)[2] > 1).length).toBeGreaterThan(20);
    expect(stored).toEqual(want);
  });
});
