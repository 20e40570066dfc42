// The compiled ONNX training step against two independent references, on small real images:
// central finite differences of a float64 forward (the explainers' float64 layer runtime plus the
// head in float64), and TensorFlow.js autograd on the same weights and batch. Then one and two
// Adam / RMSprop steps from the same state in onnxruntime and in tfjs.
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findRepoRoot } from '../../electron/services/app/app-info';
import { createRng } from '../../electron/services/common/seeded-random';
import { decodeToPaperRgb, NORMALISATIONS, toModelInput } from '../../electron/services/engine/preprocess';
import { GraphTail, layerGraphFromKeras, type LayerGraph } from '../../electron/services/explainers/layer-graph';
import { buildTrainingGraph, HEAD_LAYERS, NCHWC_DOMAIN, type TrainableParam, type TrainingGraph, type TrainingHead } from '../../electron/services/onnx-graphs';
import { decodeModel } from '../../electron/services/onnx-graphs/onnx-proto';
import { applyOptimizerStep, cpuNchwcBlockSize, createOptimizerState, createTrainingSession, runTrainingGraph, type OptimizerOptions, type StepResult, type TrainingBatch } from '../../electron/services/training/onnx-training';

const repoRoot = findRepoRoot();
const shared = path.resolve(repoRoot, '../shared/datasets');
const SIZE = 40;
const UNITS = 5;
const FEATURE = 'features';
const BELOW_AVERAGE_POOL = new Set(['conv1', 'bn1', 'dw', 'bn2', 'pw', 'bn3']);

/** A tiny network with every layer kind MobileNetV2 trains: strided/padded/1×1 Conv2D (with and
 * without bias, stride 2 on an odd map), stride-1 and stride-2 DepthwiseConv2D, BatchNorm, ReLU6 and ReLU, Add, ZeroPadding, and InceptionV3's average pool, max pool, stride-1 1×3 convolution and concatenation. */
function tinyModel(): tf.LayersModel {
  // Seeded initialisers: the same weights every run, so the finite-difference check cannot land on a
  // draw whose units sit on ReLU/ReLU6 kinks (an unseeded draw once put 23 of 104 weights there).
  const inp = tf.input({ shape: [SIZE, SIZE, 3], name: 'input' });
  const pad = tf.layers.zeroPadding2d({ padding: [[0, 1], [0, 1]], name: 'pad' }).apply(inp) as tf.SymbolicTensor;
  const c1 = tf.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'valid', useBias: false, kernelInitializer: tf.initializers.glorotUniform({ seed: 301 }), name: 'conv1' }).apply(pad) as tf.SymbolicTensor;
  const r1 = tf.layers.reLU({ maxValue: 6, name: 'relu1' }).apply(tf.layers.batchNormalization({ name: 'bn1' }).apply(c1)) as tf.SymbolicTensor;
  const dw = tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', useBias: false, depthwiseInitializer: tf.initializers.glorotUniform({ seed: 302 }), name: 'dw' }).apply(r1) as tf.SymbolicTensor;
  const r2 = tf.layers.reLU({ maxValue: 6, name: 'relu2' }).apply(tf.layers.batchNormalization({ name: 'bn2' }).apply(dw)) as tf.SymbolicTensor;
  const pw = tf.layers.conv2d({ filters: 8, kernelSize: 1, useBias: false, kernelInitializer: tf.initializers.glorotUniform({ seed: 303 }), name: 'pw' }).apply(r2) as tf.SymbolicTensor;
  const add = tf.layers.add({ name: 'add' }).apply([tf.layers.batchNormalization({ name: 'bn3' }).apply(pw) as tf.SymbolicTensor, r1]) as tf.SymbolicTensor;
  // InceptionV3's branch ops: a 3×3 "same" average pool (padding cells not counted) and a concatenation.
  const avg = tf.layers.averagePooling2d({ poolSize: 3, strides: 1, padding: 'same', name: 'avg' }).apply(add) as tf.SymbolicTensor;
  // InceptionV3's stride-1 k×1 / 1×k convolutions: a 1×3 "same" kernel, its weight gradient tap by tap.
  const c3 = tf.layers.conv2d({ filters: 8, kernelSize: [1, 3], strides: 1, padding: 'same', useBias: true, kernelInitializer: tf.initializers.glorotUniform({ seed: 307 }), name: 'conv3' }).apply(avg) as tf.SymbolicTensor;
  const cat = tf.layers.concatenate({ name: 'cat' }).apply([add, c3]) as tf.SymbolicTensor;
  const c2 = tf.layers.conv2d({ filters: 6, kernelSize: 3, strides: 2, padding: 'same', useBias: true, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 304 }), name: 'conv2' }).apply(cat) as tf.SymbolicTensor;
  const mp = tf.layers.maxPooling2d({ poolSize: 2, strides: 2, name: 'mp' }).apply(c2) as tf.SymbolicTensor;
  const dw2 = tf.layers.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: 'same', useBias: true, depthwiseInitializer: tf.initializers.glorotUniform({ seed: 305 }), name: 'dw2' }).apply(mp) as tf.SymbolicTensor;
  const r4 = tf.layers.reLU({ name: 'relu4' }).apply(tf.layers.batchNormalization({ name: 'bn4' }).apply(dw2)) as tf.SymbolicTensor;
  // 1×1 stride 2 "same" on an odd 3×3 map: the strided backward's spread map overhangs the input.
  const out = tf.layers.conv2d({ filters: 6, kernelSize: 1, strides: 2, padding: 'same', useBias: true, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 306 }), name: FEATURE }).apply(r4) as tf.SymbolicTensor;
  return tf.model({ inputs: inp, outputs: out });
}

