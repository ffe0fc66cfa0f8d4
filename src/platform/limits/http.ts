import { GraphQLError } from 'graphql';
import { AppError, ErrorClass } from '../errors';

/** HTTP status of each public error class (GraphQL over HTTP and the `/v1` API). */
export const HTTP_STATUS: Record<ErrorClass, number> = {
  [ErrorClass.BAD_USER_INPUT]: 400,
  [ErrorClass.UNAUTHENTICATED]: 401,
  [ErrorClass.FORBIDDEN]: 403,
  [ErrorClass.NOT_FOUND]: 404,
  [ErrorClass.CONFLICT]: 409,
  [ErrorClass.RATE_LIMITED]: 429,
  [ErrorClass.INTERNAL_SERVER_ERROR]: 500,
  [ErrorClass.UNAVAILABLE]: 503,
  [ErrorClass.TIMEOUT]: 504,
};

/** Response headers an error asks for: `Retry-After` when it carries `retryAfterSeconds`. */
export function errorHeaders(err: AppError): Record<string, string> {
  const retry = err.details.retryAfterSeconds;
  return retry === undefined ? {} : { 'Retry-After': String(retry) };
}

/**
 * An AppError thrown before execution (Apollo plugin, context): Apollo answers with its HTTP status
 * and headers; the shared formatter turns it into the usual typed error.
 */
export function requestError(err: AppError): GraphQLError {
  return new GraphQLError(err.message, {
    originalError: err,
    extensions: {
      code: err.errorClass,
      http: { status: HTTP_STATUS[err.errorClass], headers: new Map(Object.entries(errorHeaders(err))) },
    },
  });
}
