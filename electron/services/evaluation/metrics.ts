// Binary detection metrics for "is this image synthetic?": label 1 = synthetic (positive), 0 = real.
// Scores are p(synthetic); an image is predicted synthetic when score >= threshold.
// AP and ROC-AUC follow scikit-learn (average_precision_score, roc_auc_score) so numbers can be
// compared with the paper's tables and with any Python re-check. Metrics that a set cannot define
// (ROC-AUC of a one-class set, precision with nothing predicted positive) are null with a reason,
// never NaN, so reports and JSON stay honest.

export type MetricsErrorCode =
  | 'EMPTY'
  | 'LENGTH_MISMATCH'
  | 'BAD_LABEL'
  | 'BAD_SCORE'
  | 'BAD_WEIGHT'
  | 'BAD_THRESHOLD'
  | 'SINGLE_CLASS'
  | 'BAD_OPTIONS';

export class MetricsInputError extends Error {
  constructor(
    readonly code: MetricsErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'MetricsInputError';
  }
}

export type BinaryLabel = 0 | 1;

export const METRIC_NAMES = ['precision', 'recall', 'f1', 'accuracy', 'ap', 'rocAuc', 'fpr', 'fnr'] as const;
export type MetricName = (typeof METRIC_NAMES)[number];

export interface ConfusionMatrix {
  /** Synthetic predicted synthetic. */
  tp: number;
  /** Real predicted synthetic. */
  fp: number;
  /** Real predicted real. */
  tn: number;
  /** Synthetic predicted real. */
  fn: number;
}

export interface BinaryMetrics {
  threshold: number;
  n: number;
  positives: number;
  negatives: number;
  /** Image counts, whatever the weights. */
  confusion: ConfusionMatrix;
  /** Sums of sample weights per cell; present only when weights were given. */
  weightedConfusion?: ConfusionMatrix;
  weighted: boolean;
  precision: number | null;
  recall: number | null;
  f1: number | null;
  accuracy: number | null;
  ap: number | null;
  rocAuc: number | null;
  fpr: number | null;
  fnr: number | null;
  /** Why a metric is null, for every null metric. */
  undefinedReasons: Partial<Record<MetricName, string>>;
}

export interface RocPoint {
  fpr: number;
  tpr: number;
  /** Scores >= threshold are predicted synthetic; the first point has threshold Infinity. */
  threshold: number;
}

export interface PrPoint {
  precision: number;
  recall: number;
  /** The last point (recall 0, precision 1) has threshold Infinity, as sklearn's closing point. */
  threshold: number;
}

function validateInputs(labels: ArrayLike<number>, scores: ArrayLike<number>, weights?: ArrayLike<number>): void {
  if (labels.length !== scores.length) {
    throw new MetricsInputError('LENGTH_MISMATCH', `${labels.length} labels but ${scores.length} scores`);
  }
  if (weights && weights.length !== labels.length) {
    throw new MetricsInputError('LENGTH_MISMATCH', `${labels.length} labels but ${weights.length} weights`);
  }
  if (labels.length === 0) throw new MetricsInputError('EMPTY', 'No samples to evaluate');
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] !== 0 && labels[i] !== 1) {
      throw new MetricsInputError('BAD_LABEL', `Label at index ${i} is ${labels[i]}; labels must be 0 (real) or 1 (synthetic)`);
    }
    if (typeof scores[i] !== 'number' || !Number.isFinite(scores[i])) {
      throw new MetricsInputError('BAD_SCORE', `Score at index ${i} is ${scores[i]}; scores must be finite numbers`);
    }
    if (weights && (typeof weights[i] !== 'number' || !Number.isFinite(weights[i]) || weights[i] < 0)) {
      throw new MetricsInputError('BAD_WEIGHT', `Weight at index ${i} is ${weights[i]}; weights must be finite and >= 0`);
    }
  }
  if (weights) {
    let total = 0;
    for (let i = 0; i < weights.length; i++) total += weights[i];
    if (total <= 0) throw new MetricsInputError('BAD_WEIGHT', 'All sample weights are zero');
  }
}

/**
 * Cumulative (weighted) true and false positives at each distinct score, from the highest score
 * down: the same walk as sklearn's _binary_clf_curve.
 */
interface ClfCurve {
  thresholds: number[];
  tps: number[];
  fps: number[];
  totalPositive: number;
  totalNegative: number;
}

function binaryClfCurve(labels: ArrayLike<number>, scores: ArrayLike<number>, weights?: ArrayLike<number>): ClfCurve {
  const order = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[b] - scores[a]);
  const thresholds: number[] = [];
  const tps: number[] = [];
  const fps: number[] = [];
  let tp = 0;
  let fp = 0;
  for (let k = 0; k < order.length; k++) {
    const i = order[k];
    const w = weights ? weights[i] : 1;
    if (labels[i] === 1) tp += w;
    else fp += w;
    // One point per distinct score: ties move together, which is what gives tied scores half credit.
    const next = order[k + 1];
    if (next === undefined || scores[next] !== scores[i]) {
      thresholds.push(scores[i]);
      tps.push(tp);
      fps.push(fp);
    }
  }
  return { thresholds, tps, fps, totalPositive: tp, totalNegative: fp };
}

