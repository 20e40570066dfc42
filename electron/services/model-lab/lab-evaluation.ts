// Evaluation as the lab shows it: a registered detector (its fused ONNX file, the artefact analyses
// run) scored on one split of a dataset, giving the eight metrics, the confusion matrix, ROC and PR
// curve points for charts, per-generator and per-modality rows, and the leave-one-out numbers its card
// holds. And a new model version at another operating point chosen on the validation ROC: the same
// detector file with a new card (the old card is never changed).
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { computePrCurve, computeRocCurve, type BinaryMetrics } from '../evaluation/metrics';
import type { GroupMetrics } from '../evaluation/grouped-metrics';
import { generatorBalancedWeights } from '../evaluation/sample-weights';
import { ModelRegistry, type RegisteredModel } from '../engine/model-registry';
import { loadDataset, type DatasetItem, type SplitName } from '../training/dataset-items';
import { scoreWithDetector } from '../training/evaluate-model';
import { evaluateScores } from '../training/train-detector';
import { TrainingError } from '../training/training-errors';
import type { CaseStore } from '../case-store';

export interface CurvePoint {
  x: number;
  y: number;
  /** Scores at or above it read "synthetic"; null for the curve's closing point (no threshold). */
  threshold: number | null;
}

export interface LabEvaluation {
  model: { id: string; sha256: string; backbone: string };
  datasetDir: string;
  split: SplitName;
  threshold: number;
  metrics: BinaryMetrics;
  roc: CurvePoint[];
  pr: CurvePoint[];
  /** The ROC point at the model's threshold. */
  operatingPoint: { fpr: number | null; tpr: number | null };
  perGenerator: Array<ReturnType<typeof groupRow>>;
  perModality: Array<ReturnType<typeof groupRow>>;
  leaveOneOut: { generator?: unknown; modality?: unknown };
  images: { real: number; synthetic: number };
  seconds: number;
}

const MAX_CURVE_POINTS = 400;

/** Every point for small sets; evenly thinned (ends kept) for large ones, so charts stay light. */
export function thinCurve<T>(points: readonly T[], max = MAX_CURVE_POINTS): T[] {
  if (points.length <= max) return [...points];
  const out: T[] = [];
  for (let i = 0; i < max; i++) out.push(points[Math.round((i * (points.length - 1)) / (max - 1))]);
  return out;
}

const finiteOrNull = (t: number) => (Number.isFinite(t) ? t : null);

function groupRow(r: GroupMetrics) {
  const m = r.metrics;
  return {
    group: r.group,
    class: r.groupClass,
    images: r.groupCount,
    precision: m.precision,
    recall: m.recall,
    f1: m.f1,
    accuracy: m.accuracy,
    ap: m.ap,
    rocAuc: m.rocAuc,
    fpr: m.fpr,
    fnr: m.fnr,
  };
}

/** The dataset a model was trained on, when its folder is still here. */
export function trainingDatasetOf(model: RegisteredModel): string | undefined {
  const dir = (model.card.trainingData as Record<string, unknown>)?.dataset;
  return typeof dir === 'string' && fs.existsSync(path.join(dir, 'manifest.json')) ? dir : undefined;
}

async function scoreSplit(model: RegisteredModel, datasetDir: string | undefined, split: SplitName, hooks: { signal?: AbortSignal; onProgress?: (done: number, total: number) => void }) {
  const dir = datasetDir ?? trainingDatasetOf(model);
  if (!dir) {
    throw new TrainingError('DATASET_NOT_FOUND', `Choose a dataset to evaluate ${model.id} on: the one it was trained on is not on this machine`);
  }
  const dataset = loadDataset(dir);
  const items = dataset.items.filter((i) => i.split === split);
  const real = items.filter((i) => i.label === 0).length;
  if (real === 0 || real === items.length) {
    throw new TrainingError('SINGLE_CLASS', `The ${split} split of ${dir} needs both real and synthetic images (has ${real} real, ${items.length - real} synthetic)`);
  }
  const scores = await scoreWithDetector(model, items, { signal: hooks.signal, onProgress: hooks.onProgress });
  return { dir: dataset.dir, items, scores };
}

