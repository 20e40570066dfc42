// Verify: every stored file against its recorded hash, every row against the audit entry that vouches
// for it, the case's audit chain from genesis to its recorded head, and the schema against the
// migrations'. The global chain (settings, models) has its own verify.
import fs from 'node:fs';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { getSchemaVersion, openMemoryDatabase, type ReadableDB } from './case-db';
import {
  getChainHead,
  GLOBAL_CHAIN,
  listAuditEntries,
  verifyAuditSequence,
  walkAuditChain,
  type AuditIssue,
} from './audit-log';
import { canonicalJson } from './canonical-json';
import {
  getCase,
  listAnalysesForCase,
  listEvidence,
  listExplanationsForCase,
  listModels,
  listNotes,
  listReports,
  listSettings,
  listTagsForCase,
} from './case-queries';
import { CaseStoreError, isCaseStoreError } from './case-store-error';
import { casePaths, hashFile, throwIfAborted } from './evidence-files';
import { checkCaseRecords, differingFields, type CaseRecords, type RecordIssue } from './record-checks';
import { MIGRATIONS } from './migrations';
import { listProvenanceFindingsForCase } from './provenance-queries';

export { analysisAuditDetails, evidenceAuditDetails } from './record-checks';

export type VerifyIssue =
  | AuditIssue
  | RecordIssue
  | SchemaIssue
  | GlobalRecordIssue
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
  | { kind: 'evidence-unreadable'; evidenceId: string; storedPath: string; found: StoredFileProblem; message: string }
  | { kind: 'evidence-mode-changed'; evidenceId: string; storedPath: string; expectedMode: string; actualMode: string }
  | { kind: 'heatmap-unreadable'; explanationId: string; heatmapPath: string; found: StoredFileProblem; message: string }
  | { kind: 'heatmap-mode-changed'; explanationId: string; heatmapPath: string; expectedMode: string; actualMode: string }
  | { kind: 'heatmap-missing'; explanationId: string; heatmapPath: string }
  | { kind: 'heatmap-modified'; explanationId: string; heatmapPath: string; expectedSha256: string; actualSha256: string }
  | { kind: 'report-missing'; reportId: string; storedPath: string; sha256: string }
  | { kind: 'report-modified'; reportId: string; storedPath: string; expectedSha256: string; actualSha256: string }
  | { kind: 'report-unreadable'; reportId: string; storedPath: string; found: StoredFileProblem; message: string }
  | { kind: 'report-mode-changed'; reportId: string; storedPath: string; expectedMode: string; actualMode: string };

/** Tables, indexes and triggers that differ from what the migrations create (a dropped trigger is one). */
export type SchemaIssue = {
  kind: 'schema-altered';
  schemaVersion: number;
  missing: string[];
  unexpected: string[];
  changed: string[];
  message: string;
};

