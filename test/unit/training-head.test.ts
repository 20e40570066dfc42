import { describe, expect, it } from 'vitest';
import { balanceClassWeights, mergeHeads, scoreWithHead, trainHead, type FeatureSet } from '../../electron/services/training/head-trainer';
import { createRng } from '../../electron/services/common/seeded-random';
import { parseFlags, UsageError } from '../../electron/services/training/cli-args';
import { TrainingError } from '../../electron/services/training/training-errors';
import { parseViews, viewIsFlipped } from '../../electron/services/training/image-views';
import { globalPooling, poolFeatureMap } from '../../electron/services/training/feature-cache';
import { fitLinearProbe } from '../../electron/services/training/linear-probe';
import { computeRocAuc } from '../../electron/services/evaluation/metrics';

// Two Gaussian clouds that differ in the first few dimensions, with a "flipped" view that is the
// same sample plus small noise: enough structure for the head to learn in a few epochs.
function clouds(n: number, d: number, seed: number, shift = 1.5): FeatureSet {
  const rng = createRng(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(rng() + 1e-12)) * Math.cos(2 * Math.PI * rng());
  const labels = new Uint8Array(n);
  const v0 = new Float32Array(n * d);
  const v1 = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    labels[i] = i % 2;
    for (let j = 0; j < d; j++) {
      const x = 3 + gauss() + (j < 4 && labels[i] ? shift : 0);
      v0[i * d + j] = x;
      v1[i * d + j] = x + 0.05 * gauss();
    }
  }
  return { dim: d, views: [v0, v1], labels, weights: new Float32Array(n).fill(1) };
}

