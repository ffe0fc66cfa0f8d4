import type { EntityManager } from 'typeorm';
import type { BatchEvent } from '../events';
import { INTERACTION_EVENTS, type Base } from './kpi.catalogue';
import { addSignals, noSignals, signalAddUp, signalCols, signalSums, signalTypes, SIGNALS } from './kpi.signals';
import { LocalDays, QUARTER_MS } from '../../shared/zone';
import type { Breakdown, Bucket, KpiFilterSpec } from './kpi.repository';
import { AFTER_FIRST_GAP_BASE, AFTER_FIRST_ORDER_KIND, CARRIED_KIND, FIRST_GAP, GAP_BASE, GAP_CAP, MATRIX_BASE, MATRIX_PERIODS, RETAINED_KIND, SECOND_ORDER_GAP_BASE, WINDOW_KIND, dayNumber, gapKinds, monthIndex, monthStart, weekStart } from './kpi.windows';
import { REF_KIND } from './kpi.refs';
import { oneTrip, type Reader } from '../../platform/db/one-trip';

const next = (d: string) => new Date(Date.parse(`${d}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);

/**
 * Rollups at the grain of the answer (DESIGN §5):
 *
 * - `kpi_day_people`: for each local day of the workspace's zone, kind (active, interacting,
 *   buyer), dimension ('' = everyone, `c:<channel>`, `t:<touchpoint>`) and chunk of 4,096 person
 *   ordinals, the exact set of people as a bitmap (`bit(4096)`). A distinct count over any set of
 *   days is `bit_count` of the OR of their chunks: exact, and its cost depends on days × chunks, not
 *   on events or people in the range.
 * - `kpi_day_counts`: the number of people in each day set, kept by the statements that set and
 *   clear bits (a bit already set adds nothing). Counts per day (DAU, a day's active people, new
 *   people, profiles to date) read one row per day instead of every chunk; distinct people over
 *   several days still OR the chunks.
 * - `kpi_hour_counts` (kpi.hours.ts): people and sessions per UTC clock hour.
 * - `kpi_quarter_totals`: per UTC quarter hour and dimension, the additive measures (events,
 *   orders, revenue, NPS answers). Quarter hours are local-day aligned in every zone, so these never
 *   need a rebuild when the zone changes; the HOUR grain reads them.
 * - `kpi_day_totals`: the same per local day of the zone the batch was written in (one row per day
 *   instead of 96); DAY grain and coarser read them. A zone change rebuilds them with the day sets.
 * - Person ordinals (`kpi_profiles.ordinal`) are dense per workspace, handed out by
 *   `kpi_rollup_state.next_ordinal`; a merge moves the merged-away person's bits to the survivor's
 *   ordinal, an unmerge or rebuild clears a person's bits and sets them again from their events.
 * - `kpi_rollup_state.time_zone` is the zone every day set is consistent with. A zone change clears
 *   it: until `siyu recompute --parts kpis` has rebuilt every person, queries take the slower path
 *   over `kpi_activity` (correct, never stale numbers).
 */
export const CHUNK_BITS = 4096;
const ZERO = `repeat('0', ${CHUNK_BITS})::bit(${CHUNK_BITS})`;
/** Adds a statement's `gain (d, k, m, n)` to the day counts (`kpi_day_counts`), which stay the bit counts of the day sets. */
const COUNT_UPSERT = `INSERT INTO kpi_day_counts AS c (workspace_id, kind, dim, day, people)
       SELECT $1, g.k, g.m, g.d, g.n FROM gain g WHERE g.n <> 0
       ON CONFLICT (workspace_id, kind, dim, day) DO UPDATE SET people = c.people + EXCLUDED.people`;

export const enum SetKind {
  ACTIVE = 0,
  INTERACTING = 1,
  BUYER = 2,
  /** The day of the person's first order (one bit per person and dimension). */
  FIRST_ORDER = 3,
  /** The day of the person's second order. */
  SECOND_ORDER = 4,
  /** The day of the person's first event, in the dimensions of that event (acquisition: 新增). */
  NEW = 5,
  /** The day of the person's first order when their second order is on the same day (REPURCHASE_RATE). */
  FIRST_TWO_SAME_DAY = 10,
}

/** The day set (its day count in `kpi_day_counts`) whose people each gap-count set splits by gap. */
const DAY_SET: Record<keyof typeof GAP_BASE, number> = {
  active: SetKind.ACTIVE,
  interacting: SetKind.INTERACTING,
  buying: SetKind.BUYER,
  referring: REF_KIND.referrer,
  inviting: REF_KIND.inviter,
};

/** A person's acquisition (first event) and ordinal, as `kpi_profiles` holds them. */
export interface Acquisition {
  o: number;
  ts: Date;
  c: string;
  t: string;
}

/** The two earliest of some instants (ms), earliest first. */
function twoEarliest(xs: number[]): [number, number | null] {
  const s = [...xs].sort((a, b) => a - b);
  return [s[0], s.length > 1 ? s[1] : null];
}

interface BuyerRow {
  p: string;
  m: string;
  f: Date;
  s: Date | null;
}

/** Breakdowns and filters by current membership (stage, level, tags, segments, experiment variant, staff owner): they change without events. */
export function byMembership(breakdown: Breakdown, filter: KpiFilterSpec): boolean {
  return (
    breakdown === 'STAGE' || breakdown === 'LEVEL' || breakdown === 'TAG' || breakdown === 'SEGMENT' || breakdown === 'EXPERIMENT_VARIANT' || breakdown === 'STAFF' ||
    !!(filter.stage || filter.level || filter.tag || filter.segment || filter.experiment || filter.staff)
  );
}

/** What the day sets and quarter totals can answer: the filter and breakdown need one dimension family at most. */
export function setsCanAnswer(breakdown: Breakdown, filter: KpiFilterSpec): boolean {
  if (byMembership(breakdown, filter)) return false;
  const ch = !!filter.channels?.length || breakdown === 'CHANNEL';
  const tp = !!filter.touchpoints?.length || breakdown === 'TOUCHPOINT';
  return !(ch && tp);
}

/**
 * Whether every breakdown key reads exactly one dimension, so a count of people per day (or hour)
 * can be read as it is: not so for a filter on several channels or touchpoints without the
 * matching breakdown, whose people are the union over those dimensions.
 */
export function oneDimPerKey(breakdown: Breakdown, filter: KpiFilterSpec): boolean {
  if ((filter.channels?.length ?? 0) > 1 && breakdown !== 'CHANNEL') return false;
  if ((filter.touchpoints?.length ?? 0) > 1 && breakdown !== 'TOUCHPOINT') return false;
  return true;
}

/** Adds measure rows (`i`: bucket, `k`: breakdown key, other columns: measures) into `out`, keyed `${i}|${k}`. */
export function accumulate(out: Map<string, Base>, rows: Record<string, unknown>[]): void {
  for (const r of rows) {
    const key = `${r.i}|${r.k}`;
    const b = out.get(key) ?? {};
    for (const [name, v] of Object.entries(r)) if (name !== 'i' && name !== 'k' && v !== null) b[name] = (b[name] ?? 0) + Number(v);
    out.set(key, b);
  }
}

type SetRow = [day: string, kind: number, dim: string, ordinal: number];

interface TotalRow {
  q: string;
  m: string;
  ev: number;
  or: number;
  rv: number;
  nr: number;
  np: number;
  nd: number;
  /** Signal counts by column (kpi.signals.ts). */
  [signal: string]: string | number;
}

/** SQL of the day sets, quarter totals and person ordinals. */
export class KpiSetRepository {
  /**
   * Cohort cells of `retentionCohorts` without a filter, from the day sets: `${c}|-1` the people
   * acquired in bucket c (NEW bits of its days), `${c}|${j}` those of them active in bucket c + j
   * (the AND of the two unions per chunk). Cost by days × chunks, not people; local days exactly.
   */
  async cohortCells(em: EntityManager, ws: string, buckets: Bucket[], cohorts: number, periods: number): Promise<Map<string, number>> {
    const rows: { c: string; j: string; n: string }[] = await em.query(
      `WITH b AS (SELECT * FROM unnest($2::date[], $3::date[]) WITH ORDINALITY AS b(ld, le, i)),
       nw AS (SELECT b.i AS c, d.chunk, bit_or(d.bits) AS u FROM b
              JOIN kpi_day_people d ON d.workspace_id = $1 AND d.kind = ${SetKind.NEW} AND d.dim = '' AND d.day >= b.ld AND d.day < b.le
              WHERE b.i <= $4 GROUP BY 1, 2),
       ac AS (SELECT b.i AS a, d.chunk, bit_or(d.bits) AS u FROM b
              JOIN kpi_day_people d ON d.workspace_id = $1 AND d.kind = ${SetKind.ACTIVE} AND d.dim = '' AND d.day >= b.ld AND d.day < b.le
              GROUP BY 1, 2)
       SELECT nw.c, -1 AS j, sum(bit_count(nw.u)) AS n FROM nw GROUP BY 1
       UNION ALL
       SELECT nw.c, ac.a - nw.c, sum(bit_count(nw.u & ac.u)) FROM nw JOIN ac ON ac.chunk = nw.chunk AND ac.a >= nw.c AND ac.a <= nw.c + $5 GROUP BY 1, 2`,
      [ws, buckets.map((b) => b.localStart.slice(0, 10)), buckets.map((b) => b.localEnd.slice(0, 10)), cohorts, periods],
    );
    return new Map(rows.map((r) => [`${r.c}|${r.j}`, Number(r.n)]));
  }

  /**
   * Cohort cells from the carried cohort matrix (kpi.windows.ts `matrix`) when every bucket the
   * cells use is a whole local day, ISO week or calendar month: one row per cell, whatever the
   * number of people or days. Null when a bucket is clipped by the range (the caller ORs day sets).
   */
  async cohortMatrix(em: EntityManager, ws: string, grain: 'DAY' | 'WEEK' | 'MONTH', buckets: Bucket[], cohorts: number, periods: number): Promise<Map<string, number> | null> {
    if (periods > MATRIX_PERIODS) return null;
    const used = buckets.slice(0, cohorts + periods);
    const whole = used.every((b) => {
      if (!b.localStart.endsWith('T00:00:00') || !b.localEnd.endsWith('T00:00:00')) return false;
      const start = dayNumber(b.localStart.slice(0, 10));
      const end = dayNumber(b.localEnd.slice(0, 10));
      if (grain === 'DAY') return end === start + 1;
      if (grain === 'WEEK') return weekStart(start) === start && end === start + 7;
      const m = monthIndex(start);
      return monthStart(m) === start && end === monthStart(m + 1);
    });
    if (!whole) return null;
    const base = MATRIX_BASE[grain];
    const rows: { c: string; j: string; n: string }[] = await em.query(
      `WITH b AS (SELECT * FROM unnest($2::date[], $3::date[]) WITH ORDINALITY AS b(ld, le, i))
       SELECT b.i AS c, -1 AS j, sum(d.people) AS n FROM b
       JOIN kpi_day_counts d ON d.workspace_id = $1 AND d.kind = ${SetKind.NEW} AND d.dim = '' AND d.day >= b.ld AND d.day < b.le
       GROUP BY 1
       UNION ALL
       SELECT b.i, d.kind - $4, d.people FROM b
       JOIN kpi_day_counts d ON d.workspace_id = $1 AND d.kind BETWEEN $4 AND $4 + $5 AND d.dim = '' AND d.day = b.ld`,
      [ws, used.slice(0, cohorts).map((b) => b.localStart.slice(0, 10)), used.slice(0, cohorts).map((b) => b.localEnd.slice(0, 10)), base, periods],
    );
    return new Map(rows.map((r) => [`${r.c}|${r.j}`, Number(r.n)]));
  }

  /** The workspace's zone and the zone its day sets are consistent with (null: being rebuilt). */
  async zones(em: EntityManager, ws: string): Promise<{ tz: string; consistent: boolean; refsReady: boolean }> {
    const [r]: { tz: string; marker: string | null; present: boolean; refs: boolean | null }[] = await em.query(
      `SELECT w.time_zone AS tz, s.time_zone AS marker, s.workspace_id IS NOT NULL AS present, s.refs_ready AS refs FROM workspaces w LEFT JOIN kpi_rollup_state s ON s.workspace_id = w.id WHERE w.id = $1`,
      [ws],
    );
    // No state yet: nothing was ever rolled up, so the (empty) sets are consistent with any zone.
    const consistent = !!r && (!r.present || r.marker === r.tz);
    // Referral sets (kpi.refs.ts) exist for workspaces rolled up since they were added, or rebuilt since.
    return { tz: r?.tz ?? 'Asia/Shanghai', consistent, refsReady: consistent && r.refs !== false };
  }

  /**
   * The zone a batch writes its day sets in: the workspace's. Writing in a zone other than the one
   * the sets are consistent with makes them inconsistent until a full rebuild (`rebuilt`).
   */
  async writeZone(em: EntityManager, ws: string): Promise<string> {
    const [r]: { tz: string }[] = await em.query(
      `WITH w AS (SELECT time_zone AS tz FROM workspaces WHERE id = $1),
       off AS (UPDATE kpi_rollup_state s SET time_zone = NULL FROM w WHERE s.workspace_id = $1 AND s.time_zone IS DISTINCT FROM w.tz AND s.time_zone IS NOT NULL RETURNING 1)
       SELECT tz FROM w, (SELECT count(*) FROM off) c`,
      [ws],
    );
    return r?.tz ?? 'Asia/Shanghai';
  }

  /** Ordinals of people, handing out new ones (from `reuse` when given) to those without. */
  async ordinals(em: EntityManager, ws: string, tz: string, ids: string[], reuse?: Map<string, number>, known?: Map<string, Acquisition>): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    if (!ids.length) return out;
    // `known`: the people's acquisition rows, already read by the caller (their ordinals are in them).
    const rows: { p: string; o: number }[] = known
      ? [...known].map(([p, a]) => ({ p, o: a.o }))
      : await em.query(`SELECT profile_id AS p, ordinal AS o FROM kpi_profiles WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[])`, [ws, ids]);
    for (const r of rows) out.set(r.p, r.o);
    const missing = ids.filter((id) => !out.has(id) && !reuse?.has(id));
    for (const id of ids) if (!out.has(id) && reuse?.has(id)) out.set(id, reuse.get(id)!);
    // Nobody new: the state row exists (whoever got an ordinal made it), and nothing changes in it.
    if (!missing.length) return out;
    // The first state row of a workspace starts consistent with its zone (there was nothing before).
    const [{ first }]: { first: number }[] = await em.query(
      `INSERT INTO kpi_rollup_state AS s (workspace_id, next_ordinal, time_zone) VALUES ($1, $2, $3)
       ON CONFLICT (workspace_id) DO UPDATE SET next_ordinal = s.next_ordinal + EXCLUDED.next_ordinal
       RETURNING next_ordinal - $2 AS first`,
      [ws, missing.length, tz],
    );
    missing.forEach((id, i) => out.set(id, first + i));
    return out;
  }

  /** The acquisition rows of people (those with one). */
  async acquisitions(em: EntityManager, ws: string, ids: string[]): Promise<Map<string, Acquisition>> {
    if (!ids.length) return new Map();
    const rows: (Acquisition & { p: string })[] = await em.query(
      `SELECT profile_id AS p, ordinal AS o, first_ts AS ts, first_channel AS c, first_touchpoint AS t FROM kpi_profiles WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[])`,
      [ws, ids],
    );
    return new Map(rows.map((r) => [r.p, r]));
  }

  /** Moves acquisition-day (NEW) bits: clears those of `was`, sets those of `now`, at ordinal `o`. */
  async moveNew(em: EntityManager, ws: string, tz: string, changes: { o: number; was?: Omit<Acquisition, 'o'>; now?: Omit<Acquisition, 'o'> }[]): Promise<void> {
    const days = new LocalDays(tz);
    const bits = (a: Omit<Acquisition, 'o'>, o: number): SetRow[] => {
      const day = days.of(new Date(a.ts).getTime());
      return ['', `c:${a.c}`, `t:${a.t}`].map((m) => [day, SetKind.NEW, m, o]);
    };
    await this.clearSome(
      em,
      ws,
      changes.flatMap((x) => (x.was ? bits(x.was, x.o) : [])),
    );
    await this.orBits(
      em,
      ws,
      changes.flatMap((x) => (x.now ? bits(x.now, x.o) : [])),
    );
  }

  /** Adds a batch's people to the day sets (one statement); events carry their survivor profile id. */
  async addPeople(em: EntityManager, ws: string, tz: string, events: Omit<BatchEvent, 'tags' | 'traits'>[], ordinal: Map<string, number>): Promise<void> {
    if (!events.length) return;
    const days = new LocalDays(tz);
    const interactions = new Set(INTERACTION_EVENTS);
    const seen = new Set<string>();
    const rows: SetRow[] = [];
    const add = (day: string, kind: number, dim: string, o: number) => {
      const k = `${day}|${kind}|${dim}|${o}`;
      if (seen.has(k)) return;
      seen.add(k);
      rows.push([day, kind, dim, o]);
    };
    for (const e of events) {
      // Every person of the batch was given an ordinal before (KpiRepository.addEvents).
      const o = ordinal.get(e.profileId)!;
      const day = days.of(e.ts.getTime());
      const kinds = [SetKind.ACTIVE];
      if (e.type === 'track' && e.name && interactions.has(e.name)) kinds.push(SetKind.INTERACTING);
      if (e.revenue !== null) kinds.push(SetKind.BUYER);
      for (const kind of kinds) for (const dim of dimsOf(e)) add(day, kind, dim, o);
    }
    await this.orBits(em, ws, rows);
  }

  async orBits(em: EntityManager, ws: string, rows: SetRow[]): Promise<void> {
    if (!rows.length) return;
    // The bits a row did not have yet are what the day's count gains (the CTEs all see the rows as they were).
    await em.query(
      `WITH u AS (SELECT u.d, u.k, u.m, u.o / ${CHUNK_BITS} AS chunk, bit_or(set_bit(${ZERO}, u.o % ${CHUNK_BITS}, 1)) AS mask
                  FROM jsonb_to_recordset($2::jsonb) AS u(d date, k smallint, m text, o int) GROUP BY 1, 2, 3, 4),
       up AS (INSERT INTO kpi_day_people AS k (workspace_id, day, kind, dim, chunk, bits)
              SELECT $1, u.d, u.k, u.m, u.chunk, u.mask FROM u
              ON CONFLICT (workspace_id, kind, dim, day, chunk) DO UPDATE SET bits = k.bits | EXCLUDED.bits),
       gain AS (SELECT u.d, u.k, u.m, sum(bit_count(u.mask & ~coalesce(x.bits, ${ZERO}))) AS n
                FROM u LEFT JOIN kpi_day_people x ON x.workspace_id = $1 AND x.kind = u.k AND x.dim = u.m AND x.day = u.d AND x.chunk = u.chunk
                GROUP BY 1, 2, 3)
       ${COUNT_UPSERT}`,
      [ws, JSON.stringify(rows.map(([d, k, m, o]) => ({ d, k, m, o })))],
    );
  }

  /**
   * Carries each buyer's first and second order forward (per dimension, `kpi_buyers`) from the
   * batch's orders alone, and keeps the FIRST_ORDER / SECOND_ORDER day sets in step: a late order
   * earlier than the known ones moves the bits to its day.
   */
  async addOrders(em: EntityManager, ws: string, tz: string, events: Omit<BatchEvent, 'tags' | 'traits'>[], ordinal: Map<string, number>): Promise<void> {
    const batch = new Map<string, { p: string; m: string; ts: number[] }>();
    for (const e of events) {
      if (e.revenue === null) continue;
      for (const m of dimsOf(e)) {
        const key = `${e.profileId}|${m}`;
        let b = batch.get(key);
        if (!b) batch.set(key, (b = { p: e.profileId, m, ts: [] }));
        b.ts.push(e.ts.getTime());
      }
    }
    if (!batch.size) return;
    const ids = [...new Set([...batch.values()].map((b) => b.p))];
    const old = new Map<string, BuyerRow>(
      ((await em.query(`SELECT profile_id AS p, dim AS m, first_ts AS f, second_ts AS s FROM kpi_buyers WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[])`, [ws, ids])) as BuyerRow[]).map((r) => [
        `${r.p}|${r.m}`,
        r,
      ]),
    );
    const next = [...batch.entries()].map(([key, b]) => {
      const was = old.get(key);
      const [f, s] = twoEarliest([...b.ts, ...(was ? [was.f.getTime(), ...(was.s ? [was.s.getTime()] : [])] : [])]);
      return { p: b.p, m: b.m, was, f, s };
    });
    await this.writeBuyers(em, ws, tz, next, ordinal);
  }

  /**
   * Writes buyer states and moves their FIRST/SECOND bits: clears the bits of the states they
   * replace (`was`, at `wasOrdinal` when given) and sets the new ones.
   */
  private async writeBuyers(
    em: EntityManager,
    ws: string,
    tz: string,
    next: { p: string; m: string; was?: { f: Date; s: Date | null }[] | BuyerRow; f: number; s: number | null }[],
    ordinal: Map<string, number>,
  ): Promise<void> {
    const days = new LocalDays(tz);
    const clear: SetRow[] = [];
    const set: SetRow[] = [];
    for (const n of next) {
      const o = ordinal.get(n.p)!;
      const was = n.was === undefined ? [] : Array.isArray(n.was) ? n.was : [n.was];
      for (const w of was) clear.push(...orderBits(days, { m: n.m, f: w.f, s: w.s }, o));
      set.push(...orderBits(days, { m: n.m, f: new Date(n.f), s: n.s === null ? null : new Date(n.s) }, o));
    }
    await this.clearSome(em, ws, clear);
    await this.orBits(em, ws, set);
    await em.query(
      `INSERT INTO kpi_buyers AS k (workspace_id, profile_id, dim, first_ts, second_ts)
       SELECT $1, u.p, u.m, u.f, u.s FROM jsonb_to_recordset($2::jsonb) AS u(p uuid, m text, f timestamptz, s timestamptz)
       ON CONFLICT (workspace_id, profile_id, dim) DO UPDATE SET first_ts = EXCLUDED.first_ts, second_ts = EXCLUDED.second_ts`,
      [ws, JSON.stringify(next.map((n) => ({ p: n.p, m: n.m, f: new Date(n.f).toISOString(), s: n.s === null ? null : new Date(n.s).toISOString() })))],
    );
  }

  /**
   * Folds merged-away people's buyer states into their survivors' (the two earliest orders of
   * both), clearing the merged-away FIRST/SECOND bits before `moveBits` moves the rest.
   */
  async foldBuyers(em: EntityManager, ws: string, tz: string, merged: { mergedId: string; survivorId: string }[], known: Map<string, number>, target: Map<string, number>): Promise<void> {
    const ids = [...new Set(merged.flatMap((x) => [x.mergedId, x.survivorId]))];
    const rows: BuyerRow[] = await em.query(`SELECT profile_id AS p, dim AS m, first_ts AS f, second_ts AS s FROM kpi_buyers WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[])`, [ws, ids]);
    if (!rows.length) return;
    const survivorOf = new Map(merged.map((x) => [x.mergedId, x.survivorId]));
    const mergedRows = rows.filter((r) => survivorOf.has(r.p));
    if (!mergedRows.length) return;
    // Merged-away bits go; the survivors' states are rewritten (their old bits cleared, new ones set).
    const days = new LocalDays(tz);
    await this.clearSome(
      em,
      ws,
      mergedRows.flatMap((r) => orderBits(days, r, known.get(r.p)!)),
    );
    const groups = new Map<string, { p: string; m: string; rows: BuyerRow[] }>();
    for (const r of rows) {
      const p = survivorOf.get(r.p) ?? r.p;
      const key = `${p}|${r.m}`;
      let g = groups.get(key);
      if (!g) groups.set(key, (g = { p, m: r.m, rows: [] }));
      g.rows.push(r);
    }
    const next = [...groups.values()]
      .filter((g) => g.rows.some((r) => survivorOf.has(r.p)))
      .map((g) => {
        const own = g.rows.filter((r) => !survivorOf.has(r.p));
        const [f, s] = twoEarliest(g.rows.flatMap((r) => [r.f.getTime(), ...(r.s ? [r.s.getTime()] : [])]));
        return { p: g.p, m: g.m, was: own, f, s };
      });
    await em.query(`DELETE FROM kpi_buyers WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[])`, [ws, [...survivorOf.keys()]]);
    await this.writeBuyers(em, ws, tz, next, target);
  }

  /** Clears single bits (day, kind, dimension, ordinal); bits of one row are cleared together. */
  async clearSome(em: EntityManager, ws: string, rows: SetRow[]): Promise<void> {
    if (!rows.length) return;
    await em.query(
      `WITH c AS (SELECT u.d, u.k, u.m, u.o / ${CHUNK_BITS} AS chunk, bit_or(set_bit(${ZERO}, u.o % ${CHUNK_BITS}, 1)) AS mask
                  FROM jsonb_to_recordset($2::jsonb) AS u(d date, k smallint, m text, o int) GROUP BY 1, 2, 3, 4),
       up AS (UPDATE kpi_day_people x SET bits = x.bits & ~c.mask FROM c
              WHERE x.workspace_id = $1 AND x.kind = c.k AND x.dim = c.m AND x.day = c.d AND x.chunk = c.chunk),
       gain AS (SELECT c.d, c.k, c.m, -sum(bit_count(x.bits & c.mask)) AS n
                FROM c JOIN kpi_day_people x ON x.workspace_id = $1 AND x.kind = c.k AND x.dim = c.m AND x.day = c.d AND x.chunk = c.chunk
                GROUP BY 1, 2, 3)
       ${COUNT_UPSERT}`,
      [ws, JSON.stringify(rows.map(([d, k, m, o]) => ({ d, k, m, o })))],
    );
  }

  /** Adds a batch's additive measures to the quarter totals and the day totals of the zone `tz` (one statement). */
  async addTotals(em: EntityManager, ws: string, tz: string, events: Omit<BatchEvent, 'tags' | 'traits'>[], npsOf: (e: Omit<BatchEvent, 'tags' | 'traits'>) => number | null): Promise<void> {
    if (!events.length) return;
    const rows = new Map<string, TotalRow>();
    for (const e of events) {
      const q = new Date(Math.floor(e.ts.getTime() / QUARTER_MS) * QUARTER_MS).toISOString();
      const nps = npsOf(e);
      for (const m of dimsOf(e)) {
        const key = `${q}|${m}`;
        let r = rows.get(key);
        if (!r) rows.set(key, (r = { q, m, ev: 0, or: 0, rv: 0, nr: 0, np: 0, nd: 0, ...noSignals() }));
        r.ev++;
        addSignals(r, e);
        if (e.revenue !== null) {
          r.or++;
          r.rv = Math.round((r.rv + e.revenue) * 100) / 100;
        }
        if (nps !== null) {
          r.nr++;
          if (nps >= 9) r.np++;
          if (nps <= 6) r.nd++;
        }
      }
    }
    await em.query(
      `WITH u AS (SELECT * FROM jsonb_to_recordset($2::jsonb) AS u(q timestamptz, m text, ev int, "or" int, rv numeric, nr int, np int, nd int${signalTypes()})),
       qt AS (INSERT INTO kpi_quarter_totals AS k (workspace_id, quarter, dim, events, orders, revenue, nps_responses, nps_promoters, nps_detractors${signalCols()})
              SELECT $1, u.q, u.m, u.ev, u.or, u.rv, u.nr, u.np, u.nd${signalCols('u')} FROM u
              ON CONFLICT (workspace_id, dim, quarter) DO UPDATE SET
                events = k.events + EXCLUDED.events, orders = k.orders + EXCLUDED.orders, revenue = k.revenue + EXCLUDED.revenue,
                nps_responses = k.nps_responses + EXCLUDED.nps_responses, nps_promoters = k.nps_promoters + EXCLUDED.nps_promoters,
                nps_detractors = k.nps_detractors + EXCLUDED.nps_detractors, ${signalAddUp('k')})
       INSERT INTO kpi_day_totals AS k (workspace_id, day, dim, events, orders, revenue, nps_responses, nps_promoters, nps_detractors${signalCols()})
       SELECT $1, (u.q AT TIME ZONE $3::text)::date, u.m, sum(u.ev), sum(u.or), sum(u.rv), sum(u.nr), sum(u.np), sum(u.nd)${SIGNALS.map((x) => `, sum(u.${x.col})`).join('')} FROM u GROUP BY 2, 3
       ON CONFLICT (workspace_id, dim, day) DO UPDATE SET
         events = k.events + EXCLUDED.events, orders = k.orders + EXCLUDED.orders, revenue = k.revenue + EXCLUDED.revenue,
         nps_responses = k.nps_responses + EXCLUDED.nps_responses, nps_promoters = k.nps_promoters + EXCLUDED.nps_promoters,
         nps_detractors = k.nps_detractors + EXCLUDED.nps_detractors, ${signalAddUp('k')}`,
      [ws, JSON.stringify([...rows.values()]), tz],
    );
  }

  /**
   * Moves merged-away people's bits to their survivors' ordinals: every (day, kind, dimension) where
   * the merged-away ordinal is set gets the survivor's set, and the merged-away bit is cleared.
   * Reads only the rows the person can have a bit in (`personBits`), never a whole chunk.
   */
  async moveBits(em: EntityManager, ws: string, moves: { id: string; from: number; to: number }[]): Promise<void> {
    const real = moves.filter((m) => m.from !== m.to);
    if (!real.length) return;
    // Their NEW and FIRST/SECOND_ORDER bits were cleared before (moveNew, foldBuyers).
    const hits = await this.personBits(
      em,
      ws,
      real.map((m) => ({ id: m.id, o: m.from })),
      false,
    );
    const to = new Map(real.map((m) => [m.from, m.to]));
    await this.clearSome(em, ws, hits);
    await this.orBits(
      em,
      ws,
      hits.map(([day, kind, dim, o]) => [day, kind, dim, to.get(o)!]),
    );
  }

  /** Clears people's bits in every day set (an unmerge or rebuild sets them again from events). */
  async clearBits(em: EntityManager, ws: string, people: { id: string; o: number }[]): Promise<void> {
    await this.clearSome(em, ws, await this.personBits(em, ws, people, true));
  }

  /**
   * The bits people have set, found from their own activity rows (`kpi_activity`, which holds every
   * hour, channel and touchpoint a person was active in and follows merges): each UTC hour's
   * candidate local days are, when the sets are consistent with the workspace's zone, the local days
   * of its first and last moment, else its UTC date and the days either side (every zone's local day
   * is one of them, so bits written in an earlier zone are found too); each candidate row is looked
   * up by primary key. ACTIVE and NEW bits can be on any active hour's day, INTERACTING on an interaction's,
   * BUYER and FIRST/SECOND_ORDER on an order's; `acquisition: false` leaves NEW and FIRST/SECOND_ORDER
   * out. The cost follows the person's active days, not the workspace's people or history.
   */
  private async personBits(em: EntityManager, ws: string, people: { id: string; o: number }[], acquisition: boolean): Promise<SetRow[]> {
    if (!people.length) return [];
    // Sets consistent with the zone: an hour's bits are on the local days of its first and last moment.
    const zone = await this.zones(em, ws);
    const rows: { day: string; kind: number; dim: string; o: number }[] = await em.query(
      `WITH a AS (SELECT m.o, d.day, a.channel, a.touchpoint, bool_or(a.interactions > 0) AS it, bool_or(a.orders > 0) AS buy
                  FROM unnest($2::uuid[], $3::int[]) AS m(p, o)
                  JOIN kpi_activity a ON a.workspace_id = $1 AND a.profile_id = m.p
                  CROSS JOIN LATERAL (SELECT (a.hour AT TIME ZONE $5::text)::date WHERE $5::text IS NOT NULL
                                      UNION SELECT ((a.hour + interval '3599.999 seconds') AT TIME ZONE $5::text)::date WHERE $5::text IS NOT NULL
                                      UNION SELECT (a.hour AT TIME ZONE 'UTC')::date + s.dd FROM generate_series(-1, 1) AS s(dd) WHERE $5::text IS NULL) d(day)
                  GROUP BY 1, 2, 3, 4),
       c AS (SELECT DISTINCT a.o, a.day, v.kind::smallint AS kind, v.dim
             FROM a
             CROSS JOIN LATERAL (VALUES (${SetKind.ACTIVE}, true), (${SetKind.INTERACTING}, a.it), (${SetKind.BUYER}, a.buy),
                                        (${SetKind.NEW}, $4), (${SetKind.FIRST_ORDER}, a.buy AND $4), (${SetKind.SECOND_ORDER}, a.buy AND $4),
                                        (${SetKind.FIRST_TWO_SAME_DAY}, a.buy AND $4)) AS k(kind, has)
             CROSS JOIN LATERAL (VALUES (k.kind, ''), (k.kind, 'c:' || a.channel), (k.kind, 't:' || a.touchpoint)) AS v(kind, dim)
             WHERE k.has)
       SELECT to_char(c.day, 'YYYY-MM-DD') AS day, c.kind, c.dim, c.o
       FROM c CROSS JOIN LATERAL (SELECT 1 FROM kpi_day_people d
                                  WHERE d.workspace_id = $1 AND d.kind = c.kind AND d.dim = c.dim AND d.day = c.day AND d.chunk = c.o / ${CHUNK_BITS}
                                    AND get_bit(d.bits, c.o % ${CHUNK_BITS}) = 1 OFFSET 0) x`,
      [ws, people.map((p) => p.id), people.map((p) => p.o), acquisition, zone.consistent ? zone.tz : null],
    );
    return rows.map((r) => [r.day, r.kind, r.dim, r.o]);
  }

  /** Marks the day sets consistent with the workspace's zone (a full rebuild has run). */
  async markConsistent(em: EntityManager, ws: string): Promise<void> {
    await em.query(
      `INSERT INTO kpi_rollup_state AS s (workspace_id, next_ordinal, time_zone, refs_ready) SELECT id, 0, time_zone, true FROM workspaces WHERE id = $1
       ON CONFLICT (workspace_id) DO UPDATE SET time_zone = EXCLUDED.time_zone, refs_ready = true`,
      [ws],
    );
  }

  // ---- reads --------------------------------------------------------------------------------

  /**
   * Base measures from the day sets and quarter totals, keyed `${i}|${k}`, for the families
   * `ppl` (active, interacting, buyers), `dau`, `wau`, `mau` and `tot`. Day grain and coarser only.
   */
  async measures(db: EntityManager, ws: string, buckets: Bucket[], families: Set<string>, breakdown: Breakdown, filter: KpiFilterSpec, today: string): Promise<Map<string, Base>> {
    // The reads below do not wait for one another: issued together, they run as one statement.
    const em = oneTrip(db);
    const pending: Promise<unknown>[] = [];
    const out = new Map<string, Base>();
    const later = (rows: Promise<Record<string, unknown>[]>) => pending.push(rows.then((r) => accumulate(out, r)));
    const dim = dimension(breakdown, filter);
    // The day counts of many kinds (gap counts: up to ~100 kinds a set) in each bucket `b`: one
    // primary-key probe per bucket and kind. Joined on `kind = ANY(…)`, the planner chose a
    // sequential scan of the whole table with the kinds as a filter once a statement named a few
    // hundred kinds (11 of the 13 ms of the catalogue's first-and-repeat-buyer read on a seeded
    // month; every workspace's rows read); LATERAL … OFFSET 0 keeps each kind an index probe
    // (tests/integration/kpi-read-scans.test.ts). Each kind once, as `= ANY` would count it.
    const perKind = (kinds: string, days: string) =>
      `CROSS JOIN (SELECT DISTINCT unnest(${kinds}::smallint[]) AS kind) q
       CROSS JOIN LATERAL (SELECT d.* FROM kpi_day_counts d WHERE d.workspace_id = $1 AND d.kind = q.kind AND ${dim.where} AND ${days} OFFSET 0) d`;
    const ld = buckets.map((b) => b.localStart.slice(0, 10));
    const le = buckets.map((b) => b.localEnd.slice(0, 10));
    const plus = (d: string, n: number) => new Date(Date.parse(`${d}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);
    const minus = (d: string, n: number) => plus(d, -n);
    // Distinct people of each bucket (and kind): OR the bucket's days per chunk, then count bits.
    const distinct = (starts: string[], kinds: number[], cols: string) =>
      em.query(
        `SELECT x.i, x.k, ${cols}
         FROM (SELECT b.i, ${dim.key} AS k, d.kind, d.chunk, bit_or(d.bits) AS u
               FROM unnest($2::date[], $3::date[]) WITH ORDINALITY AS b(ld, le, i)
               JOIN kpi_day_people d ON d.workspace_id = $1 AND d.kind = ANY($4::smallint[]) AND ${dim.where} AND d.day >= b.ld AND d.day < b.le
               GROUP BY 1, 2, 3, 4) x
         GROUP BY x.i, x.k`,
        [ws, starts, le, kinds, ...dim.params],
      );
    const single = oneDimPerKey(breakdown, filter);
    // The day counts: one row per day, kind and dimension (exact when a key reads one dimension).
    const counted = (kinds: number[], cols: string, starts = ld) =>
      em.query(
        `SELECT b.i, ${dim.key} AS k, ${cols}
         FROM unnest($2::date[], $3::date[]) WITH ORDINALITY AS b(ld, le, i)
         JOIN kpi_day_counts d ON d.workspace_id = $1 AND d.kind = ANY($4::smallint[]) AND ${dim.where} AND d.day >= b.ld AND d.day < b.le
         GROUP BY 1, 2`,
        [ws, starts, le, kinds, ...dim.params],
      );
    const oneDay = ld.every((d, j) => le[j] === plus(d, 1));
    // Distinct people of ranges of up to GAP_CAP days from the gap counts (kpi.windows.ts): per day,
    // those whose previous day in the set is before the range's start — the day's people (its day
    // count) less those whose gap reaches back no further than the start (g ≤ day − start: fewer
    // kinds to read the later the day, none on the first). Keyed by bucket (ordinality); one column
    // per set, named `as`.
    const span = (from: string, to: string) => Math.round((Date.parse(to) - Date.parse(from)) / 86_400_000);
    const gapped = (starts: string[], ends: string[], sets: { set: keyof typeof GAP_BASE; as: string }[]) => {
      const longest = Math.max(1, ...starts.map((d, j) => span(d, ends[j])));
      const within = (base: number) => Array.from({ length: Math.min(longest - 1, GAP_CAP) }, (_, g) => base + g + 1);
      const cols = sets.map(({ set, as }) => {
        const base = GAP_BASE[set];
        return `coalesce(sum(d.people) FILTER (WHERE d.kind = ${DAY_SET[set]}), 0) - coalesce(sum(d.people) FILTER (WHERE d.kind BETWEEN ${base + 1} AND ${base + GAP_CAP}), 0) AS "${as}"`;
      });
      return em.query(
        `SELECT b.i, ${dim.key} AS k, ${cols.join(', ')}
         FROM unnest($2::date[], $3::date[]) WITH ORDINALITY AS b(ld, le, i)
         ${perKind('$4', 'd.day >= b.ld AND d.day < b.le AND (d.kind < 100 OR d.kind % 100 <= d.day - b.ld)')}
         GROUP BY 1, 2`,
        [ws, starts, ends, sets.flatMap(({ set }) => [DAY_SET[set], ...within(GAP_BASE[set])]), ...dim.params],
      );
    };
    const gaps = single && ld.every((d, j) => span(d, le[j]) <= GAP_CAP);
    if (families.has('ppl') && single && oneDay) {
      later(counted(
          [SetKind.ACTIVE, SetKind.INTERACTING, SetKind.BUYER],
          `sum(d.people) FILTER (WHERE d.kind = ${SetKind.ACTIVE}) AS active, sum(d.people) FILTER (WHERE d.kind = ${SetKind.INTERACTING}) AS interacting, sum(d.people) FILTER (WHERE d.kind = ${SetKind.BUYER}) AS buyers`,
        ),
      );
    } else if (families.has('ppl') && gaps) {
      later(gapped(ld, le, [
          { set: 'active', as: 'active' },
          { set: 'interacting', as: 'interacting' },
          { set: 'buying', as: 'buyers' },
        ]),
      );
    } else if (families.has('ppl')) {
      later(distinct(
          ld,
          [SetKind.ACTIVE, SetKind.INTERACTING, SetKind.BUYER],
          `sum(bit_count(x.u)) FILTER (WHERE x.kind = ${SetKind.ACTIVE}) AS active, sum(bit_count(x.u)) FILTER (WHERE x.kind = ${SetKind.INTERACTING}) AS interacting, sum(bit_count(x.u)) FILTER (WHERE x.kind = ${SetKind.BUYER}) AS buyers`,
        ),
      );
    }
    // WAU and MAU: the window count of each bucket's last day (kpi.windows.ts), or the OR of its days.
    const lastDays = le.map((d) => minus(d, 1));
    if (families.has('wau')) later(single ? counted([WINDOW_KIND[7]], 'sum(d.people) AS wau', lastDays) : distinct(le.map((d) => minus(d, 7)), [SetKind.ACTIVE], 'sum(bit_count(x.u)) AS wau'));
    if (families.has('mau')) later(single ? counted([WINDOW_KIND[30]], 'sum(d.people) AS mau', lastDays) : distinct(le.map((d) => minus(d, 30)), [SetKind.ACTIVE], 'sum(bit_count(x.u)) AS mau'));
    // Each person has one acquisition day per dimension: new people add up over days and dimensions.
    if (families.has('prof')) later(counted([SetKind.NEW], 'sum(d.people) AS new'));
    // Referrals (kpi.refs.ts): referred and invited new people add up like new people; inviters and
    // referrers are sets of other people (a count per day, the OR of the days otherwise).
    if (families.has('org')) {
      later(counted(
          [SetKind.NEW, REF_KIND.referred, REF_KIND.invited],
          `sum(d.people) FILTER (WHERE d.kind = ${SetKind.NEW}) - coalesce(sum(d.people) FILTER (WHERE d.kind = ${REF_KIND.referred}), 0) AS organic, sum(d.people) FILTER (WHERE d.kind = ${REF_KIND.invited}) AS "invitedNew"`,
        ),
      );
    }
    if (families.has('inv')) {
      later(
        single && oneDay
          ? counted([REF_KIND.inviter], 'sum(d.people) AS inviters')
          : gaps
            ? gapped(ld, le, [{ set: 'inviting', as: 'inviters' }])
            : em.query(
              `SELECT b.i, ${dim.key} AS k, count(DISTINCT d.inviter) AS inviters
               FROM unnest($2::date[], $3::date[]) WITH ORDINALITY AS b(ld, le, i)
               JOIN kpi_inviter_days d ON d.workspace_id = $1 AND ${dim.where} AND $4::text IS NULL AND d.invitees > 0 AND d.day >= b.ld AND d.day < b.le
               GROUP BY 1, 2`,
              [ws, ld, le, null, ...dim.params],
            ),
      );
    }
    if (families.has('ref')) {
      later(
        single && oneDay
          ? counted([REF_KIND.referrer], 'sum(d.people) AS referrers')
          : gaps
            ? gapped(ld, le, [{ set: 'referring', as: 'referrers' }])
            : distinct(ld, [REF_KIND.referrer], 'sum(bit_count(x.u)) AS referrers'),
      );
    }
    if (families.has('dau') && single) {
      // Each day's distinct people, summed over the bucket's days.
      later(counted([SetKind.ACTIVE], 'sum(d.people) AS "dauSum"'));
    } else if (families.has('dau')) {
      // Each day's distinct people, summed over the bucket's days.
      later(em.query(
          `SELECT b.i, y.k, sum(y.n) AS "dauSum"
           FROM unnest($2::date[], $3::date[]) WITH ORDINALITY AS b(ld, le, i)
           JOIN (SELECT x.day, x.k, sum(bit_count(x.u)) AS n
                 FROM (SELECT d.day, ${dim.key} AS k, d.chunk, bit_or(d.bits) AS u FROM kpi_day_people d
                       WHERE d.workspace_id = $1 AND d.kind = ${SetKind.ACTIVE} AND ${dim.where} AND $4::text IS NULL
                         AND d.day >= (SELECT min(x) FROM unnest($2::date[]) x) AND d.day < (SELECT max(x) FROM unnest($3::date[]) x)
                       GROUP BY 1, 2, 3) x
                 GROUP BY 1, 2) y ON y.day >= b.ld AND y.day < b.le
           GROUP BY b.i, y.k`,
          [ws, ld, le, null, ...dim.params],
        ),
      );
    }
    // Churn and wake-ups of single days: the carried counts (kpi.windows.ts); otherwise the OR of the history.
    // Churn of longer buckets from the gaps when the bucket and the one before span at most GAP_CAP
    // days: the people of the bucket before who are not in it are those of both less the bucket's.
    const lps = buckets.map((b) => b.localPrevStart);
    const churnGaps = families.has('churn') && !oneDay && single && lps.every((d, j) => span(d, le[j]) <= GAP_CAP);
    if (churnGaps) {
      const count = async (from: string[], to: string[]) =>
        new Map(((await gapped(from, to, [{ set: 'active', as: 'n' }])) as { i: string; k: string; n: string }[]).map((r) => [`${r.i}|${r.k}`, Number(r.n)]));
      later(
        Promise.all([count(lps, ld), count(lps, le), count(ld, le)]).then(([prev, both, now]) =>
          [...prev].map(([key, n]) => {
            const [i, k] = [key.slice(0, key.indexOf('|')), key.slice(key.indexOf('|') + 1)];
            return { i, k, prevActive: n, churned: (both.get(key) ?? 0) - (now.get(key) ?? 0) };
          }),
        ),
      );
    }
    // First and repeat buyers of longer buckets from the gaps (kpi.windows.ts). Conversion-eligible:
    // the bucket's active people less those active after a first order before its start (their
    // after-first gap reaches back before it). Repeat buyers: the bucket's buyers less its first
    // buyers, plus first buyers whose second order came within the bucket (second ≤ day − start).
    const ordGaps = (families.has('ord') || families.has('rep')) && !oneDay && gaps;
    if (ordGaps) {
      const range = (base: number) => `d.kind BETWEEN ${base + 1} AND ${base + FIRST_GAP} AND d.kind % 100 > d.day - b.ld`;
      const n = (where: string) => `coalesce(sum(d.people) FILTER (WHERE ${where}), 0)`;
      later(em.query(
          `SELECT b.i, ${dim.key} AS k, ${n(`d.kind = ${SetKind.FIRST_ORDER}`)} AS "firstBuyers",
                  ${n(range(GAP_BASE.active))} - ${n(range(AFTER_FIRST_GAP_BASE))} AS "convEligible",
                  ${n(range(GAP_BASE.buying))} - ${n(`d.kind = ${SetKind.FIRST_ORDER}`)} + ${n(`d.kind BETWEEN ${SECOND_ORDER_GAP_BASE} AND ${SECOND_ORDER_GAP_BASE + GAP_CAP} AND d.kind % 100 <= d.day - b.ld`)} AS "repeatBuyers"
           FROM unnest($2::date[], $3::date[]) WITH ORDINALITY AS b(ld, le, i)
           ${perKind('$4', 'd.day >= b.ld AND d.day < b.le')}
           GROUP BY 1, 2`,
          [
            ws,
            ld,
            le,
            [SetKind.FIRST_ORDER, ...[GAP_BASE.active, AFTER_FIRST_GAP_BASE, GAP_BASE.buying].flatMap(gapKinds), ...Array.from({ length: GAP_CAP }, (_, g) => SECOND_ORDER_GAP_BASE + g)],
            ...dim.params,
          ],
        ),
      );
    }
    // Wake-ups of longer buckets from the gaps when the bucket and the 30 days before it span at most
    // GAP_CAP days. Woken: active in the bucket with a previous active day (not a first day) before
    // those 30 days. Silent: everyone whose first active day came before the bucket (a running sum of
    // first days) less the people of those 30 days.
    const lq = buckets.map((b) => b.localQuiet);
    const wakeGaps = families.has('wake') && !oneDay && single && lq.every((d, j) => span(d, le[j]) <= GAP_CAP);
    if (wakeGaps) {
      const keyed = (rows: { i: string; k: string; n: string }[]) => new Map(rows.map((r) => [`${r.i}|${r.k}`, Number(r.n)]));
      const woken = em.query(
          `SELECT b.i, ${dim.key} AS k, sum(d.people) AS n
           FROM unnest($2::date[], $3::date[], $6::date[]) WITH ORDINALITY AS b(ld, le, lq, i)
           ${perKind('$4', 'd.day >= b.ld AND d.day < b.le AND d.kind % 100 > d.day - b.lq')}
           GROUP BY 1, 2`,
          [ws, ld, le, gapKinds(GAP_BASE.active).slice(0, GAP_CAP), ...dim.params, lq],
        );
      const recent = gapped(lq, ld, [{ set: 'active', as: 'n' }]);
      const ever = em.query(
          `SELECT b.i, ${dim.key} AS k, sum(d.people) AS n
           FROM unnest($2::date[]) WITH ORDINALITY AS b(ld, i)
           JOIN kpi_day_counts d ON d.workspace_id = $1 AND d.kind = $3 AND ${dim.where} AND d.day < b.ld AND $4::text IS NULL
           GROUP BY 1, 2`,
          [ws, ld, GAP_BASE.active + FIRST_GAP, null, ...dim.params],
        );
      later(
        Promise.all([woken, recent, ever].map((rows) => rows.then(keyed))).then(([woken, recent, ever]) =>
          [...ever].map(([key, n]) => {
            const at = key.indexOf('|');
            return { i: key.slice(0, at), k: key.slice(at + 1), silent: n - (recent.get(key) ?? 0), woken: woken.get(key) ?? 0 };
          }),
        ),
      );
    }
    const looking = new Set(
      [...families].filter((f) => ((f === 'ord' || f === 'rep') && !ordGaps) || (f === 'churn' && !churnGaps) || (f === 'wake' && !wakeGaps)).filter(() => !(single && oneDay)),
    );
    if (looking.size) later(this.history(em, ws, buckets, looking, dim));
    // First and repeat buyers of single days from the carried counts. Conversion-eligible: active on
    // the day less those active after a first order before it (kpi.windows.ts). Repeat buyers: buyers
    // of the day less its first buyers (every other buyer of the day has an earlier order, so their
    // second is by then), plus first buyers whose second order came the same day.
    if (single && oneDay && (families.has('ord') || families.has('rep'))) {
      const n = (kind: number) => `coalesce(sum(d.people) FILTER (WHERE d.kind = ${kind}), 0)`;
      later(counted(
          [SetKind.ACTIVE, SetKind.BUYER, SetKind.FIRST_ORDER, SetKind.FIRST_TWO_SAME_DAY, AFTER_FIRST_ORDER_KIND],
          `${n(SetKind.FIRST_ORDER)} AS "firstBuyers", ${n(SetKind.ACTIVE)} - ${n(AFTER_FIRST_ORDER_KIND)} AS "convEligible",
           ${n(SetKind.BUYER)} - ${n(SetKind.FIRST_ORDER)} + ${n(SetKind.FIRST_TWO_SAME_DAY)} AS "repeatBuyers"`,
        ),
      );
    }
    if (single && oneDay && (families.has('churn') || families.has('wake'))) later(this.dayChanges(em, ws, ld, families, dim));
    if (families.has('base')) later(this.running(em, ws, buckets, dim, 'people'));
    if (families.has('cum')) later(this.running(em, ws, buckets, dim, 'revenue'));
    for (const n of [1, 7, 30]) if (families.has(`ret${n}`)) later(this.retention(em, ws, buckets, n, today, breakdown, filter));
    if (families.has('tot')) {
      later(em.query(
          `SELECT b.i, ${dim.key} AS k, sum(d.orders) AS orders, sum(d.revenue) AS gmv,
                  sum(d.nps_responses) AS "npsResponses", sum(d.nps_promoters) AS "npsPromoters", sum(d.nps_detractors) AS "npsDetractors", ${signalSums('d')}
           FROM unnest($2::date[], $3::date[]) WITH ORDINALITY AS b(ld, le, i)
           JOIN kpi_day_totals d ON d.workspace_id = $1 AND ${dim.where} AND $4::text IS NULL AND d.day >= b.ld AND d.day < b.le
           GROUP BY 1, 2`,
          [ws, ld, le, null, ...dim.params],
        ),
      );
    }
    await Promise.all(pending);
    return out;
  }

  /**
   * Running totals at each bucket: `people` acquired before its start (`before`) and by its end
   * (`atEnd`), from the acquisition-day sets (one bit per person); or `revenue` of every order
   * before its end (`cumGmv`), from the day totals. The history before the first bucket is
   * summed once, the buckets by a running sum.
   */
  private async running(em: Reader, ws: string, buckets: Bucket[], dim: { key: string; where: string; params: unknown[] }, what: 'people' | 'revenue'): Promise<Record<string, unknown>[]> {
    const people = what === 'people';
    const src = people
      ? { table: 'kpi_day_counts', value: 'd.people', where: `d.kind = ${SetKind.NEW}`, at: 'd.day', lo: '$2::date[]', hi: '$3::date[]' }
      : { table: 'kpi_day_totals', value: 'd.revenue', where: 'true', at: 'd.day', lo: '$2::date[]', hi: '$3::date[]' };
    const out = people ? `coalesce(pre.n, 0) + coalesce(sum(p.n) OVER (PARTITION BY g.k ORDER BY g.i ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before, coalesce(pre.n, 0) + coalesce(sum(p.n) OVER (PARTITION BY g.k ORDER BY g.i), 0) AS "atEnd"` : `coalesce(pre.n, 0) + coalesce(sum(p.n) OVER (PARTITION BY g.k ORDER BY g.i), 0) AS "cumGmv"`;
    return em.query(
      `WITH b AS (SELECT * FROM unnest(${src.lo}, ${src.hi}) WITH ORDINALITY AS b(lo, hi, i)),
       per AS (SELECT b.i, ${dim.key} AS k, sum(${src.value}) AS n FROM b JOIN ${src.table} d ON d.workspace_id = $1 AND ${src.where} AND ${dim.where} AND $4::text IS NULL
                 AND ${src.at} >= b.lo AND ${src.at} < b.hi GROUP BY 1, 2),
       pre AS (SELECT ${dim.key} AS k, sum(${src.value}) AS n FROM ${src.table} d WHERE d.workspace_id = $1 AND ${src.where} AND ${dim.where} AND ${src.at} < (SELECT min(lo) FROM b) GROUP BY 1),
       grid AS (SELECT b.i, x.k FROM b CROSS JOIN (SELECT k FROM per UNION SELECT k FROM pre) x)
       SELECT g.i, g.k, ${out}
       FROM grid g LEFT JOIN per p ON p.i = g.i AND p.k = g.k LEFT JOIN pre ON pre.k = g.k`,
      [
        ws,
        buckets.map((b) => b.localStart.slice(0, 10)),
        buckets.map((b) => b.localEnd.slice(0, 10)),
        null,
        ...dim.params,
      ],
    );
  }

  /**
   * Retention on day n: of the people acquired on each day d of the bucket with d + n begun, those
   * active on d + n. Acquisition by the breakdown's dimension (the first event's channel or
   * touchpoint); activity on any channel, or on the filter's. With activity in one dimension this is
   * the carried count per cohort day (kpi.windows.ts) beside the acquisition count; a filter on
   * several channels or touchpoints ANDs the cohort day's acquisition set with day n's per chunk.
   */
  private async retention(em: Reader, ws: string, buckets: Bucket[], n: number, today: string, breakdown: Breakdown, filter: KpiFilterSpec): Promise<Record<string, unknown>[]> {
    const dim = dimension(breakdown, filter);
    const act = filter.channels?.length ? filter.channels.map((c) => `c:${c}`) : filter.touchpoints?.length ? filter.touchpoints.map((t) => `t:${t}`) : [''];
    const kept = RETAINED_KIND[act[0] === '' ? 'any' : 'same'][n as 1 | 7 | 30];
    if (act.length === 1 && kept !== undefined) {
      return em.query(
        `SELECT b.i, ${dim.key} AS k, sum(d.people) FILTER (WHERE d.kind = ${SetKind.NEW}) AS cohort${n}, coalesce(sum(d.people) FILTER (WHERE d.kind = ${kept}), 0) AS ret${n}
         FROM unnest($2::date[], $3::date[]) WITH ORDINALITY AS b(ld, le, i)
         JOIN kpi_day_counts d ON d.workspace_id = $1 AND d.kind IN (${SetKind.NEW}, ${kept}) AND ${dim.where} AND d.day >= b.ld AND d.day < b.le AND d.day + ${n} <= $4::date
         GROUP BY 1, 2`,
        [ws, buckets.map((b) => b.localStart.slice(0, 10)), buckets.map((b) => b.localEnd.slice(0, 10)), today, ...dim.params],
      );
    }
    return em.query(
      `WITH b AS (SELECT * FROM unnest($2::date[], $3::date[]) WITH ORDINALITY AS b(ld, le, i)),
       nw AS (SELECT b.i, ${dim.key} AS k, d.day, d.chunk, bit_or(d.bits) AS u
              FROM b JOIN kpi_day_people d ON d.workspace_id = $1 AND d.kind = ${SetKind.NEW} AND ${dim.where}
                AND d.day >= b.ld AND d.day < b.le AND d.day + ${n} <= $4::date
              GROUP BY 1, 2, 3, 4),
       ac AS (SELECT d.day, d.chunk, bit_or(d.bits) AS u FROM kpi_day_people d
              WHERE d.workspace_id = $1 AND d.kind = ${SetKind.ACTIVE} AND d.dim = ANY($6::text[]) AND d.day IN (SELECT day + ${n} FROM nw)
              GROUP BY 1, 2)
       SELECT nw.i, nw.k, sum(bit_count(nw.u)) AS cohort${n}, sum(bit_count(nw.u & coalesce(ac.u, ${ZERO}))) AS ret${n}
       FROM nw LEFT JOIN ac ON ac.day = nw.day + ${n} AND ac.chunk = nw.chunk
       GROUP BY nw.i, nw.k`,
      [ws, buckets.map((b) => b.localStart.slice(0, 10)), buckets.map((b) => b.localEnd.slice(0, 10)), today, ...dim.params, act],
    );
  }

  /**
   * The families that look back before a bucket: `ord` (first buyers, conversion-eligible people),
   * `rep` (repeat buyers), `churn` and `wake`. Per bucket, key and chunk: the bucket's own sets,
   * the days before the first bucket once (`pre`), and the buckets before each one by a running OR
   * over buckets, so the cost is (days of history + buckets) × chunks, never events or people.
   */
  /**
   * CHURN_RATE and SILENT_WAKEUP_RATE of single days from the carried counts: the day before's
   * active people minus those active on both days; silent people as the running sum of silence
   * changes up to the day (summed once before the first day), wake-ups as counted.
   */
  private async dayChanges(em: Reader, ws: string, days: string[], families: Set<string>, dim: { key: string; where: string; params: unknown[] }): Promise<Record<string, unknown>[]> {
    const out: Record<string, unknown>[] = [];
    const first = days.reduce((a, d) => (d < a ? d : a), days[0]);
    const last = days.reduce((a, d) => (d > a ? d : a), days[0]);
    const rows: { day: string; kind: number; k: string; n: string }[] = await em.query(
      `SELECT to_char(d.day, 'YYYY-MM-DD') AS day, d.kind, ${dim.key} AS k, sum(d.people) AS n FROM kpi_day_counts d
       WHERE d.workspace_id = $1 AND d.kind = ANY($2::smallint[]) AND ${dim.where} AND d.day >= $3::date - 1 AND d.day <= $4::date
       GROUP BY 1, 2, 3`,
      [ws, [SetKind.ACTIVE, CARRIED_KIND.both, CARRIED_KIND.woken, CARRIED_KIND.silence], first, last, ...dim.params],
    );
    const at = new Map(rows.map((r) => [`${r.kind}|${r.k}|${r.day}`, Number(r.n)]));
    const keys = [...new Set(rows.map((r) => r.k))];
    const prev = (d: string) => new Date(Date.parse(`${d}T00:00:00Z`) - 86_400_000).toISOString().slice(0, 10);
    if (families.has('churn')) {
      days.forEach((d, j) => {
        for (const k of keys) {
          const was = at.get(`${SetKind.ACTIVE}|${k}|${prev(d)}`);
          if (was) out.push({ i: j + 1, k, prevActive: was, churned: was - (at.get(`${CARRIED_KIND.both}|${k}|${d}`) ?? 0) });
        }
      });
    }
    if (families.has('wake')) {
      const before: { k: string; n: string }[] = await em.query(
        `SELECT ${dim.key} AS k, sum(d.people) AS n FROM kpi_day_counts d
         WHERE d.workspace_id = $1 AND d.kind = ${CARRIED_KIND.silence} AND ${dim.where} AND d.day < $3::date AND $2::text IS NULL AND $4::text IS NULL
         GROUP BY 1`,
        [ws, null, first, null, ...dim.params],
      );
      const base = new Map(before.map((r) => [r.k, Number(r.n)]));
      for (const k of new Set([...keys, ...base.keys()])) {
        // Silent people on each day: what was silent before the first day plus the changes up to it.
        let run = base.get(k) ?? 0;
        const silent = new Map<string, number>();
        for (let d = first; d <= last; d = next(d)) {
          run += at.get(`${CARRIED_KIND.silence}|${k}|${d}`) ?? 0;
          silent.set(d, run);
        }
        days.forEach((d, j) => {
          const n = silent.get(d) ?? 0;
          if (n) out.push({ i: j + 1, k, silent: n, woken: at.get(`${CARRIED_KIND.woken}|${k}|${d}`) ?? 0 });
        });
      }
    }
    return out;
  }

  private async history(em: Reader, ws: string, buckets: Bucket[], families: Set<string>, dim: { key: string; where: string; params: unknown[] }): Promise<Record<string, unknown>[]> {
    const z = (x: string) => `coalesce(${x}, ${ZERO})`;
    const cols: string[] = [];
    if (families.has('ord')) {
      cols.push(`sum(bit_count(${z('fin')})) AS "firstBuyers"`, `sum(bit_count(${z('act')} & ~(${z('pf')} | ${z('fin_before')}))) AS "convEligible"`);
    }
    if (families.has('rep')) cols.push(`sum(bit_count(${z('buy')} & (${z('ps')} | ${z('snd_before')} | ${z('snd')}))) AS "repeatBuyers"`);
    if (families.has('churn')) cols.push(`sum(bit_count(${z('prev')})) AS "prevActive"`, `sum(bit_count(${z('prev')} & ~${z('act')})) AS churned`);
    if (families.has('wake')) {
      const silent = `(${z('pa')} | ${z('act_before')}) & ~${z('recent')}`;
      cols.push(`sum(bit_count(${silent})) AS silent`, `sum(bit_count(${silent} & ${z('act')})) AS woken`);
    }
    return em.query(
      `WITH b AS (SELECT * FROM unnest($2::date[], $3::date[], $4::date[], $6::date[]) WITH ORDINALITY AS b(ld, le, lps, lq, i)),
       per AS (SELECT b.i, ${dim.key} AS k, d.chunk,
                 bit_or(d.bits) FILTER (WHERE d.kind = ${SetKind.ACTIVE} AND d.day >= b.ld) AS act,
                 bit_or(d.bits) FILTER (WHERE d.kind = ${SetKind.BUYER} AND d.day >= b.ld) AS buy,
                 bit_or(d.bits) FILTER (WHERE d.kind = ${SetKind.FIRST_ORDER} AND d.day >= b.ld) AS fin,
                 bit_or(d.bits) FILTER (WHERE d.kind = ${SetKind.SECOND_ORDER} AND d.day >= b.ld) AS snd,
                 bit_or(d.bits) FILTER (WHERE d.kind = ${SetKind.ACTIVE} AND d.day >= b.lps AND d.day < b.ld) AS prev,
                 bit_or(d.bits) FILTER (WHERE d.kind = ${SetKind.ACTIVE} AND d.day >= b.lq AND d.day < b.ld) AS recent
               FROM b JOIN kpi_day_people d ON d.workspace_id = $1 AND d.kind IN (${SetKind.ACTIVE}, ${SetKind.BUYER}, ${SetKind.FIRST_ORDER}, ${SetKind.SECOND_ORDER}) AND ${dim.where}
                 AND d.day < b.le AND d.day >= least(b.ld, b.lps, b.lq)
               GROUP BY 1, 2, 3),
       pre AS (SELECT ${dim.key} AS k, d.chunk,
                 bit_or(d.bits) FILTER (WHERE d.kind = ${SetKind.ACTIVE}) AS pa,
                 bit_or(d.bits) FILTER (WHERE d.kind = ${SetKind.FIRST_ORDER}) AS pf,
                 bit_or(d.bits) FILTER (WHERE d.kind = ${SetKind.SECOND_ORDER}) AS ps
               FROM kpi_day_people d
               WHERE d.workspace_id = $1 AND d.kind IN (${families.has('wake') ? `${SetKind.ACTIVE}, ` : ''}${SetKind.FIRST_ORDER}, ${SetKind.SECOND_ORDER}) AND ${dim.where}
                 AND d.day < (SELECT min(ld) FROM b)
               GROUP BY 1, 2),
       grid AS (SELECT b.i, kc.k, kc.chunk FROM b CROSS JOIN (SELECT k, chunk FROM per UNION SELECT k, chunk FROM pre) kc),
       w AS (SELECT g.i, g.k, g.chunk, p.act, p.buy, p.fin, p.snd, p.prev, p.recent,
               bit_or(p.act) OVER x AS act_before, bit_or(p.fin) OVER x AS fin_before, bit_or(p.snd) OVER x AS snd_before
             FROM grid g LEFT JOIN per p ON p.i = g.i AND p.k = g.k AND p.chunk = g.chunk
             WINDOW x AS (PARTITION BY g.k, g.chunk ORDER BY g.i ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING))
       SELECT w.i, w.k, ${cols.join(', ')}
       FROM w LEFT JOIN pre ON pre.k = w.k AND pre.chunk = w.chunk
       GROUP BY w.i, w.k`,
      [
        ws,
        buckets.map((b) => b.localStart.slice(0, 10)),
        buckets.map((b) => b.localEnd.slice(0, 10)),
        buckets.map((b) => b.localPrevStart),
        ...dim.params,
        buckets.map((b) => b.localQuiet),
      ],
    );
  }
}