export type GlobalRecordIssue =
  | { kind: 'setting-row-altered'; key: string; fields: string[] }
  | { kind: 'setting-row-unaudited'; key: string }
  | { kind: 'setting-row-missing'; key: string; auditIndex: number }
  | { kind: 'model-row-altered'; modelId: string; sha256: string; fields: string[] }
  | { kind: 'model-row-unaudited'; modelId: string; sha256: string }
  | { kind: 'model-row-missing'; modelId: string; sha256: string; auditIndex: number };

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
  const records = readCaseRecords(db, caseId);
  const { evidence, explanations } = records;
  const reports = records.reports ?? [];
  const audit = listAuditEntries(db, caseId);
  const head = getChainHead(db, caseId);

  issues.push(...verifySchema(db), ...walkAuditChain(audit, caseId, head), ...verifyAuditSequence(db));
  issues.push(...checkCaseRecords(records, audit));

  let bytesHashed = 0;
  let filesDone = 0;
  const filesTotal = evidence.length + explanations.filter((x) => x.heatmapPath).length + reports.length;
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
  // The store's copy of each issued PDF report, as `report verify` compares a PDF with it.
  for (const r of reports) {
    throwIfAborted(options.signal);
    const stored = await inspectStored(path.join(paths.root, ...r.storedPath.split('/')), options.signal);
    const where = { reportId: r.id, storedPath: r.storedPath };
    if (stored.kind === 'missing') issues.push({ kind: 'report-missing', ...where, sha256: r.sha256 });
    else if (stored.kind === 'unreadable') issues.push({ kind: 'report-unreadable', ...where, found: stored.found, message: stored.message });
    else {
      bytesHashed += stored.size;
      if (stored.sha256 !== r.sha256 || stored.size !== r.sizeBytes) issues.push({ kind: 'report-modified', ...where, expectedSha256: r.sha256, actualSha256: stored.sha256 });
      if (stored.mode !== undefined && stored.mode !== STORED_FILE_MODE) {
        issues.push({ kind: 'report-mode-changed', ...where, expectedMode: octal(STORED_FILE_MODE), actualMode: octal(stored.mode) });
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

/** The rows of one case that verify and an export cover. */
export function readCaseRecords(db: ReadableDB, caseId: string): CaseRecords {
  const c = getCase(db, caseId);
  if (!c) throw new CaseStoreError('CASE_NOT_FOUND', `No case with id ${caseId}.`, { caseId });
  return {
    case: c,
    evidence: listEvidence(db, caseId),
    analyses: listAnalysesForCase(db, caseId),
    explanations: listExplanationsForCase(db, caseId),
    notes: listNotes(db, caseId),
    tags: listTagsForCase(db, caseId),
    provenance: listProvenanceFindingsForCase(db, caseId),
    reports: listReports(db, caseId),
  };
}

type SchemaObject = { type: string; name: string; tbl_name: string; sql: string | null };
const expectedSchemas = new Map<number, Map<string, SchemaObject>>();

function readSchema(db: Database.Database): Map<string, SchemaObject> {
  const rows = db
    .prepare(`SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name`)
    .all() as SchemaObject[];
  return new Map(rows.map((r) => [`${r.type} ${r.name}`, r]));
}

/** What the migrations up to `version` create, built once in memory from the same migration code. */
function expectedSchema(version: number): Map<string, SchemaObject> {
  let schema = expectedSchemas.get(version);
  if (!schema) {
    const mem = openMemoryDatabase();
    try {
      for (const m of MIGRATIONS) {
        if (m.version > version) break;
        mem.transaction(() => m.up(mem))();
      }
      schema = readSchema(mem);
    } finally {
      mem.close();
    }
    expectedSchemas.set(version, schema);
  }
  return schema;
}

/**
 * The database's tables, indexes and triggers against what its migrations create: a dropped trigger
 * (the append-only guards) or an added one (one that rewrites rows as they are written) shows here.
 */
export function verifySchema(db: ReadableDB): SchemaIssue[] {
  const version = getSchemaVersion(db);
  const expected = expectedSchema(version);
  const actual = readSchema(db);
  const missing = [...expected.keys()].filter((k) => !actual.has(k));
  const unexpected = [...actual.keys()].filter((k) => !expected.has(k));
  const changed = [...expected.keys()].filter((k) => actual.has(k) && actual.get(k)!.sql !== expected.get(k)!.sql);
  if (!missing.length && !unexpected.length && !changed.length) return [];
  const parts = [
    missing.length ? `missing ${missing.join(', ')}` : '',
    unexpected.length ? `not created by the app: ${unexpected.join(', ')}` : '',
    changed.length ? `changed: ${changed.join(', ')}` : '',
  ].filter(Boolean);
  return [
    {
      kind: 'schema-altered',
      schemaVersion: version,
      missing,
      unexpected,
      changed,
      message: `The database schema differs from what migrations 1-${version} create (${parts.join('; ')}); its guards cannot be trusted.`,
    },
  ];
}

export interface GlobalVerifyReport {
  chain: typeof GLOBAL_CHAIN;
  ok: boolean;
  verifiedAt: string;
  auditEntriesChecked: number;
  settingsChecked: number;
  modelsChecked: number;
  auditHead: { index: number; hash: string } | null;
  issues: VerifyIssue[];
}

/** The global chain (settings, registered models), the rows it vouches for, and the schema. */
export function verifyGlobalRecords(db: ReadableDB): GlobalVerifyReport {
  const audit = listAuditEntries(db, GLOBAL_CHAIN);
  const issues: VerifyIssue[] = [...verifySchema(db), ...walkAuditChain(audit, GLOBAL_CHAIN, getChainHead(db, GLOBAL_CHAIN)), ...verifyAuditSequence(db)];

  // A setting's row must hold the value of its latest setting.changed entry.
  const latest = new Map<string, (typeof audit)[number]>();
  for (const e of audit) if (e.action === 'setting.changed' && typeof e.details.key === 'string') latest.set(e.details.key, e);
  const settings = listSettings(db);
  for (const row of settings) {
    const entry = latest.get(row.key);
    if (!entry) issues.push({ kind: 'setting-row-unaudited', key: row.key });
    else if (canonicalJson(row.value ?? null) !== canonicalJson(entry.details.value ?? null)) {
      issues.push({ kind: 'setting-row-altered', key: row.key, fields: ['value'] });
    }
  }
  const keys = new Set(settings.map((r) => r.key));
  for (const [key, entry] of latest) if (!keys.has(key)) issues.push({ kind: 'setting-row-missing', key, auditIndex: entry.index });

  const registered = new Map<string, (typeof audit)[number]>();
  for (const e of audit) if (e.action === 'model.registered') registered.set(`${String(e.details.id)}\n${String(e.details.sha256)}`, e);
  const models = listModels(db);
  const present = new Set<string>();
  for (const m of models) {
    const k = `${m.id}\n${m.sha256}`;
    present.add(k);
    const entry = registered.get(k);
    if (!entry) issues.push({ kind: 'model-row-unaudited', modelId: m.id, sha256: m.sha256 });
    else {
      const fields = differingFields({ ...m }, { ...entry.details, registeredAt: entry.at });
      if (fields.length) issues.push({ kind: 'model-row-altered', modelId: m.id, sha256: m.sha256, fields });
    }
  }
  for (const [k, entry] of registered) {
    if (!present.has(k)) issues.push({ kind: 'model-row-missing', modelId: String(entry.details.id), sha256: String(entry.details.sha256), auditIndex: entry.index });
  }
  const last = audit[audit.length - 1];
  return {
    chain: GLOBAL_CHAIN,
    ok: issues.length === 0,
    verifiedAt: new Date().toISOString(),
    auditEntriesChecked: audit.length,
    settingsChecked: settings.length,
    modelsChecked: models.length,
    auditHead: last ? { index: last.index, hash: last.hash } : null,
    issues,
  };
}
