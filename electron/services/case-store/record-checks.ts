// Rows against the audit entries that vouch for them, one check per table. Every field a row shows is
// compared with what its entry recorded, including who and when (the entry's actor and time), so an
// edit behind the triggers' back, a row without an entry or a row removed after one all show up. The
// same checks run on a store (verify) and on an archive's case.json (import). A new table adds one
// RecordCheck to CASE_RECORD_CHECKS.
import crypto from 'node:crypto';
import { canonicalJson } from './canonical-json';
import type { AuditEntry } from './audit-log';
import type { AnalysisRecord, CaseRecord, EvidenceRecord, ExplanationRecord, NoteRecord, ReportRecord, TagRecord } from './case-queries';
import type { ProvenanceFindingRecord } from './provenance-queries';

/** A case's rows, as read from the database or from an archive. */
export interface CaseRecords {
  case: CaseRecord;
  evidence: readonly EvidenceRecord[];
  analyses: readonly AnalysisRecord[];
  explanations: readonly ExplanationRecord[];
  notes: readonly NoteRecord[];
  tags: readonly TagRecord[];
  /** Absent in archives written before provenance findings existed: then there are none. */
  provenance?: readonly ProvenanceFindingRecord[];
  /** Issued PDF reports; absent for an archive, which does not carry them (their entries stay in the chain). */
  reports?: readonly ReportRecord[];
}

export type AuditedEntry = Omit<AuditEntry, 'seq'> & { seq?: number };

export type RecordIssue =
  | { kind: 'case-row-altered'; caseId: string; fields: string[] }
  | { kind: 'case-row-unaudited'; caseId: string }
  | { kind: 'evidence-row-altered'; evidenceId: string; fields: string[] }
  | { kind: 'evidence-row-unaudited'; evidenceId: string }
  | { kind: 'evidence-row-missing'; evidenceId: string; auditIndex: number }
  | { kind: 'analysis-row-altered'; analysisId: string; fields: string[] }
  | { kind: 'analysis-row-unaudited'; analysisId: string }
  | { kind: 'analysis-row-missing'; analysisId: string; auditIndex: number }
  | { kind: 'explanation-row-altered'; explanationId: string; fields: string[] }
  | { kind: 'explanation-row-unaudited'; explanationId: string }
  | { kind: 'explanation-row-missing'; explanationId: string; auditIndex: number }
  | { kind: 'note-row-altered'; noteId: string; fields: string[] }
  | { kind: 'note-row-unaudited'; noteId: string }
  | { kind: 'note-row-missing'; noteId: string; auditIndex: number }
  | { kind: 'tag-row-altered'; evidenceId: string; tag: string; fields: string[] }
  | { kind: 'tag-row-unaudited'; evidenceId: string; tag: string }
  | { kind: 'tag-row-missing'; evidenceId: string; tag: string; auditIndex: number }
  | { kind: 'provenance-row-altered'; findingId: string; fields: string[] }
  | { kind: 'provenance-row-unaudited'; findingId: string }
  | { kind: 'provenance-row-missing'; findingId: string; auditIndex: number }
  | { kind: 'report-row-altered'; reportId: string; fields: string[] }
  | { kind: 'report-row-unaudited'; reportId: string }
  | { kind: 'report-row-missing'; reportId: string; auditIndex: number };

export interface RecordCheck {
  /** The table this check covers. */
  table: string;
  check(records: CaseRecords, audit: readonly AuditedEntry[]): RecordIssue[];
}

/** Fields of two views of one record that disagree, compared as canonical JSON. */
export function differingFields(row: Record<string, unknown>, audited: Record<string, unknown>): string[] {
  return Object.keys(row).filter((k) => canonicalJson(row[k] ?? null) !== canonicalJson(audited[k] ?? null));
}

/**
 * The common shape of a check: rows of one kind, each vouched for by one entry with `action` whose
 * details carry the row's id under `idKey`. `views` gives the row's fields and the entry's account of
 * the same fields, under the same names.
 */
