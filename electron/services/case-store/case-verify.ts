// Verify: every stored file against its recorded hash, every row against the audit entry that vouches
// for it, and the case's audit chain from genesis to its recorded head.
import fs from 'node:fs';
import path from 'node:path';
import type { ReadableDB } from './case-db';
import {
  getChainHead,
  listAuditEntries,
  verifyAuditSequence,
  walkAuditChain,
  type AuditEntry,
  type AuditIssue,
} from './audit-log';
import { canonicalJson } from './canonical-json';
import {
  listAnalysesForCase,
  listEvidence,
  listExplanationsForCase,
  type AnalysisRecord,
  type EvidenceRecord,
} from './case-queries';
import { isCaseStoreError } from './case-store-error';
import { casePaths, hashFile, throwIfAborted } from './evidence-files';
import { evidenceAuditDetails } from './evidence-ingest';

export type VerifyIssue =
  | AuditIssue
  | { kind: 'evidence-missing'; evidenceId: string; storedPath: string; sha256: string }
  | {
      kind: 'evidence-modified';
      evidenceId: string;
      storedPath: string;
      expectedSha256: string;
      actualSha256: string;
      expectedSize: number;
      actualSize: number;
    }
  | { kind: 'evidence-row-altered'; evidenceId: string; fields: string[] }
  | { kind: 'evidence-row-unaudited'; evidenceId: string }
  | { kind: 'evidence-row-missing'; evidenceId: string; auditIndex: number }
  | { kind: 'analysis-row-altered'; analysisId: string; fields: string[] }
  | { kind: 'analysis-row-unaudited'; analysisId: string }
  | { kind: 'analysis-row-missing'; analysisId: string; auditIndex: number }
  | { kind: 'evidence-unreadable'; evidenceId: string; storedPath: string; found: StoredFileProblem; message: string }
  | { kind: 'evidence-mode-changed'; evidenceId: string; storedPath: string; expectedMode: string; actualMode: string }
  | { kind: 'heatmap-unreadable'; explanationId: string; heatmapPath: string; found: StoredFileProblem; message: string }
  | { kind: 'heatmap-mode-changed'; explanationId: string; heatmapPath: string; expectedMode: string; actualMode: string }
  | { kind: 'heatmap-missing'; explanationId: string; heatmapPath: string }
  | { kind: 'heatmap-modified'; explanationId: string; heatmapPath: string; expectedSha256: string; actualSha256: string };

/** Why a stored file could not be hashed: what stands at its path, or the error reading it. */
export type StoredFileProblem = 'symbolic-link' | 'directory' | 'special-file' | 'permission-denied' | 'read-error';

/** The store writes every stored file read-only for everyone (0444); anything else was changed outside it. */
const STORED_FILE_MODE = 0o444;

export interface VerifyReport {
  caseId: string;
  ok: boolean;
  verifiedAt: string;
  evidenceChecked: number;
  bytesHashed: number;
  auditEntriesChecked: number;
  /** The chain head this report vouches for; quote it in a report to pin the record. */
  auditHead: { index: number; hash: string } | null;
  issues: VerifyIssue[];
  /** Files in the case folder that no row claims (left by an interrupted ingest); not evidence. */
  unrecordedFiles: string[];
}

export interface VerifyOptions {
  signal?: AbortSignal;
  onProgress?: (p: { filesDone: number; filesTotal: number; bytesDone: number }) => void;
}

