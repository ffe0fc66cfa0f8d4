import { Arg, Authorized, Ctx, FieldResolver, Mutation, Query, Resolver, Root } from 'type-graphql';
import { Role, requireAuth } from '../../platform/auth';
import type { RequestContext } from '../../platform/graphql/context';
import { actorOf, type AuditService } from '../compliance';
import { Profile } from '../profiles';
import type { StageModel as StageModelData } from './stage.model';
import { PROFILE_STAGE_LOADER } from './stage.prefetch';
import type { StageService } from './stage.service';
import {
  LifecycleStage,
  StageCondition,
  StageDefinition,
  StageFunnel,
  StageFunnelRange,
  StageFunnelStage,
  StageModel,
  StageModelInput,
  StageTransition,
} from './stage.type';

/** The services the stage resolvers use; the app's services object provides them. */
export interface StageResolverDeps {
  readonly stages: StageService;
  readonly audit: AuditService;
}

const toModel = (m: StageModelData): StageModel =>
  Object.assign(new StageModel(), {
    key: m.key,
    name: m.name,
    stages: m.stages.map((s) =>
      Object.assign(new StageDefinition(), {
        key: s.key,
        name: s.name,
        inactive: s.enter.kind === 'inactive_days',
        enter: Object.assign(new StageCondition(), {
          kind: s.enter.kind,
          events: s.enter.kind === 'event_any_of' ? s.enter.events : null,
          count: s.enter.kind === 'orders_within' ? s.enter.count : null,
          days: s.enter.kind === 'orders_within' || s.enter.kind === 'inactive_days' ? s.enter.days : null,
        }),
      }),
    ),
  });

@Resolver(() => StageModel)
export class StageResolver {
  constructor(private readonly services: StageResolverDeps) {}

  @Authorized(Role.READ, Role.ANALYST)
  @Query(() => StageModel, { description: 'The workspace\'s lifecycle stage model (the default one until an admin sets another). READ or ANALYST.' })
  async stageModel(@Ctx() ctx: RequestContext): Promise<StageModel> {
    return toModel(await this.services.stages.model(requireAuth(ctx).workspaceId));
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => StageModel, {
    description:
      'Replace the stage model. Invalid input (unknown condition kind, duplicate keys, missing or extra fields, inactivity days not increasing, …) is refused with every offending field and changes nothing. ' +
      'A changed model re-derives every person\'s stage from their history, replaying their events in time order (new transitions under the new model key; a changed model ' +
      'saved under the key it had replaces that key\'s transitions). ADMIN.',
  })
  async updateStageModel(@Arg('input', () => StageModelInput, { description: 'The whole model.' }) input: StageModelInput, @Ctx() ctx: RequestContext): Promise<StageModel> {
    return toModel(await this.services.stages.updateModel(actorOf(ctx), input));
  }

  @Authorized(Role.READ, Role.ANALYST)
  @Query(() => StageFunnel, { description: 'The lifecycle funnel over a range: people per stage now, conversion between consecutive main stages, median time in stage, wake-ups. READ or ANALYST.' })
  async stageFunnel(@Arg('range', () => StageFunnelRange, { description: 'Time range [from, to).' }) range: StageFunnelRange, @Ctx() ctx: RequestContext): Promise<StageFunnel> {
    const f = await this.services.stages.funnel(requireAuth(ctx).workspaceId, range.from, range.to);
    return Object.assign(new StageFunnel(), {
      modelKey: f.modelKey,
      from: f.from,
      to: f.to,
      wakeUps: f.wakeUps,
      stages: f.stages.map((s) => Object.assign(new StageFunnelStage(), s)),
    });
  }
}

@Resolver(() => Profile)
export class ProfileStageResolver {
  constructor(private readonly services: StageResolverDeps) {}

  @Authorized(Role.READ)
  @FieldResolver(() => LifecycleStage, { nullable: true, description: 'The person\'s lifecycle stage now (生命周期); null before any stage applies. READ.' })
  async stage(@Root() p: Profile, @Ctx() ctx: RequestContext): Promise<LifecycleStage | null> {
    const ws = requireAuth(ctx).workspaceId;
    const s = await ctx.loaders.get(PROFILE_STAGE_LOADER, (ids: readonly string[]) => this.services.stages.stagesOf(ws, ids)).load(p.id);
    return s
      ? Object.assign(new LifecycleStage(), { key: s.state.stage, name: s.name, inactive: s.inactive, enteredAt: s.state.enteredAt, previousStage: s.state.previousStage, mainStage: s.state.mainStage })
      : null;
  }

  @Authorized(Role.READ)
  @FieldResolver(() => [StageTransition], { description: 'Every stage transition of the person, oldest first, with time and cause. READ.' })
  async stageHistory(@Root() p: Profile, @Ctx() ctx: RequestContext): Promise<StageTransition[]> {
    const ws = requireAuth(ctx).workspaceId;
    const rows = await ctx.loaders.get('profile.stageHistory', (ids: readonly string[]) => this.services.stages.historyOf(ws, ids)).load(p.id);
    return rows.map((r) => Object.assign(new StageTransition(), { id: r.id, from: r.from, to: r.to, at: r.at, cause: r.cause, wakeUp: r.wakeUp, modelKey: r.modelKey }));
  }
}
