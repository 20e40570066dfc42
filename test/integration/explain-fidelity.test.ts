// Fidelity of every explainer on a detector whose evidence is known: a real small CNN that responds
// only to a red checkerboard planted in grey photographs. (1) every method's peak falls inside the
// planted square; (2) randomising the head changes every map (Adebayo et al. 2018); (3) LIME's top
// superpixel lies on the square; and the float64 LayerCAM gradients agree with tfjs autograd.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NORMALISATIONS } from '../../electron/services/engine/preprocess';
import { createExplainer, type Explainer } from '../../electron/services/explainers/explain-image';
import { prepareExplainInput, type PreparedImage } from '../../electron/services/explainers/explain-input';
import type { ExplainMethod, ExplainableModel, ExplanationMap } from '../../electron/services/explainers/explain-types';
import { globalAveragePool, headGradientWrtPooled } from '../../electron/services/explainers/head-math';
import { GraphTail } from '../../electron/services/explainers/layer-graph';
import { spearman } from '../../electron/services/explainers/map-utils';
import { createTfjsExplainableModel, layerGraphFromTfjs } from '../../electron/services/explainers/tfjs-model';
import {
  buildPlantedBackbone,
  buildPlantedOnnxModel,
  plantedHead,
  randomisedHead,
  writePlantedImage,
  PLANTED_FEATURE_LAYER,
  PLANTED_INPUT,
  PLANTED_SHALLOW_LAYERS,
  type PlantedImage,
} from './explain-planted-model';

const repoRoot = path.resolve(__dirname, '../..');
const datasets = path.resolve(repoRoot, '../shared/datasets');
const SOURCES = [
  'real/lomiri-wallpapers-16.04__Bridge_by_Sander_Klootwijk.jpg',
  'real/lomiri-wallpapers-16.04__Dragonfly_by_Bolly.jpg',
];

interface Variant {
  name: string;
  method: ExplainMethod;
  options?: Record<string, unknown>;
}

// Every method, LayerCAM at all three depths; LIME with fewer samples to keep the suite short.
const VARIANTS: Variant[] = [
  { name: 'gradcam', method: 'gradcam' },
  { name: 'ablationcam', method: 'ablationcam' },
  { name: 'layercam@c3_relu', method: 'layercam', options: { layer: 'c3_relu' } },
  { name: 'layercam@c1_relu', method: 'layercam', options: { layer: 'c1_relu' } },
  { name: 'layercam@features', method: 'layercam', options: { layer: PLANTED_FEATURE_LAYER } },
  { name: 'scorecam', method: 'scorecam' },
  { name: 'lime', method: 'lime', options: { samples: 300 } },
];

function explainerFor(model: ExplainableModel, v: Variant): Explainer {
  return createExplainer(v.method, model, { [v.method]: v.options });
}

let dir: string;
let backbone: tf.LayersModel;
// The shipped path (converter → fused ONNX → onnxruntime) and the tfjs path, same weights.
let planted: ExplainableModel;
let plantedTfjs: ExplainableModel;
const images: { planted: PlantedImage; input: PreparedImage }[] = [];

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'explain-fidelity-'));
  backbone = buildPlantedBackbone();
  plantedTfjs = createTfjsExplainableModel({ id: 'planted', backbone, featureLayer: PLANTED_FEATURE_LAYER, head: plantedHead(), shallowLayers: PLANTED_SHALLOW_LAYERS });
  planted = (await buildPlantedOnnxModel(backbone, plantedHead(), dir)).model;
  // Two photographs, two aspect ratios, two patch positions.
  const specs = [
    { src: SOURCES[0], w: 384, h: 256, patch: { x0: 144, y0: 64, x1: 240, y1: 160 }, cellX: 12, cellY: 8 },
    { src: SOURCES[1], w: 256, h: 320, patch: { x0: 32, y0: 180, x1: 128, y1: 300 }, cellX: 8, cellY: 10 },
  ];
  for (const [i, s] of specs.entries()) {
    const p = await writePlantedImage(path.join(datasets, s.src), path.join(dir, `planted-${i}.png`), s.w, s.h, s.patch, s.cellX, s.cellY);
    images.push({ planted: p, input: await prepareExplainInput(p.file, { inputSize: PLANTED_INPUT, normalisation: NORMALISATIONS.unit }) });
  }
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function inside(peak: { x: number; y: number }, p: PlantedImage['patch']): boolean {
  return peak.x >= p.x0 && peak.x < p.x1 && peak.y >= p.y0 && peak.y < p.y1;
}

