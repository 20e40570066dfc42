// `trainDetector`: dataset → cached frozen-backbone features → the paper's head → threshold on
// validation → test metrics (overall, per generator, per modality, optional leave-one-out) → fused
// ONNX detector → registered model with its model card.
import fs from 'node:fs';
import path from 'node:path';
import { computeBinaryMetrics, selectThreshold, type BinaryMetrics, type ThresholdSelection } from '../evaluation/metrics';
import { computeGroupedMetrics, type GroupMetrics } from '../evaluation/grouped-metrics';
import { generatorBalancedWeights } from '../evaluation/sample-weights';
import { detectorOptionsOfCard, ModelRegistry, type ModelCard, type ModelCardDraft, type RegisteredModel } from '../engine/model-registry';
import { findRepoRoot } from '../app/app-info';
import { layersFor, resolveBackbone, type FeatureChoice, type ResolvedBackbone } from './backbone-specs';
import { checkSplitUsable, loadDataset, splitWithHoldOut, summariseItems, type DatasetItem, type HoldOut } from './dataset-items';
import { checkFusedDetector, fuseDetector } from './detector-export';
import { globalPooling, type FeatureExtractionProgress, type LayerSpec } from './feature-cache';
import { buildFeatureTable, featureSetFor, type FeatureTable } from './feature-table';
import { serialiseHeadWeights } from './head-weights-file';
import {
  defaultHeadOptions,
  trainHead,
  type HeadTrainingOptions,
  type HeadTrainingResult,
  type HeadWeights,
  type TrainingProgress,
} from './head-trainer';
import { runLeaveOneOut, scoreItems, type HoldOutSummary } from './holdout-validation';
import { viewIsFlipped, type ViewName } from './image-views';
import { TrainingError } from './training-errors';

export interface TrainDetectorOptions extends HeadTrainingOptions {
  /** A built dataset folder (manifest.json from the dataset builder). */
  datasetDir: string;
  /** Application data folder: models are registered under <dataDir>/models, caches under <dataDir>/cache. */
  dataDir: string;
  backbone: string;
  features?: FeatureChoice;
  /** Training views; "plain" is always included. Default: plain + flip (the paper's augmentation). */
  views?: ViewName[];
  excludeModalities?: string[];
  excludeGenerators?: string[];
  /** Also run leave-one-generator-out / leave-one-modality-out folds and record them in the card. */
  leaveOneOut?: Array<'generator' | 'modality'>;
  modelId?: string;
  /** Fuse and register (default true). */
  register?: boolean;
  setDefault?: boolean;
  cacheDir?: string;
  repoRoot?: string;
  /** Balance the real class by collection (each group of real photographs weighs the same) in training. */
  realGroupOf?: (item: DatasetItem) => string;
  /**
   * Score every image with its mirror (mean of the two logits), in evaluation and in the fused
   * detector (the card's `inference.mirror`); needs the flip view's features, which are then built.
   */
  mirror?: boolean;
  /** Refused when above 0: fine-tuning is fineTuneDetector (onnx-fine-tune.ts), not this head trainer. */
  unfreeze?: number;
  /** Who trained it, for the model card. */
  createdBy?: string;
}

export type TrainDetectorProgress =
  | FeatureExtractionProgress
  | TrainingProgress
  | { kind: 'stage'; stage: 'dataset' | 'features' | 'head' | 'evaluate' | 'leave-one-out' | 'export' | 'register'; message: string }
  | { kind: 'fold'; by: 'generator' | 'modality'; heldOut: string; rocAuc: number | null; index: number; total: number };

export interface TrainDetectorHooks {
  onProgress?: (p: TrainDetectorProgress) => void;
  signal?: AbortSignal;
}

export interface SplitEvaluation {
  metrics: BinaryMetrics;
  perGenerator: GroupMetrics[];
  perModality: GroupMetrics[];
}

export interface TrainDetectorResult {
  modelId: string;
  card: ModelCardDraft & Record<string, unknown>;
  head: HeadWeights;
  headJson: string;
  training: HeadTrainingResult;
  threshold: ThresholdSelection;
  val: SplitEvaluation;
  test: SplitEvaluation;
  /** The test split and its raw scores, for re-evaluation at another (calibrated) operating point. */
  testItems: DatasetItem[];
  testScores: Float32Array;
  leaveOneOut: Partial<Record<'generator' | 'modality', HoldOutSummary>>;
  model?: RegisteredModel;
  detectorBytes?: Uint8Array;
  fusedMaxDiff?: number;
  seconds: number;
}

