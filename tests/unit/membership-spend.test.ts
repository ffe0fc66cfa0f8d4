import { validateRules, walkSpend, type LevelRules, type OrderEntry } from '../../src/modules/membership/membership.rules';

const DAY = 86_400_000;
const RULES: LevelRules = { basis: 'SPEND', windowDays: 10, levels: [{ key: 'silver', name: '银', threshold: 100 }, { key: 'gold', name: '金', threshold: 300 }] };
const T = Date.UTC(2026, 9, 1);
const o = (messageId: string, day: number, value: number): OrderEntry => ({ messageId, ts: new Date(T + day * DAY), value });

describe('spend over a window', () => {
  it('rises with orders, falls when they leave the window, and schedules the next leaving', () => {
    const w = walkSpend(RULES, [o('a', 0, 120), o('b', 3, 200), o('c', 20, 50)], null, null, new Date(T + 12 * DAY));
    expect(w.changes.map((c) => [c.from, c.to, (c.at.getTime() - T) / DAY, c.cause, c.points])).toEqual([
      [null, 'silver', 0, 'event:a', 120],
      ['silver', 'gold', 3, 'event:b', 320],
      ['gold', 'silver', 10, 'window:a', 200],
    ]);
    expect(w).toMatchObject({ level: 'silver', spend: 200, nextDue: new Date(T + 13 * DAY) });
  });

  it('an order leaving at the instant another arrives records no drop-and-rise; same-instant orders make one change', () => {
    const w = walkSpend(RULES, [o('a', 0, 150), o('b', 10, 150), o('x', 15, 100), o('y', 15, 100)], null, null, new Date(T + 30 * DAY));
    expect(w.changes.map((c) => [c.to, (c.at.getTime() - T) / DAY, c.cause])).toEqual([
      ['silver', 0, 'event:a'],
      ['gold', 15, 'event:y'],
      ['silver', 20, 'window:b'],
      [null, 25, 'window:y'],
    ]);
    expect(w.nextDue).toBeNull();
  });

  it('re-walked from any instant (with the level held before it and the orders from a window before it), the same as from the start', () => {
    let seed = 7;
    const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    for (let round = 0; round < 50; round++) {
      const orders = Array.from({ length: 12 }, (_, i) => o(`m${i}`, Math.floor(rand() * 40), Math.round(rand() * 20000) / 100)).sort((a, b) => a.ts.getTime() - b.ts.getTime());
      const now = new Date(T + 45 * DAY);
      const whole = walkSpend(RULES, orders, null, null, now);
      const from = new Date(T + Math.floor(rand() * 45) * DAY);
      const kept = whole.changes.filter((c) => c.at < from);
      const rest = walkSpend(RULES, orders.filter((x) => x.ts.getTime() >= from.getTime() - 10 * DAY), from, kept.at(-1)?.to ?? null, now);
      expect({ round, changes: [...kept, ...rest.changes], level: rest.level, spend: rest.spend, nextDue: rest.nextDue }).toEqual({
        round,
        changes: whole.changes,
        level: whole.level,
        spend: whole.spend,
        nextDue: whole.nextDue,
      });
    }
  });

  it('validates the basis and window with the other fields', () => {
    expect(validateRules({ levels: [], basis: 'SPEND', windowDays: 30 })).toEqual({ levels: [], basis: 'SPEND', windowDays: 30 });
    expect(validateRules({ levels: [] })).toEqual({ levels: [], basis: 'POINTS', windowDays: null });
    expect(() => validateRules({ levels: [], basis: 'SPEND', windowDays: 2.5 })).toThrow(/windowDays/);
  });
});
