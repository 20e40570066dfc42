// Every SQL statement of the case store outside migrations and the audit log. Readers take a
// ReadableDB, writers a WritableDB; the store class decides transactions and audit entries.
import type { ReadableDB, WritableDB } from './case-db';
import { canonicalJson } from './canonical-json';

export interface CaseRecord {
  id: string;
  caseNumber: string;
  title: string;
  examiner: string;
  agency: string | null;
  createdAt: string;
  closedAt: string | null;
  /** Free text about the case (schema 3); null for cases created before it. */
  description?: string | null;
  updatedAt?: string | null;
}

export interface EvidenceRecord {
  id: string;
  caseId: string;
  originalPath: string;
  originalName: string;
  /** Relative to the case folder, always with forward slashes: `evidence/<sha256>.<ext>`. */
  storedPath: string;
  sha256: string;
  sizeBytes: number;
  mimeType: string;
  width: number | null;
  height: number | null;
  ingestedAt: string;
  ingestedBy: string;
  sourceModifiedAt: string | null;
  /** Why the pixels could not be decoded at ingest (the file is kept as evidence); null when they could. */
  unreadableReason?: string | null;
}

export interface ModelRef {
  id: string;
  sha256: string;
}

export interface AnalysisRecord {
  id: string;
  evidenceId: string;
  model: ModelRef;
  provider: string;
  pSynthetic: number;
  verdict: string;
  threshold: number;
  durationMs: number;
  createdAt: string;
  createdBy: string;
}

export interface ExplanationRecord {
  id: string;
  analysisId: string;
  method: string;
  parameters: Record<string, unknown>;
  /** Relative to the case folder: `explanations/<sha256>.<ext>`. */
  heatmapPath: string | null;
  heatmapSha256: string | null;
  createdAt: string;
  createdBy: string;
}

export interface NoteRecord {
  id: string;
  caseId: string;
  evidenceId: string | null;
  body: string;
  author: string;
  createdAt: string;
}

export interface TagRecord {
  evidenceId: string;
  tag: string;
  createdAt: string;
  createdBy: string;
}

export interface ModelRecord {
  id: string;
  sha256: string;
  name: string;
  card: Record<string, unknown>;
  registeredAt: string;
}

/** JSON a row holds; text edited into something else is returned as such, for verify to report. */
function parseStoredJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return { unparseable: text };
  }
}

// ---- cases

interface CaseRow {
  id: string;
  case_number: string;
  title: string;
  examiner: string;
  agency: string | null;
  created_at: string;
  closed_at: string | null;
  description?: string | null;
  updated_at?: string | null;
}

const toCase = (r: CaseRow): CaseRecord => ({
  id: r.id,
  caseNumber: r.case_number,
  title: r.title,
  examiner: r.examiner,
  agency: r.agency,
  createdAt: r.created_at,
  closedAt: r.closed_at,
  description: r.description ?? null,
  updatedAt: r.updated_at ?? null,
});

export function insertCase(db: WritableDB, c: CaseRecord): void {
  db.prepare(
    `INSERT INTO cases (id, case_number, title, examiner, agency, created_at, closed_at, description, updated_at)
     VALUES (@id, @caseNumber, @title, @examiner, @agency, @createdAt, @closedAt, @description, @updatedAt)`,
  ).run({ ...c, description: c.description ?? null, updatedAt: c.updatedAt ?? null });
}

export function updateCaseFields(
  db: WritableDB,
  id: string,
  fields: { caseNumber: string; title: string; examiner: string; agency: string | null; description: string | null; updatedAt: string },
): void {
  db.prepare(
    `UPDATE cases SET case_number = @caseNumber, title = @title, examiner = @examiner, agency = @agency,
       description = @description, updated_at = @updatedAt WHERE id = @id`,
  ).run({ ...fields, id });
}

export function setCaseReopened(db: WritableDB, id: string): void {
  db.prepare('UPDATE cases SET closed_at = NULL WHERE id = ?').run(id);
}

export function getCase(db: ReadableDB, id: string): CaseRecord | undefined {
  const row = db.prepare('SELECT * FROM cases WHERE id = ?').get(id) as CaseRow | undefined;
  return row && toCase(row);
}

export function getCaseByNumber(db: ReadableDB, caseNumber: string): CaseRecord | undefined {
  const row = db.prepare('SELECT * FROM cases WHERE case_number = ?').get(caseNumber) as CaseRow | undefined;
  return row && toCase(row);
}

export function listCases(db: ReadableDB): CaseRecord[] {
  return (db.prepare('SELECT * FROM cases ORDER BY created_at, id').all() as CaseRow[]).map(toCase);
}

