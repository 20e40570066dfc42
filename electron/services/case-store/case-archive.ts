// Portable cases: one tar holding a manifest of hashes, the case's rows as JSON (with its whole audit
// chain) and its stored files. Import checks everything before it writes, and writes only under the data folder.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import type { ReadableDB, WritableDB } from './case-db';
import { getSchemaVersion } from './case-db';
import { CaseStoreError, isCaseStoreError } from './case-store-error';
import {
  appendAuditEntry,
  getChainHead,
  GLOBAL_CHAIN,
  insertRecordedAuditEntry,
  listAuditEntries,
  walkAuditChain,
  type AuditEntry,
} from './audit-log';
import { canonicalJson } from './canonical-json';
import {
  getCase,
  getCaseByNumber,
  getModel,
  insertAnalysis,
  insertCase,
  insertEvidence,
  insertExplanation,
  insertModel,
  insertNote,
  insertTag,
  listAnalysesForCase,
  listEvidence,
  listExplanationsForCase,
  listModels,
  listNotes,
  listTagsForCase,
  type AnalysisRecord,
  type CaseRecord,
  type EvidenceRecord,
  type ExplanationRecord,
  type ModelRecord,
  type NoteRecord,
  type TagRecord,
} from './case-queries';
import { casePaths, casesRoot, fsyncDir, removeTree, SHA256_PATTERN, UUID_PATTERN } from './evidence-files';
import { extractTarMember, listTarMembers, readTarMember, TarWriter, type TarMember } from './tar-archive';
import { verifyCaseRecords, type VerifyIssue } from './case-verify';
import { checkCaseRecords } from './record-checks';
import { LATEST_SCHEMA_VERSION } from './migrations';
import { insertProvenanceFinding, listProvenanceFindingsForCase, type ProvenanceFindingRecord } from './provenance-queries';
import { isProcessAlive } from './process-liveness';

export const ARCHIVE_FORMAT = 'ai-image-forensics.case-archive';
export const ARCHIVE_FORMAT_VERSION = 1;
const MANIFEST_MAX_BYTES = 16 << 20;
const CASE_JSON_MAX_BYTES = 512 << 20;
const STORED_MEMBER = /^(evidence\/[0-9a-f]{64}\.(jpg|png|webp|gif|tif|avif|heic)|explanations\/[0-9a-f]{64}\.(png|jpg|webp))$/;

export interface CaseArchiveData {
  case: CaseRecord;
  evidence: EvidenceRecord[];
  analyses: AnalysisRecord[];
  explanations: ExplanationRecord[];
  notes: NoteRecord[];
  tags: TagRecord[];
  models: ModelRecord[];
  /** Absent in archives written before provenance findings existed. */
  provenance?: ProvenanceFindingRecord[];
  audit: Omit<AuditEntry, 'seq'>[];
}

export interface CaseArchiveManifest {
  format: typeof ARCHIVE_FORMAT;
  formatVersion: number;
  schemaVersion: number;
  caseId: string;
  caseNumber: string;
  exportedAt: string;
  exportedBy: string;
  auditHead: { index: number; hash: string } | null;
  /** Every member but the manifest itself. */
  files: { path: string; sha256: string; size: number }[];
  /** Problems verify found at export time; empty unless the export was forced. */
  verifyIssues: VerifyIssue[];
}

export interface ExportResult {
  file: string;
  sha256: string;
  bytes: number;
  members: number;
  auditHead: { index: number; hash: string } | null;
}

const iso = z.string().min(1).max(64);
const sha = z.string().regex(SHA256_PATTERN);
const uuid = z.string().regex(UUID_PATTERN);
const evidencePath = z.string().regex(/^evidence\/[0-9a-f]{64}\.(jpg|png|webp|gif|tif|avif|heic)$/);
const heatmapPath = z.string().regex(/^explanations\/[0-9a-f]{64}\.(png|jpg|webp)$/);
const text = z.string().max(100_000);
const record = z.record(z.unknown());

