import type { ModuleManifest } from '../../platform/module';
import { ProfileResolver } from './profile.resolver';
export { ProfileRepository } from './profile.repository';
export { ProfileService } from './profile.service';
export type { ProfileRow } from './profile.repository';
export { survivorOf } from './profile.survivor';
export { applyEvent, combine, emptyAggregate } from './profile-aggregate';
export type { ProfileAggregate, TraitValue } from './profile-aggregate';
export { ProfilePrefetch, timestamptz } from './profile.prefetch';
export type { ProfilePrefetchPart, PlannedPart } from './profile.prefetch';

/** The profiles module: the 360° profile read (one statement with the projections' prefetch parts). */
export const PROFILES_MODULE: ModuleManifest = {
  name: 'profiles',
  // A getter: resolver classes are read when the schema is built, after every module has loaded.
  get resolvers() {
    return [ProfileResolver];
  },
};
