// The paper's classification head (Dense+ReLU → BatchNorm → Dropout → Dense+sigmoid) trained on
// cached backbone features. A hand-written training loop rather than `model.fit`, because tfjs-layers
// has no per-sample weights, and we need per-batch progress, cancel between batches and a
// best-val-loss checkpoint that exports straight into the fusion format.
import { loadTf, type Tf } from './tf-runtime';
import { createRng, gaussian } from '../common/seeded-random';
import { TrainingError } from './training-errors';
import { fitLinearProbe, probeAsPaperHead } from './linear-probe';

/** Exactly what the ONNX fusion consumes. Kernels are row-major [in, out] as in Keras. */
export interface HeadWeights {
  inputDim: number;
  dense1: { kernel: Float32Array; bias: Float32Array; units: number };
  bn: { gamma: Float32Array; beta: Float32Array; movingMean: Float32Array; movingVariance: Float32Array; epsilon: number };
  dense2: { kernel: Float32Array; bias: Float32Array };
}

/**
 * One labelled feature matrix. `views[0]` holds the plain features; further views hold the same
 * samples under augmentation (horizontal flip, re-compression...). Each epoch draws one view per
 * sample, which is what on-the-fly augmentation does for a frozen backbone.
 */
export interface FeatureSet {
  dim: number;
  views: Float32Array[];
  labels: Uint8Array;
  weights: Float32Array;
  /** Experiments: each sample's group (0…G−1) for group DRO (`groupDroStep`). */
  groups?: Int32Array;
}

export type OptimizerName = 'adam' | 'rmsprop';

export interface HeadTrainingOptions {
  hiddenUnits?: number;
  dropout?: number;
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  optimizer?: OptimizerName;
  /** Reduce-on-plateau of the validation loss. */
  plateauFactor?: number;
  plateauPatience?: number;
  minLearningRate?: number;
  /** Keras' 0.99 assumes thousands of steps; a few hundred steps need a faster moving average. */
  bnMomentum?: number;
  l2?: number;
  seed?: number;
  /**
   * Train this many heads (seeds seed, seed+1, ...) and average their logits. The average is exactly
   * one paper head of `ensemble × hiddenUnits` units (every unit is independent up to the last dense
   * layer, whose weights are scaled by 1/ensemble), so export, fusion and explainers are unchanged.
   */
  ensemble?: number;
  /**
   * Fit a linear probe instead (linear-probe.ts): logistic regression on the standardised features
   * with this L2 strength, exported as a two-unit paper head. 0 = the paper's head.
   */
  linearProbeL2?: number;
  /** Gaussian noise of this standard deviation added to the standardised training features (0 = none). */
  inputNoise?: number;
  /**
   * Group DRO (Sagawa et al. 2020), with the training set's `groups`: the loss is Σ q_g·L_g over the
   * batch's groups, and after each batch q_g ← q_g·exp(step·L_g), renormalised, so the worst-fitted
   * groups weigh more. 0 = off.
   */
  groupDroStep?: number;
}

export interface TrainingProgress {
  kind: 'batch' | 'epoch';
  epoch: number;
  epochs: number;
  batch?: number;
  batches?: number;
  loss: number;
  valLoss?: number;
  accuracy?: number;
  valAccuracy?: number;
  learningRate: number;
  improved?: boolean;
  /** Which head of an ensemble is training (1-based), and how many there are. */
  member?: number;
  members?: number;
}

export interface EpochRecord {
  epoch: number;
  loss: number;
  valLoss: number;
  accuracy: number;
  valAccuracy: number;
  learningRate: number;
}

export interface HeadTrainingResult {
  weights: HeadWeights;
  bestEpoch: number;
  bestValLoss: number;
  history: EpochRecord[];
  seconds: number;
  backend: string;
  /** One entry per head of an ensemble (absent for a single head). */
  members?: Array<{ seed: number; bestEpoch: number; bestValLoss: number }>;
}

export interface TrainingHooks {
  onProgress?: (p: TrainingProgress) => void;
  signal?: AbortSignal;
}

export const defaultHeadOptions: Required<HeadTrainingOptions> = {
  hiddenUnits: 256,
  dropout: 0.5,
  epochs: 20,
  batchSize: 64,
  learningRate: 1e-3,
  optimizer: 'adam',
  plateauFactor: 0.5,
  plateauPatience: 2,
  minLearningRate: 1e-6,
  bnMomentum: 0.9,
  l2: 0,
  seed: 1,
  ensemble: 1,
  linearProbeL2: 0,
  inputNoise: 0,
  groupDroStep: 0,
};

