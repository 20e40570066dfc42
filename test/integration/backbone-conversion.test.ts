// The shipped backbones converted from the nsfwjs tfjs models (and Tiny Darknet from ../shared),
// checked against TensorFlow.js itself, then fused with a head and checked against the head's maths.
import * as tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBackbones, sha256File, TINY_DARKNET_DIR } from '../../models/build-backbones';
import { buildDetectorOnnx, buildHeadOnnx, scoreHeadReference, type HeadWeights } from '../../electron/services/onnx-graphs/detector';
import { convertLayersModel, POOLED_OUTPUT } from '../../electron/services/onnx-graphs/keras-to-onnx';
import { loadLayersFolderSource, loadNsfwjsSource, type LayersModelSource } from '../../electron/services/onnx-graphs/tfjs-source';
import { headForward, headRowsOf } from '../../electron/services/explainers/head-math';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const datasets = path.resolve(repoRoot, '../shared/datasets');

interface Case {
  name: string;
  size: number;
  outputs: string[];
  load: () => LayersModelSource;
}

const cases: Case[] = [
  { name: 'mobilenet_v2', size: 224, outputs: ['out_relu', 'block_15_add', 'block_12_add', 'block_8_add', 'block_5_add', 'block_2_add'], load: () => loadNsfwjsSource('mobilenet_v2') },
  { name: 'inception_v3', size: 299, outputs: ['mixed10', 'mixed7'], load: () => loadNsfwjsSource('inception_v3') },
];
if (fs.existsSync(path.join(TINY_DARKNET_DIR, 'model.json'))) {
  cases.push({ name: 'tiny_darknet', size: 224, outputs: ['leaky_re_lu_14', 'leaky_re_lu_9'], load: () => loadLayersFolderSource(TINY_DARKNET_DIR) });
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function randomHead(dim: number, units: number, seed: number): HeadWeights {
  const r = rng(seed);
  const vec = (n: number, f: () => number) => Float32Array.from({ length: n }, f);
  return {
    inputDim: dim,
    dense1: { kernel: vec(dim * units, () => (r() - 0.5) * 0.3), bias: vec(units, () => r() - 0.5), units },
    bn: { gamma: vec(units, () => 0.5 + r()), beta: vec(units, () => r() - 0.5), movingMean: vec(units, () => r()), movingVariance: vec(units, () => 0.2 + r()), epsilon: 1e-3 },
    dense2: { kernel: vec(units, () => r() - 0.5), bias: vec(1, () => 0.1) },
  };
}

/** One uniform-noise image and one real photograph, NHWC in [0,1] (x / 255 as nsfwjs feeds them). */
async function inputBatch(size: number): Promise<Float32Array> {
  const per = size * size * 3;
  const x = new Float32Array(2 * per);
  const r = rng(size);
  for (let i = 0; i < per; i++) x[i] = r();
  const manifest = fs.readFileSync(path.join(datasets, 'MANIFEST.csv'), 'utf8').split('\n');
  const realRow = manifest.find((l) => l.startsWith('real/')) as string;
  const { data } = await sharp(path.join(datasets, realRow.split(',')[0])).resize(size, size, { fit: 'fill' }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  for (let i = 0; i < per; i++) x[per + i] = data[i] / 255;
  return x;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const report: string[] = [];
let work: string;

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'backbone-conversion-'));
  // XNNPACK wasm keeps the tfjs reference of InceptionV3 at a few seconds; pure JS needs minutes.
  await import('@tensorflow/tfjs-backend-wasm');
  const ok = await tf.setBackend('wasm').catch(() => false);
  if (!ok) await tf.setBackend('cpu');
  await tf.ready();
});

afterAll(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
  if (report.length) process.stdout.write(`\n${report.join('\n')}\n`);
});