describe('trainHead', () => {
  it('learns, reports progress, keeps the best-validation-loss epoch and exports weights that score like training', async () => {
    const train = clouds(256, 32, 1);
    const val = clouds(96, 32, 2);
    const events: Array<{ kind: string; epoch: number; loss: number; valLoss?: number; learningRate: number }> = [];
    const r = await trainHead(train, val, { epochs: 6, batchSize: 32, hiddenUnits: 16, learningRate: 1e-2, seed: 3 }, { onProgress: (p) => events.push(p) });
    const epochs = events.filter((e) => e.kind === 'epoch');
    expect(epochs).toHaveLength(6);
    expect(events.filter((e) => e.kind === 'batch')).toHaveLength(6 * 8);
    expect(r.history[5].loss).toBeLessThan(r.history[0].loss);
    const best = r.history.reduce((a, b) => (b.valLoss < a.valLoss ? b : a));
    expect(r.bestEpoch).toBe(best.epoch);
    expect(r.bestValLoss).toBeCloseTo(best.valLoss, 6);
    // The exported head (standardisation folded into dense1) scores validation well.
    const scores = scoreWithHead(r.weights, val.views[0]);
    let correct = 0;
    scores.forEach((s, i) => (correct += (s >= 0.5 ? 1 : 0) === val.labels[i] ? 1 : 0));
    expect(correct / scores.length).toBeGreaterThan(0.85);
    expect(r.weights.dense1.kernel).toHaveLength(32 * 16);
    expect(r.weights.dense2.kernel).toHaveLength(16);
  });

  it('reduces the learning rate when validation loss stops improving', async () => {
    // Labels independent of the features: validation loss cannot improve for long.
    const train = clouds(128, 8, 5, 0);
    const val = clouds(64, 8, 6, 0);
    const r = await trainHead(train, val, { epochs: 8, batchSize: 32, hiddenUnits: 8, plateauPatience: 1, plateauFactor: 0.5, seed: 1 });
    expect(r.history.at(-1)!.learningRate).toBeLessThan(r.history[0].learningRate);
  });

  it('trains an ensemble as one wider paper head whose logit is the mean of its members\' logits', async () => {
    const train = clouds(192, 12, 7);
    const val = clouds(64, 12, 8);
    const options = { epochs: 3, batchSize: 32, hiddenUnits: 8, learningRate: 1e-2 };
    const members = [await trainHead(train, val, { ...options, seed: 4 }), await trainHead(train, val, { ...options, seed: 5 })];
    const progress: Array<{ kind: string; epoch: number; epochs: number; member?: number; members?: number }> = [];
    const ensemble = await trainHead(train, val, { ...options, seed: 4, ensemble: 2 }, { onProgress: (p) => progress.push(p) });
    expect(ensemble.weights.dense1.units).toBe(16);
    expect(ensemble.weights.dense1.kernel).toHaveLength(12 * 16);
    expect(ensemble.members?.map((m) => m.seed)).toEqual([4, 5]);
    expect(new Set(progress.map((p) => `${p.member}/${p.members}`))).toEqual(new Set(['1/2', '2/2']));
    expect(progress.filter((p) => p.kind === 'epoch').map((p) => `${p.epoch}/${p.epochs}`)).toEqual(['1/6', '2/6', '3/6', '4/6', '5/6', '6/6']);
    const logit = (p: number) => Math.log(p / (1 - p));
    const a = scoreWithHead(members[0].weights, val.views[0]);
    const b = scoreWithHead(members[1].weights, val.views[0]);
    const merged = scoreWithHead(ensemble.weights, val.views[0]);
    // Same seeds, same data: the members train identically inside the ensemble.
    for (let i = 0; i < merged.length; i++) expect(logit(merged[i])).toBeCloseTo((logit(a[i]) + logit(b[i])) / 2, 3);
    expect(scoreWithHead(mergeHeads([members[0].weights]), val.views[0])).toEqual(a);
    await expect(trainHead(train, val, { ...options, ensemble: 0 })).rejects.toMatchObject({ code: 'BAD_OPTIONS' });
  });

  it('stops with CANCELLED when the signal is aborted', async () => {
    const controller = new AbortController();
    const run = trainHead(clouds(256, 16, 1), clouds(64, 16, 2), { epochs: 50, batchSize: 16, hiddenUnits: 8 }, {
      signal: controller.signal,
      onProgress: (p) => {
        if (p.kind === 'epoch' && p.epoch === 1) controller.abort();
      },
    });
    await expect(run).rejects.toMatchObject({ code: 'CANCELLED' });
  });

  it('refuses bad input with typed errors', async () => {
    const good = clouds(16, 4, 1);
    const oneClass: FeatureSet = { ...good, labels: new Uint8Array(16) };
    await expect(trainHead(oneClass, good)).rejects.toMatchObject({ code: 'SINGLE_CLASS' });
    const nan: FeatureSet = { ...good, views: [Float32Array.from(good.views[0]).fill(NaN, 0, 1)] };
    await expect(trainHead(nan, good)).rejects.toBeInstanceOf(TrainingError);
    const short: FeatureSet = { ...good, views: [good.views[0].subarray(0, 10)] };
    await expect(trainHead(short, good)).rejects.toMatchObject({ code: 'BAD_FEATURES' });
    await expect(trainHead(good, good, { learningRate: -1 })).rejects.toMatchObject({ code: 'BAD_OPTIONS' });
  });
});

describe('input noise', () => {
  it('trains on noisy copies of the features (other weights than without), still separating held-out samples', async () => {
    const train = clouds(256, 16, 11);
    const val = clouds(96, 16, 12);
    const opts = { epochs: 4, batchSize: 32, hiddenUnits: 8, learningRate: 1e-2, seed: 3 };
    const plain = await trainHead(train, val, opts);
    const noisy = await trainHead(train, val, { ...opts, inputNoise: 1 });
    expect(Array.from(noisy.weights.dense1.kernel)).not.toEqual(Array.from(plain.weights.dense1.kernel));
    const p = scoreWithHead(noisy.weights, val.views[0]);
    expect(Array.from(p).filter((q, i) => (q >= 0.5 ? 1 : 0) === val.labels[i]).length / 96).toBeGreaterThan(0.8);
  });
});

// A majority group whose classes differ in dimensions 0–3 and a small group whose classes differ
// only in dimensions 4–7, in the other direction on 0–3: a plain head fits the majority's rule.
function twoGroups(nMajor: number, nMinor: number, d: number, seed: number): FeatureSet & { groups: Int32Array } {
  const rng = createRng(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(rng() + 1e-12)) * Math.cos(2 * Math.PI * rng());
  const n = nMajor + nMinor;
  const labels = new Uint8Array(n);
  const groups = new Int32Array(n);
  const v = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    labels[i] = i % 2;
    groups[i] = i < nMajor ? 0 : 1;
    for (let j = 0; j < d; j++) {
      const signal = groups[i] === 0 ? (j < 4 ? 1.5 : 0) : j < 4 ? -1 : j < 8 ? 1.5 : 0;
      v[i * d + j] = gauss() + (labels[i] ? signal : 0);
    }
  }
  return { dim: d, views: [v], labels, weights: new Float32Array(n).fill(1), groups };
}

