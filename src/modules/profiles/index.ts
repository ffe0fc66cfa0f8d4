import type { ModuleManifest } from '../../platform/module';
export { ProfileRepository } from './profile.repository';
export type { ProfileRow } from './profile.repository';
export { survivorOf } from './profile.survivor';
export { applyEvent, combine, emptyAggregate } from './profile-aggregate';
export type { ProfileAggregate, TraitValue } from './profile-aggregate';
export { ProfilePrefetch, timestamptz } from './profile.prefetch';
export type { ProfilePrefetchPart, PlannedPart } from './profile.prefetch';
export { ProfileService, encodeCursor } from './profile.service';
export { PageInfo, Profile, ProfileConnection, ProfileEdge, UnmergeResult, toProfile } from './profile.type';
export type { ProfileLiveDeps } from './profile.live';
// Last: the resolver's inputs need the health module, whose resolvers need the exports above (a cycle at load time).
import { ProfileConnectionResolver, ProfileResolver } from './profile.resolver';
export { ProfileResolver };
export { toMerge } from './profile.resolver';
export type { ProfileResolverDeps } from './profile.resolver';

/** The profiles module: the 360° profile read (one statement with the projections' prefetch parts). */
export const PROFILES_MODULE = {
  name: 'profiles',
  resolvers: () => [ProfileResolver, ProfileConnectionResolver] as const,
} satisfies ModuleManifest;