describe.each(cases)('$name: ONNX conversion vs tfjs', ({ name, size, outputs, load }) => {
  let source: LayersModelSource;
  let onnxBytes: Uint8Array;
  let x: Float32Array;
  let ortOut: ort.InferenceSession.OnnxValueMapType;
  const tfjsOut: Record<string, { data: Float32Array; shape: number[] }> = {};

  beforeAll(async () => {
    source = load();
    const t0 = performance.now();
    const converted = convertLayersModel(source, { outputs });
    onnxBytes = converted.bytes;
    report.push(`${name}: converted in ${((performance.now() - t0) / 1000).toFixed(2)} s, ${(onnxBytes.length / 1e6).toFixed(1)} MB, ${converted.parameterCount} weights`);
    x = await inputBatch(size);
    const session = await ort.InferenceSession.create(onnxBytes, { intraOpNumThreads: 2 });
    ortOut = await session.run({ image: new ort.Tensor('float32', x, [2, size, size, 3]) });
    await session.release();
    // tfjs dequantises the weights itself, so this also checks the converter's weight decoding.
    const model = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: source.modelJson.modelTopology, weightSpecs: source.weightSpecs as never, weightData: source.weightData }));
    const sub = tf.model({ inputs: model.inputs, outputs: outputs.map((o) => model.getLayer(o).output as tf.SymbolicTensor) });
    const input = tf.tensor4d(x, [2, size, size, 3]);
    const result = sub.predict(input) as tf.Tensor[];
    outputs.forEach((o, i) => {
      tfjsOut[o] = { data: result[i].dataSync() as Float32Array, shape: result[i].shape };
    });
    const pooled = tf.mean(result[0], [1, 2]);
    tfjsOut[POOLED_OUTPUT] = { data: pooled.dataSync() as Float32Array, shape: pooled.shape };
    tf.dispose([input, pooled, ...result]);
    model.dispose();
  });

  it('feature layer, mid layer and pooled output agree with tfjs to 1e-4 (NHWC, batch 2)', () => {
    const diffs: string[] = [];
    for (const o of [...outputs, POOLED_OUTPUT]) {
      expect(ortOut[o].dims).toEqual(tfjsOut[o].shape);
      const d = maxAbsDiff(ortOut[o].data as Float32Array, tfjsOut[o].data);
      diffs.push(`${o} ${d.toExponential(2)}`);
      // 1e-4, relative to the map's magnitude where it exceeds 1 (residual sums such as block_5_add
      // are not clipped like the ReLU6 outputs).
      const scale = tfjsOut[o].data.reduce((m, v) => Math.max(m, Math.abs(v)), 1);
      expect(d / scale, o).toBeLessThanOrEqual(1e-4);
    }
    // The features must carry signal, not a constant that would match trivially.
    expect(maxAbsDiff(tfjsOut[outputs[0]].data.subarray(0, 100), tfjsOut[outputs[0]].data.subarray(tfjsOut[outputs[0]].data.length / 2, tfjsOut[outputs[0]].data.length / 2 + 100))).toBeGreaterThan(1e-3);
    report.push(`${name}: max |ONNX − tfjs|: ${diffs.join(', ')}`);
  });

  it('the fused detector equals the head applied to the tfjs features, to 1e-5', async () => {
    const channels = tfjsOut[outputs[0]].shape[3];
    const head = randomHead(channels, 16, channels);
    const t0 = performance.now();
    const detector = buildDetectorOnnx(onnxBytes, head);
    const fuseMs = performance.now() - t0;
    expect(Buffer.from(buildDetectorOnnx(onnxBytes, head)).equals(Buffer.from(detector))).toBe(true);
    const session = await ort.InferenceSession.create(detector, { intraOpNumThreads: 2 });
    expect(session.inputNames).toEqual(['image']);
    expect([...session.outputNames].sort()).toEqual(['features', 'p_synthetic']);
    const out = await session.run({ image: new ort.Tensor('float32', x, [2, size, size, 3]) });
    await session.release();
    expect(out.p_synthetic.dims).toEqual([2, 1]);
    expect(out.features.dims).toEqual(tfjsOut[outputs[0]].shape);
    expect(maxAbsDiff(out.features.data as Float32Array, tfjsOut[outputs[0]].data)).toBeLessThanOrEqual(1e-4);
    const expected = scoreHeadReference(head, tfjsOut[POOLED_OUTPUT].data);
    const got = out.p_synthetic.data as Float32Array;
    const d = maxAbsDiff(got, expected);
    expect(d).toBeLessThanOrEqual(1e-5);
    // Noise and a photograph score differently, so agreement is not between two constants.
    expect(Math.abs(expected[0] - expected[1])).toBeGreaterThan(1e-3);

    const headOnly = await ort.InferenceSession.create(buildHeadOnnx(head, { featureShape: tfjsOut[outputs[0]].shape.slice(1) }));
    const h = await headOnly.run({ features: new ort.Tensor('float32', tfjsOut[outputs[0]].data, tfjsOut[outputs[0]].shape) });
    await headOnly.release();
    const dHead = maxAbsDiff(h.p_synthetic.data as Float32Array, expected);
    expect(dHead).toBeLessThanOrEqual(1e-5);
    report.push(`${name}: fused ${(detector.length / 1e6).toFixed(1)} MB in ${(fuseMs / 1000).toFixed(2)} s; max |p_synthetic − head(tfjs pooled)| ${d.toExponential(2)}; head-only ONNX ${dHead.toExponential(2)}`);
  });
});