describe('planted-patch detector', () => {
  it('scores the planted images high and a plain grey photograph low, the same in ONNX and tfjs', async () => {
    const clean = await writePlantedImage(path.join(datasets, SOURCES[0]), path.join(dir, 'clean.png'), 384, 256, { x0: 0, y0: 0, x1: 0, y1: 0 }, 12, 8);
    const input = await prepareExplainInput(clean.file, { inputSize: PLANTED_INPUT, normalisation: NORMALISATIONS.unit });
    expect((await planted.predict(input.tensor, 1)).pSynthetic[0]).toBeLessThan(0.15);
    for (const img of images) {
      const onnx = await planted.predict(img.input.tensor, 1);
      const tfjs = await plantedTfjs.predict(img.input.tensor, 1);
      expect(onnx.pSynthetic[0]).toBeGreaterThan(0.75);
      expect(onnx.pSynthetic[0]).toBeCloseTo(tfjs.pSynthetic[0], 4);
      let maxDiff = 0;
      for (let i = 0; i < onnx.features.length; i++) maxDiff = Math.max(maxDiff, Math.abs(onnx.features[i] - tfjs.features[i]));
      expect(maxDiff).toBeLessThan(1e-4);
    }
  });

  for (const v of VARIANTS) {
    it(`${v.name}: the peak falls inside the planted square`, async () => {
      // LIME's 300 forward passes per image run on ONNX only; tfjs would take a minute.
      const models = v.method === 'lime' ? [planted] : [planted, plantedTfjs];
      for (const model of models) {
        const explainer = explainerFor(model, v);
        for (const img of images) {
          const e = await explainer.explain(img.input, { class: 'synthetic' });
          expect(e.flat).toBe(false);
          expect(inside(e.peak, img.planted.patch), `${model.id} ${v.name} peak ${JSON.stringify(e.peak)} outside ${JSON.stringify(img.planted.patch)}`).toBe(true);
        }
      }
    });
  }

  it('the ONNX and tfjs paths give the same CAM maps', async () => {
    for (const v of VARIANTS.filter((x) => x.method !== 'lime')) {
      const a = await explainerFor(planted, v).explain(images[0].input, { class: 'synthetic' });
      const b = await explainerFor(plantedTfjs, v).explain(images[0].input, { class: 'synthetic' });
      let maxDiff = 0;
      for (let i = 0; i < a.map.data.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a.map.data[i] - b.map.data[i]));
      expect(maxDiff, v.name).toBeLessThan(1e-3);
    }
  });

  it('LIME: the top superpixel overlaps the planted square, and the same seed repeats it', async () => {
    const explainer = explainerFor(planted, VARIANTS.find((v) => v.method === 'lime')!);
    for (const img of images) {
      const e = await explainer.explain(img.input, { class: 'synthetic' });
      const { segments, positive } = e.lime!;
      const { patch } = img.planted;
      const sx = img.planted.width / PLANTED_INPUT;
      const sy = img.planted.height / PLANTED_INPUT;
      let inPatch = 0;
      let total = 0;
      for (let i = 0; i < segments.length; i++) {
        if (segments[i] !== positive[0]) continue;
        total++;
        const x = ((i % PLANTED_INPUT) + 0.5) * sx;
        const y = (Math.floor(i / PLANTED_INPUT) + 0.5) * sy;
        if (x >= patch.x0 && x < patch.x1 && y >= patch.y0 && y < patch.y1) inPatch++;
      }
      expect(inPatch / total).toBeGreaterThan(0.5);
      const again = await explainer.explain(img.input, { class: 'synthetic' });
      expect(Array.from(again.lime!.weights)).toEqual(Array.from(e.lime!.weights));
    }
  });

  it('model randomisation: random heads change every map (mean Spearman < 0.5, each < 0.95)', async () => {
    const img = images[0];
    const originals = new Map<string, ExplanationMap>();
    for (const v of VARIANTS) originals.set(v.name, await explainerFor(planted, v).explain(img.input, { class: 'synthetic' }));
    const correlations: Record<string, number[]> = {};
    for (const seed of [1, 2, 3]) {
      const randomised = (await buildPlantedOnnxModel(backbone, randomisedHead(seed), dir, `random-${seed}`)).model;
      for (const v of VARIANTS) {
        const e = await explainerFor(randomised, v).explain(img.input, { class: 'synthetic' });
        (correlations[v.name] ??= []).push(spearman(originals.get(v.name)!.map.data, e.map.data));
      }
    }
    // A random head may by chance lean on the planted channels too, so one seed can stay similar;
    // on average over heads the map must decorrelate, and no randomised map may equal the original.
    for (const [name, rhos] of Object.entries(correlations)) {
      const detail = `${name}: rho ${rhos.map((r) => r.toFixed(2)).join(', ')}`;
      expect(rhos.reduce((a, b) => a + b, 0) / rhos.length, detail).toBeLessThan(0.5);
      for (const rho of rhos) expect(rho, detail).toBeLessThan(0.95);
    }
  });
});

