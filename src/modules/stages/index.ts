import type { ModuleManifest } from '../../platform/module';
import type { Projection } from '../events';
import type { StageService } from './stage.service';
import { ProfileStageResolver, StageResolver } from './stage.resolver';

export { StageService, STAGE_TAG_GROUP } from './stage.service';
export type { Funnel, FunnelStage } from './stage.service';
export { DEFAULT_MODEL } from './stage.model';
export type { StageModel, StageState } from './stage.model';

export type { StageResolverDeps } from './stage.resolver';

/** GraphQL resolvers of the module (registered in src/modules/registry.ts). */
export const STAGE_RESOLVERS = [StageResolver, ProfileStageResolver] as const;
export { STAGE_PROFILE_PREFETCH } from './stage.prefetch';

/** The stages module: lifecycle stages. */
export const STAGES_MODULE = {
  name: 'stages',
  resolvers: () => STAGE_RESOLVERS,
  projection: (s) => s.stages.projection,
} satisfies ModuleManifest<readonly Function[], { stages: StageService }, Projection>;