export function evaluateScores(items: readonly DatasetItem[], scores: ArrayLike<number>, threshold: number): SplitEvaluation {
  const labels = items.map((i) => i.label);
  const scored = items.map((it, i) => ({ label: it.label, score: scores[i], generator: it.generator, modality: it.modality }));
  return {
    metrics: computeBinaryMetrics(labels, scores, { threshold, weights: generatorBalancedWeights(items) }),
    perGenerator: computeGroupedMetrics(scored, { by: 'generator', threshold }),
    perModality: computeGroupedMetrics(scored, { by: 'modality', threshold }),
  };
}

const metricSummary = (m: BinaryMetrics) => ({
  precision: m.precision,
  recall: m.recall,
  f1: m.f1,
  accuracy: m.accuracy,
  ap: m.ap,
  rocAuc: m.rocAuc,
  fpr: m.fpr,
  fnr: m.fnr,
  confusion: m.confusion,
  n: m.n,
  weighted: m.weighted,
});

const groupSummary = (rows: GroupMetrics[]) =>
  rows.map((r) => ({ group: r.group, class: r.groupClass, images: r.groupCount, rocAuc: r.metrics.rocAuc, accuracy: r.metrics.accuracy, recall: r.metrics.recall, fpr: r.metrics.fpr }));

function newModelId(backbone: string): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
  return `${backbone.replace(/_/g, '-')}-${stamp}`;
}

