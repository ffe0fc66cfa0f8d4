import { IdentityGraph, idKey, type EventIdentifier } from '../../src/modules/identities/identity-graph';
import { IdentityRules } from '../../src/modules/identities/identity-rules';
import { normaliseIdentifier } from '../../src/modules/identities/normalize';
import { ingest } from '../support/api';
import { bootApp, type TestApp } from '../support/app';
import { fetchPartition, resolveIds } from '../support/partition';
import { makePeople, makeStream } from '../support/people';
import { UnionFind } from '../../src/shared/union-find';
import { parseId } from '../support/scenarios';
import { ProfileDocument, type EventInput } from '../generated/graphql';

let t: TestApp;
beforeAll(async () => {
  t = await bootApp();
});
afterAll(() => t.stop());

const rules = IdentityRules.defaults();
const str = (i: { type: string; namespace?: string | null; value: string }) => `${i.type}:${i.namespace ?? ''}:${i.value}`;

async function ingestAll(key: string, events: EventInput[], batchSize: number): Promise<Map<string, string>> {
  const owner = new Map<string, string>();
  for (let i = 0; i < events.length; i += batchSize) {
    const r = await ingest(t, key, events.slice(i, i + batchSize));
    for (const x of r.results) owner.set(x.messageId!, x.profileId!);
  }
  return owner;
}

describe('identity resolution oracle', () => {
  it('a seeded stream of thousands of events: the partition equals union-find over the accepted links, and replays the pure engine exactly', async () => {
    const { adminKey: key } = await t.newWorkspace('oracle');
    const people = makePeople(300, 42, 40);
    const events = makeStream(people, 3000, 7);
    const batchSize = 250;
    const owners = await ingestAll(key, events, batchSize);

    const partition = await fetchPartition(t, key);
    const holder = new Map<string, string>();
    for (const [pid, ids] of partition) for (const id of ids) holder.set(id, pid);
    const live = await resolveIds(t, key, [...owners.values()]);

    // Union-find over the links the rules accepted: identifiers of one event that ended up together
    // in the profile that event belongs to.
    const uf = new UnionFind();
    for (const e of events) {
      const owner = live.get(owners.get(e.messageId)!)!;
      const held = e.identifiers.map(str).filter((id) => holder.get(id) === owner);
      expect(held.length).toBeGreaterThan(0);
      for (const id of held) uf.union(held[0], id);
    }
    const fromApi = [...partition.values()].map((ids) => [...ids].sort()).sort((a, b) => a[0].localeCompare(b[0]));
    expect(uf.components()).toEqual(fromApi);
    expect(fromApi.length).toBeGreaterThan(250); // shared devices link some people; most stay apart

    // The same stream through the pure engine, batch by batch in order, gives the same partition.
    const g = new IdentityGraph(rules);
    const mine: string[] = [];
    events.forEach((e, i) => {
      const ids: EventIdentifier[] = e.identifiers.map((x) => {
        const n = normaliseIdentifier(parseId(str(x)), rules);
        if (!n.ok) throw new Error('generator made an invalid identifier');
        return { key: idKey(n.type, n.namespace, n.value), type: n.type, namespace: n.namespace, priority: rules.priority(n.type) };
      });
      mine.push(g.resolveEvent(i, ids));
    });
    const engine = new Map<string, string[]>();
    for (const n of g.created) {
      const p = g.find(n.id);
      if (p !== n.id) continue;
      engine.set(p, [...g.profile(p)!.ids].map((k) => k.split('\u0001').join(':')).sort());
    }
    const engineGroups = [...engine.values()].filter((x) => x.length).sort((a, b) => a[0].localeCompare(b[0]));
    expect(engineGroups).toEqual(fromApi);

    // Conflicts recorded by the server match the engine's refusals.
    const conflictIds = new Set<string>();
    for (const pid of partition.keys()) {
      const p = await t.gql(ProfileDocument, { id: pid }, key);
      for (const c of p.data!.profile.conflicts) conflictIds.add(c.id);
    }
    expect(conflictIds.size).toBe(g.conflicts.length);
    expect(g.merges.length).toBeGreaterThan(0);
    expect(g.conflicts.length).toBeGreaterThan(0);
  });
});
