import { createHash } from 'node:crypto';
import type { GraphQLResolveInfo } from 'graphql';
import { Arg, Authorized, Ctx, Float, ID, Int, Mutation, Query, Resolver, Root, Subscription } from 'type-graphql';
import { Role, requireAuth, requireRole } from '../../platform/auth';
import { AppError } from '../../platform/errors';
import type { RequestContext } from '../../platform/graphql/context';
import { servicesFor } from '../../platform/graphql/services-for';
import type { LiveHub, LiveUpdate } from '../../platform/live';
import { Topics } from '../../platform/pubsub';
import type { WorkspaceService } from '../workspaces';
import { CATALOGUE, KpiMetric } from './kpi.catalogue';
import { KpiErrorCode } from './kpi.errors';
import { AggregateAttributionInput, KpiFilterInput, KpiRangeInput, SavedFunnelInput } from './kpi.inputs';
import { aggregateRows, type AggregateDeps } from './kpi.aggregate';
import type { FunnelDef } from './kpi.funnels';
import type { KpiSeriesResult, KpiSeriesValue, KpiService, LiveKpis } from './kpi.service';
import {
  AggregatePage,
  AggregateRow,
  AggregateValue,
  AttributedValue,
  FunnelStep,
  KpiBreakdown,
  KpiGrain,
  KpiPoint,
  KpiRangeType,
  KpiResult,
  KpiSeries,
  KpiSnapshot,
  KpiSnapshotValue,
  KpiUpdate,
  RetentionCohort,
  RetentionMatrix,
  SavedFunnel,
} from './kpi.type';

/** The services the KPI resolver uses (`kpiUpdated` too, through `kpiDeps`); the app's services object provides them. */
export interface KpiResolverDeps extends AggregateDeps {
  readonly kpis: KpiService;
  readonly workspaces: WorkspaceService;
  readonly live: LiveHub;
}

/** A subscription's `subscribe` has no resolver instance: it reads the same services from the schema. */
const kpiDeps = (info: GraphQLResolveInfo) => servicesFor(info) as KpiResolverDeps;

/** Aggregates only, never personal data: READ, ANALYST (and ADMIN). */
const VIEWERS = [Role.READ, Role.ANALYST] as const;

export const toSeries = (s: KpiSeriesValue): KpiSeries =>
  Object.assign(new KpiSeries(), { key: s.key, points: s.points.map((p) => Object.assign(new KpiPoint(), p)) });

export const toResult = (r: KpiSeriesResult): KpiResult =>
  Object.assign(new KpiResult(), {
    metric: r.metric,
    label: CATALOGUE[r.metric].label,
    formula: CATALOGUE[r.metric].formula,
    grain: r.grain as KpiGrain,
    timeZone: r.timeZone,
    total: toSeries(r.total),
    breakdown: r.series.map(toSeries),
  });

const toSavedFunnel = (f: FunnelDef): SavedFunnel => Object.assign(new SavedFunnel(), { id: f.id, name: f.name, steps: f.steps, withinHours: f.withinHours, ready: f.ready, createdAt: f.createdAt });

function decodeCursor(after: string | null | undefined): number {
  if (after == null) return 0;
  const n = Number(Buffer.from(after, 'base64url').toString('utf8').replace(/^o:/, ''));
  if (!Number.isInteger(n) || n < 0) throw AppError.badInput(KpiErrorCode.INVALID_KPI_ARGUMENT, 'after', 'not a cursor returned by this query');
  return n;
}

/** One computed live version, mapped once and shared by every subscriber of the same arguments. */
interface KpiLiveValue {
  computedAt: Date;
  results: KpiResult[];
  /** What the next update starts from. */
  state: LiveKpis;
}

/** The moment from which a batch of `Topics.kpisChanged` messages can have changed buckets; null: any bucket. */
function changedSince(changes: unknown[]): number | null {
  let since = Infinity;
  for (const c of changes) {
    const s = (c as { since?: unknown } | null)?.since;
    if (typeof s !== 'number' || !Number.isFinite(s)) return null;
    since = Math.min(since, s);
  }
  return Number.isFinite(since) ? since : null;
}

@Resolver()
export class KpiResolver {
  constructor(private readonly services: KpiResolverDeps) {}

