// EvidenceStore's front door: one object per data folder, holding a writable and a read-only
// connection. It is a plain class with no globals, so a worker thread can own it.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { openReadableDatabase, openWritableDatabase, getSchemaVersion, type ReadableDB, type WritableDB } from './case-db';
import { CaseStoreError } from './case-store-error';
import { appendAuditEntry, GLOBAL_CHAIN, listAuditEntries, type AuditEntry } from './audit-log';
import * as q from './case-queries';
import type {
  AnalysisRecord,
  CaseRecord,
  EvidenceRecord,
  ExplanationRecord,
  ModelRecord,
  NoteRecord,
  ReportRecord,
  TagRecord,
} from './case-queries';
import { migrateDatabase } from './migrations';
import { ingestIntoCase, type IngestOptions, type IngestResult } from './evidence-ingest';
import {
  analysisAuditDetails,
  verifyCaseRecords,
  verifyGlobalRecords,
  type GlobalVerifyReport,
  type VerifyOptions,
  type VerifyReport,
} from './case-verify';
import { explanationAuditDetails } from './record-checks';
import {
  casePaths,
  copyToTemp,
  fsyncDir,
  hashFile,
  identifyImage,
  placeVerifiedCopy,
  removeFileIfPresent,
  SHA256_PATTERN,
  UUID_PATTERN,
} from './evidence-files';
import { exportCaseArchive, importCaseArchive, removeAbandonedImports, type ExportResult, type ImportResult } from './case-archive';
import { canonicalJson } from './canonical-json';
import {
  insertProvenanceFinding,
  listProvenanceFindingsForCase,
  listProvenanceFindingsForEvidence,
  type ProvenanceFindingRecord,
} from './provenance-queries';

export const CASE_DB_FILE = 'cases.sqlite';

const nonEmpty = (max: number) => z.string().trim().min(1).max(max);
const unit = z.number().finite().min(0).max(1);

const newCaseSchema = z.object({
  caseNumber: nonEmpty(200),
  title: nonEmpty(1000),
  examiner: nonEmpty(200),
  agency: nonEmpty(200).optional(),
  description: z.string().trim().max(20_000).optional(),
});
export type NewCase = z.input<typeof newCaseSchema>;

const caseEditSchema = z.object({
  caseNumber: nonEmpty(200).optional(),
  title: nonEmpty(1000).optional(),
  examiner: nonEmpty(200).optional(),
  agency: z.string().trim().max(200).nullable().optional(),
  description: z.string().trim().max(20_000).nullable().optional(),
});
export type CaseEdit = z.input<typeof caseEditSchema>;

const modelRefSchema = z.object({ id: nonEmpty(200), sha256: z.string().regex(SHA256_PATTERN, 'a lowercase hex sha256') });

const analysisInputSchema = z.object({
  evidenceId: nonEmpty(100),
  model: modelRefSchema,
  provider: nonEmpty(100),
  pSynthetic: unit,
  verdict: nonEmpty(64),
  threshold: unit,
  durationMs: z.number().finite().nonnegative(),
  actor: nonEmpty(200),
});
export type RecordAnalysisInput = z.input<typeof analysisInputSchema>;

const explanationInputSchema = z.object({
  analysisId: nonEmpty(100),
  method: nonEmpty(100),
  parameters: z.record(z.unknown()),
  heatmap: z.union([z.instanceof(Uint8Array), z.object({ path: nonEmpty(4096) })]).optional(),
  actor: nonEmpty(200),
});
export type RecordExplanationInput = z.input<typeof explanationInputSchema>;

const modelInputSchema = z.object({
  id: nonEmpty(200),
  sha256: z.string().regex(SHA256_PATTERN, 'a lowercase hex sha256'),
  name: nonEmpty(500),
  card: z.record(z.unknown()),
});
export type RegisterModelInput = z.input<typeof modelInputSchema>;
export type ModelEventAction = 'model.activated' | 'model.deleted' | 'model.imported' | 'model.exported' | 'model.threshold-version';

const provenanceInputSchema = z.object({
  evidenceId: nonEmpty(100),
  conclusion: nonEmpty(64),
  headline: z.string().min(1).max(20_000),
  c2paState: nonEmpty(64),
  report: z.record(z.unknown()),
  readerVersions: z.record(z.string().max(200)),
  images: z.record(z.string().regex(SHA256_PATTERN).nullable()),
  actor: nonEmpty(200),
});
export type RecordProvenanceInput = z.input<typeof provenanceInputSchema>;

