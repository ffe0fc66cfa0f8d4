import type { EntityManager } from 'typeorm';
import type { BatchEvent } from '../events';
import { LocalDays } from '../../shared/zone';
import { INTERACTION_EVENTS } from './kpi.catalogue';

const INTERACTIONS = new Set<string>(INTERACTION_EVENTS);

/**
 * Day measures that depend only on each person's own active days, carried forward (DESIGN §5), per
 * local day e and dimension in `kpi_day_counts`:
 *
 * - kind 20 / 21, WAU / MAU: people active in the 7 / 30 days ending with e (a ≤ e < a + N for one
 *   of their active days a).
 * - kind 22, churn: people active on e and on e − 1 (CHURN_RATE of day e: the day before's
 *   active people who are not among them).
 * - kind 23, wake-ups: people active on e whose active day before e is 31 or more days earlier.
 * - kind 24, silence changes: +1 on the day a person becomes silent (31 days after an active day
 *   with no later one yet), −1 the day after they are active again. Silent people on day e (active
 *   before, not in the 30 days before e) are the sum of these up to e.
 *
 * - kinds 25–27, retention D1 / D7 / D30, keyed by cohort day d: people acquired on d in the row's
 *   dimension ('', their first event's `c:` channel and `t:` touchpoint) and active on d + n in any
 *   dimension; kinds 28–30 the same with activity in the acquisition dimension itself (`c:`/`t:` rows
 *   only: a filter on that one channel or touchpoint).
 * - kinds 101–194 (active), 201–294 (interacting), 301–394 (buying), gaps: people in the day's set
 *   whose previous day in it was g days earlier, kind = base + g (g ≥ 93: base + 93; first days:
 *   base + 94).
 *   The distinct people of days [L, R] are Σ over d in [L, R] of those with g > d − L: exact for
 *   ranges up to 93 days, whatever their number of people.
 * - kinds 800–852 / 900–952 / 1000–1052, the cohort matrix of `retentionCohorts` by DAY / WEEK /
 *   MONTH, keyed by the cohort bucket's first day: people acquired in it and active j buckets later,
 *   kind = base + j (`matrix`).
 * - kind 31, active after a first order: people active on e (in the row's dimension) whose first
 *   order there was before e (FIRST_CONVERSION_RATE of day e: active people less these are the
 *   ones who could still convert for the first time).
 *
 * Each person's active days per dimension are kept in `kpi_person_days` (local day numbers, the
 * same days as their bits in the day sets; interacting and buying days under `i:` and `b:` + the
 * dimension, which only have gaps), with the acquisition their retention part was computed
 * with (`acq`: day number, channel, touchpoint) and the day of their first order per dimension (`fo`). A person's part of every count is a function of their
 * days alone (`parts`); a batch that adds days writes the difference between their part after and
 * before, a merge the pooled part minus each person's, a rebuild minus the person's part before
 * their events add it again. A batch costs its people's rows, never the people active in a window.
 */

export const WINDOWS = [7, 30] as const;
/** `kpi_day_counts.kind` of each carried count (no day-set bits have these kinds). */
export const WINDOW_KIND: Record<(typeof WINDOWS)[number], number> = { 7: 20, 30: 21 };
export const CARRIED_KIND = { both: 22, woken: 23, silence: 24 } as const;
/** Days of silence after which activity is a wake-up (SILENT_WAKEUP_RATE: not active in the 30 days before). */
const QUIET_DAYS = 30;

const DAY_MS = 86_400_000;
/** Local date (YYYY-MM-DD) → day number; and back. */
export const dayNumber = (d: string): number => Math.round(Date.parse(`${d}T00:00:00Z`) / DAY_MS);
export const dayString = (n: number): string => new Date(n * DAY_MS).toISOString().slice(0, 10);

/** A person's active day numbers per dimension ('' everyone, `c:<channel>`, `t:<touchpoint>`). */
type Days = Record<string, number[]>;
/** A person's acquisition: local day number, channel and touchpoint of their first event. */
export interface Acq {
  d: number;
  c: string;
  t: string;
}
/** Day number of a person's first order, per dimension. */
type FirstOrders = Record<string, number>;
/** What `kpi_person_days` holds of a person. */
interface Row {
  days: Days;
  acq: Acq | null;
  fo: FirstOrders | null;
  /** Day number of their second order, per dimension (the same day as the first when both fell on it). */
  so: FirstOrders | null;
}

