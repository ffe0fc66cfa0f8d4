import { BIRTHDAY_EVENT, stepMatches, withinMs, type MatchInfo, type MatchableEvent, type StepDef } from './journey.definition';

export type JourneyStatus = 'active' | 'completed' | 'dropped' | 'expired';

/** One person's entry into one journey (a row of journey_states). */
export interface JourneyState {
  journeyId: string;
  profileId: string;
  entryNo: number;
  entryKey: string | null;
  /** Index of the last step reached. */
  stepIndex: number;
  status: JourneyStatus;
  enteredAt: Date;
  stepAt: Date;
  /** Active only: when the next step's window ends. */
  deadline: Date | null;
  completedAt: Date | null;
}

export interface EngineJourney {
  id: string;
  steps: StepDef[];
  allowReentry: boolean;
}

/** What advancing produced: states to write, steps reached (history) and triggers to fire. */
export interface EngineOutput {
  changed: Set<JourneyState>;
  reached: { state: JourneyState; stepIndex: number; at: Date }[];
  fired: { journeyId: string; profileId: string; entryNo: number; stepKey: string; at: Date }[];
}

export const newOutput = (): EngineOutput => ({ changed: new Set(), reached: [], fired: [] });

function deadlineAfter(j: EngineJourney, stepIndex: number, at: Date): Date | null {
  const next = j.steps[stepIndex + 1];
  return next?.within ? new Date(at.getTime() + withinMs(next.within)!) : null;
}

/** The state reaches `stepIndex` at `at`: history, trigger, and completion at the last step. */
export function reach(j: EngineJourney, s: JourneyState, stepIndex: number, at: Date, out: EngineOutput): void {
  s.stepIndex = stepIndex;
  s.stepAt = at;
  out.changed.add(s);
  out.reached.push({ state: s, stepIndex, at });
  const step = j.steps[stepIndex];
  if (step.trigger) out.fired.push({ journeyId: j.id, profileId: s.profileId, entryNo: s.entryNo, stepKey: step.key, at });
  if (stepIndex === j.steps.length - 1) {
    s.status = 'completed';
    s.completedAt = at;
    s.deadline = null;
  } else {
    s.deadline = deadlineAfter(j, stepIndex, at);
  }
}

/**
 * Time passes up to `until`: each window that ended before it is resolved in order. A positive
 * next step whose window ended → `expired` (at the deadline). A negative next step whose window
 * ended without the matching event → that step is reached at the deadline (and may trigger), and
 * the following window starts from there. `inclusive`: a deadline equal to `until` counts as ended
 * (the sweep); an event at exactly the deadline is still inside the window (ingest).
 */
export function advanceByTime(j: EngineJourney, s: JourneyState, until: Date, inclusive: boolean, out: EngineOutput): void {
  while (s.status === 'active' && s.deadline && (inclusive ? s.deadline <= until : s.deadline < until)) {
    const at = s.deadline;
    const next = j.steps[s.stepIndex + 1];
    if (!next.negative) {
      s.status = 'expired';
      s.completedAt = at;
      s.deadline = null;
      out.changed.add(s);
    } else {
      reach(j, s, s.stepIndex + 1, at, out);
    }
  }
}

/**
 * Applies one event to a person's entries of one journey (`entries`: the active ones plus the
 * highest entry number seen, `maxEntryNo`). Returns a new state when the event enters the person.
 *
 * - An active entry: events older than its current step are ignored; windows that ended before the
 *   event are resolved first (see `advanceByTime`). Then, if the event matches the next step: a
 *   positive step is reached; a negative step means the awaited absence failed → `dropped`.
 * - No active entry (or it just ended by time): an event matching the first step enters the person
 *   (entry number + 1), unless the journey does not allow re-entry and the person entered before.
 * One event advances an entry by at most one step.
 */
export function applyEvent(
  j: EngineJourney,
  active: JourneyState | undefined,
  maxEntryNo: number,
  profileId: string,
  e: MatchableEvent,
  info: MatchInfo,
  out: EngineOutput,
): JourneyState | undefined {
  if (active && active.status === 'active') {
    if (e.ts < active.stepAt) return undefined;
    advanceByTime(j, active, e.ts, false, out);
    if (active.status === 'active') {
      const next = j.steps[active.stepIndex + 1];
      if (stepMatches(next.match, e, info)) {
        if (next.negative) {
          active.status = 'dropped';
          active.completedAt = e.ts;
          active.deadline = null;
          out.changed.add(active);
        } else {
          reach(j, active, active.stepIndex + 1, e.ts, out);
        }
      }
      return undefined;
    }
  }
  const first = j.steps[0];
  // Birthday journeys are entered by the sweep only (an ingested "$birthday" event does not count).
  if (first.match.event === BIRTHDAY_EVENT) return undefined;
  if (!j.allowReentry && maxEntryNo > 0) return undefined;
  if (!stepMatches(first.match, e, info)) return undefined;
  return enter(j, profileId, maxEntryNo + 1, null, e.ts, out);
}

export function enter(j: EngineJourney, profileId: string, entryNo: number, entryKey: string | null, at: Date, out: EngineOutput): JourneyState {
  const s: JourneyState = {
    journeyId: j.id,
    profileId,
    entryNo,
    entryKey,
    stepIndex: 0,
    status: 'active',
    enteredAt: at,
    stepAt: at,
    deadline: null,
    completedAt: null,
  };
  reach(j, s, 0, at, out);
  return s;
}