const caseDataSchema = z.object({
  case: z.object({
    id: uuid,
    caseNumber: z.string().min(1).max(200),
    title: text,
    examiner: text,
    agency: text.nullable(),
    createdAt: iso,
    closedAt: iso.nullable(),
    description: text.nullable().optional(),
    updatedAt: iso.nullable().optional(),
  }),
  evidence: z.array(
    z.object({
      id: uuid,
      caseId: uuid,
      originalPath: text,
      originalName: text,
      storedPath: evidencePath,
      sha256: sha,
      sizeBytes: z.number().int().nonnegative(),
      mimeType: z.string().max(100),
      width: z.number().int().nullable(),
      height: z.number().int().nullable(),
      ingestedAt: iso,
      ingestedBy: text,
      sourceModifiedAt: iso.nullable(),
      unreadableReason: text.nullable().optional(),
    }),
  ),
  analyses: z.array(
    z.object({
      id: uuid,
      evidenceId: uuid,
      model: z.object({ id: text, sha256: z.string().max(128) }),
      provider: text,
      pSynthetic: z.number().min(0).max(1),
      verdict: text,
      threshold: z.number(),
      durationMs: z.number().nonnegative(),
      createdAt: iso,
      createdBy: text,
    }),
  ),
  explanations: z.array(
    z.object({
      id: uuid,
      analysisId: uuid,
      method: text,
      parameters: record,
      heatmapPath: heatmapPath.nullable(),
      heatmapSha256: sha.nullable(),
      createdAt: iso,
      createdBy: text,
    }),
  ),
  notes: z.array(
    z.object({ id: uuid, caseId: uuid, evidenceId: uuid.nullable(), body: text, author: text, createdAt: iso }),
  ),
  tags: z.array(z.object({ evidenceId: uuid, tag: text, createdAt: iso, createdBy: text })),
  models: z.array(z.object({ id: text, sha256: z.string().max(128), name: text, card: record, registeredAt: iso })),
  provenance: z
    .array(
      z.object({
        id: uuid,
        evidenceId: uuid,
        conclusion: text,
        headline: text,
        c2paState: text,
        report: record,
        reportSha256: sha,
        readerVersions: z.record(z.string()),
        images: z.record(sha.nullable()),
        createdAt: iso,
        createdBy: text,
      }),
    )
    .optional(),
  audit: z.array(
    z.object({
      chain: uuid,
      index: z.number().int().nonnegative(),
      at: iso,
      actor: text,
      action: z.string().max(200),
      details: record,
      prevHash: sha,
      hash: sha,
    }),
  ),
});

const manifestSchema = z.object({
  format: z.literal(ARCHIVE_FORMAT),
  formatVersion: z.number().int(),
  schemaVersion: z.number().int(),
  caseId: uuid,
  caseNumber: z.string(),
  exportedAt: iso,
  exportedBy: text,
  auditHead: z.object({ index: z.number().int().nonnegative(), hash: sha }).nullable(),
  files: z.array(z.object({ path: z.string(), sha256: sha, size: z.number().int().nonnegative() })),
  verifyIssues: z.array(z.unknown()),
});

export function collectCaseData(db: ReadableDB, caseId: string): CaseArchiveData {
  const c = getCase(db, caseId);
  if (!c) throw new CaseStoreError('CASE_NOT_FOUND', `No case with id ${caseId}.`, { caseId });
  const analyses = listAnalysesForCase(db, caseId);
  const used = new Set(analyses.map((a) => `${a.model.id}\n${a.model.sha256}`));
  return {
    case: c,
    evidence: listEvidence(db, caseId),
    analyses,
    explanations: listExplanationsForCase(db, caseId),
    notes: listNotes(db, caseId),
    tags: listTagsForCase(db, caseId),
    models: listModels(db).filter((m) => used.has(`${m.id}\n${m.sha256}`)),
    provenance: listProvenanceFindingsForCase(db, caseId),
    audit: listAuditEntries(db, caseId).map(({ seq: _seq, ...rest }) => rest),
  };
}

