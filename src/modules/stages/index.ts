import { ProfileStageResolver, StageResolver } from './stage.resolver';

export { StageService, STAGE_TAG_GROUP } from './stage.service';
export type { Funnel, FunnelStage } from './stage.service';
export { DEFAULT_MODEL } from './stage.model';
export type { StageModel, StageState } from './stage.model';

export type { StageResolverDeps } from './stage.resolver';

/** GraphQL resolvers of the module (registered in src/modules/registry.ts). */
export const STAGE_RESOLVERS = [StageResolver, ProfileStageResolver] as const;
export { STAGE_PROFILE_PREFETCH } from './stage.prefetch';
