// `--unfreeze k`: fine-tune the last k backbone blocks together with the paper's head, in
// TensorFlow.js. The frozen prefix runs in inference mode (its BatchNorm keeps ImageNet statistics,
// as Keras does for frozen layers); the trainable suffix is rebuilt from the same layer objects, so
// the updated weights live in the backbone model and can be exported from it. Slow on CPU: meant for
// GPU machines; tests use a handful of images.
import type * as tfTypes from '@tensorflow/tfjs';
import { computeRocAuc } from '../evaluation/metrics';
import { generatorBalancedWeights } from '../evaluation/sample-weights';
import { decodeToPaperRgb, toModelInput } from '../engine/preprocess';
import { buildDetectorOnnx, convertLayersModel } from '../onnx-graphs';
import { tfjsBackbone } from './backbone-specs';
import { checkSplitUsable, loadDataset, splitWithHoldOut, type DatasetItem } from './dataset-items';
import { balanceClassWeights, defaultHeadOptions, type HeadWeights, type TrainingProgress } from './head-trainer';
import { loadNsfwjsLayersModel } from './nsfwjs-models';
import { createRng } from '../common/seeded-random';
import { loadTf, type Tf } from './tf-runtime';
import { TrainingError } from './training-errors';

export interface FineTuneOptions {
  datasetDir: string;
  dataDir: string;
  backbone: string;
  unfreezeBlocks: number;
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  optimizer?: 'adam' | 'rmsprop';
  hiddenUnits?: number;
  dropout?: number;
  seed?: number;
  excludeModalities?: string[];
  excludeGenerators?: string[];
  /** Use at most this many training / validation images (tests, smoke runs). */
  limit?: number;
}

export interface FineTuneResult {
  /** Names of the backbone layers that were trained. */
  trainedLayers: string[];
  blocks: string[][];
  history: Array<{ epoch: number; loss: number; valLoss: number; learningRate: number }>;
  /** Largest absolute change of any trained backbone weight. */
  maxBackboneWeightChange: number;
  /** Largest absolute change of any frozen backbone weight (should be 0). */
  maxFrozenWeightChange: number;
  head: HeadWeights;
  backboneModel: tfTypes.LayersModel;
  validation: { items: DatasetItem[]; labels: number[]; scores: Float32Array };
  summary: Record<string, unknown>;
}

/**
 * Backbone layers grouped into blocks, in topological order: MobileNetV2 by its block_N_ prefix
 * (stem before block 1, the final 1×1 conv after block 16), InceptionV3 by its mixedN outputs.
 * Each block boundary is a single tensor, so the network can be cut between any two blocks.
 */
export function backboneBlocks(model: tfTypes.LayersModel, featureLayer: string): string[][] {
  const names = model.layers.map((l) => l.name);
  const end = names.indexOf(featureLayer);
  if (end < 0) throw new TrainingError('UNSUPPORTED', `the backbone has no layer ${featureLayer}`);
  const layers = names.slice(0, end + 1).filter((n) => model.getLayer(n).getClassName() !== 'InputLayer');
  const blocks: string[][] = [];
  if (layers.some((n) => /^block_\d+_/.test(n))) {
    let key = 'stem';
    for (const n of layers) {
      const m = /^block_(\d+)_/.exec(n);
      const k = m ? `block_${m[1]}` : /^(Conv_1|out_relu)/.test(n) ? 'top' : key === 'stem' ? 'stem' : key;
      if (k !== key || blocks.length === 0) blocks.push([]);
      key = k;
      blocks[blocks.length - 1].push(n);
    }
    return blocks;
  }
  let current: string[] = [];
  for (const n of layers) {
    current.push(n);
    if (/^mixed\d+$/.test(n) || n === featureLayer) {
      blocks.push(current);
      current = [];
    }
  }
  if (current.length) blocks.push(current);
  return blocks;
}

interface SplitModels {
  prefix: tfTypes.LayersModel;
  trainable: tfTypes.LayersModel;
  trainedLayers: string[];
  blocks: string[][];
  headLayers: { dense1: tfTypes.layers.Layer; bn: tfTypes.layers.Layer; dense2: tfTypes.layers.Layer };
}

