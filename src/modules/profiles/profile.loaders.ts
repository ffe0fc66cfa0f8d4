import { requireAuth } from '../../platform/auth';
import type { RequestContext } from '../../platform/graphql/context';
import type { ProfileService } from './profile.service';

export const IDENTIFIERS_LOADER = 'profile.identifiers';

/** One loader per page shape of the timeline (the prefetch primes the first page's). */
export const eventsLoaderName = (first: number, after: string | null, name: string | null) => `profile.events:${first}:${after ?? ''}:${name ?? ''}`;

/**
 * Per-operation loaders of the profile graph: one batched query per relation kind per operation,
 * however many profiles the operation touches.
 */
export function profileLoaders(ctx: RequestContext, profiles: ProfileService) {
  const ws = requireAuth(ctx).workspaceId;
  return {
    profile: ctx.loaders.get('profile.byId', (ids: readonly string[]) => profiles.profilesByIds(ws, ids)),
    identifiers: ctx.loaders.get(IDENTIFIERS_LOADER, (ids: readonly string[]) => profiles.identifiersOf(ws, ids)),
    events: (first: number, after: string | null, name: string | null) =>
      ctx.loaders.get(eventsLoaderName(first, after, name), (ids: readonly string[]) => profiles.eventsOf(ws, ids, first, after, name)),
    merges: ctx.loaders.get('profile.merges', (ids: readonly string[]) => profiles.mergesOf(ws, ids)),
    conflicts: ctx.loaders.get('profile.conflicts', (ids: readonly string[]) => profiles.conflictsOf(ws, ids)),
    relations: ctx.loaders.get('profile.relations', (ids: readonly string[]) => profiles.relationsOf(ws, ids)),
  };
}
