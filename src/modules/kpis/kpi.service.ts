import { AppError } from '../../platform/errors';
import type { ModuleDeps } from '../../platform/module';
import type { BatchContext, Projection } from '../events';
import { CATALOGUE, familiesOf, KpiMetric, reachOf, type Base } from './kpi.catalogue';
import { localDate } from '../../shared/zone';
import { KpiErrorCode } from './kpi.errors';
import { ingestCanAnswer } from './kpi.ingest';
import { KpiRepository, byMembership, unfiltered, type Breakdown, type Bucket, type Grain, type KpiFilterSpec } from './kpi.repository';
import { AlertService } from './alert.service';
import { Topics } from '../../platform/pubsub';
import { lockWorkspaceWrites, tryLockWorkspaceWrites } from '../../platform/db/workspace-lock';
import { FUNNEL_GAP_CAP, type FunnelDef } from './kpi.funnels';
import { UUID } from '../../shared/uuid';

export interface KpiRange {
  /** First local day, YYYY-MM-DD (workspace time zone). */
  from: string;
  /** Last local day, inclusive. */
  to: string;
}

export interface KpiPointValue {
  localStart: string;
  localEnd: string;
  start: Date;
  end: Date;
  value: number | null;
}

export interface KpiSeriesValue {
  /** Breakdown value (channel, touchpoint, stage, tag or segment key); null for the total. */
  key: string | null;
  points: KpiPointValue[];
}

export interface KpiSeriesResult {
  metric: KpiMetric;
  grain: Grain;
  breakdown: Breakdown;
  timeZone: string;
  total: KpiSeriesValue;
  series: KpiSeriesValue[];
}

export interface KpiSnapshotValue {
  metric: KpiMetric;
  value: number | null;
  previous: number | null;
  /** (value − previous) ÷ |previous|; null when previous is 0 or null. */
  change: number | null;
}

export interface KpiSnapshotResult {
  range: KpiRange;
  previousRange: KpiRange;
  timeZone: string;
  values: KpiSnapshotValue[];
}

export interface RetentionRow {
  cohortStart: string;
  size: number;
  /** Share of the cohort active in period j (j = 0 is the cohort's own period). */
  retention: (number | null)[];
}

export interface FunnelStepValue {
  name: string;
  count: number;
  conversionFromPrevious: number | null;
  conversionFromFirst: number | null;
}

/** A live KPI value: the series `current` gives and the workspace's local day they were computed on. */
export interface LiveKpis {
  today: string;
  results: KpiSeriesResult[];
}

/** The last `periods` buckets of a series that have begun. */
function trimmed(r: KpiSeriesResult, periods: number): KpiSeriesResult {
  const now = Date.now();
  const trim = (s: KpiSeriesValue): KpiSeriesValue => ({ key: s.key, points: s.points.filter((p) => p.start.getTime() <= now).slice(-periods) });
  return { ...r, total: trim(r.total), series: r.series.map(trim) };
}

/** Buckets one query may ask for. */
export const MAX_BUCKETS = 2000;
export const MAX_FUNNEL_STEPS = 8;

/** Steps (2–8 event names) and window (hours in (0, 8784]) of a funnel; `at` prefixes the field path. */
function validateFunnel(steps: string[], withinHours: number, at: string): void {
  if (!Array.isArray(steps) || steps.length < 2 || steps.length > MAX_FUNNEL_STEPS) {
    throw AppError.badInput(KpiErrorCode.INVALID_KPI_ARGUMENT, `${at}steps`, `a funnel has 2–${MAX_FUNNEL_STEPS} steps`);
  }
  steps.forEach((s, i) => {
    if (typeof s !== 'string' || !s.trim() || s.length > 200) throw AppError.badInput(KpiErrorCode.INVALID_KPI_ARGUMENT, `${at}steps.${i}`, 'a step is an event name of 1–200 characters');
  });
  if (!Number.isFinite(withinHours) || withinHours <= 0 || withinHours > 24 * 366) {
    throw AppError.badInput(KpiErrorCode.INVALID_KPI_ARGUMENT, `${at}withinHours`, 'withinHours must be in (0, 8784]');
  }
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;

function addDays(day: string, n: number): string {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000);
}