export function evaluateAt(items: readonly DatasetItem[], scores: Float32Array, threshold: number) {
  const ev = evaluateScores(items, scores, threshold);
  const labels = items.map((i) => i.label);
  const weights = generatorBalancedWeights(items);
  const roc = computeRocCurve(labels, scores, weights);
  const pr = computePrCurve(labels, scores, weights);
  return {
    metrics: ev.metrics,
    roc: thinCurve(roc).map((p) => ({ x: p.fpr, y: p.tpr, threshold: finiteOrNull(p.threshold) })),
    pr: thinCurve(pr).map((p) => ({ x: p.recall, y: p.precision, threshold: finiteOrNull(p.threshold) })),
    operatingPoint: { fpr: ev.metrics.fpr, tpr: ev.metrics.recall },
    perGenerator: ev.perGenerator.map(groupRow),
    perModality: ev.perModality.map(groupRow),
  };
}

export async function evaluateForLab(
  options: { dataDir: string; modelId?: string; datasetDir?: string; split: SplitName; repoRoot?: string },
  hooks: { signal?: AbortSignal; onProgress?: (done: number, total: number) => void } = {},
): Promise<LabEvaluation> {
  const started = performance.now();
  const registry = new ModelRegistry({ dataDir: options.dataDir, repoRoot: options.repoRoot });
  const model = await registry.resolve(options.modelId);
  const { dir, items, scores } = await scoreSplit(model, options.datasetDir, options.split, hooks);
  const at = evaluateAt(items, scores, model.card.threshold);
  const metrics = model.card.metrics as Record<string, unknown>;
  return {
    model: { id: model.id, sha256: model.card.sha256, backbone: model.card.backbone.name },
    datasetDir: dir,
    split: options.split,
    threshold: model.card.threshold,
    ...at,
    leaveOneOut: {
      ...(metrics.leaveOneGeneratorOut ? { generator: metrics.leaveOneGeneratorOut } : {}),
      ...(metrics.leaveOneModalityOut ? { modality: metrics.leaveOneModalityOut } : {}),
    },
    images: { real: items.filter((i) => i.label === 0).length, synthetic: items.filter((i) => i.label === 1).length },
    seconds: (performance.now() - started) / 1000,
  };
}

export type OperatingPoint = { kind: 'max-fpr'; value: number } | { kind: 'min-recall'; value: number } | { kind: 'threshold'; value: number };

/** The threshold for an operating point on a ROC curve (points in order of falling threshold). */
export function thresholdFor(point: OperatingPoint, roc: ReadonlyArray<{ fpr: number; tpr: number; threshold: number }>): { threshold: number; fpr: number; tpr: number } {
  if (point.kind === 'threshold') {
    if (!(point.value >= 0 && point.value <= 1)) throw new TrainingError('BAD_OPTIONS', 'A threshold is a probability from 0 to 1');
    const at = roc.filter((p) => p.threshold >= point.value).at(-1) ?? roc[0];
    return { threshold: point.value, fpr: at.fpr, tpr: at.tpr };
  }
  if (!(point.value >= 0 && point.value <= 1)) throw new TrainingError('BAD_OPTIONS', `${point.kind} is a rate from 0 to 1`);
  const candidates = roc.filter((p) => Number.isFinite(p.threshold) && (point.kind === 'max-fpr' ? p.fpr <= point.value + 1e-12 : p.tpr >= point.value - 1e-12));
  if (candidates.length === 0) {
    throw new TrainingError(
      'BAD_OPTIONS',
      point.kind === 'max-fpr'
        ? `No threshold on the validation ROC keeps FPR at or below ${point.value} except one above every score, which would call nothing synthetic; allow a larger FPR`
        : `No threshold on the validation ROC reaches recall ${point.value}`,
    );
  }
  // FPR ≤ x: the most synthetic images caught within it; recall ≥ y: the fewest false alarms.
  const best = point.kind === 'max-fpr' ? candidates.reduce((a, b) => (b.tpr > a.tpr ? b : a)) : candidates.reduce((a, b) => (b.fpr < a.fpr ? b : a));
  return { threshold: Math.min(1, Math.max(0, best.threshold)), fpr: best.fpr, tpr: best.tpr };
}

