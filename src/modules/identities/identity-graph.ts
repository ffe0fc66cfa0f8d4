import { randomUUID } from 'node:crypto';
import type { IdentifierType } from './identifier-type';
import type { IdentityRules } from './identity-rules';

/** `type \u0001 namespace \u0001 valueKey`: one identifier, as the graph knows it. */
export type IdKey = string;

export function idKey(type: string, namespace: string, valueKey: string): IdKey {
  return `${type}\u0001${namespace}\u0001${valueKey}`;
}

export function splitIdKey(key: IdKey): { type: IdentifierType; namespace: string; valueKey: string } {
  const [type, namespace, valueKey] = key.split('\u0001');
  return { type: type as IdentifierType, namespace, valueKey };
}

/** An identifier of an event after normalisation, with its match key and priority. */
export interface EventIdentifier {
  key: IdKey;
  type: IdentifierType;
  namespace: string;
  priority: number;
}

export interface ProfileNode {
  id: string;
  /** Creation order: existing profiles by their `seq`, new ones after every existing one. */
  order: number;
  isNew: boolean;
  ids: Set<IdKey>;
  mergedInto?: string;
}

export interface MergeDecision {
  survivorId: string;
  mergedId: string;
  /** The event identifiers that linked the two profiles (held by either side). */
  linking: IdKey[];
  /** The identifiers the merged profile held, moved to the survivor. */
  moved: IdKey[];
  eventIndex: number;
}

export type ConflictRule = 'MAX_PER_PROFILE' | 'UNMERGED_PAIR';

export interface ConflictDecision {
  eventIndex: number;
  profileId: string;
  otherProfileId?: string;
  identifier?: IdKey;
  rule: ConflictRule;
  /** For MAX_PER_PROFILE: the type whose limit would break. */
  limitType?: IdentifierType;
}

const NEW_ORDER_BASE = Number.MAX_SAFE_INTEGER / 2;

/**
 * The identity graph of the profiles a batch touches, and the rules of DESIGN.md §3 applied to it
 * event by event. Pure and synchronous: the caller loads the relevant part of the graph, runs
 * `resolveEvent` for each event in order, then writes the decisions with set-based statements.
 */
export class IdentityGraph {
  private readonly holder = new Map<IdKey, string>();
  private readonly nodes = new Map<string, ProfileNode>();
  private readonly excluded = new Set<string>();
  private newCount = 0;

  readonly created: ProfileNode[] = [];
  readonly attached = new Map<IdKey, { profileId: string; eventIndex: number }>();
  readonly merges: MergeDecision[] = [];
  readonly conflicts: ConflictDecision[] = [];

  constructor(private readonly rules: IdentityRules) {}

  /** Loads an existing profile with every identifier it holds. */
  addProfile(id: string, seq: number, ids: Iterable<IdKey>): void {
    const node: ProfileNode = { id, order: seq, isNew: false, ids: new Set(ids) };
    this.nodes.set(id, node);
    for (const k of node.ids) this.holder.set(k, id);
  }

  /** Two profiles an admin separated (unmerge): never merged automatically. */
  addExclusion(a: string, b: string): void {
    this.excluded.add(pairKey(a, b));
  }

  /** The live profile a (possibly merged) profile id resolves to. */
  find(id: string): string {
    let n = this.nodes.get(id);
    while (n?.mergedInto) n = this.nodes.get(n.mergedInto);
    return n ? n.id : id;
  }

  holderOf(key: IdKey): string | undefined {
    const h = this.holder.get(key);
    return h === undefined ? undefined : this.find(h);
  }

  profile(id: string): ProfileNode | undefined {
    return this.nodes.get(id);
  }

