// The explainers on the default backbone (MobileNetV2 from nsfwjs, converted to ONNX) with a head
// trained here on a small real subset, registered like any user model, driven through the CLI:
// all five overlays for real images, exact LayerCAM gradients at block_12_add, the cache, errors.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runExplainCommand } from '../../electron/cli/explain-command';
import { findBackbone } from '../../electron/services/engine/backbones';
import { releaseDetectorSessions } from '../../electron/services/engine/detector-session';
import { ModelRegistry, type HeadWeightsLike } from '../../electron/services/engine/model-registry';
import { decodeToPaperRgb, toModelInput } from '../../electron/services/engine/preprocess';
import { prepareExplainInput } from '../../electron/services/explainers/explain-input';
import type { FeatureMap } from '../../electron/services/explainers/explain-types';
import { globalAveragePool, headForward, headGradientWrtPooled } from '../../electron/services/explainers/head-math';
import { GraphTail } from '../../electron/services/explainers/layer-graph';
import { createRng as seededRandom } from '../../electron/services/common/seeded-random';
import { loadBackboneGraph, openRegisteredModel, releaseExplainerSessions } from '../../electron/services/explainers/registered-model';
import { serialiseHeadWeights } from '../../electron/services/training/head-weights-file';
import { trainHead } from '../../electron/services/training/head-trainer';
import { buildDetectorOnnx } from '../../electron/services/onnx-graphs';

const repoRoot = path.resolve(__dirname, '../..');
const datasets = path.resolve(repoRoot, '../shared/datasets');
const MODEL_ID = 'test-explain-mobilenet-v2';
const REAL_IMAGE = path.join(datasets, 'real/lomiri-wallpapers-16.04__Bridge_by_Sander_Klootwijk.jpg'); // 2048×1152
const SYNTHETIC_IMAGE = path.join(datasets, 'synthetic/diffusion/stable-diffusion__000002025.png');

let work: string;
let dataDir: string;
let fusedWithoutHeadFile: () => Promise<void>;

interface Printed {
  out: unknown[];
  err: unknown[];
}

function cliContext(json = true): Printed & { dataDir: string; json: boolean; print(o: unknown): void; printError(o: unknown): void } {
  const printed: Printed = { out: [], err: [] };
  return { ...printed, dataDir, json, print: (o) => printed.out.push(o), printError: (o) => printed.err.push(o), out: printed.out, err: printed.err };
}

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'explain-mnv2-'));
  dataDir = path.join(work, 'data');
  if (!fs.existsSync(path.join(repoRoot, 'models', 'backbones', 'manifest.json'))) {
    const built = spawnSync(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'models', 'build-backbones.ts')], { cwd: repoRoot, encoding: 'utf8' });
    if (built.status !== 0) throw new Error(`backbone build failed: ${built.stderr}`);
  }
  const backbone = findBackbone(repoRoot, 'mobilenet_v2');
  // A head fitted on pooled features of 16 real and 16 synthetic images (a few seconds).
  const rows = fs.readFileSync(path.join(datasets, 'MANIFEST.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
  const pick = (label: string) => rows.filter((r) => r[1] === label && !r[0].includes('#')).filter((_, i) => i % 9 === 4).slice(0, 16);
  const train = [...pick('real'), ...pick('synthetic')];
  const session = await ort.InferenceSession.create(backbone.path, { intraOpNumThreads: 2 });
  const dim = backbone.featureShape[2];
  const features = new Float32Array(train.length * dim);
  for (const [i, r] of train.entries()) {
    const input = toModelInput((await decodeToPaperRgb(path.join(datasets, r[0]))).data, { inputSize: backbone.inputSize, normalisation: backbone.norm });
    const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', input, [1, backbone.inputSize, backbone.inputSize, 3]) }, ['pooled']);
    features.set(out.pooled.data as Float32Array, i * dim);
  }
  await session.release();
  const labels = Uint8Array.from(train, (r) => (r[1] === 'synthetic' ? 1 : 0));
  const set = { dim, views: [features], labels, weights: new Float32Array(labels.length).fill(1) };
  const head = (await trainHead(set, set, { epochs: 10, hiddenUnits: 16, batchSize: 16, seed: 2 })).weights as HeadWeightsLike;
  const registry = new ModelRegistry({ dataDir, repoRoot });
  const model = await registry.register({
    detector: buildDetectorOnnx(backbone.path, head),
    card: {
      id: MODEL_ID,
      backbone: { name: 'mobilenet_v2', inputSize: backbone.inputSize, normalisation: backbone.normalisation, featureLayer: backbone.featureLayer, featureShape: backbone.featureShape },
      head: { inputDim: dim, hiddenUnits: 16, dropout: 0.5 },
      trainingData: { summary: 'explainer test probe: 16 real + 16 synthetic images of ../shared/datasets' },
      threshold: 0.5,
    },
  });
  fs.writeFileSync(path.join(path.dirname(model.cardPath), 'head-weights.json'), serialiseHeadWeights(head));
  // A model registered without its head weights beside the card (explainers cannot differentiate it).
  fusedWithoutHeadFile = async () => {
    await registry.register({
      detector: buildDetectorOnnx(backbone.path, head, { metadata: { variant: 'no-head-file' } }),
      card: { ...JSON.parse(fs.readFileSync(model.cardPath, 'utf8')), id: 'no-head-weights', sha256: undefined },
    });
  };
});

