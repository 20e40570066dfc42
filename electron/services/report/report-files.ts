// Issued reports as the API hands them out: a listing with a file name, and the bytes of the store's
// copy only when they still hash to what the audit chain recorded.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { CaseStoreError, type CaseStore, type ReportRecord } from '../case-store';

export function reportFileName(store: CaseStore, report: ReportRecord): string {
  const caseNumber = store.getCase(report.caseId).caseNumber;
  // Safe on every file system: the case number's letters and digits, then the date and the report id.
  const safe = caseNumber.normalize('NFKD').replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 60) || 'case';
  return `report-${safe}-${report.exportedAt.slice(0, 10)}-${report.id.slice(0, 8)}.pdf`;
}

export function reportInfo(store: CaseStore, r: ReportRecord) {
  return {
    id: r.id,
    caseId: r.caseId,
    fileName: reportFileName(store, r),
    sha256: r.sha256,
    sizeBytes: r.sizeBytes,
    pageCount: r.pageCount,
    evidenceIds: r.evidenceIds,
    exportedAt: r.exportedAt,
    exportedBy: r.exportedBy,
    auditHead: r.auditHead,
    verifyOk: r.verifyOk,
    signed: r.signed,
  };
}

export function readIssuedReport(store: CaseStore, reportId: string): { fileName: string; sha256: string; bytes: Buffer } {
  const report = store.findReport(reportId);
  if (!report) throw new CaseStoreError('REPORT_NOT_FOUND', `No report with id ${JSON.stringify(reportId)}.`, { reportId });
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(store.reportFilePath(report));
  } catch (e) {
    throw new CaseStoreError('SOURCE_NOT_FOUND', `The store's copy of report ${report.id} cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'}); run "case verify".`);
  }
  const sha256 = crypto.createHash('sha256').update(bytes).digest('hex');
  if (sha256 !== report.sha256) {
    throw new CaseStoreError('ARCHIVE_HASH_MISMATCH', `The store's copy of report ${report.id} no longer matches the sha256 recorded when it was issued; it is not handed out.`);
  }
  return { fileName: reportFileName(store, report), sha256, bytes };
}
