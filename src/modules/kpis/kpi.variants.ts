import type { EntityManager } from 'typeorm';
import type { BatchEvent } from '../events';
import { LocalDays } from '../../shared/zone';
import { CHUNK_BITS, accumulate } from './kpi.sets';
import { oneTrip } from '../../platform/db/one-trip';
import type { Bucket } from './kpi.repository';
import type { Base } from './kpi.catalogue';
import { SIGNAL_COLS, signalSums } from './kpi.signals';

const ZERO = `repeat('0', ${CHUNK_BITS})::bit(${CHUNK_BITS})`;
const MEASURES = ['events', 'orders', 'revenue', 'nps_responses', 'nps_promoters', 'nps_detractors', ...SIGNAL_COLS];
/** What a person adds per day: the totals, and their interactions (whether they count as interacting). */
const LEDGER = [...MEASURES, 'interactions'];
/** The day totals: the measures summed, and the people active, interacting and buying (one ledger row each). */
const TOTALS = [...MEASURES, 'active', 'interacting', 'buyers'];
const totalsOf = (alias: string, sign = '') =>
  [
    ...MEASURES.map((m) => `${sign}sum(${alias}.${m}) AS ${m}`),
    `${sign}count(*) AS active`,
    `${sign}count(*) FILTER (WHERE ${alias}.interactions > 0) AS interacting`,
    `${sign}count(*) FILTER (WHERE ${alias}.orders > 0) AS buyers`,
  ].join(', ');
