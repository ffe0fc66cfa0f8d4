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

  get<K, V>(name: string, batch: (keys: readonly K[]) => Promise<ArrayLike<V | Error>>, options?: DataLoader.Options<K, V, string>): DataLoader<K, V, string> {
    if (!LoaderRegistry.batching) return new DataLoader<K, V, string>(batch, { ...options, batch: false, cache: false });
    let l = this.loaders.get(name) as DataLoader<K, V, string> | undefined;
    if (!l) {
      l = new DataLoader<K, V, string>(batch, { maxBatchSize: 1000, ...options });
      this.loaders.set(name, l as DataLoader<unknown, unknown>);
    }
    return l;
  }
}
