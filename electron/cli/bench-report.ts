// `npm run bench -- report [--evidence 100] [--lime-samples 64] [--repeats 3] [--store <dir>]`: time to make
// the PDF report of a case whose every item is analysed and explained with all five methods, against the
// bound: pdfkit writing the same pages with every image already encoded for print (the layout alone).
// Setting the case up (ingest, analysis, explanations) is not timed; --store keeps it for another run.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CaseStore } from '../services/case-store';
import { analyzeCaseEvidence } from '../services/case-analysis';
import { explainImage } from '../services/explainers/explain-image';
import { openRegisteredModel, releaseExplainerSessions } from '../services/explainers/registered-model';
import { collectReportSnapshot } from '../services/report/report-data';
import { prepareImages, renderReportPdf } from '../services/report/report-pdf';
import { writeFileAtomically } from '../services/report/case-report';
import { findRepoRoot } from '../services/app/app-info';
import type { CliContext } from './cli-context';
import { benchOptionReader } from './bench-support';

const CASE_NUMBER = 'BENCH-REPORT';

function datasetFiles(count: number): string[] {
  const root = path.resolve(findRepoRoot(), '..', 'shared', 'datasets');
  const manifest = fs.readFileSync(path.join(root, 'MANIFEST.csv'), 'utf8').trim().split('\n').slice(1);
  // Alternate real and synthetic files in manifest order: a stable, mixed set of sizes and formats.
  const real = manifest.filter((l) => l.split(',')[1] === 'real');
  const synthetic = manifest.filter((l) => l.split(',')[1] === 'synthetic');
  const out: string[] = [];
  for (let i = 0; out.length < count && (i < real.length || i < synthetic.length); i++) {
    for (const l of [real[i], synthetic[i]]) if (l && out.length < count) out.push(path.join(root, l.split(',')[0].split('#')[0]));
  }
  return out;
}

