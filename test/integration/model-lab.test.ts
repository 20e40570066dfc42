// The model lab through the API contract and its worker jobs, on real parts: labelled folders of
// ../shared/datasets read in place, the dataset builder, head training on MobileNetV2 features, the
// registry, the case store's global audit chain. Bad folder input fails with one clear error each; a
// trained model never becomes active by itself; activation is audited and a weak model needs
// confirmWeak; an imported model file whose detector does not hash to its card is refused.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createApiServices, type ApiServices } from '../../electron/services/api-handlers';
import { CaseStore } from '../../electron/services/case-store';
import type { ApiRequest, JobState, LabDatasetInfo } from '../../electron/shared/api-contract';

const repoRoot = path.resolve(import.meta.dirname, '../..');
const shared = path.resolve(repoRoot, '../shared/datasets');
const realDir = path.join(shared, 'real');
const ganDir = path.join(shared, 'synthetic', 'gan');
const diffusionDir = path.join(shared, 'synthetic', 'diffusion');

let work: string;
let dataDir: string;
let services: ApiServices;
const events: JobState[] = [];

async function runJob(request: ApiRequest<'jobs.start'>): Promise<JobState> {
  const { jobId } = await services.handlers['jobs.start'](request);
  for (;;) {
    const state = await services.handlers['jobs.get']({ jobId });
    if (state.status !== 'running') return state;
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function callError(fn: () => Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await fn();
  } catch (e) {
    return { code: (e as { code: string }).code, message: (e as Error).message };
  }
  throw new Error('expected the call to fail');
}

const buildFolders = (real: Array<{ path: string }>, synthetic: Array<{ path: string; generator?: string }>, maxImagesPerFolder?: number) =>
  runJob({ kind: 'dataset.build', source: { kind: 'folders', real, synthetic, ...(maxImagesPerFolder ? { maxImagesPerFolder } : {}) }, seed: 3 });

function globalAudit() {
  const store = CaseStore.open(dataDir);
  try {
    return store.auditLog('global');
  } finally {
    store.close();
  }
}

/** A few real photographs copied into a scratch folder (the originals are never touched). */
function scratchFolder(name: string, files: string[]): string {
  const dir = path.join(work, name);
  fs.mkdirSync(dir, { recursive: true });
  for (const f of files) fs.copyFileSync(f, path.join(dir, path.basename(f)));
  return dir;
}

const realPhotos = () =>
  fs
    .readdirSync(realDir)
    .filter((f) => /\.(png|jpe?g)$/i.test(f))
    .sort()
    .slice(0, 6)
    .map((f) => path.join(realDir, f));

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'forensics-model-lab-'));
  dataDir = path.join(work, 'data');
  services = createApiServices({ dataDir });
  services.onEvent((e) => events.push(e.job));
});
afterAll(async () => {
  await services?.dispose();
});

