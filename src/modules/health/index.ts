import type { ModuleManifest } from '../../platform/module';
import type { Projection } from '../events';
import type { HealthService } from './health.service';

export { HealthService } from './health.service';
export type { RecomputeStatus, ProfileHealthRead } from './health.service';
export { HealthTier } from './health.type';
export { DEFAULT_HEALTH_SETTINGS } from './health.settings';
export type { HealthSettings } from './health.settings';

// After the exports above: the resolvers load the profiles module, which reads HealthTier while it loads.
import { HealthResolver, ProfileHealthResolver } from './health.resolver';
export type { HealthResolverDeps } from './health.resolver';

/** GraphQL resolvers of the module (registered in src/modules/registry.ts). */
export const HEALTH_RESOLVERS = [HealthResolver, ProfileHealthResolver] as const;
export { HEALTH_PROFILE_PREFETCH } from './health.prefetch';

/** The health module: health scores. */
export const HEALTH_MODULE = {
  name: 'health',
  resolvers: () => HEALTH_RESOLVERS,
  projection: (s) => s.health.projection,
} satisfies ModuleManifest<readonly Function[], { health: HealthService }, Projection>;
