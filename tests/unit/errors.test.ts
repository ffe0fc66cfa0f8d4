import { GraphQLError } from 'graphql';
import { ArgumentValidationError } from 'type-graphql';
import { ValidationError } from 'class-validator';
import { AppError, ErrorClass, createErrorFormatter } from '../../src/platform/errors';
import { createLogger } from '../../src/platform/logging';

const format = createErrorFormatter(createLogger('silent'));
const wrap = (e: Error) => new GraphQLError(e.message, { originalError: e, path: ['field'] });

describe('error formatter', () => {
  it('maps AppError to its class, reason and fields', () => {
    const e = AppError.badInput('INVALID_TIME_ZONE', 'input.timeZone', 'must be an IANA time zone');
    const f = format(wrap(e).toJSON(), wrap(e));
    expect(f.extensions).toEqual({
      code: 'BAD_USER_INPUT',
      reason: 'INVALID_TIME_ZONE',
      fields: [{ field: 'input.timeZone', message: 'must be an IANA time zone' }],
    });
    expect(f.path).toEqual(['field']);
  });

  it.each([
    [AppError.unauthenticated(), 'UNAUTHENTICATED'],
    [AppError.forbidden(), 'FORBIDDEN'],
    [AppError.notFound('X_NOT_FOUND', 'no'), 'NOT_FOUND'],
    [AppError.conflict('X_TAKEN', 'taken'), 'CONFLICT'],
    [new AppError(ErrorClass.RATE_LIMITED, 'TOO_FAST', 'slow down'), 'RATE_LIMITED'],
  ])('maps %s to %s', (e, code) => {
    expect(format(wrap(e).toJSON(), wrap(e)).extensions!.code).toBe(code);
  });

  it('turns class-validator errors into field errors, nested paths included', () => {
    const child = Object.assign(new ValidationError(), { property: 'value', constraints: { isNotEmpty: 'value should not be empty' }, children: [] });
    const parent = Object.assign(new ValidationError(), { property: 'identifiers', constraints: {}, children: [child] });
    const e = new ArgumentValidationError([parent]);
    const f = format(e.toJSON(), e);
    expect(f.extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: [{ field: 'identifiers.value', message: 'value should not be empty' }] });
    expect(f.message).toContain('identifiers.value');
  });

  it('masks unknown errors with a correlation id and hides their message', () => {
    const e = wrap(new Error('connection to 10.0.0.5 failed: password authentication for siyu'));
    const f = format(e.toJSON(), e);
    expect(f.extensions!.code).toBe('INTERNAL_SERVER_ERROR');
    expect(f.message).not.toContain('password');
    expect(f.message).toContain(String(f.extensions!.correlationId));
  });

  it('keeps graphql-js validation errors as BAD_USER_INPUT', () => {
    const e = new GraphQLError('Cannot query field "nope" on type "Query".', { extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } });
    expect(format(e.toJSON(), e).extensions).toEqual({ code: 'BAD_USER_INPUT', reason: 'GRAPHQL_VALIDATION_FAILED' });
  });
});
