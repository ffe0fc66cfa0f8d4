import { outsideDbBudget, withDbBudget, type DbBudget } from '../db/budget';
import type { Logger } from '../logging';
import type { SiyuPubSub } from '../pubsub';

/** The shortest coalescing interval a source may ask for. */
export const MIN_LIVE_INTERVAL_MS = 100;
/** The coalescing interval when a workspace has not set one. */
export const DEFAULT_LIVE_INTERVAL_MS = 1000;

/** A shared computation that subscribers of the same `key` receive, recomputed when a trigger fires. */
export interface LiveSource<T> {
  /** Identity of the shared computation, e.g. `profile:${workspaceId}:${profileId}`; the part before the first `:` is its kind (metrics label). */
  key: string;
  /** Pubsub topics (see `Topics`) whose messages mean "may have changed". */
  triggers: string[];
  /** Coalescing interval (clamped to at least `MIN_LIVE_INTERVAL_MS`). The newest subscriber's value applies to the source; its other members are the first subscriber's. */
  intervalMs: number;
  /** Computes the current value, once per change for all subscribers of `key`. */
  compute(): Promise<T>;
  /**
   * Optional: the value after `changes` (the payloads of the trigger messages since `prev` was
   * computed, oldest first), from `prev` and the changes alone, e.g. recomputing only the buckets
   * a commit touched. Used instead of `compute` when there is a previous value and every message
   * since carried a payload; a failure makes the next computation a full `compute`.
   */
  update?(prev: T, changes: unknown[]): Promise<T>;
  /** Optional: false when `next` is the same as `prev`; nothing is pushed and the version stays. */
  changed?(prev: T, next: T): boolean;
  /** Optional: whether a trigger message concerns this source (for workspace-wide topics carrying ids). Default: every message does. */
  relevant?(topic: string, payload: unknown): boolean;
}

/** One pushed value: `version` increases strictly for every push of a source (versions may be skipped by a slow reader). */
export interface LiveUpdate<T> {
  version: number;
  value: T;
}

export interface LiveStats {
  /** Shared computations with at least one subscriber. */
  sources: number;
  /** Open subscriber iterators. */
  subscribers: number;
  /** Computations run since start (successful or not), updates included. */
  computations: number;
  /** Of those, updates from the previous value and the changes since (`LiveSource.update`). */
  updates: number;
  /** Versions replaced in a subscriber's mailbox before it read them. */
  dropped: number;
}

export interface LiveSourceStats {
  key: string;
  version: number;
  subscribers: number;
  computations: number;
  /** Server-side times (ms) at which versions were published, newest last (at most the last 100). */
  pushedAt: number[];
}

/** What the hub reports to Prometheus (see `createMetrics`); optional so tools can run a hub without it. */
export interface LiveMetrics {
  liveComputations: { inc(labels: { kind: string }): void };
  liveComputeErrors: { inc(labels: { kind: string }): void };
  liveDroppedVersions: { inc(labels: { kind: string }, n?: number): void };
  livePushes: { inc(labels: { kind: string }, n?: number): void };
  liveSubscribers: { inc(): void; dec(): void };
  liveSources: { inc(): void; dec(): void };
}

export interface LiveHubOptions {
  pubSub: SiyuPubSub;
  log: Logger;
  metrics?: LiveMetrics;
  /** Clock (ms); tests pass a fake. */
  now?: () => number;
  /**
   * A database time budget for each computation (a `read` budget: SIYU_DB_TIMEOUT_READ_MS). The
   * last subscriber leaving stops the computation under way. Without it computations run unbounded.
   */
  budget?: () => DbBudget;
}

interface Subscriber<T> {
  /** The newest version not yet read (one slot: a newer version replaces it). */
  mailbox: LiveUpdate<T> | null;
  /** A pending `next()` of the reader. */
  waiter: ((r: IteratorResult<LiveUpdate<T>>) => void) | null;
  done: boolean;
}

interface TopicListener {
  iterator: AsyncIterator<unknown>;
  sources: Set<SharedSource<unknown>>;
}

const PUSH_HISTORY = 100;

/**
 * One computation per key, fanned out. Scheduling: a trigger marks the source dirty; a computation
 * starts at once when the previous one ended at least `intervalMs` ago (leading edge), otherwise
 * when that much time has passed; triggers during a computation cause exactly one more. Pushes of a
 * source are therefore at least `intervalMs` apart. The first computation gives version 1.
 */
class SharedSource<T> {
  readonly subscribers = new Set<Subscriber<T>>();
  readonly kind: string;
  current: LiveUpdate<T> | null = null;
  computations = 0;
  readonly pushedAt: number[] = [];
  private dirty = false;
  /** Trigger payloads since the last computation began; null: the next one is a full `compute`. */
  private changes: unknown[] | null = null;
  private computing = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private lastEnd = Number.NEGATIVE_INFINITY;
  /** The budget of the computation under way. */
  private budget: DbBudget | undefined;
  closed = false;
  /** The coalescing interval: the newest subscriber's `intervalMs` (a changed workspace setting applies as people resubscribe). */
  intervalMs: number;

