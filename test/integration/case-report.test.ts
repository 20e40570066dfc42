// A PDF case report of real evidence, analysed by the shipped default detector and explained with all
// five methods, checked by parsing (pdftotext) and rendering (pdftoppm), its sha256 in the audit chain,
// and `report verify` failing on one changed byte.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { CaseStore } from '../../electron/services/case-store';
import { analyzeCaseEvidence } from '../../electron/services/case-analysis';
import { explainEvidence } from '../../electron/services/case-explanation';
import { buildCaseReport, exportCaseReport, verifyReportFile, type ExportReportResult } from '../../electron/services/report/case-report';
import { runReportCommand } from '../../electron/cli/report-command';
import { datasetImages, sha256OfFile, tempDir } from '../fixtures/case-store/case-fixtures';
import { pdfPageCount, pdfText, regionStats, renderPages } from '../support/pdf-tools';

const EXPORTED_AT = '2026-11-30T09:15:00.000Z';
const TIME_ZONE = 'Europe/Berlin';

let dataDir: string;
let store: CaseStore;
let caseId: string;
let out: string;
let exported: ExportReportResult;
let built: Buffer;

function capture(dir: string) {
  const lines: unknown[] = [];
  return { lines, ctx: { dataDir: dir, json: true, print: (o: unknown) => lines.push(o), printError: (o: unknown) => lines.push(o) } };
}

beforeAll(async () => {
  dataDir = tempDir('case-report');
  store = CaseStore.open(dataDir);
  const kase = store.createCase({ caseNumber: 'CR-2026-0042', title: 'Profile photographs of a suspected fake account', examiner: 'José Müller', agency: 'Forensic Lab Zürich' });
  caseId = kase.id;
  // One real photograph (JPEG) and one GAN sample (PNG), both from ../shared/datasets.
  await store.ingest(caseId, [datasetImages(1, 'real')[0], datasetImages(1, 'gan')[0]], { actor: 'José Müller' });
  const analysed = await analyzeCaseEvidence(store, caseId, { dataDir, actor: 'José Müller' });
  expect(analysed.failed).toEqual([]);
  for (const e of store.listEvidence(caseId)) {
    await explainEvidence(store, e.id, { dataDir, actor: 'José Müller' });
  }
  const [first] = store.listEvidence(caseId);
  store.addNote({ caseId, evidenceId: first.id, body: 'Shadows fall two ways near the left edge; compare with the seizure photographs.', author: 'José Müller' });
  store.addNote({ caseId, body: 'Both files came from the same seized phone.', author: 'José Müller' });

  // Built twice before anything is recorded: the same state and time must give the same bytes.
  const a = await buildCaseReport(store, caseId, { dataDir, actor: 'José Müller', exportedAt: EXPORTED_AT, timeZone: TIME_ZONE });
  const b = await buildCaseReport(store, caseId, { dataDir, actor: 'José Müller', exportedAt: EXPORTED_AT, timeZone: TIME_ZONE });
  expect(a.bytes.equals(b.bytes)).toBe(true);
  built = a.bytes;
  out = path.join(tempDir('case-report-out'), 'report.pdf');
  exported = await exportCaseReport(store, caseId, { dataDir, actor: 'José Müller', outFile: out, exportedAt: EXPORTED_AT, timeZone: TIME_ZONE });
}, 600_000);

afterAll(() => store?.close());