function parseInput<T>(schema: z.ZodType<T, z.ZodTypeDef, unknown>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || what}: ${i.message}`);
    throw new CaseStoreError('INVALID_ARGUMENT', `Invalid ${what}: ${problems.join('; ')}`, { problems });
  }
  return parsed.data;
}

export type CaseSummary = CaseRecord & { evidenceCount: number };

/** A first run has no case folders; a data folder with some has lost its database if the file is gone or empty. */
function refuseMissingDatabase(dataDir: string): void {
  const file = path.join(dataDir, CASE_DB_FILE);
  const size = fs.statSync(file, { throwIfNoEntry: false })?.size;
  if (size !== undefined && size > 0) return;
  let caseFolders: string[] = [];
  try {
    caseFolders = fs.readdirSync(path.join(dataDir, 'cases')).filter((n) => UUID_PATTERN.test(n));
  } catch {
    return;
  }
  if (!caseFolders.length) return;
  throw new CaseStoreError(
    'DATABASE_MISSING',
    `The case database ${file} is ${size === undefined ? 'missing' : 'empty'}, but ${caseFolders.length} case folder(s) are in ${path.join(dataDir, 'cases')}. ` +
      'It was not recreated, so nothing is recorded against those cases by mistake: restore the database from a backup, or import the cases from their exported archives into a new data folder.',
    { file, caseFolders: caseFolders.length },
  );
}

/**
 * Opens the database and checks its pages before anything is written: a damaged file gets a sentence
 * and a refusal, never a migration or an audit entry written into it.
 */
function openCheckedDatabase(file: string): WritableDB {
  let db: WritableDB | undefined;
  try {
    db = openWritableDatabase(file);
    const problems = (db.pragma('quick_check(5)') as { quick_check: string }[]).map((r) => r.quick_check).filter((r) => r !== 'ok');
    if (problems.length) throw Object.assign(new Error(problems.join('; ')), { code: 'SQLITE_CORRUPT' });
    return db;
  } catch (e) {
    db?.close();
    throw databaseDamaged(file, e);
  }
}

/** SQLite's own errors about the file, turned into one sentence an examiner can act on. */
export function databaseDamaged(file: string, e: unknown): unknown {
  const code = String((e as { code?: unknown }).code ?? '');
  if (!['SQLITE_CORRUPT', 'SQLITE_NOTADB', 'SQLITE_IOERR_SHORT_READ', 'SQLITE_CANTOPEN'].some((c) => code.startsWith(c))) return e;
  return new CaseStoreError(
    'DATABASE_CORRUPT',
    `The case database ${file} is damaged or not a database (${(e as Error).message}); it was not changed and nothing will be written to it. ` +
      'Keep the file as it is for examination and restore the database from a backup or from exported case archives.',
    { file, sqlite: code },
  );
}

export class CaseStore {
  readonly dbFile: string;
  private readonly writer: WritableDB;
  private readonly reader: ReadableDB;
  private closed = false;

  private constructor(readonly dataDir: string) {
    this.dbFile = path.join(dataDir, CASE_DB_FILE);
    this.writer = openCheckedDatabase(this.dbFile);
    try {
      migrateDatabase(this.writer);
      this.reader = openReadableDatabase(this.dbFile);
    } catch (e) {
      this.writer.close();
      throw e;
    }
  }

  /**
   * Opens `<dataDir>/cases.sqlite` and brings it to the current schema. It is created only on a first
   * run: when case folders are already there, a missing or emptied database is an error, not a new store.
   */
  static open(dataDir: string): CaseStore {
    const dir = path.resolve(dataDir);
    refuseMissingDatabase(dir);
    fs.mkdirSync(path.join(dir, 'cases'), { recursive: true });
    const store = new CaseStore(dir);
    try {
      store.abandonedImportsRemoved = removeAbandonedImports(store.writer, dir, 'case-store');
    } catch (e) {
      store.close();
      throw e;
    }
    return store;
  }

  /** Staging folders of killed archive imports that opening the store removed (and audited). */
  abandonedImportsRemoved: string[] = [];

  get schemaVersion(): number {
    return getSchemaVersion(this.reader);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.reader.close();
    this.writer.close();
  }

  // ---- cases

  createCase(input: NewCase, actor?: string): CaseRecord {
    const c = parseInput(newCaseSchema, input, 'case');
    const record: CaseRecord = {
      id: crypto.randomUUID(),
      caseNumber: c.caseNumber,
      title: c.title,
      examiner: c.examiner,
      agency: c.agency ?? null,
      createdAt: new Date().toISOString(),
      closedAt: null,
      description: c.description ? c.description : null,
      updatedAt: null,
    };
    this.write(() => {
      if (q.getCaseByNumber(this.writer, record.caseNumber)) {
        throw new CaseStoreError('CASE_EXISTS', `Case number ${record.caseNumber} is already in use.`, {
          caseNumber: record.caseNumber,
        });
      }
      q.insertCase(this.writer, record);
      appendAuditEntry(this.writer, {
        chain: record.id,
        actor: actor ?? record.examiner,
        action: 'case.created',
        at: record.createdAt,
        details: { ...record },
      });
    });
    fs.mkdirSync(casePaths(this.dataDir, record.id).evidenceDir, { recursive: true });
    return record;
  }

  /** Accepts a case id or a case number, as people type either. */
  findCase(idOrNumber: string): CaseRecord | undefined {
    return q.getCase(this.reader, idOrNumber) ?? q.getCaseByNumber(this.reader, idOrNumber);
  }

  getCase(idOrNumber: string): CaseRecord {
    const c = this.findCase(idOrNumber);
    if (!c) throw new CaseStoreError('CASE_NOT_FOUND', `No case with id or number ${JSON.stringify(idOrNumber)}.`, { case: idOrNumber });
    return c;
  }

  listCases(): CaseSummary[] {
    return q.listCases(this.reader).map((c) => ({ ...c, evidenceCount: q.listEvidence(this.reader, c.id).length }));
  }

  closeCase(caseId: string, actor: string): CaseRecord {
    const c = this.getOpenCase(caseId);
    const closedAt = new Date().toISOString();
    this.write(() => {
      q.setCaseClosed(this.writer, c.id, closedAt);
      appendAuditEntry(this.writer, { chain: c.id, actor, action: 'case.closed', at: closedAt, details: { caseId: c.id } });
    });
    return { ...c, closedAt };
  }

  /** Changes a case's descriptive fields; the audit entry records each field's old and new value. */
  updateCase(caseId: string, edit: CaseEdit, actor: string): CaseRecord {
    const c = this.getCase(caseId);
    const e = parseInput(caseEditSchema, edit, 'case edit');
    const blankToNull = (v: string | null | undefined, old: string | null) => (v === undefined ? old : v === null || v === '' ? null : v);
    const next = {
      caseNumber: e.caseNumber ?? c.caseNumber,
      title: e.title ?? c.title,
      examiner: e.examiner ?? c.examiner,
      agency: blankToNull(e.agency, c.agency),
      description: blankToNull(e.description, c.description ?? null),
      updatedAt: new Date().toISOString(),
    };
    const changes: Record<string, { from: unknown; to: unknown }> = {};
    for (const k of ['caseNumber', 'title', 'examiner', 'agency', 'description'] as const) {
      const before = k === 'description' ? (c.description ?? null) : c[k];
      if (before !== next[k]) changes[k] = { from: before, to: next[k] };
    }
    if (Object.keys(changes).length === 0) return c;
    this.write(() => {
      if (changes.caseNumber) {
        const other = q.getCaseByNumber(this.writer, next.caseNumber);
        if (other && other.id !== c.id) {
          throw new CaseStoreError('CASE_EXISTS', `Case number ${next.caseNumber} is already in use.`, { caseNumber: next.caseNumber });
        }
      }
      q.updateCaseFields(this.writer, c.id, next);
      appendAuditEntry(this.writer, { chain: c.id, actor, action: 'case.updated', at: next.updatedAt, details: { caseId: c.id, changes } });
    });
    return { ...c, ...next };
  }

  reopenCase(caseId: string, actor: string): CaseRecord {
    const c = this.getCase(caseId);
    if (!c.closedAt) return c;
    this.write(() => {
      q.setCaseReopened(this.writer, c.id);
      appendAuditEntry(this.writer, { chain: c.id, actor, action: 'case.reopened', details: { caseId: c.id, closedAt: c.closedAt } });
    });
    return { ...c, closedAt: null };
  }

  private getOpenCase(idOrNumber: string): CaseRecord {
    const c = this.getCase(idOrNumber);
    if (c.closedAt) throw new CaseStoreError('CASE_CLOSED', `Case ${c.caseNumber} was closed at ${c.closedAt}.`, { caseId: c.id });
    return c;
  }

  // ---- evidence

  /** Copies files and folders into the case; see IngestResult for what happened to each file. */
  async ingest(caseId: string, inputs: readonly string[], options: IngestOptions): Promise<IngestResult> {
    const c = this.getOpenCase(caseId);
    parseInput(nonEmpty(200), options.actor, 'actor');
    return ingestIntoCase(this.writer, this.dataDir, c.id, inputs, options);
  }

  listEvidence(caseId: string): EvidenceRecord[] {
    return q.listEvidence(this.reader, this.getCase(caseId).id);
  }

  getEvidence(evidenceId: string): EvidenceRecord {
    const e = q.getEvidence(this.reader, evidenceId);
    if (!e) throw new CaseStoreError('EVIDENCE_NOT_FOUND', `No evidence with id ${JSON.stringify(evidenceId)}.`, { evidenceId });
    return e;
  }

  /** The stored (read-only) copy, which is what analyses must read. */
  evidenceFilePath(evidence: EvidenceRecord): string {
    return path.join(casePaths(this.dataDir, evidence.caseId).root, ...evidence.storedPath.split('/'));
  }

  // ---- analyses and explanations

  /** Records what a model said about a piece of evidence, with the exact model and provider. */
  recordAnalysis(input: RecordAnalysisInput): AnalysisRecord {
    const a = parseInput(analysisInputSchema, input, 'analysis');
    const evidence = this.getEvidence(a.evidenceId);
    this.getOpenCase(evidence.caseId);
    const record: AnalysisRecord = {
      id: crypto.randomUUID(),
      evidenceId: evidence.id,
      model: { id: a.model.id, sha256: a.model.sha256 },
      provider: a.provider,
      pSynthetic: a.pSynthetic,
      verdict: a.verdict,
      threshold: a.threshold,
      durationMs: a.durationMs,
      createdAt: new Date().toISOString(),
      createdBy: a.actor,
    };
    this.write(() => {
      q.insertAnalysis(this.writer, record);
      appendAuditEntry(this.writer, {
        chain: evidence.caseId,
        actor: a.actor,
        action: 'analysis.recorded',
        at: record.createdAt,
        details: analysisAuditDetails(record),
      });
    });
    return record;
  }

  /** An analysis that could not run is on the record too: the examiner and a later reader see why. */
  recordAnalysisFailure(input: { evidenceId: string; code: string; message: string; actor: string; model?: { id: string; sha256: string } }): void {
    const evidence = this.getEvidence(input.evidenceId);
    this.getOpenCase(evidence.caseId);
    const actor = parseInput(nonEmpty(200), input.actor, 'actor');
    this.write(() => {
      appendAuditEntry(this.writer, {
        chain: evidence.caseId,
        actor,
        action: 'analysis.failed',
        details: { evidenceId: evidence.id, sha256: evidence.sha256, code: input.code, message: input.message, ...(input.model ? { model: input.model } : {}) },
      });
    });
  }

  listAnalyses(caseId: string): AnalysisRecord[] {
    return q.listAnalysesForCase(this.reader, this.getCase(caseId).id);
  }

  listAnalysesForEvidence(evidenceId: string): AnalysisRecord[] {
    return q.listAnalysesForEvidence(this.reader, evidenceId);
  }

  /** Records how an analysis was explained; a heatmap image is stored read-only beside the evidence. */
  async recordExplanation(input: RecordExplanationInput): Promise<ExplanationRecord> {
    const x = parseInput(explanationInputSchema, input, 'explanation');
    const analysis = q.getAnalysis(this.reader, x.analysisId);
    if (!analysis) throw new CaseStoreError('ANALYSIS_NOT_FOUND', `No analysis with id ${JSON.stringify(x.analysisId)}.`);
    const evidence = this.getEvidence(analysis.evidenceId);
    this.getOpenCase(evidence.caseId);
    let heatmap: { path: string; sha256: string } | null = null;
    if (x.heatmap) heatmap = await this.storeHeatmap(evidence.caseId, x.heatmap);
    const record: ExplanationRecord = {
      id: crypto.randomUUID(),
      analysisId: analysis.id,
      method: x.method,
      parameters: x.parameters,
      heatmapPath: heatmap?.path ?? null,
      heatmapSha256: heatmap?.sha256 ?? null,
      createdAt: new Date().toISOString(),
      createdBy: x.actor,
    };
    this.write(() => {
      q.insertExplanation(this.writer, record);
      appendAuditEntry(this.writer, {
        chain: evidence.caseId,
        actor: x.actor,
        action: 'explanation.recorded',
        at: record.createdAt,
        details: explanationAuditDetails(record),
      });
    });
    return record;
  }

  listExplanations(caseId: string): ExplanationRecord[] {
    return q.listExplanationsForCase(this.reader, this.getCase(caseId).id);
  }

  private async storeHeatmap(caseId: string, heatmap: Uint8Array | { path: string }): Promise<{ path: string; sha256: string }> {
    const paths = casePaths(this.dataDir, caseId);
    await fs.promises.mkdir(paths.explanationsDir, { recursive: true });
    // Not in the ingest's .partial folder: an ingest clears that folder and may run at the same time.
    let tempPath: string;
    let sha256: string;
    if (heatmap instanceof Uint8Array) {
      tempPath = path.join(paths.explanationsDir, `.${crypto.randomUUID()}.part`);
      const handle = await fs.promises.open(tempPath, 'wx', 0o600);
      try {
        await handle.writeFile(heatmap);
        await handle.sync();
      } finally {
        await handle.close();
      }
      sha256 = crypto.createHash('sha256').update(heatmap).digest('hex');
    } else {
      const copy = await copyToTemp(path.resolve(heatmap.path), paths.explanationsDir);
      tempPath = copy.tempPath;
      sha256 = copy.sha256;
    }
    try {
      const image = await identifyImage(tempPath, 'heatmap');
      if (!['png', 'jpg', 'webp'].includes(image.ext)) {
        throw new CaseStoreError('UNSUPPORTED_IMAGE_FORMAT', `A heatmap must be PNG, JPEG or WebP, not ${image.mimeType}.`);
      }
      const reread = await hashFile(tempPath);
      if (reread.sha256 !== sha256) throw new CaseStoreError('COPY_MISMATCH', 'The stored heatmap does not match what was written.');
      const stored = `explanations/${sha256}.${image.ext}`;
      await placeVerifiedCopy(tempPath, path.join(paths.root, stored), sha256);
      await fsyncDir(paths.explanationsDir);
      return { path: stored, sha256 };
    } finally {
      await removeFileIfPresent(tempPath);
    }
  }

  // ---- provenance findings

  /** Records a provenance finding (the whole report, canonical JSON, hashed into the case's audit chain). */
  recordProvenanceFinding(input: RecordProvenanceInput): ProvenanceFindingRecord {
    const p = parseInput(provenanceInputSchema, input, 'provenance finding');
    const evidence = this.getEvidence(p.evidenceId);
    this.getOpenCase(evidence.caseId);
    let reportJson: string;
    try {
      reportJson = canonicalJson(p.report);
    } catch (e) {
      throw new CaseStoreError('INVALID_ARGUMENT', `Invalid provenance report: ${(e as Error).message}`);
    }
    const record: ProvenanceFindingRecord = {
      id: crypto.randomUUID(),
      evidenceId: evidence.id,
      conclusion: p.conclusion,
      headline: p.headline,
      c2paState: p.c2paState,
      report: JSON.parse(reportJson) as Record<string, unknown>,
      reportSha256: crypto.createHash('sha256').update(reportJson, 'utf8').digest('hex'),
      readerVersions: p.readerVersions,
      images: p.images,
      createdAt: new Date().toISOString(),
      createdBy: p.actor,
    };
    this.write(() => {
      insertProvenanceFinding(this.writer, record, reportJson);
      appendAuditEntry(this.writer, {
        chain: evidence.caseId,
        actor: p.actor,
        action: 'provenance.recorded',
        at: record.createdAt,
        details: {
          findingId: record.id,
          evidenceId: record.evidenceId,
          conclusion: record.conclusion,
          headline: record.headline,
          c2paState: record.c2paState,
          reportSha256: record.reportSha256,
          readerVersions: record.readerVersions,
          images: record.images,
        },
      });
    });
    return record;
  }

  listProvenanceFindings(evidenceId: string): ProvenanceFindingRecord[] {
    return listProvenanceFindingsForEvidence(this.reader, this.getEvidence(evidenceId).id);
  }

  listCaseProvenanceFindings(caseId: string): ProvenanceFindingRecord[] {
    return listProvenanceFindingsForCase(this.reader, this.getCase(caseId).id);
  }

  // ---- notes, tags

  addNote(input: { caseId: string; evidenceId?: string; body: string; author: string }): NoteRecord {
    const c = this.getOpenCase(input.caseId);
    const body = parseInput(z.string().min(1).max(100_000), input.body, 'note body');
    const author = parseInput(nonEmpty(200), input.author, 'author');
    if (input.evidenceId !== undefined && this.getEvidence(input.evidenceId).caseId !== c.id) {
      throw new CaseStoreError('INVALID_ARGUMENT', 'That evidence belongs to another case.');
    }
    const note: NoteRecord = {
      id: crypto.randomUUID(),
      caseId: c.id,
      evidenceId: input.evidenceId ?? null,
      body,
      author,
      createdAt: new Date().toISOString(),
    };
    this.write(() => {
      q.insertNote(this.writer, note);
      appendAuditEntry(this.writer, { chain: c.id, actor: author, action: 'note.added', at: note.createdAt, details: { ...note } });
    });
    return note;
  }

  listNotes(caseId: string): NoteRecord[] {
    return q.listNotes(this.reader, this.getCase(caseId).id);
  }

  tagEvidence(evidenceId: string, tag: string, actor: string): TagRecord {
    const evidence = this.getEvidence(evidenceId);
    this.getOpenCase(evidence.caseId);
    const t: TagRecord = {
      evidenceId,
      tag: parseInput(nonEmpty(100), tag, 'tag'),
      createdAt: new Date().toISOString(),
      createdBy: parseInput(nonEmpty(200), actor, 'actor'),
    };
    this.write(() => {
      if (q.insertTag(this.writer, t)) {
        appendAuditEntry(this.writer, { chain: evidence.caseId, actor, action: 'tag.added', at: t.createdAt, details: { ...t } });
      }
    });
    return t;
  }

  untagEvidence(evidenceId: string, tag: string, actor: string): boolean {
    const evidence = this.getEvidence(evidenceId);
    this.getOpenCase(evidence.caseId);
    return this.write(() => {
      const removed = q.deleteTag(this.writer, evidenceId, tag);
      if (removed) {
        appendAuditEntry(this.writer, { chain: evidence.caseId, actor, action: 'tag.removed', details: { evidenceId, tag } });
      }
      return removed;
    });
  }

  listTags(caseId: string): TagRecord[] {
    return q.listTagsForCase(this.reader, this.getCase(caseId).id);
  }

  // ---- models and settings (the global chain)

  registerModel(input: RegisterModelInput, actor: string): ModelRecord {
    const m = parseInput(modelInputSchema, input, 'model');
    const record: ModelRecord = { ...m, registeredAt: new Date().toISOString() };
    return this.write(() => {
      const existing = q.getModel(this.writer, m);
      if (existing) return existing;
      q.insertModel(this.writer, record);
      appendAuditEntry(this.writer, {
        chain: GLOBAL_CHAIN,
        actor,
        action: 'model.registered',
        at: record.registeredAt,
        details: { id: m.id, sha256: m.sha256, name: m.name, card: m.card },
      });
      return record;
    });
  }

  listModels(): ModelRecord[] {
    return q.listModels(this.reader);
  }

  /**
   * A model-lab event in the global chain (activation, deletion, import, export, a new threshold
   * version): which detector answers new analyses is part of how every later verdict was produced.
   */
  recordModelEvent(action: ModelEventAction, details: Record<string, unknown>, actor: string): void {
    const a = parseInput(nonEmpty(200), actor, 'actor');
    this.write(() => {
      appendAuditEntry(this.writer, { chain: GLOBAL_CHAIN, actor: a, action, details });
    });
  }

  setSetting(key: string, value: unknown, actor: string): void {
    const k = parseInput(nonEmpty(200), key, 'setting key');
    const at = new Date().toISOString();
    this.write(() => {
      q.upsertSetting(this.writer, k, value ?? null, at);
      appendAuditEntry(this.writer, { chain: GLOBAL_CHAIN, actor, action: 'setting.changed', at, details: { key: k, value: value ?? null } });
    });
  }

  getSetting(key: string): unknown {
    return q.getSetting(this.reader, key);
  }

  // ---- custody

  /** A case's audit entries in chain order, or the global chain's with 'global'. */
  auditLog(caseIdOrGlobal: string): AuditEntry[] {
    const chain = caseIdOrGlobal === GLOBAL_CHAIN ? GLOBAL_CHAIN : this.getCase(caseIdOrGlobal).id;
    return listAuditEntries(this.reader, chain);
  }

  async verifyCase(caseId: string, options?: VerifyOptions): Promise<VerifyReport> {
    return verifyCaseRecords(this.reader, this.dataDir, this.getCase(caseId).id, options);
  }

  /** The global chain (settings, models) and the rows it vouches for; see verifyCase for a case. */
  verifyGlobal(): GlobalVerifyReport {
    return verifyGlobalRecords(this.reader);
  }

  // ---- reports

  /**
   * Keeps the issued copy of a PDF report read-only in the case folder (temp file, fsync, rename), then
   * records its row and a `report.exported` audit entry together; the entry carries the report's sha256.
   */
  async recordReport(input: Omit<ReportRecord, 'storedPath' | 'sizeBytes' | 'sha256'> & { bytes: Uint8Array }): Promise<ReportRecord> {
    const c = this.getCase(input.caseId);
    const actor = parseInput(nonEmpty(200), input.exportedBy, 'actor');
    if (!UUID_PATTERN.test(input.id)) throw new CaseStoreError('INVALID_ARGUMENT', `Not a report id: ${JSON.stringify(input.id)}`);
    if (q.getReport(this.reader, input.id)) throw new CaseStoreError('OUTPUT_EXISTS', `Report ${input.id} was already issued.`, { reportId: input.id });
    const { bytes, ...meta } = input;
    const sha256 = crypto.createHash('sha256').update(bytes).digest('hex');
    const dir = path.join(casePaths(this.dataDir, c.id).root, 'reports');
    await fs.promises.mkdir(dir, { recursive: true });
    const storedPath = `reports/${input.id}.pdf`;
    const finalPath = path.join(dir, `${input.id}.pdf`);
    const tempPath = path.join(dir, `.${input.id}.part`);
    const handle = await fs.promises.open(tempPath, 'w', 0o600);
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      if ((await hashFile(tempPath)).sha256 !== sha256) throw new CaseStoreError('COPY_MISMATCH', 'The stored report does not match what was written.');
      await placeVerifiedCopy(tempPath, finalPath, sha256);
    } finally {
      await removeFileIfPresent(tempPath);
    }
    const record: ReportRecord = { ...meta, caseId: c.id, exportedBy: actor, sha256, sizeBytes: bytes.byteLength, storedPath };
    this.write(() => {
      q.insertReport(this.writer, record);
      appendAuditEntry(this.writer, {
        chain: c.id,
        actor,
        action: 'report.exported',
        details: {
          reportId: record.id,
          sha256: record.sha256,
          sizeBytes: record.sizeBytes,
          pageCount: record.pageCount,
          storedPath: record.storedPath,
          outputPath: record.outputPath,
          evidenceIds: record.evidenceIds,
          exportedAt: record.exportedAt,
          auditHead: record.auditHead,
          verifyOk: record.verifyOk,
          signed: record.signed,
        },
      });
    });
    return record;
  }

  listReports(caseId: string): ReportRecord[] {
    return q.listReports(this.reader, this.getCase(caseId).id);
  }

  findReport(reportId: string): ReportRecord | undefined {
    return q.getReport(this.reader, reportId);
  }

  findReportsBySha256(sha256: string): ReportRecord[] {
    return q.findReportsBySha256(this.reader, sha256);
  }

  /** The copy of a report the store keeps. */
  reportFilePath(report: ReportRecord): string {
    return path.join(casePaths(this.dataDir, report.caseId).root, ...report.storedPath.split('/'));
  }

  async exportCase(caseId: string, outFile: string, options: { actor: string; allowUnverified?: boolean }): Promise<ExportResult> {
    return exportCaseArchive(this.writer, this.dataDir, this.getCase(caseId).id, outFile, options);
  }

  async importCaseArchive(file: string, options: { actor: string }): Promise<ImportResult> {
    return importCaseArchive(this.writer, this.dataDir, file, options);
  }

  private write<T>(fn: () => T): T {
    return this.writer.transaction(fn).immediate();
  }
}
