// Exports a case's PDF report and tells a reviewer whether a PDF is one this store issued, unchanged.
// The report is made in memory, kept read-only in the case folder, optionally written to an output
// path (temp file, fsync, rename: never a half-written file under the final name), and its sha256 is
// written to the case's audit chain in the same transaction as its row.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { CaseStoreError, type CaseStore, type ReportRecord } from '../case-store';
import { fsyncDir } from '../case-store/evidence-files';
import { collectReportSnapshot, type ReportExtras, type ReportSnapshot } from './report-data';
import { renderReportPdf, type ReportLayout } from './report-pdf';
import { signReportPdf, type ReportSigningOptions } from './report-signing';

export interface ExportReportOptions {
  dataDir: string;
  actor: string;
  /** The export time the report states (ISO 8601); the same case state and time give the same bytes. */
  exportedAt?: string;
  /** IANA time zone the report's times are printed in; default: this machine's. */
  timeZone?: string;
  evidenceIds?: readonly string[];
  /** A file to write besides the store's copy (the CLI's --out); refused if it exists. */
  outFile?: string;
  extras?: ReportExtras;
  /** Sign with the examiner's PKCS#12 certificate; an unsigned report is just as valid. */
  sign?: ReportSigningOptions;
  signal?: AbortSignal;
  onProgress?(done: number, total: number, name?: string): void;
}

export interface ExportReportResult {
  report: ReportRecord;
  /** The store's copy. */
  file: string;
  outFile: string | null;
  layout: ReportLayout;
  /** Evidence whose stored file failed its hash check at export (the report says so). */
  failedHashCheck: string[];
}

export function localTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

function checkTimeZone(tz: string): string {
  try {
    new Intl.DateTimeFormat('en-GB', { timeZone: tz });
    return tz;
  } catch {
    throw new CaseStoreError('INVALID_ARGUMENT', `Unknown time zone ${JSON.stringify(tz)} (use an IANA name such as Europe/Paris or UTC).`);
  }
}

function checkExportTime(at: string): string {
  const d = new Date(at);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(at) || Number.isNaN(d.getTime())) {
    throw new CaseStoreError('INVALID_ARGUMENT', `The export time must be an ISO 8601 date and time, not ${JSON.stringify(at)}.`);
  }
  return d.toISOString();
}

/** Refuses an output path that cannot be written before any work is done (the write itself checks again). */
export function checkOutputPath(outFile: string): string {
  const target = path.resolve(outFile);
  const dir = path.dirname(target);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(dir);
  } catch {
    throw new CaseStoreError('INVALID_ARGUMENT', `The output folder ${dir} does not exist; nothing was written.`, { file: target, reason: 'OUTPUT_DIR_MISSING' });
  }
  if (!stat.isDirectory()) throw new CaseStoreError('INVALID_ARGUMENT', `${dir} is not a folder; nothing was written.`, { file: target, reason: 'OUTPUT_DIR_MISSING' });
  try {
    fs.accessSync(dir, fs.constants.W_OK);
  } catch {
    throw new CaseStoreError('INVALID_ARGUMENT', `The output folder ${dir} is read-only; nothing was written.`, { file: target, reason: 'OUTPUT_DIR_READ_ONLY' });
  }
  if (fs.existsSync(target)) throw new CaseStoreError('OUTPUT_EXISTS', `${target} already exists; a report never overwrites a file.`, { file: target });
  return target;
}

/** Writes bytes under a temporary name beside the target, fsyncs, renames, fsyncs the folder. */
export async function writeFileAtomically(target: string, bytes: Uint8Array): Promise<void> {
  const dir = path.dirname(target);
  const temp = path.join(dir, `.${path.basename(target)}.${crypto.randomBytes(6).toString('hex')}.part`);
  let handle: fs.promises.FileHandle;
  try {
    handle = await fs.promises.open(temp, 'wx', 0o644);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new CaseStoreError('INVALID_ARGUMENT', `The output folder ${dir} does not exist; nothing was written.`, { file: target, reason: 'OUTPUT_DIR_MISSING' });
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
      throw new CaseStoreError('INVALID_ARGUMENT', `The output folder ${dir} is read-only (${code}); nothing was written.`, { file: target, reason: 'OUTPUT_DIR_READ_ONLY' });
    }
    throw e;
  }
  try {
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    // Not rename(): it would replace a file that appeared meanwhile. link() refuses to.
    try {
      await fs.promises.link(temp, target);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new CaseStoreError('OUTPUT_EXISTS', `${target} appeared during the export; it was left alone.`, { file: target });
      // FAT and exFAT media have no hard links: check, then rename.
      if (fs.existsSync(target)) throw new CaseStoreError('OUTPUT_EXISTS', `${target} appeared during the export; it was left alone.`, { file: target });
      await fs.promises.rename(temp, target);
    }
    await fsyncDir(dir);
  } finally {
    await fs.promises.rm(temp, { force: true });
  }
}

