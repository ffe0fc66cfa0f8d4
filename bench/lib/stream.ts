import { rng, type Rng } from '../../src/shared/random';
import { idInput, makePeople } from '../../src/shared/synthetic-people';
import { UnionFind } from '../../src/shared/union-find';

/**
 * The seeded event stream of the ingest benchmark, over the synthetic people the identity tests use
 * (src/shared/synthetic-people.ts); some families share a device, so some links are refused
 * (conflicts) instead of merged.
 */

/** The shape of `EventInput` (GraphQL) and of `RawEvent` (the in-process service). */
export interface BenchIdentifier {
  type: string;
  namespace?: string;
  value: string;
}

export interface BenchEvent {
  messageId: string;
  type: 'track' | 'identify' | 'page';
  name?: string;
  channel: string;
  timestamp: string;
  identifiers: BenchIdentifier[];
  traits?: Record<string, unknown>;
  properties?: Record<string, unknown>;
  context?: Record<string, unknown>;
}

export interface StreamStats {
  events: number;
  people: number;
  /** Events carrying two or more identifiers (each a potential link). */
  links: number;
  /** Links that join identifiers seen before on different (plain union-find) components. */
  mergingLinks: number;
  byKind: Record<string, number>;
}

/** Events per person: with 1–2 identifiers per event this makes ~20% of links merge two profiles. */
export const EVENTS_PER_PERSON = 10;

const CHANNELS = ['wechat_mp', 'wechat_oa', 'wecom', 'app', 'web', 'store'] as const;
const CITIES = ['上海', '北京', '杭州', '深圳', '成都', '广州'];
const LEVELS = ['bronze', 'silver', 'gold', 'platinum'];
const PAGES = ['Home', 'Product', 'Campaign', 'Cart'];

function body(r: Rng, i: number): Pick<BenchEvent, 'type' | 'name' | 'traits' | 'properties'> {
  const x = r.next();
  const sku = `SKU-${r.int(500)}`;
  if (x < 0.55) return { type: 'track', name: 'Product Viewed', properties: { sku, price: 19 + r.int(500) } };
  if (x < 0.65) return { type: 'track', name: 'Product Added', properties: { sku, quantity: 1 + r.int(3) } };
  if (x < 0.72) return { type: 'track', name: 'Order Completed', properties: { orderId: `O-${i}`, revenue: 10 + r.int(200_000) / 100, products: [{ sku }] } };
  if (x < 0.85) {
    const name = r.pick(PAGES);
    return { type: 'page', name, properties: { name, path: `/${name.toLowerCase()}` } };
  }
  if (x < 0.95) return { type: 'identify', traits: { city: r.pick(CITIES), level: r.pick(LEVELS), age: 18 + r.int(50) } };
  return { type: 'track', name: 'Coupon Claimed', properties: { coupon: `C-${r.int(40)}` } };
}

/**
 * `events` events over the `days` (default 60) days before `end`, roughly in time order (±1 h jitter), each carrying
 * 1–2 identifiers of one person, so links appear gradually. Every messageId is unique (no
 * duplicates are generated). About 3% carry `context.sharedBy` (a relation to another person);
 * WeCom events carry `context.staff` (a `served_by` relation).
 */
export function makeStream(events: number, seed: number, end: Date, days = 60): { events: BenchEvent[]; stats: StreamStats } {
  const peopleCount = Math.max(1, Math.round(events / EVENTS_PER_PERSON));
  const people = makePeople(peopleCount, seed, Math.round(peopleCount / 50));
  const r = rng(seed + 1);
  const span = days * 24 * 3600 * 1000;
  const start = end.getTime() - span;
  const out: BenchEvent[] = [];
  const seen = new UnionFind();
  const stats: StreamStats = { events, people: peopleCount, links: 0, mergingLinks: 0, byKind: {} };
  for (let i = 0; i < events; i++) {
    const p = r.pick(people);
    const k = 1 + r.int(2);
    const ids = new Set<string>();
    while (ids.size < Math.min(k, p.ids.length)) ids.add(r.pick(p.ids));
    const list = [...ids];
    const roots = new Set(list.filter((x) => seen.has(x)).map((x) => seen.find(x)));
    if (list.length >= 2) stats.links++;
    if (roots.size >= 2) stats.mergingLinks++;
    for (const x of list) seen.union(x, list[0]);

    const channel = r.pick(CHANNELS);
    const ts = Math.min(end.getTime(), start + Math.floor((span * i) / events) + r.int(7_200_000) - 3_600_000);
    const b = body(r, i);
    const context: Record<string, unknown> = { touchpoint: `qr-${r.int(20)}`, campaign: r.chance(0.3) ? 'double11' : 'always-on' };
    if (channel === 'wecom') context.staff = `staff-${r.int(30)}`;
    if (r.chance(0.03)) {
      const other = r.pick(people).ids.find((x) => x.startsWith('wechat_openid:wx_mp_app'));
      if (other) context.sharedBy = idInput(other);
    }
    stats.byKind[b.name ?? b.type] = (stats.byKind[b.name ?? b.type] ?? 0) + 1;
    out.push({ messageId: `b${seed}-${i}`, ...b, channel, timestamp: new Date(ts).toISOString(), identifiers: list.map(idInput), context });
  }
  return { events: out, stats };
}

export function batches<T>(xs: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += size) out.push(xs.slice(i, i + size));
  return out;
}
