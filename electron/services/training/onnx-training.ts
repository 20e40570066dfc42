// Runs compiled training graphs (onnx-graphs/training-graph.ts) in onnxruntime and updates the
// weights between steps with Adam or RMSprop written here, as tfjs defines them (the test
// reference). Weights stay plain Float32Arrays fed as graph inputs: nothing is re-serialised.
import ort from 'onnxruntime-node';
import {
  defaultIntraOpThreads,
  describeFallback,
  firstLine,
  planProviders,
  recordProviderFailure,
  type ProviderName,
  type ProviderPreference,
} from '../engine/execution-providers';
import {
  buildNchwcProbeOnnx,
  NCHWC_PROBE_INPUT,
  nchwcBlockSizeFromProbe,
  TRAIN_DROPOUT_INPUT,
  TRAIN_IMAGES_INPUT,
  TRAIN_LABELS_INPUT,
  TRAIN_LOGIT_OUTPUT,
  TRAIN_LOSS_OUTPUT,
  TRAIN_P_OUTPUT,
  TRAIN_WEIGHTS_INPUT,
  type TrainableParam,
} from '../onnx-graphs';
import { TrainingError } from './training-errors';

export interface TrainingSessionOptions {
  preference?: ProviderPreference;
  intraOpThreads?: number;
  /** false: compile the CPU graph without onnxruntime's NCHWc operators (for comparisons). */
  nchwc?: boolean;
}

export interface OrtTrainingSession {
  session: ort.InferenceSession;
  provider: ProviderName;
  providerNote?: string;
}

/** What a training graph is compiled for: the provider that runs it and, on the CPU, its NCHWc block. */
export interface TrainingTarget {
  provider: ProviderName;
  /** onnxruntime's CPU NCHWc block size (undefined on other providers, or where the CPU has none). */
  nchwcBlockSize?: number;
}

let nchwcBlock: Promise<number | undefined> | undefined;

/** The CPU provider's NCHWc block size, read once per process by running the probe graph. */
export function cpuNchwcBlockSize(): Promise<number | undefined> {
  nchwcBlock ??= (async () => {
    try {
      const probe = buildNchwcProbeOnnx();
      const session = await ort.InferenceSession.create(probe.bytes, { executionProviders: ['cpu'], logSeverityLevel: 3 });
      try {
        const out = await session.run({ [NCHWC_PROBE_INPUT]: new ort.Tensor('float32', probe.input, probe.dims) });
        return nchwcBlockSizeFromProbe(out[probe.output].data as Float32Array);
      } finally {
        await session.release();
      }
    } catch {
      // A build without the NCHWc operators: the plain graph runs everywhere.
      return undefined;
    }
  })();
  return nchwcBlock;
}

/** A session for a training (or forward-only) graph, with the same provider order and fallback as analysis. */
export async function createTrainingSession(bytes: Uint8Array, options: TrainingSessionOptions = {}): Promise<OrtTrainingSession> {
  const { session, provider, providerNote } = await compileTrainingSession(() => ({ bytes }), options);
  return { session, provider, providerNote };
}

/**
 * The same, compiling the graph for each provider it tries (the CPU graph can use onnxruntime's
 * NCHWc operators, which no other provider has), so a fallback to the CPU gets the CPU's graph.
 */
export async function compileTrainingSession<G extends { bytes: Uint8Array }>(compile: (target: TrainingTarget) => G, options: TrainingSessionOptions = {}): Promise<OrtTrainingSession & { graph: G; nchwcBlockSize?: number }> {
  const preference = options.preference ?? 'auto';
  const plan = planProviders(preference);
  const attempts: { name: ProviderName; reason: string }[] = plan.skipped.filter((s) => s.name === preference || (preference === 'auto' && !/only on|does not offer/.test(s.reason)));
  for (const name of plan.order) {
    const target: TrainingTarget = { provider: name, nchwcBlockSize: name === 'cpu' && options.nchwc !== false ? await cpuNchwcBlockSize() : undefined };
    const graph = compile(target);
    try {
      const session = await ort.InferenceSession.create(graph.bytes, {
        executionProviders: name === 'cpu' ? ['cpu'] : [name, 'cpu'],
        intraOpNumThreads: options.intraOpThreads ?? defaultIntraOpThreads(),
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: 'all',
        logSeverityLevel: 3,
      });
      return { session, provider: name, providerNote: describeFallback(preference, name, attempts), graph, nchwcBlockSize: target.nchwcBlockSize };
    } catch (e) {
      const reason = firstLine((e as Error).message ?? String(e));
      if (name === 'cpu') throw new TrainingError('UNSUPPORTED', `onnxruntime could not load the training graph: ${reason}`);
      recordProviderFailure(name, reason);
      attempts.push({ name, reason });
    }
  }
  throw new TrainingError('UNSUPPORTED', 'No execution provider could load the training graph');
}