function buildSplitModels(tf: Tf, base: tfTypes.LayersModel, featureLayer: string, k: number, units: number, dropout: number): SplitModels {
  const blocks = backboneBlocks(base, featureLayer);
  if (k > blocks.length - 1) throw new TrainingError('BAD_OPTIONS', `--unfreeze ${k}: the backbone has ${blocks.length} blocks (at most ${blocks.length - 1} can be unfrozen)`);
  const frozenBlocks = blocks.slice(0, blocks.length - k);
  const trainedLayers = blocks.slice(blocks.length - k).flat();
  const cutLayer = frozenBlocks[frozenBlocks.length - 1].at(-1) as string;
  const cut = base.getLayer(cutLayer).output as tfTypes.SymbolicTensor;
  const prefix = tf.model({ inputs: base.inputs, outputs: cut });
  for (const l of base.layers) l.trainable = trainedLayers.includes(l.name);
  const input = tf.input({ shape: cut.shape.slice(1) as number[] });
  const map = new Map<number, tfTypes.SymbolicTensor>([[cut.id, input]]);
  for (const name of trainedLayers) {
    const layer = base.getLayer(name);
    const node = layer.inboundNodes[0];
    const ins = node.inputTensors.map((t) => {
      const m = map.get(t.id);
      if (!m) throw new TrainingError('UNSUPPORTED', `layer ${name} reads a tensor from outside the unfrozen blocks; cannot cut the backbone there`);
      return m;
    });
    // Node 0 is the original graph; applying the layer again adds node 1 that shares its weights.
    const original = layer.getOutputAt(0) as tfTypes.SymbolicTensor;
    const out = layer.apply(ins.length === 1 ? ins[0] : ins) as tfTypes.SymbolicTensor;
    map.set(original.id, out);
  }
  const features = k === 0 ? input : (map.get((base.getLayer(featureLayer).getOutputAt(0) as tfTypes.SymbolicTensor).id) as tfTypes.SymbolicTensor);
  const pooled = tf.layers.globalAveragePooling2d({}).apply(features) as tfTypes.SymbolicTensor;
  const dense1 = tf.layers.dense({ units, activation: 'relu', name: 'head_dense1' });
  const bn = tf.layers.batchNormalization({ name: 'head_bn', epsilon: 1e-3, momentum: 0.9 });
  const dense2 = tf.layers.dense({ units: 1, name: 'head_dense2' });
  const h = bn.apply(dense1.apply(pooled)) as tfTypes.SymbolicTensor;
  const logits = dense2.apply(tf.layers.dropout({ rate: dropout }).apply(h)) as tfTypes.SymbolicTensor;
  const trainable = tf.model({ inputs: input, outputs: logits });
  return { prefix, trainable, trainedLayers, blocks, headLayers: { dense1, bn, dense2 } };
}

async function loadBatch(items: readonly DatasetItem[], size: number, normalisation: Parameters<typeof toModelInput>[1]['normalisation'], flips: boolean[]) {
  const per = size * size * 3;
  const x = new Float32Array(items.length * per);
  await Promise.all(
    items.map(async (it, i) => {
      const rgb = await decodeToPaperRgb(it.file);
      toModelInput(rgb.data, { inputSize: size, normalisation, flip: flips[i] }, x, i * per);
    }),
  );
  return x;
}

function snapshotWeights(base: tfTypes.LayersModel): Map<string, Float32Array[]> {
  return new Map(base.layers.map((l) => [l.name, l.getWeights().map((w) => Float32Array.from(w.dataSync() as Float32Array))]));
}

