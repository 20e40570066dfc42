// Ingest: files and folders into a case, one committed transaction per file, so a killed process
// leaves only whole evidence records; leftovers of an interrupted run are cleared on the next one.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { WritableDB } from './case-db';
import { CaseStoreError, isCaseStoreError, type CaseStoreErrorCode } from './case-store-error';
import { appendAuditEntry } from './audit-log';
import { evidenceAuditDetails } from './record-checks';
import { findEvidenceBySha256, insertEvidence, listEvidence, type EvidenceRecord } from './case-queries';
import { decodeToPaperRgb } from '../engine/preprocess';
import {
  casePaths,
  copyToTemp,
  fsyncDir,
  hashFile,
  identifyImage,
  placeVerifiedCopy,
  removeFileIfPresent,
  throwIfAborted,
  type CasePaths,
} from './evidence-files';
import { isProcessAlive } from './process-liveness';

export interface IngestProgress {
  phase: 'scanning' | 'copying' | 'done';
  filesDone: number;
  filesTotal: number;
  bytesDone: number;
  bytesTotal: number;
  currentPath?: string;
}

export interface IngestOptions {
  /** Who is ingesting: goes into the evidence row and the audit log. */
  actor: string;
  signal?: AbortSignal;
  onProgress?: (progress: IngestProgress) => void;
  /**
   * Files that came by upload, keyed by their staged path: the name the browser gave. Their original
   * path is unknown, and the evidence row and audit entry say so instead of naming the staging folder.
   */
  uploads?: ReadonlyMap<string, { originalName: string }>;
}

export interface IngestFailure {
  path: string;
  code: CaseStoreErrorCode | 'IO_ERROR';
  message: string;
}

export interface IngestResult {
  caseId: string;
  added: EvidenceRecord[];
  duplicates: { path: string; sha256: string; evidenceId: string; existingName?: string }[];
  failed: IngestFailure[];
  /** Copies from an interrupted run that never got a database row; they were deleted. */
  orphansRemoved: string[];
  cancelled: boolean;
}

interface SourceFile {
  path: string;
  size: number;
}

/** Lists regular files under the inputs in a stable order; links and special files are reported, not followed. */
export async function scanSources(
  inputs: readonly string[],
  failed: IngestFailure[],
  signal?: AbortSignal,
): Promise<SourceFile[]> {
  const files: SourceFile[] = [];
  const seen = new Set<string>();
  const visit = async (p: string): Promise<void> => {
    throwIfAborted(signal);
    let st: fs.Stats;
    try {
      st = await fs.promises.lstat(p);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      failed.push(
        code === 'ENOENT'
          ? { path: p, code: 'SOURCE_NOT_FOUND', message: `${p} does not exist.` }
          : { path: p, code: 'SOURCE_UNREADABLE', message: `${p} cannot be read: ${(e as Error).message}` },
      );
      return;
    }
    if (st.isSymbolicLink()) {
      failed.push({ path: p, code: 'SOURCE_IS_SYMLINK', message: `${p} is a symbolic link; links are not followed.` });
    } else if (st.isDirectory()) {
      let raw: Buffer[];
      try {
        raw = await fs.promises.readdir(p, { encoding: 'buffer' });
      } catch (e) {
        failed.push({ path: p, code: 'SOURCE_UNREADABLE', message: `${p} cannot be listed: ${(e as Error).message}` });
        return;
      }
      const names: string[] = [];
      for (const bytes of raw) {
        const name = bytes.toString('utf8');
        // Such a name cannot be opened through a JavaScript string; say so instead of "not found".
        if (!Buffer.from(name, 'utf8').equals(bytes)) {
          failed.push({
            path: path.join(p, name),
            code: 'SOURCE_UNREADABLE',
            message: `A file in ${p} has a name that is not valid UTF-8 (hex ${bytes.toString('hex')}); rename it or ingest a renamed copy.`,
          });
        } else names.push(name);
      }
      names.sort();
      for (const name of names) await visit(path.join(p, name));
    } else if (st.isFile()) {
      if (!seen.has(p)) {
        seen.add(p);
        files.push({ path: p, size: st.size });
      }
    } else {
      failed.push({
        path: p,
        code: 'SOURCE_NOT_REGULAR_FILE',
        message: `${p} is not a regular file (a device, pipe or socket); it was not read.`,
      });
    }
  };
  for (const input of inputs) {
    // path.resolve('') is the working directory: an empty argument must not ingest whatever that is.
    if (typeof input !== 'string' || input.trim() === '') {
      failed.push({ path: String(input), code: 'INVALID_ARGUMENT', message: 'An empty path was given; nothing was read for it.' });
    } else if (input.includes('\0')) {
      failed.push({ path: input, code: 'INVALID_ARGUMENT', message: `${JSON.stringify(input)} contains a NUL byte; no such file can exist.` });
    } else await visit(path.resolve(input));
  }
  return files;
}

