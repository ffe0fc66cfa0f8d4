import { compile, DEFAULT_MODEL, evaluate, validateModel, type StageFacts } from '../../src/modules/stages/stage.model';
import { AppError } from '../../src/platform/errors';

const m = compile(DEFAULT_MODEL);
const DAY = 86_400_000;
const d = (n: number) => new Date(Date.UTC(2026, 0, 1) + n * DAY);
const facts = (lastSeen: number, hits: Record<string, number> = {}): StageFacts => ({
  lastSeenAt: d(lastSeen),
  hits: new Map(Object.entries(hits).map(([k, n]) => [k, { at: d(n), cause: `hit:${k}` }])),
});

describe('stage model evaluation', () => {
  it('moves to the furthest main stage whose condition holds, never back', () => {
    const r = evaluate(m, null, facts(3, { awareness: 0, interest: 1, purchase: 3 }));
    expect(r.transitions.map((t) => [t.from, t.to])).toEqual([[null, 'purchase']]);
    const again = evaluate(m, r.state, facts(5, { interest: 5 }));
    expect(again.transitions).toEqual([]);
  });

  it('goes silent then churned at last activity + N / M days, and wakes back to the stage left', () => {
    const start = { stage: 'loyalty', mainStage: 'loyalty', enteredAt: d(10), previousStage: 'purchase' };
    expect(evaluate(m, start, facts(10), d(39)).transitions).toEqual([]);
    const r = evaluate(m, start, facts(10), d(200));
    expect(r.transitions.map((t) => [t.to, t.at])).toEqual([
      ['silent', d(40)],
      ['churned', d(100)],
    ]);
    const woke = evaluate(m, r.state, { ...facts(150), activity: { at: d(150), cause: 'event:x' } });
    expect(woke.transitions).toEqual([{ from: 'churned', to: 'loyalty', at: d(150), cause: 'wake_up:event:x', wakeUp: true }]);
  });

  it('an inactive person does not advance until they wake up', () => {
    const silent = { stage: 'silent', mainStage: 'loyalty', enteredAt: d(40), previousStage: 'loyalty' };
    expect(evaluate(m, silent, facts(10, { advocacy: 45 })).transitions).toEqual([]);
    const r = evaluate(m, silent, { ...facts(50, { advocacy: 45 }), activity: { at: d(50), cause: 'event:y' } });
    expect(r.transitions.map((t) => [t.from, t.to, t.wakeUp])).toEqual([
      ['silent', 'loyalty', true],
      ['loyalty', 'advocacy', false],
    ]);
  });
});

describe('stage model validation', () => {
  it('accepts the default model unchanged', () => {
    expect(validateModel(DEFAULT_MODEL as never)).toEqual(DEFAULT_MODEL);
  });

  it('reports N >= M on the later inactivity stage', () => {
    try {
      validateModel({ key: 'm', name: 'M', stages: [{ key: 'a', name: 'A', enter: { kind: 'first_event' } }, { key: 's', name: 'S', enter: { kind: 'inactive_days', days: 30 } }, { key: 'c', name: 'C', enter: { kind: 'inactive_days', days: 30 } }] });
      throw new Error('expected a failure');
    } catch (e) {
      expect(e).toBeInstanceOf(AppError);
      expect((e as AppError).fields).toEqual([{ field: 'input.stages.2.enter.days', message: expect.stringContaining('30 must be greater than 30') }]);
    }
  });
});