export async function trainDetector(options: TrainDetectorOptions, hooks: TrainDetectorHooks = {}): Promise<TrainDetectorResult> {
  const started = performance.now();
  const progress = hooks.onProgress ?? (() => {});
  const repoRoot = options.repoRoot ?? findRepoRoot();
  const features = options.features ?? 'last';
  const views = [...new Set<ViewName>(['plain', ...(options.views ?? ['flip'])])];
  if (options.unfreeze !== undefined && options.unfreeze > 0) {
    throw new TrainingError('UNSUPPORTED', 'use fineTuneBackbone (onnx-fine-tune.ts) for --unfreeze; trainDetector trains the head on frozen features');
  }

  progress({ kind: 'stage', stage: 'dataset', message: `reading ${options.datasetDir}` });
  const dataset = loadDataset(options.datasetDir);
  const holdOut: HoldOut = { generators: options.excludeGenerators ?? [], modalities: options.excludeModalities ?? [] };
  for (const g of holdOut.generators ?? []) {
    if (!dataset.items.some((i) => i.generator === g)) throw new TrainingError('BAD_OPTIONS', `no generator "${g}" in the dataset`);
  }
  for (const m of holdOut.modalities ?? []) {
    if (!dataset.items.some((i) => i.modality === m && i.label === 1)) throw new TrainingError('BAD_OPTIONS', `no synthetic modality "${m}" in the dataset`);
  }
  const split = splitWithHoldOut(dataset.items, holdOut);
  checkSplitUsable(split, 'training');
  if (new Set(split.test.map((i) => i.label)).size < 2) throw new TrainingError('SINGLE_CLASS', 'the test split needs both real and synthetic images');

  const backbone: ResolvedBackbone = resolveBackbone(options.backbone, repoRoot);
  const layers = layersFor(features, backbone);
  const cacheDir = options.cacheDir ?? path.join(options.dataDir, 'cache', 'features');
  progress({ kind: 'stage', stage: 'features', message: `${backbone.name} features (${layers.map((l) => l.key).join('+')}), views ${views.join(', ')}` });
  const mirror = options.mirror === true;
  const table: FeatureTable = await buildFeatureTable(dataset.items, {
    backbone,
    layers,
    views: mirror && !views.includes('flip') ? [...views, 'flip'] : views,
    cacheDir,
    onProgress: progress,
    signal: hooks.signal,
  });

  progress({ kind: 'stage', stage: 'head', message: `training the head on ${split.train.length} images (${views.length} views)` });
  const headOptions: HeadTrainingOptions = {
    hiddenUnits: options.hiddenUnits,
    dropout: options.dropout,
    epochs: options.epochs,
    batchSize: options.batchSize,
    learningRate: options.learningRate,
    optimizer: options.optimizer,
    plateauFactor: options.plateauFactor,
    plateauPatience: options.plateauPatience,
    minLearningRate: options.minLearningRate,
    bnMomentum: options.bnMomentum,
    l2: options.l2,
    seed: options.seed,
    ensemble: options.ensemble,
  };
  const groupOf = options.realGroupOf;
  const training = await trainHead(featureSetFor(table, split.train, views, groupOf), featureSetFor(table, split.val, ['plain'], groupOf), headOptions, {
    onProgress: progress,
    signal: hooks.signal,
  });

  progress({ kind: 'stage', stage: 'evaluate', message: 'threshold on validation, metrics on test' });
  const valScores = scoreItems(training.weights, table, split.val, mirror);
  const testScores = scoreItems(training.weights, table, split.test, mirror);
  // The threshold comes from validation only; test scores are computed after it is fixed.
  const threshold = selectThreshold(
    split.val.map((i) => i.label),
    valScores,
    { criterion: 'youden', weights: generatorBalancedWeights(split.val) },
  );
  const val = evaluateScores(split.val, valScores, threshold.threshold);
  const test = evaluateScores(split.test, testScores, threshold.threshold);

  const leaveOneOut: TrainDetectorResult['leaveOneOut'] = {};
  for (const by of options.leaveOneOut ?? []) {
    progress({ kind: 'stage', stage: 'leave-one-out', message: `leave-one-${by}-out` });
    leaveOneOut[by] = await runLeaveOneOut(table, dataset.items, by, views, headOptions, {
      signal: hooks.signal,
      mirror,
      onFold: (f, index, total) => progress({ kind: 'fold', by, heldOut: f.heldOut, rocAuc: f.rocAuc, index, total }),
    });
  }

  const modelId = options.modelId ?? newModelId(backbone.name);
  // The map the detector exposes as `features` (what the explainers use): for "taps" the last tap,
  // the backbone's last map, so every other tap lies before it.
  const featureLayer = features === 'mid' ? layers[0].output : features === 'taps' ? (layers.at(-1) as LayerSpec).output : backbone.featureLayer;
  const headOpts = { ...defaultHeadOptions, ...Object.fromEntries(Object.entries(headOptions).filter(([, v]) => v !== undefined)) };
  const card: ModelCardDraft & Record<string, unknown> = {
    id: modelId,
    name: `${backbone.name} + paper head (${features} features)`,
    ...(options.createdBy ? { createdBy: options.createdBy } : {}),
    trained: true,
    backbone: {
      name: backbone.name,
      inputSize: backbone.inputSize,
      normalisation: backbone.entry.normalisation ?? backbone.normalisation,
      featureLayer,
      featureShape: featureLayer === backbone.featureLayer ? backbone.featureShape : outputShape(backbone, featureLayer),
      sha256: backbone.sha256,
      featureLayers: layers.map((l) => ({ key: l.key, output: l.output, pooling: globalPooling(l.pooling) })),
    },
    head: {
      inputDim: table.dim,
      hiddenUnits: training.weights.dense1.units,
      dropout: headOpts.dropout,
      ...(training.members ? { ensemble: { heads: training.members.length, unitsPerHead: headOpts.hiddenUnits, combined: 'mean of the heads\' logits, written as one head of their units side by side' } } : {}),
      layers: [
        features === 'taps' ? `Concatenate(${layers.map((l) => `${l.pooling === 'mean-std' ? 'MeanStdPooling2D' : 'GlobalAveragePooling2D'}(${l.output})`).join(', ')})` : 'GlobalAveragePooling2D',
        `Dense(${training.weights.dense1.units}, relu)`,
        'BatchNormalization',
        `Dropout(${headOpts.dropout})`,
        'Dense(1, sigmoid)',
      ],
    },
    trainingData: {
      summary: describeData(dataset.items, split, holdOut, dataOrigin(dataset.dir)),
      dataset: dataset.dir,
      datasetMeta: dataset.meta,
      train: summariseItems(split.train),
      val: summariseItems(split.val),
      test: summariseItems(split.test),
      excluded: holdOut,
      views,
      sampleWeighting: 'each generator counts equally within the synthetic class; classes weigh equally',
    },
    training: {
      optimizer: headOpts.optimizer,
      learningRate: headOpts.learningRate,
      batchSize: headOpts.batchSize,
      epochs: headOpts.epochs,
      plateau: { factor: headOpts.plateauFactor, patience: headOpts.plateauPatience },
      seed: headOpts.seed,
      bestEpoch: training.bestEpoch,
      bestValLoss: training.bestValLoss,
      seconds: training.seconds,
      backend: training.backend,
      history: training.history,
      ...(training.members ? { members: training.members } : {}),
      flipAugmentation: views.some(viewIsFlipped),
    },
    metrics: {
      test: metricSummary(test.metrics),
      val: metricSummary(val.metrics),
      testPerGenerator: groupSummary(test.perGenerator),
      testPerModality: groupSummary(test.perModality),
      ...(leaveOneOut.generator ? { leaveOneGeneratorOut: leaveOneOut.generator } : {}),
      ...(leaveOneOut.modality ? { leaveOneModalityOut: leaveOneOut.modality } : {}),
      weighting: 'generator-balanced sample weights for the overall rows; per-group rows unweighted',
    },
    threshold: threshold.threshold,
    thresholdSelection: { chosenOn: 'val', criterion: threshold.criterion, value: threshold.value, tpr: threshold.tpr, fpr: threshold.fpr },
    ...(mirror ? { inference: { inputMode: 'resize', mirror: true } } : {}),
  };
  const headJson = serialiseHeadWeights(training.weights, { backbone: backbone.name, backboneSha256: backbone.sha256, features });

  const result: TrainDetectorResult = {
    modelId,
    card,
    head: training.weights,
    headJson,
    training,
    threshold,
    val,
    test,
    testItems: split.test,
    testScores,
    leaveOneOut,
    seconds: 0,
  };

  if (options.register !== false) {
    if (features === 'both') {
      throw new TrainingError('UNSUPPORTED', 'the fused detector pools one feature map; a head on concatenated "both" features can be evaluated but not exported');
    }
    progress({ kind: 'stage', stage: 'export', message: 'fusing the head into the backbone ONNX' });
    // Fused as the registry and the install fuse a card's head: from the card, one rule for all three.
    const detector = await fuseDetector(backbone, training.weights, detectorOptionsOfCard(card as Pick<ModelCard, 'backbone'>));
    const probe = split.test.slice(0, 4);
    const maxDiff = await checkFusedDetector(detector, backbone, probe.map((i) => i.file), scoreItems(training.weights, table, probe, mirror));
    if (!(maxDiff <= 1e-3)) throw new TrainingError('DIVERGED', `the fused detector disagrees with the trained head by ${maxDiff} on test images`);
    result.fusedMaxDiff = maxDiff;
    result.detectorBytes = detector;
    // A run cancelled up to here is discarded: a cancelled model is never registered as usable.
    if (hooks.signal?.aborted) throw new TrainingError('CANCELLED', 'training was cancelled before the model was registered');
    progress({ kind: 'stage', stage: 'register', message: `registering ${modelId}` });
    const registry = new ModelRegistry({ dataDir: options.dataDir, repoRoot });
    result.model = await registry.register({ detector, card, setDefault: options.setDefault });
    fs.writeFileSync(path.join(path.dirname(result.model.cardPath), 'head-weights.json'), headJson);
  }
  result.seconds = (performance.now() - started) / 1000;
  return result;
}

