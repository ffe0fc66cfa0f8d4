import type { DataSource } from 'typeorm';
import type { Logger } from './platform/logging';
import { publishProfilesChanged, type SiyuPubSub } from './platform/pubsub';
import { LiveHub } from './platform/live';
import { WorkspaceService } from './modules/workspaces';
import { IdentityService, type PiiCipher } from './modules/identities';
import { IngestService } from './modules/events';
import { ProfileService } from './modules/profiles/profile.service';
import { TAG_PROFILE_PREFETCH, TagService } from './modules/tags';
import type { SweepTask } from './platform/hooks';
import type { ModuleContext } from './platform/module';
import { STAGE_PROFILE_PREFETCH, StageService } from './modules/stages';
import { JourneyService } from './modules/journeys';
import { HEALTH_PROFILE_PREFETCH, HealthService } from './modules/health';
import { KpiService } from './modules/kpis';
import { AuditService, ComplianceService, MARKETING } from './modules/compliance';

/** The module services of one app instance; resolvers receive this through the container. */
export interface AppServices {
  readonly workspaces: WorkspaceService;
  readonly identities: IdentityService;
  readonly ingest: IngestService;
  readonly profiles: ProfileService;
  readonly tags: TagService;
  /** Modules' time-based sweep tasks, run before the tag/segment sweep of each workspace. */
  readonly sweepTasks: SweepTask[];
  readonly stages: StageService;
  readonly journeys: JourneyService;
  readonly health: HealthService;
  readonly kpis: KpiService;
  /** Consent, rights of the person (export, erasure), retention. */
  readonly compliance: ComplianceService;
  /** The audit log (reads; each service writes its rows in its changes' transactions). */
  readonly audit: AuditService;
  /** Shared, coalesced live values for subscriptions (`profileUpdated`, later KPIs). */
  readonly live: LiveHub;
}

export function createServices(
  ds: DataSource,
  pubSub: SiyuPubSub,
  log: Logger,
  cipher: PiiCipher,
  live: LiveHub = new LiveHub({ pubSub, log }),
): AppServices {
  const identities = new IdentityService(ds, cipher, log);
  identities.onUnmergeCommitted = (workspaceId, ids) => publishProfilesChanged(pubSub, workspaceId, ids);
  const tags = new TagService(ds, pubSub, log);
  const workspaces = new WorkspaceService(ds, pubSub, log);
  // Every workspace starts with the default segments (用户分层).
  workspaces.onCreated = (em, workspaceId) => tags.ensureDefaults(workspaceId, em);
  const ingest = new IngestService(ds, identities, tags, pubSub, log);
  const sweepTasks: SweepTask[] = [];
  const ctx: ModuleContext = {
    ds,
    pubSub,
    log,
    tags,
    addIngestHook: (h) => ingest.addHook(h),
    addSweepTask: (t) => sweepTasks.push(t),
  };
  // Read models kept current on ingest register their hooks and sweep tasks in their constructors;
  // compliance first (consents recorded in a batch count for that batch's journey triggers), then
  // stages (health and journeys may read the stage).
  const compliance = new ComplianceService(ctx, cipher);
  const stages = new StageService(ctx);
  const health = new HealthService(ctx);
  const journeys = new JourneyService(ctx);
  const kpis = new KpiService(ctx);
  journeys.consentCheck = async (em, ws, candidates) => {
    const ok = await compliance.allowed(ws, candidates.map((c) => c.profileId), MARKETING, em);
    return candidates.map((c) => ok.has(c.profileId));
  };
  // After an unmerge both people are re-derived: stage, health, then tags and segments.
  identities.onUnmerged = async (em, workspaceId, ids) => [
    ...(await kpis.refresh(em, workspaceId, ids).then(() => [])),
    ...(await stages.refresh(em, workspaceId, ids)),
    ...(await health.refresh(em, workspaceId, ids)),
    ...(await tags.reevaluate(em, workspaceId, ids, () => 'unmerge')),
  ];
  const profiles = new ProfileService(ds, identities);
  // A profile read fetches the selected relations of these modules with the profile (one statement).
  profiles.prefetch.add(...TAG_PROFILE_PREFETCH, ...STAGE_PROFILE_PREFETCH, ...HEALTH_PROFILE_PREFETCH);
  return {
    workspaces,
    identities,
    ingest,
    profiles,
    tags,
    sweepTasks,
    stages,
    journeys,
    health,
    kpis,
    compliance,
    audit: compliance.audit,
    live,
  };
}
