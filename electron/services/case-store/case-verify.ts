// Verify: every stored file against its recorded hash, every row against the audit entry that vouches
// for it, and the case's audit chain from genesis to its recorded head.
import fs from 'node:fs';
import { crossCheckProvenance, listProvenanceFindingsForCase, type ProvenanceVerifyIssue } from './provenance-queries';
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
import { casePaths, hashFile, throwIfAborted } from './evidence-files';
import { evidenceAuditDetails } from './evidence-ingest';

export type VerifyIssue =
  | AuditIssue
  | ProvenanceVerifyIssue
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
  | { kind: 'heatmap-missing'; explanationId: string; heatmapPath: string }
  | { kind: 'heatmap-modified'; explanationId: string; heatmapPath: string; expectedSha256: string; actualSha256: string };

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
  issues.push(...crossCheckProvenance(listProvenanceFindingsForCase(db, caseId), audit));

  let bytesHashed = 0;
  let filesDone = 0;
  const filesTotal = evidence.length + explanations.filter((x) => x.heatmapPath).length;
  for (const e of evidence) {
    throwIfAborted(options.signal);
    const stored = await hashStored(path.join(paths.root, e.storedPath), options.signal);
    if (!stored) issues.push({ kind: 'evidence-missing', evidenceId: e.id, storedPath: e.storedPath, sha256: e.sha256 });
    else {
      bytesHashed += stored.size;
      if (stored.sha256 !== e.sha256 || stored.size !== e.sizeBytes) {
        issues.push({
          kind: 'evidence-modified',
          evidenceId: e.id,
          storedPath: e.storedPath,
          expectedSha256: e.sha256,
          actualSha256: stored.sha256,
          expectedSize: e.sizeBytes,
          actualSize: stored.size,
        });
      }
    }
    options.onProgress?.({ filesDone: ++filesDone, filesTotal, bytesDone: bytesHashed });
  }
  for (const x of explanations) {
    if (!x.heatmapPath || !x.heatmapSha256) continue;
    const stored = await hashStored(path.join(paths.root, x.heatmapPath), options.signal);
    if (!stored) issues.push({ kind: 'heatmap-missing', explanationId: x.id, heatmapPath: x.heatmapPath });
    else {
      bytesHashed += stored.size;
      if (stored.sha256 !== x.heatmapSha256) {
        issues.push({
          kind: 'heatmap-modified',
          explanationId: x.id,
          heatmapPath: x.heatmapPath,
          expectedSha256: x.heatmapSha256,
          actualSha256: stored.sha256,
        });
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

async function hashStored(file: string, signal?: AbortSignal): Promise<{ sha256: string; size: number } | undefined> {
  try {
    return await hashFile(file, signal);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
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