export function setCaseClosed(db: WritableDB, id: string, closedAt: string): void {
  db.prepare('UPDATE cases SET closed_at = ? WHERE id = ?').run(closedAt, id);
}

// ---- evidence

interface EvidenceRow {
  id: string;
  case_id: string;
  original_path: string;
  original_name: string;
  stored_path: string;
  sha256: string;
  size_bytes: number;
  mime_type: string;
  width: number | null;
  height: number | null;
  ingested_at: string;
  ingested_by: string;
  source_modified_at: string | null;
  unreadable_reason?: string | null;
}

const toEvidence = (r: EvidenceRow): EvidenceRecord => ({
  id: r.id,
  caseId: r.case_id,
  originalPath: r.original_path,
  originalName: r.original_name,
  storedPath: r.stored_path,
  sha256: r.sha256,
  sizeBytes: r.size_bytes,
  mimeType: r.mime_type,
  width: r.width,
  height: r.height,
  ingestedAt: r.ingested_at,
  ingestedBy: r.ingested_by,
  sourceModifiedAt: r.source_modified_at ?? null,
  unreadableReason: r.unreadable_reason ?? null,
});

export function insertEvidence(db: WritableDB, e: EvidenceRecord): void {
  db.prepare(
    `INSERT INTO evidence (id, case_id, original_path, original_name, stored_path, sha256, size_bytes, mime_type,
       width, height, ingested_at, ingested_by, source_modified_at, unreadable_reason)
     VALUES (@id, @caseId, @originalPath, @originalName, @storedPath, @sha256, @sizeBytes, @mimeType,
       @width, @height, @ingestedAt, @ingestedBy, @sourceModifiedAt, @unreadableReason)`,
  ).run({ ...e, unreadableReason: e.unreadableReason ?? null });
}

export function getEvidence(db: ReadableDB, id: string): EvidenceRecord | undefined {
  const row = db.prepare('SELECT * FROM evidence WHERE id = ?').get(id) as EvidenceRow | undefined;
  return row && toEvidence(row);
}

export function findEvidenceBySha256(db: ReadableDB, caseId: string, sha256: string): EvidenceRecord | undefined {
  const row = db.prepare('SELECT * FROM evidence WHERE case_id = ? AND sha256 = ?').get(caseId, sha256) as
    | EvidenceRow
    | undefined;
  return row && toEvidence(row);
}

export function listEvidence(db: ReadableDB, caseId: string): EvidenceRecord[] {
  return (
    db.prepare('SELECT * FROM evidence WHERE case_id = ? ORDER BY ingested_at, id').all(caseId) as EvidenceRow[]
  ).map(toEvidence);
}

// ---- analyses and explanations

interface AnalysisRow {
  id: string;
  evidence_id: string;
  model_id: string;
  model_sha256: string;
  provider: string;
  p_synthetic: number;
  verdict: string;
  threshold: number;
  duration_ms: number;
  created_at: string;
  created_by: string;
}

const toAnalysis = (r: AnalysisRow): AnalysisRecord => ({
  id: r.id,
  evidenceId: r.evidence_id,
  model: { id: r.model_id, sha256: r.model_sha256 },
  provider: r.provider,
  pSynthetic: r.p_synthetic,
  verdict: r.verdict,
  threshold: r.threshold,
  durationMs: r.duration_ms,
  createdAt: r.created_at,
  createdBy: r.created_by,
});

