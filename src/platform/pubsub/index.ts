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
  const eventTarget = createRedisEventTarget({ publishClient, subscribeClient });
  return {
    pubSub: createPubSub({ eventTarget }) as SiyuPubSub,
    kind: 'redis',
    async close() {
      await Promise.allSettled([publishClient.quit(), subscribeClient.quit()]);
    },
  };
}

export const Topics = {
  workspaceUpdated: (workspaceId: string) => `siyu:${workspaceId}:workspace.updated`,
  /** After an ingest transaction commits: `{ workspaceId, accepted }`. */
  eventsIngested: (workspaceId: string) => `siyu:${workspaceId}:events.ingested`,
  /** A profile entered or left a segment: `{ subject: segmentId, profileId, change, cause, at }`. */
  segmentMembership: (workspaceId: string, segmentId: string) => `siyu:${workspaceId}:segment.${segmentId}.membership`,
  /** A profile gained or lost a tag. */
  tagMembership: (workspaceId: string) => `siyu:${workspaceId}:tag.membership`,
  journeyTriggered: (workspaceId: string, journeyId: string) => `siyu:${workspaceId}:journey.${journeyId}.triggered`,
};
