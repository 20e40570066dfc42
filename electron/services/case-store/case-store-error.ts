// Every failure the case store reports carries a stable code, so the CLI, the UI and tests can branch on it.
export type CaseStoreErrorCode =
  | 'INVALID_ARGUMENT'
  | 'CASE_NOT_FOUND'
  | 'CASE_EXISTS'
  | 'CASE_CLOSED'
  | 'EVIDENCE_NOT_FOUND'
  | 'ANALYSIS_NOT_FOUND'
  | 'SOURCE_NOT_FOUND'
  | 'SOURCE_NOT_REGULAR_FILE'
  | 'SOURCE_IS_SYMLINK'
  | 'SOURCE_CHANGED_DURING_COPY'
  | 'SOURCE_UNREADABLE'
  | 'NOT_AN_IMAGE'
  | 'EMPTY_FILE'
  | 'UNSUPPORTED_IMAGE_FORMAT'
  | 'COPY_MISMATCH'
  | 'CANCELLED'
  | 'DATABASE_NEWER_THAN_APP'
  | 'MIGRATION_FAILED'
  | 'DATABASE_CORRUPT'
  | 'DATABASE_MISSING'
  | 'INGEST_LOCKED'
  | 'ARCHIVE_INVALID'
  | 'ARCHIVE_HOSTILE_PATH'
  | 'ARCHIVE_LINK_MEMBER'
  | 'ARCHIVE_SPECIAL_MEMBER'
  | 'ARCHIVE_HASH_MISMATCH'
  | 'ARCHIVE_AUDIT_BROKEN'
  | 'OUTPUT_EXISTS'
  | 'REPORT_NOT_FOUND';

export class CaseStoreError extends Error {
  override readonly name = 'CaseStoreError';
  constructor(
    readonly code: CaseStoreErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }

  toJSON(): { code: CaseStoreErrorCode; message: string; details: Record<string, unknown> } {
    return { code: this.code, message: this.message, details: this.details };
  }
}

export function isCaseStoreError(e: unknown, code?: CaseStoreErrorCode): e is CaseStoreError {
  return e instanceof CaseStoreError && (code === undefined || e.code === code);
}