/** Channel means (and population standard deviations) of NHWC maps, float64: what training pools. */
function poolJs(map: { data: Float32Array; shape: number[] }, pooling: 'mean' | 'mean-std'): Float64Array[] {
  const [n, h, w, c] = map.shape;
  return Array.from({ length: n }, (_, b) => {
    const out = new Float64Array(pooling === 'mean' ? c : 2 * c);
    for (let k = 0; k < c; k++) {
      let s = 0;
      let sq = 0;
      for (let i = 0; i < h * w; i++) {
        const v = map.data[(b * h * w + i) * c + k];
        s += v;
        sq += v * v;
      }
      const m = s / (h * w);
      out[k] = m;
      if (pooling === 'mean-std') out[c + k] = Math.sqrt(Math.max(sq / (h * w) - m * m, 0));
    }
    return out;
  });
}

describe('a head on several pooled maps ("taps")', () => {
  it('the fused detector equals the head on the concatenated tfjs pools, and head_context plus the feature rows rebuild p', async () => {
    const source = loadNsfwjsSource('mobilenet_v2');
    const taps = [
      { output: 'block_8_add', pooling: 'mean-std' as const },
      { output: 'block_12_add', pooling: 'mean' as const },
      { output: 'out_relu', pooling: 'mean' as const },
    ];
    const onnxBytes = convertLayersModel(source, { outputs: ['out_relu', 'block_12_add', 'block_8_add'] }).bytes;
    const x = await inputBatch(224);
    const model = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: source.modelJson.modelTopology, weightSpecs: source.weightSpecs as never, weightData: source.weightData }));
    const sub = tf.model({ inputs: model.inputs, outputs: taps.map((t) => model.getLayer(t.output).output as tf.SymbolicTensor) });
    const input = tf.tensor4d(x, [2, 224, 224, 3]);
    const maps = (sub.predict(input) as tf.Tensor[]).map((t) => ({ data: t.dataSync() as Float32Array, shape: t.shape }));
    tf.dispose(input);
    model.dispose();
    const pools = taps.map((t, i) => poolJs(maps[i], t.pooling));
    const dims = pools.map((p) => p[0].length);
    const dim = dims.reduce((a, b) => a + b, 0);
    expect(dim).toBe(128 + 96 + 1280);
    const head = randomHead(dim, 16, 7);
    const rows = Float32Array.from([0, 1].flatMap((b) => pools.flatMap((p) => Array.from(p[b]))));
    const expected = scoreHeadReference(head, rows);

    const detector = buildDetectorOnnx(onnxBytes, head, { featureOutput: 'out_relu', headInputs: taps });
    const session = await ort.InferenceSession.create(detector, { intraOpNumThreads: 2 });
    expect([...session.outputNames].sort()).toEqual(['features', 'head_context', 'p_synthetic']);
    const out = await session.run({ image: new ort.Tensor('float32', x, [2, 224, 224, 3]) });
    await session.release();
    const got = out.p_synthetic.data as Float32Array;
    expect(maxAbsDiff(got, expected)).toBeLessThanOrEqual(1e-5);
    expect(Math.abs(expected[0] - expected[1])).toBeGreaterThan(1e-3);
    // The explainers' view: the out_relu rows of the head, with the earlier taps as head_context.
    const featureHead = headRowsOf(head as never, dims[0] + dims[1], dims[2]);
    const context = out.head_context.data as Float32Array;
    expect(out.head_context.dims).toEqual([2, 16]);
    for (let b = 0; b < 2; b++) {
      const p = headForward(featureHead, pools[2][b], context.subarray(b * 16, (b + 1) * 16)).pSynthetic;
      expect(Math.abs(p - expected[b])).toBeLessThanOrEqual(1e-5);
      // Without the context the feature rows alone give another score: the context carries signal.
      expect(Math.abs(headForward(featureHead, pools[2][b]).pSynthetic - expected[b])).toBeGreaterThan(1e-4);
    }
    // A head whose rows do not add up to the taps, or taps without the feature map, are refused.
    expect(() => buildDetectorOnnx(onnxBytes, randomHead(dim - 1, 16, 7), { featureOutput: 'out_relu', headInputs: taps })).toThrowError(expect.objectContaining({ code: 'BAD_HEAD' }));
    expect(() => buildDetectorOnnx(onnxBytes, head, { featureOutput: 'out_relu', headInputs: taps.slice(0, 2) })).toThrowError(expect.objectContaining({ code: 'BAD_HEAD' }));

    // Mirrored: p is the sigmoid of the mean of the image's and its mirror's logits; the features and
    // head_context stay the image's own, so the explainers' head maths still rebuild its logit.
    const mirrored = buildDetectorOnnx(onnxBytes, head, { featureOutput: 'out_relu', headInputs: taps, mirror: true });
    expect(Buffer.from(buildDetectorOnnx(onnxBytes, head, { featureOutput: 'out_relu', headInputs: taps, mirror: true })).equals(Buffer.from(mirrored))).toBe(true);
    const flippedX = new Float32Array(x.length);
    for (let b = 0; b < 2; b++)
      for (let y = 0; y < 224; y++)
        for (let c = 0; c < 224; c++) flippedX.set(x.subarray(((b * 224 + y) * 224 + (223 - c)) * 3, ((b * 224 + y) * 224 + (223 - c)) * 3 + 3), ((b * 224 + y) * 224 + c) * 3);
    const plainSession = await ort.InferenceSession.create(detector, { intraOpNumThreads: 2 });
    const ofFlipped = (await plainSession.run({ image: new ort.Tensor('float32', flippedX, [2, 224, 224, 3]) })).p_synthetic.data as Float32Array;
    await plainSession.release();
    const mirrorSession = await ort.InferenceSession.create(mirrored, { intraOpNumThreads: 2 });
    const both = await mirrorSession.run({ image: new ort.Tensor('float32', x, [2, 224, 224, 3]) });
    const single = await mirrorSession.run({ image: new ort.Tensor('float32', x.subarray(0, 224 * 224 * 3), [1, 224, 224, 3]) });
    await mirrorSession.release();
    const logit = (p: number) => Math.log(p / (1 - p));
    const expectedMirrored = [0, 1].map((b) => 1 / (1 + Math.exp(-(logit(got[b]) + logit(ofFlipped[b])) / 2)));
    expect(maxAbsDiff(both.p_synthetic.data as Float32Array, expectedMirrored)).toBeLessThanOrEqual(1e-5);
    expect(Math.abs(ofFlipped[0] - got[0])).toBeGreaterThan(1e-4);
    expect(both.p_synthetic.dims).toEqual([2, 1]);
    expect(both.features.dims).toEqual(out.features.dims);
    expect(maxAbsDiff(both.features.data as Float32Array, out.features.data as Float32Array)).toBeLessThanOrEqual(1e-5);
    expect(maxAbsDiff(both.head_context.data as Float32Array, context)).toBeLessThanOrEqual(1e-4);
    expect(Math.abs((single.p_synthetic.data as Float32Array)[0] - expectedMirrored[0])).toBeLessThanOrEqual(1e-5);
  });
});

