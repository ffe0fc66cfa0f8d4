export { AppError, ErrorClass } from './app-error';
export type { FieldError, Rejection } from './app-error';
export { createErrorFormatter } from './format';
export type { ErrorFormatter } from './format';
export { isDatabaseUnavailable } from './unavailable';
