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
  it('moves to the furthest main stage whose condition holds at each moment, never back', () => {
    // Conditions that first held at once: one move, to the furthest.
    const jump = evaluate(m, null, facts(3, { awareness: 0, interest: 0, purchase: 0 }));
    expect(jump.transitions.map((t) => [t.from, t.to, t.at])).toEqual([[null, 'purchase', d(0)]]);
    // A history evaluated at once moves as it would have event by event.
    const r = evaluate(m, null, facts(3, { awareness: 0, interest: 1, purchase: 3 }));
    expect(r.transitions.map((t) => [t.from, t.to, t.at])).toEqual([
      [null, 'awareness', d(0)],
      ['awareness', 'interest', d(1)],
      ['interest', 'purchase', d(3)],
    ]);
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
    const woke = evaluate(m, r.state, { ...facts(150), activity: { first: { at: d(150), cause: 'event:x' }, gaps: [{ from: d(10), to: d(150), cause: 'event:x' }] } });
    expect(woke.transitions).toEqual([{ from: 'churned', to: 'loyalty', at: d(150), cause: 'wake_up:event:x', wakeUp: true }]);
  });

  it('an inactive person does not advance until they wake up', () => {
    const silent = { stage: 'silent', mainStage: 'loyalty', enteredAt: d(40), previousStage: 'loyalty' };
    expect(evaluate(m, silent, facts(10, { advocacy: 45 })).transitions).toEqual([]);
    const r = evaluate(m, silent, { ...facts(50, { advocacy: 45 }), activity: { first: { at: d(50), cause: 'event:y' }, gaps: [{ from: d(10), to: d(50), cause: 'event:y' }] } });
    expect(r.transitions.map((t) => [t.from, t.to, t.wakeUp])).toEqual([
      ['silent', 'loyalty', true],
      ['loyalty', 'advocacy', false],
    ]);
  });
});

describe('a condition holding without activity of the person\'s own', () => {
  it('finds them silent if their threshold passed first: they advance when they wake up', () => {
    const loyal = { stage: 'loyalty', mainStage: 'loyalty', enteredAt: d(10), previousStage: 'purchase' };
    // An invitee orders on day 45; the inviter's last event was day 10.
    const r = evaluate(m, loyal, facts(10, { advocacy: 45 }));
    expect(r.transitions.map((t) => [t.to, t.at])).toEqual([['silent', d(40)]]);
    // Within the threshold, they advance at once.
    expect(evaluate(m, loyal, facts(10, { advocacy: 25 })).transitions.map((t) => [t.to, t.at])).toEqual([['advocacy', d(25)]]);
  });
});

describe('a history evaluated at once (loaded history)', () => {
  it('records each silence and wake-up at its time, interleaved with the main stages', () => {
    // Viewed on day 0, silent from day 30, back on day 50 with a message and on day 200 with an order.
    const r = evaluate(m, null, {
      ...facts(200, { awareness: 0, interest: 50, purchase: 200 }),
      activity: {
        first: { at: d(0), cause: 'event:v' },
        gaps: [
          { from: d(0), to: d(50), cause: 'event:m' },
          { from: d(60), to: d(200), cause: 'event:o' },
        ],
      },
    });
    expect(r.transitions.map((t) => [t.from, t.to, t.at, t.cause, t.wakeUp])).toEqual([
      [null, 'awareness', d(0), 'hit:awareness', false],
      ['awareness', 'silent', d(30), 'inactive_days:30', false],
      ['silent', 'awareness', d(50), 'wake_up:event:m', true],
      ['awareness', 'interest', d(50), 'hit:interest', false],
      ['interest', 'silent', d(90), 'inactive_days:30', false],
      ['silent', 'churned', d(150), 'inactive_days:90', false],
      ['churned', 'interest', d(200), 'wake_up:event:o', true],
      ['interest', 'purchase', d(200), 'hit:purchase', false],
    ]);
    expect(r.state).toEqual({ stage: 'purchase', mainStage: 'purchase', enteredAt: d(200), previousStage: 'interest' });
  });

  it('a gap of exactly the threshold is a silence; one just short of it is not', () => {
    const DAY_30 = 30 * DAY;
    const at = (ms: number) => new Date(d(0).getTime() + ms);
    const run = (gapMs: number) =>
      evaluate(m, null, { lastSeenAt: at(gapMs), hits: new Map([['awareness', { at: d(0), cause: 'hit' }]]), activity: { first: { at: d(0), cause: 'event:a' }, gaps: gapMs >= DAY_30 ? [{ from: d(0), to: at(gapMs), cause: 'event:b' }] : [] } });
    expect(run(DAY_30).transitions.map((t) => [t.to, t.wakeUp])).toEqual([
      ['awareness', false],
      ['silent', false],
      ['awareness', true],
    ]);
    expect(run(DAY_30 - 1).transitions.map((t) => t.to)).toEqual(['awareness']);
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
