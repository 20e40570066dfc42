// analyze feeds the decoder's 256×256 RGB bytes to a session whose graph does the resize and the
// normalisation (withPaperRgbInput). These tests hold that path to the JS preprocessing that training
// uses (toModelInput): same numbers, on real images, for the shipped detector (224 px) and for the
// InceptionV3 backbone (299 px, an enlargement).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { findBackbone } from '../../electron/services/engine/backbones';
import { getDetectorSession, releaseDetectorSessions } from '../../electron/services/engine/detector-session';
import { ModelRegistry } from '../../electron/services/engine/model-registry';
import { decodeToPaperRgb, toModelInput, type Normalisation } from '../../electron/services/engine/preprocess';
import { PAPER_RGB_INPUT, withPaperRgbInput } from '../../electron/services/onnx-graphs/detector';
import { ConversionError } from '../../electron/services/onnx-graphs/conversion-error';

const repoRoot = path.resolve(__dirname, '../..');
const datasets = path.resolve(repoRoot, '../shared/datasets');
// Photos and generated images of several sizes and formats (JPEG, PNG, grey).
const files = [
  'real/opencv-doc__baboon.jpg',
  'real/opencv-doc__basketball1.png',
  ...fs
    .readFileSync(path.join(datasets, 'MANIFEST.csv'), 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.split(',')[0].split('#')[0])
    .filter((p) => p.startsWith('synthetic/'))
    .filter((_, i) => i % 97 === 0),
].map((p) => path.join(datasets, p));

async function batches(normalisation: Normalisation, inputSize: number) {
  const rgbs = await Promise.all(files.map(async (f) => (await decodeToPaperRgb(f)).data));
  const bytes = new Uint8Array(rgbs.length * 256 * 256 * 3);
  const floats = new Float32Array(rgbs.length * inputSize * inputSize * 3);
  rgbs.forEach((rgb, i) => {
    bytes.set(rgb, i * 256 * 256 * 3);
    toModelInput(rgb, { inputSize, normalisation }, floats, i * inputSize * inputSize * 3);
  });
  return { bytes, floats, n: rgbs.length };
}

const maxAbs = (a: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
};

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

afterAll(() => releaseDetectorSessions());

describe('resize and normalisation in the graph (paper RGB input)', () => {
  it('gives the shipped detector the same p(synthetic) and feature map as the JS preprocessing', async () => {
    const registry = new ModelRegistry({ dataDir: fs.mkdtempSync(path.join(os.tmpdir(), 'paper-rgb-')), repoRoot });
    const model = await registry.resolve();
    const floatSession = await getDetectorSession(model.detectorPath, { expectedSha256: model.card.sha256 });
    const rgbSession = await getDetectorSession(model.detectorPath, { expectedSha256: model.card.sha256, paperRgb: { normalisation: model.normalisation } });
    expect(rgbSession.inputType).toBe('uint8');
    expect(rgbSession.inputSize).toBe(256);
    expect(rgbSession.modelSha256).toBe(floatSession.modelSha256);
    const { bytes, floats, n } = await batches(model.normalisation, floatSession.inputSize);
    const a = await floatSession.runOutputs(floats, n);
    const b = await rgbSession.runOutputs(bytes, n);
    const pa = a.p_synthetic.data as Float32Array;
    const pb = b.p_synthetic.data as Float32Array;
    expect(new Set(Array.from(pa, (p) => p.toFixed(2))).size).toBeGreaterThan(1);
    expect(maxAbsDiff(pa, pb)).toBeLessThan(1e-5);
    const fa = a.features.data as Float32Array;
    const scale = maxAbs(fa);
    // The map is the last one (out_relu): float rounding of the resize, carried through 17 blocks.
    expect(maxAbsDiff(fa, b.features.data as Float32Array) / scale).toBeLessThan(1e-4);
    // A session takes the input it was made for, and says so otherwise.
    await expect(rgbSession.predict(floats, n)).rejects.toThrow(/RGB bytes/);
    await expect(floatSession.predict(bytes, n)).rejects.toThrow(/floats/);
  });

  it('enlarges 256 → 299 for InceptionV3 exactly as toModelInput does', async () => {
    const backbone = findBackbone(repoRoot, 'inception_v3');
    const file = fs.readFileSync(backbone.path);
    const opts = { intraOpNumThreads: 2, graphOptimizationLevel: 'all' as const };
    const floatSession = await ort.InferenceSession.create(file, opts);
    const rgbSession = await ort.InferenceSession.create(withPaperRgbInput(file, { normalisation: backbone.norm }), opts);
    try {
      expect(rgbSession.inputNames).toEqual([PAPER_RGB_INPUT]);
      const { bytes, floats, n } = await batches(backbone.norm, 299);
      const a = await floatSession.run({ [floatSession.inputNames[0]]: new ort.Tensor('float32', floats, [n, 299, 299, 3]) }, ['pooled']);
      const b = await rgbSession.run({ [PAPER_RGB_INPUT]: new ort.Tensor('uint8', bytes, [n, 256, 256, 3]) }, ['pooled']);
      const pa = a.pooled.data as Float32Array;
      const scale = maxAbs(pa);
      expect(maxAbsDiff(pa, b.pooled.data as Float32Array) / scale).toBeLessThan(1e-5);
    } finally {
      await floatSession.release();
      await rgbSession.release();
    }
  });

  it('refuses models it cannot put the input in front of', () => {
    expect(() => withPaperRgbInput(new Uint8Array([1, 2, 3, 4]), { normalisation: { scale: [1, 1, 1], offset: [0, 0, 0] } })).toThrow(ConversionError);
    const file = fs.readFileSync(findBackbone(repoRoot, 'mobilenet_v2').path);
    expect(() => withPaperRgbInput(file, { normalisation: { scale: [1, 1], offset: [0, 0, 0] } })).toThrow(/three finite/);
  });
});