describe('PDF case report', () => {
  it('is the same bytes for the same case state and export time, and different bytes for another time', async () => {
    expect(sha256OfFile(out)).toBe(crypto.createHash('sha256').update(built).digest('hex'));
    const later = await buildCaseReport(store, caseId, { dataDir, actor: 'José Müller', exportedAt: '2026-11-30T09:16:00.000Z', timeZone: TIME_ZONE });
    expect(later.bytes.equals(built)).toBe(false);
  });

  it('states the case number, every sha256 and verdict, the model sha256, the audit head and every audit entry hash', () => {
    const text = pdfText(out);
    const evidence = store.listEvidence(caseId);
    const analyses = store.listAnalyses(caseId);
    expect(text).toContain('CR-2026-0042');
    expect(text).toContain('Profile photographs of a suspected fake account');
    expect(text).toContain('José Müller');
    expect(text).toContain('Forensic Lab Zürich');
    expect(text).toContain(exported.report.id);
    for (const e of evidence) expect(text).toContain(e.sha256);
    for (const a of analyses) {
      expect(text).toContain(a.verdict.toUpperCase());
      expect(text).toContain(a.pSynthetic.toFixed(4));
      expect(text).toContain(a.model.sha256);
    }
    // The head the report vouches for is the chain's head just before the report was recorded.
    const audit = store.auditLog(caseId);
    const reportEntry = audit.at(-1)!;
    expect(reportEntry.action).toBe('report.exported');
    const headAtExport = audit.at(-2)!;
    expect(exported.report.auditHead).toEqual({ index: headAtExport.index, hash: headAtExport.hash });
    expect(text).toContain(headAtExport.hash);
    for (const entry of audit.slice(0, -1)) expect(text).toContain(entry.hash);
    expect(text).toContain('PASSED');
    // Time with its zone, notes, methods and limitations from the model card.
    expect(text).toContain('2026-11-30 10:15:00 UTC+01:00 (Europe/Berlin)');
    expect(text).toContain('Shadows fall two ways near the left edge');
    expect(text).toContain('Both files came from the same seized phone.');
    const card = JSON.parse(fs.readFileSync('models/default/model-card.json', 'utf8'));
    expect(text).toContain(card.trainingData.summary.slice(0, 60));
    for (const label of ['Precision', 'Recall', 'F1', 'Accuracy', 'AP', 'ROC-AUC', 'FPR', 'FNR']) expect(text).toContain(label);
    expect(text).toContain(card.metrics.test.rocAuc.toFixed(3));
    expect(text).toContain(`mean ${card.metrics.leaveOneGeneratorOut.mean.toFixed(3)}, worst ${card.metrics.leaveOneGeneratorOut.min.toFixed(3)}`);
    expect(text).toContain(`mean ${card.metrics.leaveOneModalityOut.mean.toFixed(3)}`);
    expect(text).toMatch(/blurry/);
    expect(text).toMatch(/sharp\s+textures/);
    expect(text).toContain('A verdict is one indicator, not proof.');
    for (const caption of ['GradCAM', 'AblationCAM', 'LayerCAM', 'Faster ScoreCAM', 'LIME']) expect(text).toContain(caption);
    expect(text).toMatch(/LIME: regions for the target class/);
    expect(text).toMatch(/LIME: regions against it/);
    expect(text).toMatch(/target class explained: (real|synthetic)/);
  });

  it('renders every page, with "page n of N" and the running header on each', async () => {
    const pages = pdfPageCount(out);
    expect(pages).toBe(exported.report.pageCount);
    const text = pdfText(out);
    const perPage = text.split('\f').filter((p) => p.trim());
    expect(perPage).toHaveLength(pages);
    perPage.forEach((p, i) => {
      expect(p).toContain(`page ${i + 1} of ${pages}`);
      expect(p).toContain('Case CR-2026-0042');
      expect(p).toContain(`Report ${exported.report.id}`);
    });
    const pngs = renderPages(out, 40);
    expect(pngs).toHaveLength(pages);
    for (const png of pngs) {
      const meta = await sharp(png).metadata();
      expect(meta.width).toBeGreaterThan(300);
      // Every page carries ink (header, footer, content), not a blank sheet.
      const { channels } = await sharp(png).greyscale().stats();
      expect(channels[0].min).toBeLessThan(128);
    }
  });

  it('draws the five explanation panels side by side, none of them blank', async () => {
    const panels = exported.layout.panels;
    expect(panels).toHaveLength(10);
    const dpi = 100;
    for (const evidence of store.listEvidence(caseId)) {
      const mine = panels.filter((p) => p.evidenceId === evidence.id);
      expect(mine.map((p) => p.method)).toEqual(['gradcam', 'ablationcam', 'layercam', 'scorecam', 'lime']);
      // Side by side: one page, one row, left to right without overlap.
      expect(new Set(mine.map((p) => p.page)).size).toBe(1);
      for (let k = 1; k < mine.length; k++) {
        expect(mine[k].y).toBeCloseTo(mine[0].y, 1);
        expect(mine[k].x).toBeGreaterThanOrEqual(mine[k - 1].x + mine[k - 1].width);
      }
      const [png] = renderPages(out, dpi, mine[0].page + 1);
      for (const p of mine) {
        const s = await regionStats(png, dpi, p);
        expect(s.stdev, `${p.method} panel`).toBeGreaterThan(12);
        expect(s.mean, `${p.method} panel`).toBeLessThan(245);
      }
      // The measure tells ink from paper: the right margin beside the row is blank page.
      const blank = await regionStats(png, dpi, { x: 556, y: mine[0].y, width: 30, height: mine[0].height });
      expect(blank.stdev).toBeLessThan(3);
    }
  });

  it('records the report in the audit chain, which still verifies, and lists it', async () => {
    const entry = store.auditLog(caseId).at(-1)!;
    expect(entry.action).toBe('report.exported');
    expect(entry.details).toMatchObject({ reportId: exported.report.id, sha256: sha256OfFile(out), verifyOk: true });
    expect((await store.verifyCase(caseId)).ok).toBe(true);
    expect(store.listReports(caseId).map((r) => r.id)).toEqual([exported.report.id]);
    // The store keeps its own read-only copy of the issued report.
    expect(sha256OfFile(exported.file)).toBe(exported.report.sha256);
    expect(fs.statSync(exported.file).mode & 0o222).toBe(0);
  });

  it('report verify: the issued file passes, one changed byte fails (service and CLI)', async () => {
    expect(await verifyReportFile(store, out)).toMatchObject({ status: 'issued', ok: true, storedCopyIntact: true });
    let cli = capture(dataDir);
    expect(await runReportCommand(['verify', out], cli.ctx)).toBe(0);
    expect(cli.lines[0]).toMatchObject({ status: 'issued', report: { id: exported.report.id } });

    const bytes = fs.readFileSync(out);
    // A byte inside page content, far from the Info dictionary that names the report.
    const changed = Buffer.from(bytes);
    const at = Math.floor(bytes.length / 3);
    changed[at] = changed[at] ^ 0x01;
    const tampered = path.join(path.dirname(out), 'tampered.pdf');
    fs.writeFileSync(tampered, changed);
    const verdict = await verifyReportFile(store, tampered);
    expect(verdict).toMatchObject({ status: 'changed', ok: false, reportId: exported.report.id });
    cli = capture(dataDir);
    expect(await runReportCommand(['verify', tampered], cli.ctx)).toBe(1);
    expect(cli.lines[0]).toMatchObject({ status: 'changed' });

    // A PDF this store never issued.
    const other = path.join(path.dirname(out), 'other.pdf');
    fs.writeFileSync(other, bytes.subarray(0, bytes.length - 10));
    expect((await verifyReportFile(store, other)).ok).toBe(false);
  });

  it('exports selected evidence only, and refuses an evidence id from elsewhere', async () => {
    const [, second] = store.listEvidence(caseId);
    const cli = capture(dataDir);
    const file = path.join(path.dirname(out), 'selected.pdf');
    expect(await runReportCommand([caseId, '--out', file, '--evidence', second.id, '--at', '2026-11-30T10:00:00Z', '--time-zone', 'UTC'], cli.ctx)).toBe(0);
    expect(cli.lines[0]).toMatchObject({ evidence: 1, sha256: sha256OfFile(file) });
    const text = pdfText(file);
    expect(text).toContain(second.sha256);
    expect(text).toContain('1 selected item(s) of the case');
    expect(text).toContain('Evidence 1 of 1');
    // The other item is named only in the audit appendix (its ingest entry), not in the report's body.
    const body = text.slice(0, text.indexOf('Appendix A'));
    expect(body).not.toContain(store.listEvidence(caseId)[0].sha256);
    const bad = capture(dataDir);
    expect(await runReportCommand([caseId, '--out', path.join(path.dirname(out), 'x.pdf'), '--evidence', crypto.randomUUID()], bad.ctx)).toBe(1);
    expect(bad.lines[0]).toMatchObject({ error: 'EVIDENCE_NOT_FOUND' });
    expect(fs.existsSync(path.join(path.dirname(out), 'x.pdf'))).toBe(false);
  });

  it('an overlay file altered on disk: its panel says so, the other panels and items are still drawn', async () => {
    const [first] = store.listEvidence(caseId);
    const analysis = store.listAnalysesForEvidence(first.id).at(-1)!;
    const lime = store.listExplanations(caseId).filter((x) => x.analysisId === analysis.id && x.method === 'lime').at(-1)!;
    const file = path.join(dataDir, 'cases', caseId, ...lime.heatmapPath!.split('/'));
    fs.chmodSync(file, 0o644);
    fs.appendFileSync(file, Buffer.from([0]));
    const r = await buildCaseReport(store, caseId, { dataDir, actor: 'José Müller', exportedAt: EXPORTED_AT, timeZone: TIME_ZONE });
    expect(r.layout.panels).toHaveLength(9);
    expect(r.layout.panels.some((p) => p.evidenceId === first.id && p.method === 'lime')).toBe(false);
    const pdf = path.join(path.dirname(out), 'altered-overlay.pdf');
    fs.writeFileSync(pdf, r.bytes);
    const text = pdfText(pdf).replace(/\s+/g, ' ');
    expect(text).toContain('the overlay file no longer matches its recorded sha256');
    expect(text).toContain('FAILED:');
  });
});