export interface TrainingBatch {
  /** NHWC model input, count × h × w × c. */
  images: Float32Array;
  count: number;
  inputShape: readonly [number, number, number];
  labels: Float32Array;
  weights: Float32Array;
  /** count × units, keep/(1 − rate) or 0; ones for evaluation. */
  dropoutMask: Float32Array;
  units: number;
}

export interface StepResult {
  loss: number;
  p: Float32Array;
  logits: Float32Array;
  /** Gradient per param name (absent for a forward-only graph). */
  gradients: Map<string, Float32Array>;
}

/**
 * One run of a training graph with the current weights. A graph compiled for a fixed batch
 * (`graphBatch`, TrainingGraph.batchSize) gets a short batch padded with rows of weight 0, which
 * add nothing to the weighted loss or its gradients; p and logits come back for the real rows only.
 */
export async function runTrainingGraph(session: ort.InferenceSession, params: readonly TrainableParam[], values: ReadonlyMap<string, Float32Array>, batch: TrainingBatch, graphBatch?: number): Promise<StepResult> {
  const n = graphBatch ?? batch.count;
  if (batch.count > n || batch.count < 1) throw new TrainingError('BAD_OPTIONS', `a batch of ${batch.count} images does not fit a training graph compiled for ${n}`);
  const per = batch.inputShape[0] * batch.inputShape[1] * batch.inputShape[2];
  const rows = (a: Float32Array, width: number) => {
    if (a.length >= n * width) return a.subarray(0, n * width);
    const out = new Float32Array(n * width);
    out.set(a.subarray(0, batch.count * width));
    return out;
  };
  // Padding rows weigh 0 (a fresh array, so the caller's buffer is never written).
  const weights = new Float32Array(n);
  weights.set(batch.weights.subarray(0, batch.count));
  const feeds: Record<string, ort.Tensor> = {
    [TRAIN_IMAGES_INPUT]: new ort.Tensor('float32', rows(batch.images, per), [n, ...batch.inputShape]),
    [TRAIN_LABELS_INPUT]: new ort.Tensor('float32', rows(batch.labels, 1), [n]),
    [TRAIN_WEIGHTS_INPUT]: new ort.Tensor('float32', weights, [n]),
    [TRAIN_DROPOUT_INPUT]: new ort.Tensor('float32', rows(batch.dropoutMask, batch.units), [n, batch.units]),
  };
  for (const p of params) {
    const v = values.get(p.name);
    if (!v) throw new TrainingError('BAD_OPTIONS', `no value for weight ${p.name}`);
    feeds[p.name] = new ort.Tensor('float32', v, p.shape);
  }
  const out = (await session.run(feeds)) as Record<string, ort.Tensor>;
  const gradients = new Map<string, Float32Array>();
  for (const p of params) {
    const t = out[p.gradient];
    if (t) gradients.set(p.name, t.data as Float32Array);
  }
  const loss = (out[TRAIN_LOSS_OUTPUT].data as Float32Array)[0];
  return { loss, p: (out[TRAIN_P_OUTPUT].data as Float32Array).subarray(0, batch.count), logits: (out[TRAIN_LOGIT_OUTPUT].data as Float32Array).subarray(0, batch.count), gradients };
}

export type OptimizerKind = 'adam' | 'rmsprop';

export interface OptimizerOptions {
  kind: OptimizerKind;
  /** Learning rate of the head's weights. */
  headLearningRate: number;
  /** Learning rate of the backbone's weights (smaller, so fine-tuning does not wreck them). */
  backboneLearningRate: number;
  beta1?: number;
  beta2?: number;
  /** RMSprop's decay. */
  rho?: number;
  epsilon?: number;
  /** Decoupled weight decay on kernels (not biases, BatchNorm γ/β), per step: w −= lr·decay·w. */
  weightDecay?: number;
}

/** Serializable optimiser state (moments per param, step count, the current learning-rate scale). */
export interface OptimizerState {
  kind: OptimizerKind;
  step: number;
  /** Multiplies both learning rates (reduce-on-plateau lowers it). */
  lrScale: number;
  first: Map<string, Float32Array>;
  second: Map<string, Float32Array>;
}