describe('group DRO', () => {
  it('weighs the worse-fitted group up, so a small group with its own rule is ranked better than by the plain head', async () => {
    const train = twoGroups(480, 48, 16, 21);
    const val = twoGroups(96, 96, 16, 22);
    const minority = twoGroups(0, 400, 16, 23);
    const opts = { epochs: 8, batchSize: 32, hiddenUnits: 16, learningRate: 1e-2, seed: 3 };
    const plain = await trainHead(train, val, opts);
    const dro = await trainHead(train, val, { ...opts, groupDroStep: 0.5 });
    const auc = (w: typeof plain.weights) => computeRocAuc(minority.labels, scoreWithHead(w, minority.views[0])) as number;
    console.log(`minority ROC-AUC: plain ${auc(plain.weights).toFixed(3)}, group DRO ${auc(dro.weights).toFixed(3)}`);
    expect(auc(dro.weights)).toBeGreaterThan(auc(plain.weights) + 0.05);
  });

  it('refuses a step without a valid group for every sample, and with the linear probe', async () => {
    const train = clouds(64, 8, 1);
    await expect(trainHead(train, clouds(32, 8, 2), { epochs: 1, groupDroStep: 0.1 })).rejects.toMatchObject({ code: 'BAD_OPTIONS' });
    await expect(trainHead({ ...train, groups: new Int32Array(10) }, clouds(32, 8, 2), { epochs: 1, groupDroStep: 0.1 })).rejects.toMatchObject({ code: 'BAD_OPTIONS' });
    await expect(trainHead({ ...train, groups: new Int32Array(64).fill(-1) }, clouds(32, 8, 2), { epochs: 1, groupDroStep: 0.1 })).rejects.toMatchObject({ code: 'BAD_OPTIONS' });
    await expect(trainHead({ ...train, groups: new Int32Array(64) }, clouds(32, 8, 2), { epochs: 1, groupDroStep: 0.1, linearProbeL2: 0.1 })).rejects.toMatchObject({ code: 'BAD_OPTIONS' });
  });
});

describe('linear probe', () => {
  it('fits logistic regression to its optimum and exports a two-unit paper head whose logit is the linear score', async () => {
    const train = clouds(256, 12, 5);
    const val = clouds(96, 12, 6);
    const a = await trainHead(train, val, { linearProbeL2: 1e-2 });
    const b = await trainHead(train, val, { linearProbeL2: 1e-2, seed: 9 });
    // Convex: the seed does not matter.
    expect(Array.from(b.weights.dense1.kernel)).toEqual(Array.from(a.weights.dense1.kernel));
    expect(a.weights.dense1.units).toBe(2);
    // The head is logit = w·x + c on raw features: relu(s) − relu(−s) = s.
    const w = Array.from({ length: 12 }, (_, j) => a.weights.dense1.kernel[j * 2]);
    const c = a.weights.dense1.bias[0];
    const p = scoreWithHead(a.weights, val.views[0]);
    for (let i = 0; i < 96; i++) {
      let s = c;
      for (let j = 0; j < 12; j++) s += w[j] * val.views[0][i * 12 + j];
      expect(p[i]).toBeCloseTo(1 / (1 + Math.exp(-s)), 5);
    }
    // It separates the clouds (the first four dimensions carry the class) on held-out samples.
    const right = Array.from(p).filter((q, i) => (q >= 0.5 ? 1 : 0) === val.labels[i]).length;
    expect(right / 96).toBeGreaterThan(0.85);
    expect(Math.abs(w[0])).toBeGreaterThan(Math.abs(w[8]));
  });

  it('stops at a point where the regularised loss has no descent direction', () => {
    const set = clouds(200, 8, 7);
    const d = 8;
    const x = Float32Array.from(set.views[0], (v) => v - 3);
    const weights = new Float32Array(200).fill(1);
    const l2 = 0.05;
    const fit = fitLinearProbe({ dim: d, x, labels: set.labels, weights }, l2);
    // The gradient, computed here independently, vanishes at the solution.
    const grad = new Float64Array(d + 1);
    for (let i = 0; i < 200; i++) {
      let s = fit.b;
      for (let j = 0; j < d; j++) s += x[i * d + j] * fit.w[j];
      const r = (1 / (1 + Math.exp(-s)) - set.labels[i]) / 200;
      for (let j = 0; j < d; j++) grad[j] += r * x[i * d + j];
      grad[d] += r;
    }
    for (let j = 0; j < d; j++) expect(Math.abs(grad[j] + l2 * fit.w[j])).toBeLessThan(1e-5);
    expect(Math.abs(grad[d])).toBeLessThan(1e-5);
  });

  it('refuses a zero L2 strength and an ensemble of probes', async () => {
    const set = clouds(32, 4, 8);
    expect(() => fitLinearProbe({ dim: 4, x: set.views[0], labels: set.labels, weights: set.weights }, 0)).toThrow(TrainingError);
    await expect(trainHead(set, set, { linearProbeL2: 1e-2, ensemble: 2 })).rejects.toThrow(/ensemble/);
    await expect(trainHead(set, set, { linearProbeL2: -1 })).rejects.toThrow(/≥ 0/);
    await expect(trainHead(set, set, { inputNoise: Number.NaN })).rejects.toThrow(/≥ 0/);
  });
});

