import { randomUUID } from 'node:crypto';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { ArgumentValidationError } from 'type-graphql';
import type { ValidationError } from 'class-validator';
import type { Logger } from '../logging';
import { AppError, ErrorClass, type FieldError } from './app-error';
import { isDatabaseUnavailable } from './unavailable';

/** Apollo/graphql-js codes for malformed requests; all are the caller's fault. */
const INPUT_CODES = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_USER_INPUT',
  'BAD_REQUEST',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'OPERATION_RESOLUTION_FAILURE',
]);

function flattenValidation(errors: ValidationError[], prefix: string): FieldError[] {
  const out: FieldError[] = [];
  for (const e of errors) {
    const field = prefix ? `${prefix}.${e.property}` : e.property;
    for (const message of Object.values(e.constraints ?? {})) out.push({ field, message });
    if (e.children?.length) out.push(...flattenValidation(e.children, field));
  }
  return out;
}

function unwrap(error: unknown): unknown {
  let e = error;
  while (e instanceof GraphQLError && e.originalError && e.originalError !== e) e = e.originalError;
  return e;
}

/**
 * The one error formatter, shared by HTTP (Apollo `formatError`) and WebSocket (graphql-ws).
 * Known errors keep their message and gain a typed `extensions.code`; anything unknown is masked
 * as INTERNAL_SERVER_ERROR and logged with a correlation id the caller can quote.
 */
export function createErrorFormatter(log: Logger) {
  return function formatError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
    const original = unwrap(error);
    const base = { message: formatted.message, locations: formatted.locations, path: formatted.path };

    if (original instanceof AppError) {
      return {
        ...base,
        message: original.message,
        extensions: {
          code: original.errorClass,
          reason: original.reason,
          ...(original.fields.length ? { fields: original.fields } : {}),
          ...original.details,
        },
      };
    }
    if (original instanceof ArgumentValidationError) {
      const validationErrors = (original.extensions.validationErrors ?? []) as ValidationError[];
      const fields = flattenValidation(validationErrors, '');
      return {
        ...base,
        message: fields.length
          ? `Invalid input: ${fields.map((f) => `${f.field}: ${f.message}`).join('; ')}`
          : 'Invalid input.',
        extensions: { code: ErrorClass.BAD_USER_INPUT, reason: 'VALIDATION_FAILED', fields },
      };
    }
    const code = formatted.extensions?.code;
    if (original instanceof GraphQLError || (typeof code === 'string' && INPUT_CODES.has(code))) {
      // Parse, validation and variable-coercion errors from graphql-js: the message names the field.
      const publicCode = typeof code === 'string' && code in ErrorClass ? code : ErrorClass.BAD_USER_INPUT;
      const reason = formatted.extensions?.reason ?? (typeof code === 'string' ? code : 'INVALID_REQUEST');
      return { ...base, extensions: { code: publicCode, reason } };
    }
    if (isDatabaseUnavailable(original)) {
      const e = AppError.unavailable();
      return { ...base, message: e.message, extensions: { code: e.errorClass, reason: e.reason, ...e.details } };
    }
    const correlationId = randomUUID();
    log.error({ err: original, correlationId, path: formatted.path }, 'unexpected error');
    return {
      message: `Internal server error. Quote correlation id ${correlationId} when reporting it.`,
      locations: formatted.locations,
      path: formatted.path,
      extensions: { code: ErrorClass.INTERNAL_SERVER_ERROR, correlationId },
    };
  };
}

export type ErrorFormatter = ReturnType<typeof createErrorFormatter>;