export async function exportCaseArchive(
  db: WritableDB,
  dataDir: string,
  caseId: string,
  outFile: string,
  options: { actor: string; allowUnverified?: boolean },
): Promise<ExportResult> {
  const target = path.resolve(outFile);
  if (fs.existsSync(target)) {
    throw new CaseStoreError('OUTPUT_EXISTS', `${target} already exists; an export never overwrites a file.`, { file: target });
  }
  const report = await verifyCaseRecords(db, dataDir, caseId);
  if (!report.ok && !options.allowUnverified) {
    throw new CaseStoreError('ARCHIVE_HASH_MISMATCH', `Case ${caseId} fails verification; fix or export with force.`, {
      issues: report.issues,
    });
  }
  const data = collectCaseData(db, caseId);
  const caseJson = Buffer.from(canonicalJson(data), 'utf8');
  const root = casePaths(dataDir, caseId).root;
  const stored = [
    ...data.evidence.map((e) => ({ path: e.storedPath, sha256: e.sha256, size: e.sizeBytes })),
    ...uniqueHeatmaps(data.explanations, root),
  ];
  const manifest: CaseArchiveManifest = {
    format: ARCHIVE_FORMAT,
    formatVersion: ARCHIVE_FORMAT_VERSION,
    schemaVersion: getSchemaVersion(db),
    caseId,
    caseNumber: data.case.caseNumber,
    exportedAt: new Date().toISOString(),
    exportedBy: options.actor,
    auditHead: getChainHead(db, caseId) ?? null,
    files: [{ path: 'case.json', sha256: sha256Of(caseJson), size: caseJson.length }, ...stored],
    verifyIssues: report.issues,
  };

  // Written beside the target and renamed, so a half-written archive never carries the final name.
  const partial = `${target}.${crypto.randomUUID()}.partial`;
  const writer = await TarWriter.create(partial);
  let audited = false;
  try {
    await writer.addBuffer('manifest.json', Buffer.from(JSON.stringify(manifest, null, 2), 'utf8'));
    await writer.addBuffer('case.json', caseJson);
    for (const f of stored) {
      const hash = crypto.createHash('sha256');
      await writer.addFile(f.path, path.join(root, f.path), f.size, (chunk) => hash.update(chunk));
      const actual = hash.digest('hex');
      if (actual !== f.sha256) {
        throw new CaseStoreError('ARCHIVE_HASH_MISMATCH', `${f.path} changed during export.`, {
          member: f.path,
          expected: f.sha256,
          actual,
        });
      }
    }
    // Flushed, hashed and audited under the temporary name; only then does it get the final one, so a
    // complete-looking archive under that name always has its case.exported entry.
    const bytes = await writer.finish();
    const archiveSha = (await hashWholeFile(partial)).sha256;
    db.transaction(() => {
      appendAuditEntry(db, {
        chain: caseId,
        actor: options.actor,
        action: 'case.exported',
        details: { file: target, sha256: archiveSha, bytes, auditHead: manifest.auditHead, forced: !report.ok },
      });
    }).immediate();
    audited = true;
    publishWithoutOverwrite(partial, target);
    await fsyncDir(path.dirname(target));
    return { file: target, sha256: archiveSha, bytes, members: stored.length + 2, auditHead: manifest.auditHead };
  } catch (e) {
    await writer.abort();
    fs.rmSync(partial, { force: true });
    if (audited) {
      // The entry above promised a file that was not published: say so in the same chain.
      db.transaction(() => {
        appendAuditEntry(db, {
          chain: caseId,
          actor: options.actor,
          action: 'case.export-abandoned',
          details: { file: target, reason: (e as Error).message },
        });
      }).immediate();
    }
    throw e;
  }
}

/** Gives the finished archive its name, refusing to replace a file that appeared meanwhile. */
function publishWithoutOverwrite(partial: string, target: string): void {
  try {
    fs.linkSync(partial, target);
    fs.unlinkSync(partial);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new CaseStoreError('OUTPUT_EXISTS', `${target} appeared during the export; it was left alone.`);
    // FAT and exFAT media, where exports often go, have no hard links: check, then rename.
    if (fs.existsSync(target)) throw new CaseStoreError('OUTPUT_EXISTS', `${target} appeared during the export; it was left alone.`);
    fs.renameSync(partial, target);
  }
}

function uniqueHeatmaps(explanations: readonly ExplanationRecord[], _root: string) {
  const seen = new Map<string, { path: string; sha256: string; size: number }>();
  for (const x of explanations) {
    if (!x.heatmapPath || !x.heatmapSha256 || seen.has(x.heatmapPath)) continue;
    const size = fs.statSync(path.join(_root, x.heatmapPath)).size;
    seen.set(x.heatmapPath, { path: x.heatmapPath, sha256: x.heatmapSha256, size });
  }
  return [...seen.values()];
}

function sha256Of(data: Uint8Array): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}

async function hashWholeFile(file: string): Promise<{ sha256: string }> {
  const hash = crypto.createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return { sha256: hash.digest('hex') };
}