/** `kpi_day_counts.kind` of people active on a day after their first order (in the same dimension). */
export const AFTER_FIRST_ORDER_KIND = 31;
/** Gap kinds of active days after the first order (400 + gap), and of second orders (500 + days since the first, capped). */
export const AFTER_FIRST_GAP_BASE = 400;
export const SECOND_ORDER_GAP_BASE = 500;

/**
 * A person's part of the first-order counts in one dimension: kind 31 and an after-first gap on each
 * active day after their first order f, and their second order s at 500 + (s − f).
 */
function orderPart(days: number[] | undefined, first: number | undefined, second: number | undefined, add: (kind: number, day: number) => void): void {
  if (first === undefined) return;
  (days ?? []).forEach((a, i) => {
    if (a <= first) return;
    add(AFTER_FIRST_ORDER_KIND, a);
    add(gapKind(AFTER_FIRST_GAP_BASE, i ? a - days![i - 1] : undefined), a);
  });
  if (second !== undefined) add(SECOND_ORDER_GAP_BASE + Math.min(second - first, GAP_CAP), second);
}

/** The two smallest of some order days (with repeats): the first and second order days. */
function twoFirst(xs: number[]): [number | undefined, number | undefined] {
  const s = [...xs].sort((a, b) => a - b);
  return [s[0], s[1]];
}

export const RETENTION_DAYS = [1, 7, 30] as const;
/** `kpi_day_counts.kind` of retention on day n: activity in any dimension, or in the acquisition's own. */
export const RETAINED_KIND: Record<'any' | 'same', Record<(typeof RETENTION_DAYS)[number], number>> = {
  any: { 1: 25, 7: 26, 30: 27 },
  same: { 1: 28, 7: 29, 30: 30 },
};

/**
 * The cohort matrix of `retentionCohorts` without a filter, per grain: kind base + j on the first
 * day of the cohort bucket, the people acquired in that bucket who are active j buckets later
 * (j = 0…MATRIX_PERIODS). Buckets are local days, ISO weeks (Monday) and calendar months.
 */
export const MATRIX_BASE = { DAY: 800, WEEK: 900, MONTH: 1000 } as const;
/** The largest `periods` of `retentionCohorts`. */
export const MATRIX_PERIODS = 52;
/** Day number of the Monday of a day's week (day 0, 1970-01-01, was a Thursday). */
export const weekStart = (n: number): number => n - ((((n + 3) % 7) + 7) % 7);
/** Months since 1970-01 of a day number; and the day number of a month's first day. */
export const monthIndex = (n: number): number => {
  const d = new Date(n * DAY_MS);
  return (d.getUTCFullYear() - 1970) * 12 + d.getUTCMonth();
};
export const monthStart = (m: number): number => Math.round(Date.UTC(1970 + Math.floor(m / 12), m % 12, 1) / DAY_MS);

/** A person's part of the cohort matrix: (kind, cohort bucket's first day) for each bucket they were active in after their acquisition. */
export function matrix(active: number[] | undefined, acq: Acq | null, add: (kind: number, day: number) => void): void {
  if (!acq || !active?.length) return;
  const week0 = weekStart(acq.d);
  const month0 = monthIndex(acq.d);
  const weeks = new Set<number>();
  const months = new Set<number>();
  for (const a of active) {
    if (a < acq.d) continue;
    if (a - acq.d <= MATRIX_PERIODS) add(MATRIX_BASE.DAY + a - acq.d, acq.d);
    weeks.add((weekStart(a) - week0) / 7);
    months.add(monthIndex(a) - month0);
  }
  for (const j of weeks) if (j <= MATRIX_PERIODS) add(MATRIX_BASE.WEEK + j, week0);
  for (const j of months) if (j <= MATRIX_PERIODS) add(MATRIX_BASE.MONTH + j, monthStart(month0));
}

/** A person's part of the retention counts: (kind, dimension, cohort day) for each n they came back on, and of the cohort matrix. */
export function retained(days: Days, acq: Acq | null, add: (kind: number, dim: string, day: number) => void): void {
  if (!acq) return;
  matrix(days[''], acq, (kind, day) => add(kind, '', day));
  const on = (dim: string, day: number) => days[dim]?.includes(day) ?? false;
  const c = `c:${acq.c}`;
  const t = `t:${acq.t}`;
  for (const n of RETENTION_DAYS) {
    const back = acq.d + n;
    if (on('', back)) for (const dim of ['', c, t]) add(RETAINED_KIND.any[n], dim, acq.d);
    if (on(c, back)) add(RETAINED_KIND.same[n], c, acq.d);
    if (on(t, back)) add(RETAINED_KIND.same[n], t, acq.d);
  }
}

