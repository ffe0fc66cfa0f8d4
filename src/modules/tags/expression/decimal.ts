/**
 * Exact decimals for the in-memory evaluator, so sums and comparisons agree with PostgreSQL's
 * `numeric` to the last digit (binary floats would make `spend_30d >= 69.12` disagree with SQL when
 * the orders were 12.34 + 56.78).
 */
export interface Dec {
  /** The value is `m × 10^-s`. */
  m: bigint;
  s: number;
}

const DECIMAL_RE = /^([+-]?)([0-9]*)(?:\.([0-9]*))?(?:[eE]([+-]?[0-9]+))?$/;

export const ZERO: Dec = { m: 0n, s: 0 };

/** Parses decimal notation (optionally with an exponent); null when `t` is not a number. */
export function decFromString(t: string): Dec | null {
  const m = DECIMAL_RE.exec(t);
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) return null;
  const frac = m[3] ?? '';
  let mant = BigInt((m[2] || '0') + frac);
  let scale = frac.length - (m[4] ? Number(m[4]) : 0);
  if (scale < 0) {
    mant *= 10n ** BigInt(-scale);
    scale = 0;
  }
  return { m: m[1] === '-' ? -mant : mant, s: scale };
}

/** A JS number as the shortest decimal that round-trips (how JSON wrote it); null when not finite. */
export function decFromNumber(n: number): Dec | null {
  return Number.isFinite(n) ? decFromString(String(n)) : null;
}

function align(a: Dec, b: Dec): [bigint, bigint, number] {
  if (a.s === b.s) return [a.m, b.m, a.s];
  if (a.s > b.s) return [a.m, b.m * 10n ** BigInt(a.s - b.s), a.s];
  return [a.m * 10n ** BigInt(b.s - a.s), b.m, b.s];
}

export function decAdd(a: Dec, b: Dec): Dec {
  const [x, y, s] = align(a, b);
  return { m: x + y, s };
}

export function decCmp(a: Dec, b: Dec): number {
  const [x, y] = align(a, b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Plain decimal notation (`-12.50`), as PostgreSQL's `numeric` reads it. */
export function decToString(d: Dec): string {
  const neg = d.m < 0n;
  const digits = (neg ? -d.m : d.m).toString().padStart(d.s + 1, '0');
  const int = digits.slice(0, digits.length - d.s);
  const frac = d.s ? `.${digits.slice(digits.length - d.s)}` : '';
  return `${neg ? '-' : ''}${int}${frac}`;
}
