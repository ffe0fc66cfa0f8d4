/** Socket-level and PostgreSQL "cannot serve now" conditions (class 08, 57P01-57P03). */
const CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', '57P01', '57P02', '57P03']);
const MESSAGES = /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection refused|connection is not open|Client was closed/i;

/**
 * True when an error (or what it wraps: TypeORM's `driverError`, `cause`) means the database cannot
 * be reached, as opposed to a query that failed. Such errors become UNAVAILABLE (503), not INTERNAL.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  let e: unknown = error;
  for (let i = 0; i < 5 && e && typeof e === 'object'; i++) {
    const o = e as { code?: unknown; message?: unknown; driverError?: unknown; cause?: unknown; thrownValue?: unknown };
    if (typeof o.code === 'string' && (CODES.has(o.code) || o.code.startsWith('08'))) return true;
    if (typeof o.message === 'string' && MESSAGES.test(o.message)) return true;
    // graphql-js wraps a value that is not `instanceof Error` (another realm) as NonErrorThrown.
    e = o.driverError ?? o.cause ?? o.thrownValue;
  }
  return false;
}