const addUp = (cols: readonly string[]) => cols.map((m) => `${m} = t.${m} + EXCLUDED.${m}`).join(', ');
/** The windows carried per variant and day: people active in the 7 and 30 days ending with it. */
const WINDOWS = [
  { col: 'wau', days: 7 },
  { col: 'mau', days: 30 },
] as const;
const shift = (d: string, n: number) => new Date(Date.parse(`${d}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);

/**
 * Experiment variants carried per variant (the EXPERIMENT_VARIANT breakdown and the experiment
 * filter), so that a variant's KPIs read rows per day and variant, not each member's activity:
 *
 * - `kpi_variant_people`: who counts where — each person cleanly exposed to an experiment (first
 *   exposure, not contaminated), with the variant and ordinal they were counted under.
 * - `kpi_variant_members`: per experiment, variant and chunk of 4,096 ordinals, the members as a
 *   bitmap. A variant's distinct people over any days is `bit_count` of (the OR of the day sets'
 *   chunks) AND (the member chunk): cost by days × chunks, like the CHANNEL breakdown.
 * - `kpi_variant_person_days`: what each member adds per local day (events, orders, revenue, NPS
 *   answers: their `kpi_activity` hours of that day), so a person who leaves a variant takes back
 *   exactly what they added.
 * - `kpi_variant_day_totals`: their sum per experiment, variant and local day, with the members
 *   active, interacting and buying that day (one ledger row each) and the members active in the 7
 *   and 30 days ending with it (WAU, MAU: moved by the days a person's membership days newly cover
 *   or stop covering). A day's people, DAU, WAU, MAU and the totals read one row per day and
 *   variant; only the distinct people of a multi-day bucket OR bitmaps.
 *
 * A membership counts all of the person's activity (an exposure moves their past into the variant;
 * contamination takes it out). So a person whose memberships or ordinal changed — a first exposure, a
 * contaminating merge, a merge or unmerge, a rebuild — is settled whole (their contribution taken
 * back and given again from their activity: once per change, reading their hourly rows); anyone
 * else with a membership is settled for the local days their batch events fall on only.
 * `kpi_rollup_state.variants_ready` is false for workspaces with exposures from before these tables,
 * until `siyu recompute --parts kpis`.
 */
export class KpiVariantRepository {
  /**
   * After the batch's activity and exposures are written: settles the people of the batch. `whole`:
   * people to settle whole whatever their memberships (merged away, survivors, rebuilt).
   */
  async settle(em: EntityManager, ws: string, tz: string, events: Pick<BatchEvent, 'profileId' | 'ts'>[], whole: string[]): Promise<void> {
    const ids = [...new Set([...events.map((e) => e.profileId), ...whole])];
    if (!ids.length) return;
    const rows: { p: string; x: string; v: string; o: number | null; cur: boolean }[] = await em.query(
      `SELECT profile_id AS p, experiment_key AS x, variant_key AS v, ordinal AS o, false AS cur FROM kpi_variant_people WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[])
       UNION ALL
       SELECT x.profile_id, x.experiment_key, x.variant_key, k.ordinal, true
       FROM experiment_exposures x LEFT JOIN kpi_profiles k ON k.workspace_id = $1 AND k.profile_id = x.profile_id
       WHERE x.workspace_id = $1 AND x.profile_id = ANY($2::uuid[]) AND NOT x.contaminated`,
      [ws, ids],
    );
    const sig = new Map<string, { stored: string[]; current: string[] }>();
    for (const r of rows) {
      const s = sig.get(r.p) ?? { stored: [], current: [] };
      (r.cur ? s.current : s.stored).push(`${r.x}\u0001${r.v}\u0001${r.o}`);
      sig.set(r.p, s);
    }
    const same = (s: { stored: string[]; current: string[] }) => s.stored.length === s.current.length && s.stored.sort().join('\u0002') === s.current.sort().join('\u0002');
    const full = new Set(whole);
    for (const [p, s] of sig) if (!same(s)) full.add(p);
    const days = new LocalDays(tz);
    const partial = new Map<string, Set<string>>();
    for (const e of events) {
      if (full.has(e.profileId) || !sig.get(e.profileId)?.stored.length) continue;
      const set = partial.get(e.profileId) ?? new Set<string>();
      set.add(days.of(e.ts.getTime()));
      partial.set(e.profileId, set);
    }
    const pairs = [...partial].flatMap(([p, ds]) => [...ds].map((d) => ({ p, d })));
    const everything = [...full].map((p) => ({ p, d: null }));
    // The window counts change on the days a person's active days cover: for a partial settle the
    // days from its first touched day to 29 after its last, read from 29 days before.
    const scope = [
      ...[...full].map((p) => ({ p, lo: null, hi: null, from: null, to: null })),
      ...[...partial].map(([p, ds]) => {
        const sorted = [...ds].sort();
        const [first, last] = [sorted[0], sorted[sorted.length - 1]];
        return { p, lo: shift(first, -29), hi: shift(last, 29), from: first, to: shift(last, 29) };
      }),
    ];
    const before = await this.activeDays(em, ws, scope);
    await this.take(em, ws, [...everything, ...pairs]);
    if (full.size) await this.regroup(em, ws, [...full]);
    await this.give(em, ws, tz, [...everything, ...pairs]);
    const after = await this.activeDays(em, ws, scope);
    await this.moveWindows(em, ws, windowDeltas(before, after, new Map(scope.map((x) => [x.p, x]))));
  }

  /** Each person's membership days (ledger rows) within `lo`–`hi` (all when null), keyed by person and experiment. */
  private async activeDays(em: EntityManager, ws: string, scope: { p: string; lo: string | null; hi: string | null }[]): Promise<Map<string, { v: string; days: string[] }>> {
    const out = new Map<string, { v: string; days: string[] }>();
    if (!scope.length) return out;
    const rows: { p: string; x: string; v: string; d: string }[] = await em.query(
      `SELECT t.profile_id AS p, t.experiment_key AS x, t.variant_key AS v, to_char(t.day, 'YYYY-MM-DD') AS d
       FROM unnest($2::uuid[], $3::date[], $4::date[]) AS u(p, lo, hi)
       JOIN kpi_variant_person_days t ON t.workspace_id = $1 AND t.profile_id = u.p AND (u.lo IS NULL OR t.day BETWEEN u.lo AND u.hi)`,
      [ws, scope.map((x) => x.p), scope.map((x) => x.lo), scope.map((x) => x.hi)],
    );
    for (const r of rows) {
      const k = `${r.p}\u0001${r.x}`;
      const e = out.get(k) ?? { v: r.v, days: [] };
      e.days.push(r.d);
      out.set(k, e);
    }
    return out;
  }

  /** Adds window-count deltas (`${experiment}\u0001${variant}\u0001${day}` → [wau, mau]) to the day totals. */
  private async moveWindows(em: EntityManager, ws: string, deltas: Map<string, [number, number]>): Promise<void> {
    const rows = [...deltas].filter(([, [w, m]]) => w !== 0 || m !== 0);
    if (!rows.length) return;
    const parts = rows.map(([k]) => k.split('\u0001'));
    await em.query(
      `INSERT INTO kpi_variant_day_totals AS t (workspace_id, experiment_key, variant_key, day, wau, mau)
       SELECT $1, u.x, u.v, u.d, u.w, u.m FROM unnest($2::text[], $3::text[], $4::date[], $5::int[], $6::int[]) AS u(x, v, d, w, m)
       ON CONFLICT (workspace_id, experiment_key, variant_key, day) DO UPDATE SET ${addUp(['wau', 'mau'])}`,
      [ws, parts.map((x) => x[0]), parts.map((x) => x[1]), parts.map((x) => x[2]), rows.map(([, d]) => d[0]), rows.map(([, d]) => d[1])],
    );
  }

  /** Takes back what these people added on these local days (every day when `d` is null). */
  private async take(em: EntityManager, ws: string, items: { p: string; d: string | null }[]): Promise<void> {
    if (!items.length) return;
    await em.query(
      `WITH gone AS (
         DELETE FROM kpi_variant_person_days t USING unnest($2::uuid[], $3::date[]) AS u(p, d)
         WHERE t.workspace_id = $1 AND t.profile_id = u.p AND (u.d IS NULL OR t.day = u.d)
         RETURNING t.*)
       INSERT INTO kpi_variant_day_totals AS t (workspace_id, experiment_key, variant_key, day, ${TOTALS.join(', ')})
       SELECT $1, g.experiment_key, g.variant_key, g.day, ${totalsOf('g', '-')} FROM gone g GROUP BY 2, 3, 4
       ON CONFLICT (workspace_id, experiment_key, variant_key, day) DO UPDATE SET ${addUp(TOTALS)}`,
      [ws, items.map((i) => i.p), items.map((i) => i.d)],
    );
  }

  /** Replaces these people's memberships (and member bits) with their current clean exposures. */
  private async regroup(em: EntityManager, ws: string, ids: string[]): Promise<void> {
    await em.query(
      `WITH gone AS (DELETE FROM kpi_variant_people WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[]) RETURNING experiment_key, variant_key, ordinal),
       c AS (SELECT experiment_key, variant_key, ordinal / ${CHUNK_BITS} AS chunk, bit_or(set_bit(${ZERO}, ordinal % ${CHUNK_BITS}, 1)) AS mask FROM gone GROUP BY 1, 2, 3)
       UPDATE kpi_variant_members m SET bits = m.bits & ~c.mask FROM c
       WHERE m.workspace_id = $1 AND m.experiment_key = c.experiment_key AND m.variant_key = c.variant_key AND m.chunk = c.chunk`,
      [ws, ids],
    );
    await em.query(
      `WITH cur AS (SELECT x.experiment_key, x.profile_id, x.variant_key, k.ordinal
                    FROM experiment_exposures x JOIN kpi_profiles k ON k.workspace_id = $1 AND k.profile_id = x.profile_id
                    WHERE x.workspace_id = $1 AND x.profile_id = ANY($2::uuid[]) AND NOT x.contaminated),
       ins AS (INSERT INTO kpi_variant_people (workspace_id, experiment_key, profile_id, variant_key, ordinal) SELECT $1, experiment_key, profile_id, variant_key, ordinal FROM cur),
       c AS (SELECT experiment_key, variant_key, ordinal / ${CHUNK_BITS} AS chunk, bit_or(set_bit(${ZERO}, ordinal % ${CHUNK_BITS}, 1)) AS mask FROM cur GROUP BY 1, 2, 3)
       INSERT INTO kpi_variant_members AS m (workspace_id, experiment_key, variant_key, chunk, bits) SELECT $1, experiment_key, variant_key, chunk, mask FROM c
       ON CONFLICT (workspace_id, experiment_key, variant_key, chunk) DO UPDATE SET bits = m.bits | EXCLUDED.bits`,
      [ws, ids],
    );
  }

  /** Adds what these members' activity holds on these local days (every day when `d` is null), per membership. */
  private async give(em: EntityManager, ws: string, tz: string, items: { p: string; d: string | null }[]): Promise<void> {
    if (!items.length) return;
    await em.query(
      `WITH u AS (SELECT * FROM unnest($2::uuid[], $3::date[]) AS u(p, d)),
       add AS (
         SELECT v.experiment_key, v.variant_key, v.profile_id, (a.hour AT TIME ZONE $4::text)::date AS day, ${LEDGER.map((m) => `sum(a.${m}) AS ${m}`).join(', ')}
         FROM u JOIN kpi_variant_people v ON v.workspace_id = $1 AND v.profile_id = u.p
         JOIN kpi_activity a ON a.workspace_id = $1 AND a.profile_id = u.p
           AND (u.d IS NULL OR (a.hour >= (u.d::timestamp AT TIME ZONE $4::text) AND a.hour < ((u.d + 1)::timestamp AT TIME ZONE $4::text)))
         GROUP BY 1, 2, 3, 4),
       led AS (INSERT INTO kpi_variant_person_days (workspace_id, experiment_key, variant_key, profile_id, day, ${LEDGER.join(', ')})
               SELECT $1, experiment_key, variant_key, profile_id, day, ${LEDGER.join(', ')} FROM add)
       INSERT INTO kpi_variant_day_totals AS t (workspace_id, experiment_key, variant_key, day, ${TOTALS.join(', ')})
       SELECT $1, experiment_key, variant_key, day, ${totalsOf('add')} FROM add GROUP BY 2, 3, 4
       ON CONFLICT (workspace_id, experiment_key, variant_key, day) DO UPDATE SET ${addUp(TOTALS)}`,
      [ws, items.map((i) => i.p), items.map((i) => i.d), tz],
    );
  }

  /** Whether the workspace's variant rollups hold every exposure (false until a rebuild for exposures from before them). */
  async ready(em: EntityManager, ws: string): Promise<boolean> {
    const [r]: { ready: boolean }[] = await em.query(`SELECT variants_ready AS ready FROM kpi_rollup_state WHERE workspace_id = $1`, [ws]);
    return r?.ready !== false;
  }

  async markReady(em: EntityManager, ws: string): Promise<void> {
    await em.query(`UPDATE kpi_rollup_state SET variants_ready = true WHERE workspace_id = $1`, [ws]);
  }

  /**
   * Base measures per bucket and variant of experiment `exp` (only `variant` when given), keyed
   * `${i}|${variant}`: `ppl` (active, interacting, buyers: the OR of the bucket's day-set chunks AND
   * the variant's members), `dau` (each day's members, summed), `wau`/`mau` (the OR of the 7/30
   * days ending with the bucket's last) and `tot` (the day totals).
   */
  async measures(db: EntityManager, ws: string, buckets: Bucket[], families: Set<string>, exp: string, variant: string | null, byVariant: boolean): Promise<Map<string, Base>> {
    const out = new Map<string, Base>();
    const add = (rows: Record<string, unknown>[]) => accumulate(out, rows);
    // The reads below do not wait for one another: issued together, they run as one statement.
    const em = oneTrip(db);
    // Without the breakdown, the experiment's people are the union of its variants (disjoint: sums in SQL, exact numerics).
    const mk = byVariant ? 'm.k' : `''`;
    const ld = buckets.map((b) => b.localStart.slice(0, 10));
    const le = buckets.map((b) => b.localEnd.slice(0, 10));
    // Members of the experiment's variants (one when filtered), by chunk.
    const members = `m AS (SELECT variant_key AS k, chunk, bits FROM kpi_variant_members WHERE workspace_id = $1 AND experiment_key = $4 AND ($5::text IS NULL OR variant_key = $5))`;
    const distinct = (starts: string[], ends: string[], kinds: number[], cols: string) =>
      em.query(
        `WITH ${members},
         u AS (SELECT b.i, d.kind, d.chunk, bit_or(d.bits) AS u
               FROM unnest($2::date[], $3::date[]) WITH ORDINALITY AS b(ld, le, i)
               JOIN kpi_day_people d ON d.workspace_id = $1 AND d.kind = ANY($6::smallint[]) AND d.dim = '' AND d.day >= b.ld AND d.day < b.le
               WHERE d.chunk IN (SELECT chunk FROM m)
               GROUP BY 1, 2, 3),
         x AS (SELECT u.i, ${mk} AS k, u.kind, bit_count(u.u & m.bits) AS n FROM u JOIN m ON m.chunk = u.chunk)
         SELECT x.i, x.k, ${cols} FROM x GROUP BY 1, 2`,
        [ws, starts, ends, exp, variant, kinds],
      );
    const pending: Promise<void>[] = [];
    // The carried day totals of each bucket's days (`cols`), or of its last day (`last`).
    const totals = (cols: string, last = false) =>
      pending.push(
        em
          .query(
            `SELECT b.i, ${byVariant ? 'd.variant_key' : `''`} AS k, ${cols}
             FROM unnest($2::date[], $3::date[]) WITH ORDINALITY AS b(ld, le, i)
             JOIN kpi_variant_day_totals d ON d.workspace_id = $1 AND d.experiment_key = $4 AND ($5::text IS NULL OR d.variant_key = $5)
               AND ${last ? 'd.day = b.le - 1' : 'd.day >= b.ld AND d.day < b.le'}
             GROUP BY 1, 2`,
            [ws, ld, le, exp, variant],
          )
          .then(add),
      );
    // Distinct people of one day are that day's count; of several days, the OR of their bitmaps.
    const oneDay = ld.every((d, j) => le[j] === shift(d, 1));
    if (families.has('ppl') && oneDay) totals('sum(d.active) AS active, sum(d.interacting) AS interacting, sum(d.buyers) AS buyers');
    else if (families.has('ppl')) pending.push(distinct(ld, le, [0, 1, 2], `sum(x.n) FILTER (WHERE x.kind = 0) AS active, sum(x.n) FILTER (WHERE x.kind = 1) AS interacting, sum(x.n) FILTER (WHERE x.kind = 2) AS buyers`).then(add));
    if (families.has('wau')) totals('sum(d.wau) AS wau', true);
    if (families.has('mau')) totals('sum(d.mau) AS mau', true);
    if (families.has('dau')) totals('sum(d.active) AS "dauSum"');
    if (families.has('tot')) {
      totals(`sum(d.orders) AS orders, sum(d.revenue) AS gmv, sum(d.nps_responses) AS "npsResponses", sum(d.nps_promoters) AS "npsPromoters", sum(d.nps_detractors) AS "npsDetractors", ${signalSums('d')}`);
    }
    await Promise.all(pending);
    return out;
  }
}

/** Families the variant rollups answer. */
export const VARIANT_FAMILIES = new Set(['ppl', 'dau', 'wau', 'mau', 'tot']);

/**
 * Window-count deltas per (experiment, variant, day) → [wau, mau] between two readings of people's
 * membership days: each person's cover (the days within 7 / 30 of one of their days) is taken
 * back under the variant they had and given under the one they have; for a partial settle only on
 * the days of its `from`–`to` (the days whose windows its reading sees whole).
 */
export function windowDeltas(
  before: Map<string, { v: string; days: string[] }>,
  after: Map<string, { v: string; days: string[] }>,
  scope: Map<string, { from: string | null; to: string | null }>,
): Map<string, [number, number]> {
  const out = new Map<string, [number, number]>();
  const bump = (x: string, v: string, d: string, w: number, n: number) => {
    const k = `${x}\u0001${v}\u0001${d}`;
    const e = out.get(k) ?? [0, 0];
    e[w] += n;
    out.set(k, e);
  };
  for (const key of new Set([...before.keys(), ...after.keys()])) {
    const [p, x] = key.split('\u0001');
    const s = scope.get(p);
    WINDOWS.forEach(({ days: n }, w) => {
      const cover = (days: string[] | undefined) => {
        const c = new Set<string>();
        for (const d of days ?? []) for (let i = 0; i < n; i++) c.add(shift(d, i));
        if (s?.from) for (const d of c) if (d < s.from || d > s.to!) c.delete(d);
        return c;
      };
      const b = before.get(key);
      const a = after.get(key);
      const cb = cover(b?.days);
      const ca = cover(a?.days);
      for (const d of cb) if (!(a && a.v === b!.v && ca.has(d))) bump(x, b!.v, d, w, -1);
      for (const d of ca) if (!(b && b.v === a!.v && cb.has(d))) bump(x, a!.v, d, w, 1);
    });
  }
  return out;
}