export interface ImportResult {
  caseId: string;
  caseNumber: string;
  evidence: number;
  archiveSha256: string;
  verify: Awaited<ReturnType<typeof verifyCaseRecords>>;
}

function invalid(message: string, details: Record<string, unknown> = {}): CaseStoreError {
  return new CaseStoreError('ARCHIVE_INVALID', message, details);
}

/**
 * Imports a case archive. Order matters: every header and path is checked, then the manifest, the
 * rows and the audit chain, and only then are files extracted, into a staging folder under the data
 * folder that becomes the case folder in one rename, just before the rows are committed.
 */
export async function importCaseArchive(
  db: WritableDB,
  dataDir: string,
  archive: string,
  options: { actor: string },
): Promise<ImportResult> {
  const file = path.resolve(archive);
  const st = await fs.promises.lstat(file).catch(() => undefined);
  if (!st) throw new CaseStoreError('SOURCE_NOT_FOUND', `${file} does not exist.`, { path: file });
  if (!st.isFile()) throw new CaseStoreError('SOURCE_NOT_REGULAR_FILE', `${file} is not a regular file.`, { path: file });

  const members = await listTarMembers(file);
  const unexpected = members.map((m) => m.name).filter((n) => n !== 'manifest.json' && n !== 'case.json' && !STORED_MEMBER.test(n));
  if (unexpected.length) throw invalid('The archive holds files a case archive never contains.', { unexpected });
  const byName = new Map(members.map((m) => [m.name, m]));
  const manifestMember = byName.get('manifest.json');
  const caseMember = byName.get('case.json');
  if (!manifestMember || !caseMember) throw invalid('The archive lacks manifest.json or case.json; not a case archive.');

  const manifest = parseJson(await readTarMember(file, manifestMember, MANIFEST_MAX_BYTES), manifestSchema, 'manifest.json');
  if (manifest.formatVersion > ARCHIVE_FORMAT_VERSION || manifest.schemaVersion > LATEST_SCHEMA_VERSION) {
    throw invalid('The archive was written by a newer version of the app.', {
      formatVersion: manifest.formatVersion,
      schemaVersion: manifest.schemaVersion,
    });
  }
  const listed = new Map(manifest.files.map((f) => [f.path, f]));
  const unlisted = members.filter((m) => m.name !== 'manifest.json' && !listed.has(m.name)).map((m) => m.name);
  const absent = manifest.files.filter((f) => !byName.has(f.path)).map((f) => f.path);
  const resized = manifest.files.filter((f) => byName.has(f.path) && byName.get(f.path)!.size !== f.size).map((f) => f.path);
  if (unlisted.length || absent.length || resized.length || listed.size !== manifest.files.length) {
    throw invalid('The archive does not match its manifest.', { unlisted, absent, resized });
  }
  const caseJson = await readTarMember(file, caseMember, CASE_JSON_MAX_BYTES);
  if (sha256Of(caseJson) !== listed.get('case.json')!.sha256) {
    throw new CaseStoreError('ARCHIVE_HASH_MISMATCH', 'case.json does not match the hash in the manifest.');
  }
  const data = parseJson(caseJson, caseDataSchema, 'case.json') as CaseArchiveData;
  const caseId = data.case.id;
  checkArchiveConsistency(data, manifest, listed);

  if (getCase(db, caseId) || getCaseByNumber(db, data.case.caseNumber)) {
    throw new CaseStoreError('CASE_EXISTS', `Case ${data.case.caseNumber} (${caseId}) is already in this store.`, {
      caseId,
      caseNumber: data.case.caseNumber,
    });
  }

  const root = casesRoot(dataDir);
  await fs.promises.mkdir(root, { recursive: true });
  const finalDir = casePaths(dataDir, caseId).root;
  if (fs.existsSync(finalDir)) {
    // No row claims this folder: it is what an import killed between rename and commit left behind.
    await removeTree(finalDir);
  }
  removeAbandonedImports(db, dataDir, options.actor);
  const staging = path.join(root, `${STAGING_PREFIX}${crypto.randomUUID()}`);
  try {
    await fs.promises.mkdir(staging);
    // Beside the folder, not in it: the folder becomes the case folder by one rename.
    await fs.promises.writeFile(`${staging}${OWNER_SUFFIX}`, JSON.stringify({ pid: process.pid, host: os.hostname(), since: new Date().toISOString() }), { mode: 0o600 });
    await fs.promises.mkdir(path.join(staging, 'evidence'), { recursive: true });
    await fs.promises.mkdir(path.join(staging, 'explanations'), { recursive: true });
    for (const m of members) {
      if (m.name === 'manifest.json' || m.name === 'case.json') continue;
      await extractVerified(file, m, staging, listed.get(m.name)!.sha256);
    }
    await fsyncDir(path.join(staging, 'evidence'));
    await fs.promises.rename(staging, finalDir);
    await fs.promises.rm(`${staging}${OWNER_SUFFIX}`, { force: true });
    await fsyncDir(root);
  } catch (e) {
    await removeTree(staging);
    await fs.promises.rm(`${staging}${OWNER_SUFFIX}`, { force: true });
    throw e;
  }

  const archiveSha256 = (await hashWholeFile(file)).sha256;
  try {
    db.transaction(() => {
      insertCase(db, data.case);
      for (const e of data.evidence) insertEvidence(db, e);
      for (const a of data.analyses) insertAnalysis(db, a);
      for (const x of data.explanations) insertExplanation(db, x);
      for (const n of data.notes) insertNote(db, n);
      for (const t of data.tags) insertTag(db, t);
      for (const m of data.models) if (!getModel(db, m)) insertModel(db, m);
      for (const f of data.provenance ?? []) insertProvenanceFinding(db, f, canonicalJson(f.report));
      for (const entry of data.audit) insertRecordedAuditEntry(db, entry);
      appendAuditEntry(db, {
        chain: caseId,
        actor: options.actor,
        action: 'case.imported',
        details: { file, sha256: archiveSha256, exportedAt: manifest.exportedAt, exportedBy: manifest.exportedBy, auditHead: manifest.auditHead },
      });
    }).immediate();
  } catch (e) {
    await removeTree(finalDir);
    if (isCaseStoreError(e)) throw e;
    throw invalid(`The archive's records could not be stored: ${(e as Error).message}`);
  }
  const verify = await verifyCaseRecords(db, dataDir, caseId);
  return { caseId, caseNumber: data.case.caseNumber, evidence: data.evidence.length, archiveSha256, verify };
}

