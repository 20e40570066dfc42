// The product's whole flow through the API contract and its worker jobs, on real parts: a dataset
// built from ../shared/datasets, a detector trained as a job (progress, then registered), a case,
// evidence ingested, analysed and explained with all five methods, each recorded in the case store.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { createApiServices, type ApiServices } from '../../electron/services/api-handlers';
import { buildDataset } from '../../electron/services/dataset/build-dataset';
import type { JobState } from '../../electron/shared/api-contract';
import { CaseStore } from '../../electron/services/case-store';
import { casePaths } from '../../electron/services/case-store/evidence-files';

const repoRoot = path.resolve(import.meta.dirname, '../..');
const sources = path.resolve(repoRoot, '../shared/datasets');

let work: string;
let services: ApiServices;
const events: JobState[] = [];

async function runJob(request: Parameters<ApiServices['handlers']['jobs.start']>[0]): Promise<JobState> {
  const { jobId } = await services.handlers['jobs.start'](request);
  for (;;) {
    const state = await services.handlers['jobs.get']({ jobId });
    if (state.status !== 'running') return state;
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'forensics-workflow-'));
  services = createApiServices({ dataDir: path.join(work, 'data') });
  services.onEvent((e) => events.push(e.job));
});
afterAll(async () => {
  await services?.dispose();
});

