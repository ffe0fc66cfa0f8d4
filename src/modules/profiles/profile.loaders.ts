import { requireAuth } from '../../platform/auth';
import type { RequestContext } from '../../platform/graphql/context';
import type { ProfileService } from './profile.service';

/**
 * Per-operation loaders of the profile graph: one batched query per relation kind per operation,
 * however many profiles the operation touches.
 */
export function profileLoaders(ctx: RequestContext, profiles: ProfileService) {
  const ws = requireAuth(ctx).workspaceId;
  return {
    profile: ctx.loaders.get('profile.byId', (ids: readonly string[]) => profiles.profilesByIds(ws, ids)),
    identifiers: ctx.loaders.get('profile.identifiers', (ids: readonly string[]) => profiles.identifiersOf(ws, ids)),
    events: (first: number, after: string | null, name: string | null) =>
      ctx.loaders.get(`profile.events:${first}:${after ?? ''}:${name ?? ''}`, (ids: readonly string[]) => profiles.eventsOf(ws, ids, first, after, name)),
    merges: ctx.loaders.get('profile.merges', (ids: readonly string[]) => profiles.mergesOf(ws, ids)),
    conflicts: ctx.loaders.get('profile.conflicts', (ids: readonly string[]) => profiles.conflictsOf(ws, ids)),
    relations: ctx.loaders.get('profile.relations', (ids: readonly string[]) => profiles.relationsOf(ws, ids)),
  };
}