const describePoint = (p: OperatingPoint) => (p.kind === 'max-fpr' ? `FPR ≤ ${p.value}` : p.kind === 'min-recall' ? `recall ≥ ${p.value}` : `threshold ${p.value}`);

/**
 * A new model version of `modelId` at another operating point: the threshold is chosen on the
 * validation split, test metrics are recomputed at it, and a new card (derivedFrom the old one)
 * is registered with the same detector file. Audited.
 */
export async function saveThresholdVersion(
  options: { dataDir: string; store: CaseStore; actor: string; modelId: string; point: OperatingPoint; datasetDir?: string; newId?: string; repoRoot?: string },
  hooks: { signal?: AbortSignal; onProgress?: (done: number, total: number, message: string) => void } = {},
) {
  const registry = new ModelRegistry({ dataDir: options.dataDir, repoRoot: options.repoRoot });
  const model = await registry.resolve(options.modelId);
  const val = await scoreSplit(model, options.datasetDir, 'val', { signal: hooks.signal, onProgress: (d, t) => hooks.onProgress?.(d, t, 'scoring validation') });
  const labels = val.items.map((i) => i.label);
  const chosen = thresholdFor(options.point, computeRocCurve(labels, val.scores, generatorBalancedWeights(val.items)));
  const test = await scoreSplit(model, val.dir, 'test', { signal: hooks.signal, onProgress: (d, t) => hooks.onProgress?.(d, t, 'scoring test') });
  if (hooks.signal?.aborted) throw new TrainingError('CANCELLED', 'cancelled');
  const valAt = evaluateScores(val.items, val.scores, chosen.threshold);
  const testAt = evaluateScores(test.items, test.scores, chosen.threshold);
  const pick = (m: BinaryMetrics) => ({ precision: m.precision, recall: m.recall, f1: m.f1, accuracy: m.accuracy, ap: m.ap, rocAuc: m.rocAuc, fpr: m.fpr, fnr: m.fnr, confusion: m.confusion, n: m.n, weighted: m.weighted });
  const groups = (rows: GroupMetrics[]) => rows.map((r) => ({ group: r.group, class: r.groupClass, images: r.groupCount, rocAuc: r.metrics.rocAuc, accuracy: r.metrics.accuracy, recall: r.metrics.recall, fpr: r.metrics.fpr }));
  const base = model.id.replace(/-t\d{3,4}$/, '');
  const newId = options.newId ?? `${base}-t${String(Math.round(chosen.threshold * 1000)).padStart(3, '0')}`.slice(0, 80);
  const detector = await fsp.readFile(model.detectorPath);
  const { createdAt: _old, ...card } = model.card;
  const registered = await registry.register({
    detector,
    card: {
      ...card,
      id: newId,
      name: `${model.card.name ?? model.id} at ${describePoint(options.point)}`,
      createdBy: options.actor,
      threshold: chosen.threshold,
      thresholdSelection: { chosenOn: 'val', criterion: options.point.kind, target: options.point.value, tpr: chosen.tpr, fpr: chosen.fpr },
      metrics: {
        ...model.card.metrics,
        test: pick(testAt.metrics),
        val: pick(valAt.metrics),
        testPerGenerator: groups(testAt.perGenerator),
        testPerModality: groups(testAt.perModality),
        evaluatedOn: val.dir,
      },
      derivedFrom: { id: model.id, sha256: model.card.sha256, threshold: model.card.threshold },
    },
  });
  const headFile = path.join(path.dirname(model.cardPath), 'head-weights.json');
  if (model.source === 'user' && fs.existsSync(headFile)) await fsp.copyFile(headFile, path.join(path.dirname(registered.cardPath), 'head-weights.json'));
  options.store.recordModelEvent(
    'model.threshold-version',
    { id: registered.id, sha256: registered.card.sha256, from: { id: model.id, threshold: model.card.threshold }, threshold: chosen.threshold, operatingPoint: options.point },
    options.actor,
  );
  return { modelId: registered.id, threshold: chosen.threshold, val: pick(valAt.metrics), test: pick(testAt.metrics) };
}
