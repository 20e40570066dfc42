// Explaining many images in a row must not grow memory (the leak pytorch-grad-cam users hit when
// hooks and graphs outlive an explanation): tfjs tensors stay at their count, the heap stays bounded.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NORMALISATIONS } from '../../electron/services/engine/preprocess';
import { createExplainer } from '../../electron/services/explainers/explain-image';
import { prepareExplainInput, type PreparedImage } from '../../electron/services/explainers/explain-input';
import { EXPLAIN_METHODS, type ExplainableModel } from '../../electron/services/explainers/explain-types';
import { createTfjsExplainableModel } from '../../electron/services/explainers/tfjs-model';
import { buildPlantedBackbone, buildPlantedOnnxModel, plantedHead, PLANTED_FEATURE_LAYER, PLANTED_INPUT, PLANTED_SHALLOW_LAYERS } from './explain-planted-model';

const datasets = path.resolve(__dirname, '../../../shared/datasets');
const IMAGES = 200;

let dir: string;
const inputs: PreparedImage[] = [];

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'explain-memory-'));
  // 200 distinct real images from the manifest (both classes), preprocessed once up front.
  const rows = fs.readFileSync(path.join(datasets, 'MANIFEST.csv'), 'utf8').trim().split('\n').slice(1);
  const files = rows.map((r) => r.split(',')[0]).filter((p) => !p.includes('#'));
  for (let i = 0; inputs.length < IMAGES && i < files.length; i += Math.max(1, Math.floor(files.length / IMAGES))) {
    inputs.push(await prepareExplainInput(path.join(datasets, files[i]), { inputSize: PLANTED_INPUT, normalisation: NORMALISATIONS.unit }));
  }
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function explainAll(model: ExplainableModel, input: PreparedImage, limeSamples: number): Promise<void> {
  for (const method of EXPLAIN_METHODS) {
    const e = await createExplainer(method, model, { lime: { samples: limeSamples }, scorecam: { topK: 8 } }).explain(input, { class: 'synthetic' });
    if (!(e.map.data.length > 0)) throw new Error('empty map');
  }
}

const MB = 1e6;

describe('memory over many explanations', () => {
  it('200 images through the ONNX detector, all five methods each: the heap stays bounded', { timeout: 600_000 }, async () => {
    expect(inputs.length).toBe(IMAGES);
    const { model } = await buildPlantedOnnxModel(buildPlantedBackbone(), plantedHead(), dir);
    for (const input of inputs.slice(0, 5)) await explainAll(model, input, 100);
    global.gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    const rssBefore = process.memoryUsage().rss;
    const samples: string[] = [];
    for (const [i, input] of inputs.entries()) {
      await explainAll(model, input, 100);
      if (i % 50 === 49) samples.push(`${(process.memoryUsage().heapUsed / MB).toFixed(0)}/${(process.memoryUsage().rss / MB).toFixed(0)}`);
    }
    global.gc?.();
    const heapGrowth = process.memoryUsage().heapUsed - heapBefore;
    const rssGrowth = process.memoryUsage().rss - rssBefore;
    // 200 leaked sets of maps, activations and LIME batches would be hundreds of MB; garbage not yet
    // collected (gc is not exposed here) stays well under these bounds.
    expect(heapGrowth, `heap/rss MB every 50 images: ${samples.join(', ')}`).toBeLessThan(64 * MB);
    expect(rssGrowth, `heap/rss MB every 50 images: ${samples.join(', ')}`).toBeLessThan(256 * MB);
  });

  it('tfjs path: the tensor count is the same after 40 images as before', { timeout: 600_000 }, async () => {
    const model = createTfjsExplainableModel({ id: 'planted', backbone: buildPlantedBackbone(), featureLayer: PLANTED_FEATURE_LAYER, head: plantedHead(), shallowLayers: PLANTED_SHALLOW_LAYERS });
    // Warm-up builds the lazily created sub-models.
    for (const input of inputs.slice(0, 2)) await explainAll(model, input, 10);
    const before = tf.memory().numTensors;
    for (const input of inputs.slice(0, 40)) await explainAll(model, input, 10);
    expect(tf.memory().numTensors).toBe(before);
  });
});
