// Validation that rewards generalisation: train without a generator (or a whole modality) and score
// it against real test images it never saw. In-distribution validation on tiles of generators that
// were trained on says little about the next generator; these folds are what configurations are
// selected on.
import crypto from 'node:crypto';
import { computeRocAuc } from '../evaluation/metrics';
import { generatorBalancedWeights } from '../evaluation/sample-weights';
import { checkSplitUsable, splitWithHoldOut, type DatasetItem, type HoldOut } from './dataset-items';
import { aggregateCropScores } from '../engine/multi-crop';
import { featureSetFor, gatherRows, type FeatureTable } from './feature-table';
import { scoreWithHead, trainHead, type FeatureSet, type HeadWeights, type HeadTrainingOptions, type HeadTrainingResult, type TrainingHooks } from './head-trainer';
import type { ViewName } from './image-views';
import { TrainingError } from './training-errors';

export interface FoldResult {
  heldOut: string;
  by: 'generator' | 'modality' | 'none';
  trainCount: number;
  testSynthetic: number;
  testReal: number;
  /** Held-out synthetic images against the real test images. */
  rocAuc: number | null;
  /** Validation ROC-AUC on the fold's own (seen-generator) validation split, for contrast. */
  valRocAuc: number | null;
  bestEpoch: number;
  seconds: number;
}

export interface FoldRun {
  result: FoldResult;
  training: HeadTrainingResult;
  testItems: DatasetItem[];
  testScores: Float32Array;
  valItems: DatasetItem[];
  valScores: Float32Array;
}

/**
 * p(synthetic) of items by a head on their cached features; with `mirror`, the sigmoid of the mean
 * of the plain and the flipped view's logits, as a detector fused with `mirror` scores them.
 */
export function scoreItems(weights: HeadTrainingResult['weights'], table: FeatureTable, items: readonly DatasetItem[], mirror = false): Float32Array {
  const plain = scoreWithHead(weights, gatherRows(table, items, 'plain'));
  if (!mirror) return plain;
  const flipped = scoreWithHead(weights, gatherRows(table, items, 'flip'));
  return Float32Array.from(plain, (p, i) => aggregateCropScores([p, flipped[i]], 'mean-logit'));
}

export async function runFold(
  table: FeatureTable,
  items: readonly DatasetItem[],
  holdOut: HoldOut,
  trainViews: readonly ViewName[],
  head: HeadTrainingOptions,
  hooks: TrainingHooks & { mirror?: boolean } = {},
): Promise<FoldRun> {
  const split = splitWithHoldOut(items, holdOut);
  const label = [...(holdOut.generators ?? []), ...(holdOut.modalities ?? [])].join('+') || 'none';
  checkSplitUsable(split, `fold ${label}`);
  const training = await trainHead(featureSetFor(table, split.train, trainViews), featureSetFor(table, split.val, ['plain']), head, hooks);
  const testScores = scoreItems(training.weights, table, split.test, hooks.mirror);
  const valScores = scoreItems(training.weights, table, split.val, hooks.mirror);
  const testLabels = split.test.map((i) => i.label);
  const hasBoth = new Set(testLabels).size === 2;
  return {
    result: {
      heldOut: label,
      by: holdOut.generators?.length ? 'generator' : holdOut.modalities?.length ? 'modality' : 'none',
      trainCount: split.train.length,
      testSynthetic: testLabels.filter((l) => l === 1).length,
      testReal: testLabels.filter((l) => l === 0).length,
      // Within the held-out group every synthetic image counts once; a generator-balanced weight
      // would only matter for the in-distribution fold, where several generators share test.
      rocAuc: hasBoth ? computeRocAuc(testLabels, testScores, generatorBalancedWeights(split.test)) : null,
      valRocAuc: computeRocAuc(split.val.map((i) => i.label), valScores, generatorBalancedWeights(split.val)),
      bestEpoch: training.bestEpoch,
      seconds: training.seconds,
    },
    training,
    testItems: split.test,
    testScores,
    valItems: split.val,
    valScores,
  };
}