const GRAIN_HOURS: Record<Grain, number> = { HOUR: 1, DAY: 24, WEEK: 24 * 7, MONTH: 24 * 28 };

/**
 * KPIs (DESIGN §5) from rollups kept in the ingest transaction: `kpi_activity` (person × hour ×
 * channel × touchpoint) and `kpi_profiles` (acquisition). Exact distinct counts, no raw-event scans
 * for the catalogue (ad-hoc funnels read events of the steps' names in the range; saved funnels are
 * kept at ingest, kpi.funnels.ts).
 */
export class KpiService {
  private readonly repo = new KpiRepository();
  /** Targets, alert rules and alerts. */
  readonly alerts: AlertService;

  constructor(protected readonly ctx: ModuleDeps) {
    this.alerts = new AlertService(ctx, this);
  }

  /** The read model: KPI rollups of each batch's events, in the batch's transaction; alert rules are evaluated after commit. */
  readonly projection: Projection = {
    name: 'kpis',
    // Experiments first: the variant rollups follow the batch's exposures (kpi.variants.ts).
    after: ['experiments'],
    apply: async (b) => ({ afterCommit: await this.afterBatch(b) }),
    // After an unmerge moved events back: both people's rollups are rebuilt from their events.
    refresh: async (r) => {
      await this.repo.rebuild(r.em, r.workspaceId, r.profileIds);
      await this.repo.variants.settle(r.em, r.workspaceId, await this.repo.sets.writeZone(r.em, r.workspaceId), [], r.profileIds);
      return { afterCommit: () => this.changed(r.workspaceId, null) };
    },
    rebuild: async (em, ws, ids) => {
      await this.repo.rebuild(em, ws, ids);
      await this.repo.variants.settle(em, ws, await this.repo.sets.writeZone(em, ws), [], ids);
      return { afterCommit: () => this.changed(ws, null) };
    },
    // Every person's day sets now follow the workspace's zone (after a zone change: queries leave the
    // slow path); the quarter totals, which no person's rebuild touches, are rebuilt from the events.
    rebuilt: async (em, ws) => {
      await this.repo.rebuildTotals(em, ws);
      await this.repo.sets.markConsistent(em, ws);
      await this.repo.funnels.markReady(em, ws);
      await this.repo.variants.markReady(em, ws);
    },
    // Rollups do not change with time (alert rules are evaluated after each commit, scheduled by
    // apply); the sweep backfills saved funnels created on a workspace with history.
    sweep: async (ws, _now, max) => this.backfillFunnels(ws, max),
    due: { skip: 'time alone changes no rollup' },
    prefetch: { skip: 'no Profile field of this module' },
  };

  private async afterBatch(b: BatchContext): Promise<() => void> {
    await this.repo.foldMerges(b.em, b.workspaceId, b.merged);
    await this.repo.addEvents(b.em, b.workspaceId, b.events);
    await this.repo.funnels.onBatch(b.em, b.workspaceId, () => this.repo.sets.writeZone(b.em, b.workspaceId), b.events, b.merged);
    const whole = b.merged.flatMap((m) => [m.mergedId, m.survivorId]);
    await this.repo.variants.settle(b.em, b.workspaceId, await this.repo.sets.writeZone(b.em, b.workspaceId), b.events, whole);
    // A merge moves people's bits on every day they were active: any bucket may have changed.
    const since = b.merged.length ? null : b.events.reduce((m, e) => Math.min(m, e.ts.getTime()), Infinity);
    return () => {
      if (since !== Infinity) this.changed(b.workspaceId, since);
      this.alerts.schedule(b.workspaceId);
    };
  }

  /** Tells live KPIs (after commit) which buckets may have changed: those from `since` (ms) on, or any (null). */
  private changed(ws: string, since: number | null): void {
    this.ctx.pubSub.publish(Topics.kpisChanged(ws), since === null ? {} : { since });
  }