/** ROC curve points at every distinct score, starting at (0, 0) with threshold Infinity. */
export function computeRocCurve(labels: ArrayLike<number>, scores: ArrayLike<number>, weights?: ArrayLike<number>): RocPoint[] {
  validateInputs(labels, scores, weights);
  const c = binaryClfCurve(labels, scores, weights);
  if (c.totalPositive <= 0 || c.totalNegative <= 0) {
    throw new MetricsInputError('SINGLE_CLASS', 'A ROC curve needs both real and synthetic samples (with non-zero weight)');
  }
  const points: RocPoint[] = [{ fpr: 0, tpr: 0, threshold: Infinity }];
  for (let k = 0; k < c.thresholds.length; k++) {
    points.push({ fpr: c.fps[k] / c.totalNegative, tpr: c.tps[k] / c.totalPositive, threshold: c.thresholds[k] });
  }
  return points;
}

/**
 * Precision-recall points from the lowest distinct threshold (recall 1) to the closing point
 * (recall 0, precision 1), the order sklearn's precision_recall_curve returns.
 */
export function computePrCurve(labels: ArrayLike<number>, scores: ArrayLike<number>, weights?: ArrayLike<number>): PrPoint[] {
  validateInputs(labels, scores, weights);
  const c = binaryClfCurve(labels, scores, weights);
  if (c.totalPositive <= 0) {
    throw new MetricsInputError('SINGLE_CLASS', 'A precision-recall curve needs synthetic samples (with non-zero weight)');
  }
  const points: PrPoint[] = [];
  for (let k = c.thresholds.length - 1; k >= 0; k--) {
    const predicted = c.tps[k] + c.fps[k];
    points.push({
      precision: predicted > 0 ? c.tps[k] / predicted : 1,
      recall: c.tps[k] / c.totalPositive,
      threshold: c.thresholds[k],
    });
  }
  points.push({ precision: 1, recall: 0, threshold: Infinity });
  return points;
}

/** Area under the ROC curve by the trapezoid rule over distinct thresholds (= Mann-Whitney U with half credit for ties). */
function rocAucFromCurve(c: ClfCurve): number {
  let area = 0;
  let prevFpr = 0;
  let prevTpr = 0;
  for (let k = 0; k < c.thresholds.length; k++) {
    const fpr = c.fps[k] / c.totalNegative;
    const tpr = c.tps[k] / c.totalPositive;
    area += ((fpr - prevFpr) * (tpr + prevTpr)) / 2;
    prevFpr = fpr;
    prevTpr = tpr;
  }
  return area;
}

/** Step-wise average precision: sum over distinct thresholds of (R_k - R_{k-1}) * P_k, no interpolation. */
function averagePrecisionFromCurve(c: ClfCurve): number {
  let ap = 0;
  let prevRecall = 0;
  for (let k = 0; k < c.thresholds.length; k++) {
    const recall = c.tps[k] / c.totalPositive;
    const precision = c.tps[k] / (c.tps[k] + c.fps[k]);
    ap += (recall - prevRecall) * precision;
    prevRecall = recall;
  }
  return ap;
}

/** ROC-AUC alone; null when one class is missing (computeBinaryMetrics also says why). */
export function computeRocAuc(labels: ArrayLike<number>, scores: ArrayLike<number>, weights?: ArrayLike<number>): number | null {
  validateInputs(labels, scores, weights);
  const c = binaryClfCurve(labels, scores, weights);
  return c.totalPositive > 0 && c.totalNegative > 0 ? rocAucFromCurve(c) : null;
}

/** Average precision alone; null when there are no synthetic images. */
export function computeAveragePrecision(labels: ArrayLike<number>, scores: ArrayLike<number>, weights?: ArrayLike<number>): number | null {
  validateInputs(labels, scores, weights);
  const c = binaryClfCurve(labels, scores, weights);
  return c.totalPositive > 0 ? averagePrecisionFromCurve(c) : null;
}

export function computeConfusion(
  labels: ArrayLike<number>,
  scores: ArrayLike<number>,
  threshold: number,
  weights?: ArrayLike<number>,
): ConfusionMatrix {
  validateInputs(labels, scores, weights);
  if (typeof threshold !== 'number' || Number.isNaN(threshold)) {
    throw new MetricsInputError('BAD_THRESHOLD', `Threshold ${threshold} is not a number`);
  }
  const m: ConfusionMatrix = { tp: 0, fp: 0, tn: 0, fn: 0 };
  for (let i = 0; i < labels.length; i++) {
    const w = weights ? weights[i] : 1;
    const predictedSynthetic = scores[i] >= threshold;
    if (labels[i] === 1) {
      if (predictedSynthetic) m.tp += w;
      else m.fn += w;
    } else if (predictedSynthetic) m.fp += w;
    else m.tn += w;
  }
  return m;
}

export interface BinaryMetricsOptions {
  threshold: number;
  /** Sample weights (e.g. generatorBalancedWeights) so each generator, not each tile, counts. */
  weights?: ArrayLike<number>;
}