export async function verifyCaseRecords(
  db: ReadableDB,
  dataDir: string,
  caseId: string,
  options: VerifyOptions = {},
): Promise<VerifyReport> {
  const paths = casePaths(dataDir, caseId);
  const issues: VerifyIssue[] = [];
  const evidence = listEvidence(db, caseId);
  const explanations = listExplanationsForCase(db, caseId);
  const audit = listAuditEntries(db, caseId);
  const head = getChainHead(db, caseId);

  issues.push(...walkAuditChain(audit, caseId, head), ...verifyAuditSequence(db));
  issues.push(...crossCheckRows(evidence, listAnalysesForCase(db, caseId), audit));

  let bytesHashed = 0;
  let filesDone = 0;
  const filesTotal = evidence.length + explanations.filter((x) => x.heatmapPath).length;
  for (const e of evidence) {
    throwIfAborted(options.signal);
    const stored = await inspectStored(path.join(paths.root, e.storedPath), options.signal);
    const where = { evidenceId: e.id, storedPath: e.storedPath };
    if (stored.kind === 'missing') issues.push({ kind: 'evidence-missing', ...where, sha256: e.sha256 });
    else if (stored.kind === 'unreadable') issues.push({ kind: 'evidence-unreadable', ...where, found: stored.found, message: stored.message });
    else {
      bytesHashed += stored.size;
      if (stored.sha256 !== e.sha256 || stored.size !== e.sizeBytes) {
        issues.push({
          kind: 'evidence-modified',
          ...where,
          expectedSha256: e.sha256,
          actualSha256: stored.sha256,
          expectedSize: e.sizeBytes,
          actualSize: stored.size,
        });
      }
      if (stored.mode !== undefined && stored.mode !== STORED_FILE_MODE) {
        issues.push({ kind: 'evidence-mode-changed', ...where, expectedMode: octal(STORED_FILE_MODE), actualMode: octal(stored.mode) });
      }
    }
    options.onProgress?.({ filesDone: ++filesDone, filesTotal, bytesDone: bytesHashed });
  }
  for (const x of explanations) {
    if (!x.heatmapPath || !x.heatmapSha256) continue;
    throwIfAborted(options.signal);
    const stored = await inspectStored(path.join(paths.root, x.heatmapPath), options.signal);
    const where = { explanationId: x.id, heatmapPath: x.heatmapPath };
    if (stored.kind === 'missing') issues.push({ kind: 'heatmap-missing', ...where });
    else if (stored.kind === 'unreadable') issues.push({ kind: 'heatmap-unreadable', ...where, found: stored.found, message: stored.message });
    else {
      bytesHashed += stored.size;
      if (stored.sha256 !== x.heatmapSha256) {
        issues.push({ kind: 'heatmap-modified', ...where, expectedSha256: x.heatmapSha256, actualSha256: stored.sha256 });
      }
      if (stored.mode !== undefined && stored.mode !== STORED_FILE_MODE) {
        issues.push({ kind: 'heatmap-mode-changed', ...where, expectedMode: octal(STORED_FILE_MODE), actualMode: octal(stored.mode) });
      }
    }
    options.onProgress?.({ filesDone: ++filesDone, filesTotal, bytesDone: bytesHashed });
  }

  const claimed = new Set(evidence.map((e) => e.storedPath));
  const unrecordedFiles = (await listFiles(paths.evidenceDir))
    .map((name) => `evidence/${name}`)
    .filter((p) => !claimed.has(p));

  const last = audit[audit.length - 1];
  return {
    caseId,
    ok: issues.length === 0,
    verifiedAt: new Date().toISOString(),
    evidenceChecked: evidence.length,
    bytesHashed,
    auditEntriesChecked: audit.length,
    auditHead: last ? { index: last.index, hash: last.hash } : null,
    issues,
    unrecordedFiles,
  };
}

type StoredFileState =
  | { kind: 'missing' }
  | { kind: 'unreadable'; found: StoredFileProblem; message: string }
  | { kind: 'hashed'; sha256: string; size: number; mode?: number };

const octal = (mode: number) => (mode & 0o777).toString(8).padStart(4, '0');

/**
 * Hashes one stored file, or says what stands in its way. Nothing a file system can put at the path (a
 * link, a folder, a FIFO, a file no one may read) stops the rest of the case from being verified.
 */
