import type { ModuleManifest } from '../platform/module';
import { WORKSPACES_MODULE } from './workspaces';
import { IDENTITIES_MODULE } from './identities';
import { EVENTS_MODULE } from './events';
import { PROFILES_MODULE } from './profiles';
import { COMPLIANCE_MODULE } from './compliance';
import { KPIS_MODULE } from './kpis';
import { STAGES_MODULE } from './stages';
import { MEMBERSHIP_MODULE } from './membership';
import { ORG_MODULE } from './org';
import { HEALTH_MODULE } from './health';
import { JOURNEYS_MODULE } from './journeys';
import { TAGS_MODULE } from './tags';
import { RECOMPUTE_MODULE } from './recompute';
import { EXPERIMENTS_MODULE } from './experiments';
import { ATTRIBUTION_MODULE } from './attribution';
import { DESTINATIONS_MODULE } from './destinations';

/**
 * Every module's manifest: the one list of modules. Entities, resolvers and (through the
 * projections, ordered by their `after` declarations) every read-model phase list derive from it.
 */
export const MODULES = [
  WORKSPACES_MODULE,
  IDENTITIES_MODULE,
  EVENTS_MODULE,
  PROFILES_MODULE,
  COMPLIANCE_MODULE,
  KPIS_MODULE,
  STAGES_MODULE,
  MEMBERSHIP_MODULE,
  ORG_MODULE,
  HEALTH_MODULE,
  JOURNEYS_MODULE,
  TAGS_MODULE,
  EXPERIMENTS_MODULE,
  ATTRIBUTION_MODULE,
  DESTINATIONS_MODULE,
  RECOMPUTE_MODULE,
] as const satisfies readonly ModuleManifest<readonly Function[], never, unknown>[];

/** Every module's TypeORM entities. */
export const moduleEntities = (): Function[] => MODULES.flatMap((m: ModuleManifest<readonly Function[], never, unknown>) => m.entities ?? []);

type ResolverClass = ReturnType<(typeof MODULES)[number]['resolvers']>[number];
/**
 * What the services object given to the resolvers must provide: every resolver's constructor deps,
 * intersected. The composition root checks its services against this (`satisfies ResolverDeps`).
 */
export type ResolverDeps = ResolverClass extends new (deps: infer D) => unknown ? D : never;

/** Every module's GraphQL resolvers. */
export const moduleResolvers = (): ResolverClass[] => MODULES.flatMap((m: ModuleManifest<readonly Function[], never, unknown>) => m.resolvers() as readonly ResolverClass[]);
