import type { SiyuPubSub } from '../../src/platform/pubsub';
import type { TestApp } from './app';

/**
 * Polls `cond` until it holds, failing with `what` (and `state()`, when given) after the timeout.
 * For waiting on something that happens elsewhere (a process, a page, the server) instead of sleeping.
 */
export async function waitUntil(
  what: string,
  cond: () => boolean | Promise<boolean>,
  opts: { timeoutMs?: number; intervalMs?: number; state?: () => unknown } = {},
): Promise<void> {
  const { timeoutMs = 20_000, intervalMs = 20 } = opts;
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) {
      const state = opts.state ? `; state: ${JSON.stringify(await opts.state())}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${state}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * Resolves once the app listens on a pubsub topic (a GraphQL subscription has started server-side
 * and hears what is published from now on). Call it before subscribing.
 */
export function topicSubscribed(t: TestApp, topic: string, timeoutMs = 20_000): Promise<void> {
  // The pubsub is not part of the app's public surface; the live hub holds the same instance.
  const pubSub = (t.app.services.live as unknown as { opts: { pubSub: SiyuPubSub } }).opts.pubSub;
  const original = pubSub.subscribe;
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      pubSub.subscribe = original;
      reject(new Error(`timed out waiting for a subscription to ${topic}`));
    }, timeoutMs);
    pubSub.subscribe = ((...args: Parameters<typeof original>) => {
      const iterable = original.apply(pubSub, args);
      if (args[0] !== topic) return iterable;
      pubSub.subscribe = original;
      // The listener is attached when the subscription first pulls from the topic.
      const next = iterable.next.bind(iterable);
      iterable.next = (...a: Parameters<typeof next>) => {
        const pending = next(...a);
        iterable.next = next;
        clearTimeout(timer);
        resolve();
        return pending;
      };
      return iterable;
    }) as typeof original;
  });
}