/** One ingest per case at a time, across processes; a lock left by a killed process is taken over. */
async function acquireIngestLock(paths: CasePaths): Promise<() => Promise<void>> {
  const owner = JSON.stringify({ pid: process.pid, host: os.hostname(), since: new Date().toISOString() });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await fs.promises.writeFile(paths.ingestLock, owner, { flag: 'wx', mode: 0o600 });
      return async () => void (await fs.promises.unlink(paths.ingestLock).catch(() => undefined));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const holder = await readLockHolder(paths.ingestLock);
      if (holder && holder.host === os.hostname() && !isProcessAlive(holder.pid)) {
        await fs.promises.unlink(paths.ingestLock).catch(() => undefined);
        continue;
      }
      throw new CaseStoreError('INGEST_LOCKED', 'Another ingest into this case is running.', { holder });
    }
  }
  throw new CaseStoreError('INGEST_LOCKED', 'Another ingest into this case is running.');
}

async function readLockHolder(file: string): Promise<{ pid: number; host: string } | undefined> {
  try {
    const parsed = JSON.parse(await fs.promises.readFile(file, 'utf8')) as { pid?: unknown; host?: unknown };
    if (typeof parsed.pid === 'number' && typeof parsed.host === 'string') return { pid: parsed.pid, host: parsed.host };
  } catch {
    // An empty or torn lock file: its writer died before finishing it.
    return { pid: -1, host: os.hostname() };
  }
  return undefined;
}

/** Clears what an interrupted ingest left: partial copies, and stored copies that never got their row. */
async function removeLeftovers(db: WritableDB, caseId: string, paths: CasePaths, actor: string): Promise<string[]> {
  for (const name of await fs.promises.readdir(paths.partialDir)) {
    await removeFileIfPresent(path.join(paths.partialDir, name));
  }
  const recorded = new Set(listEvidence(db, caseId).map((e) => path.posix.basename(e.storedPath)));
  const orphans: string[] = [];
  for (const name of await fs.promises.readdir(paths.evidenceDir)) {
    if (recorded.has(name)) continue;
    await removeFileIfPresent(path.join(paths.evidenceDir, name));
    orphans.push(`evidence/${name}`);
  }
  if (orphans.length) {
    await fsyncDir(paths.evidenceDir);
    db.transaction(() => {
      appendAuditEntry(db, {
        chain: caseId,
        actor,
        action: 'ingest.leftovers-removed',
        details: { files: orphans, reason: 'copied by an interrupted ingest, never recorded' },
      });
    }).immediate();
  }
  return orphans;
}

export async function ingestIntoCase(
  db: WritableDB,
  dataDir: string,
  caseId: string,
  inputs: readonly string[],
  options: IngestOptions,
): Promise<IngestResult> {
  const { actor, signal, onProgress } = options;
  const paths = casePaths(dataDir, caseId);
  for (const dir of [paths.evidenceDir, paths.partialDir]) await fs.promises.mkdir(dir, { recursive: true });
  const result: IngestResult = { caseId, added: [], duplicates: [], failed: [], orphansRemoved: [], cancelled: false };

  // An uploaded file is named by what the examiner chose, never by the server's staging folder.
  const shownPath = (p: string) => {
    const upload = options.uploads?.get(p);
    return upload ? uploadedPath(upload.originalName) : p;
  };
  const release = await acquireIngestLock(paths);
  try {
    result.orphansRemoved = await removeLeftovers(db, caseId, paths, actor);
    onProgress?.({ phase: 'scanning', filesDone: 0, filesTotal: 0, bytesDone: 0, bytesTotal: 0 });
    let sources: SourceFile[];
    try {
      sources = await scanSources(inputs, result.failed, signal);
    } catch (e) {
      if (isCaseStoreError(e, 'CANCELLED')) return { ...result, cancelled: true };
      throw e;
    }
    // What the scan refused (links, FIFOs, sockets, unreadable names) is on the record as well as
    // what a copy refused: the chain shows everything an examiner tried to bring in.
    if (result.failed.length) {
      db.transaction(() => {
        for (const failure of result.failed) appendAuditEntry(db, { chain: caseId, actor, action: 'evidence.refused', details: { ...failure } });
      }).immediate();
    }
    const progress: IngestProgress = {
      phase: 'copying',
      filesDone: 0,
      filesTotal: sources.length,
      bytesDone: 0,
      bytesTotal: sources.reduce((n, s) => n + s.size, 0),
    };
    for (const source of sources) {
      if (signal?.aborted) {
        result.cancelled = true;
        break;
      }
      onProgress?.({ ...progress, currentPath: source.path });
      try {
        const outcome = await ingestOneFile(db, caseId, paths, source.path, actor, signal, (n) => {
          progress.bytesDone += n;
        }, options.uploads?.get(source.path));
        if (outcome.kind === 'added') result.added.push(outcome.evidence);
        else result.duplicates.push({ path: shownPath(source.path), sha256: outcome.sha256, evidenceId: outcome.evidenceId, existingName: outcome.existingName });
      } catch (e) {
        if (isCaseStoreError(e, 'CANCELLED')) {
          result.cancelled = true;
          break;
        }
        const shown = shownPath(source.path);
        const message = (m: string) => (shown === source.path ? m : m.split(source.path).join(shown));
        const failure: IngestFailure = isCaseStoreError(e)
          ? { path: shown, code: e.code, message: message(e.message) }
          : { path: shown, code: 'IO_ERROR', message: message(`${source.path}: ${(e as Error).message}`) };
        result.failed.push(failure);
        db.transaction(() => {
          appendAuditEntry(db, { chain: caseId, actor, action: 'evidence.refused', details: { ...failure } });
        }).immediate();
      }
      progress.filesDone++;
    }
    onProgress?.({ ...progress, phase: 'done' });
    return result;
  } finally {
    await release();
  }
}

