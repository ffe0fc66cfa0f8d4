export { ProfileRepository } from './profile.repository';
export type { ProfileRow } from './profile.repository';
export { survivorOf } from './profile.survivor';
export { applyEvent, combine, emptyAggregate } from './profile-aggregate';
export type { ProfileAggregate, TraitValue } from './profile-aggregate';
export { ProfilePrefetch, timestamptz } from './profile.prefetch';
export type { ProfilePrefetchPart, PlannedPart } from './profile.prefetch';