describe('head reference', () => {
  it('scoreHeadReference is the Keras head (Dense+ReLU → BN → Dropout → Dense+sigmoid) in tfjs', () => {
    const dim = 24;
    const units = 8;
    const head = randomHead(dim, units, 42);
    const model = tf.sequential({
      layers: [
        tf.layers.dense({ inputShape: [dim], units, activation: 'relu' }),
        tf.layers.batchNormalization({ epsilon: head.bn.epsilon }),
        tf.layers.dropout({ rate: 0.5 }),
        tf.layers.dense({ units: 1, activation: 'sigmoid' }),
      ],
    });
    model.layers[0].setWeights([tf.tensor2d(head.dense1.kernel as Float32Array, [dim, units]), tf.tensor1d(head.dense1.bias as Float32Array)]);
    model.layers[1].setWeights([head.bn.gamma, head.bn.beta, head.bn.movingMean, head.bn.movingVariance].map((a) => tf.tensor1d(a as Float32Array)));
    model.layers[3].setWeights([tf.tensor2d(head.dense2.kernel as Float32Array, [units, 1]), tf.tensor1d(head.dense2.bias as Float32Array)]);
    const r = rng(5);
    const features = Float32Array.from({ length: 3 * dim }, () => r() * 2);
    const fromTf = (model.predict(tf.tensor2d(features, [3, dim])) as tf.Tensor).dataSync();
    expect(maxAbsDiff(scoreHeadReference(head, features), fromTf)).toBeLessThan(1e-6);
    model.dispose();
  });

  it('rejects heads that do not fit, with typed errors', () => {
    const backbone = path.join(work, 'none.onnx');
    const head = randomHead(10, 4, 1);
    expect(() => buildHeadOnnx({ ...head, dense1: { ...head.dense1, bias: new Float32Array(3) } })).toThrowError(expect.objectContaining({ code: 'BAD_HEAD' }));
    expect(() => buildHeadOnnx({ ...head, bn: { ...head.bn, epsilon: 0 } })).toThrowError(expect.objectContaining({ code: 'BAD_HEAD' }));
    expect(() => buildHeadOnnx({ ...head, dense2: { ...head.dense2, kernel: Float32Array.from([NaN, 0, 0, 0]) } })).toThrowError(expect.objectContaining({ code: 'BAD_HEAD' }));
    expect(() => buildDetectorOnnx(backbone, head)).toThrowError(expect.objectContaining({ code: 'BAD_ONNX' }));
    fs.writeFileSync(backbone, 'not a model');
    expect(() => buildDetectorOnnx(backbone, head)).toThrowError(expect.objectContaining({ code: 'BAD_ONNX' }));
  });
});

