/** Module error codes (`extensions.reason`); every bad-input error also names its field (`extensions.fields`). */
export enum DestinationErrorCode {
  DESTINATION_NOT_FOUND = 'DESTINATION_NOT_FOUND',
  DELIVERY_NOT_FOUND = 'DELIVERY_NOT_FOUND',
  /** Replay of a delivery that is not (or no longer) in the dead letter. */
  NOT_A_DEAD_LETTER = 'NOT_A_DEAD_LETTER',
  INVALID_DESTINATION_NAME = 'INVALID_DESTINATION_NAME',
  INVALID_DESTINATION_URL = 'INVALID_DESTINATION_URL',
  /** The URL's host is (or resolves to) loopback, private or link-local, and `allowPrivateNetwork` is not set. */
  PRIVATE_NETWORK_URL = 'PRIVATE_NETWORK_URL',
  /** The URL's host does not resolve. */
  UNRESOLVABLE_HOST = 'UNRESOLVABLE_HOST',
  INVALID_SECRET = 'INVALID_SECRET',
  INVALID_EVENTS = 'INVALID_EVENTS',
  INVALID_FILTER = 'INVALID_FILTER',
  INVALID_MAX_ATTEMPTS = 'INVALID_MAX_ATTEMPTS',
  INVALID_TIMEOUT = 'INVALID_TIMEOUT',
  INVALID_PAGE_SIZE = 'INVALID_PAGE_SIZE',
  INVALID_CURSOR = 'INVALID_CURSOR',
}