function randomArray(rng: () => number, n: number, lo: number, hi: number): Float32Array {
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * rng());
}

/** Non-trivial BatchNorm statistics and γ/β, so frozen-statistics BatchNorm is really exercised. */
function randomiseBatchNorms(model: tf.LayersModel, rng: () => number): void {
  for (const l of model.layers) {
    if (l.getClassName() !== 'BatchNormalization') continue;
    const c = l.getWeights()[0].shape[0];
    l.setWeights([tf.tensor1d(randomArray(rng, c, 0.6, 1.4)), tf.tensor1d(randomArray(rng, c, -0.2, 0.2)), tf.tensor1d(randomArray(rng, c, -0.1, 0.1)), tf.tensor1d(randomArray(rng, c, 0.5, 1.5))]);
  }
}

function weightMap(model: tf.LayersModel): Map<string, { shape: number[]; data: Float32Array }> {
  const m = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const l of model.layers) {
    l.weights.forEach((w, i) => m.set(`${l.name}/${w.originalName.split('/').pop()}`, { shape: w.shape as number[], data: Float32Array.from(l.getWeights()[i].dataSync() as Float32Array) }));
  }
  return m;
}

function randomHead(rng: () => number, c: number): TrainingHead {
  return {
    dense1: { kernel: randomArray(rng, c * UNITS, -0.6, 0.6), bias: randomArray(rng, UNITS, 0, 0.2), units: UNITS },
    bn: { gamma: randomArray(rng, UNITS, 0.7, 1.3), beta: randomArray(rng, UNITS, -0.2, 0.2), movingMean: randomArray(rng, UNITS, 0, 0.3), movingVariance: randomArray(rng, UNITS, 0.5, 1.5), epsilon: 1e-3 },
    dense2: { kernel: randomArray(rng, UNITS, -1, 1), bias: new Float32Array([0.1]) },
  };
}

