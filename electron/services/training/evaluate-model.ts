// Evaluation of a registered detector on a dataset split, end to end through its fused ONNX file
// (the artefact users run, not the training-time head on cached features): the paper's eight
// metrics, confusion matrix, per-generator (Table 5) and per-modality (Table 4) rows, ROC and PR
// curve images, and leave-one-modality-out retraining (Table 3).
import fs from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { computePrCurve, computeRocCurve, selectThreshold, type BinaryMetrics } from '../evaluation/metrics';
import { renderPrCurvePng, renderRocCurvePng } from '../evaluation/curve-images';
import { generatorBalancedWeights } from '../evaluation/sample-weights';
import { decodeToPaperRgb, toModelInput } from '../engine/preprocess';
import { headInputsOfCard, ModelRegistry, type RegisteredModel } from '../engine/model-registry';
import { findRepoRoot } from '../app/app-info';
import { layersFor, resolveBackbone } from './backbone-specs';
import { loadDataset, splitWithHoldOut, type DatasetItem, type SplitName } from './dataset-items';
import type { LayerSpec } from './feature-cache';
import { buildFeatureTable, featureSetFor, gatherRows } from './feature-table';
import { scoreWithHead, trainHead, type HeadTrainingOptions } from './head-trainer';
import type { ViewName } from './image-views';
import { evaluateScores, type SplitEvaluation } from './train-detector';
import { TrainingError } from './training-errors';

export interface EvaluateModelOptions {
  dataDir: string;
  datasetDir: string;
  modelId?: string;
  split?: SplitName;
  /** Folder for the curve PNGs (default <dataDir>/evaluations/<model>-<split>). */
  outDir?: string;
  /** Leave-one-modality-out retraining for these modalities ("all" = every synthetic modality). */
  excludeModalities?: string[];
  batchSize?: number;
  repoRoot?: string;
  onProgress?: (p: { kind: 'score'; done: number; total: number } | { kind: 'lomo'; modality: string; index: number; total: number }) => void;
  signal?: AbortSignal;
}

export interface LomoRow {
  heldOut: string;
  trainedOn: string[];
  testSynthetic: number;
  testReal: number;
  threshold: number;
  metrics: BinaryMetrics;
}

export interface ModelEvaluation {
  model: { id: string; sha256: string; backbone: string };
  split: SplitName;
  threshold: number;
  thresholdSource: string;
  evaluation: SplitEvaluation;
  curves: { roc: string; pr: string };
  leaveOneModalityOut: LomoRow[];
  seconds: number;
}

export async function scoreWithDetector(
  model: RegisteredModel,
  items: readonly DatasetItem[],
  options: { batchSize?: number; onProgress?: (done: number, total: number) => void; signal?: AbortSignal } = {},
): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(model.detectorPath, { intraOpNumThreads: 2 });
  try {
    const size = model.card.backbone.inputSize;
    const per = size * size * 3;
    const batch = Math.max(1, options.batchSize ?? 16);
    const scores = new Float32Array(items.length);
    for (let start = 0; start < items.length; start += batch) {
      if (options.signal?.aborted) throw new TrainingError('CANCELLED', 'evaluation was cancelled');
      const chunk = items.slice(start, start + batch);
      const x = new Float32Array(chunk.length * per);
      await Promise.all(
        chunk.map(async (it, i) => {
          const rgb = await decodeToPaperRgb(it.file);
          toModelInput(rgb.data, { inputSize: size, normalisation: model.normalisation }, x, i * per);
        }),
      );
      const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', x, [chunk.length, size, size, 3]) }, ['p_synthetic']);
      scores.set(out.p_synthetic.data as Float32Array, start);
      options.onProgress?.(start + chunk.length, items.length);
    }
    return scores;
  } finally {
    await session.release();
  }
}

