import { createPubSub } from '@graphql-yoga/subscription';
import { LiveHub, type LiveSource, type LiveUpdate } from '../../src/platform/live';
import type { SiyuPubSub } from '../../src/platform/pubsub';
import { createLogger } from '../../src/platform/logging';

/**
 * The pure scheduling of the live hub on a fake clock: jest's fake timers drive both `setTimeout`
 * and `Date.now`, so intervals are asserted on the hub's own push times, never on wall-clock time.
 */
const TOPIC = 'siyu:test:changed';
const INTERVAL = 1000;

let pubSub: SiyuPubSub;
let hub: LiveHub;
let warnings: string[];

beforeEach(() => {
  jest.useFakeTimers({ now: 1_000_000 });
  pubSub = createPubSub() as SiyuPubSub;
  const log = createLogger('silent');
  warnings = [];
  log.warn = ((_o: unknown, msg?: string) => warnings.push(msg ?? '')) as typeof log.warn;
  hub = new LiveHub({ pubSub, log, now: () => Date.now() });
});
afterEach(() => {
  hub.close();
  jest.useRealTimers();
});

/** Lets promise chains (pubsub delivery, compute, delivery to readers) run without moving the clock. */
const settle = () => jest.advanceTimersByTimeAsync(0);
const trigger = async (payload: unknown = {}) => {
  pubSub.publish(TOPIC, payload);
  await settle();
};

/** A counter source: each computation returns the number of computations so far (or what `next` says). */
function counter(over: Partial<LiveSource<number>> = {}) {
  const s = { computed: 0, fail: false, delayMs: 0 };
  const src: LiveSource<number> = {
    key: 'test:counter',
    triggers: [TOPIC],
    intervalMs: INTERVAL,
    compute: async () => {
      if (s.delayMs) await new Promise((r) => setTimeout(r, s.delayMs));
      s.computed++;
      if (s.fail) throw new TypeError('boom');
      return s.computed;
    },
    ...over,
  };
  return { s, src };
}

/** Reads an iterator in the background, recording what arrived and when (fake clock). */
function reader<T>(it: AsyncIterableIterator<LiveUpdate<T>>) {
  const got: { version: number; value: T; at: number }[] = [];
  void (async () => {
    for await (const u of it) got.push({ ...u, at: Date.now() });
  })();
  return got;
}

describe('LiveHub', () => {
  it('computes the current value once for the first subscriber and hands it to later ones without computing', async () => {
    const { s, src } = counter();
    const a = reader(hub.subscribe(src));
    await settle();
    expect(a).toEqual([{ version: 1, value: 1, at: expect.any(Number) }]);
    const b = reader(hub.subscribe(src));
    await settle();
    expect(b.map((u) => u.version)).toEqual([1]);
    expect(s.computed).toBe(1);
    expect(hub.stats()).toMatchObject({ sources: 1, subscribers: 2, computations: 1 });
  });

  it('computes a change after a quiet period at once (leading edge), then coalesces a burst into one more after the interval', async () => {
    const { s, src } = counter();
    const got = reader(hub.subscribe(src));
    await settle();
    await jest.advanceTimersByTimeAsync(INTERVAL);
    await trigger();
    expect(s.computed).toBe(2);
    for (let i = 0; i < 20; i++) await trigger();
    expect(s.computed).toBe(2);
    await jest.advanceTimersByTimeAsync(INTERVAL - 1);
    expect(s.computed).toBe(2);
    await jest.advanceTimersByTimeAsync(1);
    expect(s.computed).toBe(3);
    await jest.advanceTimersByTimeAsync(5 * INTERVAL);
    expect(s.computed).toBe(3);
    expect(got.map((u) => u.version)).toEqual([1, 2, 3]);
  });

  it('never pushes two versions closer than the interval, whatever the trigger pattern', async () => {
    const { src } = counter({ intervalMs: 250 });
    const got = reader(hub.subscribe(src));
    await settle();
    for (let i = 0; i < 200; i++) {
      await trigger();
      await jest.advanceTimersByTimeAsync(i % 7 === 0 ? 300 : 37);
    }
    await jest.advanceTimersByTimeAsync(1000);
    const pushed = hub.source('test:counter')!.pushedAt;
    expect(pushed.length).toBeGreaterThan(10);
    for (let i = 1; i < pushed.length; i++) expect(pushed[i] - pushed[i - 1]).toBeGreaterThanOrEqual(250);
    for (let i = 1; i < got.length; i++) expect(got[i].at - got[i - 1].at).toBeGreaterThanOrEqual(250);
    expect(got.at(-1)!.version).toBe(hub.source('test:counter')!.version);
  });

  it('runs exactly one more computation for triggers that arrive during a computation', async () => {
    const { s, src } = counter({ intervalMs: 100 });
    reader(hub.subscribe(src));
    await settle();
    await jest.advanceTimersByTimeAsync(100);
    s.delayMs = 50;
    await trigger();
    expect(s.computed).toBe(1); // computing (50 ms)
    await trigger();
    await trigger();
    await trigger();
    await jest.advanceTimersByTimeAsync(50);
    expect(s.computed).toBe(2);
    await jest.advanceTimersByTimeAsync(1000);
    expect(s.computed).toBe(3);
  });

  it('gives a reader that stopped reading only the newest version (drops counted), versions strictly increasing', async () => {
    const { src } = counter({ intervalMs: 100 });
    const it = hub.subscribe(src);
    const first = await it.next();
    expect(first.value).toMatchObject({ version: 1 });
    for (let i = 0; i < 5; i++) {
      await jest.advanceTimersByTimeAsync(100);
      await trigger();
    }
    await jest.advanceTimersByTimeAsync(100);
    expect(hub.stats().dropped).toBe(4);
    const next = await it.next();
    expect(next.value).toMatchObject({ version: 6, value: 6 });
    await it.return!();
  });

  it('skips the push when changed() says the value is the same', async () => {
    let value = 'a';
    const src: LiveSource<string> = { key: 'test:same', triggers: [TOPIC], intervalMs: 100, compute: async () => value, changed: (p, n) => p !== n };
    const got = reader(hub.subscribe(src));
    await settle();
    await jest.advanceTimersByTimeAsync(100);
    await trigger();
    value = 'b';
    await jest.advanceTimersByTimeAsync(100);
    await trigger();
    expect(got.map((u) => [u.version, u.value])).toEqual([
      [1, 'a'],
      [2, 'b'],
    ]);
    expect(hub.stats().computations).toBe(3);
  });

  it('ignores trigger messages that relevant() rejects', async () => {
    const { s, src } = counter({ relevant: (_t, p) => (p as { ids: string[] }).ids.includes('me') });
    reader(hub.subscribe(src));
    await settle();
    await jest.advanceTimersByTimeAsync(INTERVAL);
    await trigger({ ids: ['other'] });
    expect(s.computed).toBe(1);
    await trigger({ ids: ['other', 'me'] });
    expect(s.computed).toBe(2);
  });

  it('forgets a source and stops listening when its last subscriber leaves', async () => {
    const { s, src } = counter();
    const a = hub.subscribe(src);
    const b = hub.subscribe(src);
    await settle();
    await a.return!();
    expect(hub.stats()).toMatchObject({ sources: 1, subscribers: 1 });
    await b.return!();
    expect(hub.stats()).toMatchObject({ sources: 0, subscribers: 0 });
    await jest.advanceTimersByTimeAsync(INTERVAL);
    await trigger();
    await jest.advanceTimersByTimeAsync(INTERVAL);
    expect(s.computed).toBe(1);
    expect(await a.next()).toEqual({ value: undefined, done: true });
  });

  it('logs a failed computation, keeps the last value and retries on the next trigger; a failed first value is retried after the interval', async () => {
    const { s, src } = counter({ intervalMs: 100 });
    s.fail = true;
    const got = reader(hub.subscribe(src));
    await settle();
    expect(got).toEqual([]);
    expect(warnings).toHaveLength(1);
    s.fail = false;
    await jest.advanceTimersByTimeAsync(100);
    expect(got.map((u) => u.value)).toEqual([2]);
    s.fail = true;
    await jest.advanceTimersByTimeAsync(100);
    await trigger();
    await jest.advanceTimersByTimeAsync(1000);
    expect(s.computed).toBe(3); // not retried without a trigger
    s.fail = false;
    await trigger();
    expect(got.map((u) => [u.version, u.value])).toEqual([
      [1, 2],
      [2, 4],
    ]);
  });
});

