import type { ModuleManifest } from '../../platform/module';
import type { Projection } from '../events';
import type { AttributionService } from './attribution.service';
import { AttributionResolver } from './attribution.resolver';

export { AttributionService } from './attribution.service';
export type { AttributionReportValue } from './attribution.service';
export { AttributionModel } from './attribution.type';
export { attributionWorkedExample } from './attribution.example';
export type { AttributionResolverDeps } from './attribution.resolver';

/** GraphQL resolvers of the module (registered in src/modules/registry.ts). */
export const ATTRIBUTION_RESOLVERS = [AttributionResolver] as const;

/** The attribution module: which channel, touchpoint or campaign earned each conversion. */
export const ATTRIBUTION_MODULE = {
  name: 'attribution',
  resolvers: () => ATTRIBUTION_RESOLVERS,
  projection: (s) => s.attribution.projection,
} satisfies ModuleManifest<readonly Function[], { attribution: AttributionService }, Projection>;
