/**
 * The per-person state of an experiment and how it changes, as pure functions: exposure, merge,
 * clicks and conversions, and the per-variant counter deltas a change of rows makes.
 */

/** One person in one experiment (a row of `experiment_exposures`). */
export interface ExposureRow {
  experimentKey: string;
  profileId: string;
  /** The variant of the first exposure. */
  variantKey: string;
  firstExposedAt: Date;
  /** Exposed to more than one variant (directly, or two people exposed to different variants merged). */
  contaminated: boolean;
  /** A click event at or after the first exposure. */
  clicked: boolean;
  /** A conversion event within the window after the first exposure. */
  converted: boolean;
  /** Value of the conversions within the window, in cents. */
  revenueCents: bigint;
}

export const rowKey = (experimentKey: string, profileId: string) => `${experimentKey}\u0001${profileId}`;

/** A new row: first exposure now; clicks and conversions are derived by the caller. */
export function firstExposure(experimentKey: string, profileId: string, variantKey: string, at: Date): ExposureRow {
  return { experimentKey, profileId, variantKey, firstExposedAt: at, contaminated: false, clicked: false, converted: false, revenueCents: 0n };
}

/**
 * A further exposure of an exposed person: a different variant contaminates; an earlier time
 * becomes the first exposure (with its variant). Returns whether the first exposure moved (the
 * caller then re-derives clicks and conversions against the new window).
 */
export function exposeAgain(row: ExposureRow, variantKey: string, at: Date): boolean {
  if (variantKey !== row.variantKey) row.contaminated = true;
  if (at < row.firstExposedAt) {
    row.firstExposedAt = at;
    row.variantKey = variantKey;
    return true;
  }
  return false;
}

/**
 * Two people merged: the earliest exposure wins (its variant and time); different variants, or
 * either already contaminated, make the survivor contaminated. Clicks and conversions are
 * re-derived by the caller (the merged person's events now belong to the survivor).
 */
export function combine(survivor: ExposureRow | undefined, merged: ExposureRow, survivorId: string): ExposureRow {
  if (!survivor) return { ...merged, profileId: survivorId };
  const first = merged.firstExposedAt < survivor.firstExposedAt ? merged : survivor;
  return {
    ...survivor,
    variantKey: first.variantKey,
    firstExposedAt: first.firstExposedAt,
    contaminated: survivor.contaminated || merged.contaminated || survivor.variantKey !== merged.variantKey,
  };
}

/** The conversion window of a row: [first exposure, first exposure + days × 24 h). */
export function inWindow(row: ExposureRow, at: Date, windowDays: number): boolean {
  return at >= row.firstExposedAt && at.getTime() < row.firstExposedAt.getTime() + windowDays * 86_400_000;
}

/** What a row adds to its experiment's counters: one person in the bucket (variant, contaminated). */
export interface Counts {
  experimentKey: string;
  variantKey: string;
  contaminated: boolean;
  exposed: number;
  clicked: number;
  converted: number;
  revenueCents: bigint;
  /** Σ (revenue in cents)² over the people. */
  revenueSqCents: bigint;
}

const bucketKey = (c: { experimentKey: string; variantKey: string; contaminated: boolean }) => `${c.experimentKey}\u0001${c.variantKey}\u0001${c.contaminated ? 1 : 0}`;

/**
 * The counter deltas that turn the counts of `before` into those of `after` (rows of the same
 * people): each row counts once, in the bucket of its first variant and contamination, so a person
 * who becomes contaminated moves from the variant's clean bucket to its contaminated one. Buckets
 * whose delta is zero are left out.
 */
export function counterDeltas(before: Iterable<ExposureRow>, after: Iterable<ExposureRow>): Counts[] {
  const out = new Map<string, Counts>();
  const add = (r: ExposureRow, sign: 1 | -1) => {
    const k = bucketKey(r);
    let c = out.get(k);
    if (!c) out.set(k, (c = { experimentKey: r.experimentKey, variantKey: r.variantKey, contaminated: r.contaminated, exposed: 0, clicked: 0, converted: 0, revenueCents: 0n, revenueSqCents: 0n }));
    const s = BigInt(sign);
    c.exposed += sign;
    c.clicked += r.clicked ? sign : 0;
    c.converted += r.converted ? sign : 0;
    c.revenueCents += s * r.revenueCents;
    c.revenueSqCents += s * r.revenueCents * r.revenueCents;
  };
  for (const r of before) add(r, -1);
  for (const r of after) add(r, 1);
  return [...out.values()].filter((c) => c.exposed !== 0 || c.clicked !== 0 || c.converted !== 0 || c.revenueCents !== 0n || c.revenueSqCents !== 0n);
}

/** Whether two rows say the same (so an unchanged row is not written). */
export function sameRow(a: ExposureRow, b: ExposureRow): boolean {
  return (
    a.variantKey === b.variantKey &&
    a.firstExposedAt.getTime() === b.firstExposedAt.getTime() &&
    a.contaminated === b.contaminated &&
    a.clicked === b.clicked &&
    a.converted === b.converted &&
    a.revenueCents === b.revenueCents
  );
}
