import { Arg, Authorized, Ctx, Mutation, Query, Resolver } from 'type-graphql';
import { Role, requireAuth } from '../../platform/auth';
import type { RequestContext } from '../../platform/graphql/context';
import { actorOf } from '../compliance';
import { IdentifierInput } from '../identities';
import type { ExperimentDef, VariantDef } from './experiment.definition';
import { CreateExperimentInput, UpdateExperimentInput } from './experiment.inputs';
import type { Comparison, Interval } from './experiment.stats';
import type { ExperimentService } from './experiment.service';
import { Estimate, Experiment, ExperimentResults, ExperimentVariant, SampleRatioMismatch, VariantAssignment, VariantComparison, VariantResult } from './experiment.type';

/** The services the experiment resolver uses; the app's services object provides them. */
export interface ExperimentResolverDeps {
  readonly experiments: ExperimentService;
}

const toVariant = (v: VariantDef): ExperimentVariant => Object.assign(new ExperimentVariant(), { key: v.key, name: v.name, weight: v.weight, control: v.control });

const toExperiment = (d: ExperimentDef): Experiment =>
  Object.assign(new Experiment(), {
    key: d.key,
    name: d.name,
    variants: d.variants.map(toVariant),
    rolloutPercent: d.rolloutPercent,
    clickEvent: d.clickEvent,
    conversionEvent: d.conversionEvent,
    conversionWindowDays: d.conversionWindowDays,
    autoCreated: d.autoCreated,
    createdAt: d.createdAt,
    updatedAt: d.updatedAt,
  });

const toEstimate = (i: Interval | null) => (i ? Object.assign(new Estimate(), i) : null);
const toComparison = (c: Comparison | null) => (c ? Object.assign(new VariantComparison(), c) : null);

const VIEWERS = [Role.READ, Role.ANALYST] as const;

@Resolver()
export class ExperimentResolver {
  constructor(private readonly services: ExperimentResolverDeps) {}

  @Authorized(...VIEWERS)
  @Query(() => [Experiment], { description: 'Experiments of the workspace, oldest first. READ or ANALYST.' })
  async experiments(@Ctx() ctx: RequestContext): Promise<Experiment[]> {
    return (await this.services.experiments.list(requireAuth(ctx).workspaceId)).map(toExperiment);
  }

  @Authorized(...VIEWERS)
  @Query(() => Experiment, { description: 'One experiment (NOT_FOUND `EXPERIMENT_NOT_FOUND`). READ or ANALYST.' })
  async experiment(@Arg('key', { description: 'Experiment key.' }) key: string, @Ctx() ctx: RequestContext): Promise<Experiment> {
    return toExperiment(await this.services.experiments.get(requireAuth(ctx).workspaceId, key, 'key'));
  }

  @Authorized(...VIEWERS)
  @Query(() => ExperimentResults, {
    description: 'Per-variant results with 95% intervals, comparisons with the control and the sample-ratio-mismatch test, read from counters (one row per variant). Aggregates only: READ or ANALYST.',
  })
  async experimentResults(@Arg('experiment', { description: 'Experiment key.' }) experiment: string, @Ctx() ctx: RequestContext): Promise<ExperimentResults> {
    const { experiment: def, results: r } = await this.services.experiments.results(requireAuth(ctx).workspaceId, experiment);
    return Object.assign(new ExperimentResults(), {
      experiment: toExperiment(def),
      exposed: r.exposed,
      contaminated: r.contaminated,
      srm: r.srm ? Object.assign(new SampleRatioMismatch(), r.srm) : null,
      srmWarning: r.srmWarning,
      variants: r.variants.map((v) =>
        Object.assign(new VariantResult(), {
          ...v,
          ctr: toEstimate(v.ctr),
          cvr: toEstimate(v.cvr),
          revenuePerExposed: toEstimate(v.revenuePerExposed),
          ctrVsControl: toComparison(v.ctrVsControl),
          cvrVsControl: toComparison(v.cvrVsControl),
          revenuePerExposedVsControl: toComparison(v.revenuePerExposedVsControl),
        }),
      ),
    });
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => Experiment, { description: 'Define an experiment (CONFLICT `EXPERIMENT_EXISTS` when the key is taken, also by an auto-created one: use `updateExperiment`). Every field is validated; an error names it. ADMIN.' })
  async createExperiment(@Arg('input', () => CreateExperimentInput, { description: 'The definition.' }) input: CreateExperimentInput, @Ctx() ctx: RequestContext): Promise<Experiment> {
    return toExperiment(await this.services.experiments.create(actorOf(ctx), input));
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => Experiment, { description: 'Change an experiment. Exposed people keep their first variant. ADMIN.' })
  async updateExperiment(
    @Arg('key', { description: 'Experiment key.' }) key: string,
    @Arg('input', () => UpdateExperimentInput, { description: 'Changes.' }) input: UpdateExperimentInput,
    @Ctx() ctx: RequestContext,
  ): Promise<Experiment> {
    return toExperiment(await this.services.experiments.update(actorOf(ctx), key, input));
  }

  @Authorized(Role.INGEST)
  @Mutation(() => VariantAssignment, {
    description:
      'The variant to show the person an identifier names, recording their exposure. ' +
      'Sticky: a person exposed before (also under an identifier merged into them since) keeps their first variant. ' +
      'Otherwise deterministic and weighted: bucket = the first 52 bits of SHA-256(experiment key ‖ 0x00 ‖ canonical identifier) ÷ 2⁵², in [0, 1); the canonical identifier is the person\'s identifier of the highest-priority type in the identity rules (ties: the smallest), or the one given for a new person. ' +
      'Enrolled when bucket < rolloutPercent ÷ 100; then u = bucket ÷ (rolloutPercent ÷ 100) picks the first variant, in definition order, whose cumulative weight share exceeds u. ' +
      'An enrolled person\'s exposure is ingested as an `Experiment Viewed` event (creating the profile like any event; one per experiment and identifier, so retries record nothing twice); outside the rollout nothing is recorded and `enrolled` is false. INGEST.',
  })
  async assignVariant(
    @Arg('experiment', { description: 'Experiment key.' }) experiment: string,
    @Arg('identifier', () => IdentifierInput, { description: 'Who: an identifier, normalised like ingest.' }) identifier: IdentifierInput,
    @Ctx() ctx: RequestContext,
    @Arg('channel', () => String, { nullable: true, description: 'Channel of the exposure event (default `other`).' }) channel?: string | null,
  ): Promise<VariantAssignment> {
    const a = await this.services.experiments.assignVariant(requireAuth(ctx).workspaceId, experiment, identifier, channel ?? 'other');
    return Object.assign(new VariantAssignment(), {
      experiment: a.experiment.key,
      enrolled: a.enrolled,
      variant: a.variant ? toVariant(a.variant) : null,
      profileId: a.profileId,
      firstExposedAt: a.firstExposedAt,
      sticky: a.sticky,
    });
  }
}
