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
