/**
 * The statistics of experiment results, as small pure functions (no dependencies): the normal
 * distribution through the error function, the chi-square distribution through the regularized
 * incomplete gamma function, Wald intervals, the pooled two-proportion z-test, Welch's z-test on
 * means from carried sums, and the sample-ratio-mismatch chi-square test.
 */

/** z of a two-sided 95% interval. */
export const Z95 = 1.959963984540054;

const EPS = 1e-15;
const TINY = 1e-300;
const MAX_ITERATIONS = 10_000;

// Lanczos approximation (g = 7, n = 9): relative error below 1e-15 for x > 0.
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6,
  1.5056327351493116e-7,
];

/** ln Γ(x) for x > 0. */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const y = x - 1;
  let a = LANCZOS[0];
  const t = y + 7.5;
  for (let i = 1; i < LANCZOS.length; i++) a += LANCZOS[i] / (y + i);
  return 0.5 * Math.log(2 * Math.PI) + (y + 0.5) * Math.log(t) - t + Math.log(a);
}

/** P(a, x) by its power series; converges fast for x < a + 1. */
function gammaSeries(a: number, x: number): number {
  let ap = a;
  let term = 1 / a;
  let sum = term;
  for (let n = 0; n < MAX_ITERATIONS; n++) {
    ap += 1;
    term *= x / ap;
    sum += term;
    if (Math.abs(term) < Math.abs(sum) * EPS) break;
  }
  return sum * Math.exp(-x + a * Math.log(x) - logGamma(a));
}

/** Q(a, x) by its continued fraction (modified Lentz); converges fast for x ≥ a + 1. */
function gammaContinuedFraction(a: number, x: number): number {
  let b = x + 1 - a;
  let c = 1 / TINY;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < MAX_ITERATIONS; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < TINY) d = TINY;
    c = b + an / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < EPS) break;
  }
  return Math.exp(-x + a * Math.log(x) - logGamma(a)) * h;
}

/** The regularized lower incomplete gamma function P(a, x) = γ(a, x) / Γ(a), a > 0, x ≥ 0. */
export function gammaP(a: number, x: number): number {
  if (!(a > 0) || !(x >= 0)) return NaN;
  if (x === 0) return 0;
  if (x === Infinity) return 1;
  return x < a + 1 ? gammaSeries(a, x) : 1 - gammaContinuedFraction(a, x);
}

/** The regularized upper incomplete gamma function Q(a, x) = 1 − P(a, x), computed directly (no cancellation in the tail). */
export function gammaQ(a: number, x: number): number {
  if (!(a > 0) || !(x >= 0)) return NaN;
  if (x === 0) return 1;
  if (x === Infinity) return 0;
  return x < a + 1 ? 1 - gammaSeries(a, x) : gammaContinuedFraction(a, x);
}

/** The error function: erf(x) = sign(x) · P(½, x²). Accurate to about 1e-14. */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const p = gammaP(0.5, x * x);
  return x < 0 ? -p : p;
}

/** The complementary error function erfc(x) = 1 − erf(x), without cancellation for large x. */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  return x < 0 ? 1 + gammaP(0.5, x * x) : gammaQ(0.5, x * x);
}

/** The standard normal CDF Φ(z) = ½ · erfc(−z / √2). */
export function normalCdf(z: number): number {
  return 0.5 * erfc(-z / Math.SQRT2);
}

/** The standard normal survival function 1 − Φ(z), accurate far into the tail. */
export function normalSf(z: number): number {
  return 0.5 * erfc(z / Math.SQRT2);
}

/** The two-sided p-value of a z statistic: 2 · (1 − Φ(|z|)). */
export function twoSidedP(z: number): number {
  return Math.min(1, 2 * normalSf(Math.abs(z)));
}

/** The chi-square survival function P(X ≥ x) with k degrees of freedom: Q(k/2, x/2). */
export function chiSquareSf(x: number, k: number): number {
  if (!(k > 0)) return NaN;
  if (x <= 0) return 1;
  return gammaQ(k / 2, x / 2);
}

/** An estimate with its 95% interval. */
export interface Interval {
  value: number;
  lower: number;
  upper: number;
}