describe('API workflow: train, ingest, analyse, explain', () => {
  let modelId: string;
  let caseId: string;
  const originals: Array<{ file: string; sha256: string }> = [];

  it('trains a detector as a cancellable job with structured progress, and registers it', async () => {
    const datasetDir = path.join(work, 'dataset');
    await buildDataset({ sourcesDir: sources, outDir: datasetDir, seed: 11, limitPerGenerator: 1, limitReal: 24 });

    // Cancel first: a cancelled job says so and registers nothing.
    const { jobId: cancelledId } = await services.handlers['jobs.start']({ kind: 'training.run', datasetDir, backbone: 'mobilenet_v2', epochs: 200, modelId: 'never-registered' });
    await new Promise((r) => setTimeout(r, 1500));
    expect((await services.handlers['jobs.cancel']({ jobId: cancelledId })).cancelled).toBe(true);
    let cancelled: JobState;
    do {
      await new Promise((r) => setTimeout(r, 100));
      cancelled = await services.handlers['jobs.get']({ jobId: cancelledId });
    } while (cancelled.status === 'running');
    expect(['cancelled', 'failed']).toContain(cancelled.status);
    expect(fs.existsSync(path.join(work, 'data', 'models', 'never-registered'))).toBe(false);

    const job = await runJob({ kind: 'training.run', datasetDir, backbone: 'mobilenet_v2', epochs: 6, batchSize: 16, modelId: 'workflow-model' });
    expect(job.error).toBeUndefined();
    expect(job.status).toBe('done');
    const result = job.result as { modelId: string; threshold: { threshold: number }; test: { rocAuc: number | null } };
    modelId = result.modelId;
    expect(modelId).toBe('workflow-model');
    const epochEvents = events.filter((e) => e.id === job.id && e.progress.detail?.kind === 'epoch');
    expect(epochEvents.length).toBeGreaterThanOrEqual(1);
    for (const e of epochEvents) {
      const d = e.progress.detail as { loss: number; learningRate: number; epoch: number };
      expect(Number.isFinite(d.loss) && d.learningRate > 0 && d.epoch >= 1).toBe(true);
    }
  });

  it('ingests evidence without touching the originals, analyses it with that model and records model and provider', async () => {
    const kase = await services.handlers['cases.create']({ caseNumber: 'WF-1', title: 'Workflow', examiner: 'Tester' });
    caseId = kase.id;
    const manifest = fs.readFileSync(path.join(sources, 'MANIFEST.csv'), 'utf8').trim().split('\n').slice(1);
    const pick = (label: string) => manifest.filter((l) => l.split(',')[1] === label).slice(-2).map((l) => path.join(sources, l.split(',')[0].split('#')[0]));
    for (const file of [...pick('real'), ...pick('synthetic')]) {
      originals.push({ file, sha256: crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex') });
    }
    const ingest = await runJob({ kind: 'evidence.import', caseId, paths: originals.map((o) => o.file) });
    expect(ingest.status).toBe('done');
    expect((ingest.result as { added: number }).added).toBe(new Set(originals.map((o) => o.sha256)).size);

    const analysis = await runJob({ kind: 'analysis.run', caseId, modelId });
    expect(analysis.error).toBeUndefined();
    const analyses = await services.handlers['analyses.list']({ caseId });
    expect(analyses).toHaveLength(originals.length);
    for (const a of analyses) {
      expect(a.model.id).toBe(modelId);
      expect(a.model.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(a.provider).toBe('cpu');
      expect(a.pSynthetic).toBeGreaterThanOrEqual(0);
      expect(a.pSynthetic).toBeLessThanOrEqual(1);
      expect(a.verdict).toBe(a.pSynthetic >= a.threshold ? 'synthetic' : 'real');
    }
    for (const o of originals) expect(crypto.createHash('sha256').update(fs.readFileSync(o.file)).digest('hex')).toBe(o.sha256);
  });

  it('asks for the execution provider chosen in Settings, audits the choice, and says why it fell back', async () => {
    expect(await services.handlers['settings.get']({})).toEqual({ providerPreference: 'auto' });
    // CoreML exists only on macOS: the analysis runs on the CPU and the job's result says why.
    expect(await services.handlers['settings.update']({ providerPreference: 'coreml' })).toEqual({ providerPreference: 'coreml' });
    const analysis = await runJob({ kind: 'analysis.run', caseId, modelId });
    expect(analysis.status).toBe('done');
    expect(analysis.result).toMatchObject({ provider: 'cpu', providerNote: expect.stringContaining('CoreML exists only on macOS') });
    expect((await services.handlers['analyses.list']({ caseId })).slice(-originals.length).every((a) => a.provider === 'cpu')).toBe(true);

    // Saving the same choice again is not a change; going back to auto is, and both changes are audited.
    await services.handlers['settings.update']({ providerPreference: 'coreml' });
    expect(await services.handlers['settings.update']({ providerPreference: 'auto' })).toEqual({ providerPreference: 'auto' });
    const store = CaseStore.open(path.join(work, 'data'));
    try {
      const changes = store.auditLog('global').filter((e) => e.action === 'setting.changed');
      expect(changes.map((e) => (e.details as { value: unknown }).value)).toEqual(['coreml', 'auto']);
    } finally {
      store.close();
    }
  });

  it('explains one evidence file with all five methods and keeps the overlays in the case', async () => {
    const [evidence] = await services.handlers['evidence.list']({ caseId });
    const job = await runJob({ kind: 'explanation.run', evidenceId: evidence.id });
    expect(job.error).toBeUndefined();
    expect(job.status).toBe('done');
    const explanations = await services.handlers['explanations.list']({ evidenceId: evidence.id });
    expect(explanations.map((e) => e.method).sort()).toEqual(['ablationcam', 'gradcam', 'layercam', 'lime', 'scorecam']);
    for (const e of explanations) {
      const png = Buffer.from(e.overlay!.replace(/^data:image\/png;base64,/, ''), 'base64');
      const meta = await sharp(png).metadata();
      // Overlays keep the evidence image's aspect ratio.
      expect(Math.abs(meta.width! / meta.height! - evidence.width! / evidence.height!)).toBeLessThan(0.02);
    }
    // The chain of custody still verifies after analyses and explanations were added.
    const store = CaseStore.open(path.join(work, 'data'));
    try {
      const report = await store.verifyCase(caseId);
      expect(report.ok).toBe(true);
      // Each explanation records the execution provider that computed it.
      const recorded = store.listExplanations(caseId).filter((x) => explanations.some((e) => e.id === x.id));
      expect(recorded).toHaveLength(5);
      expect(recorded.every((x) => (x.parameters as { provider?: string }).provider === 'cpu')).toBe(true);
    } finally {
      store.close();
    }
  });

  it('reports a missing or altered overlay file for that overlay only, without failing the list', async () => {
    const [evidence] = await services.handlers['evidence.list']({ caseId });
    const store = CaseStore.open(path.join(work, 'data'));
    let records;
    try {
      records = store.listExplanations(caseId).filter((e) => e.heatmapPath);
    } finally {
      store.close();
    }
    const root = casePaths(path.join(work, 'data'), caseId).root;
    const byMethod = new Map(records.map((r) => [r.method, path.join(root, ...r.heatmapPath!.split('/'))]));
    const removed = byMethod.get('gradcam')!;
    const altered = byMethod.get('lime')!;
    fs.rmSync(removed, { force: true });
    fs.chmodSync(altered, 0o644);
    fs.appendFileSync(altered, Buffer.from([0]));
    const explanations = await services.handlers['explanations.list']({ evidenceId: evidence.id });
    const of = (m: string) => explanations.find((e) => e.method === m)!;
    expect(of('gradcam').overlay).toBeNull();
    expect(of('gradcam').overlayProblem).toMatch(/cannot be read.*ENOENT/);
    expect(of('lime').overlay).toBeNull();
    expect(of('lime').overlayProblem).toMatch(/no longer matches its recorded sha256/);
    expect(of('scorecam').overlay).toMatch(/^data:image\/png;base64,/);
    expect(of('scorecam').overlayProblem).toBeUndefined();
  });
});
