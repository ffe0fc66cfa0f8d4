import pino, { type DestinationStream, type Logger } from 'pino';
import { maskPersonalText } from '../privacy';

export type { Logger };

const MAX_DEPTH = 8;

/** Strings with phones and e-mails masked, in plain objects and arrays; anything else as it is (errors go to `safeError`). */
function maskStrings(v: unknown, depth = 0): unknown {
  if (typeof v === 'string') return maskPersonalText(v);
  if (depth > MAX_DEPTH) return v;
  if (Array.isArray(v)) return v.map((x) => maskStrings(x, depth + 1));
  if (v && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, maskStrings(x, depth + 1)]));
  }
  return v;
}

/**
 * An error as it is logged: type, code, message and stack (phones and e-mails masked) and, for a
 * database error, the SQL text — never the query's parameters, the driver's `detail` (`Failing row
 * contains (…)`, `Key (…)=(…)`) or any other field that can carry the values of a row.
 */
export function safeError(err: unknown, depth = 0): unknown {
  if (!(err instanceof Error)) return typeof err === 'string' ? maskPersonalText(err) : maskStrings(err);
  const e = err as Error & { code?: unknown; query?: unknown; driverError?: { code?: unknown } };
  const code = e.code ?? e.driverError?.code;
  return {
    type: e.constructor?.name ?? 'Error',
    message: maskPersonalText(e.message),
    ...(typeof code === 'string' || typeof code === 'number' ? { code } : {}),
    ...(typeof e.query === 'string' ? { query: e.query } : {}),
    ...(e.stack ? { stack: maskPersonalText(e.stack) } : {}),
    ...(e.cause !== undefined && depth < 3 ? { cause: safeError(e.cause, depth + 1) } : {}),
  };
}

/**
 * Structured JSON logs on stdout (or `destination`). Anything that looks like a secret or personal
 * data is redacted by path, so a careless `log.info({ req })` cannot print a key or a phone number;
 * errors are logged by `safeError`, and phones and e-mails in any other logged text are masked.
 */
export function createLogger(level: string, bindings: Record<string, unknown> = {}, destination?: DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service: 'siyu', ...bindings },
    timestamp: pino.stdTimeFunctions.isoTime,
    serializers: { err: safeError, error: safeError },
    formatters: { log: (o) => maskStrings(o) as Record<string, unknown> },
    hooks: {
      logMethod(args, method) {
        method.apply(this, args.map((a) => (typeof a === 'string' ? maskPersonalText(a) : a)) as Parameters<typeof method>);
      },
    },
    redact: {
      paths: [
        'authorization',
        '*.authorization',
        'req.headers.authorization',
        'headers.authorization',
        'key',
        '*.key',
        'password',
        '*.password',
        'phone',
        '*.phone',
        'email',
        '*.email',
      ],
      censor: '[redacted]',
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
