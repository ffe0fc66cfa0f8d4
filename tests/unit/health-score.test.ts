import { healthIndices, profileHealth, tierOf, weighted } from '../../src/modules/health/health.score';
import { applyPatch, DEFAULT_HEALTH_SETTINGS, withDefaults } from '../../src/modules/health/health.settings';

const s = withDefaults(null);
const now = new Date('2026-11-23T00:00:00Z');

describe('health score', () => {
  it('contributions add up to the score exactly, for any values and weights', () => {
    for (let n = 0; n < 500; n++) {
      const raw = Array.from({ length: 5 }, () => Math.random());
      const total = raw.reduce((a, b) => a + b, 0);
      const r = weighted(raw.map((w, i) => ({ name: `c${i}`, label: 'x', measure: null, value: Math.random(), weight: w / total })));
      const sum = r.components.reduce((a, c) => a + Math.round(c.contribution * 100), 0);
      expect(sum).toBe(Math.round(r.score * 100));
      expect(r.score).toBeGreaterThanOrEqual(0);
      expect(r.score).toBeLessThanOrEqual(100);
    }
  });

  it('follows the documented formulas', () => {
    const h = profileHealth({ profileId: 'p', interactions30: 5, activeDays30: 6, spend90: 500, invitees: 6, lastSeenAt: new Date(now.getTime() - 14 * 86_400_000) }, s, now);
    const v = Object.fromEntries(h.components.map((c) => [c.name, c.value]));
    expect(v).toEqual({ interaction: 0.5, spending: 0.6321, activeTime: 0.2, recency: 0.5, referral: 1 });
    expect(h.score).toBe(12.5 + 15.8 + 4 + 10 + 10);
    expect(h.tier).toBe('stable');
    const never = profileHealth({ profileId: 'q', interactions30: 0, activeDays30: 0, spend90: 0, invitees: 0, lastSeenAt: null }, s, now);
    expect(never).toMatchObject({ score: 0, tier: 'dormant' });
    expect(never.components.find((c) => c.name === 'recency')!.measure).toBeNull();
  });

  it('tiers are inclusive lower bounds', () => {
    expect([70, 69.99, 40, 39.99, 20, 19.99, 0].map((x) => tierOf(x, s))).toEqual(['healthy', 'stable', 'stable', 'at_risk', 'at_risk', 'dormant', 'dormant']);
  });

  it('indices of an empty workspace are 0, not NaN', () => {
    const r = healthIndices({ profiles: 0, buyers: 0, repeaters: 0, active30: 0, profileDays30: 0 }, s);
    expect([r.activity.score, r.conversion.score, r.brandHealth.score]).toEqual([0, 0, 0]);
  });

  it('settings patches are validated as a whole', () => {
    expect(applyPatch(s, { spendScale: 800 }).spendScale).toBe(800);
    expect(() => applyPatch(s, { weights: { ...DEFAULT_HEALTH_SETTINGS.weights, referral: 0.1000001 } })).not.toThrow();
    expect(() => applyPatch(s, { weights: { ...DEFAULT_HEALTH_SETTINGS.weights, referral: 0.10001 } })).toThrow(/sum to 1/);
    expect(() => applyPatch(s, { recencyHalfLifeDays: Number.NaN })).toThrow(/recencyHalfLifeDays/);
  });
});