const sameAcq = (a: Acq | null, b: Acq | null): boolean => (a === null ? b === null : b !== null && a.d === b.d && a.c === b.c && a.t === b.t);

/** Gap kinds: a set's base plus the days since the person's previous day in it (capped; first days at the cap). */
export const GAP_CAP = 93;
/** Sets with gap counts: active, interacting and buying days (kpi_person_days), referring and inviting days (kpi.refs.ts). */
export const GAP_BASE = { active: 100, interacting: 200, buying: 300, referring: 600, inviting: 700 } as const;
/** A day's gap kind: base + days since the previous day (capped at GAP_CAP), or base + GAP_CAP + 1 for a first day. */
export const gapKind = (base: number, gap: number | undefined): number => base + (gap === undefined ? FIRST_GAP : Math.min(gap, GAP_CAP));
export const FIRST_GAP = GAP_CAP + 1;
/** Every gap kind of a set (first days included). */
export const gapKinds = (base: number): number[] => Array.from({ length: FIRST_GAP }, (_, g) => base + g + 1);

/** What a `kpi_person_days.days` key holds: active days of a dimension, or interacting (`i:`) / buying (`b:`) days. */
export function keyOf(key: string): { dim: string; base: number; full: boolean } {
  if (key.startsWith('i:')) return { dim: key.slice(2), base: GAP_BASE.interacting, full: false };
  if (key.startsWith('b:')) return { dim: key.slice(2), base: GAP_BASE.buying, full: false };
  return { dim: key, base: GAP_BASE.active, full: true };
}

/**
 * One person's part of the carried counts of one dimension, keyed `${kind}|${day}`: gaps (of the
 * set `base`) and, for active days (`full`), windows, churn, wake-ups and silence.
 */
export function parts(days: Iterable<number>, base: number = GAP_BASE.active, full = true): Map<string, number> {
  const out = new Map<string, number>();
  const add = (kind: number, e: number, n = 1) => {
    const key = `${kind}|${e}`;
    const v = (out.get(key) ?? 0) + n;
    if (v) out.set(key, v);
    else out.delete(key);
  };
  const sorted = [...new Set(days)].sort((a, b) => a - b);
  sorted.forEach((a, i) => add(gapKind(base, i ? a - sorted[i - 1] : undefined), a));
  if (!full) return out;
  for (const n of WINDOWS) {
    const seen = new Set<number>();
    for (const a of sorted) {
      for (let e = a; e < a + n; e++) {
        if (seen.has(e)) continue;
        seen.add(e);
        add(WINDOW_KIND[n], e);
      }
    }
  }
  for (let i = 0; i < sorted.length; i++) {
    const a = sorted[i];
    const next = sorted[i + 1];
    if (i > 0 && sorted[i - 1] === a - 1) add(CARRIED_KIND.both, a);
    if (i > 0 && sorted[i - 1] <= a - QUIET_DAYS - 1) add(CARRIED_KIND.woken, a);
    // Silent from a + 31 until (and including) the next active day, if that comes later.
    if (next === undefined || next >= a + QUIET_DAYS + 1) {
      add(CARRIED_KIND.silence, a + QUIET_DAYS + 1);
      if (next !== undefined) add(CARRIED_KIND.silence, next + 1, -1);
    }
  }
  return out;
}

/**
 * Adds day f to a person's sorted active days (in place) and reports how their part changes:
 * only the neighbours of f matter (p, the last day before it; q, the first after), so this costs
 * a binary search, not a pass over their days. Equal to parts(after) − parts(before).
 */
