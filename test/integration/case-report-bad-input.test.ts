// Bad input to the report export: each gives a clear result and never a half-written file at the output path.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { CaseStore, isCaseStoreError } from '../../electron/services/case-store';
import { analyzeCaseEvidence } from '../../electron/services/case-analysis';
import { exportCaseReport } from '../../electron/services/report/case-report';
import { loadReportFonts } from '../../electron/services/report/report-fonts';
import { runReportCommand } from '../../electron/cli/report-command';
import { datasetImages, sha256OfFile, tempDir } from '../fixtures/case-store/case-fixtures';
import { pdfPageCount, pdfText, renderPages } from '../support/pdf-tools';

const AT = '2026-11-30T12:00:00.000Z';
let dataDir: string;
let store: CaseStore;

async function expectError(p: Promise<unknown>, code: string, reason?: string) {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(isCaseStoreError(e), String(e)).toBe(true);
  expect((e as { code: string }).code).toBe(code);
  if (reason) expect((e as { details: { reason?: string } }).details.reason).toBe(reason);
  return e as Error;
}

/** Files in a folder other than dot-files: what a reader of the folder would take for output. */
const visibleFiles = (dir: string) => fs.readdirSync(dir);

beforeAll(() => {
  dataDir = tempDir('report-bad');
  store = CaseStore.open(dataDir);
});
afterAll(() => store?.close());

