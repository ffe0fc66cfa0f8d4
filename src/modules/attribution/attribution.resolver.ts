import { createHash } from 'node:crypto';
import type { GraphQLResolveInfo } from 'graphql';
import { Arg, Authorized, Ctx, Int, Mutation, Query, Resolver, Root, Subscription } from 'type-graphql';
import { Role, requireAuth, requireRole } from '../../platform/auth';
import type { RequestContext } from '../../platform/graphql/context';
import { servicesFor } from '../../platform/graphql/services-for';
import type { LiveHub, LiveUpdate } from '../../platform/live';
import { Topics } from '../../platform/pubsub';
import { actorOf } from '../compliance';
import { KpiRangeInput } from '../../platform/graphql/date-range.input';
import type { WorkspaceService } from '../workspaces';
import { MarketingCostInput, UpdateAttributionSettingsInput } from './attribution.inputs';
import type { AttributionReportValue, AttributionService, SettingsInForce } from './attribution.service';
import type { AttributionSettings } from './attribution.settings';
import {
  AttributionDimension,
  AttributionModel,
  AttributionReport,
  AttributionRow,
  AttributionSettingsType,
  AttributionSettingsVersion,
  AttributionUpdate,
  ConversionDefinitionType,
  MarketingCostResult,
} from './attribution.type';

/** The services the attribution resolver uses; the app's services object provides them. */
export interface AttributionResolverDeps {
  readonly attribution: AttributionService;
  readonly workspaces: WorkspaceService;
  readonly live: LiveHub;
}

/** Aggregates only, never personal data: READ, ANALYST (and ADMIN). */
const VIEWERS = [Role.READ, Role.ANALYST] as const;

const deps = (info: GraphQLResolveInfo) => servicesFor(info) as AttributionResolverDeps;

const toSettings = (s: AttributionSettings, version: number, changedAt: Date | null): AttributionSettingsType =>
  Object.assign(new AttributionSettingsType(), {
    version,
    lookbackDays: s.lookbackDays,
    halfLifeDays: s.halfLifeDays,
    conversions: s.conversions.map((c) => Object.assign(new ConversionDefinitionType(), c)),
    touchEvents: s.touchEvents,
    changedAt,
  });

const inForce = (s: SettingsInForce) => toSettings(s.settings, s.version, s.changedAt);

export const toReport = (r: AttributionReportValue): AttributionReport =>
  Object.assign(new AttributionReport(), {
    model: r.model as AttributionModel,
    dimension: r.dimension as AttributionDimension,
    conversion: r.conversion.key,
    from: r.from,
    to: r.to,
    timeZone: r.timeZone,
    conversions: r.conversions,
    revenue: r.revenue,
    cost: r.cost,
    rows: r.rows.map((x) => Object.assign(new AttributionRow(), x)),
  });

const MODEL_ARG = { description: 'How credit is split (formulas on `AttributionModel`).' };
const DIMENSION_ARG = { defaultValue: AttributionDimension.CHANNEL, description: 'What credit is split over.' };
const RANGE_ARG = { nullable: true, description: 'Local days of the conversions, both inclusive (default: the 30 days ending today, workspace time zone; at most 400 days).' };
const CONVERSION_ARG = { nullable: true, description: 'Key of a conversion definition (default: the first, `order` unless changed).' };

@Resolver()
export class AttributionResolver {
  constructor(private readonly services: AttributionResolverDeps) {}

  @Authorized(...VIEWERS)
  @Query(() => AttributionReport, {
    description:
      'Which channel, touchpoint or campaign earned the conversions of a range: credited conversions and revenue per value with share, and cost, CAC and ROI where `setMarketingCost` set costs. Read from per-day rows carried at ingest. READ or ANALYST.',
  })
  async attribution(
    @Arg('model', () => AttributionModel, MODEL_ARG) model: AttributionModel,
    @Ctx() ctx: RequestContext,
    @Arg('dimension', () => AttributionDimension, DIMENSION_ARG) dimension: AttributionDimension,
    @Arg('range', () => KpiRangeInput, RANGE_ARG) range?: KpiRangeInput | null,
    @Arg('conversion', () => String, CONVERSION_ARG) conversion?: string | null,
  ): Promise<AttributionReport> {
    const ws = requireAuth(ctx).workspaceId;
    return toReport(await this.services.attribution.report(ws, { model, dimension, conversion, from: range?.from ?? null, to: range?.to ?? null }));
  }