export async function fineTuneBackbone(
  options: FineTuneOptions,
  hooks: { onProgress?: (p: TrainingProgress | { kind: 'stage'; stage: string; message: string }) => void; signal?: AbortSignal } = {},
): Promise<FineTuneResult> {
  const k = options.unfreezeBlocks;
  if (!Number.isInteger(k) || k < 0) throw new TrainingError('BAD_OPTIONS', '--unfreeze takes a whole number of blocks ≥ 0');
  const { tf } = await loadTf('convolution');
  const spec = tfjsBackbone(options.backbone);
  if (spec.runner === 'tfjs' && options.backbone === 'tiny_darknet') throw new TrainingError('UNSUPPORTED', 'fine-tuning is offered for the shipped backbones (mobilenet_v2, inception_v3)');
  const epochs = options.epochs ?? defaultHeadOptions.epochs;
  const batchSize = options.batchSize ?? 16;
  const lr = options.learningRate ?? 1e-4;
  const rng = createRng(options.seed ?? 1);
  const dataset = loadDataset(options.datasetDir);
  const split = splitWithHoldOut(dataset.items, { generators: options.excludeGenerators, modalities: options.excludeModalities });
  const limitBalanced = (list: DatasetItem[]) => {
    if (!options.limit) return list;
    const half = Math.max(1, Math.floor(options.limit / 2));
    return [...list.filter((i) => i.label === 0).slice(0, half), ...list.filter((i) => i.label === 1).slice(0, half)];
  };
  const train = limitBalanced(split.train);
  const val = limitBalanced(split.val);
  checkSplitUsable({ train, val, test: split.test }, 'fine-tuning');

  hooks.onProgress?.({ kind: 'stage', stage: 'model', message: `loading ${options.backbone} and unfreezing its last ${k} block(s)` });
  const base = await loadNsfwjsLayersModel(tf, options.backbone);
  const models = buildSplitModels(tf, base, spec.featureLayer, k, options.hiddenUnits ?? defaultHeadOptions.hiddenUnits, options.dropout ?? defaultHeadOptions.dropout);
  const before = snapshotWeights(base);
  const optimizer = options.optimizer === 'rmsprop' ? tf.train.rmsprop(lr) : tf.train.adam(lr);
  const vars = models.trainable.trainableWeights.map((w) => (w as unknown as { val: tfTypes.Variable }).val);
  const trainW = balanceClassWeights(Uint8Array.from(train.map((i) => i.label)), Float32Array.from(generatorBalancedWeights(train)));
  const bce = (logits: tfTypes.Tensor, y: tfTypes.Tensor, w: tfTypes.Tensor) =>
    tf.div(tf.sum(tf.mul(tf.add(tf.sub(tf.relu(logits), tf.mul(logits, y)), tf.log1p(tf.exp(tf.neg(tf.abs(logits))))), w)), tf.maximum(tf.sum(w), 1e-12));
  const history: FineTuneResult['history'] = [];
  const valX = await loadBatch(val, spec.inputSize, spec.normalisation, val.map(() => false));
  const valY = Float32Array.from(val.map((i) => i.label));
  const valW = balanceClassWeights(Uint8Array.from(val.map((i) => i.label)), Float32Array.from(generatorBalancedWeights(val)));
  let valScores: Float32Array = new Float32Array(val.length);
  const valLabels = val.map((i) => i.label);

  for (let epoch = 1; epoch <= epochs; epoch++) {
    const order = train.map((_, i) => i).sort(() => rng() - 0.5);
    let lossSum = 0;
    let count = 0;
    const batches = Math.ceil(order.length / batchSize);
    for (let b = 0; b < batches; b++) {
      if (hooks.signal?.aborted) throw new TrainingError('CANCELLED', 'fine-tuning was cancelled');
      const idx = order.slice(b * batchSize, (b + 1) * batchSize);
      if (idx.length < 2) continue;
      const items = idx.map((i) => train[i]);
      const x = await loadBatch(items, spec.inputSize, spec.normalisation, items.map(() => rng() < 0.5));
      const loss = tf.tidy(() => {
        const cutOut = models.prefix.predict(tf.tensor4d(x, [items.length, spec.inputSize, spec.inputSize, 3])) as tfTypes.Tensor;
        const y = tf.tensor1d(Float32Array.from(items.map((i) => i.label)));
        const w = tf.tensor1d(Float32Array.from(idx.map((i) => trainW[i])));
        return optimizer.minimize(
          () => bce((models.trainable.apply(cutOut, { training: true }) as tfTypes.Tensor).reshape([-1]), y, w) as tfTypes.Scalar,
          true,
          vars,
        ) as tfTypes.Scalar;
      });
      const lv = loss.dataSync()[0];
      loss.dispose();
      lossSum += lv * items.length;
      count += items.length;
      hooks.onProgress?.({ kind: 'batch', epoch, epochs, batch: b + 1, batches, loss: lv, learningRate: lr });
    }
    const valLoss = tf.tidy(() => {
      const logits = (models.trainable.predict(models.prefix.predict(tf.tensor4d(valX, [val.length, spec.inputSize, spec.inputSize, 3])) as tfTypes.Tensor) as tfTypes.Tensor).reshape([-1]);
      valScores = tf.sigmoid(logits).dataSync() as Float32Array;
      return bce(logits, tf.tensor1d(valY), tf.tensor1d(valW)).dataSync()[0];
    });
    history.push({ epoch, loss: count ? lossSum / count : NaN, valLoss, learningRate: lr });
    hooks.onProgress?.({ kind: 'epoch', epoch, epochs, loss: count ? lossSum / count : NaN, valLoss, learningRate: lr });
  }
  const after = snapshotWeights(base);
  let changed = 0;
  let frozenChanged = 0;
  for (const [name, ws] of before) {
    const now = after.get(name) as Float32Array[];
    let m = 0;
    ws.forEach((w, i) => w.forEach((v, j) => (m = Math.max(m, Math.abs(v - now[i][j])))));
    if (models.trainedLayers.includes(name)) changed = Math.max(changed, m);
    else frozenChanged = Math.max(frozenChanged, m);
  }
  const [k1, b1] = models.headLayers.dense1.getWeights();
  const [gamma, beta, mm, mv] = models.headLayers.bn.getWeights();
  const [k2, b2] = models.headLayers.dense2.getWeights();
  const f = (t: tfTypes.Tensor) => Float32Array.from(t.dataSync() as Float32Array);
  const head: HeadWeights = {
    inputDim: k1.shape[0] as number,
    dense1: { kernel: f(k1), bias: f(b1), units: k1.shape[1] as number },
    bn: { gamma: f(gamma), beta: f(beta), movingMean: f(mm), movingVariance: f(mv), epsilon: 1e-3 },
    dense2: { kernel: f(k2), bias: f(b2) },
  };
  optimizer.dispose();
  const valAuc = computeRocAuc(valY, valScores);
  return {
    trainedLayers: models.trainedLayers,
    blocks: models.blocks,
    history,
    maxBackboneWeightChange: changed,
    maxFrozenWeightChange: frozenChanged,
    head,
    backboneModel: base,
    validation: { items: val, labels: valLabels, scores: valScores },
    summary: {
      backbone: options.backbone,
      unfrozenBlocks: k,
      trainedBackboneLayers: models.trainedLayers.length,
      trainImages: train.length,
      valImages: val.length,
      epochs,
      history,
      valRocAuc: valAuc,
      maxBackboneWeightChange: changed,
      maxFrozenWeightChange: frozenChanged,
      trainedLayers: models.trainedLayers,
      exported: false,
    },
  };
}