async function prepareCase(store: CaseStore, dataDir: string, count: number, limeSamples: number, io: Pick<CliContext, 'printError'>): Promise<string> {
  // A --store from an earlier run is reused, and an interrupted set-up resumes where it stopped.
  const c = store.findCase(CASE_NUMBER) ?? store.createCase({ caseNumber: CASE_NUMBER, title: 'Report benchmark', examiner: 'bench' });
  const have = store.listEvidence(c.id).length;
  if (have < count) await store.ingest(c.id, datasetFiles(count), { actor: 'bench' });
  await analyzeCaseEvidence(store, c.id, { dataDir, actor: 'bench', onlyMissing: true });
  const methodsDone = new Map<string, number>();
  for (const x of store.listExplanations(c.id)) methodsDone.set(x.analysisId, (methodsDone.get(x.analysisId) ?? 0) + 1);
  const pending = store.listEvidence(c.id).filter((e) => {
    const a = store.listAnalysesForEvidence(e.id).at(-1);
    return a && (methodsDone.get(a.id) ?? 0) < 5;
  });
  if (!pending.length) return c.id;
  const opened = await openRegisteredModel({ dataDir });
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'forensics-bench-report-maps-'));
  try {
    for (const [i, e] of pending.entries()) {
      const analysis = store.listAnalysesForEvidence(e.id).at(-1);
      if (!analysis) continue;
      // Real explanations of every item; LIME with fewer samples than the app's 1000 to bound set-up time.
      const result = await explainImage(store.evidenceFilePath(e), {
        model: opened.model,
        normalisation: opened.normalisation,
        threshold: analysis.threshold,
        calibration: opened.calibration,
        methodOptions: { lime: { samples: limeSamples } },
        outDir,
      });
      for (const r of result.results) {
        await store.recordExplanation({
          analysisId: analysis.id,
          method: r.method,
          parameters: { ...r.params, target: r.target.class, peak: r.peak, forwardPasses: r.forwardPasses, ms: Math.round(r.ms), provider: opened.provider },
          heatmap: { path: r.map! },
          actor: 'bench',
        });
      }
      if ((i + 1) % 10 === 0) io.printError(`  set-up: ${i + 1}/${pending.length} remaining items explained`);
    }
  } finally {
    fs.rmSync(outDir, { recursive: true, force: true });
    await opened.model.dispose();
    await releaseExplainerSessions();
  }
  return c.id;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function runReportBench(argv: string[], io: Pick<CliContext, 'print' | 'printError'>): Promise<number> {
  const opt = benchOptionReader(argv);
  const count = Number(opt('--evidence') ?? 100);
  const limeSamples = Number(opt('--lime-samples') ?? 64);
  const repeats = Number(opt('--repeats') ?? 3);
  if (![count, limeSamples, repeats].every((n) => Number.isInteger(n) && n > 0)) {
    io.printError('Usage: npm run bench -- report [--evidence <n>] [--lime-samples <n>] [--repeats <n>] [--store <dir>]');
    return 2;
  }
  const keep = opt('--store');
  const dataDir = keep ? path.resolve(keep) : fs.mkdtempSync(path.join(os.tmpdir(), 'forensics-bench-report-'));
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'forensics-bench-report-out-'));
  const store = CaseStore.open(dataDir);
  try {
    const caseId = await prepareCase(store, dataDir, count, limeSamples, io);
    const exportedAt = '2026-01-01T00:00:00.000Z';
    const timings: Array<{ full: number; collect: number; render: number; imagesAlone: number; bound: number; pages: number; bytes: number }> = [];
    for (let r = 0; r < repeats; r++) {
      // The full export as the job runs it (images read, checked and encoded while pages are laid out),
      // minus the audit entry, which would change the case state.
      const t0 = performance.now();
      const snapshot = await collectReportSnapshot(store, caseId, { dataDir, exportedAt, timeZone: 'UTC', actor: 'bench' });
      const t1 = performance.now();
      const { bytes, layout } = await renderReportPdf(snapshot);
      await writeFileAtomically(path.join(outDir, `full-${r}.pdf`), bytes);
      const t2 = performance.now();
      // The bound: the same pages written by pdfkit to the same disk, every image already encoded.
      const i0 = performance.now();
      const prepared = await prepareImages(snapshot.items);
      const i1 = performance.now();
      const again = await renderReportPdf(snapshot, { prepared });
      await writeFileAtomically(path.join(outDir, `bound-${r}.pdf`), again.bytes);
      const b1 = performance.now();
      if (!again.bytes.equals(bytes)) throw new Error('The bound run wrote different bytes from the full run.');
      timings.push({ full: t2 - t0, collect: t1 - t0, render: t2 - t1, imagesAlone: i1 - i0, bound: b1 - i1, pages: layout.pageCount, bytes: bytes.length });
    }
    const s = (k: keyof (typeof timings)[0]) => median(timings.map((t) => t[k]));
    io.print({
      bench: 'report',
      evidence: count,
      explanationsPerItem: 5,
      limeSamples,
      repeats,
      pages: s('pages'),
      megabytes: Math.round((s('bytes') / 1e6) * 10) / 10,
      fullSeconds: Math.round(s('full')) / 1000,
      boundSeconds: Math.round(s('bound')) / 1000,
      ratio: Math.round((s('full') / s('bound')) * 100) / 100,
      parts: { collectAndVerifySeconds: Math.round(s('collect')) / 1000, layoutWithImagesAndWriteSeconds: Math.round(s('render')) / 1000 },
      /** Encoding every image for print on its own, one item after another (not part of either time). */
      imagesAloneSeconds: Math.round(s('imagesAlone')) / 1000,
      cpus: os.cpus().length,
    });
    return 0;
  } finally {
    store.close();
    fs.rmSync(outDir, { recursive: true, force: true });
    if (!keep) fs.rmSync(dataDir, { recursive: true, force: true });
  }
}