export function addDay(sorted: number[], f: number, add: (kind: number, e: number, n: number) => void, base: number = GAP_BASE.active, full = true): void {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] < f) lo = mid + 1;
    else hi = mid;
  }
  if (sorted[lo] === f) return;
  const p = lo > 0 ? sorted[lo - 1] : undefined;
  const q = lo < sorted.length ? sorted[lo] : undefined;
  // Gaps: f's is from p; q's was from p and is from f now.
  add(gapKind(base, p === undefined ? undefined : f - p), f, 1);
  if (q !== undefined) {
    add(gapKind(base, p === undefined ? undefined : q - p), q, -1);
    add(gapKind(base, q - f), q, 1);
  }
  if (!full) {
    sorted.splice(lo, 0, f);
    return;
  }
  // Windows: f newly covers e in [f, f + N − 1] unless p still covers e (e ≤ p + N − 1) or q does (e ≥ q).
  for (const n of WINDOWS) {
    const from = Math.max(f, p === undefined ? f : p + n);
    const to = Math.min(f + n - 1, q === undefined ? f + n - 1 : q - 1);
    for (let e = from; e <= to; e++) add(WINDOW_KIND[n], e, 1);
  }
  // Churn: active on e and e − 1.
  if (p === f - 1) add(CARRIED_KIND.both, f, 1);
  if (q === f + 1) add(CARRIED_KIND.both, q, 1);
  // Wake-ups: f after a quiet p; q's day before becomes f instead of p.
  if (p !== undefined && p <= f - QUIET_DAYS - 1) add(CARRIED_KIND.woken, f, 1);
  if (q !== undefined) {
    const was = p !== undefined && p <= q - QUIET_DAYS - 1 ? 1 : 0;
    const now = f <= q - QUIET_DAYS - 1 ? 1 : 0;
    if (now !== was) add(CARRIED_KIND.woken, q, now - was);
  }
  // Silence: the pair (p, q) gives way to (p, f) and (f, q).
  const pair = (a: number | undefined, b: number | undefined, sign: 1 | -1) => {
    if (a === undefined) return;
    if (b === undefined || b >= a + QUIET_DAYS + 1) {
      add(CARRIED_KIND.silence, a + QUIET_DAYS + 1, sign);
      if (b !== undefined) add(CARRIED_KIND.silence, b + 1, -sign);
    }
  };
  pair(p, q, -1);
  pair(p, f, 1);
  pair(f, q, 1);
  sorted.splice(lo, 0, f);
}

/** Count changes keyed `${kind}|${dim}|${day}`. */
class Gains {
  readonly map = new Map<string, number>();

  add(kind: number, dim: string, day: number, n: number): void {
    const k = `${kind}|${dim}|${day}`;
    this.map.set(k, (this.map.get(k) ?? 0) + n);
  }

  /** Adds `sign ×` a person's part for one key of their days (a dimension, or `i:`/`b:` + one). */
  part(key: string, days: Iterable<number>, sign: 1 | -1): void {
    const { dim, base, full } = keyOf(key);
    for (const [key, n] of parts(days, base, full)) {
      const at = key.indexOf('|');
      const k = `${key.slice(0, at)}|${dim}|${key.slice(at + 1)}`;
      this.map.set(k, (this.map.get(k) ?? 0) + sign * n);
    }
  }

  /** Adds `sign ×` a person's retention part and their first-order part. */
  retention(row: Row, sign: 1 | -1): void {
    retained(row.days, row.acq, (kind, dim, day) => this.add(kind, dim, day, sign));
    for (const [dim, first] of Object.entries(row.fo ?? {})) orderPart(row.days[dim], first, row.so?.[dim], (kind, day) => this.add(kind, dim, day, sign));
  }

  /** Writes the changes and, in the same statement, people's new rows (`days`, when given). */
  async write(em: EntityManager, ws: string, days: Map<string, Row> = new Map()): Promise<void> {
    const rows = [...this.map]
      .filter(([, n]) => n !== 0)
      .map(([key, n]) => {
        const [k, m, d] = splitKey(key);
        return { k: Number(k), m, d: dayString(Number(d)), n };
      });
    if (!rows.length && !days.size) return;
    await em.query(
      `WITH pd AS (INSERT INTO kpi_person_days AS k (workspace_id, profile_id, days, acq, fo, so)
                   SELECT $1, u.p, u.days, u.acq, u.fo, u.so FROM jsonb_to_recordset($3::jsonb) AS u(p uuid, days jsonb, acq jsonb, fo jsonb, so jsonb)
                   ON CONFLICT (workspace_id, profile_id) DO UPDATE SET days = EXCLUDED.days, acq = EXCLUDED.acq, fo = EXCLUDED.fo, so = EXCLUDED.so)
       INSERT INTO kpi_day_counts AS c (workspace_id, kind, dim, day, people)
       SELECT $1, u.k, u.m, u.d, u.n FROM jsonb_to_recordset($2::jsonb) AS u(k smallint, m text, d date, n int)
       ON CONFLICT (workspace_id, kind, dim, day) DO UPDATE SET people = c.people + EXCLUDED.people`,
      [ws, JSON.stringify(rows), JSON.stringify([...days].map(([p, d]) => ({ p, days: d.days, acq: d.acq, fo: d.fo, so: d.so })))],
    );
  }
}