/** How an uploaded file's origin is recorded: the browser never tells the server where a file lived. */
export function uploadedPath(originalName: string): string {
  return `(uploaded) ${originalName}`;
}

type FileOutcome =
  | { kind: 'added'; evidence: EvidenceRecord }
  | { kind: 'duplicate'; sha256: string; evidenceId: string; existingName: string };

async function ingestOneFile(
  db: WritableDB,
  caseId: string,
  paths: CasePaths,
  staged: string,
  actor: string,
  signal: AbortSignal | undefined,
  onBytes: (n: number) => void,
  upload?: { originalName: string },
): Promise<FileOutcome> {
  const source = upload ? uploadedPath(upload.originalName) : staged;
  const origin = upload ? { origin: 'upload', originalPathKnown: false } : {};
  const copy = await copyToTemp(staged, paths.partialDir, signal, onBytes);
  try {
    const recordDuplicate = (existing: EvidenceRecord): FileOutcome => {
      appendAuditEntry(db, {
        chain: caseId,
        actor,
        action: 'evidence.duplicate',
        details: { originalPath: source, sha256: copy.sha256, evidenceId: existing.id, ...origin },
      });
      return { kind: 'duplicate', sha256: copy.sha256, evidenceId: existing.id, existingName: existing.originalName };
    };
    if (copy.size === 0) throw new CaseStoreError('EMPTY_FILE', `${source} is empty (0 bytes); there is nothing to keep as evidence.`, { path: source });
    const known = findEvidenceBySha256(db, caseId, copy.sha256);
    if (known) return db.transaction(() => recordDuplicate(known)).immediate();

    const image = await identifyImage(copy.tempPath, source);
    // The header parsing is not enough: a truncated file has a good header. Decode the pixels the way
    // analysis will; a file that fails is still evidence, kept and marked unreadable with the reason.
    let unreadableReason: string | null = null;
    try {
      await decodeToPaperRgb(copy.tempPath);
    } catch (e) {
      const err = e as Error & { code?: string };
      unreadableReason = `${err.code ?? 'UNDECODABLE'}: ${err.message}`;
    }
    // The copy is read back from disk, not from the page cache's view of what was written.
    const reread = await hashFile(copy.tempPath, signal);
    if (reread.sha256 !== copy.sha256 || reread.size !== copy.size) {
      throw new CaseStoreError('COPY_MISMATCH', `The copy of ${source} does not match the original's hash.`, {
        path: source,
        expected: copy.sha256,
        actual: reread.sha256,
      });
    }
    const storedPath = `evidence/${copy.sha256}.${image.ext}`;
    await placeVerifiedCopy(copy.tempPath, path.join(paths.root, storedPath), copy.sha256);

    const evidence: EvidenceRecord = {
      id: crypto.randomUUID(),
      caseId,
      originalPath: source,
      originalName: upload ? upload.originalName : path.basename(source),
      storedPath,
      sha256: copy.sha256,
      sizeBytes: copy.size,
      mimeType: image.mimeType,
      width: image.width,
      height: image.height,
      ingestedAt: new Date().toISOString(),
      ingestedBy: actor,
      // An upload's staging file was written by the server: its time says nothing about the original.
      sourceModifiedAt: upload ? null : copy.sourceModifiedAt,
      unreadableReason,
    };
    return db
      .transaction((): FileOutcome => {
        // Another writer may have recorded the same content while this copy was being made.
        const raced = findEvidenceBySha256(db, caseId, copy.sha256);
        if (raced) return recordDuplicate(raced);
        insertEvidence(db, evidence);
        appendAuditEntry(db, {
          chain: caseId,
          actor,
          action: 'evidence.ingested',
          at: evidence.ingestedAt,
          details: { ...evidenceAuditDetails(evidence), ...origin },
        });
        return { kind: 'added', evidence };
      })
      .immediate();
  } finally {
    await removeFileIfPresent(copy.tempPath);
  }
}
