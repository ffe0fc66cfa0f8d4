export {
  checkDocumentSize,
  checkQueryLimits,
  isIngestOperation,
  isTokenLimitError,
  queryDepth,
  tooManyTokens,
  INTROSPECTION_LIMITS,
  MAX_QUERY_TOKENS,
  MAX_ROOT_FIELDS,
  UNBOUNDED_LIST_FACTOR,
} from './query-limits';
export type { QueryLimits } from './query-limits';
export { createRateLimits, BURST_WINDOW_SECONDS } from './rate-limits';
export type { Budget, RateBudget, RateLimitConfig, RateLimits } from './rate-limits';
export { ConnectionCounter } from './ws-connections';
export { HTTP_STATUS, errorHeaders, requestError } from './http';
