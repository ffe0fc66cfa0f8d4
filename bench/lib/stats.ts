/** Median, min and max of a series of repetitions (never an absolute time asserted: ratios are). */
export interface Summary {
  median: number;
  min: number;
  max: number;
  values: number[];
}

export function median(xs: readonly number[]): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function summarize(values: readonly number[]): Summary {
  return { median: median(values), min: Math.min(...values), max: Math.max(...values), values: [...values] };
}

/** Formats a number for the report: thousands separators, `digits` decimals below 100. */
export function fmt(n: number, digits = 1): string {
  if (!Number.isFinite(n)) return '—';
  const abs = Math.abs(n);
  const d = abs >= 100 ? 0 : digits;
  return n.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
}