/** A proportion x/n with its Wald interval p ± 1.96·√(p(1−p)/n), clamped to [0, 1]; null when n = 0. */
export function proportion(x: number, n: number): Interval | null {
  if (n <= 0) return null;
  const p = x / n;
  const half = Z95 * Math.sqrt((p * (1 - p)) / n);
  return { value: p, lower: Math.max(0, p - half), upper: Math.min(1, p + half) };
}

/** A comparison of a variant with the control: difference (variant − control), z and its two-sided p-value. */
export interface Comparison {
  difference: number;
  z: number | null;
  pValue: number | null;
}

/**
 * The pooled two-proportion z-test of x1/n1 (control) against x2/n2 (variant): p̂ = (x1 + x2)/(n1 + n2),
 * z = (x2/n2 − x1/n1) / √(p̂(1 − p̂)(1/n1 + 1/n2)), p = 2(1 − Φ(|z|)). Null when either group is
 * empty; z and p null when the pooled rate is 0 or 1 (no variance: nothing to test).
 */
export function twoProportionZTest(x1: number, n1: number, x2: number, n2: number): Comparison | null {
  if (n1 <= 0 || n2 <= 0) return null;
  const difference = x2 / n2 - x1 / n1;
  const pooled = (x1 + x2) / (n1 + n2);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2));
  if (!(se > 0)) return { difference, z: null, pValue: null };
  const z = difference / se;
  return { difference, z, pValue: twoSidedP(z) };
}

/** Sample mean and variance of n values from their sum and sum of squares: s² = (Σx² − (Σx)²/n)/(n − 1). */
export interface Moments {
  n: number;
  sum: number;
  sumSquares: number;
}

/** The sample variance from carried sums (0 for n < 2; never negative from rounding). */
export function sampleVariance(m: Moments): number {
  if (m.n < 2) return 0;
  return Math.max(0, (m.sumSquares - (m.sum * m.sum) / m.n) / (m.n - 1));
}

/** The mean with its interval mean ± 1.96·√(s²/n); null when n = 0. */
export function meanInterval(m: Moments): Interval | null {
  if (m.n <= 0) return null;
  const mean = m.sum / m.n;
  const half = Z95 * Math.sqrt(sampleVariance(m) / m.n);
  return { value: mean, lower: mean - half, upper: mean + half };
}

/**
 * Welch's z-test of two means (control a, variant b): z = (m_b − m_a) / √(s_a²/n_a + s_b²/n_b),
 * p = 2(1 − Φ(|z|)) (the normal approximation: groups are large). Null when either group is
 * empty; z and p null when a group has fewer than 2 people or both variances are 0.
 */
export function welchZTest(a: Moments, b: Moments): Comparison | null {
  if (a.n <= 0 || b.n <= 0) return null;
  const difference = b.sum / b.n - a.sum / a.n;
  if (a.n < 2 || b.n < 2) return { difference, z: null, pValue: null };
  const se = Math.sqrt(sampleVariance(a) / a.n + sampleVariance(b) / b.n);
  if (!(se > 0)) return { difference, z: null, pValue: null };
  const z = difference / se;
  return { difference, z, pValue: twoSidedP(z) };
}

/** A chi-square goodness-of-fit test. */
export interface GoodnessOfFit {
  chiSquare: number;
  degreesOfFreedom: number;
  pValue: number;
}

/**
 * Chi-square goodness of fit of observed counts against expected shares (any positive weights):
 * E_i = N · w_i / Σw, χ² = Σ (O_i − E_i)² / E_i, k − 1 degrees of freedom, p = Q((k−1)/2, χ²/2).
 * Null with fewer than two groups or no observations.
 */
export function goodnessOfFit(observed: number[], weights: number[]): GoodnessOfFit | null {
  const k = observed.length;
  const n = observed.reduce((s, x) => s + x, 0);
  const w = weights.reduce((s, x) => s + x, 0);
  if (k < 2 || n <= 0 || !(w > 0)) return null;
  let chiSquare = 0;
  for (let i = 0; i < k; i++) {
    const e = (n * weights[i]) / w;
    chiSquare += ((observed[i] - e) * (observed[i] - e)) / e;
  }
  return { chiSquare, degreesOfFreedom: k - 1, pValue: chiSquareSf(chiSquare, k - 1) };
}
