import { LoaderRegistry } from '../../platform/graphql/loaders';
import type { LiveHub, LiveSource, LiveUpdate } from '../../platform/live';
import { Topics } from '../../platform/pubsub';
import type { WorkspaceService } from '../workspaces';
import type { ProfileService } from './profile.service';
import { toProfile, type Profile } from './profile.type';

/** The services a live profile reads; the app's services object provides them. */
export interface ProfileLiveDeps {
  readonly profiles: ProfileService;
  readonly workspaces: WorkspaceService;
  readonly live: LiveHub;
}

/**
 * One computed version of a profile, shared by every subscriber: the mapped profile (masking of
 * identifiers happens per caller in field resolvers, as for `profile(id)`), and the loaders its
 * nested fields use, so `identifiers`, `tags`, … are loaded once per version, not per subscriber.
 */
export interface ProfileLiveValue {
  profile: Profile;
  loaders: LoaderRegistry;
}

function idsOf(payload: unknown): unknown[] {
  const ids = (payload as { ids?: unknown } | null)?.ids;
  return Array.isArray(ids) ? ids : [];
}

/** The shared live source of one live profile (key by workspace and live id). */
export function profileLiveSource(services: ProfileLiveDeps, workspaceId: string, liveId: string, intervalMs: number): LiveSource<ProfileLiveValue> {
  // The id whose changes count: the profile asked, or the one it was since merged into.
  let current = liveId;
  return {
    key: `profile:${workspaceId}:${liveId}`,
    triggers: [Topics.profilesChanged(workspaceId)],
    intervalMs,
    async compute() {
      const row = await services.profiles.get(workspaceId, liveId);
      current = row.id;
      return { profile: toProfile(row), loaders: new LoaderRegistry() };
    },
    relevant: (_topic, payload) => {
      const ids = idsOf(payload);
      return ids.includes(liveId) || ids.includes(current);
    },
  };
}

/**
 * Subscribes to a profile: a merged-away id resolves to its survivor (NOT_FOUND when unknown), so
 * every subscriber of one person shares one computation, at the workspace's interval.
 */
export async function subscribeToProfile(services: ProfileLiveDeps, workspaceId: string, id: string): Promise<AsyncIterableIterator<LiveUpdate<ProfileLiveValue>>> {
  const [row, intervalMs] = await Promise.all([services.profiles.get(workspaceId, id), services.workspaces.liveInterval(workspaceId)]);
  return services.live.subscribe(profileLiveSource(services, workspaceId, row.id, intervalMs));
}