  /** Today's date in the workspace time zone, YYYY-MM-DD. */
  async today(ws: string): Promise<string> {
    return (await this.clock(ws)).today;
  }

  /** One metric over a whole range (one bucket). */
  async valueOver(ws: string, metric: KpiMetric, range: KpiRange, filter: KpiFilterSpec = {}): Promise<number | null> {
    const n = daysBetween(range.from, range.to) + 1;
    const em = this.ctx.ds.manager;
    const { tz, buckets } = await this.repo.buckets(em, ws, range.from, addDays(range.to, 1), 'DAY', n);
    const data = await this.repo.measures(em, ws, tz, buckets, familiesOf([metric]), 'DAY', 'NONE', filter);
    return CATALOGUE[metric].value({ ...(data.get('1|') ?? {}), days: buckets[0]?.days ?? n });
  }

  validateFilter(filter: KpiFilterSpec, field = 'filter'): void {
    for (const k of ['channels', 'touchpoints'] as const) {
      const v = filter[k];
      if (v == null) continue;
      if (!Array.isArray(v) || v.length > 50) throw AppError.badInput(KpiErrorCode.INVALID_KPI_FILTER, `${field}.${k}`, `${k} is a list of at most 50 values`);
      v.forEach((x, i) => {
        if (typeof x !== 'string' || x.length > 200) throw AppError.badInput(KpiErrorCode.INVALID_KPI_FILTER, `${field}.${k}.${i}`, 'a value is a string of at most 200 characters');
      });
    }
    for (const k of ['stage', 'level', 'tag', 'segment', 'experiment', 'variant', 'orgNode', 'staff'] as const) {
      const v = filter[k];
      if (v != null && (typeof v !== 'string' || !v || v.length > 200)) throw AppError.badInput(KpiErrorCode.INVALID_KPI_FILTER, `${field}.${k}`, `${k} is a key of 1–200 characters`);
    }
    if (filter.variant && !filter.experiment) throw AppError.badInput(KpiErrorCode.INVALID_KPI_FILTER, `${field}.experiment`, 'a variant filter needs the experiment it belongs to');
  }

  /** The EXPERIMENT_VARIANT breakdown splits one experiment: `filter.experiment` names it. */
  validateBreakdown(breakdown: Breakdown, filter: KpiFilterSpec, field = 'filter'): void {
    if (breakdown === 'EXPERIMENT_VARIANT' && !filter.experiment) {
      throw AppError.badInput(KpiErrorCode.INVALID_KPI_FILTER, `${field}.experiment`, 'the EXPERIMENT_VARIANT breakdown needs filter.experiment: the key of the experiment to split by variant');
    }
  }

  /**
   * INGEST_ERROR_RATE counts events per workspace and channel, not per person: it answers breakdown
   * NONE or CHANNEL and a channel filter only; anything else is a typed error, not a wrong number.
   */
  validateScope(metrics: KpiMetric[], breakdown: Breakdown, filter: KpiFilterSpec, field = 'filter'): void {
    if (!metrics.includes(KpiMetric.INGEST_ERROR_RATE) || ingestCanAnswer(breakdown, filter)) return;
    throw AppError.badInput(
      KpiErrorCode.INVALID_KPI_ARGUMENT,
      breakdown === 'NONE' || breakdown === 'CHANNEL' ? field : 'breakdown',
      'INGEST_ERROR_RATE counts received events per workspace and channel: use breakdown NONE or CHANNEL and at most a channel filter',
    );
  }

  validateRange(range: KpiRange, field = 'range'): void {
    for (const k of ['from', 'to'] as const) {
      const v = range[k];
      if (typeof v !== 'string' || !DATE.test(v) || Number.isNaN(Date.parse(`${v}T00:00:00Z`)) || new Date(`${v}T00:00:00Z`).toISOString().slice(0, 10) !== v) {
        throw AppError.badInput(KpiErrorCode.INVALID_KPI_RANGE, `${field}.${k}`, `${k} must be a calendar date YYYY-MM-DD; got ${JSON.stringify(v)}`);
      }
    }
    if (range.from > range.to) throw AppError.badInput(KpiErrorCode.INVALID_KPI_RANGE, `${field}.to`, `to (${range.to}) is before from (${range.from})`);
  }