export function createOptimizerState(kind: OptimizerKind, params: readonly TrainableParam[]): OptimizerState {
  const zeros = () => new Map(params.map((p) => [p.name, new Float32Array(p.initial.length)]));
  return { kind, step: 0, lrScale: 1, first: zeros(), second: zeros() };
}

/**
 * Updates `values` in place from `gradients`. Adam as tfjs's AdamOptimizer defines it:
 * m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², w ← w − lr·(m/(1−β₁ᵗ)) / (√(v/(1−β₂ᵗ)) + ε);
 * RMSprop as tfjs's (no momentum, not centred): s ← ρs + (1−ρ)g², w ← w − lr·g/√(s + ε).
 * Each element is computed in double precision and stored as float32 (within an ulp or two of
 * tfjs's float32 arithmetic, and four times faster than rounding after every operation: this
 * loop over every weight is part of each training step).
 */
export function applyOptimizerStep(
  state: OptimizerState,
  options: OptimizerOptions,
  params: readonly TrainableParam[],
  values: Map<string, Float32Array>,
  gradients: ReadonlyMap<string, Float32Array>,
): void {
  const beta1 = options.beta1 ?? 0.9;
  const beta2 = options.beta2 ?? 0.999;
  const rho = options.rho ?? 0.9;
  const eps = options.epsilon ?? 1e-7;
  // Every gradient is checked before any weight moves: a diverged step leaves the weights as they were.
  // A NaN or ±Infinity anywhere in g makes the sum NaN (g − g is 0 for finite g).
  for (const p of params) {
    const g = gradients.get(p.name);
    if (!g) throw new TrainingError('BAD_OPTIONS', `no gradient for ${p.name}`);
    let notFinite = 0;
    for (let i = 0; i < g.length; i++) notFinite += g[i] - g[i];
    if (notFinite !== 0) throw new TrainingError('DIVERGED', `the gradient of ${p.name} is not finite`);
  }
  state.step += 1;
  const t = state.step;
  for (const p of params) {
    const g = gradients.get(p.name)!;
    const w = values.get(p.name)!;
    const m = state.first.get(p.name)!;
    const v = state.second.get(p.name)!;
    const lr = (p.head ? options.headLearningRate : options.backboneLearningRate) * state.lrScale;
    if (state.kind === 'adam') adamUpdate(w, m, v, g, lr, beta1, beta2, eps, t);
    else rmspropUpdate(w, v, g, lr, rho, eps);
    const decay = options.weightDecay && (p.kind === 'conv_kernel' || p.kind === 'depthwise_kernel' || p.kind === 'dense_kernel') ? options.weightDecay : 0;
    if (decay) {
      const keep = 1 - lr * decay;
      for (let i = 0; i < w.length; i++) w[i] *= keep;
    }
  }
}

function adamUpdate(w: Float32Array, m: Float32Array, v: Float32Array, g: Float32Array, lr: number, beta1: number, beta2: number, eps: number, t: number): void {
  const rate = lr / (1 - beta1 ** t);
  const unbias2 = 1 / (1 - beta2 ** t);
  const a1 = 1 - beta1;
  const a2 = 1 - beta2;
  for (let i = 0; i < w.length; i++) {
    const gi = g[i];
    const mi = beta1 * m[i] + a1 * gi;
    const vi = beta2 * v[i] + a2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    w[i] -= (rate * mi) / (Math.sqrt(vi * unbias2) + eps);
  }
}

function rmspropUpdate(w: Float32Array, s: Float32Array, g: Float32Array, lr: number, rho: number, eps: number): void {
  const a = 1 - rho;
  for (let i = 0; i < w.length; i++) {
    const gi = g[i];
    const si = rho * s[i] + a * gi * gi;
    s[i] = si;
    w[i] -= (lr * gi) / Math.sqrt(si + eps);
  }
}

/** Reduce-on-plateau: lower the learning-rate scale when validation loss stops improving. */
export interface PlateauState {
  best: number;
  bad: number;
}

export function plateauStep(state: PlateauState, opt: OptimizerState, valLoss: number, settings = { patience: 2, factor: 0.5, minScale: 1e-3, minDelta: 1e-4 }): boolean {
  if (valLoss < state.best - settings.minDelta) {
    state.best = valLoss;
    state.bad = 0;
    return false;
  }
  state.bad += 1;
  if (state.bad > settings.patience && opt.lrScale > settings.minScale) {
    opt.lrScale = Math.max(settings.minScale, opt.lrScale * settings.factor);
    state.bad = 0;
    return true;
  }
  return false;
}
