/** Error reasons (`extensions.reason`) of the compliance module. */
export enum ComplianceErrorCode {
  INVALID_ID = 'INVALID_ID',
  PROFILE_NOT_FOUND = 'PROFILE_NOT_FOUND',
  INVALID_CONSENT = 'INVALID_CONSENT',
  INVALID_COMPLIANCE_SETTINGS = 'INVALID_COMPLIANCE_SETTINGS',
  INVALID_AUDIT_FILTER = 'INVALID_AUDIT_FILTER',
  INVALID_PAGE_SIZE = 'INVALID_PAGE_SIZE',
  INVALID_CURSOR = 'INVALID_CURSOR',
  UNKNOWN_PURPOSE = 'UNKNOWN_PURPOSE',
  /** Ingest: the event carries an identifier of an erased person. */
  SUPPRESSED = 'SUPPRESSED',
}
