// `--unfreeze all|k`: fine-tunes the last k backbone blocks (or the whole network) with the paper's
// head in onnxruntime: one compiled training graph per run (onnx-graphs/training-graph.ts), weights
// fed as inputs and updated between steps by Adam or RMSprop, horizontal flips and dropout masks
// drawn outside the graph from a seeded RNG, a checkpoint written atomically after every epoch so a
// killed run resumes (`--resume`) to the same weights, and the best-validation weights exported as
// the fused ONNX detector.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { createRng } from '../common/seeded-random';
import { defaultIntraOpThreads, type ProviderName, type ProviderPreference } from '../engine/execution-providers';
import { decodeToPaperRgb, toModelInput, type Normalisation } from '../engine/preprocess';
import { computeRocAuc } from '../evaluation/metrics';
import { generatorBalancedWeights } from '../evaluation/sample-weights';
import { layerGraphFromKeras, type LayerGraph } from '../explainers/layer-graph';
import {
  buildDetectorOnnx,
  buildTrainingGraph,
  convertLayersModel,
  decodeWeights,
  HEAD_LAYERS,
  loadNsfwjsSource,
  type LayersModelSource,
  type TrainableParam,
  type TrainingHead,
} from '../onnx-graphs';
import { tfjsBackbone } from './backbone-specs';
import { checkSplitUsable, loadDataset, splitWithHoldOut, type DatasetItem } from './dataset-items';
import { balanceClassWeights, defaultHeadOptions, type HeadWeights } from './head-trainer';
import {
  applyOptimizerStep,
  createOptimizerState,
  compileTrainingSession,
  plateauStep,
  runTrainingGraph,
  type OptimizerKind,
  type OptimizerOptions,
  type OptimizerState,
  type PlateauState,
  type TrainingBatch,
} from './onnx-training';
import { TrainingError } from './training-errors';

export interface FineTuneOptions {
  datasetDir: string;
  dataDir: string;
  backbone: string;
  /** Backbone blocks to train, from the top; 'all' trains every block. */
  unfreeze: number | 'all';
  epochs?: number;
  batchSize?: number;
  headLearningRate?: number;
  backboneLearningRate?: number;
  optimizer?: OptimizerKind;
  weightDecay?: number;
  hiddenUnits?: number;
  dropout?: number;
  seed?: number;
  excludeModalities?: string[];
  excludeGenerators?: string[];
  /** Collections of real photographs left out of training and validation (the crossed folds). */
  excludeRealSources?: string[];
  /** Use at most this many training / validation images (tests, smoke runs). */
  limit?: number;
  /** Where the per-epoch checkpoint lives (default <dataDir>/training/<run key>). */
  checkpointDir?: string;
  /** Continue from the checkpoint instead of starting over. */
  resume?: boolean;
  provider?: ProviderPreference;
  intraOpThreads?: number;
}

export type FineTuneProgress =
  | { kind: 'stage'; stage: string; message: string }
  | { kind: 'batch'; epoch: number; epochs: number; batch: number; batches: number; loss: number; learningRate: number }
  | { kind: 'epoch'; epoch: number; epochs: number; loss: number; valLoss: number; learningRate: number; seconds: number }
  | { kind: 'checkpoint'; epoch: number; file: string };

export interface EpochRecord {
  epoch: number;
  loss: number;
  valLoss: number;
  valRocAuc: number | null;
  headLearningRate: number;
  backboneLearningRate: number;
  seconds: number;
}

export interface FineTuneResult {
  trainedLayers: string[];
  blocks: string[][];
  history: EpochRecord[];
  bestEpoch: number;
  head: HeadWeights;
  /** Final (best-validation) weights by param name, Keras layout. */
  weights: Map<string, Float32Array>;
  params: TrainableParam[];
  provider: ProviderName;
  providerNote?: string;
  validation: { items: DatasetItem[]; labels: number[]; scores: Float32Array };
  /** Training seconds, summed over epochs (resumed runs add the earlier epochs' time). */
  seconds: number;
  checkpointFile: string;
  summary: Record<string, unknown>;
}

