// Calibration and operating point from out-of-fold scores: the crossed folds' held-out images
// (real photographs of a collection the head never saw, images of generators it never saw), each
// scored by the head that was trained without them. Platt scaling is fitted on their logits; the
// threshold is the calibrated score at which at most the target share of held-out real photographs
// (each collection weighing the same) would be called synthetic; below it, an "inconclusive" band
// reaches down to where at most `maxFnr` of the held-out synthetic images (each generator weighing
// the same) would be called real. With `maxCollectionFpr`, the threshold is also raised until no
// single collection has more than that share called synthetic, and the fit reports what that rule
// would have given each collection had the threshold been chosen without it (leave-one-collection-out),
// which is the estimate for a collection the rule never saw.
import type { Calibration, InconclusiveBand } from '../engine/operating-point';
import { calibrateScore } from '../engine/operating-point';
import { thresholdForFpr } from './holdout-validation';

export interface OutOfFoldScore {
  label: 0 | 1;
  /** Real: the collection; synthetic: the generator. Each group weighs the same within its class. */
  group: string;
  score: number;
}

const logit = (p: number) => {
  const q = Math.min(Math.max(p, 1e-7), 1 - 1e-7);
  return Math.log(q / (1 - q));
};

/** Each class sums to 1, each group within it to 1 / (its class's groups). */
export function groupBalancedWeights(scores: readonly OutOfFoldScore[]): number[] {
  const counts = new Map<string, number>();
  const groupsPerClass = [new Set<string>(), new Set<string>()];
  for (const s of scores) {
    counts.set(`${s.label}:${s.group}`, (counts.get(`${s.label}:${s.group}`) ?? 0) + 1);
    groupsPerClass[s.label].add(s.group);
  }
  return scores.map((s) => 1 / (counts.get(`${s.label}:${s.group}`) as number) / groupsPerClass[s.label].size);
}

/**
 * Weighted logistic regression of the label on a·logit(score) + b: Newton's method with a
 * backtracking line search on the weighted log-loss. Without the line search, scores that saturate
 * (a head sure of itself gives logits of ±16) send the first full Newton step far past the optimum,
 * into a region where every p is 0 or 1 and the Hessian vanishes, and the fit never returns.
 */
export function fitPlatt(scores: readonly OutOfFoldScore[], weights: readonly number[] = groupBalancedWeights(scores)): Calibration {
  const z = scores.map((s) => logit(s.score));
  const loss = (a: number, b: number) => {
    let l = 0;
    for (let i = 0; i < z.length; i++) {
      const t = a * z[i] + b;
      // log(1 + e^t) − y·t, written so it never overflows.
      l += weights[i] * ((t > 0 ? t + Math.log1p(Math.exp(-t)) : Math.log1p(Math.exp(t))) - scores[i].label * t);
    }
    return l;
  };
  let a = 1;
  let b = 0;
  let current = loss(a, b);
  for (let iter = 0; iter < 100; iter++) {
    let ga = 0;
    let gb = 0;
    let haa = 0;
    let hab = 0;
    let hbb = 0;
    for (let i = 0; i < z.length; i++) {
      const p = 1 / (1 + Math.exp(-(a * z[i] + b)));
      const r = (p - scores[i].label) * weights[i];
      const h = p * (1 - p) * weights[i];
      ga += r * z[i];
      gb += r;
      haa += h * z[i] * z[i];
      hab += h * z[i];
      hbb += h;
    }
    // A tiny ridge keeps the step finite when the classes separate.
    const det = (haa + 1e-9) * (hbb + 1e-9) - hab * hab;
    const da = ((hbb + 1e-9) * ga - hab * gb) / det;
    const db = ((haa + 1e-9) * gb - hab * ga) / det;
    let step = 1;
    let next = loss(a - da, b - db);
    while (!(next <= current) && step > 1e-6) {
      step /= 2;
      next = loss(a - step * da, b - step * db);
    }
    if (!(next <= current)) break;
    a -= step * da;
    b -= step * db;
    const moved = step * (Math.abs(da) + Math.abs(db));
    current = next;
    if (moved < 1e-10) break;
  }
  return { method: 'platt', a, b };
}

export interface FittedOperatingPoint {
  calibration: Calibration;
  threshold: number;
  band: InconclusiveBand;
  targetFpr: number;
  maxFnr: number;
  maxCollectionFpr?: number;
  /**
   * Per real collection: the threshold the same rule picks from the other collections' scores, and
   * the share of this collection's photographs it calls synthetic.
   */
  leaveOneCollectionOut: Array<{ group: string; threshold: number; fpr: number }>;
  /** On the out-of-fold scores themselves: per real collection, the shares called synthetic / inconclusive. */
  byRealSource: Array<{ group: string; n: number; synthetic: number; inconclusive: number; real: number }>;
  bySyntheticGroup: Array<{ group: string; n: number; synthetic: number; inconclusive: number; real: number }>;
  overall: { realCalledSynthetic: number; realInconclusive: number; syntheticFound: number; syntheticInconclusive: number; syntheticCalledReal: number };
}

export interface OperatingPointOptions {
  targetFpr: number;
  maxFnr: number;
  /** At most this share of any one collection's photographs called synthetic. */
  maxCollectionFpr?: number;
}

