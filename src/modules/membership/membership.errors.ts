/** Error codes of the membership module (travel in `extensions.reason`). */
export enum MembershipErrorCode {
  INVALID_LEVEL_RULES = 'INVALID_LEVEL_RULES',
  INVALID_POINTS = 'INVALID_POINTS',
  INVALID_PAGE = 'INVALID_PAGE',
}