export interface HoldOutSummary {
  folds: FoldResult[];
  /** Mean and minimum held-out ROC-AUC over folds that have one. */
  mean: number | null;
  min: number | null;
}

export function summariseFolds(folds: FoldResult[]): HoldOutSummary {
  const aucs = folds.map((f) => f.rocAuc).filter((a): a is number => a !== null);
  return {
    folds,
    mean: aucs.length ? aucs.reduce((s, a) => s + a, 0) / aucs.length : null,
    min: aucs.length ? Math.min(...aucs) : null,
  };
}

export function syntheticGroups(items: readonly DatasetItem[], by: 'generator' | 'modality'): string[] {
  return [...new Set(items.filter((i) => i.label === 1).map((i) => i[by]))].sort();
}

/** Leave-one-generator-out (by = generator) or leave-one-modality-out (by = modality) over every synthetic group. */
export async function runLeaveOneOut(
  table: FeatureTable,
  items: readonly DatasetItem[],
  by: 'generator' | 'modality',
  trainViews: readonly ViewName[],
  head: HeadTrainingOptions,
  hooks: TrainingHooks & { onFold?: (f: FoldResult, index: number, total: number) => void; groups?: string[]; mirror?: boolean } = {},
): Promise<HoldOutSummary> {
  const groups = hooks.groups ?? syntheticGroups(items, by);
  const folds: FoldResult[] = [];
  for (const [i, g] of groups.entries()) {
    const run = await runFold(table, items, by === 'generator' ? { generators: [g] } : { modalities: [g] }, trainViews, head, { signal: hooks.signal, mirror: hooks.mirror });
    folds.push(run.result);
    hooks.onFold?.(run.result, i, groups.length);
  }
  return summariseFolds(folds);
}

// ---------------------------------------------------------------------------------------------
// Leave-one-real-source-out crossed with leave-one-generator-out. Holding out generators alone
// keeps the same real collections in training and test, so a head that has learnt "what these
// photographs look like" scores well there and then calls a new collection of real faces or
// degraded photographs synthetic. Each crossed fold holds out one collection of real photographs
// AND one group of generator families from train and val; its test set is only those: unseen real
// photographs against unseen generators. The threshold is chosen on the fold's own validation
// split (for a stated false-positive rate), so the held-out false-positive rate measures the
// operating-point rule, not a threshold tuned on the answers.

/** Related generator names that share a model or a decoder are held out together. */
const GENERATOR_FAMILY_RULES: ReadonlyArray<[RegExp, string]> = [
  [/^stylegan2(-|$)/, 'stylegan2'],
  [/^stylegan-(ffhq)$/, 'stylegan'],
  [/^styleswin-/, 'styleswin'],
  [/^eg3d-/, 'eg3d'],
  [/^(stable-diffusion-v1|sd1\.5-|anything-v3$)/, 'stable-diffusion-v1'],
  [/^latent-diffusion-/, 'latent-diffusion'],
  [/^sd3/, 'sd3'],
  [/^auraflow-/, 'auraflow'],
  [/^(chroma|hidream|omnigen2$)/, 'flux-vae'],
  [/^(taming-transformers-|vqgan-clip$)/, 'taming-transformers'],
  [/^show-o/, 'show-o'],
  [/^lumina-/, 'lumina'],
  [/^(funit|coco-funit)$/, 'funit'],
];

export function generatorFamilyOf(generator: string): string {
  return GENERATOR_FAMILY_RULES.find(([re]) => re.test(generator))?.[1] ?? generator;
}

export interface CrossedFoldSpec {
  realSource: string;
  /** Index of the generator group held out with it. */
  generatorGroup: number;
  generators: string[];
}

export interface CrossedFoldPlan {
  realSources: string[];
  /** Each group is a list of generator names (whole families). */
  generatorGroups: string[][];
  folds: CrossedFoldSpec[];
}