  private checkBuckets(range: KpiRange, grain: Grain, field = 'range'): void {
    const hours = (daysBetween(range.from, range.to) + 1) * 24;
    if (hours / GRAIN_HOURS[grain] > MAX_BUCKETS) {
      throw AppError.badInput(KpiErrorCode.INVALID_KPI_RANGE, `${field}.to`, `at most ${MAX_BUCKETS} ${grain.toLowerCase()} buckets per query; narrow the range or use a coarser grain`);
    }
  }

  /** The local bounds of a range's buckets at a grain (those `series` answers), reading no measure. */
  async localBuckets(ws: string, range: KpiRange, grain: Grain): Promise<{ localStart: string; localEnd: string }[]> {
    this.validateRange(range);
    this.checkBuckets(range, grain);
    const { buckets } = await this.repo.buckets(this.ctx.ds.manager, ws, range.from, addDays(range.to, 1), grain);
    return buckets.map((b) => ({ localStart: b.localStart, localEnd: b.localEnd }));
  }

  /** Time series of metrics at a grain, with breakdown series when asked (one pass per metric set). */
  /** `startAt` (ms): only the buckets ending after it (the live layer's partial reads). */
  async series(ws: string, metrics: KpiMetric[], range: KpiRange, grain: Grain, breakdown: Breakdown, filter: KpiFilterSpec, startAt?: number): Promise<KpiSeriesResult[]> {
    this.validateRange(range);
    this.validateFilter(filter);
    this.validateBreakdown(breakdown, filter);
    this.validateScope(metrics, breakdown, filter);
    this.checkBuckets(range, grain);
    const em = this.ctx.ds.manager;
    const all = await this.repo.buckets(em, ws, range.from, addDays(range.to, 1), grain);
    const tz = all.tz;
    // Buckets are numbered by position in every statement: the kept ones are numbered again.
    const buckets = startAt === undefined ? all.buckets : all.buckets.filter((b) => b.e.getTime() > startAt).map((b, j) => ({ ...b, i: j + 1 }));
    const fams = familiesOf(metrics);
    const total = await this.repo.measures(em, ws, tz, buckets, fams, grain, 'NONE', filter);
    const split = breakdown === 'NONE' ? null : await this.repo.measures(em, ws, tz, buckets, fams, grain, breakdown, filter);
    const keys = split ? [...new Set([...split.keys()].map((k) => k.slice(k.indexOf('|') + 1)))].sort() : [];
    const seriesOf = (m: KpiMetric, data: Map<string, Base>, key: string, label: string | null): KpiSeriesValue => ({
      key: label,
      points: buckets.map((b) => point(b, CATALOGUE[m].value(data.get(`${b.i}|${key}`) ?? withDays(b)), b)),
    });
    const withDays = (b: Bucket): Base => ({ days: b.days });
    const point = (b: Bucket, v: number | null, _b: Bucket): KpiPointValue => ({ localStart: b.localStart, localEnd: b.localEnd, start: b.s, end: b.e, value: v });
    // `days` is a bucket fact every DAU-based formula needs.
    for (const data of [total, split]) {
      if (!data) continue;
      for (const [k, v] of data) v.days = buckets[Number(k.slice(0, k.indexOf('|'))) - 1].days;
    }
    return metrics.map((m) => ({
      metric: m,
      grain,
      breakdown,
      timeZone: tz,
      total: seriesOf(m, total, '', null),
      series: split ? keys.map((k) => seriesOf(m, split, k, k)) : [],
    }));
  }