describe('models/build-backbones.ts', () => {
  it('writes the backbone and its manifest, then skips it while the sha256 matches, and rebuilds a damaged file', async () => {
    const outDir = path.join(work, 'backbones');
    const first = buildBackbones({ outDir, only: ['mobilenet_v2'] });
    expect(first.built.map((b) => b.name)).toEqual(['mobilenet_v2']);
    const manifest = JSON.parse(fs.readFileSync(path.join(outDir, 'manifest.json'), 'utf8'));
    const entry = manifest.backbones.find((b: { name: string }) => b.name === 'mobilenet_v2');
    expect(entry).toMatchObject({
      file: 'mobilenet_v2.onnx',
      inputSize: 224,
      featureLayer: 'out_relu',
      featureShape: [7, 7, 1280],
      normalisation: { name: 'unit', offset: [0, 0, 0] },
      source: { package: 'nsfwjs' },
      licence: 'MIT',
      shipped: true,
    });
    const outputs = ['out_relu', 'block_15_add', 'block_12_add', 'block_8_add', 'block_5_add', 'block_2_add', 'pooled'];
    expect(entry.outputs.map((o: { name: string }) => o.name)).toEqual(outputs);
    const file = path.join(outDir, 'mobilenet_v2.onnx');
    expect(sha256File(file)).toBe(entry.sha256);
    const session = await ort.InferenceSession.create(file);
    expect(session.inputNames).toEqual(['image']);
    expect(session.outputNames).toEqual(outputs);
    await session.release();

    const second = buildBackbones({ outDir, only: ['mobilenet_v2'] });
    expect(second.built).toEqual([]);
    expect(second.skipped).toContain('mobilenet_v2');

    fs.appendFileSync(file, 'x');
    const third = buildBackbones({ outDir, only: ['mobilenet_v2'] });
    expect(third.built.map((b) => b.name)).toEqual(['mobilenet_v2']);
    expect(sha256File(file)).toBe(entry.sha256);
    expect(fs.readdirSync(outDir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });
});
