import { AppError } from '../../src/platform/errors';
import { applyEntries, DEFAULT_LEVEL_RULES, EMPTY_STATE, levelOf, pointsDelta, validateRules, type LedgerEntry, type LevelRules } from '../../src/modules/membership/membership.rules';

const RULES: LevelRules = { levels: [{ key: 'bronze', name: '铜', threshold: 0 }, { key: 'silver', name: '银', threshold: 100 }, { key: 'gold', name: '金', threshold: 300 }] };
const at = (h: number) => new Date(Date.UTC(2026, 9, 1, h));
const entry = (messageId: string, delta: number, h: number): LedgerEntry => ({ messageId, delta, ts: at(h) });

describe('points events', () => {
  it('earned adds, redeemed subtracts, rounded to cents; the reason is kept', () => {
    expect(pointsDelta({ type: 'track', name: 'Points Earned', properties: { points: 12.345, reason: ' order ' } })).toEqual({ delta: 12.35, reason: 'order' });
    expect(pointsDelta({ type: 'track', name: 'Points Redeemed', properties: { points: '40' } })).toEqual({ delta: -40, reason: null });
    expect(pointsDelta({ type: 'track', name: 'Order Completed', properties: { points: 5 } })).toBeNull();
    expect(pointsDelta({ type: 'identify', name: null, properties: null })).toBeNull();
  });

  it('rejects points that are not a positive number, naming the property', () => {
    for (const points of [0, -1, 0.001, 'x', '1e3', null, undefined, Number.NaN, 2e9, { n: 1 }]) {
      expect(pointsDelta({ type: 'track', name: 'Points Earned', properties: { points } })).toMatchObject({ reason: 'INVALID_POINTS', field: 'properties.points' });
    }
  });
});

describe('level rules', () => {
  it('a balance holds the last level whose threshold it reaches, none below the first', () => {
    expect(levelOf(RULES, -1)).toBeNull();
    expect(levelOf(RULES, 0)?.key).toBe('bronze');
    expect(levelOf(RULES, 299.99)?.key).toBe('silver');
    expect(levelOf(RULES, 300)?.key).toBe('gold');
    expect(levelOf({ levels: [] }, 1e9)).toBeNull();
    expect(validateRules(DEFAULT_LEVEL_RULES)).toEqual(DEFAULT_LEVEL_RULES);
  });

  it('reports every bad field at once', () => {
    let err: AppError | null = null;
    try {
      validateRules({ levels: [{ key: '1x', name: 'a', threshold: 5 }, { key: 'b', name: 'x'.repeat(65), threshold: 5 }, { key: 'b', name: 'c', threshold: Number.POSITIVE_INFINITY }] });
    } catch (e) {
      err = e as AppError;
    }
    expect(err?.reason).toBe('INVALID_LEVEL_RULES');
    expect(err?.fields.map((f) => f.field)).toEqual(['input.levels.0.key', 'input.levels.1.name', 'input.levels.1.threshold', 'input.levels.2.key', 'input.levels.2.threshold']);
  });
});

describe('applying entries', () => {
  it('records a change each time the balance crosses a threshold, either way, in event-time order', () => {
    const r = applyEntries(RULES, EMPTY_STATE, [entry('c', -250, 3), entry('a', 120, 1), entry('b', 200, 2)]);
    expect(r.state).toEqual({ points: 70, level: 'bronze', since: at(3), lastEntryAt: at(3) });
    expect(r.changes).toEqual([
      { from: null, to: 'silver', at: at(1), cause: 'event:a', points: 120 },
      { from: 'silver', to: 'gold', at: at(2), cause: 'event:b', points: 320 },
      { from: 'gold', to: 'bronze', at: at(3), cause: 'event:c', points: 70 },
    ]);
  });

  it('from a carried state over later entries, the same as over the whole ledger', () => {
    const all = [entry('a', 50, 1), entry('b', 80, 2), entry('c', -200, 3), entry('d', 400, 4), entry('e', 1, 5)];
    const whole = applyEntries(RULES, EMPTY_STATE, all);
    const first = applyEntries(RULES, EMPTY_STATE, all.slice(0, 2));
    const rest = applyEntries(RULES, first.state, all.slice(2));
    expect(rest.state).toEqual(whole.state);
    expect([...first.changes, ...rest.changes]).toEqual(whole.changes);
  });
});