  constructor(
    readonly src: LiveSource<T>,
    private readonly hub: LiveHub,
  ) {
    this.kind = src.key.split(':')[0] || 'unknown';
    this.intervalMs = src.intervalMs;
  }

  /** Marks the source changed; `change` (a trigger message's payload) lets the next computation be an update. */
  trigger(change?: unknown): void {
    this.dirty = true;
    if (change === undefined || change === null) this.changes = null;
    else if (this.src.update) this.changes?.push(change);
    this.schedule();
  }

  close(): void {
    this.closed = true;
    // Nobody is left to read it: the computation under way stops (its statements are cancelled).
    this.budget?.stop('client_gone');
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(): void {
    if (this.closed || this.computing || this.timer || !this.dirty) return;
    const wait = this.lastEnd + Math.max(MIN_LIVE_INTERVAL_MS, this.intervalMs) - this.hub.now();
    if (wait <= 0) {
      void this.run();
    } else {
      this.timer = setTimeout(() => {
        this.timer = null;
        void this.run();
      }, wait);
    }
  }

  private async run(): Promise<void> {
    this.dirty = false;
    this.computing = true;
    this.computations++;
    const prev = this.current;
    const changes = this.changes;
    const update = this.src.update;
    const incremental = prev !== null && changes !== null && update !== undefined;
    // Messages arriving from now on are for the next computation.
    this.changes = [];
    this.hub.counted(this.kind, incremental);
    try {
      const work = incremental ? () => update.call(this.src, prev.value, changes) : () => this.src.compute();
      // Shared by every subscriber: not bounded by (or cancelled with) the request that triggered it,
      // but by a budget of its own, stopped when the last subscriber leaves.
      this.budget = this.hub.newBudget();
      const budget = this.budget;
      const value = budget ? await withDbBudget(budget, work) : await outsideDbBudget(work);
      if (!this.closed) this.publish(value);
    } catch (err) {
      // The changes this computation was to apply are lost with it: the next one starts from scratch.
      this.changes = null;
      this.hub.failed(this, err);
      // Without a first value the subscribers have nothing: try again after the interval. Later
      // failures keep the last value and are retried on the next trigger.
      if (!this.current) this.dirty = true;
    } finally {
      this.budget?.finish();
      this.budget = undefined;
      this.computing = false;
      this.lastEnd = this.hub.now();
      this.schedule();
    }
  }

  private publish(value: T): void {
    const prev = this.current;
    if (prev && this.src.changed && !this.src.changed(prev.value, value)) return;
    const update = { version: (prev?.version ?? 0) + 1, value };
    this.current = update;
    this.pushedAt.push(this.hub.now());
    if (this.pushedAt.length > PUSH_HISTORY) this.pushedAt.shift();
    let dropped = 0;
    for (const s of this.subscribers) if (deliver(s, update)) dropped++;
    if (this.subscribers.size) this.hub.pushed(this.kind, this.subscribers.size);
    if (dropped) this.hub.dropped(this.kind, dropped);
  }
}

/** Hands an update to a reader: at once if it waits, else into its one-slot mailbox. True when an unread version was replaced. */
function deliver<T>(s: Subscriber<T>, update: LiveUpdate<T>): boolean {
  if (s.waiter) {
    const w = s.waiter;
    s.waiter = null;
    w({ value: update, done: false });
    return false;
  }
  const replaced = s.mailbox !== null;
  s.mailbox = update;
  return replaced;
}

/**
 * Shared, coalesced, versioned live values (one hub per app instance). Subscribers of the same key
 * share one computation; each has a one-slot mailbox, so a reader that stops reading costs one
 * value, never a growing queue (intermediate versions are dropped and counted). Compute errors are
 * logged and counted, never thrown into subscribers: they keep the last value.
 */
export class LiveHub {
  private readonly sources = new Map<string, SharedSource<unknown>>();
  private readonly topics = new Map<string, TopicListener>();
  private computations = 0;
  private updates = 0;
  private droppedTotal = 0;
  private subscriberCount = 0;
  readonly now: () => number;

  constructor(private readonly opts: LiveHubOptions) {
    this.now = opts.now ?? Date.now;
  }