  @Authorized(...VIEWERS)
  @Query(() => AttributionSettingsType, { description: 'Attribution settings in force (the defaults where never set). READ or ANALYST.' })
  async attributionSettings(@Ctx() ctx: RequestContext): Promise<AttributionSettingsType> {
    return inForce(await this.services.attribution.inForce(requireAuth(ctx).workspaceId));
  }

  @Authorized(...VIEWERS)
  @Query(() => [AttributionSettingsVersion], { description: 'Every version of the attribution settings, newest first. READ or ANALYST.' })
  async attributionSettingsHistory(
    @Ctx() ctx: RequestContext,
    @Arg('first', () => Int, { defaultValue: 20, description: 'How many versions (1–100).' }) first: number,
  ): Promise<AttributionSettingsVersion[]> {
    const rows = await this.services.attribution.history(requireAuth(ctx).workspaceId, first);
    return rows.map((r) => Object.assign(new AttributionSettingsVersion(), { version: r.version, settings: toSettings(r.settings, r.version, r.changedAt), changedAt: r.changedAt, changedBy: r.changedBy }));
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => AttributionSettingsType, {
    description:
      'Change the attribution settings (validated all or nothing; a new version). Paths closed from now on use them; `siyu recompute --only attribution` re-derives the past with them. ADMIN.',
  })
  async updateAttributionSettings(@Arg('input', () => UpdateAttributionSettingsInput, { description: 'Settings to change.' }) input: UpdateAttributionSettingsInput, @Ctx() ctx: RequestContext): Promise<AttributionSettingsType> {
    return inForce(await this.services.attribution.updateSettings(actorOf(ctx), { ...input, conversions: input.conversions?.map((c) => ({ ...c })) ?? input.conversions }));
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => MarketingCostResult, { description: 'Set the marketing cost of a channel, touchpoint or campaign over a period (for CAC and ROI in `attribution`). ADMIN.' })
  async setMarketingCost(@Arg('input', () => MarketingCostInput, { description: 'The cost.' }) input: MarketingCostInput, @Ctx() ctx: RequestContext): Promise<MarketingCostResult> {
    return Object.assign(new MarketingCostResult(), await this.services.attribution.setMarketingCost(actorOf(ctx), { ...input }));
  }

  @Authorized(...VIEWERS)
  @Subscription(() => AttributionUpdate, {
    description:
      'An attribution report, live: first the current report, then a new version after each commit that closed or re-derived paths (a conversion, a run of touches closing, a merge or unmerge; on any instance), coalesced to at most one push per `Workspace.liveUpdateIntervalMs`. Subscribers with the same arguments share one computation. READ or ANALYST.',
    subscribe: async ({ args, context, info }) => {
      const auth = requireRole(context as RequestContext, VIEWERS);
      const services = deps(info);
      const ws = auth.workspaceId;
      const range = (args.range as KpiRangeInput | null) ?? null;
      const q = { model: args.model as AttributionModel, dimension: (args.dimension ?? AttributionDimension.CHANNEL) as AttributionDimension, conversion: (args.conversion as string | null) ?? null, from: range?.from ?? null, to: range?.to ?? null };
      // Bad arguments fail the subscription at once, not on the first push.
      await services.attribution.report(ws, q);
      const digest = createHash('sha256').update(JSON.stringify(q)).digest('base64url');
      return services.live.subscribe<AttributionReportValue>({
        key: `attribution:${ws}:${digest}`,
        triggers: [Topics.attributionChanged(ws), Topics.workspaceUpdated(ws)],
        intervalMs: await services.workspaces.liveInterval(ws),
        compute: () => services.attribution.report(ws, q),
      });
    },
  })
  attributionUpdated(
    @Arg('model', () => AttributionModel, MODEL_ARG) _model: AttributionModel,
    @Root() update: LiveUpdate<AttributionReportValue>,
    @Arg('dimension', () => AttributionDimension, DIMENSION_ARG) _dimension: AttributionDimension,
    @Arg('range', () => KpiRangeInput, RANGE_ARG) _range?: KpiRangeInput | null,
    @Arg('conversion', () => String, CONVERSION_ARG) _conversion?: string | null,
  ): AttributionUpdate {
    return Object.assign(new AttributionUpdate(), { version: update.version, report: toReport(update.value) });
  }
}
