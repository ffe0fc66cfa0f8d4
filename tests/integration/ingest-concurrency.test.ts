import { bootApp, type TestApp } from '../support/app';
import { fetchPartition } from '../support/partition';
import { makePeople, makeStream } from '../support/people';
import { UnionFind } from '../../src/shared/union-find';
import { IngestDocument } from '../generated/graphql';

let t: TestApp;
beforeAll(async () => {
  t = await bootApp();
});
afterAll(() => t.stop());

const str = (i: { type: string; namespace?: string | null; value: string }) => `${i.type}:${i.namespace ?? ''}:${i.value}`;

describe('ingest under concurrency', () => {
  it('eight batches at once that share people never split a person', async () => {
    const { adminKey: key } = await t.newWorkspace('concurrency');
    const people = makePeople(60, 1234, 0);
    const batches = Array.from({ length: 8 }, (_, i) => makeStream(people, 120, 500 + i));
    const results = await Promise.all(batches.map((events) => t.gql(IngestDocument, { events }, key)));
    for (const r of results) {
      expect(r.errors).toBeUndefined();
      expect(r.data!.ingestEvents.accepted).toBe(120);
    }
    // Without conflicting identifiers every link is accepted: the profiles are the connected components.
    const uf = new UnionFind();
    for (const e of batches.flat()) for (const id of e.identifiers) uf.union(str(e.identifiers[0]), str(id));
    const partition = await fetchPartition(t, key);
    const actual = [...partition.values()].sort((a, b) => a[0].localeCompare(b[0]));
    expect(actual).toEqual(uf.components());
    // Each component belongs to one person (people share nothing here), and links were found.
    for (const c of actual) expect(people.filter((p) => c.some((id) => p.ids.includes(id)))).toHaveLength(1);
    expect(actual.length).toBeLessThan(people.reduce((n, p) => n + p.ids.length, 0) / 2);
  });

  it('the same batch sent twice at once is stored once', async () => {
    const { adminKey: key } = await t.newWorkspace('retry storm');
    const events = makeStream(makePeople(20, 77, 0), 50, 3);
    const [a, b] = await Promise.all([t.gql(IngestDocument, { events }, key), t.gql(IngestDocument, { events }, key)]);
    const accepted = a.data!.ingestEvents.accepted + b.data!.ingestEvents.accepted;
    const duplicates = a.data!.ingestEvents.duplicates + b.data!.ingestEvents.duplicates;
    expect(accepted).toBe(50);
    expect(duplicates).toBe(50);
    const partition = await fetchPartition(t, key);
    const total = await t.gql<{ profiles: { edges: { node: { eventCount: number } }[] } }>(
      '{ profiles(first: 100) { edges { node { eventCount } } } }',
      {},
      key,
    );
    expect(total.data!.profiles.edges.reduce((n, e) => n + e.node.eventCount, 0)).toBe(50);
    expect(partition.size).toBeGreaterThan(0);
  });
});
