/** One trait value with where and when it was last written (last write wins by event time). */
export interface TraitValue {
  value: unknown;
  channel: string;
  at: string;
}

/** The read model of one profile kept current on ingest (DESIGN.md §4). */
export interface ProfileAggregate {
  id: string;
  firstSeenAt: Date | null;
  lastSeenAt: Date | null;
  channels: string[];
  traits: Record<string, TraitValue>;
  eventCount: number;
  orderCount: number;
  totalSpend: number;
  lastOrderAt: Date | null;
}

export function emptyAggregate(id: string): ProfileAggregate {
  return { id, firstSeenAt: null, lastSeenAt: null, channels: [], traits: {}, eventCount: 0, orderCount: 0, totalSpend: 0, lastOrderAt: null };
}

const minDate = (a: Date | null, b: Date | null) => (!a ? b : !b ? a : a <= b ? a : b);
const maxDate = (a: Date | null, b: Date | null) => (!a ? b : !b ? a : a >= b ? a : b);

export function applyEvent(
  agg: ProfileAggregate,
  e: { ts: Date; channel: string; traits: Record<string, unknown> | null; revenue: number | null },
): void {
  agg.firstSeenAt = minDate(agg.firstSeenAt, e.ts);
  agg.lastSeenAt = maxDate(agg.lastSeenAt, e.ts);
  if (!agg.channels.includes(e.channel)) agg.channels.push(e.channel);
  agg.eventCount++;
  if (e.revenue !== null) {
    agg.orderCount++;
    agg.totalSpend = Math.round((agg.totalSpend + e.revenue) * 100) / 100;
    agg.lastOrderAt = maxDate(agg.lastOrderAt, e.ts);
  }
  if (e.traits) {
    const at = e.ts.toISOString();
    for (const [k, value] of Object.entries(e.traits)) {
      const cur = agg.traits[k];
      if (!cur || cur.at <= at) agg.traits[k] = { value, channel: e.channel, at };
    }
  }
}

/** The survivor of a merge takes both histories: sums, extremes, union, and the newer trait values. */
export function combine(survivor: ProfileAggregate, merged: ProfileAggregate): void {
  survivor.firstSeenAt = minDate(survivor.firstSeenAt, merged.firstSeenAt);
  survivor.lastSeenAt = maxDate(survivor.lastSeenAt, merged.lastSeenAt);
  for (const c of merged.channels) if (!survivor.channels.includes(c)) survivor.channels.push(c);
  survivor.eventCount += merged.eventCount;
  survivor.orderCount += merged.orderCount;
  survivor.totalSpend = Math.round((survivor.totalSpend + merged.totalSpend) * 100) / 100;
  survivor.lastOrderAt = maxDate(survivor.lastOrderAt, merged.lastOrderAt);
  for (const [k, v] of Object.entries(merged.traits)) {
    const cur = survivor.traits[k];
    if (!cur || cur.at < v.at) survivor.traits[k] = v;
  }
}
