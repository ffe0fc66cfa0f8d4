import DataLoader from 'dataloader';

/**
 * Per-operation DataLoaders. A module asks for its loader by name with a batch function; the first
 * call in an operation creates it, later calls reuse it, so each relation kind costs one query per
 * operation. HTTP operations get a fresh registry; subscriptions get one per emitted event.
 */
export class LoaderRegistry {
  private readonly loaders = new Map<string, DataLoader<unknown, unknown>>();

  get<K, V>(name: string, batch: (keys: readonly K[]) => Promise<ArrayLike<V | Error>>, options?: DataLoader.Options<K, V, string>): DataLoader<K, V, string> {
    let l = this.loaders.get(name) as DataLoader<K, V, string> | undefined;
    if (!l) {
      l = new DataLoader<K, V, string>(batch, { maxBatchSize: 1000, ...options });
      this.loaders.set(name, l as DataLoader<unknown, unknown>);
    }
    return l;
  }
}
