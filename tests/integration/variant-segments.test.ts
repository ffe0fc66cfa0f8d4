import { bootAppPerFile } from '../support/app';
import { ingest } from '../support/api';
import { idInput, makeEvent } from '../support/events';
import { rng } from '../../src/shared/random';
import {
  AssignVariantDocument,
  CreateExperimentDocument,
  CreateSegmentDocument,
  ProfileByIdentifierDocument,
  ProfileDocument,
  SegmentMembersDocument,
  UnmergeDocument,
  UpdateSegmentDocument,
  type EventInput,
} from '../generated/graphql';

/**
 * `variant("<experiment>")` in segments, through the public API: memberships kept on ingest (the
 * in-memory evaluator, in the batch that records the exposure) and memberships computed by
 * createSegment / updateSegment (the compiled SQL) both equal a plain reading of who was exposed to
 * what — through assignVariant and through ingested `Experiment Viewed` events — before and after
 * a merge of two people exposed to different variants (contaminated: null) and its unmerge.
 */

const t = bootAppPerFile();

const HERO = 'hero';
const VARIANTS = ['A', 'B', 'C'];

/** The segments under test: key → expression, and what each means for a person's variant (null: none). */
const SEGMENTS: { key: string; expression: string; holds: (v: string | null) => boolean }[] = [
  { key: 'hero_b', expression: 'variant("hero") == "B"', holds: (v) => v === 'B' },
  { key: 'hero_not_a', expression: 'variant("hero") != "A"', holds: (v) => v !== null && v !== 'A' },
  { key: 'hero_bc', expression: 'variant("hero") in ("B", "C")', holds: (v) => v === 'B' || v === 'C' },
  { key: 'hero_none', expression: 'variant("hero") == null', holds: (v) => v === null },
  { key: 'hero_any', expression: 'variant("hero") != null', holds: (v) => v !== null },
];

/** A plain model of the exposures: identifier → the hero variants it was shown; identifier → its person. */
class Exposures {
  readonly shown = new Map<string, string[]>();
  private readonly parent = new Map<string, string>();

  show(id: string, variant: string): void {
    this.shown.set(id, [...(this.shown.get(id) ?? []), variant]);
    this.find(id);
  }

  find(id: string): string {
    if (!this.parent.has(id)) this.parent.set(id, id);
    const p = this.parent.get(id)!;
    return p === id ? id : this.find(p);
  }

  link(a: string, b: string): void {
    this.parent.set(this.find(a), this.find(b));
  }

  unlink(id: string): void {
    // Only used for a pair linked once: both become their own people again.
    for (const [k, v] of this.parent) if (v === id || k === id) this.parent.set(k, k);
  }

  /** Person (root identifier) → variant of `variant("hero")`: the one variant shown, null when none or several. */
  variants(): Map<string, string | null> {
    const seen = new Map<string, Set<string>>();
    for (const id of this.parent.keys()) {
      const root = this.find(id);
      const s = seen.get(root) ?? new Set<string>();
      for (const v of this.shown.get(id) ?? []) s.add(v);
      seen.set(root, s);
    }
    return new Map([...seen].map(([root, s]) => [root, s.size === 1 ? [...s][0] : null]));
  }
}

async function profileId(key: string, id: string): Promise<string> {
  const r = await t.gql(ProfileByIdentifierDocument, { identifier: idInput(id) }, key);
  expect(r.errors).toBeUndefined();
  return r.data!.profileByIdentifier.id;
}

async function members(key: string, segmentId: string): Promise<string[]> {
  const r = await t.gql(SegmentMembersDocument, { id: segmentId, first: 100 }, key);
  expect(r.errors).toBeUndefined();
  expect(r.data!.segment.members.pageInfo.hasNextPage).toBe(false);
  return r.data!.segment.members.edges.map((e) => e.node.id).sort();
}

async function createSegment(key: string, segmentKey: string, expression: string): Promise<string> {
  const r = await t.gql(CreateSegmentDocument, { input: { key: segmentKey, name: segmentKey, expression } }, key);
  expect(r.errors).toBeUndefined();
  return r.data!.createSegment.id;
}

const viewed = (id: string, experiment: string, variant: string, at: string): EventInput =>
  makeEvent({ identifiers: [id], name: 'Experiment Viewed', timestamp: at, properties: { experiment_id: experiment, variation_id: variant } });