export async function evaluateModel(options: EvaluateModelOptions): Promise<ModelEvaluation> {
  const started = performance.now();
  const repoRoot = options.repoRoot ?? findRepoRoot();
  const registry = new ModelRegistry({ dataDir: options.dataDir, repoRoot });
  const model = await registry.resolve(options.modelId);
  const dataset = loadDataset(options.datasetDir);
  const split = options.split ?? 'test';
  const items = dataset.items.filter((i) => i.split === split);
  if (new Set(items.map((i) => i.label)).size < 2) throw new TrainingError('SINGLE_CLASS', `the ${split} split needs both real and synthetic images`);
  const scores = await scoreWithDetector(model, items, {
    batchSize: options.batchSize,
    signal: options.signal,
    onProgress: (done, total) => options.onProgress?.({ kind: 'score', done, total }),
  });
  // The card's threshold was chosen on validation data when the model was trained.
  const threshold = model.card.threshold;
  const evaluation = evaluateScores(items, scores, threshold);
  const outDir = options.outDir ?? path.join(options.dataDir, 'evaluations', `${model.id}-${split}`);
  fs.mkdirSync(outDir, { recursive: true });
  const labels = items.map((i) => i.label);
  const weights = generatorBalancedWeights(items);
  const roc = path.join(outDir, 'roc.png');
  const pr = path.join(outDir, 'pr.png');
  await renderRocCurvePng(computeRocCurve(labels, scores, weights), { file: roc, auc: evaluation.metrics.rocAuc, title: `${model.id}, ${split} split` });
  await renderPrCurvePng(computePrCurve(labels, scores, weights), {
    file: pr,
    ap: evaluation.metrics.ap,
    positiveRate: 0.5,
    title: `${model.id}, ${split} split`,
  });

  const leaveOneModalityOut: LomoRow[] = [];
  if (options.excludeModalities?.length) {
    leaveOneModalityOut.push(...(await leaveOneModalityOutTable(model, dataset.items, options.excludeModalities, options, repoRoot)));
  }
  return {
    model: { id: model.id, sha256: model.card.sha256, backbone: model.card.backbone.name },
    split,
    threshold,
    thresholdSource: String((model.card as Record<string, unknown>).thresholdSelection ? 'model card (chosen on validation)' : 'model card'),
    evaluation,
    curves: { roc, pr },
    leaveOneModalityOut,
    seconds: (performance.now() - started) / 1000,
  };
}

/** The feature layer the model's head reads: the backbone's last map, or the earlier one its card names. */
function headLayersOf(model: RegisteredModel, backbone: { name: string; featureLayer: string }): LayerSpec[] {
  const inputs = headInputsOfCard(model.card.backbone);
  if (inputs) return inputs.map((i) => ({ key: `${i.output}-${i.pooling}`, output: i.output, pooling: i.pooling }));
  const layer = model.card.backbone.featureLayer;
  if (!layer || layer === backbone.featureLayer) return layersFor('last', backbone);
  return [{ key: 'mid', output: layer, pooling: 'mean' }];
}

/**
 * The paper's Table 3: for each held-out modality, train the model's head recipe on the other
 * modalities (frozen features of the model's backbone), choose the threshold on that fold's
 * validation split, and test on the held-out modality against the real test images.
 */
async function leaveOneModalityOutTable(
  model: RegisteredModel,
  items: readonly DatasetItem[],
  requested: string[],
  options: EvaluateModelOptions,
  repoRoot: string,
): Promise<LomoRow[]> {
  const all = [...new Set(items.filter((i) => i.label === 1).map((i) => i.modality))].sort();
  const modalities = requested.includes('all') ? all : requested;
  for (const m of modalities) if (!all.includes(m)) throw new TrainingError('BAD_OPTIONS', `no synthetic modality "${m}" in the dataset (has ${all.join(', ')})`);
  const backbone = resolveBackbone(model.card.backbone.name, repoRoot);
  const card = model.card as Record<string, unknown> & { training?: Record<string, unknown>; trainingData?: Record<string, unknown> };
  const views = ((card.trainingData?.views as ViewName[] | undefined) ?? ['plain', 'flip']) as ViewName[];
  const table = await buildFeatureTable(items, {
    backbone,
    layers: headLayersOf(model, backbone),
    views,
    cacheDir: path.join(options.dataDir, 'cache', 'features'),
    signal: options.signal,
  });
  const t = card.training ?? {};
  const head: HeadTrainingOptions = {
    hiddenUnits: model.card.head.hiddenUnits,
    dropout: model.card.head.dropout,
    epochs: typeof t.epochs === 'number' ? t.epochs : undefined,
    batchSize: typeof t.batchSize === 'number' ? t.batchSize : undefined,
    learningRate: typeof t.learningRate === 'number' ? t.learningRate : undefined,
    optimizer: t.optimizer === 'rmsprop' ? 'rmsprop' : 'adam',
    seed: typeof t.seed === 'number' ? t.seed : undefined,
  };
  const rows: LomoRow[] = [];
  for (const [index, m] of modalities.entries()) {
    options.onProgress?.({ kind: 'lomo', modality: m, index, total: modalities.length });
    const split = splitWithHoldOut(items, { modalities: [m] });
    const trained = await trainHead(featureSetFor(table, split.train, views), featureSetFor(table, split.val, ['plain']), head, { signal: options.signal });
    const valScores = scoreWithHead(trained.weights, gatherRows(table, split.val, 'plain'));
    const threshold = selectThreshold(split.val.map((i) => i.label), valScores, { weights: generatorBalancedWeights(split.val) }).threshold;
    const testScores = scoreWithHead(trained.weights, gatherRows(table, split.test, 'plain'));
    const ev = evaluateScores(split.test, testScores, threshold);
    rows.push({
      heldOut: m,
      trainedOn: all.filter((x) => x !== m),
      testSynthetic: split.test.filter((i) => i.label === 1).length,
      testReal: split.test.filter((i) => i.label === 0).length,
      threshold,
      metrics: ev.metrics,
    });
  }
  return rows;
}