  @Authorized(...VIEWERS)
  @Query(() => KpiResult, { description: 'A KPI time series over a range at a grain, optionally broken down. Reads rollups kept in the ingest transaction. READ or ANALYST.' })
  async kpi(
    @Arg('metric', () => KpiMetric, { description: 'The metric.' }) metric: KpiMetric,
    @Arg('range', () => KpiRangeInput, { description: 'Local dates, inclusive.' }) range: KpiRangeInput,
    @Ctx() ctx: RequestContext,
    @Arg('grain', () => KpiGrain, { defaultValue: KpiGrain.DAY, description: 'Bucket size.' }) grain: KpiGrain,
    @Arg('breakdown', () => KpiBreakdown, { nullable: true, description: 'Split into one series per value.' }) breakdown?: KpiBreakdown | null,
    @Arg('filter', () => KpiFilterInput, { nullable: true, description: 'Restrict activity or people.' }) filter?: KpiFilterInput | null,
  ): Promise<KpiResult> {
    const [r] = await this.services.kpis.series(requireAuth(ctx).workspaceId, [metric], { ...range }, grain, breakdown ?? 'NONE', { ...(filter ?? {}) });
    return toResult(r);
  }

  @Authorized(...VIEWERS)
  @Query(() => KpiSnapshot, { description: 'Several KPIs over a range (one bucket each) with the change against the equally long range before. READ or ANALYST.' })
  async kpis(
    @Arg('metrics', () => [KpiMetric], { description: '1–30 metrics.' }) metrics: KpiMetric[],
    @Arg('range', () => KpiRangeInput, { description: 'Local dates, inclusive.' }) range: KpiRangeInput,
    @Ctx() ctx: RequestContext,
    @Arg('filter', () => KpiFilterInput, { nullable: true, description: 'Restrict activity or people.' }) filter?: KpiFilterInput | null,
  ): Promise<KpiSnapshot> {
    if (!metrics.length || metrics.length > 30) throw AppError.badInput(KpiErrorCode.INVALID_KPI_ARGUMENT, 'metrics', 'ask for 1–30 metrics');
    const s = await this.services.kpis.snapshot(requireAuth(ctx).workspaceId, metrics, { ...range }, { ...(filter ?? {}) });
    return Object.assign(new KpiSnapshot(), {
      range: Object.assign(new KpiRangeType(), s.range),
      previousRange: Object.assign(new KpiRangeType(), s.previousRange),
      timeZone: s.timeZone,
      values: s.values.map((v) => Object.assign(new KpiSnapshotValue(), { ...v, label: CATALOGUE[v.metric].label, formula: CATALOGUE[v.metric].formula })),
    });
  }

  @Authorized(...VIEWERS)
  @Query(() => RetentionMatrix, { description: 'Retention cohorts: people new in each bucket of the range, and the share of them active in each following period (retention[j] = people of the cohort active in bucket cohort + j ÷ cohort size). Without a filter and with whole buckets (days; weeks from a Monday; months from the 1st) it reads counts kept at ingest, one row per cell. READ or ANALYST.' })
  async retentionCohorts(
    @Arg('range', () => KpiRangeInput, { description: 'Cohort buckets in this range.' }) range: KpiRangeInput,
    @Ctx() ctx: RequestContext,
    @Arg('grain', () => KpiGrain, { defaultValue: KpiGrain.DAY, description: 'Cohort and period size (DAY, WEEK or MONTH).' }) grain: KpiGrain,
    @Arg('periods', () => Int, { defaultValue: 7, description: 'Periods after the cohort\'s own (1–52).' }) periods: number,
    @Arg('filter', () => KpiFilterInput, { nullable: true, description: 'Restrict activity or people.' }) filter?: KpiFilterInput | null,
  ): Promise<RetentionMatrix> {
    const r = await this.services.kpis.retentionCohorts(requireAuth(ctx).workspaceId, { ...range }, grain, periods, { ...(filter ?? {}) });
    return Object.assign(new RetentionMatrix(), { grain, timeZone: r.timeZone, cohorts: r.rows.map((x) => Object.assign(new RetentionCohort(), x)) });
  }

  @Authorized(...VIEWERS)
  @Query(() => [FunnelStep], { description: 'An ordered funnel over event names: people doing step 1 in the range (t0: their first step-1 event in it), then each next step at or after the previous one and within `withinHours` of t0. Answered from a ready saved funnel of the same steps and window when there is no filter and the range is at most 93 days (cost by days); otherwise from the events of the steps in the range (index path, cost by those events). READ or ANALYST.' })
  async funnel(
    @Arg('steps', () => [String], { description: '2–8 event names, in order.' }) steps: string[],
    @Arg('range', () => KpiRangeInput, { description: 'Range of step 1.' }) range: KpiRangeInput,
    @Ctx() ctx: RequestContext,
    @Arg('withinHours', () => Float, { defaultValue: 24 * 7, description: 'Window from step 1, hours.' }) withinHours: number,
    @Arg('filter', () => KpiFilterInput, { nullable: true, description: 'Channels, stage or tag.' }) filter?: KpiFilterInput | null,
  ): Promise<FunnelStep[]> {
    const r = await this.services.kpis.funnel(requireAuth(ctx).workspaceId, steps, { ...range }, withinHours, { ...(filter ?? {}) });
    return r.map((s) => Object.assign(new FunnelStep(), s));
  }