describe('variant() in segments', () => {
  it('memberships (on ingest and from createSegment/updateSegment SQL) equal a plain reading of the exposures, through a merge and an unmerge', async () => {
    const { workspaceId: ws, adminKey: key } = await t.newWorkspace();
    const created = await t.gql(CreateExperimentDocument, { input: { key: HERO, name: 'Hero banner', variants: VARIANTS.map((k, i) => ({ key: k, weight: 1, control: i === 0 })) } }, key);
    expect(created.errors).toBeUndefined();
    // Defined before anyone is exposed: these are kept by the tag engine in each batch.
    const live = new Map<string, string>();
    for (const s of SEGMENTS) live.set(s.key, await createSegment(key, s.key, s.expression));

    const model = new Exposures();
    const r = rng(20260712);
    const at = (minute: number) => new Date(Date.UTC(2026, 0, 5, 9, minute)).toISOString();

    // Members exposed through assignVariant (each one an ingested exposure of its own).
    for (let i = 0; i < 12; i++) {
      const id = `member_id::vm-${i}`;
      const a = await t.gql(AssignVariantDocument, { experiment: HERO, identifier: { type: 'member_id', value: `vm-${i}` } }, key);
      expect(a.errors).toBeUndefined();
      model.show(id, a.data!.assignVariant.variant!.key);
    }
    // Devices exposed through Segment-spec events, in one batch with events of people never exposed,
    // exposures to another (auto-created) experiment, and one device shown two variants (contaminated).
    const batch: EventInput[] = [];
    for (let i = 0; i < 12; i++) {
      const id = `device_id::vd-${i}`;
      const v = r.pick(VARIANTS);
      batch.push(viewed(id, HERO, v, at(i)));
      model.show(id, v);
    }
    batch.push(viewed('device_id::vd-twice', HERO, 'A', at(20)), viewed('device_id::vd-twice', HERO, 'B', at(21)));
    model.show('device_id::vd-twice', 'A');
    model.show('device_id::vd-twice', 'B');
    for (let i = 0; i < 4; i++) {
      const id = `device_id::other-${i}`;
      batch.push(viewed(id, 'other', 'B', at(30 + i)), makeEvent({ identifiers: [id], name: 'Page Viewed', timestamp: at(40 + i) }));
      model.find(id);
    }
    await ingest(t, key, batch);

    const expected = async (holds: (v: string | null) => boolean): Promise<string[]> => {
      const out: string[] = [];
      for (const [root, v] of model.variants()) if (holds(v)) out.push(await profileId(key, root));
      return out.sort();
    };
    const byVariant = [...model.variants().values()];
    // The data covers every case: each variant, contaminated and unexposed people.
    for (const v of VARIANTS) expect(byVariant).toContain(v);
    expect(byVariant.filter((v) => v === null).length).toBeGreaterThanOrEqual(5);

    let round = 0;
    const check = async () => {
      round++;
      for (const s of SEGMENTS) {
        const want = await expected(s.holds);
        expect({ segment: s.key, members: await members(key, live.get(s.key)!) }).toEqual({ segment: s.key, members: want });
        // The same expression computed at once by SQL: a new segment, and an existing one given the expression anew.
        const fresh = await createSegment(key, `${s.key}_sql_${round}`, s.expression);
        expect({ segment: `${s.key} (createSegment)`, members: await members(key, fresh) }).toEqual({ segment: `${s.key} (createSegment)`, members: want });
        const u = await t.gql(UpdateSegmentDocument, { id: fresh, input: { expression: `(${s.expression}) and true` } }, key);
        expect(u.errors).toBeUndefined();
        expect({ segment: `${s.key} (updateSegment)`, members: await members(key, fresh) }).toEqual({ segment: `${s.key} (updateSegment)`, members: want });
      }
    };
    await check();

    // An event links a member shown B to a device shown another variant: one contaminated person, who leaves hero_b.
    const member = [...model.shown].find(([id, vs]) => id.startsWith('member_id::') && vs[0] === 'B');
    const device = [...model.shown].find(([id, vs]) => id.startsWith('device_id::vd-') && id !== 'device_id::vd-twice' && vs[0] !== 'B');
    expect(member && device).toBeTruthy();
    const memberProfile = await profileId(key, member![0]);
    expect(await members(key, live.get('hero_b')!)).toContain(memberProfile);
    const linked = await ingest(t, key, [makeEvent({ identifiers: [member![0], device![0]], name: 'Member Bound', timestamp: at(50) })]);
    model.link(member![0], device![0]);
    const survivor = linked.results[0].profileId!;
    expect(await members(key, live.get('hero_b')!)).not.toContain(survivor);
    expect(await members(key, live.get('hero_none')!)).toContain(survivor);
    await check();

    // Undo the merge: both people are re-derived (experiments first, then their rules) and return to their segments.
    const history = (await t.gql(ProfileDocument, { id: survivor }, key)).data!.profile.mergeHistory;
    const merge = history.find((h) => !h.undoneAt)!;
    const undone = await t.gql(UnmergeDocument, { mergeId: merge.id }, key);
    expect(undone.errors).toBeUndefined();
    model.unlink(member![0]);
    model.unlink(device![0]);
    expect(await members(key, live.get('hero_b')!)).toContain(await profileId(key, member![0]));
    await check();

    // A rebuild of both parts changes nothing.
    const rebuilt = await t.app.services.recompute.run(ws, { parts: ['experiments', 'tags'] });
    expect(rebuilt.stopped).toBe(false);
    await check();
  });
});
