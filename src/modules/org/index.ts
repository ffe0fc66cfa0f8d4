import type { ModuleManifest } from '../../platform/module';
import type { Projection } from '../events';
import type { OrgService } from './org.service';
import { OrgResolver, ProfileOwnerResolver } from './org.resolver';

export { OrgService } from './org.service';
export type { OrgResolverDeps } from './org.resolver';
export type { OrgTreeSpec } from './org.service';
export { OrgErrorCode } from './org.errors';

/** GraphQL resolvers of the module (registered in src/modules/registry.ts). */
export const ORG_RESOLVERS = [OrgResolver, ProfileOwnerResolver] as const;

/** The org module: the org tree, touchpoints and staff on its nodes, and each person's staff owner. */
export const ORG_MODULE = {
  name: 'org',
  resolvers: () => ORG_RESOLVERS,
  projection: (s) => s.org.projection,
} satisfies ModuleManifest<readonly Function[], { org: OrgService }, Projection>;