/**
 * The fine-tuned backbone as a converter source: tfjs serialises the model (topology + float32
 * weights) and the same tfjs→ONNX converter that builds the shipped backbones converts it.
 */
export async function fineTunedBackboneOnnx(model: tfTypes.LayersModel, featureLayer: string): Promise<Uint8Array> {
  let artifacts: tfTypes.io.ModelArtifacts | undefined;
  const { tf } = await loadTf('convolution');
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  if (!artifacts?.modelTopology || !artifacts.weightSpecs || !artifacts.weightData) throw new TrainingError('UNSUPPORTED', 'tfjs did not serialise the fine-tuned backbone');
  const weightData = artifacts.weightData instanceof ArrayBuffer ? artifacts.weightData : tf.io.concatenateArrayBuffers(artifacts.weightData as ArrayBuffer[]);
  const weightSpecs = artifacts.weightSpecs as Array<{ name: string; shape: number[]; dtype: string }>;
  const converted = convertLayersModel(
    {
      origin: 'fine-tuned backbone',
      modelJson: { modelTopology: artifacts.modelTopology as Record<string, unknown>, weightsManifest: [{ paths: [], weights: weightSpecs }], format: 'layers-model' },
      weightSpecs,
      weightData,
    },
    { outputs: [featureLayer], pooled: featureLayer },
  );
  return converted.bytes;
}