describe('updates from the changes since the last value', () => {
  /** A source whose value is the list of changes it was given; `compute` starts a new list. */
  function changes(fail = { update: false }) {
    const calls: string[] = [];
    const src: LiveSource<unknown[]> = {
      key: 'test:changes',
      triggers: [TOPIC],
      intervalMs: INTERVAL,
      compute: async () => {
        calls.push('compute');
        return [];
      },
      update: async (prev, c) => {
        calls.push(`update ${JSON.stringify(c)}`);
        if (fail.update) throw new TypeError('boom');
        return [...prev, ...c];
      },
    };
    return { calls, src };
  }

  it('hands the payloads of coalesced messages to `update`, oldest first, and recomputes after a message without one', async () => {
    const { calls, src } = changes();
    const got = reader(hub.subscribe(src));
    await settle();
    expect(calls).toEqual(['compute']);
    await jest.advanceTimersByTimeAsync(INTERVAL);
    // The first message after a quiet period is applied at once; the next two, within the interval, together.
    await trigger({ since: 3 });
    await trigger({ since: 2 });
    await trigger({ since: 1 });
    await jest.advanceTimersByTimeAsync(INTERVAL);
    expect(calls).toEqual(['compute', 'update [{"since":3}]', 'update [{"since":2},{"since":1}]']);
    expect(got.at(-1)!.value).toEqual([{ since: 3 }, { since: 2 }, { since: 1 }]);
    await jest.advanceTimersByTimeAsync(INTERVAL);
    // A message without a payload: nothing says what changed, so everything is computed again.
    pubSub.publish(TOPIC, null as never);
    await settle();
    await jest.advanceTimersByTimeAsync(INTERVAL);
    expect(calls.at(-1)).toBe('compute');
    expect(got.at(-1)!.value).toEqual([]);
    expect(hub.stats().updates).toBe(2);
  });

  it('a failed update loses its changes: the next computation starts from scratch', async () => {
    const fail = { update: true };
    const { calls, src } = changes(fail);
    reader(hub.subscribe(src));
    await settle();
    await jest.advanceTimersByTimeAsync(INTERVAL);
    await trigger({ since: 5 });
    await jest.advanceTimersByTimeAsync(INTERVAL);
    fail.update = false;
    await trigger({ since: 6 });
    await jest.advanceTimersByTimeAsync(INTERVAL);
    expect(calls).toEqual(['compute', 'update [{"since":5}]', 'compute']);
    expect(warnings).toContain('live computation failed; keeping the last value');
  });
});
