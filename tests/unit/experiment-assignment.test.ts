import { bucketOf, canonicalIdentifierKey, variantForBucket } from '../../src/modules/experiments/experiment.assignment';
import { combine, counterDeltas, exposeAgain, firstExposure, type ExposureRow } from '../../src/modules/experiments/experiment.exposures';
import { conversionCents, exposureOf } from '../../src/modules/experiments/experiment.definition';

const v = (key: string, weight: number, control = false) => ({ key, name: key, weight, control });
const def = { rolloutPercent: 100, variants: [v('a', 1, true), v('b', 2), v('c', 1)] };

describe('experiment assignment', () => {
  it('buckets are in [0, 1), deterministic, and depend on the experiment and the identifier', () => {
    for (let i = 0; i < 1000; i++) {
      const b = bucketOf('exp', `member_id\u0001\u0001${i}`);
      expect(b >= 0 && b < 1).toBe(true);
    }
    expect(bucketOf('exp', 'x')).toBe(bucketOf('exp', 'x'));
    expect(bucketOf('exp', 'x')).not.toBe(bucketOf('exp2', 'x'));
    // The separator keeps ("ab", "c") and ("a", "bc") apart.
    expect(bucketOf('ab', 'c')).not.toBe(bucketOf('a', 'bc'));
  });

  it('weights split [0, 1) in definition order; the rollout enrols [0, rollout) and rescales it', () => {
    expect([0, 0.2499, 0.25, 0.7499, 0.75, 0.9999].map((b) => variantForBucket(def, b)!.key)).toEqual(['a', 'a', 'b', 'b', 'c', 'c']);
    const grey = { ...def, rolloutPercent: 20 };
    expect(variantForBucket(grey, 0.2)).toBeNull();
    expect(variantForBucket(grey, 0.9)).toBeNull();
    // 0.04 / 0.2 = 0.2 → a; 0.1 / 0.2 = 0.5 → b; 0.18 / 0.2 = 0.9 → c
    expect([0.04, 0.1, 0.18].map((b) => variantForBucket(grey, b)!.key)).toEqual(['a', 'b', 'c']);
  });

  it('the canonical identifier is the highest-priority type, ties by the smaller key', () => {
    const priority = (t: string) => ({ member_id: 1, phone: 3, device_id: 12 })[t] ?? 99;
    expect(canonicalIdentifierKey(['device_id\u0001\u0001d2', 'member_id\u0001\u0001m', 'phone\u0001\u0001h'], priority)).toBe('member_id\u0001\u0001m');
    expect(canonicalIdentifierKey(['device_id\u0001\u0001d2', 'device_id\u0001\u0001d1'], priority)).toBe('device_id\u0001\u0001d1');
    expect(canonicalIdentifierKey(['unknown\u0001\u0001z', 'device_id\u0001\u0001d9'], priority)).toBe('device_id\u0001\u0001d9');
  });
});

describe('experiment exposures', () => {
  const at = (h: number) => new Date(Date.UTC(2026, 0, 1, h));
  const row = (over: Partial<ExposureRow>): ExposureRow => ({ ...firstExposure('e', 'p', 'a', at(0)), ...over });

  it('another variant contaminates; an earlier exposure becomes the first, with its variant', () => {
    const r = row({});
    expect(exposeAgain(r, 'a', at(5))).toBe(false);
    expect(r.contaminated).toBe(false);
    expect(exposeAgain(r, 'b', at(3))).toBe(false);
    expect(r).toMatchObject({ variantKey: 'a', contaminated: true });
    const late = row({ firstExposedAt: at(10) });
    expect(exposeAgain(late, 'b', at(2))).toBe(true);
    expect(late).toMatchObject({ variantKey: 'b', firstExposedAt: at(2), contaminated: true });
  });

  it('a merge keeps the earliest exposure; different variants contaminate', () => {
    expect(combine(row({ profileId: 's', variantKey: 'a', firstExposedAt: at(5) }), row({ profileId: 'm', variantKey: 'b', firstExposedAt: at(1) }), 's')).toMatchObject({
      profileId: 's',
      variantKey: 'b',
      firstExposedAt: at(1),
      contaminated: true,
    });
    expect(combine(row({ profileId: 's', variantKey: 'a' }), row({ profileId: 'm', variantKey: 'a', firstExposedAt: at(3) }), 's')).toMatchObject({ variantKey: 'a', contaminated: false });
    expect(combine(undefined, row({ profileId: 'm', variantKey: 'c' }), 's')).toMatchObject({ profileId: 's', variantKey: 'c' });
  });

  it('counter deltas move a person between buckets and carry revenue and its square exactly', () => {
    const before = row({ clicked: true, revenueCents: 1999n });
    const after = { ...before, contaminated: true, converted: true, revenueCents: 3000n };
    expect(counterDeltas([before], [after])).toEqual([
      { experimentKey: 'e', variantKey: 'a', contaminated: false, exposed: -1, clicked: -1, converted: 0, revenueCents: -1999n, revenueSqCents: -(1999n * 1999n) },
      { experimentKey: 'e', variantKey: 'a', contaminated: true, exposed: 1, clicked: 1, converted: 1, revenueCents: 3000n, revenueSqCents: 9_000_000n },
    ]);
    expect(counterDeltas([before], [{ ...before }])).toEqual([]);
  });

  it('reads exposures and conversion values as documented', () => {
    expect(exposureOf({ experiment_id: 42, variation_id: ' b ', experiment_name: 'X' })).toEqual({ experiment: '42', experimentName: 'X', variant: 'b', variantName: null });
    expect(exposureOf({ experiment_name: 'Banner', variation_name: 'Red' })).toMatchObject({ experiment: 'Banner', variant: 'Red' });
    expect(exposureOf({ experiment_id: '' , variation_id: 'b' })).toMatchObject({ reason: 'INVALID_EXPOSURE', field: 'properties.experiment_id' });
    expect(exposureOf(null)).toMatchObject({ field: 'properties.experiment_id' });
    expect(conversionCents(12.34, { revenue: 'ignored' })).toBe(1234n);
    expect(conversionCents(null, { revenue: '19.99' })).toBe(1999n);
    expect(conversionCents(null, { total: 5 })).toBe(500n);
    expect(conversionCents(null, { revenue: -1 })).toBe(0n);
    expect(conversionCents(null, { revenue: 'abc' })).toBe(0n);
    expect(conversionCents(null, null)).toBe(0n);
  });
});