  /**
   * Subscribes to a source. The iterator first yields the current value (computed now when this is
   * the first subscriber), then every later version; `return()` leaves, and the last one to leave
   * stops the source. The iterator never throws.
   */
  subscribe<T>(src: LiveSource<T>): AsyncIterableIterator<LiveUpdate<T>> {
    let source = this.sources.get(src.key) as SharedSource<T> | undefined;
    const isNew = !source;
    if (!source) {
      source = new SharedSource<T>(src, this);
      this.sources.set(src.key, source as SharedSource<unknown>);
      this.opts.metrics?.liveSources.inc();
      for (const topic of src.triggers) this.listen(topic, source as SharedSource<unknown>);
    } else {
      source.intervalMs = src.intervalMs;
    }
    const sub: Subscriber<T> = { mailbox: source.current, waiter: null, done: false };
    if (source.current) this.pushed(source.kind, 1);
    source.subscribers.add(sub);
    this.subscriberCount++;
    this.opts.metrics?.liveSubscribers.inc();
    if (isNew) source.trigger();
    const shared = source;
    const leave = (): void => {
      if (sub.done) return;
      sub.done = true;
      sub.mailbox = null;
      shared.subscribers.delete(sub);
      this.subscriberCount--;
      this.opts.metrics?.liveSubscribers.dec();
      if (shared.subscribers.size === 0) this.forget(shared as SharedSource<unknown>);
      const w = sub.waiter;
      sub.waiter = null;
      w?.({ value: undefined, done: true });
    };
    const iterator: AsyncIterableIterator<LiveUpdate<T>> = {
      next: () => {
        if (sub.done) return Promise.resolve({ value: undefined, done: true });
        if (sub.mailbox) {
          const value = sub.mailbox;
          sub.mailbox = null;
          return Promise.resolve({ value, done: false });
        }
        return new Promise((resolve) => {
          sub.waiter = resolve;
        });
      },
      return: () => {
        leave();
        return Promise.resolve({ value: undefined, done: true });
      },
      throw: () => {
        leave();
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    return iterator;
  }

  stats(): LiveStats {
    return { sources: this.sources.size, subscribers: this.subscriberCount, computations: this.computations, updates: this.updates, dropped: this.droppedTotal };
  }

  /** One source's state, or null when nobody subscribes to `key`. */
  source(key: string): LiveSourceStats | null {
    const s = this.sources.get(key);
    if (!s) return null;
    return { key, version: s.current?.version ?? 0, subscribers: s.subscribers.size, computations: s.computations, pushedAt: [...s.pushedAt] };
  }

  /** Ends every subscriber and stops listening (app shutdown). */
  close(): void {
    for (const s of [...this.sources.values()]) {
      for (const sub of [...s.subscribers]) {
        sub.done = true;
        const w = sub.waiter;
        sub.waiter = null;
        w?.({ value: undefined, done: true });
      }
      this.subscriberCount -= s.subscribers.size;
      s.subscribers.clear();
      this.forget(s);
    }
  }

  /** @internal */
  counted(kind: string, update = false): void {
    this.computations++;
    if (update) this.updates++;
    this.opts.metrics?.liveComputations.inc({ kind });
  }

  /** @internal */
  pushed(kind: string, n: number): void {
    this.opts.metrics?.livePushes.inc({ kind }, n);
  }

  /** @internal */
  dropped(kind: string, n: number): void {
    this.droppedTotal += n;
    this.opts.metrics?.liveDroppedVersions.inc({ kind }, n);
  }

  /** @internal A budget for one computation, when the hub has one. */
  newBudget(): DbBudget | undefined {
    return this.opts.budget?.();
  }

  /** @internal */
  failed(source: { kind: string; src: { key: string } }, err: unknown): void {
    this.opts.metrics?.liveComputeErrors.inc({ kind: source.kind });
    this.opts.log.warn({ err: err instanceof Error ? err.message : String(err), key: source.src.key }, 'live computation failed; keeping the last value');
  }

  private forget(source: SharedSource<unknown>): void {
    if (this.sources.get(source.src.key) !== source) return;
    source.close();
    this.sources.delete(source.src.key);
    this.opts.metrics?.liveSources.dec();
    for (const topic of source.src.triggers) {
      const l = this.topics.get(topic);
      if (!l) continue;
      l.sources.delete(source);
      if (l.sources.size === 0) {
        this.topics.delete(topic);
        void l.iterator.return?.();
      }
    }
  }

  /** One pubsub subscription per topic, whatever the number of sources listening on it. */
  private listen(topic: string, source: SharedSource<unknown>): void {
    const existing = this.topics.get(topic);
    if (existing) {
      existing.sources.add(source);
      return;
    }
    const iterator = this.opts.pubSub.subscribe(topic)[Symbol.asyncIterator]();
    const listener: TopicListener = { iterator, sources: new Set([source]) };
    this.topics.set(topic, listener);
    void (async () => {
      try {
        for (;;) {
          const r = await iterator.next();
          if (r.done) return;
          for (const s of listener.sources) {
            let relevant = true;
            try {
              relevant = s.src.relevant ? s.src.relevant(topic, r.value) : true;
            } catch (err) {
              this.failed(s, err);
            }
            if (relevant) s.trigger(r.value);
          }
        }
      } catch (err) {
        this.opts.log.warn({ err: err instanceof Error ? err.message : String(err), topic }, 'live trigger listener stopped');
      }
    })();
  }
}
