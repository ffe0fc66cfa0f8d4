import type { DataSource } from 'typeorm';
import type { Logger } from './platform/logging';
import { publishProfilesChanged, type SiyuPubSub } from './platform/pubsub';
import { LiveHub } from './platform/live';
import { WorkspaceService } from './modules/workspaces';
import { IdentityService, type PiiCipher } from './modules/identities';
import { IngestService } from './modules/events';
import { ProfileService } from './modules/profiles/profile.service';
import { TagService } from './modules/tags';
import type { SweepTask } from './platform/hooks';
import type { ModuleContext } from './platform/module';
import { StageService } from './modules/stages';
import { JourneyService } from './modules/journeys';
import { HealthService } from './modules/health';

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
  // stages run first (health and journeys may read the stage).
  const stages = new StageService(ctx);
  const health = new HealthService(ctx);
  const journeys = new JourneyService(ctx);
  // After an unmerge both people are re-derived: stage, health, then tags and segments.
  identities.onUnmerged = async (em, workspaceId, ids) => [
    ...(await stages.refresh(em, workspaceId, ids)),
    ...(await health.refresh(em, workspaceId, ids)),
    ...(await tags.reevaluate(em, workspaceId, ids, () => 'unmerge')),
  ];
  return {
    workspaces,
    identities,
    ingest,
    profiles: new ProfileService(ds, identities),
    tags,
    sweepTasks,
    stages,
    journeys,
    health,
    live,
  };
}
