// The detector head in float64 JS: forward, exact gradient and channel ablation. The head is
// GAP → Dense+ReLU → BatchNorm → Dense(1) → sigmoid, so d(score)/d(features) has a closed form and
// is the same at every spatial position (the GAP spreads it evenly).
import { ExplainError } from './explain-errors';
import type { ExplainTarget, FeatureMap, HeadParams } from './explain-types';

export interface HeadForward {
  z1: Float64Array; // dense1 pre-activation
  logit: number;
  pSynthetic: number;
}

export function headChannels(head: HeadParams): number {
  return head.dense1.kernel.length / head.dense1.units;
}

export function checkHead(head: HeadParams, channels: number): void {
  const units = head.dense1.units;
  const problems: string[] = [];
  if (!Number.isInteger(units) || units <= 0) problems.push(`dense1.units=${units}`);
  if (head.dense1.kernel.length !== channels * units) problems.push(`dense1.kernel has ${head.dense1.kernel.length} values, expected ${channels}×${units}`);
  if (head.dense1.bias.length !== units) problems.push('dense1.bias length');
  for (const k of ['gamma', 'beta', 'movingMean', 'movingVariance'] as const) {
    if (head.bn[k].length !== units) problems.push(`bn.${k} length`);
  }
  if (head.dense2.kernel.length !== units) problems.push('dense2.kernel length');
  if (head.dense2.bias?.length !== 1) problems.push('dense2.bias length');
  if (problems.length) throw new ExplainError('EXPLAIN_MODEL_MISMATCH', `Head does not fit a ${channels}-channel feature map: ${problems.join(', ')}`);
}

function dense2Bias(head: HeadParams): number {
  return head.dense2.bias[0];
}

/** Per-unit factor of the BatchNorm (gamma / sqrt(var + eps)), float64. */
function bnScale(head: HeadParams): Float64Array {
  const { gamma, movingVariance, epsilon } = head.bn;
  const s = new Float64Array(gamma.length);
  for (let u = 0; u < s.length; u++) s[u] = gamma[u] / Math.sqrt(movingVariance[u] + epsilon);
  return s;
}

export function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

export function targetScore(pSynthetic: number, target: ExplainTarget): number {
  return target.class === 'synthetic' ? pSynthetic : 1 - pSynthetic;
}

/** Spatial mean of each channel. */
export function globalAveragePool(map: FeatureMap): Float64Array {
  const { height, width, channels, data } = map;
  const pooled = new Float64Array(channels);
  const n = height * width;
  for (let i = 0; i < n; i++) {
    const o = i * channels;
    for (let c = 0; c < channels; c++) pooled[c] += data[o + c];
  }
  for (let c = 0; c < channels; c++) pooled[c] /= n;
  return pooled;
}

function logitFromZ1(head: HeadParams, z1: Float64Array, scale: Float64Array): number {
  const { beta, movingMean } = head.bn;
  const w2 = head.dense2.kernel;
  let logit = dense2Bias(head);
  for (let u = 0; u < z1.length; u++) {
    const a = z1[u] > 0 ? z1[u] : 0;
    logit += (scale[u] * (a - movingMean[u]) + beta[u]) * w2[u];
  }
  return logit;
}

/**
 * `context`: what the head's other inputs add to dense1's output for this image (a head that also
 * reads pooled maps of other layers; those stay fixed while the explained map is varied), or none.
 */
export function headForward(head: HeadParams, pooled: ArrayLike<number>, context?: ArrayLike<number>): HeadForward {
  const units = head.dense1.units;
  const channels = pooled.length;
  const w1 = head.dense1.kernel;
  const z1 = new Float64Array(units);
  if (context && context.length !== units) throw new ExplainError('EXPLAIN_MODEL_MISMATCH', `head context has ${context.length} values for ${units} units`);
  for (let u = 0; u < units; u++) z1[u] = head.dense1.bias[u] + (context ? context[u] : 0);
  for (let c = 0; c < channels; c++) {
    const g = pooled[c];
    if (g === 0) continue;
    const row = c * units;
    for (let u = 0; u < units; u++) z1[u] += g * w1[row + u];
  }
  const logit = logitFromZ1(head, z1, bnScale(head));
  return { z1, logit, pSynthetic: sigmoid(logit) };
}

/** d(target score)/d(pooled feature), exact. Divide by h·w for d/d(feature map) at any position. */
export function headGradientWrtPooled(head: HeadParams, pooled: ArrayLike<number>, target: ExplainTarget, context?: ArrayLike<number>): { gradient: Float64Array; pSynthetic: number } {
  const { z1, pSynthetic } = headForward(head, pooled, context);
  const units = head.dense1.units;
  const scale = bnScale(head);
  const dScoreDLogit = (target.class === 'synthetic' ? 1 : -1) * pSynthetic * (1 - pSynthetic);
  const dz1 = new Float64Array(units);
  for (let u = 0; u < units; u++) dz1[u] = z1[u] > 0 ? dScoreDLogit * head.dense2.kernel[u] * scale[u] : 0;
  const channels = pooled.length;
  const gradient = new Float64Array(channels);
  const w1 = head.dense1.kernel;
  for (let c = 0; c < channels; c++) {
    const row = c * units;
    let s = 0;
    for (let u = 0; u < units; u++) s += w1[row + u] * dz1[u];
    gradient[c] = s;
  }
  return { gradient, pSynthetic };
}

/**
 * Target score of the head with each channel of the feature map set to zero in turn. Zeroing a
 * channel of the map zeroes its pooled value, so each ablation is one rank-one update of dense1's
 * output: the same numbers as running the head on C ablated maps, at C·units instead of C²·units.
 */
export function ablatedHeadScores(head: HeadParams, pooled: ArrayLike<number>, target: ExplainTarget, context?: ArrayLike<number>): Float64Array {
  const { z1 } = headForward(head, pooled, context);
  const scale = bnScale(head);
  const units = head.dense1.units;
  const w1 = head.dense1.kernel;
  const channels = pooled.length;
  const scores = new Float64Array(channels);
  const z = new Float64Array(units);
  for (let c = 0; c < channels; c++) {
    const g = pooled[c];
    const row = c * units;
    for (let u = 0; u < units; u++) z[u] = z1[u] - g * w1[row + u];
    scores[c] = targetScore(sigmoid(logitFromZ1(head, z, scale)), target);
  }
  return scores;
}

/**
 * The rows of a head that reads several pooled maps concatenated ([rows, units] kernel) that belong
 * to one of them: with the others' contribution passed as `context`, the same head on that map alone.
 */
export function headRowsOf(head: HeadParams, firstRow: number, rows: number): HeadParams {
  const units = head.dense1.units;
  const total = head.dense1.kernel.length / units;
  if (!(Number.isInteger(firstRow) && Number.isInteger(rows) && firstRow >= 0 && rows > 0 && firstRow + rows <= total)) {
    throw new ExplainError('EXPLAIN_MODEL_MISMATCH', `rows ${firstRow}..${firstRow + rows} do not lie in a head of ${total} inputs`);
  }
  return { ...head, dense1: { ...head.dense1, kernel: head.dense1.kernel.slice(firstRow * units, (firstRow + rows) * units) } };
}
