import { bootApp, type TestApp } from '../support/app';
import { idInput, makeEvent } from '../support/events';
import { loadScenarios, parseId, type Scenario } from '../support/scenarios';
import { IngestDocument, ProfileByIdentifierDocument, ProfileDocument, ProfileEventsDocument, UnmergeDocument } from '../generated/graphql';

let t: TestApp;
beforeAll(async () => {
  t = await bootApp();
});
afterAll(() => t.stop());

/** Normalised form of a scenario identifier, as the API shows it to an admin (unmasked). */
function shown(s: string): string {
  const { type, namespace, value } = parseId(s);
  return `${type}:${namespace}:${value}`;
}

async function holderOf(key: string, s: string): Promise<string | null> {
  const r = await t.gql(ProfileByIdentifierDocument, { identifier: idInput(s) }, key);
  if (r.errors?.[0]?.extensions.code === 'NOT_FOUND') return null;
  if (r.errors?.[0]?.extensions.reason === 'BLOCKED_VALUE') return null;
  expect(r.errors).toBeUndefined();
  return r.data!.profileByIdentifier.id;
}

async function runScenario(s: Scenario) {
  const { adminKey: key } = await t.newWorkspace(s.name.slice(0, 90));
  const owners: (string | null)[] = [];
  const messageIds: (string | null)[] = [];
  let duplicates = 0;
  let unmerges = 0;
  let mergeCount = 0;
  const send = async (ids: string[], messageId?: string) => {
    const r = await t.gql(IngestDocument, { events: [makeEvent({ identifiers: ids, ...(messageId ? { messageId } : {}) })] }, key);
    expect(r.errors).toBeUndefined();
    duplicates += r.data!.ingestEvents.duplicates;
    return r.data!.ingestEvents.results[0];
  };
  if (s.batch) {
    // Sent at the same time, each as its own batch.
    const rs = await Promise.all((s.events as string[][]).map((ids) => send(ids)));
    for (const r of rs) {
      owners.push(r.profileId);
      messageIds.push(r.messageId);
    }
  } else {
    for (const e of s.events) {
      if (typeof e === 'string') {
        // "UNMERGE the merge made by event N"
        const n = Number(/event (\d+)/.exec(e)![1]);
        const p = await t.gql(ProfileDocument, { id: owners[n]! }, key);
        const merge = p.data!.profile.mergeHistory.find((m) => !m.undoneAt)!;
        const u = await t.gql(UnmergeDocument, { mergeId: merge.id }, key);
        expect(u.errors).toBeUndefined();
        unmerges++;
        owners.push(null);
        messageIds.push(null);
      } else {
        const r = Array.isArray(e) ? await send(e) : await send(e.identifiers, e.messageId);
        owners.push(r.profileId);
        messageIds.push(r.messageId);
      }
    }
  }

  // The partition: every expected group is exactly one profile's identifiers.
  const seen = new Set<string>();
  for (const group of s.expect.profiles) {
    const holder = await holderOf(key, group[0]);
    expect(holder).not.toBeNull();
    const p = await t.gql(ProfileDocument, { id: holder! }, key);
    const ids = p.data!.profile.identifiers.map((i) => `${i.type}:${i.namespace ?? ''}:${i.value}`).sort();
    expect(ids).toEqual(group.map(shown).sort());
    seen.add(p.data!.profile.id);
    mergeCount += p.data!.profile.mergeHistory.filter((m) => m.survivorId === p.data!.profile.id).length;
  }
  expect(seen.size).toBe(s.expect.profiles.length);
  for (const u of s.expect.unheld ?? []) expect(await holderOf(key, u)).toBeNull();

  const profiles = await Promise.all([...seen].map((id) => t.gql(ProfileDocument, { id }, key)));
  const conflicts = new Set(profiles.flatMap((p) => p.data!.profile.conflicts.map((c) => c.id)));
  if (s.expect.conflicts !== undefined) expect(conflicts.size).toBe(s.expect.conflicts);
  if (s.expect.merges !== undefined) expect(mergeCount).toBe(s.expect.merges);
  if (s.expect.unmerges !== undefined) expect(unmerges).toBe(s.expect.unmerges);
  if (s.expect.duplicates !== undefined) expect(duplicates).toBe(s.expect.duplicates);
  if (s.expect.eventsStored !== undefined) {
    const total = profiles.reduce((n, p) => n + p.data!.profile.eventCount, 0);
    expect(total).toBe(s.expect.eventsStored);
  }
  if (s.expect.survivorCreatedByEvent !== undefined) {
    const created = owners[s.expect.survivorCreatedByEvent]!;
    // The first event's profile id survived, and every later profile id resolves to it.
    for (const o of owners.filter(Boolean)) {
      const p = await t.gql(ProfileDocument, { id: o! }, key);
      expect(p.data!.profile.id).toBe(created);
    }
  }
  for (const [idx, holderId] of Object.entries(s.expect.eventBelongsTo ?? {})) {
    // The event itself is on the timeline of the profile holding the named identifier.
    const holder = await holderOf(key, holderId);
    const timeline = await t.gql(ProfileEventsDocument, { id: holder!, first: 100 }, key);
    expect(timeline.data!.profile.events.edges.map((e) => e.node.messageId)).toContain(messageIds[Number(idx)]);
  }
}

describe('identity scenarios through the public API (shared/identity-scenarios.json)', () => {
  const { scenarios } = loadScenarios();
  it('has all fifteen', () => expect(scenarios.length).toBe(15));
  it.each(scenarios.map((s) => [s.name, s] as const))('%s', async (_n, s) => {
    await runScenario(s);
  });
});