/**
 * CLI entry: fine-tunes, converts the updated backbone to ONNX, fuses the head and registers the
 * detector (its card says which blocks were fine-tuned and that its backbone differs from the shipped one).
 */
export async function fineTuneDetector(
  options: Omit<FineTuneOptions, 'unfreezeBlocks'> & { unfreezeBlocks: number; register?: boolean; modelId?: string; repoRoot?: string },
  hooks: { onProgress?: (p: never) => void; signal?: AbortSignal } = {},
): Promise<{ summary: Record<string, unknown>; modelId?: string }> {
  const r = await fineTuneBackbone(options, hooks as never);
  if (options.register === false) return { summary: r.summary };
  const spec = tfjsBackbone(options.backbone);
  const backboneBytes = await fineTunedBackboneOnnx(r.backboneModel, spec.featureLayer);
  const detector = buildDetectorOnnx(backboneBytes, r.head);
  const { ModelRegistry } = await import('../engine/model-registry');
  const { sha256Text } = await import('./head-weights-file');
  const registry = new ModelRegistry({ dataDir: options.dataDir, repoRoot: options.repoRoot });
  const id = options.modelId ?? `${options.backbone.replace(/_/g, '-')}-unfreeze${options.unfreezeBlocks}-${Date.now()}`;
  // Threshold on validation scores of the fine-tuned model.
  const { selectThreshold } = await import('../evaluation/metrics');
  const val = r.validation;
  const threshold = selectThreshold(val.labels, val.scores).threshold;
  // The converted, fused file must score the validation images as the tfjs model did.
  const ort = await import('onnxruntime-node');
  const session = await ort.InferenceSession.create(detector, { intraOpNumThreads: 2 });
  let fusedMaxDiff = 0;
  try {
    const x = await loadBatch(val.items, spec.inputSize, spec.normalisation, val.items.map(() => false));
    const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', x, [val.items.length, spec.inputSize, spec.inputSize, 3]) });
    const p = out.p_synthetic.data as Float32Array;
    p.forEach((v, i) => (fusedMaxDiff = Math.max(fusedMaxDiff, Math.abs(v - val.scores[i]))));
  } finally {
    await session.release();
  }
  if (!(fusedMaxDiff <= 1e-3)) throw new TrainingError('DIVERGED', `the converted fine-tuned detector disagrees with tfjs by ${fusedMaxDiff}`);
  const model = await registry.register({
    detector,
    card: {
      id,
      name: `${options.backbone} fine-tuned (last ${options.unfreezeBlocks} blocks) + paper head`,
      trained: true,
      backbone: { name: options.backbone, inputSize: spec.inputSize, normalisation: 'unit', featureLayer: spec.featureLayer, sha256: sha256Text(backboneBytes), fineTunedBlocks: options.unfreezeBlocks },
      head: { inputDim: r.head.inputDim, hiddenUnits: r.head.dense1.units, dropout: options.dropout ?? defaultHeadOptions.dropout },
      trainingData: { summary: `${r.summary.trainImages} training and ${r.summary.valImages} validation images from ${options.datasetDir}` },
      metrics: { val: { rocAuc: r.summary.valRocAuc }, history: r.history },
      threshold,
      thresholdSelection: { chosenOn: 'val', criterion: 'youden' },
    },
  });
  return { summary: { ...r.summary, exported: true, fusedMaxDiff, modelId: model.id }, modelId: model.id };
}
