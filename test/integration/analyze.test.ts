// End to end on real parts: the MobileNetV2 backbone ONNX built from nsfwjs, a head trained here on a
// small real subset of ../shared/datasets (the shipped default may not exist yet), fused into one
// detector, registered, then analyze on held-out real images, the awkward-input corpus, and the CLI.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import sharp from 'sharp';
import { runAnalyzeCommand } from '../../electron/cli/analyze-command';
import { analyzeFiles, isAnalyzeFailure, walkInputs, type AnalyzeResult, type AnalyzeSuccess } from '../../electron/services/engine/analyze';
import { findBackbone } from '../../electron/services/engine/backbones';
import { releaseDetectorSessions, sha256Hex } from '../../electron/services/engine/detector-session';
import { ModelRegistry, ModelRegistryError, type HeadWeightsLike } from '../../electron/services/engine/model-registry';
import { decodeToPaperRgb, toModelInput } from '../../electron/services/engine/preprocess';
import { trainHead, type HeadWeights } from '../../electron/services/training/head-trainer';
import { serialiseHeadWeights } from '../../electron/services/training/head-weights-file';
import { buildDetectorOnnx } from '../../electron/services/onnx-graphs';
import { makeBadInputs, type BadInputCase } from '../fixtures/bad-inputs/make-bad-inputs';

const repoRoot = path.resolve(__dirname, '../..');
const datasets = path.resolve(repoRoot, '../shared/datasets');
const BACKBONE = 'mobilenet_v2';
const MODEL_ID = 'test-mobilenet-v2-probe';

interface Row {
  path: string;
  label: 'real' | 'synthetic';
  generator: string;
}

function readManifest(): Row[] {
  const lines = fs.readFileSync(path.join(datasets, 'MANIFEST.csv'), 'utf8').trim().split('\n').slice(1);
  return lines.map((l) => {
    const [p, label, , generator] = l.split(',');
    return { path: path.join(datasets, p.split('#')[0]), label: label as Row['label'], generator };
  });
}

/** Every k-th file of a class, so the subset spans sources and generators. */
function spread(rows: Row[], count: number, offset: number): Row[] {
  const step = Math.floor(rows.length / count);
  return Array.from({ length: count }, (_, i) => rows[(i * step + offset) % rows.length]);
}

let work: string;
let dataDir: string;
let registry: ModelRegistry;
let heldOut: Row[];
let badDir: string;
let badCases: BadInputCase[];
let trainedHead: HeadWeights;
let backboneInfo: ReturnType<typeof findBackbone>;

async function pooledFeatures(backbonePath: string, files: string[], inputSize: number, normalisation: ReturnType<typeof findBackbone>['norm']) {
  const session = await ort.InferenceSession.create(backbonePath, { intraOpNumThreads: 2 });
  const pooledName = session.outputNames.find((n) => n === 'pooled');
  if (!pooledName) throw new Error(`backbone outputs ${session.outputNames.join(', ')} lack "pooled"`);
  const floats = inputSize * inputSize * 3;
  const rows: Float32Array[] = [];
  for (const file of files) {
    const rgb = await decodeToPaperRgb(file);
    const input = toModelInput(rgb.data, { inputSize, normalisation });
    const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', input, [1, inputSize, inputSize, 3]) }, [pooledName]);
    rows.push(Float32Array.from(out[pooledName].data as Float32Array));
    expect(input.length).toBe(floats);
  }
  await session.release();
  const dim = rows[0].length;
  const data = new Float32Array(rows.length * dim);
  rows.forEach((r, i) => data.set(r, i * dim));
  return { data, dim };
}

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'analyze-it-'));
  dataDir = path.join(work, 'data');
  if (!fs.existsSync(path.join(repoRoot, 'models', 'backbones', 'manifest.json'))) {
    const built = spawnSync(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'models', 'build-backbones.ts')], { cwd: repoRoot, encoding: 'utf8' });
    if (built.status !== 0) throw new Error(`backbone build failed: ${built.stderr}`);
  }
  const backbone = findBackbone(repoRoot, BACKBONE);

  const rows = readManifest();
  const real = rows.filter((r) => r.label === 'real');
  const synthetic = rows.filter((r) => r.label === 'synthetic');
  const train = [...spread(real, 20, 0), ...spread(synthetic, 20, 0)];
  const trainPaths = new Set(train.map((r) => r.path));
  heldOut = [...spread(real, 6, 5), ...spread(synthetic, 6, 5)].filter((r) => !trainPaths.has(r.path));

  const { data, dim } = await pooledFeatures(backbone.path, train.map((r) => r.path), backbone.inputSize, backbone.norm);
  const labels = Uint8Array.from(train, (r) => (r.label === 'synthetic' ? 1 : 0));
  const set = { dim, views: [data], labels, weights: new Float32Array(labels.length).fill(1) };
  const trained = await trainHead(set, set, { epochs: 15, hiddenUnits: 32, batchSize: 16, seed: 3 });
  const head = trained.weights as HeadWeightsLike;
  trainedHead = trained.weights;
  backboneInfo = backbone;

  const detector = buildDetectorOnnx(backbone.path, head);
  registry = new ModelRegistry({ dataDir, repoRoot: work });
  await registry.register({
    detector,
    card: {
      id: MODEL_ID,
      backbone: { name: BACKBONE, inputSize: backbone.inputSize, normalisation: backbone.normalisation, featureLayer: backbone.featureLayer },
      head: { inputDim: dim, hiddenUnits: 32, dropout: 0.5 },
      trainingData: { summary: `test probe: ${train.length} images of ../shared/datasets (20 real, 20 synthetic)` },
      metrics: {},
      threshold: 0.5,
    },
  });
  badDir = path.join(work, 'bad-inputs');
  badCases = await makeBadInputs(badDir);
});

