import type { DataSource } from 'typeorm';
import type { Logger } from './platform/logging';
import { publishProfilesChanged, type SiyuPubSub } from './platform/pubsub';
import { LiveHub } from './platform/live';
import type { ModuleDeps, ModuleManifest } from './platform/module';
import { WorkspaceService } from './modules/workspaces';
import { IdentityService, type PiiCipher } from './modules/identities';
import { DueScheduler, IngestService, ProjectionPhases, type Projection } from './modules/events';
import { ProfileService } from './modules/profiles';
import { systemTagWriter, TagService, type SweepStep } from './modules/tags';
import { StageService } from './modules/stages';
import { MembershipService } from './modules/membership';
import { OrgService } from './modules/org';
import { JourneyService } from './modules/journeys';
import { HealthService } from './modules/health';
import { KpiService } from './modules/kpis';
import { AuditService, ComplianceService, MARKETING } from './modules/compliance';
import { RecomputeService } from './modules/recompute';
import { ExperimentService, type ExperimentCollaborators } from './modules/experiments';
import { AttributionService } from './modules/attribution';
import { DestinationService, type DeliveryOptions } from './modules/destinations';
import { MODULES } from './modules/registry';

/** The module services of one app instance; resolvers receive this through the container. */
export interface AppServices {
  readonly workspaces: WorkspaceService;
  readonly identities: IdentityService;
  readonly ingest: IngestService;
  readonly profiles: ProfileService;
  readonly tags: TagService;
  readonly stages: StageService;
  /** Points ledger, balances and levels (积分-等级). */
  readonly membership: MembershipService;
  /** The org tree, touchpoints and staff on its nodes, each person's staff owner. */
  readonly org: OrgService;
  readonly journeys: JourneyService;
  readonly health: HealthService;
  readonly kpis: KpiService;
  /** A/B tests and grey releases: definitions, assignment, exposures, results. */
  readonly experiments: ExperimentService;
  /** Attribution of conversions to channels, touchpoints and campaigns. */
  readonly attribution: AttributionService;
  /** Consent, rights of the person (export, erasure), retention. */
  readonly compliance: ComplianceService;
  /** Outbound destinations (webhooks, WeCom/DingTalk/Feishu robots) and their delivery worker. */
  readonly destinations: DestinationService;
  /** The audit log (reads; each service writes its rows in its changes' transactions). */
  readonly audit: AuditService;
  /** Shared, coalesced live values for subscriptions (`profileUpdated`, KPIs). */
  readonly live: LiveHub;
  /** Every read model's phases, derived once from the module manifests. */
  readonly phases: ProjectionPhases;
  /** The sweeper's steps: every projection's `sweep` phase, in order. */
  readonly sweepSteps: readonly SweepStep[];
  /** `siyu recompute`: every projection's `rebuild` phase. */
  readonly recompute: RecomputeService;
  /** What time alone changes, run within about a second of its moment: every projection's `due` phase. */
  readonly due: DueScheduler;
}

/**
 * The composition root: builds each module's service with its required collaborators, asks every
 * manifest for its projection, orders them once (`ProjectionPhases`) and hands every phase list —
 * ingest, unmerge refresh, rebuild, sweep, profile prefetch — to whoever runs it.
 */
export function createServices(
  ds: DataSource,
  pubSub: SiyuPubSub,
  log: Logger,
  cipher: PiiCipher,
  live: LiveHub = new LiveHub({ pubSub, log }),
  /** Tests only: read models beyond the manifests' (ordered with them). */
  extraProjections: readonly Projection[] = [],
  /** Retry backoff of outbound deliveries (config `delivery`). */
  delivery?: DeliveryOptions,
): AppServices {
  const deps: ModuleDeps = { ds, pubSub, log };
  const tags = new TagService(ds, pubSub, log);
  const systemTags = systemTagWriter(tags);
  // Every workspace starts with the default segments (用户分层).
  const workspaces = new WorkspaceService(ds, pubSub, log, (em, workspaceId) => tags.ensureDefaults(workspaceId, em));
  const compliance = new ComplianceService(deps, cipher);
  const stages = new StageService(ds, systemTags);
  const health = new HealthService(ds, systemTags);
  // A rules change (or, under a SPEND ladder, spend leaving its window) moves levels without events: rule tags and segments reading `level` / `points` follow in its transaction.
  const membership = new MembershipService(ds, async (em, ws, ids, cause) => {
    const changes = await tags.reevaluate(em, ws, ids, () => cause);
    return () => tags.publish(ws, changes);
  });
  // Journey triggers reach only people with marketing consent (PIPL), checked in the batch's transaction.
  const journeys = new JourneyService(deps, async (em, ws, candidates) => {
    const ok = await compliance.allowed(ws, candidates.map((c) => c.profileId), MARKETING, em);
    return candidates.map((c) => ok.has(c.profileId));
  });
  const org = new OrgService(ds, pubSub);
  const kpis = new KpiService(deps);
  // assignVariant records exposures through the ingest, which is built after the projections (hence the thunk).
  const experiments = new ExperimentService(deps, (): ExperimentCollaborators => ({ ingest, identities }));
  const attribution = new AttributionService(deps);
  const readModels = { tags, compliance, stages, membership, org, health, journeys, kpis, experiments, attribution };
  const manifests: readonly ModuleManifest<readonly Function[], typeof readModels, Projection>[] = MODULES;
  const phases = new ProjectionPhases([...manifests.flatMap((m) => (m.projection ? [m.projection(readModels)] : [])), ...extraProjections]);

  const identities = new IdentityService(ds, cipher, log, {
    refresh: (em, workspaceId, ids) => phases.refresh(em, workspaceId, ids, 'unmerge'),
    committed: (workspaceId, ids) => publishProfilesChanged(pubSub, workspaceId, ids),
  }, compliance.audit);
  const ingest = new IngestService(ds, identities, phases, tags, pubSub, log);
  const profiles = new ProfileService(ds, identities, phases.prefetchParts);
  // Items about a person reach a destination only while the person allows marketing (PIPL).
  const destinations = new DestinationService(deps, { marketingAllowed: (ws, ids) => compliance.allowed(ws, ids, MARKETING), audit: compliance.audit }, cipher, delivery);
  return {
    workspaces,
    identities,
    ingest,
    profiles,
    ...readModels,
    destinations,
    audit: compliance.audit,
    live,
    phases,
    sweepSteps: phases.list('sweep').map((s) => ({ name: s.name, run: s.run })),
    recompute: new RecomputeService({ ds, phases, systemTags }),
    due: new DueScheduler(ds, phases, log),
  };
}
