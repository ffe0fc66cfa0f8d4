/**
 * The one seeded PRNG of the project (mulberry32 over a 32-bit state): the demo data, the tests'
 * generated streams and the benchmark datasets are all reproducible from a seed. Pure code: no
 * imports, so src/demo, tests/ and bench/ can all use it.
 */
export class Rng {
  private a: number;
  constructor(seed: number) {
    this.a = seed >>> 0;
  }
  /** A float in [0, 1). */
  next(): number {
    this.a = (this.a + 0x6d2b79f5) >>> 0;
    let t = this.a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
}

/** `new Rng(seed)`. */
export function rng(seed: number): Rng {
  return new Rng(seed);
}

/** `k` distinct items of `xs` (all of them when there are fewer), in random order. */
export function sample<T>(r: Rng, xs: readonly T[], k: number): T[] {
  const a = [...xs];
  const n = Math.min(k, a.length);
  for (let i = 0; i < n; i++) {
    const j = i + r.int(a.length - i);
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a.slice(0, n);
}