/**
 * Backbone layers grouped into blocks in topological order: MobileNetV2 by its block_N_ prefix (the
 * stem before block 1, the final 1×1 conv after block 16), InceptionV3 by its mixedN outputs.
 */
export function backboneBlocks(graph: LayerGraph, featureLayer: string): string[][] {
  const names = graph.layers.map((l) => l.name);
  const end = names.indexOf(featureLayer);
  if (end < 0) throw new TrainingError('UNSUPPORTED', `the backbone has no layer ${featureLayer}`);
  const layers = graph.layers.slice(0, end + 1).filter((l) => l.className !== 'InputLayer').map((l) => l.name);
  const blocks: string[][] = [];
  if (layers.some((n) => /^block_\d+_/.test(n))) {
    let key = '';
    for (const n of layers) {
      const m = /^block_(\d+)_/.exec(n);
      const k = m ? `block_${m[1]}` : /^(Conv_1|out_relu)/.test(n) ? 'top' : key || 'stem';
      if (k !== key) blocks.push([]);
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

function glorot(rng: () => number, fanIn: number, fanOut: number, n: number): Float32Array {
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  return Float32Array.from({ length: n }, () => (2 * rng() - 1) * limit);
}

/** The paper's head as Keras initialises it (Glorot-uniform kernels, zero biases, identity BatchNorm). */
export function initialHead(channels: number, units: number, seed: number): TrainingHead {
  const rng = createRng(seed);
  return {
    dense1: { kernel: glorot(rng, channels, units, channels * units), bias: new Float32Array(units), units },
    bn: { gamma: new Float32Array(units).fill(1), beta: new Float32Array(units), movingMean: new Float32Array(units), movingVariance: new Float32Array(units).fill(1), epsilon: 1e-3 },
    dense2: { kernel: glorot(rng, units, 1, units), bias: new Float32Array(1) },
  };
}

async function loadBatch(items: readonly DatasetItem[], size: number, normalisation: Normalisation, flips: readonly boolean[], out: Float32Array): Promise<void> {
  const per = size * size * 3;
  await Promise.all(
    items.map(async (it, i) => {
      const rgb = await decodeToPaperRgb(it.file);
      toModelInput(rgb.data, { inputSize: size, normalisation, flip: flips[i] }, out, i * per);
    }),
  );
}

// ---- checkpoints: one file, [u32 header length][JSON header][float32 arrays], written atomically.

interface CheckpointHeader {
  version: 1;
  fingerprint: string;
  epoch: number;
  history: EpochRecord[];
  bestEpoch: number;
  bestValLoss: number;
  plateau: PlateauState;
  optimizer: { kind: OptimizerKind; step: number; lrScale: number };
  /** The RNG is re-seeded from (seed, epoch) at every epoch, so the epoch number is its whole state. */
  rng: { seed: number; derivation: 'mulberry32(seed·1000003 + epoch)' };
  arrays: Array<{ name: string; role: 'value' | 'first' | 'second' | 'best'; length: number }>;
}

interface Checkpoint {
  header: CheckpointHeader;
  arrays: Map<string, Float32Array>;
}

function writeCheckpointAtomic(file: string, header: CheckpointHeader, arrays: Map<string, Float32Array>): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = fs.openSync(tmp, 'w');
  try {
    const len = Buffer.alloc(4);
    len.writeUInt32LE(json.length, 0);
    fs.writeSync(fd, len);
    fs.writeSync(fd, json);
    for (const a of header.arrays) {
      const arr = arrays.get(`${a.role}:${a.name}`)!;
      fs.writeSync(fd, new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength));
    }
    fs.fsyncSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  fs.closeSync(fd);
  fs.renameSync(tmp, file);
  try {
    const dir = fs.openSync(path.dirname(file), 'r');
    fs.fsyncSync(dir);
    fs.closeSync(dir);
  } catch {}
}

export function readCheckpoint(file: string): Checkpoint {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    throw new TrainingError('BAD_OPTIONS', `cannot read checkpoint ${file}: ${(e as Error).message}`);
  }
  const fail = (why: string): never => {
    throw new TrainingError('BAD_OPTIONS', `checkpoint ${file} is damaged: ${why}`);
  };
  if (buf.length < 4) fail('too short');
  const n = buf.readUInt32LE(0);
  if (4 + n > buf.length) fail('header runs past the end');
  let header: CheckpointHeader;
  try {
    header = JSON.parse(buf.subarray(4, 4 + n).toString('utf8')) as CheckpointHeader;
  } catch {
    return fail('header is not JSON');
  }
  if (header.version !== 1 || !Array.isArray(header.arrays)) fail('unknown format');
  const arrays = new Map<string, Float32Array>();
  let offset = 4 + n;
  for (const a of header.arrays) {
    const bytes = a.length * 4;
    if (offset + bytes > buf.length) fail(`array ${a.name} runs past the end`);
    const copy = new Float32Array(a.length);
    new Uint8Array(copy.buffer).set(buf.subarray(offset, offset + bytes));
    arrays.set(`${a.role}:${a.name}`, copy);
    offset += bytes;
  }
  if (offset !== buf.length) fail('trailing bytes');
  return { header, arrays };
}

function epochRng(seed: number, epoch: number): () => number {
  return createRng((seed * 1000003 + epoch) >>> 0);
}

export async function fineTuneBackbone(options: FineTuneOptions, hooks: { onProgress?: (p: FineTuneProgress) => void; signal?: AbortSignal } = {}): Promise<FineTuneResult> {
  const spec = tfjsBackbone(options.backbone);
  if (options.backbone !== 'mobilenet_v2' && options.backbone !== 'inception_v3') throw new TrainingError('UNSUPPORTED', 'fine-tuning is offered for the shipped backbones (mobilenet_v2, inception_v3)');
  const epochs = options.epochs ?? defaultHeadOptions.epochs;
  const batchSize = options.batchSize ?? 16;
  const seed = options.seed ?? 1;
  const units = options.hiddenUnits ?? defaultHeadOptions.hiddenUnits;
  const dropout = options.dropout ?? defaultHeadOptions.dropout;
  if (!(dropout >= 0 && dropout < 1)) throw new TrainingError('BAD_OPTIONS', '--dropout must lie in [0, 1)');
  if (!Number.isInteger(batchSize) || batchSize < 2) throw new TrainingError('BAD_OPTIONS', '--batch-size must be a whole number ≥ 2');
  const optimizerOptions: OptimizerOptions = {
    kind: options.optimizer ?? 'adam',
    headLearningRate: options.headLearningRate ?? 1e-3,
    backboneLearningRate: options.backboneLearningRate ?? 1e-4,
    weightDecay: options.weightDecay,
  };

  const dataset = loadDataset(options.datasetDir);
  const split = splitWithHoldOut(dataset.items, { generators: options.excludeGenerators, modalities: options.excludeModalities, realSources: options.excludeRealSources });
  const limitBalanced = (list: DatasetItem[]) => {
    if (!options.limit) return list;
    const half = Math.max(1, Math.floor(options.limit / 2));
    return [...list.filter((i) => i.label === 0).slice(0, half), ...list.filter((i) => i.label === 1).slice(0, half)];
  };
  const train = limitBalanced(split.train);
  const val = limitBalanced(split.val);
  checkSplitUsable({ train, val, test: split.test }, 'fine-tuning');

  hooks.onProgress?.({ kind: 'stage', stage: 'model', message: `compiling the ${options.backbone} training graph` });
  const source = loadNsfwjsSource(options.backbone);
  const decoded = decodeWeights(source);
  const graph = layerGraphFromKeras(source.modelJson.modelTopology, decoded);
  const blocks = backboneBlocks(graph, spec.featureLayer);
  const k = options.unfreeze === 'all' ? blocks.length : options.unfreeze;
  if (!Number.isInteger(k) || k < 0 || k > blocks.length) throw new TrainingError('BAD_OPTIONS', `--unfreeze takes "all" or a whole number of blocks from 0 to ${blocks.length}`);
  const trainedLayers = blocks.slice(blocks.length - k).flat();
  const channels = options.backbone === 'mobilenet_v2' ? 1280 : 2048;
  const head = initialHead(channels, units, seed);
  const inputShape = [spec.inputSize, spec.inputSize, 3] as const;
  // The training graph is compiled for the batch size (a short last batch is padded with zero-weight
  // rows; the grouped depthwise weight gradients need it), validation's forward-only graph for any
  // size, and each for the provider its session gets (the CPU's uses onnxruntime's NCHWc operators).
  const trainSession = await compileTrainingSession(
    (t) => buildTrainingGraph(graph.layers, { featureLayer: spec.featureLayer, inputShape, trainableLayers: new Set(trainedLayers), head, batchSize, nchwcBlockSize: t.nchwcBlockSize }),
    { preference: options.provider, intraOpThreads: options.intraOpThreads },
  );
  // Every session made from here is released however the run ends (a bad checkpoint included).
  const open = [trainSession];
  try {
    const evalSession = await compileTrainingSession(() => buildTrainingGraph(graph.layers, { featureLayer: spec.featureLayer, inputShape, trainableLayers: new Set(trainedLayers), head, forwardOnly: true }), {
      preference: options.provider,
      intraOpThreads: options.intraOpThreads,
    });
    open.push(evalSession);
    const trainGraph = trainSession.graph;
    const params = trainGraph.params;

    // What must match for a checkpoint to continue this run.
    const fingerprint = crypto
      .createHash('sha256')
      .update(
        JSON.stringify({
          backbone: options.backbone,
          k,
          epochs,
          batchSize,
          seed,
          units,
          dropout,
          optimizerOptions,
          limit: options.limit ?? null,
          excludeModalities: options.excludeModalities ?? [],
          excludeGenerators: options.excludeGenerators ?? [],
          ...(options.excludeRealSources?.length ? { excludeRealSources: options.excludeRealSources } : {}),
          train: train.map((i) => i.file),
          val: val.map((i) => i.file),
          params: params.map((p) => [p.name, p.shape]),
        }),
      )
      .digest('hex');
    const checkpointDir = options.checkpointDir ?? path.join(options.dataDir, 'training', `${options.backbone}-unfreeze-${options.unfreeze}-${fingerprint.slice(0, 12)}`);
    const checkpointFile = path.join(checkpointDir, 'checkpoint.bin');

    const values = new Map(params.map((p) => [p.name, Float32Array.from(p.initial)]));
    let best = new Map(params.map((p) => [p.name, Float32Array.from(p.initial)]));
    let state: OptimizerState = createOptimizerState(optimizerOptions.kind, params);
    let plateau: PlateauState = { best: Infinity, bad: 0 };
    let history: EpochRecord[] = [];
    let bestEpoch = 0;
    let bestValLoss = Infinity;
    let startEpoch = 1;
    if (options.resume && fs.existsSync(checkpointFile)) {
      const cp = readCheckpoint(checkpointFile);
      if (cp.header.fingerprint !== fingerprint) throw new TrainingError('BAD_OPTIONS', `checkpoint ${checkpointFile} belongs to a run with other settings or data; start without --resume`);
      for (const p of params) {
        values.set(p.name, cp.arrays.get(`value:${p.name}`)! as Float32Array<ArrayBuffer>);
        best.set(p.name, cp.arrays.get(`best:${p.name}`)! as Float32Array<ArrayBuffer>);
        state.first.set(p.name, cp.arrays.get(`first:${p.name}`)!);
        state.second.set(p.name, cp.arrays.get(`second:${p.name}`)!);
      }
      state = { ...state, kind: cp.header.optimizer.kind, step: cp.header.optimizer.step, lrScale: cp.header.optimizer.lrScale };
      plateau = cp.header.plateau;
      if (plateau.best === null) plateau.best = Infinity;
      history = cp.header.history;
      bestEpoch = cp.header.bestEpoch;
      bestValLoss = cp.header.bestValLoss ?? Infinity;
      startEpoch = cp.header.epoch + 1;
      hooks.onProgress?.({ kind: 'stage', stage: 'resume', message: `resuming after epoch ${cp.header.epoch} from ${checkpointFile}` });
    } else if (options.resume) {
      hooks.onProgress?.({ kind: 'stage', stage: 'resume', message: `no checkpoint at ${checkpointFile}; starting from the first epoch` });
    }

    hooks.onProgress?.({ kind: 'stage', stage: 'provider', message: `training on ${trainSession.provider}${trainSession.providerNote ? ` (${trainSession.providerNote})` : ''}` });
    const trainW = balanceClassWeights(Uint8Array.from(train.map((i) => i.label)), Float32Array.from(generatorBalancedWeights(train)));
    const valW = balanceClassWeights(Uint8Array.from(val.map((i) => i.label)), Float32Array.from(generatorBalancedWeights(val)));
    const per = spec.inputSize * spec.inputSize * 3;
    const images = new Float32Array(batchSize * per);
    const ones = new Float32Array(batchSize * units).fill(1);
    const labelsOf = (items: readonly DatasetItem[]) => Float32Array.from(items.map((i) => i.label));

    const evaluate = async (valuesNow: Map<string, Float32Array>) => {
      const scores = new Float32Array(val.length);
      let num = 0;
      let den = 0;
      for (let s = 0; s < val.length; s += batchSize) {
        const items = val.slice(s, s + batchSize);
        await loadBatch(items, spec.inputSize, spec.normalisation, items.map(() => false), images);
        const w = valW.subarray(s, s + items.length);
        const batch: TrainingBatch = { images, count: items.length, inputShape, labels: labelsOf(items), weights: Float32Array.from(w), dropoutMask: ones.subarray(0, items.length * units), units };
        const r = await runTrainingGraph(evalSession.session, params, valuesNow, batch);
        scores.set(r.p, s);
        const wsum = w.reduce((a, b) => a + b, 0);
        num += r.loss * wsum;
        den += wsum;
      }
      return { loss: den > 0 ? num / den : NaN, scores };
    };

    for (let epoch = startEpoch; epoch <= epochs; epoch++) {
      const started = Date.now();
      const rng = epochRng(seed, epoch);
      const order = train.map((_, i) => i);
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(rng() * (i + 1));
        [order[i], order[j]] = [order[j], order[i]];
      }
      const batches = Math.ceil(order.length / batchSize);
      let lossSum = 0;
      let count = 0;
      for (let b = 0; b < batches; b++) {
        if (hooks.signal?.aborted) throw new TrainingError('CANCELLED', 'fine-tuning was cancelled');
        const idx = order.slice(b * batchSize, (b + 1) * batchSize);
        if (idx.length < 2) continue;
        const items = idx.map((i) => train[i]);
        const flips = items.map(() => rng() < 0.5);
        const mask = Float32Array.from({ length: items.length * units }, () => (rng() < dropout ? 0 : 1 / (1 - dropout)));
        await loadBatch(items, spec.inputSize, spec.normalisation, flips, images);
        const batch: TrainingBatch = { images, count: items.length, inputShape, labels: labelsOf(items), weights: Float32Array.from(idx.map((i) => trainW[i])), dropoutMask: mask, units };
        const r = await runTrainingGraph(trainSession.session, params, values, batch, trainGraph.batchSize);
        if (!Number.isFinite(r.loss)) throw new TrainingError('DIVERGED', `the training loss became ${r.loss} at epoch ${epoch}, batch ${b + 1}`);
        applyOptimizerStep(state, optimizerOptions, params, values, r.gradients);
        lossSum += r.loss * items.length;
        count += items.length;
        hooks.onProgress?.({ kind: 'batch', epoch, epochs, batch: b + 1, batches, loss: r.loss, learningRate: optimizerOptions.headLearningRate * state.lrScale });
      }
      const v = await evaluate(values);
      const record: EpochRecord = {
        epoch,
        loss: count ? lossSum / count : NaN,
        valLoss: v.loss,
        valRocAuc: computeRocAuc(labelsOf(val), v.scores),
        headLearningRate: optimizerOptions.headLearningRate * state.lrScale,
        backboneLearningRate: optimizerOptions.backboneLearningRate * state.lrScale,
        seconds: (Date.now() - started) / 1000,
      };
      history.push(record);
      if (v.loss < bestValLoss) {
        bestValLoss = v.loss;
        bestEpoch = epoch;
        best = new Map([...values].map(([n, a]) => [n, Float32Array.from(a)]));
      }
      plateauStep(plateau, state, v.loss);
      const arrays = new Map<string, Float32Array>();
      const list: CheckpointHeader['arrays'] = [];
      for (const p of params) {
        for (const [role, src] of [
          ['value', values],
          ['first', state.first],
          ['second', state.second],
          ['best', best],
        ] as const) {
          arrays.set(`${role}:${p.name}`, src.get(p.name)!);
          list.push({ name: p.name, role, length: p.initial.length });
        }
      }
      writeCheckpointAtomic(
        checkpointFile,
        {
          version: 1,
          fingerprint,
          epoch,
          history,
          bestEpoch,
          bestValLoss,
          plateau: { best: Number.isFinite(plateau.best) ? plateau.best : (null as unknown as number), bad: plateau.bad },
          optimizer: { kind: state.kind, step: state.step, lrScale: state.lrScale },
          rng: { seed, derivation: 'mulberry32(seed·1000003 + epoch)' },
          arrays: list,
        },
        arrays,
      );
      hooks.onProgress?.({ kind: 'epoch', epoch, epochs, loss: record.loss, valLoss: record.valLoss, learningRate: record.headLearningRate, seconds: record.seconds });
      hooks.onProgress?.({ kind: 'checkpoint', epoch, file: checkpointFile });
    }
    const finalVal = await evaluate(best);
    const headOut: HeadWeights = {
      inputDim: channels,
      dense1: { kernel: best.get(`${HEAD_LAYERS.dense1}/kernel`)!, bias: best.get(`${HEAD_LAYERS.dense1}/bias`)!, units },
      bn: { gamma: best.get(`${HEAD_LAYERS.bn}/gamma`)!, beta: best.get(`${HEAD_LAYERS.bn}/beta`)!, movingMean: head.bn.movingMean, movingVariance: head.bn.movingVariance, epsilon: head.bn.epsilon },
      dense2: { kernel: best.get(`${HEAD_LAYERS.dense2}/kernel`)!, bias: best.get(`${HEAD_LAYERS.dense2}/bias`)! },
    };
    const seconds = history.reduce((s, h) => s + h.seconds, 0);
    const valAuc = computeRocAuc(labelsOf(val), finalVal.scores);
    return {
      trainedLayers,
      blocks,
      history,
      bestEpoch,
      head: headOut,
      weights: best,
      params,
      provider: trainSession.provider,
      providerNote: trainSession.providerNote,
      validation: { items: val, labels: val.map((i) => i.label), scores: finalVal.scores },
      seconds,
      checkpointFile,
      summary: {
        backbone: options.backbone,
        unfreeze: options.unfreeze,
        unfrozenBlocks: k,
        blocks: blocks.length,
        trainedBackboneLayers: trainedLayers.length,
        trainedWeights: params.filter((p) => !p.head).length,
        trainImages: train.length,
        valImages: val.length,
        epochs,
        bestEpoch,
        optimizer: optimizerOptions.kind,
        headLearningRate: optimizerOptions.headLearningRate,
        backboneLearningRate: optimizerOptions.backboneLearningRate,
        weightDecay: optimizerOptions.weightDecay ?? 0,
        batchSize,
        provider: trainSession.provider,
        providerNote: trainSession.providerNote,
        valRocAuc: valAuc,
        seconds,
        history,
        checkpoint: checkpointFile,
      },
    };
  } finally {
    for (const o of open) await o.session.release();
  }
}