function auditedRows<R>(spec: {
  rows: readonly R[];
  audit: readonly AuditedEntry[];
  action: string;
  idKey: string;
  idOf(row: R): string;
  rowView(row: R): Record<string, unknown>;
  entryView(entry: AuditedEntry): Record<string, unknown>;
  altered(id: string, fields: string[]): RecordIssue;
  unaudited(id: string): RecordIssue;
  missing(id: string, auditIndex: number): RecordIssue;
}): RecordIssue[] {
  const issues: RecordIssue[] = [];
  const vouched = new Map<string, AuditedEntry>();
  for (const entry of spec.audit) {
    const id = entry.details[spec.idKey];
    if (entry.action === spec.action && typeof id === 'string') vouched.set(id, entry);
  }
  const present = new Set<string>();
  for (const row of spec.rows) {
    const id = spec.idOf(row);
    present.add(id);
    const entry = vouched.get(id);
    if (!entry) issues.push(spec.unaudited(id));
    else {
      const fields = differingFields(spec.rowView(row), spec.entryView(entry));
      if (fields.length) issues.push(spec.altered(id, fields));
    }
  }
  for (const [id, entry] of vouched) if (!present.has(id)) issues.push(spec.missing(id, entry.index));
  return issues;
}

/** The fields of an evidence row that its audit entry's details vouch for (the rest: its time and actor). */
export function evidenceAuditDetails(e: EvidenceRecord): Record<string, unknown> {
  return {
    evidenceId: e.id,
    sha256: e.sha256,
    sizeBytes: e.sizeBytes,
    storedPath: e.storedPath,
    originalPath: e.originalPath,
    originalName: e.originalName,
    mimeType: e.mimeType,
    width: e.width,
    height: e.height,
    sourceModifiedAt: e.sourceModifiedAt,
    unreadableReason: e.unreadableReason ?? null,
  };
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

export function explanationAuditDetails(x: ExplanationRecord): Record<string, unknown> {
  return {
    explanationId: x.id,
    analysisId: x.analysisId,
    method: x.method,
    parameters: x.parameters,
    heatmapPath: x.heatmapPath,
    heatmapSha256: x.heatmapSha256,
  };
}

/**
 * A case row is what replaying its entries leaves: case.created's fields, each case.updated's new
 * values (and its time as updatedAt), case.closed's time as closedAt until a case.reopened clears it.
 */
const caseCheck: RecordCheck = {
  table: 'cases',
  check({ case: c }, audit) {
    const created = audit.find((e) => e.action === 'case.created' && e.details.id === c.id);
    if (!created) return [{ kind: 'case-row-unaudited', caseId: c.id }];
    // Cases created before schema 3 have no description or updatedAt in their entry: both are null.
    const vouched: Record<string, unknown> = { description: null, updatedAt: null, ...created.details, id: c.id, createdAt: created.at, closedAt: null };
    for (const e of audit) {
      if (e.index <= created.index || e.details.caseId !== c.id) continue;
      if (e.action === 'case.updated') {
        const changes = (e.details.changes ?? {}) as Record<string, { to?: unknown }>;
        for (const [field, change] of Object.entries(changes)) vouched[field] = change?.to ?? null;
        vouched.updatedAt = e.at;
      } else if (e.action === 'case.closed') vouched.closedAt = e.at;
      else if (e.action === 'case.reopened') vouched.closedAt = null;
    }
    const fields = differingFields({ description: null, updatedAt: null, ...c }, vouched);
    return fields.length ? [{ kind: 'case-row-altered', caseId: c.id, fields }] : [];
  },
};

const evidenceCheck: RecordCheck = {
  table: 'evidence',
  check: (records, audit) =>
    auditedRows({
      rows: records.evidence,
      audit,
      action: 'evidence.ingested',
      idKey: 'evidenceId',
      idOf: (e) => e.id,
      rowView: (e) => ({ ...evidenceAuditDetails(e), caseId: e.caseId, ingestedAt: e.ingestedAt, ingestedBy: e.ingestedBy }),
      entryView: (entry) => ({ ...entry.details, caseId: entry.chain, ingestedAt: entry.at, ingestedBy: entry.actor }),
      altered: (evidenceId, fields) => ({ kind: 'evidence-row-altered', evidenceId, fields }),
      unaudited: (evidenceId) => ({ kind: 'evidence-row-unaudited', evidenceId }),
      missing: (evidenceId, auditIndex) => ({ kind: 'evidence-row-missing', evidenceId, auditIndex }),
    }),
};

const analysisCheck: RecordCheck = {
  table: 'analyses',
  check: (records, audit) =>
    auditedRows({
      rows: records.analyses,
      audit,
      action: 'analysis.recorded',
      idKey: 'analysisId',
      idOf: (a) => a.id,
      rowView: (a) => ({ ...analysisAuditDetails(a), createdAt: a.createdAt, createdBy: a.createdBy }),
      entryView: (entry) => ({ ...entry.details, createdAt: entry.at, createdBy: entry.actor }),
      altered: (analysisId, fields) => ({ kind: 'analysis-row-altered', analysisId, fields }),
      unaudited: (analysisId) => ({ kind: 'analysis-row-unaudited', analysisId }),
      missing: (analysisId, auditIndex) => ({ kind: 'analysis-row-missing', analysisId, auditIndex }),
    }),
};

const explanationCheck: RecordCheck = {
  table: 'explanations',
  check: (records, audit) =>
    auditedRows({
      rows: records.explanations,
      audit,
      action: 'explanation.recorded',
      idKey: 'explanationId',
      idOf: (x) => x.id,
      rowView: (x) => ({ ...explanationAuditDetails(x), createdAt: x.createdAt, createdBy: x.createdBy }),
      entryView: (entry) => ({ ...entry.details, createdAt: entry.at, createdBy: entry.actor }),
      altered: (explanationId, fields) => ({ kind: 'explanation-row-altered', explanationId, fields }),
      unaudited: (explanationId) => ({ kind: 'explanation-row-unaudited', explanationId }),
      missing: (explanationId, auditIndex) => ({ kind: 'explanation-row-missing', explanationId, auditIndex }),
    }),
};

const noteCheck: RecordCheck = {
  table: 'notes',
  check: (records, audit) =>
    auditedRows({
      rows: records.notes,
      audit,
      action: 'note.added',
      idKey: 'id',
      idOf: (n) => n.id,
      rowView: (n) => ({ ...n }),
      entryView: (entry) => ({ ...entry.details, caseId: entry.chain, createdAt: entry.at, author: entry.actor }),
      altered: (noteId, fields) => ({ kind: 'note-row-altered', noteId, fields }),
      unaudited: (noteId) => ({ kind: 'note-row-unaudited', noteId }),
      missing: (noteId, auditIndex) => ({ kind: 'note-row-missing', noteId, auditIndex }),
    }),
};

/** Tags come and go: the rows must be what replaying tag.added and tag.removed leaves. */
const tagCheck: RecordCheck = {
  table: 'tags',
  check({ tags }, audit) {
    const key = (evidenceId: unknown, tag: unknown) => `${String(evidenceId)}\n${String(tag)}`;
    const expected = new Map<string, AuditedEntry>();
    for (const e of audit) {
      if (e.action === 'tag.added') expected.set(key(e.details.evidenceId, e.details.tag), e);
      else if (e.action === 'tag.removed') expected.delete(key(e.details.evidenceId, e.details.tag));
    }
    const issues: RecordIssue[] = [];
    const present = new Set<string>();
    for (const t of tags) {
      const k = key(t.evidenceId, t.tag);
      present.add(k);
      const entry = expected.get(k);
      if (!entry) issues.push({ kind: 'tag-row-unaudited', evidenceId: t.evidenceId, tag: t.tag });
      else {
        const fields = differingFields({ ...t }, entry.details);
        if (fields.length) issues.push({ kind: 'tag-row-altered', evidenceId: t.evidenceId, tag: t.tag, fields });
      }
    }
    for (const [k, entry] of expected) {
      if (!present.has(k)) issues.push({ kind: 'tag-row-missing', evidenceId: String(entry.details.evidenceId), tag: String(entry.details.tag), auditIndex: entry.index });
    }
    return issues;
  },
};

/**
 * A finding's report is re-hashed, not trusted: its sha256 must be the entry's, as must the stored
 * sha256. The headline joined the entry later; an older entry vouches for it through the report it
 * hashes (the headline is the report's finding.headline).
 */
const provenanceCheck: RecordCheck = {
  table: 'provenance_findings',
  check: (records, audit) =>
    auditedRows({
      rows: records.provenance ?? [],
      audit,
      action: 'provenance.recorded',
      idKey: 'findingId',
      idOf: (f) => f.id,
      rowView: (f) => ({
        evidenceId: f.evidenceId,
        conclusion: f.conclusion,
        headline: f.headline,
        c2paState: f.c2paState,
        // The report as stored, hashed again; a stored hash that is not the report's own counts as changed.
        reportSha256: provenanceReportSha256(f.report) === f.reportSha256 ? f.reportSha256 : null,
        readerVersions: f.readerVersions,
        images: f.images,
        createdAt: f.createdAt,
        createdBy: f.createdBy,
      }),
      entryView: (entry) => ({
        ...entry.details,
        headline: 'headline' in entry.details ? entry.details.headline : recordedHeadline(records.provenance ?? [], entry),
        createdAt: entry.at,
        createdBy: entry.actor,
      }),
      altered: (findingId, fields) => ({ kind: 'provenance-row-altered', findingId, fields }),
      unaudited: (findingId) => ({ kind: 'provenance-row-unaudited', findingId }),
      missing: (findingId, auditIndex) => ({ kind: 'provenance-row-missing', findingId, auditIndex }),
    }),
};

function provenanceReportSha256(report: unknown): string | null {
  try {
    return crypto.createHash('sha256').update(canonicalJson(report), 'utf8').digest('hex');
  } catch {
    return null;
  }
}

/** For an entry written before it carried the headline: the headline of the report it vouches for, if that report is intact. */
function recordedHeadline(findings: readonly ProvenanceFindingRecord[], entry: AuditedEntry): unknown {
  const f = findings.find((x) => x.id === entry.details.findingId);
  if (!f || provenanceReportSha256(f.report) !== entry.details.reportSha256) return null;
  return (f.report as { finding?: { headline?: unknown } }).finding?.headline ?? null;
}

/**
 * Reports this store issued: every report.exported entry after the case last arrived by import has its
 * row, and each row every field of its entry. Entries from before an import name reports the exporting
 * store issued; archives do not carry reports, so those have no row here.
 */
const reportCheck: RecordCheck = {
  table: 'reports',
  check(records, audit) {
    if (!records.reports) return [];
    const lastImport = audit.filter((e) => e.action === 'case.imported').pop();
    return auditedRows({
      rows: records.reports,
      audit: lastImport ? audit.filter((e) => e.index > lastImport.index) : audit,
      action: 'report.exported',
      idKey: 'reportId',
      idOf: (r) => r.id,
      rowView: (r) => ({ ...r }),
      entryView: (entry) => ({ ...entry.details, id: entry.details.reportId, caseId: entry.chain, exportedBy: entry.actor }),
      altered: (reportId, fields) => ({ kind: 'report-row-altered', reportId, fields }),
      unaudited: (reportId) => ({ kind: 'report-row-unaudited', reportId }),
      missing: (reportId, auditIndex) => ({ kind: 'report-row-missing', reportId, auditIndex }),
    });
  },
};

/** One check per table of a case; verify and archive import run them all. */
export const CASE_RECORD_CHECKS: readonly RecordCheck[] = [
  caseCheck,
  evidenceCheck,
  analysisCheck,
  explanationCheck,
  noteCheck,
  tagCheck,
  provenanceCheck,
  reportCheck,
];

export function checkCaseRecords(records: CaseRecords, audit: readonly AuditedEntry[]): RecordIssue[] {
  return CASE_RECORD_CHECKS.flatMap((c) => c.check(records, audit));
}