  /**
   * Resolves one event's identifiers (already normalised and free of blocked values) to the profile
   * the event belongs to, recording merges, attachments and conflicts. Returns the profile id.
   */
  resolveEvent(eventIndex: number, identifiers: EventIdentifier[]): string {
    const ids = dedupe(identifiers).sort((a, b) => a.priority - b.priority);
    const held = ids.filter((i) => this.holderOf(i.key) !== undefined);

    // Step 3: the target.
    let target: ProfileNode;
    if (held.length === 0) {
      target = this.createProfile();
    } else {
      target = this.nodes.get(this.holderOf(held[0].key)!)!;
      const top = ids[0];
      if (this.holderOf(top.key) === undefined && !this.canAccept(target, top)) {
        // The event's strongest identifier belongs to someone the holder cannot be: a new person.
        target = this.createProfile();
        this.attach(target, top, eventIndex);
      }
    }

    // Step 4: merge the other holders in, strongest link first, when the union stays within limits.
    const others: { id: string; linking: IdKey[] }[] = [];
    for (const i of held) {
      const h = this.holderOf(i.key)!;
      if (h === target.id) continue;
      const o = others.find((x) => x.id === h);
      if (o) o.linking.push(i.key);
      else others.push({ id: h, linking: [i.key] });
    }
    for (const o of others) {
      const otherId = this.find(o.id);
      if (otherId === target.id) continue;
      const other = this.nodes.get(otherId)!;
      if (this.excluded.has(pairKey(target.id, other.id))) {
        this.conflicts.push({ eventIndex, profileId: target.id, otherProfileId: other.id, identifier: o.linking[0], rule: 'UNMERGED_PAIR' });
        continue;
      }
      const broken = this.unionBreaks(target, other);
      if (broken) {
        this.conflicts.push({ eventIndex, profileId: target.id, otherProfileId: other.id, identifier: o.linking[0], rule: 'MAX_PER_PROFILE', limitType: broken });
        continue;
      }
      // Explain the merge with the event's identifiers on both sides of the link.
      const targetSide = held.filter((i) => this.holderOf(i.key) === target.id && !o.linking.includes(i.key)).map((i) => i.key);
      target = this.merge(target, other, [...targetSide, ...o.linking], eventIndex);
    }

    // Step 5: attach what nobody holds, within limits.
    for (const i of ids) {
      if (this.holderOf(i.key) !== undefined) continue;
      if (this.canAccept(target, i)) this.attach(target, i, eventIndex);
      else this.conflicts.push({ eventIndex, profileId: target.id, identifier: i.key, rule: 'MAX_PER_PROFILE', limitType: i.type });
    }
    return target.id;
  }

  private createProfile(): ProfileNode {
    const node: ProfileNode = { id: randomUUID(), order: NEW_ORDER_BASE + this.newCount++, isNew: true, ids: new Set() };
    this.nodes.set(node.id, node);
    this.created.push(node);
    return node;
  }

  private attach(p: ProfileNode, i: EventIdentifier, eventIndex: number): void {
    p.ids.add(i.key);
    this.holder.set(i.key, p.id);
    this.attached.set(i.key, { profileId: p.id, eventIndex });
  }

  private count(p: ProfileNode, type: string, namespace: string): number {
    let n = 0;
    for (const k of p.ids) {
      const s = splitIdKey(k);
      if (s.type === type && s.namespace === namespace) n++;
    }
    return n;
  }

  private canAccept(p: ProfileNode, i: EventIdentifier): boolean {
    return p.ids.has(i.key) || this.count(p, i.type, i.namespace) + 1 <= this.rules.maxPerProfile(i.type);
  }

  /** The highest-priority type whose per-profile limit the union of a and b would exceed, if any. */
  private unionBreaks(a: ProfileNode, b: ProfileNode): IdentifierType | undefined {
    const groups = new Map<string, { type: IdentifierType; n: number }>();
    for (const k of new Set([...a.ids, ...b.ids])) {
      const s = splitIdKey(k);
      const g = `${s.type}\u0001${s.namespace}`;
      const e = groups.get(g) ?? { type: s.type, n: 0 };
      e.n++;
      groups.set(g, e);
    }
    let worst: IdentifierType | undefined;
    for (const { type, n } of groups.values()) {
      if (n > this.rules.maxPerProfile(type) && (!worst || this.rules.priority(type) < this.rules.priority(worst))) worst = type;
    }
    return worst;
  }

  /** The older profile survives; the other's identifiers move to it and its id redirects. */
  private merge(a: ProfileNode, b: ProfileNode, linking: IdKey[], eventIndex: number): ProfileNode {
    const [survivor, merged] = a.order <= b.order ? [a, b] : [b, a];
    const moved = [...merged.ids];
    for (const k of moved) {
      survivor.ids.add(k);
      this.holder.set(k, survivor.id);
      const att = this.attached.get(k);
      if (att) att.profileId = survivor.id;
    }
    merged.ids.clear();
    merged.mergedInto = survivor.id;
    for (const pair of [...this.excluded]) {
      const [x, y] = pair.split('|');
      if (x === merged.id || y === merged.id) {
        this.excluded.add(pairKey(x === merged.id ? survivor.id : x, y === merged.id ? survivor.id : y));
      }
    }
    this.merges.push({ survivorId: survivor.id, mergedId: merged.id, linking, moved, eventIndex });
    return survivor;
  }
}

function pairKey(a: string, b: string): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}

function dedupe(ids: EventIdentifier[]): EventIdentifier[] {
  const seen = new Set<IdKey>();
  return ids.filter((i) => (seen.has(i.key) ? false : (seen.add(i.key), true)));
}