/** The backbone's tfjs source with the fine-tuned weights written in (names as the manifest has them). */
export function sourceWithWeights(source: LayersModelSource, weights: ReadonlyMap<string, Float32Array>): LayersModelSource {
  const decoded = decodeWeights(source);
  const byKey = new Map<string, string>();
  for (const name of decoded.keys()) {
    const parts = name.split('/');
    byKey.set(`${parts[parts.length - 2]}/${parts[parts.length - 1].replace(/:0$/, '')}`, name);
  }
  const specs = source.weightSpecs.map((s) => ({ name: s.name, shape: s.shape, dtype: 'float32' }));
  const total = specs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
  const data = new Float32Array(total);
  let offset = 0;
  const replaced = new Set<string>();
  for (const s of specs) {
    const own = decoded.get(s.name)!.data;
    data.set(own, offset);
    offset += own.length;
  }
  offset = 0;
  const offsets = new Map<string, number>();
  for (const s of specs) {
    offsets.set(s.name, offset);
    offset += s.shape.reduce((a, b) => a * b, 1);
  }
  for (const [key, arr] of weights) {
    if (key.startsWith('head_')) continue;
    const name = byKey.get(key);
    if (!name) throw new TrainingError('UNSUPPORTED', `the backbone has no weight ${key} to write the fine-tuned value into`);
    data.set(arr, offsets.get(name)!);
    replaced.add(key);
  }
  return {
    origin: `${source.origin} (fine-tuned: ${replaced.size} weights)`,
    modelJson: { ...source.modelJson, weightsManifest: [{ paths: [], weights: specs }] },
    weightSpecs: specs,
    weightData: data.buffer,
  };
}