  /** Each metric over the whole range (one bucket), and over the equally long range just before. */
  async snapshot(ws: string, metrics: KpiMetric[], range: KpiRange, filter: KpiFilterSpec = {}): Promise<KpiSnapshotResult> {
    this.validateRange(range);
    this.validateFilter(filter);
    this.validateScope(metrics, 'NONE', filter);
    const n = daysBetween(range.from, range.to) + 1;
    if (n > 3660) throw AppError.badInput(KpiErrorCode.INVALID_KPI_RANGE, 'range.to', 'a snapshot covers at most 3,660 days');
    const previousRange = { from: addDays(range.from, -n), to: addDays(range.from, -1) };
    const em = this.ctx.ds.manager;
    // The range before and the range as two buckets of one read: each statement answers both (a
    // whole-catalogue snapshot costs its statements once, not twice).
    const { tz, buckets } = await this.repo.buckets(em, ws, previousRange.from, addDays(range.to, 1), 'DAY', n);
    const data = await this.repo.measures(em, ws, tz, buckets, familiesOf(metrics), 'DAY', 'NONE', filter);
    const valuesOf = (i: number) => {
      const b: Base = { ...(data.get(`${i}|`) ?? {}), days: buckets[i - 1]?.days ?? n };
      return metrics.map((m) => CATALOGUE[m].value(b));
    };
    const prev = { values: valuesOf(1) };
    const cur = { values: valuesOf(2) };
    return {
      range,
      previousRange,
      timeZone: tz,
      values: metrics.map((m, i) => {
        const value = cur.values[i];
        const previous = prev.values[i];
        return { metric: m, value, previous, change: value !== null && previous ? (value - previous) / Math.abs(previous) : null };
      }),
    };
  }

  /** Cohort matrix: people new in each bucket, and the share of them active j buckets later. */
  async retentionCohorts(ws: string, range: KpiRange, grain: Grain, periods: number, filter: KpiFilterSpec = {}): Promise<{ timeZone: string; rows: RetentionRow[] }> {
    this.validateRange(range);
    this.validateFilter(filter);
    if (!Number.isInteger(periods) || periods < 1 || periods > 52) throw AppError.badInput(KpiErrorCode.INVALID_KPI_ARGUMENT, 'periods', 'periods must be an integer in 1–52');
    if (grain === 'HOUR') throw AppError.badInput(KpiErrorCode.INVALID_KPI_ARGUMENT, 'grain', 'cohorts are DAY, WEEK or MONTH');
    this.checkBuckets(range, grain);
    const em = this.ctx.ds.manager;
    const ext = addDays(range.to, 1 + periods * (grain === 'DAY' ? 1 : grain === 'WEEK' ? 7 : 31));
    const { tz, buckets } = await this.repo.buckets(em, ws, range.from, ext, grain);
    const cohortBuckets = buckets.filter((b) => b.localStart < `${addDays(range.to, 1)}T00:00:00`);
    const cells = await this.repo.cohortCells(em, ws, grain, buckets, cohortBuckets.length, periods, filter);
    return {
      timeZone: tz,
      rows: cohortBuckets.map((b) => {
        const size = cells.get(`${b.i}|-1`) ?? 0;
        return {
          cohortStart: b.localStart,
          size,
          retention: Array.from({ length: periods + 1 }, (_, j) => {
            const target = buckets[b.i - 1 + j];
            if (!size || !target) return null;
            return (cells.get(`${b.i}|${j}`) ?? 0) / size;
          }),
        };
      }),
    };
  }

  /** Saved funnels of the workspace, oldest first. */
  savedFunnels(ws: string): Promise<FunnelDef[]> {
    return this.repo.funnels.list(this.ctx.ds.manager, ws);
  }

