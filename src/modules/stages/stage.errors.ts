/** Error codes of the lifecycle stage module (travel in `extensions.reason`). */
export enum StageErrorCode {
  INVALID_STAGE_MODEL = 'INVALID_STAGE_MODEL',
  INVALID_RANGE = 'INVALID_RANGE',
}
