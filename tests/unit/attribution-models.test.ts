import { NONE, pathSet, pathsOf, ruleCredit, shapleyCredit, shapleyShares, setKey, type PersonEvent, type SetCount } from '../../src/modules/attribution/attribution.models';
import { permutationShapley } from '../support/shapley';
import { rng } from '../../src/shared/random';

const DAY = 86_400_000;

describe('Shapley credit', () => {
  it('equals the average marginal contribution over every order of the players (brute force), on random games', () => {
    const r = rng(17);
    const rnd = () => r.next();
    for (let trial = 0; trial < 40; trial++) {
      const k = 1 + Math.floor(rnd() * 6);
      const players = Array.from({ length: k }, (_, i) => `c${i}`).sort();
      const values = new Map<string, number>();
      const v = (s: string[]) => {
        if (!s.length) return 0;
        const key = setKey(s);
        if (!values.has(key)) values.set(key, rnd() < 0.2 ? 0 : rnd());
        return values.get(key)!;
      };
      const brute = permutationShapley(players, v);
      const total = v(players);
      const shares = shapleyShares(players, v);
      if (total > 0) {
        for (const p of players) expect(shares.get(p)! * total).toBeCloseTo(brute.get(p)!, 10);
        expect([...shares.values()].reduce((a, b) => a + b, 0)).toBeCloseTo(1, 10);
      } else {
        // Never so for a converting set (its own rate is positive); the shares are then equal.
        for (const p of players) expect(shares.get(p)).toBeCloseTo(1 / k, 12);
      }
    }
  });

  it('splits each converting set by the shares of its own sub-game, the coalition value being the conversion rate of exact sets', () => {
    const r = rng(5);
    const rnd = () => r.next();
    const channels = ['app', 'douyin', 'wechat_oa', 'wecom', 'xiaohongshu'];
    const sets: SetCount[] = [];
    const seen = new Set<string>();
    for (let i = 0; i < 25; i++) {
      const values = channels.filter(() => rnd() < 0.45);
      const key = setKey(values);
      if (seen.has(key)) continue;
      seen.add(key);
      const paths = 1 + Math.floor(rnd() * 40);
      const conversions = Math.floor(rnd() * (paths + 1));
      sets.push({ values, paths, conversions, revenue: conversions * 100 });
    }
    const rate = new Map(sets.map((s) => [setKey(s.values), s.conversions / s.paths]));
    const v = (s: string[]) => rate.get(setKey(s)) ?? 0;
    const expected = new Map<string, { conversions: number; revenue: number }>();
    for (const s of sets) {
      if (!s.conversions) continue;
      if (!s.values.length) {
        const e = expected.get(NONE) ?? { conversions: 0, revenue: 0 };
        expected.set(NONE, { conversions: e.conversions + s.conversions, revenue: e.revenue + s.revenue });
        continue;
      }
      const phi = permutationShapley(s.values, v);
      const total = v(s.values);
      for (const [c, x] of phi) {
        const e = expected.get(c) ?? { conversions: 0, revenue: 0 };
        expected.set(c, { conversions: e.conversions + (s.conversions * x) / total, revenue: e.revenue + (s.revenue * x) / total });
      }
    }
    const got = shapleyCredit(sets);
    expect([...got.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [c, e] of expected) {
      expect(got.get(c)!.conversions).toBeCloseTo(e.conversions, 9);
      expect(got.get(c)!.revenue).toBeCloseTo(e.revenue, 7);
    }
    const conversions = sets.reduce((a, s) => a + s.conversions, 0);
    expect([...got.values()].reduce((a, x) => a + x.conversions, 0)).toBeCloseTo(conversions, 9);
  });

  it('keeps a path\'s 12 most recently touched values, so that the computation stays exact', () => {
    const touches = Array.from({ length: 20 }, (_, i) => ({ value: `v${String(i).padStart(2, '0')}` }));
    expect(pathSet(touches)).toEqual(touches.slice(8).map((t) => t.value));
    expect(pathSet([{ value: 'b' }, { value: 'a' }, { value: 'b' }])).toEqual(['a', 'b']);
  });
});

describe('rule-based models', () => {
  const t = (value: string, at: number) => ({ value, at });
  const path = [t('douyin', 0), t('wecom', DAY), t('douyin', 2 * DAY), t('app', 3 * DAY)];
  const credit = (m: Parameters<typeof ruleCredit>[0]) => Object.fromEntries(ruleCredit(m, path, 4 * DAY, 2 * DAY));

  it('first, last, linear and position-based split as their definitions say', () => {
    expect(credit('FIRST_TOUCH')).toEqual({ douyin: 1 });
    expect(credit('LAST_TOUCH')).toEqual({ app: 1 });
    expect(credit('LINEAR')).toEqual({ douyin: 0.5, wecom: 0.25, app: 0.25 });
    const pb = credit('POSITION_BASED');
    expect(pb.douyin).toBeCloseTo(0.4 + 0.1, 12);
    expect(pb.wecom).toBeCloseTo(0.1, 12);
    expect(pb.app).toBeCloseTo(0.4, 12);
    expect(Object.fromEntries(ruleCredit('POSITION_BASED', path.slice(0, 2), 4 * DAY, DAY))).toEqual({ douyin: 0.5, wecom: 0.5 });
  });

  it('time decay halves a touch\'s weight per half-life before the conversion', () => {
    // Ages 4, 3, 2, 1 days with a 2-day half-life: weights 1/4, 1/2^1.5, 1/2, 1/2^0.5.
    const w = [0.25, Math.pow(2, -1.5), 0.5, Math.pow(2, -0.5)];
    const sum = w.reduce((a, b) => a + b, 0);
    const c = credit('TIME_DECAY');
    expect(c.douyin).toBeCloseTo((w[0] + w[2]) / sum, 12);
    expect(c.wecom).toBeCloseTo(w[1] / sum, 12);
    expect(c.app).toBeCloseTo(w[3] / sum, 12);
  });

  it('a conversion without touches goes to (none)', () => {
    expect(Object.fromEntries(ruleCredit('LINEAR', [], 0, DAY))).toEqual({ [NONE]: 1 });
  });
});

describe('paths of a person', () => {
  const touch = (at: number, channel: string): PersonEvent => ({ at, id: `t${at}`, conversions: new Map(), touch: { at, values: [channel, null, null] } });
  const order = (at: number, value: number): PersonEvent => ({ at, id: `o${at}`, conversions: new Map([['order', value]]), touch: null });
  const L = 7 * DAY;

  it('converting paths take the touches of the window; a run no conversion followed closes once the window has passed', () => {
    const events = [touch(0, 'douyin'), touch(1 * DAY, 'wecom'), order(3 * DAY, 99), touch(20 * DAY, 'app'), touch(30 * DAY, 'web'), touch(32 * DAY, 'app')];
    const { paths, nextDue } = pathsOf(events, ['order'], L, -Infinity, 36 * DAY);
    expect(paths.map((p) => [p.conversionId, p.anchorAt / DAY, p.revenue, p.touches.map((t) => t.values[0])])).toEqual([
      ['o259200000', 3, 99, ['douyin', 'wecom']],
      ['', 20, 0, ['app']],
    ]);
    // The run ending at day 32 is still open on day 36: it closes on day 39.
    expect(nextDue).toBe(39 * DAY);
    const later = pathsOf(events, ['order'], L, -Infinity, 39 * DAY);
    expect(later.paths.at(-1)).toMatchObject({ conversionId: '', anchorAt: 32 * DAY, touches: [{ values: ['web', null, null] }, { values: ['app', null, null] }] });
    expect(later.nextDue).toBeNull();
  });

  it('a non-converting path keeps only the touches after the previous conversion; an old touch outside the window is left out', () => {
    const events = [touch(-2 * DAY, 'weibo'), touch(5 * DAY, 'douyin'), order(6 * DAY, 10), touch(6.5 * DAY, 'wecom'), touch(8 * DAY, 'app')];
    const { paths } = pathsOf(events, ['order'], L, -Infinity, 100 * DAY);
    expect(paths.map((p) => [p.conversionId !== '', p.touches.map((t) => t.values[0])])).toEqual([
      [true, ['douyin']],
      [false, ['wecom', 'app']],
    ]);
  });
});
