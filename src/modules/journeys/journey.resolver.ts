import { Arg, Authorized, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root, Subscription } from 'type-graphql';
import { Role, requireAuth } from '../../platform/auth';
import { AppError } from '../../platform/errors';
import type { RequestContext } from '../../platform/graphql/context';
import { servicesFor } from '../../platform/graphql/services-for';
import { actorOf, type AuditService } from '../compliance';
import type { StepDef } from './journey.definition';
import type { JourneyState } from './journey.engine';
import type { JourneyRow } from './journey.repository';
import type { JourneyService, JourneyTriggeredPayload } from './journey.service';
import { CreateJourneyInput, JourneyRangeInput, UpdateJourneyInput } from './journey.inputs';
import { JourneyTemplateKey } from './journey.templates';
import {
  EventPath,
  Journey,
  JourneyEntry,
  JourneyStats,
  JourneyStatusType,
  JourneyStep,
  JourneyStepStats,
  JourneyTemplate,
  JourneyTrigger,
  PathAnalysis,
  PropertyCondition,
  StepMatch,
  TriggerVetoReason,
  VetoedTrigger,
} from './journey.type';

/** The services the journey resolver uses; the app's services object provides them. */
export interface JourneyResolverDeps {
  readonly journeys: JourneyService;
  readonly audit: AuditService;
}

const toStep = (s: StepDef): JourneyStep =>
  Object.assign(new JourneyStep(), {
    key: s.key,
    name: s.name,
    within: s.within,
    negative: s.negative,
    trigger: s.trigger,
    match: Object.assign(new StepMatch(), {
      event: s.match.event,
      afterSilenceDays: s.match.afterSilenceDays,
      firstEvent: s.match.firstEvent,
      where: s.match.where.map((c) => Object.assign(new PropertyCondition(), c)),
    }),
  });

const toJourney = (j: JourneyRow): Journey =>
  Object.assign(new Journey(), {
    id: j.id,
    name: j.name,
    description: j.description,
    template: j.template as JourneyTemplateKey | null,
    active: j.active,
    allowReentry: j.allow_reentry,
    steps: j.steps.map(toStep),
    createdAt: j.created_at,
    updatedAt: j.updated_at,
  });

const toEntry = (j: Journey, s: JourneyState): JourneyEntry =>
  Object.assign(new JourneyEntry(), {
    profileId: s.profileId,
    entryNo: s.entryNo,
    stepKey: j.steps[s.stepIndex]?.key ?? '',
    stepIndex: s.stepIndex,
    status: s.status as JourneyStatusType,
    enteredAt: s.enteredAt,
    stepAt: s.stepAt,
    deadline: s.deadline,
    endedAt: s.completedAt,
  });

const VIEWERS = [Role.READ, Role.ANALYST] as const;

@Resolver(() => Journey)
export class JourneyResolver {
  constructor(private readonly services: JourneyResolverDeps) {}

  @Authorized(...VIEWERS)
  @Query(() => [Journey], { description: 'Journeys of the workspace, oldest first. READ or ANALYST.' })
  async journeys(@Ctx() ctx: RequestContext): Promise<Journey[]> {
    return (await this.services.journeys.list(requireAuth(ctx).workspaceId)).map(toJourney);
  }

  @Authorized(...VIEWERS)
  @Query(() => Journey, { description: 'One journey. READ or ANALYST.' })
  async journey(@Arg('id', () => ID, { description: 'Journey id.' }) id: string, @Ctx() ctx: RequestContext): Promise<Journey> {
    return toJourney(await this.services.journeys.get(requireAuth(ctx).workspaceId, id));
  }

  @Authorized(...VIEWERS)
  @Query(() => [JourneyTemplate], { description: 'Built-in journey definitions, ready for `createJourneyFromTemplate`. READ or ANALYST.' })
  journeyTemplates(): JourneyTemplate[] {
    return this.services.journeys.templates().map((t) => Object.assign(new JourneyTemplate(), { ...t, steps: t.steps.map(toStep) }));
  }

  @FieldResolver(() => JourneyStats, { description: 'Funnel statistics of the entries started in `range` (all entries without one).' })
  async stats(
    @Root() j: Journey,
    @Ctx() ctx: RequestContext,
    @Arg('range', () => JourneyRangeInput, { nullable: true, description: 'Entries started in [from, to).' }) range?: JourneyRangeInput | null,
  ): Promise<JourneyStats> {
    const ws = requireAuth(ctx).workspaceId;
    const row = await this.services.journeys.get(ws, j.id);
    const s = await this.services.journeys.stats(ws, row, range?.from ?? null, range?.to ?? null);
    return Object.assign(new JourneyStats(), { ...s, steps: s.steps.map((x) => Object.assign(new JourneyStepStats(), x)) });
  }

  @FieldResolver(() => [JourneyEntry], { description: 'A person\'s entries into the journey (merged ids resolve to the survivor), oldest first. READ.' })
  async entries(@Root() j: Journey, @Ctx() ctx: RequestContext, @Arg('profileId', () => ID, { description: 'Profile id.' }) profileId: string): Promise<JourneyEntry[]> {
    const auth = requireAuth(ctx);
    if (auth.role !== Role.READ && auth.role !== Role.ADMIN) throw AppError.forbidden('Journey entries name profiles: this needs a READ key.');
    return (await this.services.journeys.entries(auth.workspaceId, j.id, profileId)).map((s) => toEntry(j, s));
  }