export function validateFeatureSet(set: FeatureSet, name: string): void {
  const n = set.labels.length;
  if (!(set.dim > 0) || set.views.length === 0) throw new TrainingError('BAD_FEATURES', `${name}: no features`);
  for (const v of set.views) {
    if (v.length !== n * set.dim) throw new TrainingError('BAD_FEATURES', `${name}: view has ${v.length} values, expected ${n}×${set.dim}`);
  }
  if (set.weights.length !== n) throw new TrainingError('BAD_FEATURES', `${name}: ${set.weights.length} weights for ${n} samples`);
  for (let i = 0; i < n; i++) {
    if (set.labels[i] !== 0 && set.labels[i] !== 1) throw new TrainingError('BAD_FEATURES', `${name}: label ${set.labels[i]} is not 0 or 1`);
    if (!(set.weights[i] >= 0) || !Number.isFinite(set.weights[i])) throw new TrainingError('BAD_FEATURES', `${name}: weight ${set.weights[i]} is not a finite non-negative number`);
  }
  for (const v of set.views) for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i])) throw new TrainingError('BAD_FEATURES', `${name}: non-finite feature value`);
}

/** Rescales weights so that both classes carry the same total and the mean weight is 1. */
export function balanceClassWeights(labels: Uint8Array, weights: Float32Array): Float32Array {
  const totals = [0, 0];
  const counts = [0, 0];
  for (let i = 0; i < labels.length; i++) {
    totals[labels[i]] += weights[i];
    counts[labels[i]]++;
  }
  const out = new Float32Array(labels.length);
  const n = labels.length;
  for (let i = 0; i < n; i++) {
    const c = labels[i];
    out[i] = totals[c] > 0 ? (weights[i] / totals[c]) * (n / (counts[0] > 0 && counts[1] > 0 ? 2 : 1)) : 0;
  }
  return out;
}

export function columnStats(set: Pick<FeatureSet, 'dim' | 'views' | 'labels'>): { mean: Float32Array; std: Float32Array } {
  const d = set.dim;
  const n = set.labels.length;
  const mean = new Float64Array(d);
  const sq = new Float64Array(d);
  let count = 0;
  for (const v of set.views) {
    for (let i = 0; i < n; i++) {
      const o = i * d;
      for (let j = 0; j < d; j++) {
        const x = v[o + j];
        mean[j] += x;
        sq[j] += x * x;
      }
    }
    count += n;
  }
  const m = new Float32Array(d);
  const s = new Float32Array(d);
  for (let j = 0; j < d; j++) {
    m[j] = mean[j] / count;
    s[j] = Math.sqrt(Math.max(sq[j] / count - m[j] * m[j], 0)) + 1e-3;
  }
  return { mean: m, std: s };
}

export function standardise(v: Float32Array, d: number, mean: Float32Array, std: Float32Array): Float32Array {
  const out = new Float32Array(v.length);
  for (let i = 0; i < v.length; i += d) for (let j = 0; j < d; j++) out[i + j] = (v[i + j] - mean[j]) / std[j];
  return out;
}

/** Folds the input standardisation into dense1 so that the exported head takes raw features. */
function foldStandardisation(kernel: Float32Array, bias: Float32Array, d: number, units: number, mean: Float32Array, std: Float32Array) {
  const k = new Float32Array(kernel.length);
  const b = Float32Array.from(bias);
  for (let j = 0; j < d; j++) {
    const inv = 1 / std[j];
    for (let u = 0; u < units; u++) {
      const w = kernel[j * units + u] * inv;
      k[j * units + u] = w;
      b[u] -= mean[j] * w;
    }
  }
  return { kernel: k, bias: b };
}

