import {
  chiSquareSf,
  erf,
  gammaP,
  gammaQ,
  goodnessOfFit,
  logGamma,
  meanInterval,
  normalCdf,
  normalSf,
  proportion,
  sampleVariance,
  twoProportionZTest,
  twoSidedP,
  welchZTest,
  Z95,
} from '../../src/modules/experiments/experiment.stats';

// Reference values: SciPy 1.17 (scipy.stats.norm, scipy.stats.chi2, scipy.special), to the digits printed.
const close = (actual: number, expected: number, tolerance: number) => expect({ actual, ok: Math.abs(actual - expected) <= tolerance }).toEqual({ actual, ok: true });
const relClose = (actual: number, expected: number, rel: number) => expect({ actual, expected, ok: Math.abs(actual - expected) <= rel * Math.abs(expected) }).toEqual({ actual, expected, ok: true });

describe('experiment statistics', () => {
  it('ln Γ matches factorials and Γ(½) = √π', () => {
    close(logGamma(1), 0, 1e-14);
    close(logGamma(5), Math.log(24), 1e-13);
    close(logGamma(11), Math.log(3628800), 1e-12);
    close(logGamma(0.5), Math.log(Math.sqrt(Math.PI)), 1e-14);
  });

  it('the regularized incomplete gamma functions match known values and add up to 1', () => {
    for (const [a, x, p] of [
      [0.5, 0.2, 0.47291074313446196],
      [3, 2.5, 0.45618688411667035],
      [10, 12, 0.7576078383294875],
      [2.5, 0.1, 0.0008861387888124438],
    ]) {
      close(gammaP(a, x), p, 1e-12);
      close(gammaP(a, x) + gammaQ(a, x), 1, 1e-14);
    }
    expect(gammaP(2, 0)).toBe(0);
    expect(gammaQ(2, 0)).toBe(1);
  });

  it('erf matches known values to 1e-7 (and far better)', () => {
    for (const [x, v] of [
      [0.1, 0.1124629160182849],
      [0.5, 0.5204998778130465],
      [1, 0.8427007929497148],
      [2, 0.9953222650189527],
      [3, 0.9999779095030014],
    ]) {
      close(erf(x), v, 1e-12);
      close(erf(-x), -v, 1e-12);
    }
    expect(erf(0)).toBe(0);
  });

  it('the normal CDF matches known values to 1e-7, and its tail keeps its relative precision', () => {
    for (const [z, cdf] of [
      [0, 0.5],
      [1, 0.8413447460685429],
      [-1, 0.15865525393145707],
      [1.96, 0.9750021048517795],
      [-1.96, 0.024997895148220435],
      [3, 0.9986501019683699],
      [0.3, 0.6179114221889526],
      [-5, 2.866515718791933e-7],
    ]) {
      close(normalCdf(z), cdf, 1e-12);
      close(normalSf(z), 1 - cdf, 1e-12);
    }
    relClose(normalSf(8.5), 9.47953482220325e-18, 1e-9);
    close(twoSidedP(Z95), 0.05, 1e-12);
    close(twoSidedP(-Z95), 0.05, 1e-12);
    expect(twoSidedP(0)).toBe(1);
  });

  it('the chi-square survival function: sf(3.841, 1) ≈ 0.05, sf(5.991, 2) ≈ 0.05 and other known values', () => {
    close(chiSquareSf(3.841, 1), 0.05, 1e-4);
    close(chiSquareSf(5.991, 2), 0.05, 1e-4);
    for (const [x, k, sf] of [
      [3.841, 1, 0.050013683763956804],
      [5.991, 2, 0.05001161502657909],
      [3.841458820694124, 1, 0.05],
      [7.814727903251178, 3, 0.05],
      [10, 5, 0.07523524614651217],
      [1, 10, 0.9998278843700441],
      [0.001, 1, 0.9747728793699604],
    ]) {
      close(chiSquareSf(x, k), sf, 1e-12);
    }
    relClose(chiSquareSf(50, 3), 7.989179244951495e-11, 1e-9);
    relClose(chiSquareSf(100, 20), 1.2596084591660847e-12, 1e-9);
    // Two degrees of freedom have a closed form: exp(−x/2).
    for (const x of [0.5, 2, 9, 40]) relClose(chiSquareSf(x, 2), Math.exp(-x / 2), 1e-12);
    expect(chiSquareSf(0, 3)).toBe(1);
  });

  it('Wald intervals, clamped to [0, 1]', () => {
    const p = proportion(200, 1000)!;
    close(p.value, 0.2, 1e-15);
    close(p.lower, 0.2 - Z95 * Math.sqrt(0.2 * 0.8 / 1000), 1e-15);
    close(p.upper, 0.2 + Z95 * Math.sqrt(0.2 * 0.8 / 1000), 1e-15);
    expect(proportion(1, 3)!.lower).toBeGreaterThanOrEqual(0);
    expect(proportion(0, 10)).toEqual({ value: 0, lower: 0, upper: 0 });
    expect(proportion(0, 0)).toBeNull();
  });

  it('the pooled two-proportion z-test: 250/1000 against 200/1000 gives z = 2.6774, p = 0.00742', () => {
    const c = twoProportionZTest(200, 1000, 250, 1000)!;
    close(c.difference, 0.05, 1e-15);
    close(c.z!, 2.6773977630083294, 1e-12);
    close(c.pValue!, 0.007419649261025672, 1e-12);
    const reverse = twoProportionZTest(250, 1000, 200, 1000)!;
    close(reverse.z!, -c.z!, 1e-15);
    close(reverse.pValue!, c.pValue!, 1e-15);
    expect(twoProportionZTest(0, 10, 0, 20)).toEqual({ difference: 0, z: null, pValue: null });
    expect(twoProportionZTest(1, 0, 1, 2)).toBeNull();
  });

  it('means and Welch z from carried sums equal the direct computation', () => {
    const a = [0, 0, 10, 25.5, 0, 3];
    const b = [12, 0, 40, 0, 0, 8, 19.99];
    const moments = (xs: number[]) => ({ n: xs.length, sum: xs.reduce((s, x) => s + x, 0), sumSquares: xs.reduce((s, x) => s + x * x, 0) });
    const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
    const variance = (xs: number[]) => xs.reduce((s, x) => s + (x - mean(xs)) ** 2, 0) / (xs.length - 1);
    close(sampleVariance(moments(a)), variance(a), 1e-12);
    const m = meanInterval(moments(a))!;
    close(m.value, mean(a), 1e-12);
    close(m.upper - m.value, Z95 * Math.sqrt(variance(a) / a.length), 1e-12);
    const w = welchZTest(moments(a), moments(b))!;
    const z = (mean(b) - mean(a)) / Math.sqrt(variance(a) / a.length + variance(b) / b.length);
    close(w.difference, mean(b) - mean(a), 1e-12);
    close(w.z!, z, 1e-12);
    close(w.pValue!, 2 * (1 - normalCdf(Math.abs(z))), 1e-12);
    expect(meanInterval({ n: 0, sum: 0, sumSquares: 0 })).toBeNull();
    expect(welchZTest({ n: 1, sum: 3, sumSquares: 9 }, moments(b))).toMatchObject({ z: null, pValue: null });
  });

  it('the sample-ratio-mismatch goodness of fit matches known values', () => {
    const even = goodnessOfFit([1030, 970], [1, 1])!;
    close(even.chiSquare, 1.8, 1e-12);
    expect(even.degreesOfFreedom).toBe(1);
    close(even.pValue, 0.17971249487899593, 1e-12);
    const weighted = goodnessOfFit([5200, 2400, 2400], [50, 25, 25])!;
    close(weighted.chiSquare, 16, 1e-12);
    close(weighted.pValue, 0.0003354626279025119, 1e-12);
    expect(goodnessOfFit([10], [1])).toBeNull();
    expect(goodnessOfFit([0, 0], [1, 1])).toBeNull();
  });
});
