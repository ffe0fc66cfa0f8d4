/** Plain union-find over strings: the identity-resolution oracle of the tests and the benchmark. */
export class UnionFind {
  private readonly parent = new Map<string, string>();
  has(x: string): boolean {
    return this.parent.has(x);
  }
  find(x: string): string {
    if (!this.parent.has(x)) this.parent.set(x, x);
    let r = x;
    while (this.parent.get(r) !== r) r = this.parent.get(r)!;
    let c = x;
    while (c !== r) {
      const n = this.parent.get(c)!;
      this.parent.set(c, r);
      c = n;
    }
    return r;
  }
  union(a: string, b: string): void {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra !== rb) this.parent.set(ra, rb);
  }
  /** Components as sorted arrays, sorted by first element. */
  components(): string[][] {
    const m = new Map<string, string[]>();
    for (const x of this.parent.keys()) {
      const r = this.find(x);
      const c = m.get(r);
      if (c) c.push(x);
      else m.set(r, [x]);
    }
    return [...m.values()].map((c) => c.sort()).sort((a, b) => a[0].localeCompare(b[0]));
  }
}
