import DataLoader from 'dataloader';

/**
 * Per-operation DataLoaders. A module asks for its loader by name with a batch function; the first
 * call in an operation creates it, later calls reuse it, so each relation kind costs one query per
 * operation. HTTP operations get a fresh registry; subscriptions get one per emitted event.
 */
export class LoaderRegistry {
  /**
   * Benchmark-only switch (bench/cases/n-plus-one.ts, the N+1 reference): when false, every `get`
   * returns a fresh loader with batching and caching off, so each `load` is its own query. Only
   * reachable from code — no config or environment variable sets it; production never changes it.
   */
  static batching = true;

  private readonly loaders = new Map<string, DataLoader<unknown, unknown>>();
  /** Values primed before their loader exists (a prefetch runs before the field resolvers). */
  private readonly primed = new Map<string, Map<unknown, unknown>>();

  get<K, V>(name: string, batch: (keys: readonly K[]) => Promise<ArrayLike<V | Error>>, options?: DataLoader.Options<K, V, string>): DataLoader<K, V, string> {
    if (!LoaderRegistry.batching) return new DataLoader<K, V, string>(batch, { ...options, batch: false, cache: false });
    let l = this.loaders.get(name) as DataLoader<K, V, string> | undefined;
    if (!l) {
      l = new DataLoader<K, V, string>(batch, { maxBatchSize: 1000, ...options });
      this.loaders.set(name, l as DataLoader<unknown, unknown>);
      const early = this.primed.get(name);
      if (early) {
        for (const [k, v] of early) l.prime(k as K, v as V);
        this.primed.delete(name);
      }
    }
    return l;
  }

  /**
   * Gives loader `name` the value of `key` without a query, as its batch function would have
   * answered it. A value already loaded or primed is kept. Without batching (no cache) it is a no-op.
   */
  prime(name: string, key: unknown, value: unknown): void {
    if (!LoaderRegistry.batching) return;
    const l = this.loaders.get(name);
    if (l) {
      l.prime(key, value);
      return;
    }
    let early = this.primed.get(name);
    if (!early) this.primed.set(name, (early = new Map()));
    if (!early.has(key)) early.set(key, value);
  }
}