/**
 * Generator families dealt into `groups` groups of roughly equal item counts (largest family first,
 * to the lightest group; ties by a seeded order), then every real source crossed with every group
 * (`pairing: 'all'`, real × groups folds) or each real source paired with one group per rotation
 * (`pairing: n`, n × real folds, rotation r pairs source i with group (i + r) mod groups).
 */
export function planCrossedFolds(
  items: readonly DatasetItem[],
  realSourceOf: (item: DatasetItem) => string,
  options: { groups: number; pairing: 'all' | number; seed?: number },
): CrossedFoldPlan {
  const realSources = [...new Set(items.filter((i) => i.label === 0).map(realSourceOf))].sort();
  const familyItems = new Map<string, { count: number; generators: Set<string> }>();
  for (const item of items) {
    if (item.label !== 1) continue;
    const f = generatorFamilyOf(item.generator);
    const e = familyItems.get(f) ?? { count: 0, generators: new Set() };
    e.count++;
    e.generators.add(item.generator);
    familyItems.set(f, e);
  }
  const seedRank = (name: string) => crypto.createHash('sha256').update(`${options.seed ?? 1}\u0000${name}`).digest().readUInt32BE(0);
  const families = [...familyItems.entries()].sort((a, b) => b[1].count - a[1].count || seedRank(a[0]) - seedRank(b[0]));
  const k = Math.max(1, Math.min(options.groups, families.length));
  const groups: { count: number; generators: string[] }[] = Array.from({ length: k }, () => ({ count: 0, generators: [] }));
  for (const [, fam] of families) {
    const lightest = groups.reduce((best, g, i) => (g.count < groups[best].count ? i : best), 0);
    groups[lightest].count += fam.count;
    groups[lightest].generators.push(...[...fam.generators].sort());
  }
  const generatorGroups = groups.map((g) => g.generators.sort());
  const folds: CrossedFoldSpec[] = [];
  if (options.pairing === 'all') {
    for (const realSource of realSources) for (let g = 0; g < k; g++) folds.push({ realSource, generatorGroup: g, generators: generatorGroups[g] });
  } else {
    for (let r = 0; r < options.pairing; r++) {
      realSources.forEach((realSource, i) => {
        const g = (i + r) % k;
        folds.push({ realSource, generatorGroup: g, generators: generatorGroups[g] });
      });
    }
  }
  return { realSources, generatorGroups, folds };
}

/** Train/val without the held-out real source and generators; test = exactly those, from every split. */
export function splitForCrossedFold(items: readonly DatasetItem[], fold: CrossedFoldSpec, realSourceOf: (item: DatasetItem) => string): Record<'train' | 'val' | 'test', DatasetItem[]> {
  const held = new Set(fold.generators);
  const out: Record<'train' | 'val' | 'test', DatasetItem[]> = { train: [], val: [], test: [] };
  for (const item of items) {
    const heldOut = item.label === 0 ? realSourceOf(item) === fold.realSource : held.has(item.generator);
    if (heldOut) out.test.push(item);
    else if (item.split !== 'test') out[item.split].push(item);
  }
  return out;
}

/**
 * The threshold at which at most `targetFpr` of the (weighted) real scores lie at or above it: the
 * smallest score t with weighted share of real scores >= t not above the target.
 */
export function thresholdForFpr(realScores: ArrayLike<number>, targetFpr: number, weights?: ArrayLike<number>): number {
  const n = realScores.length;
  if (n === 0) return 0.5;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => realScores[b] - realScores[a]);
  const w = (i: number) => (weights ? weights[i] : 1);
  const total = order.reduce((s, i) => s + w(i), 0);
  let above = 0;
  let threshold = realScores[order[0]] + 1e-6;
  for (let j = 0; j < n; j++) {
    const i = order[j];
    // Ties move together: a threshold cannot separate equal scores.
    let k = j;
    let tieWeight = 0;
    while (k < n && realScores[order[k]] === realScores[i]) tieWeight += w(order[k++]);
    if ((above + tieWeight) / total > targetFpr) break;
    above += tieWeight;
    threshold = realScores[i];
    j = k - 1;
  }
  return Math.min(1, threshold);
}

