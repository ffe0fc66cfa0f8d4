/**
 * Local calendar days of instants in an IANA time zone, for rollups keyed by the workspace's local
 * day. Every zone's offset is a multiple of 15 minutes (Asia/Kolkata +5:30, Asia/Kathmandu +5:45)
 * and offsets change (DST) only on such a boundary, so the day of a quarter hour is the day of every
 * instant in it: one `Intl` call per quarter hour, cached.
 */
export const QUARTER_MS = 15 * 60_000;

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) formatters.set(timeZone, (f = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' })));
  return f;
}

/** `YYYY-MM-DD` of `ms` in `timeZone`. */
export function localDate(ms: number, timeZone: string): string {
  const parts = formatter(timeZone).formatToParts(new Date(ms));
  const get = (t: string) => parts.find((p) => p.type === t)!.value;
  return `${get('year')}-${get('month')}-${get('day')}`;
}

/** A per-batch cache: the local day of an instant, by quarter hour. */
export class LocalDays {
  private readonly byQuarter = new Map<number, string>();

  constructor(readonly timeZone: string) {}

  of(ms: number): string {
    const q = Math.floor(ms / QUARTER_MS);
    let d = this.byQuarter.get(q);
    if (d === undefined) this.byQuarter.set(q, (d = localDate(q * QUARTER_MS, this.timeZone)));
    return d;
  }
}
