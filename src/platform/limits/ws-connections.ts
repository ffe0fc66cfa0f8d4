/** Open WebSocket connections per API key, counted in this instance only. */
export class ConnectionCounter {
  private readonly open = new Map<string, number>();
  constructor(private readonly maxPerKey: number) {}

  /** Takes a slot for `key`; false when the key already holds `maxPerKey` connections. */
  acquire(key: string): boolean {
    const n = this.open.get(key) ?? 0;
    if (n >= this.maxPerKey) return false;
    this.open.set(key, n + 1);
    return true;
  }

  release(key: string): void {
    const n = (this.open.get(key) ?? 0) - 1;
    if (n > 0) this.open.set(key, n);
    else this.open.delete(key);
  }

  count(key: string): number {
    return this.open.get(key) ?? 0;
  }
}
