import type { ModuleManifest } from '../../platform/module';
import type { Projection } from '../events';
import type { HealthService } from './health.service';
import { HealthResolver, ProfileHealthResolver } from './health.resolver';

export { HealthService } from './health.service';
export type { RecomputeStatus, ProfileHealthRead } from './health.service';
export { HealthTier } from './health.type';
export { DEFAULT_HEALTH_SETTINGS } from './health.settings';
export type { HealthSettings } from './health.settings';

/** GraphQL resolvers of the module (registered in src/modules/registry.ts). */
export const HEALTH_RESOLVERS: Function[] = [HealthResolver, ProfileHealthResolver];
export { HEALTH_PROFILE_PREFETCH } from './health.prefetch';

/** The health module: health scores. */
export const HEALTH_MODULE: ModuleManifest<{ health: HealthService }, Projection> = {
  name: 'health',
  // A getter: resolver classes are read when the schema is built, after every module has loaded.
  get resolvers() {
    return HEALTH_RESOLVERS;
  },
  projection: (s) => s.health.projection,
};