export interface CrossedFoldResult {
  realSource: string;
  generatorGroup: number;
  trainCount: number;
  testReal: number;
  testSynthetic: number;
  /** Held-out generators (each counts equally) against the held-out real source. */
  rocAuc: number | null;
  /** Chosen on the fold's validation split for the target false-positive rate. */
  threshold: number;
  /** Share of the held-out real photographs' crops called synthetic at that threshold. */
  fprHeldOutReal: number;
  /** Share of the held-out synthetic images found at that threshold (generator-balanced). */
  tprHeldOutSynthetic: number;
  perGenerator: Array<{ generator: string; items: number; rocAuc: number | null }>;
  bestEpoch: number;
  seconds: number;
}

export interface CrossedFoldRun {
  result: CrossedFoldResult;
  weights: HeadTrainingResult['weights'];
  testItems: DatasetItem[];
  testScores: Float32Array;
  valItems: DatasetItem[];
  valScores: Float32Array;
}

export interface CrossedFoldOptions {
  targetFpr: number;
  signal?: AbortSignal;
  balanceRealSources?: boolean;
  /** Experiments: new training weights from the fold's training items and their default weights. */
  reweightTraining?: (train: readonly DatasetItem[], weights: Float32Array) => Float32Array;
  /** Experiments: each training item's group, for a head trained with group DRO (`groupDroStep`). */
  trainingGroups?: (train: readonly DatasetItem[]) => Int32Array;
  /**
   * Experiments: every table row is `cells` cell descriptors in a row (a grid pooling): the head
   * learns from each cell as a sample of its item's label and an item scores the mean cell logit.
   */
  cells?: number;
  /**
   * Experiments: the columns the head may read, chosen from the fold's training items and rows
   * (indices, ascending); the head is trained on those and scores full rows (`headOnAllColumns`).
   */
  selectColumns?: (train: readonly DatasetItem[], set: FeatureSet) => Int32Array;
  /**
   * Experiments: directions to take out of every standardised row before the head reads it, from
   * the fold's training items and rows; the head is folded back onto raw rows (`headOnRawRows`).
   */
  projectInputs?: (train: readonly DatasetItem[], set: FeatureSet) => InputProjection;
}

/** Rows standardised by mean and std, then with their components along k orthonormal directions removed. */
export interface InputProjection {
  mean: Float32Array;
  std: Float32Array;
  /** k × dim, row-major, orthonormal rows in the standardised space. */
  directions: Float32Array;
}

function projectRows(rows: Float32Array, dim: number, p: InputProjection): Float32Array {
  const k = p.directions.length / dim;
  const out = new Float32Array(rows.length);
  const z = new Float64Array(dim);
  for (let o = 0; o < rows.length; o += dim) {
    for (let j = 0; j < dim; j++) z[j] = (rows[o + j] - p.mean[j]) / p.std[j];
    for (let q = 0; q < k; q++) {
      const v = p.directions.subarray(q * dim, (q + 1) * dim);
      let dot = 0;
      for (let j = 0; j < dim; j++) dot += z[j] * v[j];
      for (let j = 0; j < dim; j++) z[j] -= dot * v[j];
    }
    for (let j = 0; j < dim; j++) out[o + j] = z[j];
  }
  return out;
}

/** The same samples with every row projected (`InputProjection`). */
export function projectedFeatureSet(set: FeatureSet, p: InputProjection): FeatureSet {
  if (p.mean.length !== set.dim || p.std.length !== set.dim || p.directions.length % set.dim !== 0) throw new TrainingError('BAD_FEATURES', `a projection for ${p.mean.length} columns does not fit ${set.dim}`);
  return { ...set, views: set.views.map((v) => projectRows(v, set.dim, p)) };
}

/**
 * A head trained on projected rows as a head on raw rows: the projection is linear, so it folds into
 * the first dense layer (kernel diag(1/std)·(I − VᵀV)·K, bias b − mean·that kernel).
 */