/** The float64 loss of the whole network: the explainers' float64 runtime, then the head. */
function float64Loss(graph: LayerGraph, values: ReadonlyMap<string, Float32Array>, batch: TrainingBatch): number {
  const tail = new GraphTail(graph, 'input', FEATURE);
  const W1 = values.get(`${HEAD_LAYERS.dense1}/kernel`)!;
  const b1 = values.get(`${HEAD_LAYERS.dense1}/bias`)!;
  const gamma = values.get(`${HEAD_LAYERS.bn}/gamma`)!;
  const beta = values.get(`${HEAD_LAYERS.bn}/beta`)!;
  const W2 = values.get(`${HEAD_LAYERS.dense2}/kernel`)!;
  const b2 = values.get(`${HEAD_LAYERS.dense2}/bias`)!;
  const per = SIZE * SIZE * 3;
  let num = 0;
  let den = 0;
  for (let n = 0; n < batch.count; n++) {
    const f = tail.forward({ height: SIZE, width: SIZE, channels: 3, data: batch.images.subarray(n * per, (n + 1) * per) }).output;
    const c = f.channels;
    const pooled = new Float64Array(c);
    for (let i = 0; i < f.height * f.width; i++) for (let ch = 0; ch < c; ch++) pooled[ch] += f.data[i * c + ch] / (f.height * f.width);
    let z = b2[0];
    for (let u = 0; u < UNITS; u++) {
      let z1 = b1[u];
      for (let ch = 0; ch < c; ch++) z1 += pooled[ch] * W1[ch * UNITS + u];
      const a = Math.max(0, z1);
      const bn = ((a - head.bn.movingMean[u]) / Math.sqrt(head.bn.movingVariance[u] + head.bn.epsilon)) * gamma[u] + beta[u];
      z += bn * batch.dropoutMask[n * UNITS + u] * W2[u];
    }
    const y = batch.labels[n];
    const bce = Math.max(z, 0) - z * y + Math.log1p(Math.exp(-Math.abs(z)));
    num += batch.weights[n] * bce;
    den += batch.weights[n];
  }
  return num / den;
}

let head: TrainingHead;

/** The same loss and p (1e-6), and every gradient within 1e-5 of its scale, as a reference step. */
function expectSameStep(r: StepResult, reference: StepResult, params: readonly TrainableParam[], label: string, o: { everyGradientNonZero?: boolean } = {}): void {
  expect(Math.abs(r.loss - reference.loss), label).toBeLessThan(1e-6 * Math.max(1, reference.loss));
  for (const [i, v] of r.p.entries()) expect(Math.abs(v - reference.p[i]), label).toBeLessThan(1e-6);
  for (const p of params) {
    const a = r.gradients.get(p.name)!;
    const b = reference.gradients.get(p.name)!;
    const scale = b.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    if (o.everyGradientNonZero) expect(scale, `${p.name}, ${label}`).toBeGreaterThan(0);
    const diff = a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
    expect(diff, `${p.name}, ${label}`).toBeLessThanOrEqual(1e-5 * Math.max(scale, 1e-3));
  }
}

