import { Arg, Authorized, Ctx, FieldResolver, Mutation, Query, Resolver, Root } from 'type-graphql';
import { Role, requireAuth } from '../../platform/auth';
import type { RequestContext } from '../../platform/graphql/context';
import { actorOf, type AuditService } from '../compliance';
import { Profile } from '../profiles';
import { UpdateHealthSettingsInput } from './health.inputs';
import type { HealthComponentValue, WeightedScore } from './health.score';
import { PROFILE_HEALTH_LOADER } from './health.prefetch';
import type { HealthService, ProfileHealthRead } from './health.service';
import type { HealthSettings } from './health.settings';
import {
  ActivityIndexWeights,
  BrandHealthWeights,
  ConversionIndexWeights,
  HealthComponent,
  HealthIndex,
  HealthIndices,
  HealthRecomputeStatus,
  HealthSettingsType,
  HealthTier,
  HealthTierBounds,
  HealthWeights,
  ProfileHealth,
} from './health.type';

/** The services the health resolvers use; the app's services object provides them. */
export interface HealthResolverDeps {
  readonly health: HealthService;
  readonly audit: AuditService;
}

const VIEWERS = [Role.READ, Role.ANALYST] as const;

const toComponent = (c: HealthComponentValue): HealthComponent => Object.assign(new HealthComponent(), c);

const toIndex = (name: string, label: string, w: WeightedScore): HealthIndex =>
  Object.assign(new HealthIndex(), { name, label, score: w.score, components: w.components.map(toComponent) });

const toSettings = (s: HealthSettings): HealthSettingsType =>
  Object.assign(new HealthSettingsType(), {
    ...s,
    weights: Object.assign(new HealthWeights(), s.weights),
    tiers: Object.assign(new HealthTierBounds(), s.tiers),
    brandWeights: Object.assign(new BrandHealthWeights(), s.brandWeights),
    activityWeights: Object.assign(new ActivityIndexWeights(), s.activityWeights),
    conversionWeights: Object.assign(new ConversionIndexWeights(), s.conversionWeights),
  });

const toProfileHealth = (h: ProfileHealthRead): ProfileHealth =>
  Object.assign(new ProfileHealth(), { score: h.score, tier: h.tier as HealthTier, components: h.components.map(toComponent), computedAt: h.computedAt });

@Resolver()
export class HealthResolver {
  constructor(private readonly services: HealthResolverDeps) {}

  @Authorized(...VIEWERS)
  @Query(() => HealthSettingsType, { description: 'Health settings: weights, tier boundaries, scales, index weights (defaults where never set). READ or ANALYST.' })
  async healthSettings(@Ctx() ctx: RequestContext): Promise<HealthSettingsType> {
    return toSettings((await this.services.health.settings(requireAuth(ctx).workspaceId)).settings);
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => HealthSettingsType, {
    description:
      'Change health settings (validated all or nothing), then recompute every score with them in chunks of 1,000 profiles; up to 10,000 profiles before answering, the sweep does the rest first (`healthRecomputeStatus`). ADMIN.',
  })
  async updateHealthSettings(@Arg('input', () => UpdateHealthSettingsInput, { description: 'Settings to change.' }) input: UpdateHealthSettingsInput, @Ctx() ctx: RequestContext): Promise<HealthSettingsType> {
    return toSettings(await this.services.health.updateSettings(actorOf(ctx), { ...input }));
  }

  @Authorized(...VIEWERS)
  @Query(() => HealthRecomputeStatus, { description: 'How many live profiles carry a score computed with the current settings. READ or ANALYST.' })
  async healthRecomputeStatus(@Ctx() ctx: RequestContext): Promise<HealthRecomputeStatus> {
    const s = await this.services.health.recomputeStatus(requireAuth(ctx).workspaceId);
    return Object.assign(new HealthRecomputeStatus(), { ...s, complete: s.done >= s.total });
  }

  @Authorized(...VIEWERS)
  @Query(() => HealthIndices, { description: 'Workspace composite indices 活跃度指数, 转化效率指数, 品牌健康度指数 with their components (formulas on `HealthIndices`). READ or ANALYST.' })
  async healthIndices(@Ctx() ctx: RequestContext): Promise<HealthIndices> {
    const r = await this.services.health.indices(requireAuth(ctx).workspaceId);
    return Object.assign(new HealthIndices(), {
      activity: toIndex('activity', '活跃度指数', r.activity),
      conversion: toIndex('conversion', '转化效率指数', r.conversion),
      brandHealth: toIndex('brandHealth', '品牌健康度指数', r.brandHealth),
      computedAt: r.computedAt,
    });
  }
}

@Resolver(() => Profile)
export class ProfileHealthResolver {
  constructor(private readonly services: HealthResolverDeps) {}

  @FieldResolver(() => ProfileHealth, { nullable: true, description: '健康度: score, tier and explained components; null until first computed (on the next event or sweep).' })
  async health(@Root() p: Profile, @Ctx() ctx: RequestContext): Promise<ProfileHealth | null> {
    const ws = requireAuth(ctx).workspaceId;
    const h = await ctx.loaders.get(PROFILE_HEALTH_LOADER, (ids: readonly string[]) => this.services.health.healthOf(ws, ids)).load(p.id);
    return h ? toProfileHealth(h) : null;
  }
}
