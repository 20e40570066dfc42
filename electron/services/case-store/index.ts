// The case store's public surface: the store class, its record types and its errors.
export { CaseStore, CASE_DB_FILE, databaseDamaged } from './case-store';
export type { CaseSummary, NewCase, RecordAnalysisInput, RecordExplanationInput, RecordProvenanceInput, RegisterModelInput } from './case-store';
export type { ProvenanceFindingRecord } from './provenance-queries';
export type {
  AnalysisRecord,
  CaseRecord,
  EvidenceRecord,
  ExplanationRecord,
  ModelRecord,
  ModelRef,
  NoteRecord,
  ReportRecord,
  TagRecord,
} from './case-queries';
export type { IngestFailure, IngestOptions, IngestProgress, IngestResult } from './evidence-ingest';
export type { GlobalVerifyReport, SchemaIssue, VerifyIssue, VerifyOptions, VerifyReport } from './case-verify';
export { CASE_RECORD_CHECKS, type RecordCheck, type RecordIssue } from './record-checks';
export type { ExportResult, ImportResult, CaseArchiveManifest } from './case-archive';
export type { AuditEntry, AuditIssue } from './audit-log';
export { CaseStoreError, isCaseStoreError, type CaseStoreErrorCode } from './case-store-error';
export type { ReadableDB, WritableDB } from './case-db';