function glorotUniform(rng: () => number, fanIn: number, fanOut: number): Float32Array {
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  const out = new Float32Array(fanIn * fanOut);
  for (let i = 0; i < out.length; i++) out[i] = (rng() * 2 - 1) * limit;
  return out;
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Inference with exported head weights in plain JS: the reference the ONNX fusion is checked
 * against, and a fast scorer for experiments on cached features.
 */
export function scoreWithHead(weights: HeadWeights, features: Float32Array): Float32Array {
  const d = weights.inputDim;
  const units = weights.dense1.units;
  const n = features.length / d;
  const out = new Float32Array(n);
  const h = new Float64Array(units);
  const { kernel: k1, bias: b1 } = weights.dense1;
  const { gamma, beta, movingMean, movingVariance, epsilon } = weights.bn;
  const k2 = weights.dense2.kernel;
  for (let i = 0; i < n; i++) {
    h.fill(0);
    const o = i * d;
    for (let j = 0; j < d; j++) {
      const x = features[o + j];
      if (x === 0) continue;
      const r = j * units;
      for (let u = 0; u < units; u++) h[u] += x * k1[r + u];
    }
    let z = weights.dense2.bias[0];
    for (let u = 0; u < units; u++) {
      const a = Math.max(h[u] + b1[u], 0);
      const bn = ((a - movingMean[u]) / Math.sqrt(movingVariance[u] + epsilon)) * gamma[u] + beta[u];
      z += bn * k2[u];
    }
    out[i] = 1 / (1 + Math.exp(-z));
  }
  return out;
}

export async function trainHead(
  train: FeatureSet,
  val: FeatureSet,
  options: HeadTrainingOptions = {},
  hooks: TrainingHooks = {},
): Promise<HeadTrainingResult> {
  const o = { ...defaultHeadOptions, ...stripUndefined(options) };
  if (!(Number.isInteger(o.ensemble) && o.ensemble >= 1 && o.ensemble <= 32)) throw new TrainingError('BAD_OPTIONS', 'ensemble must be a whole number of heads from 1 to 32');
  if (o.groupDroStep !== 0 && !(o.groupDroStep > 0 && train.groups?.length === train.labels.length && train.groups.every((g) => g >= 0) && o.linearProbeL2 === 0)) {
    throw new TrainingError('BAD_OPTIONS', 'group DRO needs a step > 0, a group index ≥ 0 for every training sample, and the paper\'s head (not the linear probe)');
  }
  if (!(o.linearProbeL2 >= 0) || !(o.inputNoise >= 0)) throw new TrainingError('BAD_OPTIONS', 'the linear probe\'s L2 strength and the input noise must be numbers ≥ 0');
  if (o.linearProbeL2 > 0) {
    if (o.ensemble !== 1) throw new TrainingError('BAD_OPTIONS', 'a linear probe is one convex fit: an ensemble of them is the same probe');
    return trainLinearHead(train, val, o, hooks);
  }
  if (o.ensemble === 1) return trainOneHead(train, val, o, hooks);
  const members: HeadTrainingResult[] = [];
  for (let m = 0; m < o.ensemble; m++) {
    const onProgress = hooks.onProgress;
    members.push(
      await trainOneHead(train, val, { ...o, seed: o.seed + m }, {
        signal: hooks.signal,
        // Epochs count on across the heads, so progress and time-left read as one run.
        onProgress: onProgress ? (p) => onProgress({ ...p, epoch: m * o.epochs + p.epoch, epochs: o.ensemble * o.epochs, member: m + 1, members: o.ensemble }) : undefined,
      }),
    );
  }
  const weights = mergeHeads(members.map((r) => r.weights));
  const valScores = scoreWithHead(weights, val.views[0]);
  return {
    weights,
    // The merged head's own validation loss; the epochs and history are the first member's.
    bestEpoch: members[0].bestEpoch,
    bestValLoss: weightedLogLoss(valScores, val.labels, balanceClassWeights(val.labels, val.weights)),
    history: members[0].history,
    seconds: members.reduce((s, r) => s + r.seconds, 0),
    backend: members[0].backend,
    members: members.map((r, m) => ({ seed: o.seed + m, bestEpoch: r.bestEpoch, bestValLoss: r.bestValLoss })),
  };
}

/** Heads side by side: the logit of the result is the mean of the members' logits. */
export function mergeHeads(heads: HeadWeights[]): HeadWeights {
  if (heads.length === 0) throw new TrainingError('BAD_OPTIONS', 'no heads to merge');
  const d = heads[0].inputDim;
  if (heads.some((h) => h.inputDim !== d)) throw new TrainingError('BAD_OPTIONS', 'heads to merge read different feature sizes');
  const units = heads.reduce((s, h) => s + h.dense1.units, 0);
  const kernel = new Float32Array(d * units);
  let offset = 0;
  for (const h of heads) {
    const u = h.dense1.units;
    for (let j = 0; j < d; j++) kernel.set(h.dense1.kernel.subarray(j * u, j * u + u), j * units + offset);
    offset += u;
  }
  const cat = (pick: (h: HeadWeights) => Float32Array) => {
    const out = new Float32Array(units);
    let o = 0;
    for (const h of heads) {
      out.set(pick(h), o);
      o += h.dense1.units;
    }
    return out;
  };
  const epsilon = heads[0].bn.epsilon;
  // A member with another epsilon keeps its normalisation by folding the difference into its variance.
  const variance = cat((h) => h.bn.movingVariance.map((v) => v + h.bn.epsilon - epsilon));
  const k2 = cat((h) => h.dense2.kernel.map((w) => w / heads.length));
  return {
    inputDim: d,
    dense1: { kernel, bias: cat((h) => h.dense1.bias), units },
    bn: { gamma: cat((h) => h.bn.gamma), beta: cat((h) => h.bn.beta), movingMean: cat((h) => h.bn.movingMean), movingVariance: variance, epsilon },
    dense2: { kernel: k2, bias: Float32Array.of(heads.reduce((s, h) => s + h.dense2.bias[0], 0) / heads.length) },
  };
}

function weightedLogLoss(p: Float32Array, labels: Uint8Array, w: Float32Array): number {
  let loss = 0;
  let total = 0;
  for (let i = 0; i < p.length; i++) {
    const q = Math.min(Math.max(p[i], 1e-7), 1 - 1e-7);
    loss -= w[i] * (labels[i] ? Math.log(q) : Math.log(1 - q));
    total += w[i];
  }
  return total > 0 ? loss / total : NaN;
}

async function trainOneHead(train: FeatureSet, val: FeatureSet, o: Required<HeadTrainingOptions>, hooks: TrainingHooks): Promise<HeadTrainingResult> {
  checkTrainingSets(train, val);
  if (!(o.epochs >= 1) || !(o.batchSize >= 1) || !(o.learningRate > 0) || !(o.hiddenUnits >= 1) || !(o.dropout >= 0 && o.dropout < 1)) {
    throw new TrainingError('BAD_OPTIONS', 'epochs, batch size, hidden units must be ≥ 1, learning rate > 0 and dropout in [0, 1)');
  }
  const { tf, backend } = await loadTf();
  const started = performance.now();
  const rng = createRng(o.seed);
  const d = train.dim;
  const units = o.hiddenUnits;
  const n = train.labels.length;

  const { mean, std } = columnStats(train);
  const trainViews = train.views.map((v) => standardise(v, d, mean, std));
  const valX = standardise(val.views[0], d, mean, std);
  const trainW = balanceClassWeights(train.labels, train.weights);
  const valW = balanceClassWeights(val.labels, val.weights);

  const k1 = tf.variable(tf.tensor2d(glorotUniform(rng, d, units), [d, units]), true, 'dense1/kernel');
  const b1 = tf.variable(tf.zeros([units]), true, 'dense1/bias');
  const gamma = tf.variable(tf.ones([units]), true, 'bn/gamma');
  const beta = tf.variable(tf.zeros([units]), true, 'bn/beta');
  const k2 = tf.variable(tf.tensor2d(glorotUniform(rng, units, 1), [units, 1]), true, 'dense2/kernel');
  const b2 = tf.variable(tf.zeros([1]), true, 'dense2/bias');
  const trainable = [k1, b1, gamma, beta, k2, b2];
  let movingMean = new Float32Array(units);
  let movingVariance = new Float32Array(units).fill(1);
  const epsilon = 1e-3;
  const optimizer = o.optimizer === 'rmsprop' ? tf.train.rmsprop(o.learningRate) : tf.train.adam(o.learningRate);
  const setLearningRate = (lr: number) => ((optimizer as unknown as { learningRate: number }).learningRate = lr);
  let learningRate = o.learningRate;

  // x·k1 with its kernel gradient written as transpose(x)·dy: tfjs' own gradient uses matMul's
  // transposeA flag, which the wasm backend runs ~10× slower. The input needs no gradient.
  const inputDense = tf.customGrad((...args) => {
    const [x, k, save] = args as unknown as [ReturnType<Tf['tensor2d']>, ReturnType<Tf['tensor2d']>, (t: unknown[]) => void];
    save([x]);
    return {
      value: tf.matMul(x, k),
      gradFunc: (dy, saved) => [tf.zerosLike(x), tf.matMul(tf.transpose((saved as ReturnType<Tf['tensor2d']>[])[0]), dy as ReturnType<Tf['tensor2d']>)],
    };
  });
  const forward = (x: ReturnType<Tf['tensor2d']>, training: boolean, stats?: { mean?: ReturnType<Tf['tensor1d']>; variance?: ReturnType<Tf['tensor1d']> }) => {
    const h = tf.relu(tf.add(training ? inputDense(x, k1) : tf.matMul(x, k1), b1));
    let normalised;
    if (training) {
      const m = tf.moments(h, 0);
      if (stats) {
        stats.mean = tf.keep(m.mean as ReturnType<Tf['tensor1d']>);
        stats.variance = tf.keep(m.variance as ReturnType<Tf['tensor1d']>);
      }
      normalised = tf.add(tf.mul(tf.div(tf.sub(h, m.mean), tf.sqrt(tf.add(m.variance, epsilon))), gamma), beta);
      if (o.dropout > 0) normalised = tf.dropout(normalised, o.dropout, undefined, Math.floor(rng() * 2 ** 31));
    } else {
      const mm = tf.tensor1d(movingMean);
      const mv = tf.tensor1d(movingVariance);
      normalised = tf.add(tf.mul(tf.div(tf.sub(h, mm), tf.sqrt(tf.add(mv, epsilon))), gamma), beta);
    }
    return tf.add(tf.matMul(normalised, k2), b2).reshape([-1]);
  };
  // Weighted binary cross-entropy on logits (numerically stable form); `keep` receives the per-sample losses.
  const weightedLoss = (logits: ReturnType<Tf['tensor1d']>, y: ReturnType<Tf['tensor1d']>, w: ReturnType<Tf['tensor1d']>, keep?: (perSample: ReturnType<Tf['tensor1d']>) => void) => {
    const perSample = tf.add(tf.sub(tf.relu(logits), tf.mul(logits, y)), tf.log1p(tf.exp(tf.neg(tf.abs(logits)))));
    keep?.(tf.keep(perSample) as ReturnType<Tf['tensor1d']>);
    return tf.div(tf.sum(tf.mul(perSample, w)), tf.maximum(tf.sum(w), 1e-12));
  };
  // Group DRO's group weights q, uniform to start.
  const groupCount = o.groupDroStep > 0 && train.groups ? Math.max(...train.groups) + 1 : 0;
  const dro = groupCount > 0 && train.groups ? { groups: train.groups, q: new Float64Array(groupCount).fill(1 / groupCount) } : undefined;

  const evaluate = (xs: Float32Array, labels: Uint8Array, w: Float32Array) =>
    tf.tidy(() => {
      const m = labels.length;
      const logits = forward(tf.tensor2d(xs, [m, d]), false) as ReturnType<Tf['tensor1d']>;
      const y = tf.tensor1d(Float32Array.from(labels));
      const wt = tf.tensor1d(w);
      const loss = weightedLoss(logits, y, wt).dataSync()[0];
      const pred = tf.cast(tf.greater(logits, 0), 'float32');
      const acc = tf.div(tf.sum(tf.mul(tf.cast(tf.equal(pred, y), 'float32'), wt)), tf.sum(wt)).dataSync()[0];
      return { loss, accuracy: acc };
    });

  const snapshot = (): HeadWeights => {
    const folded = foldStandardisation(k1.dataSync() as Float32Array, b1.dataSync() as Float32Array, d, units, mean, std);
    return {
      inputDim: d,
      dense1: { kernel: folded.kernel, bias: folded.bias, units },
      bn: {
        gamma: Float32Array.from(gamma.dataSync()),
        beta: Float32Array.from(beta.dataSync()),
        movingMean: Float32Array.from(movingMean),
        movingVariance: Float32Array.from(movingVariance),
        epsilon,
      },
      dense2: { kernel: Float32Array.from(k2.dataSync()), bias: Float32Array.from(b2.dataSync()) },
    };
  };

  const history: EpochRecord[] = [];
  let best: HeadWeights | undefined;
  let bestValLoss = Infinity;
  let bestEpoch = 0;
  let sincePlateau = 0;
  let plateauBest = Infinity;
  const batches = Math.ceil(n / o.batchSize);
  const order = new Uint32Array(n);
  const xBatch = new Float32Array(o.batchSize * d);

  try {
    for (let epoch = 1; epoch <= o.epochs; epoch++) {
      for (let i = 0; i < n; i++) order[i] = i;
      for (let i = n - 1; i > 0; i--) {
        const j = Math.floor(rng() * (i + 1));
        const t = order[i];
        order[i] = order[j];
        order[j] = t;
      }
      let lossSum = 0;
      let weightSum = 0;
      for (let b = 0; b < batches; b++) {
        if (hooks.signal?.aborted) throw new TrainingError('CANCELLED', 'training was cancelled');
        const start = b * o.batchSize;
        const size = Math.min(o.batchSize, n - start);
        // BatchNorm needs at least two samples to have a variance; fold a lone tail into the last batch's statistics by skipping it.
        if (size < 2 && batches > 1) continue;
        const y = new Float32Array(size);
        const w = new Float32Array(size);
        for (let r = 0; r < size; r++) {
          const idx = order[start + r];
          const view = trainViews[trainViews.length === 1 ? 0 : Math.floor(rng() * trainViews.length)];
          xBatch.set(view.subarray(idx * d, idx * d + d), r * d);
          if (o.inputNoise > 0) {
            for (let j = r * d; j < r * d + d; j++) xBatch[j] += o.inputNoise * gaussian(rng);
          }
          y[r] = train.labels[idx];
          w[r] = trainW[idx];
        }
        // Group DRO: sample i weighs w_i·q_g / Σ_{j∈g} w_j, so the batch loss is Σ_g q_g·L_g (over the groups it holds).
        const groupSum = dro ? new Float64Array(dro.q.length) : undefined;
        const stepW = dro ? new Float32Array(size) : w;
        if (dro && groupSum) {
          for (let r = 0; r < size; r++) groupSum[dro.groups[order[start + r]]] += w[r];
          for (let r = 0; r < size; r++) {
            const gi = dro.groups[order[start + r]];
            stepW[r] = (w[r] * dro.q[gi]) / groupSum[gi];
          }
        }
        let perSampleLoss: ReturnType<Tf['tensor1d']> | undefined;
        const stats: { mean?: ReturnType<Tf['tensor1d']>; variance?: ReturnType<Tf['tensor1d']> } = {};
        const lossTensor = optimizer.minimize(
          () => {
            const logits = forward(tf.tensor2d(xBatch.subarray(0, size * d), [size, d]), true, stats) as ReturnType<Tf['tensor1d']>;
            let loss = weightedLoss(logits, tf.tensor1d(y), tf.tensor1d(stepW), dro ? (t) => (perSampleLoss = t) : undefined);
            if (o.l2 > 0) loss = tf.add(loss, tf.mul(o.l2, tf.add(tf.sum(tf.square(k1)), tf.sum(tf.square(k2)))));
            return loss as ReturnType<Tf['scalar']>;
          },
          true,
          trainable,
        );
        const loss = lossTensor ? lossTensor.dataSync()[0] : NaN;
        lossTensor?.dispose();
        if (dro && groupSum && perSampleLoss) {
          // q_g ← q_g·exp(step·L_g) with L_g this batch's weighted mean loss of group g, then renormalised.
          const ls = perSampleLoss.dataSync();
          perSampleLoss.dispose();
          const groupLoss = new Float64Array(dro.q.length);
          for (let r = 0; r < size; r++) {
            const gi = dro.groups[order[start + r]];
            groupLoss[gi] += (ls[r] * w[r]) / groupSum[gi];
          }
          let total = 0;
          for (let gi = 0; gi < dro.q.length; gi++) total += dro.q[gi] *= Math.exp(o.groupDroStep * groupLoss[gi]);
          for (let gi = 0; gi < dro.q.length; gi++) dro.q[gi] /= total;
        }
        if (stats.mean && stats.variance) {
          const bm = stats.mean.dataSync();
          // Keras keeps the biased batch variance for the moving average; so do we, so the exported BN matches.
          const bv = stats.variance.dataSync();
          const m = o.bnMomentum;
          movingMean = movingMean.map((v, u) => v * m + bm[u] * (1 - m));
          movingVariance = movingVariance.map((v, u) => v * m + bv[u] * (1 - m));
          stats.mean.dispose();
          stats.variance.dispose();
        }
        let bw = 0;
        for (let r = 0; r < size; r++) bw += w[r];
        lossSum += loss * bw;
        weightSum += bw;
        hooks.onProgress?.({ kind: 'batch', epoch, epochs: o.epochs, batch: b + 1, batches, loss, learningRate });
        if (b % 4 === 3) await yieldToEventLoop();
      }
      const trainEval = evaluate(trainViews[0], train.labels, trainW);
      const valEval = evaluate(valX, val.labels, valW);
      const record: EpochRecord = {
        epoch,
        loss: weightSum > 0 ? lossSum / weightSum : NaN,
        valLoss: valEval.loss,
        accuracy: trainEval.accuracy,
        valAccuracy: valEval.accuracy,
        learningRate,
      };
      history.push(record);
      const improved = valEval.loss < bestValLoss;
      if (improved) {
        bestValLoss = valEval.loss;
        bestEpoch = epoch;
        best = snapshot();
      }
      hooks.onProgress?.({ kind: 'epoch', epochs: o.epochs, ...record, improved });
      if (valEval.loss < plateauBest - 1e-4) {
        plateauBest = valEval.loss;
        sincePlateau = 0;
      } else if (++sincePlateau >= o.plateauPatience) {
        learningRate = Math.max(learningRate * o.plateauFactor, o.minLearningRate);
        setLearningRate(learningRate);
        sincePlateau = 0;
      }
      await yieldToEventLoop();
    }
  } finally {
    for (const v of trainable) v.dispose();
    optimizer.dispose();
  }
  if (!best) throw new TrainingError('DIVERGED', 'validation loss was never finite; training diverged');
  return { weights: best, bestEpoch, bestValLoss, history, seconds: (performance.now() - started) / 1000, backend };
}

/** Every view of every training sample is a row (each view weighing 1/views of its sample). */
async function trainLinearHead(train: FeatureSet, val: FeatureSet, o: Required<HeadTrainingOptions>, hooks: TrainingHooks): Promise<HeadTrainingResult> {
  checkTrainingSets(train, val);
  const started = performance.now();
  const d = train.dim;
  const n = train.labels.length;
  const views = train.views.length;
  const { mean, std } = columnStats(train);
  const x = new Float32Array(n * views * d);
  train.views.forEach((v, k) => x.set(standardise(v, d, mean, std), k * n * d));
  const balanced = balanceClassWeights(train.labels, train.weights);
  const labels = new Uint8Array(n * views);
  const weights = new Float32Array(n * views);
  for (let k = 0; k < views; k++) {
    labels.set(train.labels, k * n);
    weights.set(balanced.map((w) => w / views), k * n);
  }
  await yieldToEventLoop();
  const fit = fitLinearProbe({ dim: d, x, labels, weights }, o.linearProbeL2, { signal: hooks.signal });
  const head = probeAsPaperHead(fit, mean, std);
  const score = (set: FeatureSet, view: Float32Array) => weightedLogLoss(scoreWithHead(head, view), set.labels, balanceClassWeights(set.labels, set.weights));
  const accuracy = (set: FeatureSet, view: Float32Array) => {
    const p = scoreWithHead(head, view);
    const w = balanceClassWeights(set.labels, set.weights);
    let right = 0;
    let total = 0;
    for (let i = 0; i < p.length; i++) {
      total += w[i];
      if ((p[i] >= 0.5 ? 1 : 0) === set.labels[i]) right += w[i];
    }
    return total > 0 ? right / total : NaN;
  };
  const record: EpochRecord = { epoch: 1, loss: score(train, train.views[0]), valLoss: score(val, val.views[0]), accuracy: accuracy(train, train.views[0]), valAccuracy: accuracy(val, val.views[0]), learningRate: 0 };
  hooks.onProgress?.({ kind: 'epoch', epochs: 1, ...record, improved: true });
  return { weights: head, bestEpoch: 1, bestValLoss: record.valLoss, history: [record], seconds: (performance.now() - started) / 1000, backend: `linear probe, L-BFGS ${fit.iterations} iterations` };
}

/** Both sets well-formed, of one width, non-empty, and the training set holding both classes. */
function checkTrainingSets(train: FeatureSet, val: FeatureSet): void {
  validateFeatureSet(train, 'training set');
  validateFeatureSet(val, 'validation set');
  if (val.dim !== train.dim) throw new TrainingError('BAD_FEATURES', `validation features have ${val.dim} dimensions, training ${train.dim}`);
  if (train.labels.length === 0 || val.labels.length === 0) throw new TrainingError('EMPTY_SPLIT', 'training and validation sets must both hold samples');
  if (new Set(train.labels).size < 2) throw new TrainingError('SINGLE_CLASS', 'the training set holds only one class; a detector needs real and synthetic samples');
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
