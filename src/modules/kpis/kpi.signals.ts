import type { BatchEvent } from '../events';

/**
 * Risk signals (issue #18) carried per event like NPS answers: complaints and sentiment scores are
 * counted into the same rollups (`kpi_activity`, `kpi_quarter_totals`, `kpi_day_totals`, the variant
 * ledgers), so they move with a person on merges and are rebuilt from stored events. Each signal is
 * one column of those tables and one base measure of the `tot` family.
 */

export const COMPLAINT_EVENT = 'Complaint Filed';

/** The sentiment scale: `properties.sentiment` is a number in [-1, 1]; below 0 is negative. */
export const SENTIMENT_MIN = -1;
export const SENTIMENT_MAX = 1;

type SignalEvent = Pick<BatchEvent, 'type' | 'name' | 'properties'>;

/** A sentiment score when the event carries a finite number in [-1, 1] in `properties.sentiment`, else null (not counted). */
export function sentimentOf(e: SignalEvent): number | null {
  const s = e.properties?.sentiment;
  return typeof s === 'number' && Number.isFinite(s) && s >= SENTIMENT_MIN && s <= SENTIMENT_MAX ? s : null;
}

export interface Signal {
  /** Column in every rollup that carries it. */
  col: string;
  /** Base measure name the formulas read. */
  base: string;
  /** What one event adds (0 or 1). */
  of(e: SignalEvent): number;
}

export const SIGNALS: readonly Signal[] = [
  { col: 'complaints', base: 'complaints', of: (e) => (e.type === 'track' && e.name === COMPLAINT_EVENT ? 1 : 0) },
  { col: 'sentiment_scored', base: 'sentimentScored', of: (e) => (sentimentOf(e) !== null ? 1 : 0) },
  { col: 'sentiment_negative', base: 'sentimentNegative', of: (e) => ((sentimentOf(e) ?? 0) < 0 ? 1 : 0) },
];

/** Signal columns, in order. */
export const SIGNAL_COLS = SIGNALS.map((s) => s.col);

/** Adds one event's signals to a row keyed by column. */
export function addSignals(row: Record<string, unknown>, e: SignalEvent): void {
  for (const s of SIGNALS) row[s.col] = ((row[s.col] as number | undefined) ?? 0) + s.of(e);
}

/** A row's signal columns at 0. */
export const noSignals = (): Record<string, number> => Object.fromEntries(SIGNAL_COLS.map((c) => [c, 0]));

/** `sum(alias.col) AS "base"` for every signal (a base measure statement's columns). */
export const signalSums = (alias: string): string => SIGNALS.map((s) => `sum(${alias}.${s.col}) AS "${s.base}"`).join(', ');

/** `col = t.col + EXCLUDED.col` for every signal (an upsert that adds). */
export const signalAddUp = (t: string): string => SIGNALS.map((s) => `${s.col} = ${t}.${s.col} + EXCLUDED.${s.col}`).join(', ');

/** `alias.col` for every signal, comma-separated, with a leading comma (column lists). */
export const signalCols = (alias = ''): string => SIGNAL_COLS.map((c) => `, ${alias ? `${alias}.` : ''}${c}`).join('');

/** `, col int` for every signal (a `jsonb_to_recordset` column list). */
export const signalTypes = (): string => SIGNAL_COLS.map((c) => `, ${c} int`).join('');
