import { Redis } from 'ioredis';
import { BurstyRateLimiter, RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { AuthInfo } from '../auth';
import { AppError } from '../errors';
import type { Logger } from '../logging';
import { REDIS_OPTIONS } from '../pubsub';

/** Ingest (`ingestEvents`, `/v1/*`) and everything else (reads, admin mutations) have separate budgets. */
export type Budget = 'ingest' | 'read';

export interface RateBudget {
  /** Sustained requests per second per API key. */
  perSecond: number;
  /** Extra requests per key per BURST_WINDOW_SECONDS above the per-second rate. */
  burst: number;
}

export interface RateLimitConfig {
  read: RateBudget;
  ingest: RateBudget;
}

export interface RateLimits {
  readonly kind: 'memory' | 'redis';
  /** Counts one request of `auth`'s key against `budget`; throws AppError RATE_LIMITED when spent. */
  consume(auth: AuthInfo, budget: Budget): Promise<void>;
  /** Resolves once the shared store is connected (immediately in memory). */
  ready(): Promise<void>;
  close(): Promise<void>;
}

export const BURST_WINDOW_SECONDS = 10;

function limiter(budget: RateBudget, name: string, redis: Redis | null): BurstyRateLimiter {
  const make = (keyPrefix: string, points: number, duration: number): RateLimiterAbstract => {
    const memory = new RateLimiterMemory({ keyPrefix, points, duration });
    if (!redis) return memory;
    // Redis down or not yet connected: each instance falls back to its own in-memory budget.
    return new RateLimiterRedis({ storeClient: redis, keyPrefix, points, duration, rejectIfRedisNotReady: true, insuranceLimiter: memory });
  };
  return new BurstyRateLimiter(
    make(`siyu:rl:${name}`, budget.perSecond, 1),
    make(`siyu:rl:${name}:burst`, budget.burst, BURST_WINDOW_SECONDS),
  );
}

/**
 * Per-API-key rate limits (fixed windows: `perSecond` per second, plus `burst` extra per 10 s).
 * With REDIS_URL the counters live in Redis and every instance shares them; otherwise per instance.
 */
export function createRateLimits(cfg: RateLimitConfig, redisUrl: string | undefined, log: Logger): RateLimits {
  const redis = redisUrl ? new Redis(redisUrl, REDIS_OPTIONS) : null;
  redis?.on('error', (err) => log.warn({ err: err.message }, 'rate limiter: redis connection error'));
  const limiters: Record<Budget, BurstyRateLimiter> = { read: limiter(cfg.read, 'read', redis), ingest: limiter(cfg.ingest, 'ingest', redis) };
  return {
    kind: redis ? 'redis' : 'memory',
    async consume(auth, budget) {
      try {
        await limiters[budget].consume(auth.apiKeyId, 1);
      } catch (res) {
        if (res instanceof RateLimiterRes) throw AppError.rateLimited(Math.max(1, Math.ceil(res.msBeforeNext / 1000)), budget);
        // The store failed and had no insurance: let the request through rather than fail it.
        log.warn({ err: (res as Error).message }, 'rate limiter failed; request allowed');
      }
    },
    ready() {
      if (!redis || redis.status === 'ready') return Promise.resolve();
      return new Promise((resolve) => redis.once('ready', () => resolve()));
    },
    async close() {
      await redis?.quit().catch(() => undefined);
    },
  };
}
