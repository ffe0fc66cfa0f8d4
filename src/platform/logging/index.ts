import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * Structured JSON logs on stdout. Anything that looks like a secret or personal data is redacted
 * by path, so a careless `log.info({ req })` cannot print a key or a phone number.
 */
export function createLogger(level: string, bindings: Record<string, unknown> = {}): Logger {
  return pino({
    level,
    base: { service: 'siyu', ...bindings },
    timestamp: pino.stdTimeFunctions.isoTime,
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
  });
}