/**
 * CLI entry: fine-tunes, converts the updated backbone to ONNX with the same converter as the shipped
 * backbones, fuses the head, checks that the fused file scores the validation images as the training
 * graph did, and registers the detector with its model card.
 */
export async function fineTuneDetector(
  options: FineTuneOptions & { register?: boolean; modelId?: string; repoRoot?: string },
  hooks: { onProgress?: (p: FineTuneProgress) => void; signal?: AbortSignal } = {},
): Promise<{ summary: Record<string, unknown>; modelId?: string; result: FineTuneResult }> {
  const r = await fineTuneBackbone(options, hooks);
  if (options.register === false) return { summary: r.summary, result: r };
  const spec = tfjsBackbone(options.backbone);
  hooks.onProgress?.({ kind: 'stage', stage: 'export', message: 'converting the fine-tuned backbone and fusing the detector' });
  const original = loadNsfwjsSource(options.backbone);
  const tuned = sourceWithWeights(original, r.weights);
  // How far the exported weights moved: trained layers should, frozen ones must not.
  const before = decodeWeights(original);
  const trained = new Set(r.trainedLayers);
  let maxBackboneWeightChange = 0;
  let maxFrozenWeightChange = 0;
  for (const [name, w] of decodeWeights(tuned)) {
    const old = before.get(name)!.data;
    let m = 0;
    for (let i = 0; i < old.length; i++) m = Math.max(m, Math.abs(old[i] - w.data[i]));
    const parts = name.split('/');
    if (trained.has(parts[parts.length - 2])) maxBackboneWeightChange = Math.max(maxBackboneWeightChange, m);
    else maxFrozenWeightChange = Math.max(maxFrozenWeightChange, m);
  }
  const backboneBytes = convertLayersModel(tuned, { outputs: [spec.featureLayer], pooled: spec.featureLayer }).bytes;
  const detector = buildDetectorOnnx(backboneBytes, r.head);
  const session = await ort.InferenceSession.create(detector, { intraOpNumThreads: options.intraOpThreads ?? defaultIntraOpThreads() });
  let fusedMaxDiff = 0;
  try {
    const per = spec.inputSize * spec.inputSize * 3;
    const val = r.validation;
    const x = new Float32Array(val.items.length * per);
    await loadBatch(val.items, spec.inputSize, spec.normalisation, val.items.map(() => false), x);
    const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', x, [val.items.length, spec.inputSize, spec.inputSize, 3]) });
    const p = out.p_synthetic.data as Float32Array;
    p.forEach((v, i) => (fusedMaxDiff = Math.max(fusedMaxDiff, Math.abs(v - val.scores[i]))));
  } finally {
    await session.release();
  }
  if (!(fusedMaxDiff <= 1e-3)) throw new TrainingError('DIVERGED', `the fused fine-tuned detector disagrees with the training graph by ${fusedMaxDiff}`);
  const { ModelRegistry } = await import('../engine/model-registry');
  const { sha256Text } = await import('./head-weights-file');
  const { selectThreshold } = await import('../evaluation/metrics');
  const registry = new ModelRegistry({ dataDir: options.dataDir, repoRoot: options.repoRoot });
  const depth = options.unfreeze === 'all' ? 'all' : `last ${options.unfreeze} blocks`;
  const id = options.modelId ?? `${options.backbone.replace(/_/g, '-')}-unfreeze-${options.unfreeze}-${Date.now()}`;
  const threshold = selectThreshold(r.validation.labels, r.validation.scores).threshold;
  const model = await registry.register({
    detector,
    card: {
      id,
      name: `${options.backbone} fine-tuned (${depth}) + paper head`,
      trained: true,
      backbone: { name: options.backbone, inputSize: spec.inputSize, normalisation: 'unit', featureLayer: spec.featureLayer, sha256: sha256Text(backboneBytes), fineTunedBlocks: options.unfreeze },
      head: { inputDim: r.head.inputDim, hiddenUnits: r.head.dense1.units, dropout: options.dropout ?? defaultHeadOptions.dropout },
      trainingData: { summary: `${r.summary.trainImages} training and ${r.summary.valImages} validation images from ${options.datasetDir}` },
      fineTuning: {
        engine: 'onnxruntime training graph',
        depth: options.unfreeze,
        blocks: r.blocks.length,
        trainedBackboneLayers: r.trainedLayers.length,
        epochs: r.history.length,
        bestEpoch: r.bestEpoch,
        optimizer: r.summary.optimizer,
        headLearningRate: r.summary.headLearningRate,
        backboneLearningRate: r.summary.backboneLearningRate,
        weightDecay: r.summary.weightDecay,
        batchSize: r.summary.batchSize,
        provider: r.provider,
        seconds: r.seconds,
      },
      metrics: { val: { rocAuc: r.summary.valRocAuc }, history: r.history },
      threshold,
      thresholdSelection: { chosenOn: 'val', criterion: 'youden' },
    },
  });
  return { summary: { ...r.summary, trainedLayers: r.trainedLayers, maxBackboneWeightChange, maxFrozenWeightChange, exported: true, fusedMaxDiff, modelId: model.id }, modelId: model.id, result: r };
}