  /**
   * Saves a funnel: from then on kept at ingest, and `funnel` with the same steps and window answers
   * from it once ready (at once in a workspace without events; else after the sweep's backfill).
   */
  async saveFunnel(ws: string, name: string, steps: string[], withinHours: number): Promise<FunnelDef> {
    const n = typeof name === 'string' ? name.trim() : '';
    if (!n || n.length > 200) throw AppError.badInput(KpiErrorCode.INVALID_KPI_ARGUMENT, 'input.name', 'name must be 1–200 characters');
    validateFunnel(steps, withinHours, 'input.');
    // Under the ingest lock: no batch falls between "has events?" and the funnel's first batch.
    const made = await this.ctx.ds.transaction(async (em) => {
      await lockWorkspaceWrites(em, ws);
      return this.repo.funnels.create(em, ws, n, steps, withinHours);
    });
    if (!made) throw AppError.badInput(KpiErrorCode.INVALID_KPI_ARGUMENT, 'input.steps', 'a saved funnel with these steps and window exists');
    return made;
  }

  async deleteFunnel(ws: string, id: string): Promise<boolean> {
    if (!UUID.test(id) || !(await this.repo.funnels.remove(this.ctx.ds.manager, ws, id))) throw AppError.notFound(KpiErrorCode.FUNNEL_NOT_FOUND, 'no such saved funnel in this workspace');
    return true;
  }

  /** One bounded step of saved funnels' backfill (the sweep), in a transaction of its own under the ingest lock; skipped while a batch is written. */
  async backfillFunnels(ws: string, maxProfiles: number): Promise<number> {
    // Most ticks have nothing to backfill: no transaction, no lock for them.
    if (!(await this.repo.funnels.backfilling(this.ctx.ds.manager, ws))) return 0;
    return this.ctx.ds.transaction(async (em) => {
      if (!(await tryLockWorkspaceWrites(em, ws))) return 0;
      return this.repo.funnels.backfillStep(em, ws, await this.repo.sets.writeZone(em, ws), maxProfiles);
    });
  }

  /** Ordered funnel: people doing step 1 in the range, then each next step within `withinHours` of step 1. */
  async funnel(ws: string, steps: string[], range: KpiRange, withinHours: number, filter: KpiFilterSpec = {}): Promise<FunnelStepValue[]> {
    this.validateRange(range);
    this.validateFilter(filter);
    validateFunnel(steps, withinHours, '');
    this.checkBuckets(range, 'DAY');
    const em = this.ctx.ds.manager;
    const days = daysBetween(range.from, range.to) + 1;
    const { buckets } = await this.repo.buckets(em, ws, range.from, addDays(range.to, 1), 'DAY', days);
    // A ready saved funnel of these steps and window answers from its day counts (no filter, at most
    // FUNNEL_GAP_CAP days, day sets in the workspace's zone); anything else reads the steps' events.
    const saved = unfiltered(filter) && days <= FUNNEL_GAP_CAP ? await this.repo.funnels.readyFor(em, ws, steps, withinHours) : null;
    const counts =
      saved && (await this.repo.sets.zones(em, ws)).consistent
        ? await this.repo.funnels.counts(em, ws, saved, range.from, range.to)
        : await this.repo.funnel(em, ws, steps, buckets[0].s, buckets[0].e, withinHours, filter);
    return steps.map((name, i) => ({
      name,
      count: counts[i],
      conversionFromPrevious: i === 0 ? null : counts[i - 1] ? counts[i] / counts[i - 1] : null,
      conversionFromFirst: i === 0 ? null : counts[0] ? counts[i] / counts[0] : null,
    }));
  }

  /**
   * The live view: for each metric, the last `periods` buckets at `grain` ending with the current
   * (partial) bucket, in the workspace time zone.
   */
  /** `known`: the workspace's today when the caller has read it already. */
  async current(ws: string, metrics: KpiMetric[], grain: Grain, periods: number, breakdown: Breakdown, filter: KpiFilterSpec, known?: string): Promise<KpiSeriesResult[]> {
    if (!Number.isInteger(periods) || periods < 1 || periods > 400) throw AppError.badInput(KpiErrorCode.INVALID_KPI_ARGUMENT, 'periods', 'periods must be an integer in 1–400');
    const today = known ?? (await this.today(ws));
    let from: string;
    if (grain === 'HOUR') from = addDays(today, -Math.floor((periods - 1) / 24) - 1);
    else if (grain === 'DAY') from = addDays(today, 1 - periods);
    else if (grain === 'WEEK') {
      const d = new Date(`${today}T00:00:00Z`);
      from = addDays(today, -((d.getUTCDay() + 6) % 7) - 7 * (periods - 1));
    } else {
      const d = new Date(`${today.slice(0, 7)}-01T00:00:00Z`);
      d.setUTCMonth(d.getUTCMonth() - (periods - 1));
      from = d.toISOString().slice(0, 10);
    }
    const results = await this.series(ws, metrics, { from, to: today }, grain, breakdown, filter);
    return results.map((r) => trimmed(r, periods));
  }