async function inspectStored(file: string, signal?: AbortSignal): Promise<StoredFileState> {
  try {
    const hashed = await hashFile(file, signal);
    const mode = process.platform === 'win32' ? undefined : (await fs.promises.lstat(file)).mode & 0o777;
    return { kind: 'hashed', ...hashed, mode };
  } catch (e) {
    if (isCaseStoreError(e, 'CANCELLED')) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    const message = (e as Error).message;
    if (code === 'ENOENT') return { kind: 'missing' };
    if (code === 'ELOOP') return { kind: 'unreadable', found: 'symbolic-link', message: 'A symbolic link stands where the stored file was; it was not followed.' };
    if (code === 'EISDIR') return { kind: 'unreadable', found: 'directory', message: 'A folder stands where the stored file was.' };
    if (code === 'EACCES' || code === 'EPERM') return { kind: 'unreadable', found: 'permission-denied', message: `The stored file cannot be read: ${message}` };
    if (isCaseStoreError(e, 'SOURCE_NOT_REGULAR_FILE')) return { kind: 'unreadable', found: 'special-file', message };
    return { kind: 'unreadable', found: 'read-error', message: `The stored file cannot be read: ${message}` };
  }
}

async function listFiles(dir: string): Promise<string[]> {
  try {
    return (await fs.promises.readdir(dir)).sort();
  } catch {
    return [];
  }
}

/**
 * Rows and audit entries must tell the same story: a row changed behind the triggers' back, or added
 * without an entry, or removed after one, shows up here even when the files are intact.
 */
export function crossCheckRows(
  evidence: readonly EvidenceRecord[],
  analyses: readonly AnalysisRecord[],
  audit: readonly AuditEntry[],
): VerifyIssue[] {
  const issues: VerifyIssue[] = [];
  const ingested = new Map<string, AuditEntry>();
  const analysed = new Map<string, AuditEntry>();
  for (const entry of audit) {
    const id = entry.details.evidenceId;
    if (entry.action === 'evidence.ingested' && typeof id === 'string') ingested.set(id, entry);
    const aid = entry.details.analysisId;
    if (entry.action === 'analysis.recorded' && typeof aid === 'string') analysed.set(aid, entry);
  }
  const evidenceIds = new Set<string>();
  for (const e of evidence) {
    evidenceIds.add(e.id);
    const entry = ingested.get(e.id);
    if (!entry) issues.push({ kind: 'evidence-row-unaudited', evidenceId: e.id });
    else {
      const fields = differingFields(evidenceAuditDetails(e), entry.details);
      if (fields.length) issues.push({ kind: 'evidence-row-altered', evidenceId: e.id, fields });
    }
  }
  for (const [id, entry] of ingested) {
    if (!evidenceIds.has(id)) issues.push({ kind: 'evidence-row-missing', evidenceId: id, auditIndex: entry.index });
  }
  const analysisIds = new Set<string>();
  for (const a of analyses) {
    analysisIds.add(a.id);
    const entry = analysed.get(a.id);
    if (!entry) issues.push({ kind: 'analysis-row-unaudited', analysisId: a.id });
    else {
      const fields = differingFields(analysisAuditDetails(a), entry.details);
      if (fields.length) issues.push({ kind: 'analysis-row-altered', analysisId: a.id, fields });
    }
  }
  for (const [id, entry] of analysed) {
    if (!analysisIds.has(id)) issues.push({ kind: 'analysis-row-missing', analysisId: id, auditIndex: entry.index });
  }
  return issues;
}

export function analysisAuditDetails(a: AnalysisRecord): Record<string, unknown> {
  return {
    analysisId: a.id,
    evidenceId: a.evidenceId,
    model: { id: a.model.id, sha256: a.model.sha256 },
    provider: a.provider,
    pSynthetic: a.pSynthetic,
    verdict: a.verdict,
    threshold: a.threshold,
    durationMs: a.durationMs,
  };
}

function differingFields(row: Record<string, unknown>, audited: Record<string, unknown>): string[] {
  return Object.keys(row).filter((k) => canonicalJson(row[k] ?? null) !== canonicalJson(audited[k] ?? null));
}