const STAGING_PREFIX = '.import-';
const OWNER_SUFFIX = '.owner';

/**
 * Removes the staging folders of imports that were killed before they finished (extracted evidence,
 * possibly hundreds of MB, that no row claims), and records it in the global chain. A folder whose
 * owner is still running on this host is left alone.
 */
export function removeAbandonedImports(db: WritableDB, dataDir: string, actor: string): string[] {
  // Synchronous: it runs while the store opens, and must finish (audit entry included) before anything else.
  const root = casesRoot(dataDir);
  let names: string[];
  try {
    names = fs.readdirSync(root);
  } catch {
    return [];
  }
  const removed: { folder: string; bytes: number }[] = [];
  for (const name of names) {
    if (!name.startsWith(STAGING_PREFIX) || name.endsWith(OWNER_SUFFIX)) continue;
    const dir = path.join(root, name);
    const owner = readOwner(`${dir}${OWNER_SUFFIX}`);
    if (owner && ownerIsRunning(owner)) continue;
    const bytes = treeBytes(dir);
    removeTreeSync(dir);
    fs.rmSync(`${dir}${OWNER_SUFFIX}`, { force: true });
    removed.push({ folder: `cases/${name}`, bytes });
  }
  // Owner files whose folder is gone (killed between the two removals).
  for (const name of names) {
    if (name.startsWith(STAGING_PREFIX) && name.endsWith(OWNER_SUFFIX) && !fs.existsSync(path.join(root, name.slice(0, -OWNER_SUFFIX.length)))) {
      fs.rmSync(path.join(root, name), { force: true });
    }
  }
  if (removed.length) {
    db.transaction(() => {
      appendAuditEntry(db, {
        chain: GLOBAL_CHAIN,
        actor,
        action: 'import.staging-removed',
        details: { folders: removed, reason: 'extracted by an archive import that was interrupted before it recorded the case' },
      });
    }).immediate();
  }
  return removed.map((r) => r.folder);
}

type StagingOwner = { pid: number; host: string; since: string };