  /** How `liveUpdate` answered since start: by reading every bucket again, or only the changed ones. */
  readonly liveReads = { full: 0, partial: 0 };

  /** `current`, with the workspace's today it was computed on (what `liveUpdate` starts from). */
  async liveCurrent(ws: string, metrics: KpiMetric[], grain: Grain, periods: number, breakdown: Breakdown, filter: KpiFilterSpec): Promise<LiveKpis> {
    const { today } = await this.clock(ws);
    return { today, results: await this.current(ws, metrics, grain, periods, breakdown, filter, today) };
  }

  /**
   * The live series after commits whose buckets changed from `since` (ms) on (`Topics.kpisChanged`):
   * only the buckets from the local day of `since`, less the metrics' reach (`reachOf`), are read
   * again; earlier ones are kept from `prev`. A full `liveCurrent` when that cannot be exact: a new
   * local day since `prev` (values of begun periods change with time), WEEK/MONTH grain, a stage,
   * tag, segment or experiment breakdown or filter (a membership moves a person's past activity), relation metrics, or a
   * breakdown key appearing or disappearing.
   */
  async liveUpdate(ws: string, metrics: KpiMetric[], grain: Grain, periods: number, breakdown: Breakdown, filter: KpiFilterSpec, prev: LiveKpis, since: number): Promise<LiveKpis> {
    const full = () => {
      this.liveReads.full++;
      return this.liveCurrent(ws, metrics, grain, periods, breakdown, filter);
    };
    const reach = reachOf(metrics);
    const partial = (grain === 'DAY' || grain === 'HOUR') && !byMembership(breakdown, filter);
    if (reach === null || !partial) return full();
    const { today, tz } = await this.clock(ws);
    if (today !== prev.today) return full();
    const from = addDays(localDate(since, tz), -reach);
    // Events after today (clock skew) change no bucket that has begun.
    if (from > today) return prev;
    const kept = prev.results[0]?.total.points[0];
    if (!kept || from <= kept.localStart.slice(0, 10)) return full();
    // Without a reach back, from the bucket of `since` on (an hour at HOUR grain); else from the day's start.
    const fresh = await this.series(ws, metrics, { from, to: today }, grain, breakdown, filter, reach === 0 ? since : undefined);
    const first = fresh[0]?.total.points[0];
    if (!first) return prev;
    const cut = first.start.getTime();
    const results: KpiSeriesResult[] = [];
    for (const [i, r] of fresh.entries()) {
      const old = prev.results[i];
      const keys = (x: KpiSeriesResult) => x.series.map((s) => s.key).join('\u0000');
      if (!old || old.metric !== r.metric || keys(old) !== keys(r)) return full();
      const splice = (a: KpiSeriesValue, b: KpiSeriesValue): KpiSeriesValue => ({ key: a.key, points: [...a.points.filter((p) => p.start.getTime() < cut), ...b.points] });
      results.push(trimmed({ ...r, total: splice(old.total, r.total), series: r.series.map((s, j) => splice(old.series[j], s)) }, periods));
    }
    this.liveReads.partial++;
    return { today, results };
  }

  private async clock(ws: string): Promise<{ today: string; tz: string }> {
    const [r] = await this.ctx.ds.manager.query(`SELECT to_char(now() AT TIME ZONE time_zone, 'YYYY-MM-DD') AS today, time_zone AS tz FROM workspaces WHERE id = $1`, [ws]);
    return r;
  }

}
