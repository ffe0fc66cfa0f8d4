import { IdentityGraph, idKey, type EventIdentifier } from '../../src/modules/identities/identity-graph';
import { IdentityRules } from '../../src/modules/identities/identity-rules';
import { normaliseIdentifier } from '../../src/modules/identities/normalize';
import { loadScenarios, parseId } from '../support/scenarios';

const rules = IdentityRules.defaults();

function toEventIds(ids: string[]): EventIdentifier[] {
  const out: EventIdentifier[] = [];
  for (const s of ids) {
    const n = normaliseIdentifier(parseId(s), rules);
    if (n.ok) out.push({ key: idKey(n.type, n.namespace, n.value), type: n.type, namespace: n.namespace, priority: rules.priority(n.type) });
  }
  return out;
}

function canonical(s: string): string {
  const n = normaliseIdentifier(parseId(s), rules);
  if (!n.ok) return `unheld:${s}`;
  return idKey(n.type, n.namespace, n.value);
}

// Scenarios that need the database (unmerge, messageId dedupe, concurrency) run in integration tests.
const pure = loadScenarios().scenarios.filter((s) => !s.batch && s.events.every((e) => Array.isArray(e)));

describe('identity graph (pure) against shared/identity-scenarios.json', () => {
  it('covers most scenarios here', () => {
    expect(pure.length).toBeGreaterThanOrEqual(10);
  });

  it.each(pure.map((s) => [s.name, s] as const))('%s', (_name, s) => {
    const g = new IdentityGraph(rules);
    const owners: string[] = [];
    (s.events as string[][]).forEach((e, i) => owners.push(g.resolveEvent(i, toEventIds(e))));

    const partition = new Map<string, string[]>();
    for (const node of g.created) {
      const live = g.find(node.id);
      for (const k of g.profile(live)!.ids) partition.set(live, [...new Set([...(partition.get(live) ?? []), k])]);
    }
    const actual = [...partition.values()].map((p) => p.sort()).sort((a, b) => a[0].localeCompare(b[0]));
    const expected = s.expect.profiles.map((p) => p.map(canonical).sort()).sort((a, b) => a[0].localeCompare(b[0]));
    expect(actual).toEqual(expected);

    for (const u of s.expect.unheld ?? []) {
      const c = canonical(u);
      if (!c.startsWith('unheld:')) expect(g.holderOf(c)).toBeUndefined();
    }
    if (s.expect.merges !== undefined) expect(g.merges).toHaveLength(s.expect.merges);
    if (s.expect.conflicts !== undefined) expect(g.conflicts).toHaveLength(s.expect.conflicts);
    if (s.expect.survivorCreatedByEvent !== undefined) {
      const survivor = g.find(owners[s.expect.survivorCreatedByEvent]);
      expect(owners.map((o) => g.find(o)).every((o) => o === survivor)).toBe(true);
      expect(survivor).toBe(owners[s.expect.survivorCreatedByEvent]);
    }
    for (const [idx, holderId] of Object.entries(s.expect.eventBelongsTo ?? {})) {
      expect(g.find(owners[Number(idx)])).toBe(g.holderOf(canonical(holderId)));
    }
  });
});