export function headOnRawRows(weights: HeadWeights, p: InputProjection): HeadWeights {
  const d = weights.inputDim;
  const units = weights.dense1.units;
  const k = p.directions.length / d;
  const kernel = Float32Array.from(weights.dense1.kernel);
  const vk = new Float64Array(units);
  for (let q = 0; q < k; q++) {
    const v = p.directions.subarray(q * d, (q + 1) * d);
    vk.fill(0);
    for (let j = 0; j < d; j++) for (let u = 0; u < units; u++) vk[u] += v[j] * weights.dense1.kernel[j * units + u];
    for (let j = 0; j < d; j++) for (let u = 0; u < units; u++) kernel[j * units + u] -= v[j] * vk[u];
  }
  const bias = Float32Array.from(weights.dense1.bias);
  for (let j = 0; j < d; j++) {
    for (let u = 0; u < units; u++) {
      kernel[j * units + u] /= p.std[j];
      bias[u] -= p.mean[j] * kernel[j * units + u];
    }
  }
  return { ...weights, dense1: { ...weights.dense1, kernel, bias } };
}

/** The same samples with only the given columns (indices into each row). */
export function featureSetColumns(set: FeatureSet, keep: Int32Array): FeatureSet {
  const n = set.labels.length;
  const pick = (rows: Float32Array) => {
    const out = new Float32Array(n * keep.length);
    for (let i = 0; i < n; i++) for (let k = 0; k < keep.length; k++) out[i * keep.length + k] = rows[i * set.dim + keep[k]];
    return out;
  };
  for (const k of keep) if (!Number.isInteger(k) || k < 0 || k >= set.dim) throw new TrainingError('BAD_FEATURES', `column ${k} is outside ${set.dim} columns`);
  return { ...set, dim: keep.length, views: set.views.map(pick) };
}

/**
 * The paper's head on a training and a validation set with the experiments' options applied alike to
 * both: cells (a grid-pooled row as one sample per cell), or a column selection or projection chosen
 * from the training items and rows and folded back, so that the head returned reads whole rows.
 */
export async function trainHeadForRows(
  trainItems: readonly DatasetItem[],
  trainSet: FeatureSet,
  valSet: FeatureSet,
  head: HeadTrainingOptions,
  options: Pick<CrossedFoldOptions, 'cells' | 'selectColumns' | 'projectInputs' | 'signal'>,
): Promise<HeadTrainingResult> {
  const cells = options.cells ?? 1;
  if (cells > 1 && (options.selectColumns || options.projectInputs)) throw new TrainingError('BAD_OPTIONS', 'column selection or projection and cells do not combine');
  if (options.selectColumns && options.projectInputs) throw new TrainingError('BAD_OPTIONS', 'column selection and projection do not combine');
  const keep = options.selectColumns?.(trainItems, trainSet);
  const projection = options.projectInputs?.(trainItems, trainSet);
  const prepare = (set: FeatureSet) => (cells > 1 ? cellFeatureSet(set, cells) : keep ? featureSetColumns(set, keep) : projection ? projectedFeatureSet(set, projection) : set);
  const training = await trainHead(prepare(trainSet), prepare(valSet), head, { signal: options.signal });
  if (keep) training.weights = headOnAllColumns(training.weights, keep, trainSet.dim);
  if (projection) training.weights = headOnRawRows(training.weights, projection);
  return training;
}

/** A head trained on some columns, as a head on whole rows that gives the other columns no weight. */
export function headOnAllColumns(weights: HeadWeights, keep: Int32Array, dim: number): HeadWeights {
  if (keep.length !== weights.inputDim) throw new TrainingError('BAD_FEATURES', `the head reads ${weights.inputDim} columns, ${keep.length} were kept`);
  const units = weights.dense1.units;
  const kernel = new Float32Array(dim * units);
  keep.forEach((col, k) => kernel.set(weights.dense1.kernel.subarray(k * units, (k + 1) * units), col * units));
  return { ...weights, inputDim: dim, dense1: { ...weights.dense1, kernel } };
}