export function insertAnalysis(db: WritableDB, a: AnalysisRecord): void {
  db.prepare(
    `INSERT INTO analyses (id, evidence_id, model_id, model_sha256, provider, p_synthetic, verdict, threshold,
       duration_ms, created_at, created_by)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(
    a.id,
    a.evidenceId,
    a.model.id,
    a.model.sha256,
    a.provider,
    a.pSynthetic,
    a.verdict,
    a.threshold,
    a.durationMs,
    a.createdAt,
    a.createdBy,
  );
}

export function getAnalysis(db: ReadableDB, id: string): AnalysisRecord | undefined {
  const row = db.prepare('SELECT * FROM analyses WHERE id = ?').get(id) as AnalysisRow | undefined;
  return row && toAnalysis(row);
}

export function listAnalysesForCase(db: ReadableDB, caseId: string): AnalysisRecord[] {
  return (
    db
      .prepare(
        `SELECT a.* FROM analyses a JOIN evidence e ON e.id = a.evidence_id
         WHERE e.case_id = ? ORDER BY a.created_at, a.id`,
      )
      .all(caseId) as AnalysisRow[]
  ).map(toAnalysis);
}

export function listAnalysesForEvidence(db: ReadableDB, evidenceId: string): AnalysisRecord[] {
  return (
    db.prepare('SELECT * FROM analyses WHERE evidence_id = ? ORDER BY created_at, id').all(evidenceId) as AnalysisRow[]
  ).map(toAnalysis);
}

interface ExplanationRow {
  id: string;
  analysis_id: string;
  method: string;
  parameters: string;
  heatmap_path: string | null;
  heatmap_sha256: string | null;
  created_at: string;
  created_by: string;
}

const toExplanation = (r: ExplanationRow): ExplanationRecord => ({
  id: r.id,
  analysisId: r.analysis_id,
  method: r.method,
  parameters: parseStoredJson(r.parameters) as Record<string, unknown>,
  heatmapPath: r.heatmap_path,
  heatmapSha256: r.heatmap_sha256,
  createdAt: r.created_at,
  createdBy: r.created_by,
});

export function insertExplanation(db: WritableDB, x: ExplanationRecord): void {
  db.prepare(
    `INSERT INTO explanations (id, analysis_id, method, parameters, heatmap_path, heatmap_sha256, created_at, created_by)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(x.id, x.analysisId, x.method, canonicalJson(x.parameters), x.heatmapPath, x.heatmapSha256, x.createdAt, x.createdBy);
}

export function listExplanationsForCase(db: ReadableDB, caseId: string): ExplanationRecord[] {
  return (
    db
      .prepare(
        `SELECT x.* FROM explanations x JOIN analyses a ON a.id = x.analysis_id JOIN evidence e ON e.id = a.evidence_id
         WHERE e.case_id = ? ORDER BY x.created_at, x.id`,
      )
      .all(caseId) as ExplanationRow[]
  ).map(toExplanation);
}

// ---- notes and tags

interface NoteRow {
  id: string;
  case_id: string;
  evidence_id: string | null;
  body: string;
  author: string;
  created_at: string;
}

export function insertNote(db: WritableDB, n: NoteRecord): void {
  db.prepare(
    `INSERT INTO notes (id, case_id, evidence_id, body, author, created_at)
     VALUES (@id, @caseId, @evidenceId, @body, @author, @createdAt)`,
  ).run(n);
}

export function listNotes(db: ReadableDB, caseId: string): NoteRecord[] {
  return (db.prepare('SELECT * FROM notes WHERE case_id = ? ORDER BY created_at, id').all(caseId) as NoteRow[]).map(
    (r) => ({
      id: r.id,
      caseId: r.case_id,
      evidenceId: r.evidence_id,
      body: r.body,
      author: r.author,
      createdAt: r.created_at,
    }),
  );
}

interface TagRow {
  evidence_id: string;
  tag: string;
  created_at: string;
  created_by: string;
}

/** Returns false when the tag was already there. */
export function insertTag(db: WritableDB, t: TagRecord): boolean {
  const info = db
    .prepare(
      `INSERT OR IGNORE INTO tags (evidence_id, tag, created_at, created_by)
       VALUES (@evidenceId, @tag, @createdAt, @createdBy)`,
    )
    .run(t);
  return info.changes > 0;
}

export function deleteTag(db: WritableDB, evidenceId: string, tag: string): boolean {
  return db.prepare('DELETE FROM tags WHERE evidence_id = ? AND tag = ?').run(evidenceId, tag).changes > 0;
}

export function listTagsForCase(db: ReadableDB, caseId: string): TagRecord[] {
  return (
    db
      .prepare(
        `SELECT t.* FROM tags t JOIN evidence e ON e.id = t.evidence_id WHERE e.case_id = ? ORDER BY t.evidence_id, t.tag`,
      )
      .all(caseId) as TagRow[]
  ).map((r) => ({ evidenceId: r.evidence_id, tag: r.tag, createdAt: r.created_at, createdBy: r.created_by }));
}

// ---- models and settings

interface ModelRow {
  id: string;
  sha256: string;
  name: string;
  card: string;
  registered_at: string;
}

const toModel = (r: ModelRow): ModelRecord => ({
  id: r.id,
  sha256: r.sha256,
  name: r.name,
  card: parseStoredJson(r.card) as Record<string, unknown>,
  registeredAt: r.registered_at,
});

/** Returns false when this exact model (id and weights hash) was registered before. */
export function insertModel(db: WritableDB, m: ModelRecord): boolean {
  const info = db
    .prepare(`INSERT OR IGNORE INTO models (id, sha256, name, card, registered_at) VALUES (?, ?, ?, ?, ?)`)
    .run(m.id, m.sha256, m.name, canonicalJson(m.card), m.registeredAt);
  return info.changes > 0;
}

export function getModel(db: ReadableDB, ref: ModelRef): ModelRecord | undefined {
  const row = db.prepare('SELECT * FROM models WHERE id = ? AND sha256 = ?').get(ref.id, ref.sha256) as
    | ModelRow
    | undefined;
  return row && toModel(row);
}

export function listModels(db: ReadableDB): ModelRecord[] {
  return (db.prepare('SELECT * FROM models ORDER BY id, registered_at').all() as ModelRow[]).map(toModel);
}

export function upsertSetting(db: WritableDB, key: string, value: unknown, updatedAt: string): void {
  db.prepare(
    `INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?)
     ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
  ).run(key, canonicalJson(value), updatedAt);
}

export function listSettings(db: ReadableDB): { key: string; value: unknown; updatedAt: string }[] {
  return (db.prepare('SELECT * FROM settings ORDER BY key').all() as { key: string; value: string; updated_at: string }[]).map((r) => ({
    key: r.key,
    value: parseStoredJson(r.value),
    updatedAt: r.updated_at,
  }));
}

export function getSetting(db: ReadableDB, key: string): unknown {
  const row = db.prepare('SELECT value FROM settings WHERE key = ?').get(key) as { value: string } | undefined;
  return row ? (JSON.parse(row.value) as unknown) : undefined;
}

// ---- reports

export interface ReportRecord {
  id: string;
  caseId: string;
  sha256: string;
  sizeBytes: number;
  pageCount: number;
  /** Relative to the case folder: `reports/<id>.pdf`, the copy the store keeps. */
  storedPath: string;
  /** Where else the report was written (the CLI's --out), or null. */
  outputPath: string | null;
  evidenceIds: string[];
  exportedAt: string;
  exportedBy: string;
  auditHead: { index: number; hash: string } | null;
  verifyOk: boolean;
  signed: boolean;
}

interface ReportRow {
  id: string;
  case_id: string;
  sha256: string;
  size_bytes: number;
  page_count: number;
  stored_path: string;
  output_path: string | null;
  evidence_ids: string;
  exported_at: string;
  exported_by: string;
  audit_head_index: number | null;
  audit_head_hash: string | null;
  verify_ok: number;
  signed: number;
}

const toReport = (r: ReportRow): ReportRecord => ({
  id: r.id,
  caseId: r.case_id,
  sha256: r.sha256,
  sizeBytes: r.size_bytes,
  pageCount: r.page_count,
  storedPath: r.stored_path,
  outputPath: r.output_path,
  evidenceIds: JSON.parse(r.evidence_ids) as string[],
  exportedAt: r.exported_at,
  exportedBy: r.exported_by,
  auditHead: r.audit_head_index === null || r.audit_head_hash === null ? null : { index: r.audit_head_index, hash: r.audit_head_hash },
  verifyOk: r.verify_ok === 1,
  signed: r.signed === 1,
});

export function insertReport(db: WritableDB, r: ReportRecord): void {
  db.prepare(
    `INSERT INTO reports (id, case_id, sha256, size_bytes, page_count, stored_path, output_path, evidence_ids, exported_at,
       exported_by, audit_head_index, audit_head_hash, verify_ok, signed)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(
    r.id,
    r.caseId,
    r.sha256,
    r.sizeBytes,
    r.pageCount,
    r.storedPath,
    r.outputPath,
    canonicalJson(r.evidenceIds),
    r.exportedAt,
    r.exportedBy,
    r.auditHead?.index ?? null,
    r.auditHead?.hash ?? null,
    r.verifyOk ? 1 : 0,
    r.signed ? 1 : 0,
  );
}

export function getReport(db: ReadableDB, id: string): ReportRecord | undefined {
  const row = db.prepare('SELECT * FROM reports WHERE id = ?').get(id) as ReportRow | undefined;
  return row && toReport(row);
}

export function findReportsBySha256(db: ReadableDB, sha256: string): ReportRecord[] {
  return (db.prepare('SELECT * FROM reports WHERE sha256 = ? ORDER BY exported_at, id').all(sha256) as ReportRow[]).map(toReport);
}

export function listReports(db: ReadableDB, caseId: string): ReportRecord[] {
  return (db.prepare('SELECT * FROM reports WHERE case_id = ? ORDER BY exported_at, id').all(caseId) as ReportRow[]).map(toReport);
}
