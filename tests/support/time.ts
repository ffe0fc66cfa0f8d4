export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;

/** The ISO time `days` (fractions allowed) before now, plus `plusMs`. */
export const ago = (days: number, plusMs = 0) => new Date(Date.now() - days * DAY + plusMs).toISOString();
