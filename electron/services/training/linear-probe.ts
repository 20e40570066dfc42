// A linear probe on cached backbone features: L2-regularised, class-balanced logistic regression on
// standardised features, fitted by full-batch L-BFGS. It is convex, so the same data always gives
// the same weights (the paper's head moves by more between two seeds than most of what the folds
// compare). It exports as a paper head of two units: relu(s) − relu(−s) = s, with BatchNorm as the
// identity, so fusion, the engine and the explainers take it unchanged.
import type { HeadWeights } from './head-trainer';
import { TrainingError } from './training-errors';

export interface ProbeData {
  dim: number;
  /** Standardised rows of every view, stacked: rows × dim. */
  x: Float32Array;
  labels: Uint8Array;
  /** Row weights (already class-balanced), summing to anything positive. */
  weights: Float32Array;
}

export interface LinearProbeFit {
  /** Weights on the standardised features, and the intercept. */
  w: Float64Array;
  b: number;
  iterations: number;
  /** The regularised objective at the solution. */
  objective: number;
}

const softplus = (z: number) => (z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z)));

/** Weighted mean logistic loss + (l2/2)·‖w‖² and its gradient (the intercept is not penalised). */
function objectiveAndGradient(data: ProbeData, l2: number, theta: Float64Array, grad: Float64Array, z: Float64Array): number {
  const d = data.dim;
  const n = data.labels.length;
  const { x, labels, weights } = data;
  let total = 0;
  for (let i = 0; i < n; i++) total += weights[i];
  const b = theta[d];
  let loss = 0;
  for (let i = 0; i < n; i++) {
    const o = i * d;
    let s = b;
    for (let j = 0; j < d; j++) s += x[o + j] * theta[j];
    z[i] = s;
    loss += weights[i] * (softplus(s) - (labels[i] ? s : 0));
  }
  grad.fill(0);
  for (let i = 0; i < n; i++) {
    const r = (weights[i] / total) * (1 / (1 + Math.exp(-z[i])) - labels[i]);
    if (r === 0) continue;
    const o = i * d;
    for (let j = 0; j < d; j++) grad[j] += r * x[o + j];
    grad[d] += r;
  }
  let penalty = 0;
  for (let j = 0; j < d; j++) {
    penalty += theta[j] * theta[j];
    grad[j] += l2 * theta[j];
  }
  return loss / total + 0.5 * l2 * penalty;
}

const dot = (a: Float64Array, b: Float64Array) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};

/** L-BFGS (two-loop recursion, memory 10) with a backtracking Armijo line search. */
export function fitLinearProbe(data: ProbeData, l2: number, options: { maxIterations?: number; tolerance?: number; signal?: AbortSignal } = {}): LinearProbeFit {
  if (!(l2 > 0)) throw new TrainingError('BAD_OPTIONS', 'the linear probe needs an L2 strength above 0');
  const d = data.dim;
  const n = data.labels.length;
  if (data.x.length !== n * d || data.weights.length !== n) throw new TrainingError('BAD_FEATURES', 'linear probe: rows, labels and weights disagree');
  const maxIterations = options.maxIterations ?? 500;
  const tolerance = options.tolerance ?? 1e-6;
  const m = 10;
  const theta = new Float64Array(d + 1);
  const grad = new Float64Array(d + 1);
  const z = new Float64Array(n);
  let f = objectiveAndGradient(data, l2, theta, grad, z);
  const S: Float64Array[] = [];
  const Y: Float64Array[] = [];
  const dir = new Float64Array(d + 1);
  const trial = new Float64Array(d + 1);
  const trialGrad = new Float64Array(d + 1);
  let it = 0;
  for (; it < maxIterations; it++) {
    if (options.signal?.aborted) throw new TrainingError('CANCELLED', 'training was cancelled');
    const gnorm = Math.sqrt(dot(grad, grad));
    if (gnorm < tolerance) break;
    // Two-loop recursion: dir = −H·grad.
    dir.set(grad);
    const alpha = new Array<number>(S.length);
    for (let k = S.length - 1; k >= 0; k--) {
      alpha[k] = dot(S[k], dir) / dot(Y[k], S[k]);
      for (let j = 0; j <= d; j++) dir[j] -= alpha[k] * Y[k][j];
    }
    const gamma = S.length ? dot(S[S.length - 1], Y[Y.length - 1]) / dot(Y[Y.length - 1], Y[Y.length - 1]) : 1 / Math.max(gnorm, 1);
    for (let j = 0; j <= d; j++) dir[j] *= gamma;
    for (let k = 0; k < S.length; k++) {
      const beta = dot(Y[k], dir) / dot(Y[k], S[k]);
      for (let j = 0; j <= d; j++) dir[j] += S[k][j] * (alpha[k] - beta);
    }
    for (let j = 0; j <= d; j++) dir[j] = -dir[j];
    let slope = dot(grad, dir);
    if (!(slope < 0)) {
      // Not a descent direction (curvature lost): restart from the gradient.
      S.length = 0;
      Y.length = 0;
      for (let j = 0; j <= d; j++) dir[j] = -grad[j] / Math.max(gnorm, 1);
      slope = dot(grad, dir);
    }
    let step = 1;
    let fNew = Infinity;
    for (let tries = 0; tries < 40; tries++) {
      for (let j = 0; j <= d; j++) trial[j] = theta[j] + step * dir[j];
      fNew = objectiveAndGradient(data, l2, trial, trialGrad, z);
      if (fNew <= f + 1e-4 * step * slope) break;
      step *= 0.5;
    }
    if (!(fNew <= f + 1e-4 * step * slope)) break;
    const s = new Float64Array(d + 1);
    const y = new Float64Array(d + 1);
    for (let j = 0; j <= d; j++) {
      s[j] = trial[j] - theta[j];
      y[j] = trialGrad[j] - grad[j];
    }
    if (dot(s, y) > 1e-12) {
      S.push(s);
      Y.push(y);
      if (S.length > m) {
        S.shift();
        Y.shift();
      }
    }
    theta.set(trial);
    grad.set(trialGrad);
    const improvement = f - fNew;
    f = fNew;
    if (improvement < tolerance * Math.max(1, Math.abs(f)) * 1e-3) break;
  }
  if (!Number.isFinite(f)) throw new TrainingError('DIVERGED', 'the linear probe did not converge to a finite loss');
  return { w: theta.subarray(0, d), b: theta[d], iterations: it, objective: f };
}

/**
 * The fitted probe as a paper head of two units on RAW features: the standardisation folded into
 * the first dense layer, its two units +s and −s, BatchNorm the identity (variance 1 − ε), and the
 * last layer +1 / −1, so the head's logit is s exactly.
 */
export function probeAsPaperHead(fit: LinearProbeFit, mean: Float32Array, std: Float32Array): HeadWeights {
  const d = mean.length;
  const kernel = new Float32Array(d * 2);
  let bias = fit.b;
  for (let j = 0; j < d; j++) {
    const w = fit.w[j] / std[j];
    kernel[j * 2] = w;
    kernel[j * 2 + 1] = -w;
    bias -= w * mean[j];
  }
  const epsilon = 1e-3;
  return {
    inputDim: d,
    dense1: { kernel, bias: Float32Array.of(bias, -bias), units: 2 },
    bn: { gamma: Float32Array.of(1, 1), beta: Float32Array.of(0, 0), movingMean: Float32Array.of(0, 0), movingVariance: Float32Array.of(1 - epsilon, 1 - epsilon), epsilon },
    dense2: { kernel: Float32Array.of(1, -1), bias: Float32Array.of(0) },
  };
}