afterAll(async () => {
  await releaseExplainerSessions();
  await releaseDetectorSessions();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe('explain on MobileNetV2', () => {
  it('CLI: all five overlays for a real photograph, at its aspect ratio, with peaks inside the image', async () => {
    const out = path.join(work, 'real');
    const ctx = cliContext();
    const code = await runExplainCommand([REAL_IMAGE, '--out', out, '--model', MODEL_ID], ctx);
    expect(ctx.err).toEqual([]);
    expect(code).toBe(0);
    const lines = ctx.out as { method: string; ms: number; peak: { x: number; y: number }; map: string; forwardPasses: number; flat: boolean; target: string; cached: boolean }[];
    expect(lines.map((l) => l.method)).toEqual(['gradcam', 'ablationcam', 'layercam', 'scorecam', 'lime']);
    const passes = Object.fromEntries(lines.map((l) => [l.method, l.forwardPasses]));
    // Score-CAM: the activations, the all-masked baseline and 32 masks.
    expect(passes).toEqual({ gradcam: 1, ablationcam: 1, layercam: 1, scorecam: 34, lime: 1000 });
    for (const l of lines) {
      expect(l.map).toBe(path.join(out, `${l.method}.png`));
      expect(l.ms).toBeGreaterThan(0);
      expect(l.cached).toBe(false);
      expect(['synthetic', 'real']).toContain(l.target);
      expect(l.peak.x).toBeGreaterThanOrEqual(0);
      expect(l.peak.x).toBeLessThan(2048);
      expect(l.peak.y).toBeGreaterThanOrEqual(0);
      expect(l.peak.y).toBeLessThan(1152);
      const meta = await sharp(l.map).metadata();
      expect([meta.width, meta.height]).toEqual([1024, 576]);
      const heat = JSON.parse(fs.readFileSync(path.join(out, `${l.method}.heatmap.json`), 'utf8')) as { height: number; width: number; values: number[] };
      expect(heat.values.length).toBe(heat.height * heat.width);
      expect(Math.max(...heat.values)).toBeLessThanOrEqual(1);
    }
    const heatmapSize = (m: string) => {
      const h = JSON.parse(fs.readFileSync(path.join(out, `${m}.heatmap.json`), 'utf8')) as { height: number; width: number };
      return [h.height, h.width];
    };
    expect(heatmapSize('gradcam')).toEqual([7, 7]);
    expect(heatmapSize('layercam')).toEqual([14, 14]); // block_12_add, the backbone's shallow output
    expect(heatmapSize('lime')).toEqual([224, 224]);

    // Same image, same model, same parameters: every method comes from the cache.
    const again = cliContext();
    expect(await runExplainCommand([REAL_IMAGE, '--out', out, '--model', MODEL_ID], again)).toBe(0);
    expect((again.out as { cached: boolean }[]).every((l) => l.cached)).toBe(true);
  });

  it('prints one readable line per method without --json', async () => {
    const ctx = cliContext(false);
    expect(await runExplainCommand([SYNTHETIC_IMAGE, '--out', path.join(work, 'text'), '--model', MODEL_ID, '--methods', 'gradcam,ablationcam'], ctx)).toBe(0);
    expect(ctx.out).toHaveLength(2);
    expect(ctx.out[0]).toMatch(/^gradcam .* peak \(\d+, \d+\) .*gradcam\.png$/);
  });

  it('explains both targets of a synthetic image with explicit classes', async () => {
    for (const target of ['synthetic', 'real']) {
      const ctx = cliContext();
      const code = await runExplainCommand([SYNTHETIC_IMAGE, '--out', path.join(work, target), '--model', MODEL_ID, '--methods', 'gradcam,ablationcam,scorecam', '--target', target, '--colormap', 'turbo', '--opacity', '0.3'], ctx);
      expect(code).toBe(0);
      expect((ctx.out as { target: string }[]).map((l) => l.target)).toEqual([target, target, target]);
    }
  });

  it('LayerCAM at block_12_add: the float64 gradient matches finite differences and the tail matches ONNX', async () => {
    const opened = await openRegisteredModel({ dataDir, modelId: MODEL_ID, repoRoot });
    const model = opened.model;
    expect(model.shallowLayers).toContain('block_12_add');
    const input = await prepareExplainInput(REAL_IMAGE, { inputSize: model.inputSize, normalisation: opened.normalisation });
    const target = { class: 'synthetic' as const };
    const lg = await model.layerGradients(input.tensor, 'block_12_add', target);
    expect([lg.activations.height, lg.activations.width, lg.activations.channels]).toEqual([14, 14, 96]);
    // The float64 tail reproduces the detector's own features and score.
    const tail = new GraphTail(await loadBackboneGraph('mobilenet_v2'), 'block_12_add', model.featureLayer);
    const fwd = tail.forward(lg.activations);
    const onnx = await model.predict(input.tensor, 1);
    let maxDiff = 0;
    for (let i = 0; i < onnx.features.length; i++) maxDiff = Math.max(maxDiff, Math.abs(onnx.features[i] - fwd.output.data[i]));
    expect(maxDiff).toBeLessThan(1e-3);
    expect(lg.pSynthetic).toBeCloseTo(onnx.pSynthetic[0], 4);
    // Directional finite differences in float64 along random directions.
    const score = (a: FeatureMap) => headForward(model.head, globalAveragePool(tail.forward(a).output)).pSynthetic;
    const rand = seededRandom(5);
    const eps = 1e-4;
    for (let trial = 0; trial < 3; trial++) {
      const v = Float64Array.from(lg.activations.data, () => rand() - 0.5);
      const plus = { ...lg.activations, data: Float64Array.from(lg.activations.data, (x, i) => x + eps * v[i]) };
      const minus = { ...lg.activations, data: Float64Array.from(lg.activations.data, (x, i) => x - eps * v[i]) };
      const numeric = (score(plus) - score(minus)) / (2 * eps);
      let analytic = 0;
      for (let i = 0; i < v.length; i++) analytic += lg.gradients.data[i] * v[i];
      expect(Math.abs(analytic - numeric) / Math.abs(numeric)).toBeLessThan(1e-3);
    }
    // The compiled ONNX gradient (what LayerCAM runs) equals the float64 runtime's reverse mode.
    const positions = 49;
    const gHead = headGradientWrtPooled(model.head, globalAveragePool(fwd.output), target).gradient;
    const dOut = new Float64Array(fwd.output.data.length);
    for (let p = 0; p < positions; p++) for (let c = 0; c < 1280; c++) dOut[p * 1280 + c] = gHead[c] / positions;
    const reference = tail.backward(fwd, dOut);
    let num = 0;
    let den = 0;
    for (let i = 0; i < reference.length; i++) {
      num += (lg.gradients.data[i] - reference[i]) ** 2;
      den += reference[i] ** 2;
    }
    expect(Math.sqrt(num / den)).toBeLessThan(1e-4);
    // And the head's gradient at the feature layer is what the base explainer uses.
    const g = headGradientWrtPooled(model.head, globalAveragePool({ height: 7, width: 7, channels: 1280, data: onnx.features }), target);
    expect(g.pSynthetic).toBeCloseTo(onnx.pSynthetic[0], 5);
  });

  it('refuses bad requests with typed errors and usage exit codes', async () => {
    const usage = cliContext();
    expect(await runExplainCommand([REAL_IMAGE], usage)).toBe(2);
    expect(await runExplainCommand([REAL_IMAGE, '--out', work, '--methods', 'gradcam,shap'], usage)).toBe(2);
    expect(await runExplainCommand([REAL_IMAGE, '--out', work, '--opacity', '3'], usage)).toBe(2);
    const missing = cliContext();
    expect(await runExplainCommand([path.join(work, 'nope.jpg'), '--out', work, '--model', MODEL_ID], missing)).toBe(1);
    expect(missing.err).toEqual([{ error: expect.objectContaining({ code: 'NOT_FOUND' }) }]);
    const notImage = cliContext();
    const text = path.join(work, 'notes.jpg');
    fs.writeFileSync(text, 'not an image');
    expect(await runExplainCommand([text, '--out', work, '--model', MODEL_ID], notImage)).toBe(1);
    expect(notImage.err).toEqual([{ error: expect.objectContaining({ code: 'NOT_AN_IMAGE' }) }]);
    const badLayer = cliContext();
    expect(await runExplainCommand([REAL_IMAGE, '--out', work, '--model', MODEL_ID, '--methods', 'layercam', '--layer', 'block_3_add'], badLayer)).toBe(1);
    expect(badLayer.err).toEqual([{ error: expect.objectContaining({ code: 'EXPLAIN_LAYER_UNAVAILABLE' }) }]);
    await fusedWithoutHeadFile();
    const noHead = cliContext();
    expect(await runExplainCommand([REAL_IMAGE, '--out', work, '--model', 'no-head-weights'], noHead)).toBe(1);
    expect(noHead.err).toEqual([{ error: expect.objectContaining({ code: 'EXPLAIN_NO_HEAD_WEIGHTS' }) }]);
    const unknownModel = cliContext();
    expect(await runExplainCommand([REAL_IMAGE, '--out', work, '--model', 'no-such-model'], unknownModel)).toBe(1);
    expect(unknownModel.err).toEqual([{ error: expect.objectContaining({ code: 'MODEL_NOT_FOUND' }) }]);
  });
});