/** `kind|dim|day` where dim may itself hold '|'. */
function splitKey(key: string): [string, string, string] {
  const a = key.indexOf('|');
  const b = key.lastIndexOf('|');
  return [key.slice(0, a), key.slice(a + 1, b), key.slice(b + 1)];
}

export class KpiWindowRepository {
  private async read(em: EntityManager, ws: string, ids: string[]): Promise<Map<string, Row>> {
    if (!ids.length) return new Map();
    const rows: (Row & { p: string })[] = await em.query(`SELECT profile_id AS p, days, acq, fo, so FROM kpi_person_days WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[])`, [ws, ids]);
    return new Map(rows.map((r) => [r.p, { days: r.days, acq: r.acq, fo: r.fo, so: r.so }]));
  }

  /**
   * Adds a batch's active days (events carry their survivor profile ids), in the zone `tz`, with
   * the acquisitions the batch made or moved (`acquired`; the others stay as they were, like their
   * acquisition-day bits).
   */
  async add(
    em: EntityManager,
    ws: string,
    tz: string,
    events: Pick<BatchEvent, 'profileId' | 'ts' | 'channel' | 'context' | 'revenue' | 'type' | 'name'>[],
    acquired: Map<string, { ts: Date; c: string; t: string }>,
  ): Promise<void> {
    if (!events.length) return;
    const local = new LocalDays(tz);
    const acqOf = (p: string): Acq | null => {
      const a = acquired.get(p);
      return a ? { d: dayNumber(local.of(new Date(a.ts).getTime())), c: a.c, t: a.t } : null;
    };
    const batch = new Map<string, Map<string, Set<number>>>();
    // The order days of the batch per person and dimension (repeats kept: two orders on a day).
    const orders = new Map<string, Record<string, number[]>>();
    for (const e of events) {
      const day = dayNumber(local.of(e.ts.getTime()));
      let dims = batch.get(e.profileId);
      if (!dims) batch.set(e.profileId, (dims = new Map()));
      const t = e.context?.touchpoint;
      let fo = orders.get(e.profileId);
      if (e.revenue !== null && !fo) orders.set(e.profileId, (fo = {}));
      const interacting = e.type === 'track' && !!e.name && INTERACTIONS.has(e.name);
      for (const dim of ['', `c:${e.channel}`, `t:${typeof t === 'string' ? t.slice(0, 200) : ''}`]) {
        for (const key of [dim, ...(interacting ? [`i:${dim}`] : []), ...(e.revenue !== null ? [`b:${dim}`] : [])]) {
          let s = dims.get(key);
          if (!s) dims.set(key, (s = new Set()));
          s.add(day);
        }
        if (fo && e.revenue !== null) (fo[dim] ??= []).push(day);
      }
    }
    const had = await this.read(em, ws, [...batch.keys()]);
    const gains = new Gains();
    const changed = new Map<string, Row>();
    for (const [p, dims] of batch) {
      const before: Row = had.get(p) ?? { days: {}, acq: null, fo: null, so: null };
      const days: Days = { ...before.days };
      const fo: FirstOrders = { ...(before.fo ?? {}) };
      const so: FirstOrders = { ...(before.so ?? {}) };
      const batchOrders = orders.get(p) ?? {};
      let any = false;
      for (const [key, add] of dims) {
        // `i:`/`b:` keys have gaps only (and no first orders: `fo` is keyed by dimension).
        const { dim, base, full } = keyOf(key);
        const [f0, s0] = [fo[dim], so[dim]];
        const [f1, s1] = full && batchOrders[dim] ? twoFirst([...[f0, s0].filter((x): x is number => x !== undefined), ...batchOrders[dim]]) : [f0, s0];
        const moved = full && (f1 !== f0 || s1 !== s0);
        const list = [...(days[key] ?? [])];
        const n = list.length;
        for (const f of add) {
          const had = list.length;
          addDay(
            list,
            f,
            (kind, e, by) => {
              gains.add(kind, dim, e, by);
              // Gaps of days after an unchanged first order are also after-first gaps (a moved first order recounts below).
              if (full && !moved && f0 !== undefined && e > f0 && kind > GAP_BASE.active && kind <= GAP_BASE.active + FIRST_GAP) gains.add(kind - GAP_BASE.active + AFTER_FIRST_GAP_BASE, dim, e, by);
            },
            base,
            full,
          );
          if (full && list.length > had && !moved && f0 !== undefined && f > f0) gains.add(AFTER_FIRST_ORDER_KIND, dim, f, 1);
        }
        if (moved) {
          orderPart(before.days[key], f0, s0, (kind, day) => gains.add(kind, dim, day, -1));
          orderPart(list, f1, s1, (kind, day) => gains.add(kind, dim, day, 1));
          if (f1 !== undefined) fo[dim] = f1;
          if (s1 !== undefined) so[dim] = s1;
          any = true;
        }
        if (list.length === n) continue;
        any = true;
        days[key] = list;
      }
      const acq = acquired.has(p) ? acqOf(p) : before.acq;
      if (!any && sameAcq(acq, before.acq)) continue;
      // Retention: a person's part is a handful of rows, so it is taken out and put back whole.
      const after: Row = { days, acq, fo: Object.keys(fo).length ? fo : null, so: Object.keys(so).length ? so : null };
      retained(before.days, before.acq, (kind, dim, day) => gains.add(kind, dim, day, -1));
      retained(after.days, after.acq, (kind, dim, day) => gains.add(kind, dim, day, 1));
      changed.set(p, after);
    }
    await gains.write(em, ws, changed);
  }