afterAll(async () => {
  await releaseDetectorSessions();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

async function collect(inputs: string[], options: Partial<Parameters<typeof analyzeFiles>[1]> = {}) {
  const results: AnalyzeResult[] = [];
  const it = analyzeFiles(inputs, { dataDir, registry, modelId: MODEL_ID, ...options });
  for (;;) {
    const r = await it.next();
    if (r.done) return { results, summary: r.value };
    results.push(r.value);
  }
}

describe('analyzeFiles with a detector trained on real data', () => {
  it('scores held-out real images with the full result contract', async () => {
    const onResult: AnalyzeResult[] = [];
    const { results, summary } = await collect(
      heldOut.map((r) => r.path),
      { batchSize: 4, onResult: (r) => onResult.push(r) },
    );
    expect(results.map((r) => r.path)).toEqual(heldOut.map((r) => r.path));
    expect(onResult).toEqual(results);
    const model = await registry.resolve(MODEL_ID);
    for (const r of results) {
      expect(isAnalyzeFailure(r)).toBe(false);
      const s = r as AnalyzeSuccess;
      expect(Object.keys(s).sort()).toEqual(['inputMode', 'model', 'ms', 'pSynthetic', 'path', 'provider', 'sha256', 'threshold', 'verdict']);
      expect(s.sha256).toBe(sha256Hex(fs.readFileSync(s.path)));
      expect(s.pSynthetic).toBeGreaterThanOrEqual(0);
      expect(s.pSynthetic).toBeLessThanOrEqual(1);
      expect(s.verdict).toBe(s.pSynthetic >= 0.5 ? 'synthetic' : 'real');
      expect(s.threshold).toBe(0.5);
      expect(s.model).toEqual({ id: MODEL_ID, sha256: model.card.sha256 });
      expect(s.provider).toBe('cpu');
      expect(s.ms).toBeGreaterThan(0);
    }
    const scores = results.map((r) => (r as AnalyzeSuccess).pSynthetic);
    expect(Math.max(...scores) - Math.min(...scores)).toBeGreaterThan(0.05);
    expect(summary).toMatchObject({ analysed: heldOut.length, failed: 0, provider: 'cpu' });
  });

  it('gives the same scores whatever the batch size', async () => {
    const files = heldOut.slice(0, 5).map((r) => r.path);
    const one = await collect(files, { batchSize: 1 });
    const many = await collect(files, { batchSize: 5 });
    one.results.forEach((r, i) => expect((r as AnalyzeSuccess).pSynthetic).toBeCloseTo((many.results[i] as AnalyzeSuccess).pSynthetic, 5));
  });

  it('reports every bad input with its code and carries on to the good ones', async () => {
    const good = heldOut[0].path;
    const { results, summary } = await collect([badDir, path.join(work, 'does-not-exist.jpg'), good], { batchSize: 3 });
    const byName = new Map(results.map((r) => [path.basename(r.path), r]));
    for (const c of badCases) {
      const r = byName.get(c.file);
      expect(r, c.file).toBeDefined();
      if (c.expect === 'ok') {
        expect(isAnalyzeFailure(r!), `${c.file}: ${JSON.stringify(r)}`).toBe(false);
        expect((r as AnalyzeSuccess).pSynthetic).toBeGreaterThanOrEqual(0);
      } else {
        expect(isAnalyzeFailure(r!) ? r.error.code : 'ok', c.file).toBe(c.expect);
        expect(isAnalyzeFailure(r!) && r.error.message.length > 10).toBe(true);
      }
    }
    expect(byName.get('does-not-exist.jpg')).toMatchObject({ error: { code: 'NOT_FOUND' } });
    expect(isAnalyzeFailure(results[results.length - 1])).toBe(false);
    expect(summary.failed).toBe(badCases.filter((c) => c.expect !== 'ok').length + 1);
    expect(summary.analysed).toBe(badCases.filter((c) => c.expect === 'ok').length + 1);
  });

  it('stops when cancelled and says how far it got', async () => {
    const controller = new AbortController();
    const files = heldOut.map((r) => r.path);
    const { results, summary } = await collect(files, {
      batchSize: 1,
      signal: controller.signal,
      onResult: () => controller.abort(),
    });
    expect(results.length).toBeGreaterThanOrEqual(1);
    expect(results.length).toBeLessThan(files.length);
    expect(summary.analysed + summary.failed).toBe(results.length);
  });

  it('once cancelled, decodes only the files already in a decoder, not the rest of the group', async () => {
    // Two decoders read a group of 8 files (four per decoder). An empty file first fails at once, and
    // cancelling on its error line leaves the other 7 waiting for a decoder, or at most two of them in
    // one. Counting the real decoder's calls shows which ran: all 7 did before queued ones were skipped.
    const folder = path.join(work, 'cancel-group');
    fs.mkdirSync(folder);
    fs.writeFileSync(path.join(folder, '00-empty.png'), '');
    for (let i = 1; i < 8; i++) fs.copyFileSync(heldOut[i % heldOut.length].path, path.join(folder, `${String(i).padStart(2, '0')}-${path.basename(heldOut[i % heldOut.length].path)}`));
    const decodes = vi.spyOn(sharp.prototype, 'toBuffer');
    try {
      const controller = new AbortController();
      const { results } = await collect([folder], { batchSize: 1, decodeThreads: 2, signal: controller.signal, onResult: () => controller.abort() });
      expect(results).toEqual([{ path: path.join(folder, '00-empty.png'), error: expect.objectContaining({ code: 'EMPTY_FILE' }) }]);
      expect(decodes.mock.calls.length).toBeLessThanOrEqual(2);
    } finally {
      decodes.mockRestore();
    }
  });

  it('uses the threshold given instead of the card one', async () => {
    const { results } = await collect([heldOut[0].path], { threshold: 0 });
    expect(results[0]).toMatchObject({ threshold: 0, verdict: 'synthetic' });
  });

  it('walks 10,000 files lazily and gives each its line without holding them all', async () => {
    const big = path.join(work, 'many');
    for (let d = 0; d < 10; d++) {
      fs.mkdirSync(path.join(big, `d${d}`), { recursive: true });
      for (let i = 0; i < 1000; i++) fs.writeFileSync(path.join(big, `d${d}`, `f${String(i).padStart(4, '0')}.jpg`), '');
    }
    const walked: string[] = [];
    for await (const e of walkInputs([big])) walked.push(e.path);
    expect(walked.length).toBe(10_000);
    expect(walked[0]).toBe(path.join(big, 'd0', 'f0000.jpg'));
    expect(walked[9999]).toBe(path.join(big, 'd9', 'f0999.jpg'));

    global.gc?.();
    const before = process.memoryUsage().heapUsed;
    let count = 0;
    let empty = 0;
    let peak = before;
    for await (const r of analyzeFiles([big], { dataDir, registry, modelId: MODEL_ID })) {
      count++;
      if (isAnalyzeFailure(r) && r.error.code === 'EMPTY_FILE') empty++;
      if (count % 1000 === 0) peak = Math.max(peak, process.memoryUsage().heapUsed);
    }
    expect(count).toBe(10_000);
    expect(empty).toBe(10_000);
    // Results are streamed, not accumulated: the heap does not grow with the number of files.
    expect(peak - before).toBeLessThan(64 * 1024 * 1024);
  });
});

describe('model registry', () => {
  it('refuses with NO_TRAINED_MODEL when no trained model exists', async () => {
    const emptyRoot = fs.mkdtempSync(path.join(work, 'empty-root-'));
    const empty = new ModelRegistry({ dataDir: path.join(emptyRoot, 'data'), repoRoot: emptyRoot });
    await expect(empty.resolve()).rejects.toMatchObject({ code: 'NO_TRAINED_MODEL' });
    const gen = analyzeFiles([heldOut[0].path], { dataDir: path.join(emptyRoot, 'data'), registry: empty });
    await expect(gen.next()).rejects.toBeInstanceOf(ModelRegistryError);
  });

  it('refuses an untrained card, a tampered detector and an unknown id', async () => {
    const model = await registry.resolve(MODEL_ID);
    const root = fs.mkdtempSync(path.join(work, 'tamper-'));
    const reg = new ModelRegistry({ dataDir: path.join(root, 'data'), repoRoot: root });
    const detector = fs.readFileSync(model.detectorPath);
    const card = { ...model.card, id: 'untrained', trained: false };
    await reg.register({ detector, card: { ...card, sha256: undefined } });
    await expect(reg.resolve('untrained')).rejects.toMatchObject({ code: 'NO_TRAINED_MODEL' });
    await expect(reg.resolve()).rejects.toMatchObject({ code: 'NO_TRAINED_MODEL' });

    await reg.register({ detector, card: { ...model.card, id: 'tampered', sha256: undefined } });
    const onnx = path.join(reg.modelsDir, 'tampered', 'detector.onnx');
    const bytes = fs.readFileSync(onnx);
    bytes[bytes.length - 1] ^= 1;
    fs.writeFileSync(onnx, bytes);
    await expect(reg.resolve('tampered')).rejects.toMatchObject({ code: 'MODEL_SHA_MISMATCH' });
    await expect(reg.resolve('nope')).rejects.toMatchObject({ code: 'MODEL_NOT_FOUND' });
    await expect(reg.resolve('../etc')).rejects.toMatchObject({ code: 'INVALID_MODEL_ID' });
    await expect(reg.register({ detector: Buffer.from('not onnx'), card: { ...model.card, id: 'junk', sha256: undefined } })).rejects.toMatchObject({
      code: 'INVALID_MODEL',
    });
    expect((await reg.list()).map((m) => m.id)).toEqual(['tampered', 'untrained']);
  });
});

describe('shipped default model', () => {
  it('fuses the committed head with its backbone on first use, checks the hash, and analyses', async () => {
    const root = fs.mkdtempSync(path.join(work, 'shipped-'));
    fs.mkdirSync(path.join(root, 'models', 'default'), { recursive: true });
    fs.mkdirSync(path.join(root, 'models', 'backbones'), { recursive: true });
    fs.copyFileSync(backboneInfo.path, path.join(root, 'models', 'backbones', `${BACKBONE}.onnx`));
    fs.writeFileSync(path.join(root, 'models', 'default', 'head.json'), serialiseHeadWeights(trainedHead));
    const expectedSha = sha256Hex(buildDetectorOnnx(backboneInfo.path, trainedHead));
    const card = {
      id: 'default-test',
      backbone: { name: BACKBONE, inputSize: backboneInfo.inputSize, normalisation: backboneInfo.normalisation },
      head: { inputDim: trainedHead.inputDim, hiddenUnits: 32, file: 'head.json' },
      trainingData: { summary: 'test' },
      metrics: {},
      threshold: 0.4,
      sha256: expectedSha,
    };
    fs.writeFileSync(path.join(root, 'models', 'default', 'model-card.json'), JSON.stringify(card));
    const reg = new ModelRegistry({ dataDir: path.join(root, 'data'), repoRoot: root });
    const model = await reg.resolve();
    expect(model).toMatchObject({ id: 'default-test', source: 'shipped' });
    expect(model.detectorPath).toBe(path.join(root, 'models', 'backbones', 'default-detector.onnx'));
    expect(sha256Hex(fs.readFileSync(model.detectorPath))).toBe(expectedSha);
    const results = [];
    for await (const r of analyzeFiles([heldOut[0].path], { dataDir: reg.dataDir, registry: reg })) results.push(r);
    expect(results[0]).toMatchObject({ threshold: 0.4, model: { id: 'default-test', sha256: expectedSha } });

    // A card whose hash does not match what its head fuses to is refused, not silently used.
    fs.rmSync(model.detectorPath);
    fs.writeFileSync(path.join(root, 'models', 'default', 'model-card.json'), JSON.stringify({ ...card, sha256: 'a'.repeat(64) }));
    await expect(new ModelRegistry({ dataDir: path.join(root, 'data'), repoRoot: root }).resolve()).rejects.toMatchObject({ code: 'MODEL_SHA_MISMATCH' });
  });
});

describe('the committed default model', () => {
  it('is fused from models/default on first use to the exact file its card certifies', async () => {
    const shippedDir = path.join(repoRoot, 'models', 'default');
    const card = JSON.parse(fs.readFileSync(path.join(shippedDir, 'model-card.json'), 'utf8'));
    const root = fs.mkdtempSync(path.join(work, 'committed-'));
    fs.mkdirSync(path.join(root, 'models', 'default'), { recursive: true });
    fs.mkdirSync(path.join(root, 'models', 'backbones'), { recursive: true });
    for (const f of ['model-card.json', card.head.file]) fs.copyFileSync(path.join(shippedDir, f), path.join(root, 'models', 'default', f));
    const backbone = findBackbone(repoRoot, card.backbone.name);
    fs.copyFileSync(backbone.path, path.join(root, 'models', 'backbones', backbone.file));
    const reg = new ModelRegistry({ dataDir: path.join(root, 'data'), repoRoot: root });
    const model = await reg.resolve();
    expect(model).toMatchObject({ id: card.id, source: 'shipped' });
    expect(sha256Hex(fs.readFileSync(model.detectorPath))).toBe(card.sha256);
    const results: AnalyzeResult[] = [];
    for await (const r of analyzeFiles([heldOut[0].path], { dataDir: reg.dataDir, registry: reg })) results.push(r);
    expect(results[0]).toMatchObject({ model: { id: card.id, sha256: card.sha256 }, threshold: card.threshold });
  });
});

describe('analyze CLI', () => {
  function capture() {
    const out: unknown[] = [];
    const err: unknown[] = [];
    return { out, err, ctx: { dataDir, json: true, print: (o: unknown) => out.push(o), printError: (o: unknown) => err.push(o) } };
  }

  it('prints one JSON object per file and exits 0', async () => {
    const c = capture();
    const code = await runAnalyzeCommand(['--model', MODEL_ID, '--batch', '2', heldOut[0].path, path.join(badDir, 'notes.txt')], c.ctx);
    expect(code).toBe(0);
    expect(c.out).toHaveLength(2);
    expect(c.out[0]).toMatchObject({ path: heldOut[0].path, model: { id: MODEL_ID } });
    expect(c.out[1]).toMatchObject({ error: { code: 'NOT_AN_IMAGE' } });
    // Every stdout line is one JSON object.
    for (const o of c.out) expect(JSON.parse(JSON.stringify(o))).toEqual(o);
  });

  it('exits 1 when no file could be analysed and 2 on usage errors', async () => {
    const c = capture();
    expect(await runAnalyzeCommand(['--model', MODEL_ID, path.join(badDir, 'empty.jpg')], c.ctx)).toBe(1);
    expect(c.out).toEqual([{ path: path.join(badDir, 'empty.jpg'), error: expect.objectContaining({ code: 'EMPTY_FILE' }) }]);
    expect(await runAnalyzeCommand(['--threshold', '2', heldOut[0].path], capture().ctx)).toBe(2);
    expect(await runAnalyzeCommand(['--batch', 'x', heldOut[0].path], capture().ctx)).toBe(2);
    expect(await runAnalyzeCommand([], capture().ctx)).toBe(2);
    expect(await runAnalyzeCommand(['--frobnicate', heldOut[0].path], capture().ctx)).toBe(2);
    const none = capture();
    none.ctx.dataDir = path.join(work, 'no-models');
    expect(await runAnalyzeCommand(['--model', 'missing-model', heldOut[0].path], none.ctx)).toBe(1);
    expect(none.err[0]).toMatchObject({ error: { code: 'MODEL_NOT_FOUND' } });
  });
});