/** A feature set whose rows hold `cells` descriptors each, as one row per cell (weights shared out). */
export function cellFeatureSet(set: FeatureSet, cells: number): FeatureSet {
  if (!Number.isInteger(cells) || cells < 1 || set.dim % cells !== 0) throw new TrainingError('BAD_FEATURES', `${set.dim} columns do not split into ${cells} cells`);
  const n = set.labels.length;
  const repeat = <T extends Uint8Array | Float32Array | Int32Array>(a: T, make: (len: number) => T, scale = 1): T => {
    const out = make(n * cells);
    for (let i = 0; i < n; i++) out.fill((a[i] * scale) as never, i * cells, (i + 1) * cells);
    return out;
  };
  return {
    dim: set.dim / cells,
    views: set.views,
    labels: repeat(set.labels, (l) => new Uint8Array(l)),
    weights: repeat(set.weights, (l) => new Float32Array(l), 1 / cells),
    groups: set.groups ? repeat(set.groups, (l) => new Int32Array(l)) : undefined,
  };
}

/** p(synthetic) of rows of `cells` descriptors: the sigmoid of the mean cell logit. */
export function scoreCells(weights: HeadTrainingResult['weights'], rows: Float32Array, cells: number): Float32Array {
  const perCell = scoreWithHead(weights, rows);
  const out = new Float32Array(perCell.length / cells);
  for (let i = 0; i < out.length; i++) out[i] = aggregateCropScores(perCell.subarray(i * cells, (i + 1) * cells), 'mean-logit');
  return out;
}

export async function runCrossedFold(
  table: FeatureTable,
  items: readonly DatasetItem[],
  fold: CrossedFoldSpec,
  realSourceOf: (item: DatasetItem) => string,
  trainViews: readonly ViewName[],
  head: HeadTrainingOptions,
  options: CrossedFoldOptions,
): Promise<CrossedFoldRun> {
  const split = splitForCrossedFold(items, fold, realSourceOf);
  checkSplitUsable(split, `fold ${fold.realSource} × generator group ${fold.generatorGroup}`);
  const groupOf = options.balanceRealSources ? realSourceOf : undefined;
  const trainSet = featureSetFor(table, split.train, trainViews, groupOf);
  if (options.reweightTraining) trainSet.weights = options.reweightTraining(split.train, trainSet.weights);
  if (options.trainingGroups) trainSet.groups = options.trainingGroups(split.train);
  const valSet = featureSetFor(table, split.val, ['plain'], groupOf);
  const cells = options.cells ?? 1;
  const training = await trainHeadForRows(split.train, trainSet, valSet, head, options);
  const score = (rows: Float32Array) => (cells > 1 ? scoreCells(training.weights, rows, cells) : scoreWithHead(training.weights, rows));
  const testScores = score(gatherRows(table, split.test, 'plain'));
  const valScores = score(gatherRows(table, split.val, 'plain'));
  const valReal = split.val.map((it, i) => (it.label === 0 ? valScores[i] : NaN)).filter((s) => !Number.isNaN(s));
  const threshold = thresholdForFpr(valReal, options.targetFpr);
  const labels = split.test.map((i) => i.label);
  const weights = generatorBalancedWeights(split.test);
  let fp = 0;
  let realCount = 0;
  let tpW = 0;
  let synW = 0;
  split.test.forEach((it, i) => {
    if (it.label === 0) {
      realCount++;
      if (testScores[i] >= threshold) fp++;
    } else {
      synW += weights[i];
      if (testScores[i] >= threshold) tpW += weights[i];
    }
  });
  const perGenerator = perGeneratorRocAuc(split.test, testScores, fold.generators);
  return {
    result: {
      realSource: fold.realSource,
      generatorGroup: fold.generatorGroup,
      trainCount: split.train.length,
      testReal: realCount,
      testSynthetic: labels.length - realCount,
      rocAuc: new Set(labels).size === 2 ? computeRocAuc(labels, testScores, weights) : null,
      threshold,
      fprHeldOutReal: realCount ? fp / realCount : 0,
      tprHeldOutSynthetic: synW ? tpW / synW : 0,
      perGenerator,
      bestEpoch: training.bestEpoch,
      seconds: training.seconds,
    },
    weights: training.weights,
    testItems: split.test,
    testScores,
    valItems: split.val,
    valScores,
  };
}