/** The FIRST_ORDER, SECOND_ORDER and FIRST_TWO_SAME_DAY bits of a buyer state. */
function orderBits(days: LocalDays, r: { m: string; f: Date; s: Date | null }, o: number): SetRow[] {
  const first = days.of(r.f.getTime());
  const out: SetRow[] = [[first, SetKind.FIRST_ORDER, r.m, o]];
  if (r.s) {
    const second = days.of(r.s.getTime());
    out.push([second, SetKind.SECOND_ORDER, r.m, o]);
    if (second === first) out.push([first, SetKind.FIRST_TWO_SAME_DAY, r.m, o]);
  }
  return out;
}

/** The dimensions an event counts in: everyone, its channel, its touchpoint ('' when none). */
function dimsOf(e: Pick<BatchEvent, 'channel' | 'context'>): string[] {
  const t = e.context?.touchpoint;
  return ['', `c:${e.channel}`, `t:${typeof t === 'string' ? t.slice(0, 200) : ''}`];
}

/**
 * The dimension rows a query reads and the key it groups them by. Parameters start at $5 ($1
 * workspace, $2–$4 taken by each statement); a statement that does not use $4 binds it to null.
 */
export function dimension(breakdown: Breakdown, filter: KpiFilterSpec): { key: string; where: string; params: unknown[] } {
  if (filter.channels?.length) return { key: breakdown === 'CHANNEL' ? 'substr(d.dim, 3)' : `''`, where: `d.dim = ANY($5::text[])`, params: [filter.channels.map((c) => `c:${c}`)] };
  if (filter.touchpoints?.length) return { key: breakdown === 'TOUCHPOINT' ? 'substr(d.dim, 3)' : `''`, where: `d.dim = ANY($5::text[])`, params: [filter.touchpoints.map((t) => `t:${t}`)] };
  if (breakdown === 'CHANNEL') return { key: 'substr(d.dim, 3)', where: `left(d.dim, 2) = 'c:' AND $5::text IS NULL`, params: [null] };
  if (breakdown === 'TOUCHPOINT') return { key: 'substr(d.dim, 3)', where: `left(d.dim, 2) = 't:' AND $5::text IS NULL`, params: [null] };
  return { key: `''`, where: `d.dim = '' AND $5::text IS NULL`, params: [null] };
}