/** The paper's eight metrics plus the confusion matrix, at one threshold. */
export function computeBinaryMetrics(labels: ArrayLike<number>, scores: ArrayLike<number>, options: BinaryMetricsOptions): BinaryMetrics {
  const { threshold, weights } = options;
  const confusion = computeConfusion(labels, scores, threshold);
  const w = weights ? computeConfusion(labels, scores, threshold, weights) : confusion;
  const c = binaryClfCurve(labels, scores, weights);
  const reasons: Partial<Record<MetricName, string>> = {};
  const ratio = (num: number, den: number, name: MetricName, why: string): number | null => {
    if (den > 0) return num / den;
    reasons[name] = why;
    return null;
  };
  const hasPositives = w.tp + w.fn > 0;
  const hasNegatives = w.fp + w.tn > 0;
  const precision = ratio(w.tp, w.tp + w.fp, 'precision', 'no image was predicted synthetic at this threshold');
  const recall = ratio(w.tp, w.tp + w.fn, 'recall', 'the set has no synthetic images');
  // 2TP / (2TP + FP + FN) equals the harmonic mean where both exist and is 0 (not undefined) when
  // synthetic images exist but none was flagged.
  const f1 = ratio(2 * w.tp, 2 * w.tp + w.fp + w.fn, 'f1', 'the set has no synthetic images and none was predicted synthetic');
  const accuracy = ratio(w.tp + w.tn, w.tp + w.tn + w.fp + w.fn, 'accuracy', 'all sample weights are zero');
  const fpr = ratio(w.fp, w.fp + w.tn, 'fpr', 'the set has no real images');
  const fnr = ratio(w.fn, w.fn + w.tp, 'fnr', 'the set has no synthetic images');
  let ap: number | null = null;
  let rocAuc: number | null = null;
  if (hasPositives) ap = averagePrecisionFromCurve(c);
  else reasons.ap = 'average precision needs synthetic images';
  if (hasPositives && hasNegatives) rocAuc = rocAucFromCurve(c);
  else reasons.rocAuc = `ROC-AUC needs both classes; the set has only ${hasPositives ? 'synthetic' : 'real'} images`;
  return {
    threshold,
    n: labels.length,
    positives: confusion.tp + confusion.fn,
    negatives: confusion.fp + confusion.tn,
    confusion,
    ...(weights ? { weightedConfusion: w } : {}),
    weighted: weights !== undefined,
    precision,
    recall,
    f1,
    accuracy,
    ap,
    rocAuc,
    fpr,
    fnr,
    undefinedReasons: reasons,
  };
}

export type ThresholdCriterion = 'youden' | 'f1';

export interface ThresholdSelection {
  threshold: number;
  criterion: ThresholdCriterion;
  /** Youden's J (= TPR - FPR = 2 × balanced accuracy - 1) or F1 at the chosen threshold, on the set it was chosen on. */
  value: number;
  tpr: number;
  fpr: number;
}

/**
 * Picks the decision threshold on a VALIDATION set (never test). Default criterion: Youden's J,
 * i.e. maximum balanced accuracy, because the splits and generators are unevenly sized and J does
 * not depend on the class ratio. The threshold is placed midway between the two neighbouring
 * distinct scores, so it sits in the gap rather than on a validation score; among equally good
 * gaps the one whose threshold is nearest 0.5 (the sigmoid's natural boundary) wins.
 */
export function selectThreshold(
  labels: ArrayLike<number>,
  scores: ArrayLike<number>,
  options: { criterion?: ThresholdCriterion; weights?: ArrayLike<number> } = {},
): ThresholdSelection {
  const criterion = options.criterion ?? 'youden';
  if (criterion !== 'youden' && criterion !== 'f1') {
    throw new MetricsInputError('BAD_OPTIONS', `Unknown threshold criterion "${criterion as string}" (use youden or f1)`);
  }
  validateInputs(labels, scores, options.weights);
  const c = binaryClfCurve(labels, scores, options.weights);
  if (c.totalPositive <= 0 || c.totalNegative <= 0) {
    throw new MetricsInputError('SINGLE_CLASS', 'Choosing a threshold needs both real and synthetic images in the validation set');
  }
  let best: ThresholdSelection | null = null;
  for (let k = 0; k < c.thresholds.length; k++) {
    const tpr = c.tps[k] / c.totalPositive;
    const fpr = c.fps[k] / c.totalNegative;
    const value = criterion === 'youden' ? tpr - fpr : (2 * c.tps[k]) / (c.tps[k] + c.fps[k] + c.totalPositive);
    const here = c.thresholds[k];
    const below = c.thresholds[k + 1];
    let threshold = here;
    if (below !== undefined) {
      const mid = here / 2 + below / 2;
      if (mid > below && mid <= here) threshold = mid;
    }
    const better =
      best === null ||
      value > best.value + 1e-12 ||
      (Math.abs(value - best.value) <= 1e-12 && Math.abs(threshold - 0.5) < Math.abs(best.threshold - 0.5));
    if (better) best = { threshold, criterion, value, tpr, fpr };
  }
  return best as ThresholdSelection;
}