/** Gathers the case state and lays it out, writing nothing: equal inputs give equal bytes. */
export async function buildCaseReport(
  store: CaseStore,
  caseRef: string,
  options: Omit<ExportReportOptions, 'outFile'> & { exportedAt: string; timeZone: string },
): Promise<{ snapshot: ReportSnapshot; bytes: Buffer; layout: ReportLayout }> {
  const snapshot = await collectReportSnapshot(store, caseRef, {
    dataDir: options.dataDir,
    exportedAt: checkExportTime(options.exportedAt),
    timeZone: checkTimeZone(options.timeZone),
    actor: options.actor,
    evidenceIds: options.evidenceIds,
    extras: options.extras,
    signal: options.signal,
  });
  const { bytes, layout } = await renderReportPdf(snapshot, { signal: options.signal, onProgress: options.onProgress });
  return { snapshot, bytes, layout };
}

export async function exportCaseReport(store: CaseStore, caseRef: string, options: ExportReportOptions): Promise<ExportReportResult> {
  const kase = store.getCase(caseRef);
  const outFile = options.outFile !== undefined ? checkOutputPath(options.outFile) : null;
  const built = await buildCaseReport(store, kase.id, {
    ...options,
    exportedAt: options.exportedAt ?? new Date().toISOString(),
    timeZone: options.timeZone ?? localTimeZone(),
  });
  const { snapshot, layout } = built;
  // Signed before it is hashed: the sha256 in the audit chain is that of the file the reviewer gets.
  const bytes = options.sign ? await signReportPdf(built.bytes, new Date(snapshot.exportedAt), options.sign) : built.bytes;
  if (options.signal?.aborted) throw new CaseStoreError('CANCELLED', 'The report export was cancelled.');
  if (outFile) await writeFileAtomically(outFile, bytes);
  let report: ReportRecord;
  try {
    report = await store.recordReport({
      id: snapshot.reportId,
      caseId: kase.id,
      pageCount: layout.pageCount,
      outputPath: outFile,
      evidenceIds: snapshot.items.map((i) => i.evidence.id),
      exportedAt: snapshot.exportedAt,
      exportedBy: options.actor,
      auditHead: snapshot.verify.auditHead,
      verifyOk: snapshot.verify.ok,
      signed: Boolean(options.sign),
      bytes,
    });
  } catch (e) {
    // An unrecorded report must not lie around looking issued.
    if (outFile) await fs.promises.rm(outFile, { force: true });
    throw e;
  }
  return {
    report,
    file: store.reportFilePath(report),
    outFile,
    layout,
    failedHashCheck: snapshot.items.filter((i) => !i.check.ok).map((i) => i.evidence.id),
  };
}

export type ReportVerdict =
  | { status: 'issued'; ok: true; sha256: string; report: ReportRecord; caseNumber: string; storedCopyIntact: boolean }
  | { status: 'changed'; ok: false; sha256: string; reportId: string; report: ReportRecord; caseNumber: string; message: string }
  | { status: 'unknown'; ok: false; sha256: string; reportId: string | null; message: string };

const REPORT_ID = '([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})';

/** Reads the report id written into the Info dictionary (pdfkit puts the string in its own object). */
export function readReportId(bytes: Buffer): string | null {
  const text = bytes.toString('latin1');
  const direct = new RegExp(`/ReportId \\(${REPORT_ID}\\)`).exec(text);
  if (direct) return direct[1];
  const ref = /\/ReportId (\d+) 0 R/.exec(text);
  if (!ref) return null;
  const obj = new RegExp(`(?:^|[\\r\\n])${ref[1]} 0 obj\\s*\\(${REPORT_ID}\\)`).exec(text);
  return obj ? obj[1] : null;
}

export async function verifyReportFile(store: CaseStore, file: string): Promise<ReportVerdict> {
  let bytes: Buffer;
  try {
    bytes = await fs.promises.readFile(file);
  } catch (e) {
    throw new CaseStoreError('SOURCE_NOT_FOUND', `Cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}.`, { file });
  }
  const sha256 = crypto.createHash('sha256').update(bytes).digest('hex');
  const issued = store.findReportsBySha256(sha256)[0];
  if (issued) {
    let storedCopyIntact = false;
    try {
      storedCopyIntact = crypto.createHash('sha256').update(fs.readFileSync(store.reportFilePath(issued))).digest('hex') === sha256;
    } catch {
      storedCopyIntact = false;
    }
    return { status: 'issued', ok: true, sha256, report: issued, caseNumber: store.getCase(issued.caseId).caseNumber, storedCopyIntact };
  }
  const reportId = readReportId(bytes);
  const claimed = reportId ? store.findReport(reportId) : undefined;
  if (claimed) {
    return {
      status: 'changed',
      ok: false,
      sha256,
      reportId: claimed.id,
      report: claimed,
      caseNumber: store.getCase(claimed.caseId).caseNumber,
      message: `This file names report ${claimed.id} of case ${store.getCase(claimed.caseId).caseNumber}, issued with sha256 ${claimed.sha256}, but it hashes to ${sha256}: it was changed after it was issued.`,
    };
  }
  return {
    status: 'unknown',
    ok: false,
    sha256,
    reportId,
    message: reportId
      ? `This file names report ${reportId}, which this store never issued (sha256 ${sha256}).`
      : `No report with sha256 ${sha256} was issued by this store, and the file names no report id.`,
  };
}
