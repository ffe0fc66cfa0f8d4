import { ApiKeyEntity, WorkspaceEntity, WorkspaceResolver } from './workspaces';
import { EventResolver } from './events';
import { IdentityResolver } from './identities';
import { ProfileResolver } from './profiles';
import { ProfileTagsResolver, SegmentResolver, TagResolver } from './tags';
import { STAGE_RESOLVERS } from './stages';
import { JOURNEY_RESOLVERS } from './journeys';
import { HEALTH_RESOLVERS } from './health';
import { KPI_RESOLVERS } from './kpis';
import { COMPLIANCE_RESOLVERS } from './compliance';

/** Every module's TypeORM entities and GraphQL resolvers; a new module adds itself here. */
export const ENTITIES = [WorkspaceEntity, ApiKeyEntity];
export const RESOLVERS = [
  WorkspaceResolver,
  EventResolver,
  IdentityResolver,
  ProfileResolver,
  TagResolver,
  SegmentResolver,
  ProfileTagsResolver,
  ...STAGE_RESOLVERS,
  ...HEALTH_RESOLVERS,
  ...JOURNEY_RESOLVERS,
  ...KPI_RESOLVERS,
  ...COMPLIANCE_RESOLVERS,
] as const;

type ResolverClass = (typeof RESOLVERS)[number];
/**
 * What the services object given to the resolvers must provide: every resolver's constructor deps,
 * intersected. The composition root checks its services against this (`satisfies ResolverDeps`).
 */
export type ResolverDeps = ResolverClass extends new (deps: infer D) => unknown ? D : never;