  @Authorized(...VIEWERS)
  @Query(() => [SavedFunnel], { description: 'Saved funnels of the workspace, oldest first. READ or ANALYST.' })
  async savedFunnels(@Ctx() ctx: RequestContext): Promise<SavedFunnel[]> {
    return (await this.services.kpis.savedFunnels(requireAuth(ctx).workspaceId)).map(toSavedFunnel);
  }

  @Authorized(Role.ANALYST)
  @Mutation(() => SavedFunnel, {
    description:
      'Save a funnel: kept at ingest from now on, so `funnel` with these steps and window answers from per-day counts once it is ready (backfilled by the sweep when the workspace has history). One per steps and window. ANALYST or ADMIN.',
  })
  async saveFunnel(@Arg('input', () => SavedFunnelInput, { description: 'Name, steps and window.' }) input: SavedFunnelInput, @Ctx() ctx: RequestContext): Promise<SavedFunnel> {
    return toSavedFunnel(await this.services.kpis.saveFunnel(requireAuth(ctx).workspaceId, input.name, input.steps, input.withinHours));
  }

  @Authorized(Role.ANALYST)
  @Mutation(() => Boolean, { description: 'Delete a saved funnel and its counts (`funnel` reads events again for its steps). ANALYST or ADMIN.' })
  async deleteSavedFunnel(@Arg('id', () => ID, { description: 'Saved funnel id.' }) id: string, @Ctx() ctx: RequestContext): Promise<boolean> {
    return this.services.kpis.deleteFunnel(requireAuth(ctx).workspaceId, id);
  }

  @Authorized(...VIEWERS)
  @Query(() => AggregatePage, {
    description:
      'Semantic layer for BI: measures (the KPI catalogue, formulas on `KpiMetric`) and attribution measures (a model\'s credit, cost, CAC and ROI per channel or touchpoint) by time bucket and at most one dimension (a `KpiBreakdown`), over the same rollups as `kpi` and `attribution`, paginated. READ or ANALYST.',
  })
  async aggregate(
    @Arg('measures', () => [KpiMetric], { description: '0–30 measures (with `attribution`, 30 together; at least one of either).' }) measures: KpiMetric[],
    @Arg('range', () => KpiRangeInput, { description: 'Local dates, inclusive.' }) range: KpiRangeInput,
    @Ctx() ctx: RequestContext,
    @Arg('grain', () => KpiGrain, { defaultValue: KpiGrain.DAY, description: 'Time bucket size (DAY or coarser with attribution measures).' }) grain: KpiGrain,
    @Arg('dimension', () => KpiBreakdown, { nullable: true, description: 'Dimension besides time; without it one row per bucket. Attribution measures need none, CHANNEL or TOUCHPOINT.' }) dimension?: KpiBreakdown | null,
    @Arg('filter', () => KpiFilterInput, { nullable: true, description: 'Restrict activity or people (KPI measures only: attribution measures take no filter).' }) filter?: KpiFilterInput | null,
    @Arg('first', () => Int, { defaultValue: 100, description: 'Rows per page (1–1000).' }) first = 100,
    @Arg('after', () => String, { nullable: true, description: 'Cursor from the previous page.' }) after?: string | null,
    @Arg('attribution', () => [AggregateAttributionInput], { nullable: true, description: 'Attribution measures, in `AggregateRow.attributed` in this order: the numbers `attribution` gives over each bucket\'s local days.' })
    attribution?: AggregateAttributionInput[] | null,
  ): Promise<AggregatePage> {
    if (!Number.isInteger(first) || first < 1 || first > 1000) throw AppError.badInput(KpiErrorCode.INVALID_KPI_ARGUMENT, 'first', 'first must be in 1–1000');
    const offset = decodeCursor(after);
    const rows = await aggregateRows(this.services, requireAuth(ctx).workspaceId, measures, attribution ?? [], { ...range }, grain, dimension ?? 'NONE', { ...(filter ?? {}) });
    const page = rows.slice(offset, offset + first).map((r) =>
      Object.assign(new AggregateRow(), {
        bucket: r.bucket,
        dimension: r.dimension,
        values: r.values.map((v) => Object.assign(new AggregateValue(), v)),
        attributed: r.attributed.map((v) => Object.assign(new AttributedValue(), v)),
      }),
    );
    const next = offset + first < rows.length ? Buffer.from(`o:${offset + first}`).toString('base64url') : null;
    return Object.assign(new AggregatePage(), { rows: page, totalCount: rows.length, nextCursor: next });
  }


