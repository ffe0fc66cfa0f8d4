/** Error reasons (`extensions.reason`) of the health module. */
export enum HealthErrorCode {
  INVALID_HEALTH_SETTINGS = 'INVALID_HEALTH_SETTINGS',
  INVALID_HEALTH_FILTER = 'INVALID_HEALTH_FILTER',
}