describe('model lab: datasets from labelled folders, bad input', () => {
  it('refuses an empty folder', async () => {
    const empty = path.join(work, 'empty');
    fs.mkdirSync(empty);
    const job = await buildFolders([{ path: empty }], [{ path: ganDir }], 4);
    expect(job.status).toBe('failed');
    expect(job.error).toEqual({ code: 'EMPTY_FOLDER', message: `The real folder ${empty} is empty` });
  });

  it('refuses a folder with no readable image, naming what it found', async () => {
    const junk = path.join(work, 'junk');
    fs.mkdirSync(junk);
    fs.writeFileSync(path.join(junk, 'notes.txt'), 'not an image');
    fs.writeFileSync(path.join(junk, 'broken.png'), Buffer.from('\x89PNG\r\n\x1a\n not really'));
    const job = await buildFolders([{ path: realDir }], [{ path: junk }], 4);
    expect(job.status).toBe('failed');
    expect(job.error?.code).toBe('NO_READABLE_IMAGES');
    expect(job.error?.message).toContain(`The synthetic folder ${junk} has no readable image (2 files;`);
    expect(job.error?.message).toMatch(/broken\.png: not a readable image/);
    expect(job.error?.message).toMatch(/notes\.txt: not an image file type \(\.txt\)/);
  });

  it('refuses a selection with one class missing', async () => {
    const job = await buildFolders([{ path: realDir }], [], 4);
    expect(job.status).toBe('failed');
    expect(job.error?.code).toBe('MISSING_CLASS');
    expect(job.error?.message).toMatch(/^No folder of synthetic images was chosen/);
  });

  it('refuses overlapping folders (one inside another, or one folder twice)', async () => {
    const nested = await buildFolders([{ path: path.join(shared, 'synthetic') }], [{ path: ganDir }], 4);
    expect(nested.error).toEqual({
      code: 'OVERLAPPING_FOLDERS',
      message: `The synthetic folder ${ganDir} is inside the real folder ${path.join(shared, 'synthetic')}: its images would be used twice and under both labels`,
    });
    const twice = await buildFolders([{ path: realDir }], [{ path: ganDir }, { path: ganDir + '/' }], 4);
    expect(twice.error?.code).toBe('OVERLAPPING_FOLDERS');
  });

  it('refuses a class with too few readable images to fill train, val and test', async () => {
    const two = scratchFolder('two-real', realPhotos().slice(0, 2));
    const job = await buildFolders([{ path: two }], [{ path: ganDir }], 4);
    expect(job.error?.code).toBe('TOO_FEW_IMAGES');
    expect(job.error?.message).toMatch(/^The real class has 2 readable images; at least 3 are needed/);
  });

  it('refuses the same bytes under both labels', async () => {
    const photos = realPhotos();
    const a = scratchFolder('label-a', photos.slice(0, 4));
    const b = scratchFolder('label-b', photos.slice(3, 6));
    const job = await buildFolders([{ path: a }], [{ path: b }]);
    expect(job.error?.code).toBe('CONFLICTING_LABELS');
    expect(job.error?.message).toContain(path.basename(photos[3]));
  });

  it('says so when the bundled training sources are not where it was told to look', async () => {
    const missing = path.join(work, 'no-sources');
    const job = await runJob({ kind: 'dataset.build', source: { kind: 'bundled', sourcesDir: missing } });
    expect(job.error?.code).toBe('SOURCES_NOT_FOUND');
    expect(job.error?.message).toMatch(new RegExp(`^No MANIFEST.csv in ${missing}`));
  });

  it('leaves unreadable files out, lists each with its reason, and builds from the rest', async () => {
    const photos = realPhotos();
    const mixed = scratchFolder('mixed-real', photos);
    const truncated = fs.readFileSync(photos.find((p) => /\.jpe?g$/i.test(p)) ?? photos[0]);
    fs.writeFileSync(path.join(mixed, 'truncated.jpg'), truncated.subarray(0, Math.floor(truncated.length / 3)));
    fs.writeFileSync(path.join(mixed, 'zero.png'), Buffer.alloc(0));
    const job = await buildFolders([{ path: mixed }], [{ path: ganDir, generator: 'mixed-gans' }], 20);
    expect(job.error).toBeUndefined();
    const summary = job.result as LabDatasetInfo;
    const real = summary.folders.find((f) => f.label === 'real')!;
    expect(real.images).toBe(photos.length);
    expect(real.skipped.map((s) => path.basename(s.file)).sort()).toEqual(['truncated.jpg', 'zero.png']);
    expect(real.skipped.find((s) => s.file.endsWith('zero.png'))?.reason).toBe('the file is empty');
    expect(real.skipped.find((s) => s.file.endsWith('truncated.jpg'))?.reason).toMatch(/^not a readable image: /);
    expect(summary.generators.map((g) => g.generator)).toEqual(['mixed-gans']);
  });
});