describe('report export with bad input', () => {
  it('an unknown case: CASE_NOT_FOUND, nothing written (service and CLI)', async () => {
    const dir = tempDir('report-bad-out');
    await expectError(exportCaseReport(store, 'NO-SUCH-CASE', { dataDir, actor: 'ann', outFile: path.join(dir, 'r.pdf') }), 'CASE_NOT_FOUND');
    const lines: unknown[] = [];
    const ctx = { dataDir, json: true, print: (o: unknown) => lines.push(o), printError: (o: unknown) => lines.push(o) };
    expect(await runReportCommand(['NO-SUCH-CASE', '--out', path.join(dir, 'r.pdf')], ctx)).toBe(1);
    expect(lines[0]).toMatchObject({ error: 'CASE_NOT_FOUND', message: expect.stringContaining('NO-SUCH-CASE') });
    expect(await runReportCommand(['x'], ctx)).toBe(2);
    expect(visibleFiles(dir)).toEqual([]);
  });

  it('an output folder that is missing or read-only, or a file that exists: refused, nothing written or replaced', async () => {
    const c = store.createCase({ caseNumber: 'BAD-OUT', title: 'Outputs', examiner: 'ann' });
    const missing = path.join(tempDir('report-bad-out'), 'no', 'such', 'folder', 'r.pdf');
    const e = await expectError(exportCaseReport(store, c.id, { dataDir, actor: 'ann', outFile: missing }), 'INVALID_ARGUMENT', 'OUTPUT_DIR_MISSING');
    expect(e.message).toMatch(/does not exist; nothing was written/);
    expect(fs.existsSync(path.dirname(missing))).toBe(false);

    const readOnly = tempDir('report-bad-ro');
    fs.chmodSync(readOnly, 0o555);
    let probeWorked = false;
    try {
      fs.writeFileSync(path.join(readOnly, 'probe'), 'x');
      fs.rmSync(path.join(readOnly, 'probe'));
      probeWorked = true;
    } catch {
      probeWorked = false;
    }
    // As root, mode bits do not stop writes; sysfs refuses new files to root too.
    const roDir = probeWorked ? '/sys' : readOnly;
    const before = fs.readdirSync(roDir);
    const ro = await expectError(exportCaseReport(store, c.id, { dataDir, actor: 'ann', outFile: path.join(roDir, 'report.pdf') }), 'INVALID_ARGUMENT', 'OUTPUT_DIR_READ_ONLY');
    expect(ro.message).toMatch(/read-only.*nothing was written/);
    expect(fs.readdirSync(roDir)).toEqual(before);

    const dir = tempDir('report-bad-out');
    const existing = path.join(dir, 'r.pdf');
    fs.writeFileSync(existing, 'an earlier file');
    await expectError(exportCaseReport(store, c.id, { dataDir, actor: 'ann', outFile: existing }), 'OUTPUT_EXISTS');
    expect(fs.readFileSync(existing, 'utf8')).toBe('an earlier file');
    expect(visibleFiles(dir)).toEqual(['r.pdf']);
    // None of the refusals was recorded as an issued report.
    expect(store.listReports(c.id)).toEqual([]);
    expect(store.auditLog(c.id).some((x) => x.action === 'report.exported')).toBe(false);
  });

  it('a case with no evidence: a report that says so', async () => {
    const c = store.createCase({ caseNumber: 'BAD-EMPTY', title: 'Nothing seized yet', examiner: 'ann' });
    const out = path.join(tempDir('report-bad-out'), 'empty.pdf');
    const r = await exportCaseReport(store, c.id, { dataDir, actor: 'ann', outFile: out, exportedAt: AT, timeZone: 'UTC' });
    const text = pdfText(out);
    expect(text).toContain('BAD-EMPTY');
    expect(text).toContain('This case holds no evidence');
    expect(text).toContain('No detector has analysed the evidence in this report.');
    expect(text).toContain('Appendix A');
    expect(r.report.evidenceIds).toEqual([]);
    expect(renderPages(out, 30)).toHaveLength(pdfPageCount(out));
  });

  it('evidence whose stored file fails its hash check: the report is made and says so on the cover and the item page', async () => {
    const c = store.createCase({ caseNumber: 'BAD-HASH', title: 'Tampered store', examiner: 'ann' });
    await store.ingest(c.id, datasetImages(2, 'gan'), { actor: 'ann' });
    expect((await analyzeCaseEvidence(store, c.id, { dataDir, actor: 'ann' })).failed).toEqual([]);
    const [good, bad] = store.listEvidence(c.id);
    const stored = store.evidenceFilePath(bad);
    fs.chmodSync(stored, 0o644);
    fs.appendFileSync(stored, Buffer.from('tampered'));
    const out = path.join(tempDir('report-bad-out'), 'hash.pdf');
    const r = await exportCaseReport(store, c.id, { dataDir, actor: 'ann', outFile: out, exportedAt: AT, timeZone: 'UTC' });
    expect(r.failedHashCheck).toEqual([bad.id]);
    expect(r.report.verifyOk).toBe(false);
    const pages = pdfText(out).split('\f');
    expect(pages[0]).toMatch(/1 evidence item FAILS THE HASH CHECK at export: /);
    expect(pages[0].replace(/\s+/g, ' ')).toContain(`${bad.originalName} (stored file modified)`);
    expect(pages[0]).toContain('FAILED:');
    const itemPage = pages.find((p) => p.includes(`: ${bad.originalName}`) && p.includes('Evidence 2 of 2'))!;
    expect(itemPage).toMatch(/THE STORED FILE FAILS ITS HASH CHECK/);
    expect(itemPage).toContain(sha256OfFile(stored));
    const goodPage = pages.find((p) => p.includes('Evidence 1 of 2'))!;
    expect(goodPage).toContain('the stored copy matches its recorded sha256');
    expect(goodPage).toContain(good.sha256);
    // The audit entry records that verify failed at export.
    expect(store.auditLog(c.id).at(-1)!.details).toMatchObject({ reportId: r.report.id, verifyOk: false });
  });

  it('evidence whose stored copy became a symbolic link: not followed, the report says the copy is missing or unreadable', async () => {
    const c = store.createCase({ caseNumber: 'BAD-LINK', title: 'Link in the store', examiner: 'ann' });
    await store.ingest(c.id, datasetImages(2, 'gan'), { actor: 'ann' });
    const [, bad] = store.listEvidence(c.id);
    const stored = store.evidenceFilePath(bad);
    fs.chmodSync(stored, 0o644);
    fs.rmSync(stored);
    // The link points at the same bytes: only refusing to follow it keeps the report honest.
    fs.symlinkSync(datasetImages(2, 'gan')[1], stored);
    const verify = await store.verifyCase(c.id);
    expect(verify.issues).toContainEqual(expect.objectContaining({ kind: 'evidence-unreadable', evidenceId: bad.id, found: 'symbolic-link' }));
    const out = path.join(tempDir('report-bad-out'), 'link.pdf');
    const r = await exportCaseReport(store, c.id, { dataDir, actor: 'ann', outFile: out, exportedAt: AT, timeZone: 'UTC' });
    expect(r.failedHashCheck).toEqual([bad.id]);
    const pages = pdfText(out).split('\f');
    expect(pages[0].replace(/\s+/g, ' ')).toContain(`${bad.originalName} (stored file missing)`);
    const itemPage = pages.find((p) => p.includes('Evidence 2 of 2'))!;
    expect(itemPage.replace(/\s+/g, ' ')).toContain('is missing or unreadable at export');
  });

  it('a note of 20,000 characters flows over pages whole', async () => {
    const c = store.createCase({ caseNumber: 'BAD-NOTE', title: 'Long note', examiner: 'ann' });
    await store.ingest(c.id, datasetImages(1, 'gan'), { actor: 'ann' });
    const [e] = store.listEvidence(c.id);
    const words = 'the examiner compared the lighting of each region with the reference photographs and found ';
    let body = 'START-OF-NOTE ';
    while (body.length < 20_000 - 12) body += words;
    body = body.slice(0, 20_000 - 12) + ' END-OF-NOTE';
    expect(body).toHaveLength(20_000);
    store.addNote({ caseId: c.id, evidenceId: e.id, body, author: 'ann' });
    const out = path.join(tempDir('report-bad-out'), 'note.pdf');
    const r = await exportCaseReport(store, c.id, { dataDir, actor: 'ann', outFile: out, exportedAt: AT, timeZone: 'UTC' });
    const text = pdfText(out);
    expect(text).toContain('START-OF-NOTE');
    expect(text).toContain('END-OF-NOTE');
    // Whole: every word of the note is there (pdftotext breaks lines, so compare without whitespace).
    const squash = (s: string) => s.replace(/\s+/g, '');
    // The running header and footer of each page the note crosses sit between its lines in the text.
    const furniture = new RegExp(`AIImageForensics0\\.1\\.0·exported[^·]*?page\\d+of\\d+|CaseBAD-NOTEReport${r.report.id}`, 'g');
    expect(squash(text).replace(furniture, '')).toContain(squash(body));
    expect(r.report.pageCount).toBeGreaterThanOrEqual(7);
    const perPage = text.split('\f').filter((p) => p.trim());
    perPage.forEach((p, i) => expect(p).toContain(`page ${i + 1} of ${r.report.pageCount}`));
  });

  it('names in Arabic and Chinese script: Arabic is shaped in DejaVu Sans; Chinese uses a Debian CJK font when one is installed, else is spelled as code points', async () => {
    const c = store.createCase({ caseNumber: 'قضية-٧', title: 'صور من هاتف مصادر 张伟的照片', examiner: 'محمد أحمد' });
    const src = tempDir('report-names');
    const [gan] = datasetImages(1, 'gan');
    fs.copyFileSync(gan, path.join(src, '证据照片.png'));
    await store.ingest(c.id, [path.join(src, '证据照片.png')], { actor: 'محمد أحمد' });
    const out = path.join(tempDir('report-bad-out'), 'names.pdf');
    const r = await exportCaseReport(store, c.id, { dataDir, actor: 'محمد أحمد', outFile: out, exportedAt: AT, timeZone: 'Asia/Shanghai' });
    const text = pdfText(out);
    // pdftotext gives a right-to-left run in logical order, but may place neutral characters (the "-7") either side.
    expect(text).toContain('محمد أحمد');
    expect(text).toContain('صور من هاتف مصادر');
    expect(text).toMatch(/قضية‬?-٧|٧-‫?قضية/);
    expect(text).toContain('2026-11-30 20:00:00 UTC+08:00 (Asia/Shanghai)');
    const squashed = text.replace(/\s+/g, '');
    if (loadReportFonts().cjk) {
      expect(text).toContain('证据照片.png');
      expect(text).toContain('张伟的照片');
    } else {
      // No CJK font on this machine (DejaVu has no ideographs): the name is still recoverable from the report.
      expect(squashed).toContain('[notintheembeddedfonts:U+8BC1U+636EU+7167U+7247]');
      expect(squashed).toContain('U+5F20U+4F1FU+7684U+7167U+7247]');
    }
    expect(renderPages(out, 30)).toHaveLength(r.report.pageCount);
  });

  it('cancelled while laying out: CANCELLED, nothing at the output path and nothing recorded', async () => {
    const c = store.createCase({ caseNumber: 'BAD-CANCEL', title: 'Cancelled', examiner: 'ann' });
    await store.ingest(c.id, datasetImages(3, 'gan'), { actor: 'ann' });
    const dir = tempDir('report-bad-out');
    const controller = new AbortController();
    await expectError(
      exportCaseReport(store, c.id, { dataDir, actor: 'ann', outFile: path.join(dir, 'r.pdf'), signal: controller.signal, onProgress: (done) => done === 1 && controller.abort() }),
      'CANCELLED',
    );
    expect(visibleFiles(dir)).toEqual([]);
    expect(store.listReports(c.id)).toEqual([]);
  });

  it('a bad export time or time zone is refused before anything is written', async () => {
    const c = store.createCase({ caseNumber: 'BAD-TIME', title: 'Time', examiner: 'ann' });
    const dir = tempDir('report-bad-out');
    await expectError(exportCaseReport(store, c.id, { dataDir, actor: 'ann', outFile: path.join(dir, 'r.pdf'), exportedAt: 'yesterday' }), 'INVALID_ARGUMENT');
    await expectError(exportCaseReport(store, c.id, { dataDir, actor: 'ann', outFile: path.join(dir, 'r.pdf'), timeZone: 'Mars/Olympus' }), 'INVALID_ARGUMENT');
    expect(visibleFiles(dir)).toEqual([]);
  });

  it('notes and provenance summaries handed in by other services appear on the item page', async () => {
    const c = store.createCase({ caseNumber: 'EXTRAS-1', title: 'Extras', examiner: 'ann' });
    await store.ingest(c.id, datasetImages(1, 'real'), { actor: 'ann' });
    const [e] = store.listEvidence(c.id);
    const out = path.join(tempDir('report-bad-out'), 'extras.pdf');
    await exportCaseReport(store, c.id, {
      dataDir,
      actor: 'ann',
      outFile: out,
      exportedAt: AT,
      timeZone: 'UTC',
      extras: {
        notes: { [e.id]: [{ author: 'bob', createdAt: AT, body: 'Note from the workspace.' }] },
        provenance: { [e.id]: [{ title: 'Metadata (EXIF)', lines: ['Camera: none recorded', 'Software: GIMP 2.10'] }] },
      },
    });
    const item = pdfText(out).split('\f').find((p) => p.includes('Evidence 1 of 1'))!;
    expect(item).toContain('Note from the workspace.');
    expect(item).toContain('Provenance findings');
    expect(item).toContain('Metadata (EXIF)');
    expect(item).toContain('Software: GIMP 2.10');
  });
});