describe('LayerCAM gradients', () => {
  it('the compiled ONNX gradient graph equals the float64 runtime (c3_relu, both targets)', async () => {
    // Same activations for both. Only c3_relu: below it, float32 and float64 forward values can tie
    // or not inside a max-pool window, and at a tie the gradient is not unique (either cell is right).
    const js = createTfjsExplainableModel({ id: 'planted-js', backbone, featureLayer: PLANTED_FEATURE_LAYER, head: plantedHead(), shallowLayers: PLANTED_SHALLOW_LAYERS, gradient: { engine: 'js' } });
    const compiled = createTfjsExplainableModel({ id: 'planted-compiled', backbone, featureLayer: PLANTED_FEATURE_LAYER, head: plantedHead(), shallowLayers: PLANTED_SHALLOW_LAYERS, gradient: { engine: 'onnx' } });
    for (const layer of ['c3_relu']) {
      for (const cls of ['synthetic', 'real'] as const) {
        const a = await compiled.layerGradients(images[1].input.tensor, layer, { class: cls });
        const b = await js.layerGradients(images[1].input.tensor, layer, { class: cls });
        let num = 0;
        let den = 0;
        for (let i = 0; i < a.gradients.data.length; i++) {
          num += (a.gradients.data[i] - b.gradients.data[i]) ** 2;
          den += b.gradients.data[i] ** 2;
        }
        expect(den).toBeGreaterThan(0);
        expect(Math.sqrt(num / den), `${layer} ${cls}`).toBeLessThan(1e-4);
        expect(a.pSynthetic).toBeCloseTo(b.pSynthetic, 5);
      }
    }
  });

  it('the float64 layer-graph gradient equals tfjs autograd through the same model', async () => {
    const img = images[0];
    const head = plantedHead();
    const graph = layerGraphFromTfjs(backbone);
    const inputLayer = backbone.inputs[0].name.replace(/:\d+$/, '');
    const tail = new GraphTail(graph, graph.layers[0].name, PLANTED_FEATURE_LAYER);
    expect(graph.layers[0].className).toBe('InputLayer');
    const fwd = tail.forward({ height: PLANTED_INPUT, width: PLANTED_INPUT, channels: 3, data: img.input.tensor });
    const features = fwd.output;
    const positions = features.height * features.width;
    const { gradient } = headGradientWrtPooled(head, globalAveragePool(features), { class: 'synthetic' });
    const dOut = new Float64Array(features.data.length);
    for (let p = 0; p < positions; p++) for (let c = 0; c < features.channels; c++) dOut[p * features.channels + c] = gradient[c] / positions;
    const ours = tail.backward(fwd, dOut);

    // tfjs: the same score written with tf ops, differentiated by tf.grad.
    const w1 = tf.tensor2d(head.dense1.kernel, [8, head.dense1.units]);
    const scale = Array.from(head.bn.gamma, (g, u) => g / Math.sqrt(head.bn.movingVariance[u] + head.bn.epsilon));
    const theirs = tf.tidy(() => {
      const score = (x: tf.Tensor) => {
        const f = backbone.apply(x) as tf.Tensor;
        const z1 = tf.add(tf.matMul(tf.mean(f, [1, 2]), w1), tf.tensor1d(head.dense1.bias));
        const bn = tf.add(tf.mul(tf.sub(tf.relu(z1), tf.tensor1d(head.bn.movingMean)), tf.tensor1d(scale)), tf.tensor1d(head.bn.beta));
        return tf.sigmoid(tf.add(tf.sum(tf.mul(bn, tf.tensor1d(head.dense2.kernel))), head.dense2.bias[0]));
      };
      return tf.grad(score)(tf.tensor4d(img.input.tensor, [1, PLANTED_INPUT, PLANTED_INPUT, 3])).dataSync() as Float32Array;
    });
    let num = 0;
    let den = 0;
    for (let i = 0; i < ours.length; i++) {
      num += (ours[i] - theirs[i]) ** 2;
      den += theirs[i] ** 2;
    }
    expect(inputLayer.length).toBeGreaterThan(0);
    expect(den).toBeGreaterThan(0);
    expect(Math.sqrt(num / den)).toBeLessThan(1e-3);
  });
});