function readOwner(file: string): StagingOwner | undefined {
  try {
    const p = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<StagingOwner>;
    return typeof p.pid === 'number' && typeof p.host === 'string' && typeof p.since === 'string' ? (p as StagingOwner) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * An import still running: in this process (a worker thread of it) if it started after this process
 * did (a reused pid from before a restart does not count), or in another live process on this host.
 */
function ownerIsRunning(owner: StagingOwner): boolean {
  if (owner.host !== os.hostname()) return true;
  if (owner.pid === process.pid) return Date.parse(owner.since) >= Date.now() - process.uptime() * 1000 - 1000;
  return isProcessAlive(owner.pid);
}

function treeBytes(dir: string): number {
  let total = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += fs.lstatSync(path.join(entry.parentPath, entry.name)).size;
  }
  return total;
}

/** Extracted files are read-only; a folder of them is made writable first (Windows needs it). */
function removeTreeSync(dir: string): void {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) fs.chmodSync(path.join(entry.parentPath, entry.name), 0o600);
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

function parseJson<T>(bytes: Buffer, schema: z.ZodType<T>, what: string): T {
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw invalid(`${what} is not valid JSON.`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    throw invalid(`${what} does not have the expected shape.`, { problems: parsed.error.issues.slice(0, 10) });
  }
  return parsed.data;
}

/** Rows, manifest and audit chain must agree before a single file is extracted. */
function checkArchiveConsistency(
  data: CaseArchiveData,
  manifest: z.infer<typeof manifestSchema>,
  listed: Map<string, { path: string; sha256: string; size: number }>,
): void {
  const caseId = data.case.id;
  if (manifest.caseId !== caseId) throw invalid('The manifest and case.json name different cases.');
  for (const e of data.evidence) {
    const f = listed.get(e.storedPath);
    if (e.caseId !== caseId) throw invalid(`Evidence ${e.id} belongs to another case.`);
    if (!e.storedPath.startsWith(`evidence/${e.sha256}.`)) throw invalid(`Evidence ${e.id} is not stored under its hash.`);
    if (!f || f.sha256 !== e.sha256 || f.size !== e.sizeBytes) {
      throw new CaseStoreError('ARCHIVE_HASH_MISMATCH', `Evidence ${e.id} does not match the manifest.`, { evidenceId: e.id });
    }
  }
  for (const x of data.explanations) {
    if (!x.heatmapPath) continue;
    const f = listed.get(x.heatmapPath);
    if (!f || f.sha256 !== x.heatmapSha256 || !x.heatmapPath.startsWith(`explanations/${x.heatmapSha256}.`)) {
      throw new CaseStoreError('ARCHIVE_HASH_MISMATCH', `Heatmap of explanation ${x.id} does not match the manifest.`);
    }
  }
  for (const n of data.notes) if (n.caseId !== caseId) throw invalid(`Note ${n.id} belongs to another case.`);
  if (data.audit.some((a) => a.chain !== caseId)) throw invalid('The audit entries belong to another case.');
  const chainIssues = walkAuditChain(data.audit, caseId, manifest.auditHead ?? undefined);
  if (data.provenance?.some((f) => !data.evidence.some((e) => e.id === f.evidenceId))) throw invalid('A provenance finding names evidence outside the case.');
  // Every table's rows against what the chain vouched for, as verify does on a store (reports excepted:
  // an archive does not carry them).
  const rowIssues = checkCaseRecords(data, data.audit);
  if (chainIssues.length || rowIssues.length) {
    throw new CaseStoreError('ARCHIVE_AUDIT_BROKEN', 'The archive\'s audit chain does not vouch for its records.', {
      issues: [...chainIssues, ...rowIssues],
    });
  }
}

async function extractVerified(file: string, member: TarMember, staging: string, expectedSha256: string): Promise<void> {
  const target = path.resolve(staging, ...member.name.split('/'));
  // Names were whitelisted by the schema; this is the last guard before a byte is written.
  if (!target.startsWith(staging + path.sep) || !STORED_MEMBER.test(member.name)) {
    throw new CaseStoreError('ARCHIVE_HOSTILE_PATH', `Archive member ${member.name} would land outside the case folder.`);
  }
  const hash = crypto.createHash('sha256');
  await extractTarMember(file, member, target, (chunk) => hash.update(chunk));
  const actual = hash.digest('hex');
  if (actual !== expectedSha256) {
    throw new CaseStoreError('ARCHIVE_HASH_MISMATCH', `${member.name} in the archive does not match its recorded hash.`, {
      member: member.name,
      expected: expectedSha256,
      actual,
    });
  }
  await fs.promises.chmod(target, 0o444);
}