describe.skipIf(!fs.existsSync(shared))('ONNX training graph on small real images', () => {
  let model: tf.LayersModel;
  let graph: LayerGraph;
  let batch: TrainingBatch;
  const compiled = new Map<string, { tg: TrainingGraph; result: StepResult; session: Awaited<ReturnType<typeof createTrainingSession>> }>();

  const trainableSets: Record<string, string[]> = {
    all: ['conv1', 'bn1', 'dw', 'bn2', 'pw', 'bn3', 'conv3', 'conv2', 'dw2', 'bn4', FEATURE],
    last: ['dw2', 'bn4', FEATURE],
  };

  beforeAll(async () => {
    await tf.setBackend('cpu');
    const rng = createRng(11);
    model = tinyModel();
    randomiseBatchNorms(model, rng);
    const topology = model.toJSON(undefined, false) as unknown as Record<string, unknown>;
    graph = layerGraphFromKeras(topology, weightMap(model));
    const files = [
      'real/mate-backgrounds__Garden.jpg',
      'real/openpose__media__COCO_val2014_000000000474.jpg',
      'synthetic/diffusion/MDT__vis__t12.png',
      'synthetic/diffusion/stable-diffusion__a-photograph-of-a-fire__t3.png',
    ].map((f) => path.join(shared, f));
    const images = new Float32Array(files.length * SIZE * SIZE * 3);
    for (const [i, f] of files.entries()) toModelInput((await decodeToPaperRgb(f)).data, { inputSize: SIZE, normalisation: NORMALISATIONS.unit, flip: i === 1 }, images, i * SIZE * SIZE * 3);
    const mask = Float32Array.from({ length: files.length * UNITS }, () => (rng() < 0.25 ? 0 : 1 / 0.75));
    batch = { images, count: files.length, inputShape: [SIZE, SIZE, 3], labels: Float32Array.from([0, 0, 1, 1]), weights: Float32Array.from([1, 0.5, 2, 1.25]), dropoutMask: mask, units: UNITS };
    head = randomHead(rng, 6);
    for (const [key, layers] of Object.entries(trainableSets)) {
      const tg = buildTrainingGraph(graph.layers, { featureLayer: FEATURE, inputShape: [SIZE, SIZE, 3], trainableLayers: new Set(layers), head });
      const session = await createTrainingSession(tg.bytes, { preference: 'cpu', intraOpThreads: 1 });
      const values = new Map(tg.params.map((p) => [p.name, Float32Array.from(p.initial)]));
      compiled.set(key, { tg, session, result: await runTrainingGraph(session.session, tg.params, values, batch) });
    }
  }, 120_000);

  afterAll(async () => {
    for (const c of compiled.values()) await c.session.session.release();
  });

  it('trains exactly the weights asked for: every kernel, bias, γ and β of the unfrozen layers and the head', () => {
    const all = compiled.get('all')!.tg.params.map((p) => p.name);
    expect(all).toEqual([
      'conv1/kernel', 'bn1/gamma', 'bn1/beta', 'dw/depthwise_kernel', 'bn2/gamma', 'bn2/beta', 'pw/kernel', 'bn3/gamma', 'bn3/beta',
      'conv3/kernel', 'conv3/bias', 'conv2/kernel', 'conv2/bias', 'dw2/depthwise_kernel', 'dw2/bias', 'bn4/gamma', 'bn4/beta', 'features/kernel', 'features/bias',
      'head_dense1/kernel', 'head_dense1/bias', 'head_bn/gamma', 'head_bn/beta', 'head_dense2/kernel', 'head_dense2/bias',
    ]);
    const last = compiled.get('last')!.tg.params.map((p) => p.name);
    expect(last.filter((n) => !n.startsWith('head_'))).toEqual(['dw2/depthwise_kernel', 'dw2/bias', 'bn4/gamma', 'bn4/beta', 'features/kernel', 'features/bias']);
    const r = compiled.get('all')!.result;
    expect(r.loss).toBeGreaterThan(0);
    for (const g of r.gradients.values()) expect(g.some((v) => v !== 0)).toBe(true);
  });

  it('gives the float64 loss, and every weight gradient matches central finite differences (rel. error ≤ 1e-3)', () => {
    const { tg, result } = compiled.get('all')!;
    // Both forms of a strided Conv2D's weight gradient are checked: input patches by a one-hot
    // convolution (conv1: 3 channels × 3×3 taps) and one 3-D correlation (conv2: more taps).
    const outputs = new Set(decodeModel(tg.bytes).graph.node.flatMap((n) => n.output));
    expect([outputs.has('conv1/patches'), outputs.has('conv1/wcorr'), outputs.has('conv2/patches'), outputs.has('conv2/wcorr')]).toEqual([true, false, false, true]);
    const base = new Map(tg.params.map((p) => [p.name, Float32Array.from(p.initial)]));
    // The graph's loss equals the float64 forward's to float32 accuracy.
    expect(Math.abs(result.loss - float64Loss(graph, base, batch))).toBeLessThan(1e-5 * Math.max(1, result.loss));
    const byName = new Map(graph.layers.map((l) => [l.name, l]));
    const rng = createRng(5);
    const worst: Record<string, number> = {};
    let checked = 0;
    let kinks = 0;
    for (const p of tg.params) {
      const analytic = result.gradients.get(p.name)!;
      const scale = analytic.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      // Weights whose gradient is not negligible (a ReLU-masked zero says nothing about the algebra).
      const candidates = [...analytic.keys()].filter((i) => Math.abs(analytic[i]) >= 0.05 * scale);
      for (let s = 0; s < Math.min(5, candidates.length); s++) {
        const i = candidates[Math.floor(rng() * candidates.length)];
        // The array the float64 runtime reads: the layer's own weight, or the head's value.
        let target: Float32Array;
        if (p.head) target = base.get(p.name)!;
        else {
          const layer = byName.get(p.layer)!;
          const order = p.kind === 'bn_beta' ? 1 : p.kind === 'bias' ? 1 : 0;
          target = layer.weights[order].values;
        }
        const w0 = target[i];
        const central = (h: number) => {
          const up = Math.fround(w0 + h);
          const down = Math.fround(w0 - h);
          const set = (v: number) => {
            target[i] = v;
            if (p.head) base.get(p.name)![i] = v;
          };
          set(up);
          const lUp = float64Loss(graph, base, batch);
          set(down);
          const lDown = float64Loss(graph, base, batch);
          set(w0);
          return (lUp - lDown) / (up - down);
        };
        const fd = central(1e-4);
        // A ReLU/ReLU6 kink inside ±h makes the difference quotient meaningless there: two step
        // sizes disagree. Such weights are counted and skipped, not compared.
        const fdSmall = central(1e-5);
        if (Math.abs(fd - fdSmall) > 1e-4 * Math.max(Math.abs(fd), Math.abs(fdSmall))) {
          kinks++;
          continue;
        }
        const rel = Math.abs(fd - analytic[i]) / Math.max(Math.abs(fd), Math.abs(analytic[i]));
        worst[p.kind] = Math.max(worst[p.kind] ?? 0, rel);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(80);
    expect(kinks).toBeLessThanOrEqual(checked / 10);
    expect(Object.keys(worst).sort()).toEqual(['bias', 'bn_beta', 'bn_gamma', 'conv_kernel', 'dense_kernel', 'depthwise_kernel']);
    console.log(`finite differences: ${checked} weights (${kinks} skipped at a kink), worst relative error per kind ${JSON.stringify(worst)}`);
    for (const [kind, rel] of Object.entries(worst)) expect(rel, kind).toBeLessThanOrEqual(1e-3);
  });

  it('compiled for a fixed batch (grouped depthwise gradients), gives the same loss and gradients, a short batch padded with zero-weight rows', async () => {
    const { tg: dynamic, result: reference } = compiled.get('all')!;
    const values = new Map(dynamic.params.map((p) => [p.name, Float32Array.from(p.initial)]));
    // The last in the NCHWc layout: dw's 8 channels times 4 images fill whole blocks (of 8 or 16), so
    // its weight gradient runs there; its forward convolution and input gradient only where 8
    // channels are a block (AVX2's 8), and dw2's weight gradient only where 4 × 6 = 24 channels fill
    // blocks of 8.
    const block = await cpuNchwcBlockSize();
    for (const [size, nchwcBlockSize] of [[4, undefined], [6, undefined], ...(block ? [[4, block]] : [])]) {
      const tg = buildTrainingGraph(graph.layers, { featureLayer: FEATURE, inputShape: [SIZE, SIZE, 3], trainableLayers: new Set(trainableSets.all), head, batchSize: size, nchwcBlockSize });
      if (nchwcBlockSize) {
        const expected = [...(8 % nchwcBlockSize === 0 ? ['dw/conv/blocked', 'dw/dx/blocked'] : []), 'dw/wcorr/blocked', ...(24 % nchwcBlockSize === 0 ? ['dw2/wcorr/blocked'] : [])];
        expect(decodeModel(tg.bytes).graph.node.filter((n) => n.domain === NCHWC_DOMAIN && n.opType === 'Conv').map((n) => n.output[0]).sort()).toEqual(expected);
      }
      expect(tg.batchSize).toBe(size);
      expect(tg.params.map((p) => p.name)).toEqual(dynamic.params.map((p) => p.name));
      const session = await createTrainingSession(tg.bytes, { preference: 'cpu', intraOpThreads: 1 });
      try {
        const weightsBefore = Float32Array.from(batch.weights);
        const r = await runTrainingGraph(session.session, tg.params, values, batch, tg.batchSize);
        // The caller's batch is untouched, and only its own rows come back.
        expect(Array.from(batch.weights)).toEqual(Array.from(weightsBefore));
        expect(r.p).toHaveLength(batch.count);
        expectSameStep(r, reference, tg.params, `batch ${size}`);
        // A batch larger than the graph is refused.
        if (size === 4) await expect(runTrainingGraph(session.session, tg.params, values, { ...batch, count: 5 }, tg.batchSize)).rejects.toThrow(/does not fit/);
      } finally {
        await session.session.release();
      }
    }
  });

  it("compiled for the CPU's NCHWc layout (the depthwise gradients in onnxruntime's blocked convolution), gives the plain graph's loss and gradients", async () => {
    const block = await cpuNchwcBlockSize();
    if (block === undefined) {
      console.log('this CPU build of onnxruntime has no NCHWc layout: nothing to compare');
      return;
    }
    // Depthwise layers of 16 channels, so every NCHWc path runs: the forward convolutions (stride 1
    // and 2, with and without bias), the weight gradients (N·C channels), the stride-1 input
    // gradient, and the strided ones from dz spread with zeros ("valid" after a ZeroPadding, "same"
    // on an even and on an odd map).
    const inp = tf.input({ shape: [SIZE, SIZE, 3], name: 'input' });
    const seed = (n: number) => tf.initializers.glorotUniform({ seed: n });
    const bnRelu6 = (t: tf.SymbolicTensor, name: string) => tf.layers.reLU({ maxValue: 6, name: `${name}_relu` }).apply(tf.layers.batchNormalization({ name: `${name}_bn` }).apply(t)) as tf.SymbolicTensor;
    const c1 = bnRelu6(tf.layers.conv2d({ filters: 16, kernelSize: 3, strides: 2, padding: 'same', useBias: false, kernelInitializer: seed(401), name: 'c1' }).apply(inp) as tf.SymbolicTensor, 'c1');
    const d1 = bnRelu6(tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', useBias: false, depthwiseInitializer: seed(402), name: 'd1' }).apply(c1) as tf.SymbolicTensor, 'd1');
    // 1×1 layers of whole blocks take their reverse pass in the NCHWc layout too: e1 (BatchNorm +
    // ReLU6, its dz masked in the blocked layout) and q1 (linear, with a bias).
    const e1 = bnRelu6(tf.layers.conv2d({ filters: 32, kernelSize: 1, useBias: false, kernelInitializer: seed(407), name: 'e1' }).apply(d1) as tf.SymbolicTensor, 'e1');
    const padded = tf.layers.zeroPadding2d({ padding: [[0, 1], [0, 1]], name: 'd2_pad' }).apply(e1) as tf.SymbolicTensor;
    const d2 = bnRelu6(tf.layers.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: 'valid', useBias: false, depthwiseInitializer: seed(403), name: 'd2' }).apply(padded) as tf.SymbolicTensor, 'd2');
    const q1 = tf.layers.conv2d({ filters: 16, kernelSize: 1, useBias: true, kernelInitializer: seed(408), name: 'q1' }).apply(d2) as tf.SymbolicTensor;
    const d3 = bnRelu6(tf.layers.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: 'same', useBias: true, depthwiseInitializer: seed(404), name: 'd3' }).apply(q1) as tf.SymbolicTensor, 'd3');
    const d4 = bnRelu6(tf.layers.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: 'same', useBias: false, depthwiseInitializer: seed(406), name: 'd4' }).apply(d3) as tf.SymbolicTensor, 'd4');
    const out = tf.layers.conv2d({ filters: 6, kernelSize: 1, useBias: true, activation: 'relu', kernelInitializer: seed(405), name: FEATURE }).apply(d4) as tf.SymbolicTensor;
    const net = tf.model({ inputs: inp, outputs: out });
    try {
      randomiseBatchNorms(net, createRng(21));
      const g16 = layerGraphFromKeras(net.toJSON(undefined, false) as unknown as Record<string, unknown>, weightMap(net));
      const trainable = new Set(net.layers.map((l) => l.name).filter((n) => n !== 'input'));
      const options = { featureLayer: FEATURE, inputShape: [SIZE, SIZE, 3] as const, trainableLayers: trainable, head };
      const plain = buildTrainingGraph(g16.layers, options);
      const values = new Map(plain.params.map((p) => [p.name, Float32Array.from(p.initial)]));
      const plainSession = await createTrainingSession(plain.bytes, { preference: 'cpu', intraOpThreads: 1 });
      const reference = await runTrainingGraph(plainSession.session, plain.params, values, batch);
      await plainSession.session.release();
      // 4 images as compiled, and 6 with two zero-weight rows.
      for (const size of [4, 6]) {
        const tg = buildTrainingGraph(g16.layers, { ...options, batchSize: size, nchwcBlockSize: block });
        const nodes = decodeModel(tg.bytes).graph.node;
        const blocked = nodes.filter((n) => n.domain === NCHWC_DOMAIN && n.opType === 'Conv').map((n) => n.output[0]);
        expect(blocked.sort()).toEqual([...['d1', 'd2', 'd3', 'd4'].flatMap((d) => [`${d}/conv/blocked`, `${d}/dx/blocked`, `${d}/wcorr/blocked`]), 'e1/dx/blocked', 'q1/dx/blocked'].sort());
        // e1's mask reads d2's blocked dx and its own blocked output: no reorder of a 32-channel map
        // on the way back; d2's dx is not unblocked at all.
        expect(nodes.filter((n) => n.opType === 'ReorderInput').map((n) => n.input[0])).not.toContain('d2/dx');
        expect(nodes.some((n) => n.opType === 'ReorderOutput' && n.output[0] === 'd2/dx' && nodes.some((m) => m.input.includes('d2/dx')))).toBe(false);
        expect(nodes.filter((n) => n.opType === 'Pad').map((n) => n.output[0]).sort()).toEqual(['d2/dx/spread/padded', 'd3/dx/spread/padded', 'd4/dx/spread/padded']);
        expect(nodes.filter((n) => n.opType === 'ConvTranspose')).toEqual([]);
        const session = await createTrainingSession(tg.bytes, { preference: 'cpu', intraOpThreads: 1 });
        try {
          const r = await runTrainingGraph(session.session, tg.params, values, batch, tg.batchSize);
          expectSameStep(r, reference, tg.params, `NCHWc, batch ${size}`, { everyGradientNonZero: true });
        } finally {
          await session.session.release();
        }
      }
    } finally {
      net.dispose();
    }
  });

  /** tfjs autograd of the same loss, weights and batch; variables named as the graph's params. */
  function tfjsReference(params: readonly TrainableParam[]) {
    const layerVars = new Map<string, tf.Variable>();
    for (const l of model.layers) for (const w of l.weights) layerVars.set(`${l.name}/${w.originalName.split('/').pop()}`, (w as unknown as { val: tf.Variable }).val);
    const headVars = new Map(params.filter((p) => p.head).map((p) => [p.name, tf.variable(tf.tensor(p.initial, p.shape))]));
    const varFor = (n: string) => headVars.get(n) ?? layerVars.get(n)!;
    const lossFn = () =>
      tf.tidy(() => {
        const x = tf.tensor4d(batch.images, [batch.count, SIZE, SIZE, 3]);
        const f = model.apply(x, { training: false }) as tf.Tensor4D;
        const pooled = tf.mean(f, [1, 2]);
        const a = tf.relu(tf.add(tf.matMul(pooled, varFor(`${HEAD_LAYERS.dense1}/kernel`) as tf.Tensor2D), varFor(`${HEAD_LAYERS.dense1}/bias`)));
        const invStd = tf.tensor1d(Float32Array.from(head.bn.movingVariance, (v) => 1 / Math.sqrt(v + head.bn.epsilon)));
        const bn = tf.add(tf.mul(tf.mul(tf.sub(a, tf.tensor1d(head.bn.movingMean)), invStd), varFor(`${HEAD_LAYERS.bn}/gamma`)), varFor(`${HEAD_LAYERS.bn}/beta`));
        const dropped = tf.mul(bn, tf.tensor2d(batch.dropoutMask, [batch.count, UNITS]));
        const z = tf.reshape(tf.add(tf.matMul(dropped, varFor(`${HEAD_LAYERS.dense2}/kernel`) as tf.Tensor2D), varFor(`${HEAD_LAYERS.dense2}/bias`)), [-1]);
        const y = tf.tensor1d(batch.labels);
        const w = tf.tensor1d(batch.weights);
        const bce = tf.add(tf.sub(tf.relu(z), tf.mul(z, y)), tf.log1p(tf.exp(tf.neg(tf.abs(z)))));
        return tf.div(tf.sum(tf.mul(bce, w)), tf.sum(w)) as tf.Scalar;
      });
    const vars = params.map((p) => varFor(p.name));
    return { vars, lossFn, headVars };
  }

  it('matches TensorFlow.js autograd on the same weights and batch (whole network and last layers; tfjs is wrong below a "same" average pool)', () => {
    for (const key of Object.keys(trainableSets)) {
      const { tg, result } = compiled.get(key)!;
      const ref = tfjsReference(tg.params);
      const { value, grads } = tf.variableGrads(ref.lossFn, ref.vars);
      expect(Math.abs(value.dataSync()[0] - result.loss)).toBeLessThan(1e-5);
      tg.params.forEach((p, i) => {
        // tfjs's CPU AvgPoolGrad divides by kh·kw everywhere (tfjs-backend-cpu AvgPoolGrad.js
        // avgMultiplier), although its forward excludes "same" padding cells: below the average
        // pool tfjs is wrong at the borders, and finite differences are the reference there.
        if (BELOW_AVERAGE_POOL.has(p.layer)) return;
        const expected = grads[ref.vars[i].name].dataSync() as Float32Array;
        const got = result.gradients.get(p.name)!;
        const scale = expected.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        let diff = 0;
        for (let j = 0; j < got.length; j++) diff = Math.max(diff, Math.abs(got[j] - expected[j]));
        expect(diff / scale, `${key} ${p.name}`).toBeLessThanOrEqual(1e-4);
      });
      tf.dispose([value, ...Object.values(grads), ...ref.headVars.values()]);
    }
  });

  it('one and two optimiser steps in onnxruntime and in tfjs from the same state give the same weights (≤ 1e-4)', async () => {
    for (const kind of ['adam', 'rmsprop'] as const) {
      // From the graph whose every weight lies above the average pool (see BELOW_AVERAGE_POOL).
      const { tg, session } = compiled.get('last')!;
      const original = model.getWeights().map((t) => t.clone());
      const ref = tfjsReference(tg.params);
      const opts: OptimizerOptions = { kind, headLearningRate: 1e-2, backboneLearningRate: 1e-2 };
      const tfOpt = kind === 'adam' ? tf.train.adam(1e-2) : tf.train.rmsprop(1e-2);
      const values = new Map(tg.params.map((p) => [p.name, Float32Array.from(p.initial)]));
      const state = createOptimizerState(kind, tg.params);
      for (let step = 0; step < 2; step++) {
        const r = await runTrainingGraph(session.session, tg.params, values, batch);
        applyOptimizerStep(state, opts, tg.params, values, r.gradients);
        tfOpt.minimize(ref.lossFn, false, ref.vars);
      }
      tg.params.forEach((p, i) => {
        const expected = ref.vars[i].dataSync() as Float32Array;
        const got = values.get(p.name)!;
        let diff = 0;
        for (let j = 0; j < got.length; j++) diff = Math.max(diff, Math.abs(got[j] - expected[j]));
        expect(diff, `${kind} ${p.name}`).toBeLessThanOrEqual(1e-4);
        // The step really moved the weight (lr 1e-2 over two steps).
        expect(got.some((v, j) => Math.abs(v - p.initial[j]) > 1e-3), `${kind} ${p.name} moved`).toBe(true);
      });
      tfOpt.dispose();
      tf.dispose([...ref.headVars.values()]);
      model.setWeights(original);
    }
  });
});