describe('training helpers', () => {
  it('balances class weights so both classes weigh the same and the mean is 1', () => {
    const w = balanceClassWeights(Uint8Array.from([0, 0, 0, 1]), Float32Array.from([1, 1, 1, 1]));
    expect(w[0] + w[1] + w[2]).toBeCloseTo(w[3], 6);
    expect((w[0] + w[1] + w[2] + w[3]) / 4).toBeCloseTo(1, 6);
  });

  it('pools NHWC maps into channel means and standard deviations', () => {
    // 2×1 map with 2 channels: pixel A = (1, 10), pixel B = (3, 10)
    const v = poolFeatureMap(Float32Array.from([1, 10, 3, 10]), 0, 2, 1, 2, 'mean-std');
    expect(Array.from(v)).toEqual([2, 10, 1, 0]);
  });

  it('pools a map cell by cell on a grid (experiments), and keeps grid poolings out of detectors', () => {
    // 3×2 map, 1 channel, values 0…5 row-major; a 2×2 grid cuts rows at 1 and columns at 1:
    // cells (row 0, col 0) = [0], (0, 1) = [1], (rows 1–2, col 0) = [2, 4], (rows 1–2, col 1) = [3, 5].
    const v = poolFeatureMap(Float32Array.from([0, 1, 2, 3, 4, 5]), 0, 3, 2, 1, 'grid2-mean-std');
    expect(Array.from(v)).toEqual([0, 0, 1, 0, 3, 1, 4, 1]);
    expect(() => poolFeatureMap(new Float32Array(6), 0, 3, 2, 1, 'grid3-mean-std')).toThrow(TrainingError);
    expect(globalPooling('mean-std')).toBe('mean-std');
    expect(() => globalPooling('grid4-mean-std')).toThrow(TrainingError);
  });

  it('parses views and flags, with usage errors for bad values', () => {
    expect(parseViews('flip,jpeg')).toEqual(['plain', 'flip', 'jpeg']);
    expect(viewIsFlipped('jpeg-flip')).toBe(true);
    expect(() => parseViews('sepia')).toThrow(TrainingError);
    const f = parseFlags(['--epochs', '3', '--exclude-modality', 'gan,diffusion', '--exclude-modality=gan-i2i', '--set-default'], {
      epochs: { type: 'int' },
      'exclude-modality': { type: 'list' },
      'set-default': { type: 'flag' },
    });
    expect(f.epochs).toBe(3);
    expect(f['exclude-modality']).toEqual(['gan', 'diffusion', 'gan-i2i']);
    expect(f['set-default']).toBe(true);
    expect(() => parseFlags(['--epochs', 'x'], { epochs: { type: 'int' } })).toThrow(UsageError);
    expect(() => parseFlags(['--nope'], {})).toThrow(UsageError);
  });
});