  @Authorized(...VIEWERS)
  @Subscription(() => KpiUpdate, {
    description:
      'KPIs, live: first the current values, then a new version after each commit that changed them (on any instance), coalesced to at most one push per `Workspace.liveUpdateIntervalMs` (default 1 s, minimum 100 ms). Subscribers with the same arguments in a workspace share one computation per change. A commit that only added events reads again only the buckets from its earliest event on (less the days retention metrics look back, DAY and HOUR grain, no stage/tag/segment breakdown or filter, no relation metrics); merges, unmerges, rebuilds, zone changes and a new local day read every bucket. READ or ANALYST.',
    subscribe: async ({ args, context, info }) => {
      const auth = requireRole(context as RequestContext, VIEWERS);
      const services = kpiDeps(info);
      const ws = auth.workspaceId;
      const metrics = args.metrics as KpiMetric[];
      const grain = (args.grain ?? KpiGrain.DAY) as KpiGrain;
      const periods = (args.periods ?? 2) as number;
      const breakdown = (args.breakdown ?? 'NONE') as KpiBreakdown | 'NONE';
      const filter = { ...((args.filter as KpiFilterInput | null) ?? {}) };
      if (!metrics.length || metrics.length > 30) throw AppError.badInput(KpiErrorCode.INVALID_KPI_ARGUMENT, 'metrics', 'ask for 1–30 metrics');
      if (!Number.isInteger(periods) || periods < 1 || periods > 400) throw AppError.badInput(KpiErrorCode.INVALID_KPI_ARGUMENT, 'periods', 'periods must be an integer in 1–400');
      services.kpis.validateFilter(filter);
      services.kpis.validateBreakdown(breakdown, filter);
      services.kpis.validateScope(metrics, breakdown, filter);
      const digest = createHash('sha256').update(JSON.stringify([metrics, grain, periods, breakdown, filter])).digest('base64url');
      const intervalMs = await services.workspaces.liveInterval(ws);
      return services.live.subscribe<KpiLiveValue>({
        key: `kpi:${ws}:${digest}`,
        // A zone change (workspace update) or a merge, unmerge or rebuild: everything is read again.
        triggers: [Topics.kpisChanged(ws), Topics.workspaceUpdated(ws)],
        intervalMs,
        async compute() {
          const state = await services.kpis.liveCurrent(ws, metrics, grain, periods, breakdown, filter);
          return { computedAt: new Date(), results: state.results.map(toResult), state };
        },
        // After commits that only added events: the buckets from their earliest event on are read again.
        async update(prev, changes) {
          const since = changedSince(changes);
          const state = since === null ? await services.kpis.liveCurrent(ws, metrics, grain, periods, breakdown, filter) : await services.kpis.liveUpdate(ws, metrics, grain, periods, breakdown, filter, prev.state, since);
          return { computedAt: new Date(), results: state.results.map(toResult), state };
        },
      });
    },
  })
  kpiUpdated(
    @Arg('metrics', () => [KpiMetric], { description: '1–30 metrics.' }) _metrics: KpiMetric[],
    @Root() update: LiveUpdate<KpiLiveValue>,
    @Arg('grain', () => KpiGrain, { defaultValue: KpiGrain.DAY, description: 'Bucket size.' }) _grain: KpiGrain,
    @Arg('periods', () => Int, { defaultValue: 2, description: 'Buckets per series, ending with the current one (1–400); 2 gives the current and the previous period.' }) _periods: number,
    @Arg('breakdown', () => KpiBreakdown, { nullable: true, description: 'Split into one series per value.' }) _breakdown?: KpiBreakdown | null,
    @Arg('filter', () => KpiFilterInput, { nullable: true, description: 'Restrict activity or people.' }) _filter?: KpiFilterInput | null,
  ): KpiUpdate {
    return Object.assign(new KpiUpdate(), { version: update.version, computedAt: update.value.computedAt, results: update.value.results });
  }
}
