import { createPubSub, type PubSub } from '@graphql-yoga/subscription';
import { createRedisEventTarget } from '@graphql-yoga/redis-event-target';
import { Redis } from 'ioredis';
import type { Logger } from '../logging';

/**
 * Topic payloads carry ids and versions, never personal data or Date objects: they cross Redis as
 * JSON, and subscribers reload what they show through the same services (and masking) as queries.
 */
export type SiyuPubSub = PubSub<Record<string, [unknown]>>;

export interface PubSubHandle {
  pubSub: SiyuPubSub;
  kind: 'memory' | 'redis';
  close(): Promise<void>;
}

/** ioredis options of every Siyu Redis connection (pub/sub and the rate limiter). */
export const REDIS_OPTIONS = { lazyConnect: false, maxRetriesPerRequest: 3 } as const;

/** In-memory pubsub for one instance; Redis pub/sub fans events out across instances. */
export function openPubSub(redisUrl: string | undefined, log: Logger): PubSubHandle {
  if (!redisUrl) {
    return { pubSub: createPubSub() as SiyuPubSub, kind: 'memory', close: async () => {} };
  }
  const publishClient = new Redis(redisUrl, REDIS_OPTIONS);
  const subscribeClient = new Redis(redisUrl, REDIS_OPTIONS);
  for (const c of [publishClient, subscribeClient]) {
    c.on('error', (err) => log.warn({ err: err.message }, 'redis connection error'));
  }
  reportFailures(publishClient, subscribeClient, log);
  const eventTarget = createRedisEventTarget({ publishClient, subscribeClient });
  return {
    pubSub: createPubSub({ eventTarget }) as SiyuPubSub,
    kind: 'redis',
    async close() {
      await Promise.allSettled([publishClient.quit(), subscribeClient.quit()]);
    },
  };
}

/** Pause before a failed SUBSCRIBE is sent again. */
const RESUBSCRIBE_DELAY_MS = 500;

/**
 * The Redis event target fires PUBLISH and SUBSCRIBE without looking at the reply, and subscribes
 * to a topic only when its first listener arrives: one failed SUBSCRIBE (a connection still being
 * made, a reconnect past `maxRetriesPerRequest`) would leave that topic silent on this instance for
 * as long as it has listeners. Here a failed SUBSCRIBE is logged and sent again until it holds or
 * the connection is closed for good; a failed PUBLISH is logged (its subscribers reload on the next).
 */
function reportFailures(publishClient: Redis, subscribeClient: Redis, log: Logger): void {
  const publish = publishClient.publish.bind(publishClient);
  publishClient.publish = ((channel: string, message: string) => {
    const sent = publish(channel, message);
    sent.catch((err: Error) => log.warn({ err: err.message, channel }, 'redis publish failed'));
    return sent;
  }) as Redis['publish'];
  const subscribe = subscribeClient.subscribe.bind(subscribeClient) as (channel: string) => Promise<unknown>;
  const subscribeUntilHeld = (channel: string): Promise<unknown> => {
    const sent = subscribe(channel);
    sent.catch((err: Error) => {
      if (subscribeClient.status === 'end') return;
      log.warn({ err: err.message, channel }, 'redis subscribe failed; retrying');
      setTimeout(() => void subscribeUntilHeld(channel).catch(() => undefined), RESUBSCRIBE_DELAY_MS).unref();
    });
    return sent;
  };
  subscribeClient.subscribe = ((channel: string) => subscribeUntilHeld(channel)) as Redis['subscribe'];
}

export const Topics = {
  workspaceUpdated: (workspaceId: string) => `siyu:${workspaceId}:workspace.updated`,
  /** After an ingest transaction commits: `{ workspaceId, accepted }`. */
  eventsIngested: (workspaceId: string) => `siyu:${workspaceId}:events.ingested`,
  /**
   * After a commit that changed profiles (ingest, unmerge, manual tags): `{ ids }`, the live ids
   * touched plus ids merged away in it. Ids only; published in chunks of `PROFILES_CHANGED_CHUNK`.
   */
  profilesChanged: (workspaceId: string) => `siyu:${workspaceId}:profiles.changed`,
  /** A profile entered or left a segment: `{ subject: segmentId, profileId, change, cause, at }`. */
  segmentMembership: (workspaceId: string, segmentId: string) => `siyu:${workspaceId}:segment.${segmentId}.membership`,
  /** A profile gained or lost a tag. */
  tagMembership: (workspaceId: string) => `siyu:${workspaceId}:tag.membership`,
  journeyTriggered: (workspaceId: string, journeyId: string) => `siyu:${workspaceId}:journey.${journeyId}.triggered`,
  /**
   * After a commit that changed KPI rollups: `{ since }` (ms) when only buckets from that moment on
   * can have changed (a batch without merges: its earliest event); `{}` when any bucket can have
   * (merges, an unmerge, a rebuild).
   */
  kpisChanged: (workspaceId: string) => `siyu:${workspaceId}:kpis.changed`,
  /** After a commit that changed attribution (paths closed, merges, unmerges, rebuilds): `{}`. */
  attributionChanged: (workspaceId: string) => `siyu:${workspaceId}:attribution.changed`,
  /** A KPI alert was raised, or escalated past its service level: `{ alertId, level }` (the level now). */
  alertRaised: (workspaceId: string) => `siyu:${workspaceId}:kpi.alert.raised`,
  /** An alert took a step of its response process (raised, acknowledged, root cause, resolved, escalated): `{ alertId, level, action }`. */
  alertChanged: (workspaceId: string) => `siyu:${workspaceId}:kpi.alert.changed`,
};

/** Most ids in one `profilesChanged` message (a 1,000-event batch can touch as many profiles). */
export const PROFILES_CHANGED_CHUNK = 500;

/** Publishes `Topics.profilesChanged` for these ids (deduplicated, chunked; nothing when empty). Call after commit. */
export function publishProfilesChanged(pubSub: SiyuPubSub, workspaceId: string, ids: Iterable<string>): void {
  const all = [...new Set(ids)];
  for (let i = 0; i < all.length; i += PROFILES_CHANGED_CHUNK) {
    pubSub.publish(Topics.profilesChanged(workspaceId), { ids: all.slice(i, i + PROFILES_CHANGED_CHUNK) });
  }
}