describe('model lab: build, train, activate, export/import, evaluate, threshold', () => {
  let dataset: LabDatasetInfo;
  let modelId: string;

  it('builds a dataset from real and synthetic folders read in place, with counts per class, generator and split', async () => {
    const before = fs.statSync(path.join(realDir)).mtimeMs;
    const job = await buildFolders([{ path: realDir }], [{ path: ganDir, generator: 'gans' }, { path: diffusionDir, generator: 'diffusers' }], 6);
    expect(job.error).toBeUndefined();
    dataset = job.result as LabDatasetInfo;
    expect(dataset.folders.map((f) => [f.label, f.generator, f.images])).toEqual([
      ['real', 'none', 6],
      ['synthetic', 'gans', 6],
      ['synthetic', 'diffusers', 6],
    ]);
    for (const split of ['train', 'val', 'test'] as const) {
      expect(dataset.splits[split].real).toBeGreaterThan(0);
      expect(dataset.splits[split].synthetic).toBeGreaterThan(0);
    }
    const synthetic = dataset.generators.reduce((s, g) => s + g.train + g.val + g.test, 0);
    expect(synthetic).toBe(12);
    expect(fs.existsSync(path.join(dataset.dir, 'manifest.json'))).toBe(true);
    expect(fs.statSync(realDir).mtimeMs).toBe(before);
    expect((await services.handlers['datasets.list']({})).map((d) => d.id)).toContain(dataset.id);
    // The same choice again is the same dataset, every crop reused from the cache.
    const again = (await buildFolders([{ path: realDir }], [{ path: ganDir, generator: 'gans' }, { path: diffusionDir, generator: 'diffusers' }], 6)).result as LabDatasetInfo;
    expect(again.id).toBe(dataset.id);
    expect(again.written).toBe(0);
    expect(again.reused).toBe(dataset.items);
  });

  it('trains 2 epochs with per-epoch progress and registers the model without making it active', async () => {
    const defaultBefore = (await services.handlers['models.list']({})).find((m) => m.active)!;
    expect(defaultBefore.source).toBe('shipped');
    const job = await runJob({ kind: 'training.run', datasetDir: dataset.dir, backbone: 'mobilenet_v2', epochs: 2, batchSize: 16, seed: 7, modelId: 'lab-model' });
    expect(job.error).toBeUndefined();
    modelId = (job.result as { modelId: string }).modelId;
    expect(modelId).toBe('lab-model');
    const epochs = events.filter((e) => e.id === job.id && e.progress.detail?.kind === 'epoch').map((e) => (e.progress.detail as { epoch: number }).epoch);
    expect([...new Set(epochs)]).toEqual([1, 2]);
    const models = await services.handlers['models.list']({});
    const trained = models.find((m) => m.id === modelId)!;
    expect(trained.active).toBe(false);
    expect(models.find((m) => m.active)!.id).toBe(defaultBefore.id);
    expect(trained.card.createdBy).toBe(os.userInfo().username);
    // The card says which folders the data came from, not the shared sources.
    expect((trained.card.trainingData as { summary: string }).summary).toContain('3 labelled folders: real/ (6 real), gan/ (6 synthetic, gans), diffusion/ (6 synthetic, diffusers)');
    expect((trained.card.training as { seed: number }).seed).toBe(7);
    // A handful of test images is below the floors: the model is flagged weak, with the reason.
    expect(trained.quality.weak).toBe(true);
    expect(trained.quality.reasons.join(' ')).toMatch(/test split is too small to trust/);
    expect(globalAudit().filter((e) => e.action === 'model.activated')).toEqual([]);
  });

  it('trains a mirrored head from the lab: the card says so and the fused detector scores a file and its mirror alike', async () => {
    const job = await runJob({ kind: 'training.run', datasetDir: dataset.dir, backbone: 'mobilenet_v2', epochs: 2, batchSize: 16, seed: 7, mirror: true, modelId: 'lab-mirrored' });
    expect(job.error).toBeUndefined();
    const trained = (await services.handlers['models.list']({})).find((m) => m.id === 'lab-mirrored')!;
    expect(trained.active).toBe(false);
    expect(trained.card.inference).toEqual({ inputMode: 'resize', mirror: true });
    const { ModelRegistry } = await import('../../electron/services/engine/model-registry');
    const { decodeToPaperRgb, parseNormalisation, toModelInput } = await import('../../electron/services/engine/preprocess');
    const ort = (await import('onnxruntime-node')).default;
    const model = await new ModelRegistry({ dataDir }).resolve('lab-mirrored');
    const size = model.card.backbone.inputSize;
    const x = new Float32Array(2 * size * size * 3);
    toModelInput((await decodeToPaperRgb(realPhotos()[0])).data, { inputSize: size, normalisation: parseNormalisation(model.card.backbone.normalisation) }, x, 0);
    // The second row is the first mirrored left to right.
    for (let y = 0; y < size; y++)
      for (let c = 0; c < size; c++) for (let k = 0; k < 3; k++) x[size * size * 3 + (y * size + c) * 3 + k] = x[(y * size + (size - 1 - c)) * 3 + k];
    const session = await ort.InferenceSession.create(model.detectorPath);
    try {
      const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', x, [2, size, size, 3]) });
      const p = out.p_synthetic.data as Float32Array;
      expect(Math.abs(p[0] - p[1])).toBeLessThan(1e-5);
    } finally {
      await session.release();
    }
    // Fine-tuned networks are scored one pass per image: the lab refuses the combination.
    const refused = await runJob({ kind: 'training.run', datasetDir: dataset.dir, backbone: 'mobilenet_v2', epochs: 1, unfreeze: 1, mirror: true, modelId: 'lab-mirrored-ft' });
    expect(refused.status).toBe('failed');
    expect(refused.error?.message).toMatch(/mirrored scoring is offered for frozen heads/);
  });

  it('fine-tunes the last backbone block in onnxruntime from the lab, registers it with its fine-tuning card, never active', async () => {
    const job = await runJob({ kind: 'training.run', datasetDir: dataset.dir, backbone: 'mobilenet_v2', epochs: 1, batchSize: 8, seed: 3, unfreeze: 1, modelId: 'lab-fine-tuned' });
    expect(job.error).toBeUndefined();
    expect(job.status).toBe('done');
    expect((job.result as { modelId: string }).modelId).toBe('lab-fine-tuned');
    // Progress came from the training graph: one epoch with its loss.
    const epochs = events.filter((e) => e.id === job.id && e.progress.detail?.kind === 'epoch');
    expect(epochs.length).toBeGreaterThanOrEqual(1);
    expect(Number.isFinite((epochs.at(-1)!.progress.detail as { loss: number }).loss)).toBe(true);
    const tuned = (await services.handlers['models.list']({})).find((m) => m.id === 'lab-fine-tuned')!;
    expect(tuned.active).toBe(false);
    const fineTuning = tuned.card.fineTuning as { engine: string; depth: number; epochs: number; provider: string };
    expect(fineTuning).toMatchObject({ engine: 'onnxruntime training graph', depth: 1, epochs: 1, provider: 'cpu' });
    // Its backbone is no longer the shipped one.
    const shipped = (await services.handlers['models.list']({})).find((m) => m.source === 'shipped')!;
    expect((tuned.card.backbone as { sha256: string }).sha256).not.toBe((shipped.card.backbone as { sha256?: string }).sha256);
  }, 600_000);

  it('discards a cancelled training run: it is never registered', async () => {
    const { jobId } = await services.handlers['jobs.start']({ kind: 'training.run', datasetDir: dataset.dir, backbone: 'mobilenet_v2', epochs: 500, batchSize: 1, modelId: 'cancelled-model' });
    // Cancel once the head is learning (features are cached by the run before, so this comes quickly).
    await new Promise<void>((resolve) => {
      const off = services.onEvent((e) => {
        if (e.job.id === jobId && (e.job.progress.detail?.kind === 'epoch' || e.job.status !== 'running')) {
          off();
          resolve();
        }
      });
    });
    expect((await services.handlers['jobs.cancel']({ jobId })).cancelled).toBe(true);
    let state: JobState;
    do {
      await new Promise((r) => setTimeout(r, 100));
      state = await services.handlers['jobs.get']({ jobId });
    } while (state.status === 'running');
    expect(state.status).toBe('cancelled');
    expect(fs.existsSync(path.join(dataDir, 'models', 'cancelled-model'))).toBe(false);
    expect((await services.handlers['models.list']({})).map((m) => m.id)).not.toContain('cancelled-model');
  });

  it('refuses to activate a weak model without confirmWeak, then activates it with it, audited', async () => {
    const refused = await callError(() => services.handlers['models.activate']({ id: modelId }));
    expect(refused.code).toBe('MODEL_WEAK');
    expect(refused.message).toMatch(/^lab-model fails its own evaluation: .*Activating it needs an explicit confirmation/);
    expect((await services.handlers['models.list']({})).find((m) => m.active)!.source).toBe('shipped');

    const shipped = (await services.handlers['models.list']({})).find((m) => m.source === 'shipped')!;
    const done = await services.handlers['models.activate']({ id: modelId, confirmWeak: true });
    const trained = (await services.handlers['models.list']({})).find((m) => m.id === modelId)!;
    expect(done.active).toEqual({ id: modelId, sha256: trained.card.sha256 });
    expect(done.previous).toEqual({ id: shipped.id, sha256: shipped.card.sha256 });
    expect(trained.active).toBe(true);
    const entry = globalAudit().filter((e) => e.action === 'model.activated').at(-1)!;
    expect(entry.actor).toBe(os.userInfo().username);
    expect(entry.details).toMatchObject({
      from: { id: shipped.id, sha256: shipped.card.sha256 },
      to: { id: modelId, sha256: trained.card.sha256 },
      weak: true,
      confirmedWeak: true,
    });
    // The card is kept in the case store too, for the verdicts that will cite it.
    const store = CaseStore.open(dataDir);
    try {
      expect(store.listModels().map((m) => m.id)).toContain(modelId);
    } finally {
      store.close();
    }
  });

  it('analyses new evidence with the active model; old verdicts keep theirs after going back to the default', async () => {
    const kase = await services.handlers['cases.create']({ caseNumber: 'LAB-1', title: 'Model lab', examiner: 'Tester' });
    const photo = realPhotos()[0];
    expect((await runJob({ kind: 'evidence.import', caseId: kase.id, paths: [photo] })).status).toBe('done');
    expect((await runJob({ kind: 'analysis.run', caseId: kase.id })).status).toBe('done');
    const [first] = await services.handlers['analyses.list']({ caseId: kase.id });
    expect(first.model.id).toBe(modelId);

    const shipped = (await services.handlers['models.list']({})).find((m) => m.source === 'shipped')!;
    // The shipped default is below the recall floor at its threshold (its misses are mostly inconclusive):
    // going back to it is refused without the same explicit confirmation.
    expect(shipped.quality.weak).toBe(true);
    expect((await callError(() => services.handlers['models.activate']({ id: shipped.id }))).code).toBe('MODEL_WEAK');
    const back = await services.handlers['models.activate']({ id: shipped.id, confirmWeak: true });
    expect(back).toMatchObject({ active: { id: shipped.id }, previous: { id: modelId }, weak: true });
    expect((await runJob({ kind: 'analysis.run', caseId: kase.id })).status).toBe('done');
    const analyses = await services.handlers['analyses.list']({ caseId: kase.id });
    expect(analyses.map((a) => a.model.id).sort()).toEqual([shipped.id, modelId].sort());
    const activations = globalAudit().filter((e) => e.action === 'model.activated');
    expect(activations.map((e) => (e.details as { to: { id: string } }).to.id)).toEqual([modelId, shipped.id]);
  });

  it('exports a model to one file and imports it; a file whose detector does not match its card is refused', async () => {
    const file = path.join(work, 'export', 'lab-model.aifmodel.json');
    const exported = await services.handlers['models.export']({ id: modelId, file });
    expect(exported.file).toBe(file);
    const body = JSON.parse(fs.readFileSync(file, 'utf8'));
    expect(body.card.id).toBe(modelId);

    // One byte of the detector changed: refused, nothing registered.
    const detector = Buffer.from(body.detector, 'base64');
    detector[detector.length - 10] ^= 0xff;
    const tampered = path.join(work, 'export', 'tampered.aifmodel.json');
    fs.writeFileSync(tampered, JSON.stringify({ ...body, detector: detector.toString('base64'), card: { ...body.card, id: 'tampered-model' } }));
    const refused = await callError(() => services.handlers['models.import']({ file: tampered }));
    expect(refused.code).toBe('MODEL_SHA_MISMATCH');
    expect(refused.message).toMatch(/^Refused: the detector in tampered\.aifmodel\.json hashes to [0-9a-f]{64}, but its card says /);
    expect(fs.existsSync(path.join(dataDir, 'models', 'tampered-model'))).toBe(false);

    const notModel = path.join(work, 'export', 'not-a-model.json');
    fs.writeFileSync(notModel, '{"hello": 1}');
    expect((await callError(() => services.handlers['models.import']({ file: notModel }))).code).toBe('INVALID_MODEL_FILE');

    // The same id is taken; imported under another id it is the same detector.
    expect((await callError(() => services.handlers['models.import']({ file }))).code).toBe('MODEL_EXISTS');
    const imported = await services.handlers['models.import']({ file, id: 'lab-model-imported' });
    expect(imported.sha256).toBe(body.card.sha256);
    const listed = (await services.handlers['models.list']({})).find((m) => m.id === 'lab-model-imported')!;
    expect(listed.active).toBe(false);
    expect(globalAudit().map((e) => e.action)).toEqual(expect.arrayContaining(['model.exported', 'model.imported']));
  });

  it('evaluates a registered model on a split: eight metrics, confusion, ROC and PR points, per-generator rows', async () => {
    const job = await runJob({ kind: 'evaluation.run', modelId, split: 'test' });
    expect(job.error).toBeUndefined();
    const ev = job.result as {
      metrics: Record<string, unknown> & { confusion: Record<string, number>; n: number };
      roc: Array<{ x: number; y: number }>;
      pr: unknown[];
      perGenerator: Array<{ group: string }>;
      threshold: number;
      datasetDir: string;
    };
    expect(ev.datasetDir).toBe(dataset.dir);
    for (const k of ['precision', 'recall', 'f1', 'accuracy', 'ap', 'rocAuc', 'fpr', 'fnr']) expect(k in ev.metrics).toBe(true);
    const c = ev.metrics.confusion;
    expect(c.tp + c.fp + c.tn + c.fn).toBe(ev.metrics.n);
    expect(ev.metrics.n).toBe(dataset.splits.test.real + dataset.splits.test.synthetic);
    expect(ev.roc[0]).toMatchObject({ x: 0, y: 0 });
    expect(ev.roc.at(-1)).toMatchObject({ x: 1, y: 1 });
    expect(ev.pr.length).toBeGreaterThan(1);
    expect(ev.perGenerator.map((g) => g.group)).toEqual(expect.arrayContaining(['none']));
  });

  it('saves another operating point as a new model version and leaves the old card unchanged', async () => {
    const cardFile = path.join(dataDir, 'models', modelId, 'model-card.json');
    const before = fs.readFileSync(cardFile, 'utf8');
    // FPR ≤ 0.5 is reachable on any validation split with two or more real images, whatever the
    // trained scores; FPR 0 is not when a real image scores highest (that refusal is a unit test).
    expect(dataset.splits.val.real).toBeGreaterThanOrEqual(2);
    const job = await runJob({ kind: 'model.threshold', modelId, point: { kind: 'max-fpr', value: 0.5 }, newId: 'lab-model-fpr50' });
    expect(job.error).toBeUndefined();
    const result = job.result as { modelId: string; threshold: number; val: { fpr: number } };
    expect(result.modelId).toBe('lab-model-fpr50');
    expect(result.val.fpr).toBeLessThanOrEqual(0.5);
    expect(fs.readFileSync(cardFile, 'utf8')).toBe(before);
    const version = (await services.handlers['models.list']({})).find((m) => m.id === 'lab-model-fpr50')!;
    expect(version.card.threshold).toBe(result.threshold);
    expect(version.card.derivedFrom).toMatchObject({ id: modelId });
    expect(version.card.sha256).toBe(JSON.parse(before).sha256);
    expect(globalAudit().filter((e) => e.action === 'model.threshold-version')).toHaveLength(1);
  });

  it('deletes a model that is not active (audited), never the active one', async () => {
    const shipped = (await services.handlers['models.list']({})).find((m) => m.active)!;
    const refused = await callError(() => services.handlers['models.delete']({ id: shipped.id }));
    expect(refused.code).toBe('MODEL_ACTIVE');
    await services.handlers['models.activate']({ id: 'lab-model-imported', confirmWeak: true });
    expect((await callError(() => services.handlers['models.delete']({ id: 'lab-model-imported' }))).code).toBe('MODEL_ACTIVE');
    await services.handlers['models.activate']({ id: shipped.id, confirmWeak: true });
    expect(await services.handlers['models.delete']({ id: 'lab-model-imported' })).toEqual({ deleted: 'lab-model-imported' });
    expect(fs.existsSync(path.join(dataDir, 'models', 'lab-model-imported'))).toBe(false);
    expect(globalAudit().filter((e) => e.action === 'model.deleted').map((e) => (e.details as { id: string }).id)).toEqual(['lab-model-imported']);
  });
});