/** Each held-out generator's images against the fold's held-out real photographs. */
export function perGeneratorRocAuc(testItems: readonly DatasetItem[], scores: ArrayLike<number>, generators: readonly string[]): CrossedFoldResult['perGenerator'] {
  return generators.map((g) => {
    const idx = testItems.map((it, i) => (it.label === 0 || it.generator === g ? i : -1)).filter((i) => i >= 0);
    const n = idx.filter((i) => testItems[i].label === 1).length;
    return { generator: g, items: n, rocAuc: n ? computeRocAuc(idx.map((i) => testItems[i].label), idx.map((i) => scores[i])) : null };
  });
}

export interface CrossedSummary {
  folds: CrossedFoldResult[];
  meanRocAuc: number | null;
  minRocAuc: number | null;
  /** Per held-out real source: mean fold ROC-AUC and false-positive rate over its folds (pooled crops). */
  byRealSource: Array<{ realSource: string; folds: number; meanRocAuc: number | null; fpr: number }>;
  /** Per generator: mean ROC-AUC over the folds that held it out (against each fold's held-out real source). */
  byGenerator: Array<{ generator: string; folds: number; meanRocAuc: number | null }>;
  worstRealSourceFpr: number;
}

export function summariseCrossedFolds(folds: readonly CrossedFoldResult[]): CrossedSummary {
  const mean = (xs: number[]) => (xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : null);
  const aucs = folds.map((f) => f.rocAuc).filter((a): a is number => a !== null);
  const sources = [...new Set(folds.map((f) => f.realSource))].sort();
  const byRealSource = sources.map((realSource) => {
    const fs = folds.filter((f) => f.realSource === realSource);
    const reals = fs.reduce((s, f) => s + f.testReal, 0);
    return {
      realSource,
      folds: fs.length,
      meanRocAuc: mean(fs.map((f) => f.rocAuc).filter((a): a is number => a !== null)),
      fpr: reals ? fs.reduce((s, f) => s + f.fprHeldOutReal * f.testReal, 0) / reals : 0,
    };
  });
  const gens = new Map<string, number[]>();
  for (const f of folds) for (const g of f.perGenerator) if (g.rocAuc !== null) gens.set(g.generator, [...(gens.get(g.generator) ?? []), g.rocAuc]);
  const byGenerator = [...gens.entries()].map(([generator, xs]) => ({ generator, folds: xs.length, meanRocAuc: mean(xs) })).sort((a, b) => (a.meanRocAuc ?? 0) - (b.meanRocAuc ?? 0));
  return {
    folds: [...folds],
    meanRocAuc: mean(aucs),
    minRocAuc: aucs.length ? Math.min(...aucs) : null,
    byRealSource,
    byGenerator,
    worstRealSourceFpr: Math.max(0, ...byRealSource.map((r) => r.fpr)),
  };
}

/** Every fold of a plan, in order; `onFold` sees each result as it lands. */
export async function runCrossedValidation(
  table: FeatureTable,
  items: readonly DatasetItem[],
  plan: CrossedFoldPlan,
  realSourceOf: (item: DatasetItem) => string,
  trainViews: readonly ViewName[],
  head: HeadTrainingOptions,
  options: CrossedFoldOptions & { onFold?: (run: CrossedFoldRun, index: number, total: number) => void },
): Promise<{ summary: CrossedSummary; runs: CrossedFoldRun[] }> {
  const runs: CrossedFoldRun[] = [];
  for (const [i, fold] of plan.folds.entries()) {
    const run = await runCrossedFold(table, items, fold, realSourceOf, trainViews, head, options);
    runs.push(run);
    options.onFold?.(run, i, plan.folds.length);
  }
  return { summary: summariseCrossedFolds(runs.map((r) => r.result)), runs };
}
