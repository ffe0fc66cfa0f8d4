/**
 * The public error classes every GraphQL error maps to (`extensions.code`). Module error codes
 * (`WORKSPACE_NOT_FOUND`, ...) are more specific and travel in `extensions.reason`.
 */
export enum ErrorClass {
  BAD_USER_INPUT = 'BAD_USER_INPUT',
  UNAUTHENTICATED = 'UNAUTHENTICATED',
  FORBIDDEN = 'FORBIDDEN',
  NOT_FOUND = 'NOT_FOUND',
  CONFLICT = 'CONFLICT',
  RATE_LIMITED = 'RATE_LIMITED',
  /** A dependency (the database) is down; retry later. HTTP 503. */
  UNAVAILABLE = 'UNAVAILABLE',
  /** The request ran out of its database time budget (SIYU_DB_TIMEOUT_*_MS). HTTP 504. */
  TIMEOUT = 'TIMEOUT',
  INTERNAL_SERVER_ERROR = 'INTERNAL_SERVER_ERROR',
}

export interface FieldError {
  /** Path of the offending input field, e.g. `input.timeZone` or `events.3.identifiers.0.value`. */
  field: string;
  message: string;
}

/**
 * The one error type domain code throws. `reason` is a module code such as `API_KEY_NOT_FOUND`;
 * `errorClass` decides the public `extensions.code`.
 */
export class AppError extends Error {
  constructor(
    readonly errorClass: ErrorClass,
    readonly reason: string,
    message: string,
    readonly fields: FieldError[] = [],
    /** Extra machine-readable facts copied into `extensions` (e.g. `retryAfterSeconds`, `maxDepth`). */
    readonly details: Record<string, string | number> = {},
  ) {
    super(message);
    this.name = 'AppError';
  }

  static badInput(reason: string, field: string, message: string): AppError {
    return new AppError(ErrorClass.BAD_USER_INPUT, reason, message, [{ field, message }]);
  }
  static notFound(reason: string, message: string): AppError {
    return new AppError(ErrorClass.NOT_FOUND, reason, message);
  }
  static forbidden(message = 'Your API key does not allow this.'): AppError {
    return new AppError(ErrorClass.FORBIDDEN, 'FORBIDDEN', message);
  }
  static unauthenticated(message = 'A valid API key is required.'): AppError {
    return new AppError(ErrorClass.UNAUTHENTICATED, 'UNAUTHENTICATED', message);
  }
  static rateLimited(retryAfterSeconds: number, budget: string): AppError {
    return new AppError(
      ErrorClass.RATE_LIMITED,
      'RATE_LIMITED',
      `Too many requests for this API key (${budget} budget); retry in ${retryAfterSeconds} s.`,
      [],
      { retryAfterSeconds, budget },
    );
  }
  static unavailable(message = 'The database is unavailable; retry shortly.'): AppError {
    return new AppError(ErrorClass.UNAVAILABLE, 'DATABASE_UNAVAILABLE', message, [], { retryAfterSeconds: 5 });
  }
  static conflict(reason: string, message: string): AppError {
    return new AppError(ErrorClass.CONFLICT, reason, message);
  }
}

/** Why one item of a batch (an event, a message) was refused: a typed reason, the field path, and a message. */
export interface Rejection {
  reason: string;
  field: string;
  message: string;
}