  @FieldResolver(() => [VetoedTrigger], {
    description: 'Triggers held back by the consent check (never sent), newest first, with the reason; `stats.vetoed` counts them. They name profiles: READ.',
  })
  async vetoedTriggers(
    @Root() j: Journey,
    @Ctx() ctx: RequestContext,
    @Arg('first', () => Int, { defaultValue: 20, description: 'How many, 1–100.' }) first: number,
  ): Promise<VetoedTrigger[]> {
    const auth = requireAuth(ctx);
    if (auth.role !== Role.READ && auth.role !== Role.ADMIN) throw AppError.forbidden('Held-back triggers name profiles: this needs a READ key.');
    const rows = await this.services.journeys.vetoedTriggers(auth.workspaceId, j.id, first);
    return rows.map((r) =>
      Object.assign(new VetoedTrigger(), { journeyId: r.journey_id, profileId: r.profile_id, stepKey: r.step_key, entryNo: r.entry_no, at: new Date(r.at), reason: TriggerVetoReason.NO_MARKETING_CONSENT }),
    );
  }

  @Authorized(...VIEWERS)
  @Query(() => PathAnalysis, {
    description:
      'The most common sequences of the `depth` events that follow each occurrence of `startEvent`, per person in time order. Reads at most 200,000 events of a range of at most 92 days (default: the last 30 days). READ or ANALYST.',
  })
  async pathAnalysis(
    @Arg('startEvent', { description: 'Event name to start from.' }) startEvent: string,
    @Ctx() ctx: RequestContext,
    @Arg('depth', () => Int, { defaultValue: 3, description: 'Events to follow, 1–10.' }) depth: number,
    @Arg('top', () => Int, { defaultValue: 10, description: 'Paths to return, 1–100.' }) top: number,
    @Arg('range', () => JourneyRangeInput, { nullable: true, description: 'Events in [from, to).' }) range?: JourneyRangeInput | null,
  ): Promise<PathAnalysis> {
    const r = await this.services.journeys.pathAnalysis(requireAuth(ctx).workspaceId, { startEvent, depth, top, from: range?.from, to: range?.to });
    return Object.assign(new PathAnalysis(), { ...r, paths: r.paths.map((p) => Object.assign(new EventPath(), p)) });
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => Journey, { description: 'Create a journey; it is validated completely first (errors list every field). ADMIN.' })
  async createJourney(@Arg('input', () => CreateJourneyInput, { description: 'The definition.' }) input: CreateJourneyInput, @Ctx() ctx: RequestContext): Promise<Journey> {
    return toJourney(await this.services.journeys.create(actorOf(ctx), input));
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => Journey, { description: 'Create a journey from a built-in template. ADMIN.' })
  async createJourneyFromTemplate(
    @Arg('template', () => JourneyTemplateKey, { description: 'Template.' }) template: JourneyTemplateKey,
    @Ctx() ctx: RequestContext,
    @Arg('name', () => String, { nullable: true, description: 'Name (default: the template\'s).' }) name?: string | null,
  ): Promise<Journey> {
    return toJourney(await this.services.journeys.createFromTemplate(actorOf(ctx), template, name));
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => Journey, { description: 'Change a journey; steps only while nobody has entered (CONFLICT `JOURNEY_HAS_ENTRIES`). ADMIN.' })
  async updateJourney(
    @Arg('id', () => ID, { description: 'Journey id.' }) id: string,
    @Arg('input', () => UpdateJourneyInput, { description: 'Changes.' }) input: UpdateJourneyInput,
    @Ctx() ctx: RequestContext,
  ): Promise<Journey> {
    return toJourney(await this.services.journeys.update(actorOf(ctx), id, input));
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => Boolean, { description: 'Delete a journey with its states, statistics and fired triggers. ADMIN.' })
  async deleteJourney(@Arg('id', () => ID, { description: 'Journey id.' }) id: string, @Ctx() ctx: RequestContext): Promise<boolean> {
    await this.services.journeys.delete(actorOf(ctx), id);
    return true;
  }

  @Authorized(Role.READ)
  @Subscription(() => JourneyTrigger, {
    description: 'People reaching a trigger step of a journey, live, from any instance, committed before they are sent; each fires once per person and entry. READ.',
    // An unknown or foreign journey id is refused (NOT_FOUND), as `profileUpdated` refuses an unknown profile.
    subscribe: async ({ args, context, info }) => {
      const auth = requireAuth(context as RequestContext);
      if (auth.role !== Role.ADMIN && auth.role !== Role.READ) throw AppError.forbidden(`This needs the role READ; your key has ${auth.role.toUpperCase()}.`);
      return (servicesFor(info) as JourneyResolverDeps).journeys.subscribeTriggered(auth.workspaceId, args.journeyId as string);
    },
  })
  journeyTriggered(@Arg('journeyId', () => ID, { description: 'Journey id.' }) _journeyId: string, @Root() p: JourneyTriggeredPayload): JourneyTrigger {
    return Object.assign(new JourneyTrigger(), { ...p, at: new Date(p.at) });
  }
}