/** The threshold rule on calibrated real scores: the pooled target, raised for any collection above its cap. */
function thresholdOfRule(cal: readonly number[], realIdx: readonly number[], scores: readonly OutOfFoldScore[], weights: readonly number[], options: OperatingPointOptions): number {
  let threshold = thresholdForFpr(realIdx.map((i) => cal[i]), options.targetFpr, realIdx.map((i) => weights[i]));
  if (options.maxCollectionFpr !== undefined) {
    for (const group of new Set(realIdx.map((i) => scores[i].group))) {
      const own = realIdx.filter((i) => scores[i].group === group).map((i) => cal[i]);
      threshold = Math.max(threshold, thresholdForFpr(own, options.maxCollectionFpr));
    }
  }
  return threshold;
}

const isShare = (x: number) => Number.isFinite(x) && x > 0 && x <= 1;

export function fitOperatingPoint(scores: readonly OutOfFoldScore[], options: OperatingPointOptions, calibrated?: Calibration): FittedOperatingPoint {
  if (options.maxCollectionFpr !== undefined && !isShare(options.maxCollectionFpr)) throw new RangeError(`the per-collection cap must be a share in (0, 1], not ${options.maxCollectionFpr}`);
  const weights = groupBalancedWeights(scores);
  // The calibration does not depend on the threshold rule, so a search over rules fits it once.
  const calibration = calibrated ?? fitPlatt(scores, weights);
  const cal = scores.map((s) => calibrateScore(s.score, calibration));
  const realIdx = scores.map((s, i) => (s.label === 0 ? i : -1)).filter((i) => i >= 0);
  const synIdx = scores.map((s, i) => (s.label === 1 ? i : -1)).filter((i) => i >= 0);
  const threshold = thresholdOfRule(cal, realIdx, scores, weights, options);
  // The pooled target's weights are re-balanced over the remaining collections, as they would be in a fit without the held-out one.
  const leaveOneCollectionOut = [...new Set(realIdx.map((i) => scores[i].group))].sort().map((group) => {
    const rest = realIdx.filter((i) => scores[i].group !== group);
    const restWeights = groupBalancedWeights(rest.map((i) => scores[i]));
    const byIndex = new Map(rest.map((i, k) => [i, restWeights[k]]));
    const t = thresholdOfRule(cal, rest, scores, scores.map((_, i) => byIndex.get(i) ?? 0), options);
    const own = realIdx.filter((i) => scores[i].group === group);
    return { group, threshold: t, fpr: own.filter((i) => cal[i] >= t).length / own.length };
  });
  // The band's floor: the weighted maxFnr-quantile of the synthetic scores.
  const order = [...synIdx].sort((x, y) => cal[x] - cal[y]);
  const synTotal = order.reduce((s, i) => s + weights[i], 0);
  let below = 0;
  let low = 0;
  for (const i of order) {
    if ((below + weights[i]) / synTotal > options.maxFnr) {
      low = cal[i];
      break;
    }
    below += weights[i];
  }
  const band: InconclusiveBand = { low: Math.min(low, threshold), high: threshold };
  const verdict = (p: number) => (p >= threshold ? 'synthetic' : p >= band.low ? 'inconclusive' : 'real');
  const table = (label: 0 | 1) => {
    const groups = [...new Set(scores.filter((s) => s.label === label).map((s) => s.group))].sort();
    return groups.map((group) => {
      const idx = scores.map((s, i) => (s.label === label && s.group === group ? i : -1)).filter((i) => i >= 0);
      const share = (v: string) => idx.filter((i) => verdict(cal[i]) === v).length / idx.length;
      return { group, n: idx.length, synthetic: share('synthetic'), inconclusive: share('inconclusive'), real: share('real') };
    });
  };
  const wShare = (idx: number[], v: string) => idx.reduce((s, i) => s + (verdict(cal[i]) === v ? weights[i] : 0), 0) / idx.reduce((s, i) => s + weights[i], 0);
  return {
    calibration,
    threshold,
    band,
    targetFpr: options.targetFpr,
    maxFnr: options.maxFnr,
    maxCollectionFpr: options.maxCollectionFpr,
    leaveOneCollectionOut,
    byRealSource: table(0),
    bySyntheticGroup: table(1),
    overall: {
      realCalledSynthetic: wShare(realIdx, 'synthetic'),
      realInconclusive: wShare(realIdx, 'inconclusive'),
      syntheticFound: wShare(synIdx, 'synthetic'),
      syntheticInconclusive: wShare(synIdx, 'inconclusive'),
      syntheticCalledReal: wShare(synIdx, 'real'),
    },
  };
}

/**
 * The loosest per-collection cap (from `collectionFpr` down in steps of 0.01) whose
 * leave-one-collection-out check keeps every collection at or under `collectionFpr`: the threshold
 * rule is then judged on collections it did not see, which is what the next case is.
 */
export function fitOperatingPointForCollections(scores: readonly OutOfFoldScore[], options: { targetFpr: number; maxFnr: number; collectionFpr: number }): FittedOperatingPoint {
  if (!(isShare(options.collectionFpr) && options.collectionFpr >= 0.01)) throw new RangeError(`the collection false-positive target must be a share in [0.01, 1], not ${options.collectionFpr}`);
  const calibration = fitPlatt(scores);
  let fitted: FittedOperatingPoint | undefined;
  for (let cap = Math.round(options.collectionFpr * 100); cap >= 1; cap--) {
    fitted = fitOperatingPoint(scores, { targetFpr: options.targetFpr, maxFnr: options.maxFnr, maxCollectionFpr: cap / 100 }, calibration);
    if (fitted.leaveOneCollectionOut.every((r) => r.fpr <= options.collectionFpr)) return fitted;
  }
  // None passes: the tightest cap (the loop ran at least once), whose leaveOneCollectionOut table shows the miss.
  return fitted as FittedOperatingPoint;
}