function outputShape(backbone: ResolvedBackbone, output: string): number[] | undefined {
  const outs = (backbone.entry.outputs ?? []) as Array<{ name?: string; shape?: number[] }>;
  return outs.find((o) => o?.name === output)?.shape;
}

/** Where the dataset came from: the model lab's description of its folders, else the shared sources. */
function dataOrigin(datasetDir: string): string {
  try {
    const lab = JSON.parse(fs.readFileSync(path.join(datasetDir, 'lab-dataset.json'), 'utf8')) as { description?: unknown };
    if (typeof lab.description === 'string' && lab.description) return lab.description;
  } catch {
    // Not a model-lab dataset.
  }
  return '../shared/datasets';
}

function describeData(all: readonly DatasetItem[], split: Record<'train' | 'val' | 'test', DatasetItem[]>, holdOut: HoldOut, origin: string): string {
  const s = summariseItems(all);
  const gens = Object.keys(s.generators).length;
  const ex = [...(holdOut.generators ?? []), ...(holdOut.modalities ?? [])];
  return (
    `${all.length} 256×256 images (${s.real} real crops of photographs, ${s.synthetic} synthetic from ${gens} generators) built from ${origin}; ` +
    `train ${split.train.length}, val ${split.val.length}, test ${split.test.length}` +
    (ex.length ? `; held out of training: ${ex.join(', ')}` : '')
  );
}
