import type { ModuleManifest } from '../../platform/module';
import type { Projection } from '../events';
import type { StageService } from './stage.service';
import { ProfileStageResolver, StageResolver } from './stage.resolver';

export { StageService, STAGE_TAG_GROUP } from './stage.service';
export type { Funnel, FunnelStage } from './stage.service';
export { DEFAULT_MODEL } from './stage.model';
export type { StageModel, StageState } from './stage.model';

/** GraphQL resolvers of the module (registered in src/modules/registry.ts). */
export const STAGE_RESOLVERS: Function[] = [StageResolver, ProfileStageResolver];
export { STAGE_PROFILE_PREFETCH } from './stage.prefetch';

/** The stages module: lifecycle stages. */
export const STAGES_MODULE: ModuleManifest<{ stages: StageService }, Projection> = {
  name: 'stages',
  // A getter: resolver classes are read when the schema is built, after every module has loaded.
  get resolvers() {
    return STAGE_RESOLVERS;
  },
  projection: (s) => s.stages.projection,
};
