/**
 * Calendar checks for dates and date-times given as text. `Date.parse` rolls an impossible day over
 * (`2026-02-30` becomes 2 March), so a date written as year, month and day is checked against the
 * calendar first. Pure code, shared by ingest (GraphQL and `/v1`) and date inputs.
 */

/** Leading `YYYY-MM-DD` (or `YYYY/M/D`, or an extended `±YYYYYY` year) of a date or date-time string. */
const YEAR_MONTH_DAY = /^\s*([+-]\d{6}|\d{4})([-/])(\d{1,2})\2(\d{1,2})(?!\d)/;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** True when `day` exists in `month` (1–12) of `year` (proleptic Gregorian calendar). */
export function isCalendarDay(year: number, month: number, day: number): boolean {
  if (!Number.isInteger(month) || month < 1 || month > 12 || !Number.isInteger(day) || day < 1) return false;
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  return day <= DAYS_IN_MONTH[month - 1] + (month === 2 && leap ? 1 : 0);
}

/**
 * Milliseconds since the epoch of a date or date-time string, or NaN when it is not one — including
 * a written year-month-day that is not on the calendar (`2026-02-30`, `2026-04-31`).
 */
export function parseTimestamp(text: string): number {
  const ymd = YEAR_MONTH_DAY.exec(text);
  if (ymd && !isCalendarDay(Number(ymd[1]), Number(ymd[3]), Number(ymd[4]))) return NaN;
  return Date.parse(text);
}
