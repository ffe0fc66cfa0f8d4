import { conditionHolds, validateSteps, type StepDef } from '../../src/modules/journeys/journey.definition';
import { advanceByTime, applyEvent, newOutput, type EngineJourney } from '../../src/modules/journeys/journey.engine';
import { JOURNEY_TEMPLATES } from '../../src/modules/journeys/journey.templates';

const H = 3_600_000;
const t0 = new Date('2026-01-01T00:00:00Z');
const at = (h: number) => new Date(t0.getTime() + h * H);
const info = { previousEventAt: null, firstSeenAt: null };
const cart: EngineJourney = { id: 'j', allowReentry: true, steps: JOURNEY_TEMPLATES[0].steps as StepDef[] };
const ev = (name: string, h: number, properties: Record<string, unknown> | null = null) => ({ name, ts: at(h), properties });

describe('journey engine', () => {
  it('every template is a valid definition', () => {
    for (const t of JOURNEY_TEMPLATES) expect(validateSteps(t.steps, 'steps')).toEqual(t.steps);
  });

  it('a negative step is reached when its window passes, once, and triggers', () => {
    const out = newOutput();
    const s = applyEvent(cart, undefined, 0, 'p', ev('Product Added', 0), info, out)!;
    expect(s).toMatchObject({ entryNo: 1, stepIndex: 0, status: 'active', deadline: at(24) });
    advanceByTime(cart, s, at(24), false, out);
    expect(s.status).toBe('active');
    advanceByTime(cart, s, at(24), true, out);
    advanceByTime(cart, s, at(48), true, out);
    expect(s).toMatchObject({ stepIndex: 1, status: 'completed', completedAt: at(24) });
    expect(out.fired).toEqual([{ journeyId: 'j', profileId: 'p', entryNo: 1, stepKey: 'abandoned', at: at(24) }]);
  });

  it('the awaited-absent event inside the window drops; events older than the step are ignored', () => {
    const out = newOutput();
    const s = applyEvent(cart, undefined, 0, 'p', ev('Product Added', 10), info, out)!;
    expect(applyEvent(cart, s, 1, 'p', ev('Order Completed', 5), info, out)).toBeUndefined();
    expect(s.status).toBe('active');
    applyEvent(cart, s, 1, 'p', ev('Order Completed', 34), info, out);
    expect(s).toMatchObject({ status: 'dropped', completedAt: at(34) });
    expect(out.fired).toEqual([]);
  });

  it('a positive step missed by its window expires, and the late event may start a new entry', () => {
    const j: EngineJourney = {
      id: 'k',
      allowReentry: true,
      steps: validateSteps([{ key: 'a', name: 'A', match: { event: '*' } }, { key: 'b', name: 'B', match: { event: 'Order Completed' }, within: '2h' }], 's'),
    };
    const out = newOutput();
    const s = applyEvent(j, undefined, 0, 'p', ev('Page Viewed', 0), info, out)!;
    const again = applyEvent(j, s, 1, 'p', ev('Order Completed', 3), info, out);
    expect(s).toMatchObject({ status: 'expired', completedAt: at(2) });
    expect(again).toMatchObject({ entryNo: 2, status: 'active', enteredAt: at(3) });
  });

  it('conditions compare numbers numerically and strings in order', () => {
    expect(conditionHolds({ property: 'revenue', op: '>=', value: 100 }, { revenue: '120' })).toBe(true);
    expect(conditionHolds({ property: 'p.cat', op: 'in', value: ['a', 'b'] }, { p: { cat: 'b' } })).toBe(true);
    expect(conditionHolds({ property: 'x', op: '!=', value: 1 }, {})).toBe(true);
    expect(conditionHolds({ property: 'x', op: '==', value: 1 }, {})).toBe(false);
    expect(conditionHolds({ property: 'd', op: '<', value: '2026-02-01' }, { d: '2026-01-15' })).toBe(true);
  });
});