  /** Pools merged-away people's days into their survivors', whose acquisition is now `acquired`'s (zone `tz`). */
  async fold(em: EntityManager, ws: string, tz: string, merged: { mergedId: string; survivorId: string }[], acquired: Map<string, { ts: Date; c: string; t: string }>): Promise<void> {
    if (!merged.length) return;
    const local = new LocalDays(tz);
    const rows = await this.read(em, ws, [...new Set(merged.flatMap((m) => [m.mergedId, m.survivorId]))]);
    const groups = new Map<string, string[]>();
    for (const m of merged) {
      if (!rows.has(m.mergedId)) continue;
      const g = groups.get(m.survivorId);
      if (g) g.push(m.mergedId);
      else groups.set(m.survivorId, [m.mergedId]);
    }
    if (!groups.size) return;
    const gains = new Gains();
    const next = new Map<string, Row>();
    for (const [s, ms] of groups) {
      const people = [s, ...ms].filter((p) => rows.has(p)).map((p) => rows.get(p)!);
      const pooled: Days = {};
      for (const dim of new Set(people.flatMap((r) => Object.keys(r.days)))) {
        const lists = people.map((r) => r.days[dim] ?? []).filter((l) => l.length);
        const all = new Set(lists.flat());
        pooled[dim] = [...all].sort((a, b) => a - b);
        if (lists.length < 2) continue;
        for (const l of lists) gains.part(dim, l, -1);
        gains.part(dim, all, 1);
      }
      const a = acquired.get(s);
      // First and second orders: the two earliest of everyone's.
      const fo: FirstOrders = {};
      const so: FirstOrders = {};
      for (const dim of new Set(people.flatMap((r) => Object.keys(r.fo ?? {})))) {
        const [first, second] = twoFirst(people.flatMap((r) => [r.fo?.[dim], r.so?.[dim]].filter((x): x is number => x !== undefined)));
        if (first !== undefined) fo[dim] = first;
        if (second !== undefined) so[dim] = second;
      }
      const row: Row = {
        days: pooled,
        acq: a ? { d: dayNumber(local.of(new Date(a.ts).getTime())), c: a.c, t: a.t } : null,
        fo: Object.keys(fo).length ? fo : null,
        so: Object.keys(so).length ? so : null,
      };
      for (const r of people) gains.retention(r, -1);
      gains.retention(row, 1);
      next.set(s, row);
    }
    await em.query(`DELETE FROM kpi_person_days WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[])`, [ws, [...groups.values()].flat()]);
    await gains.write(em, ws, next);
  }

  /** Takes people's days and what they cover away (a rebuild adds them again from their events). */
  async drop(em: EntityManager, ws: string, ids: string[]): Promise<void> {
    const rows = await this.read(em, ws, ids);
    if (!rows.size) return;
    const gains = new Gains();
    for (const row of rows.values()) {
      for (const [dim, list] of Object.entries(row.days)) gains.part(dim, list, -1);
      gains.retention(row, -1);
    }
    await gains.write(em, ws);
    await em.query(`DELETE FROM kpi_person_days WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[])`, [ws, [...rows.keys()]]);
  }
}
