// Leave-one-real-source-out × leave-one-generator-group-out: the folds hold out what they say, the
// threshold rule meets its false-positive target on the data it was chosen on, and a fold whose
// held-out classes are separable by construction scores ROC-AUC 1.
import { describe, expect, it } from 'vitest';
import { splitWithHoldOut, type DatasetItem } from '../../electron/services/training/dataset-items';
import { sourceBalancedWeights, type FeatureTable } from '../../electron/services/training/feature-table';
import { scoreWithHead } from '../../electron/services/training/head-trainer';
import {
  cellFeatureSet,
  featureSetColumns,
  headOnAllColumns,
  headOnRawRows,
  projectedFeatureSet,
  generatorFamilyOf,
  planCrossedFolds,
  runCrossedFold,
  scoreCells,
  splitForCrossedFold,
  summariseCrossedFolds,
  thresholdForFpr,
} from '../../electron/services/training/holdout-validation';

const sourceOf = (i: Pick<DatasetItem, 'sourceKey'>) => i.sourceKey.split(':')[0];

function makeItems(): DatasetItem[] {
  const items: DatasetItem[] = [];
  const splits = ['train', 'train', 'train', 'val', 'test'] as const;
  let n = 0;
  for (const src of ['faces', 'wallpapers', 'low-light']) {
    for (let k = 0; k < 20; k++) items.push({ id: `r${n++}`, file: '', split: splits[k % 5], label: 0, modality: 'photo', generator: 'none', sourceKey: `${src}:${k}` });
  }
  for (const gen of ['stylegan2-ffhq', 'stylegan2-lowshot', 'sd3-medium', 'spade', 'dalle2', 'munit']) {
    for (let k = 0; k < 10; k++) items.push({ id: `s${n++}`, file: '', split: splits[k % 5], label: 1, modality: 'gan', generator: gen, sourceKey: `${gen}:${k}` });
  }
  return items;
}

/** Four columns per item: column 0 carries the class (±3, small noise), the others are noise. */
function separableTable(items: DatasetItem[], seed: number): { table: FeatureTable; data: Float32Array; dim: number } {
  const dim = 4;
  const data = new Float32Array(items.length * dim);
  const rnd = () => ((seed = (seed * 48271) % 2147483647) / 2147483647) * 2 - 1;
  items.forEach((it, i) => {
    data[i * dim] = it.label ? 3 + rnd() * 0.5 : -3 + rnd() * 0.5;
    for (let k = 1; k < dim; k++) data[i * dim + k] = rnd();
  });
  return { table: { dim, layers: ['x'], index: new Map(items.map((it, i) => [it.id, i])), views: { plain: data }, extraction: { computed: 0, cached: 0, seconds: 0 } }, data, dim };
}

describe('crossed hold-out folds', () => {
  it('groups related generators into families', () => {
    expect(generatorFamilyOf('stylegan2-lowshot')).toBe('stylegan2');
    expect(generatorFamilyOf('sd3.5-large-controlnet')).toBe('sd3');
    expect(generatorFamilyOf('chroma-v47')).toBe(generatorFamilyOf('hidream-i1-dev'));
    expect(generatorFamilyOf('dalle2')).toBe('dalle2');
  });

  it('crosses every real source with every generator group, families kept whole', () => {
    const items = makeItems();
    const plan = planCrossedFolds(items, sourceOf, { groups: 2, pairing: 'all' });
    expect(plan.realSources).toEqual(['faces', 'low-light', 'wallpapers']);
    expect(plan.folds).toHaveLength(6);
    const groupOf = (g: string) => plan.generatorGroups.findIndex((list) => list.includes(g));
    expect(groupOf('stylegan2-ffhq')).toBe(groupOf('stylegan2-lowshot'));
    expect(plan.generatorGroups.flat().sort()).toEqual(['dalle2', 'munit', 'sd3-medium', 'spade', 'stylegan2-ffhq', 'stylegan2-lowshot']);
    const rotated = planCrossedFolds(items, sourceOf, { groups: 2, pairing: 1 });
    expect(rotated.folds.map((f) => [f.realSource, f.generatorGroup])).toEqual([
      ['faces', 0],
      ['low-light', 1],
      ['wallpapers', 0],
    ]);
  });

  it('keeps the held-out source and generators out of train and val, and puts only them in test', () => {
    const items = makeItems();
    const plan = planCrossedFolds(items, sourceOf, { groups: 3, pairing: 'all' });
    for (const fold of plan.folds) {
      const split = splitForCrossedFold(items, fold, sourceOf);
      const held = (i: DatasetItem) => (i.label === 0 ? sourceOf(i) === fold.realSource : fold.generators.includes(i.generator));
      expect([...split.train, ...split.val].some(held)).toBe(false);
      expect(split.test.every(held)).toBe(true);
      // Every held-out item is in test, whatever its original split.
      expect(split.test).toHaveLength(items.filter(held).length);
      expect(split.train.some((i) => i.split !== 'train')).toBe(false);
    }
  });

  it('leaves a real collection out of training as the fine-tuning folds need it, by the manifest\'s source rules', () => {
    const real = (id: string, split: DatasetItem['split'], sourceKey: string): DatasetItem => ({ id, file: '', split, label: 0, modality: 'photo', generator: 'none', sourceKey });
    const items: DatasetItem[] = [
      real('w1', 'train', 'mate-backgrounds=1.26/usr/share/backgrounds/a.jpg'),
      real('w2', 'val', 'lomiri-wallpapers-16.04=1/b.jpg'),
      real('k1', 'train', 'Zelex/images@abc/kodim01.png'),
      real('k2', 'test', 'Zelex/images@abc/kodim02.png'),
      { id: 's1', file: '', split: 'train', label: 1, modality: 'gan', generator: 'spade', sourceKey: 'spade:1' },
      { id: 's2', file: '', split: 'val', label: 1, modality: 'gan', generator: 'munit', sourceKey: 'munit:1' },
    ];
    const split = splitWithHoldOut(items, { realSources: ['wallpapers'], generators: ['munit'] });
    expect(split.train.map((i) => i.id)).toEqual(['k1', 's1']);
    expect(split.val.map((i) => i.id)).toEqual([]);
    // Held-out items from every split, and the other real test items, form test.
    expect(split.test.map((i) => i.id).sort()).toEqual(['k2', 's2', 'w1', 'w2']);
  });

  it('can weigh every real collection the same, leaving the synthetic weights as they were', () => {
    const items = makeItems().filter((i) => i.label === 1 || sourceOf(i) !== 'low-light' || Number(i.sourceKey.split(':')[1]) < 5);
    const w = sourceBalancedWeights(items, sourceOf);
    const realShare = (src: string) => items.reduce((s, it, i) => s + (it.label === 0 && sourceOf(it) === src ? w[i] : 0), 0);
    expect(realShare('faces')).toBeCloseTo(realShare('low-light'), 9);
    expect(realShare('faces') + realShare('low-light') + realShare('wallpapers')).toBeCloseTo(items.length / 2, 9);
    const syn = items.map((it, i) => (it.label === 1 ? w[i] : 0));
    expect(syn.reduce((s, x) => s + x, 0)).toBeCloseTo(items.length / 2, 9);
  });

  it('chooses the threshold that meets the false-positive target on the scores it is given', () => {
    const real = Array.from({ length: 100 }, (_, i) => i / 100);
    const t = thresholdForFpr(real, 0.05);
    expect(real.filter((s) => s >= t).length).toBe(5);
    expect(real.filter((s) => s >= t - 0.011).length).toBeGreaterThan(5);
    // Ties cannot be split: a threshold inside a block of equal scores would break the target.
    const tied = [0.1, 0.9, 0.9, 0.9, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7];
    expect(tied.filter((s) => s >= thresholdForFpr(tied, 0.2)).length).toBeLessThanOrEqual(2);
  });

  it('scores a separable fold at ROC-AUC 1 and measures the held-out false positives at the validation threshold', async () => {
    const items = makeItems();
    // Feature 0 carries the class, the others noise: every head finds it.
    const { table } = separableTable(items, 7);
    const plan = planCrossedFolds(items, sourceOf, { groups: 2, pairing: 1 });
    const run = await runCrossedFold(table, items, plan.folds[0], sourceOf, ['plain'], { epochs: 30, hiddenUnits: 8, learningRate: 0.01, seed: 1 }, { targetFpr: 0.05 });
    expect(run.result.rocAuc).toBe(1);
    // The threshold comes from the fold's validation photographs, not the held-out ones: the
    // held-out rate is whatever share of them reaches it.
    const heldReal = run.testItems.map((it, i) => (it.label === 0 ? run.testScores[i] : NaN)).filter((x) => !Number.isNaN(x));
    expect(run.result.fprHeldOutReal).toBe(heldReal.filter((x) => x >= run.result.threshold).length / heldReal.length);
    expect(run.result.fprHeldOutReal).toBeLessThanOrEqual(0.1);
    expect(run.result.tprHeldOutSynthetic).toBeGreaterThan(0.9);
    expect(run.result.testReal).toBe(20);
    expect(run.result.perGenerator.every((g) => g.rocAuc === 1)).toBe(true);
    const summary = summariseCrossedFolds([run.result]);
    expect(summary.byRealSource).toEqual([{ realSource: plan.folds[0].realSource, folds: 1, meanRocAuc: 1, fpr: run.result.fprHeldOutReal }]);
    expect(summary.worstRealSourceFpr).toBe(run.result.fprHeldOutReal);
  });

  it('trains on the weights a reweighting hook returns, given the fold\'s training items and their default weights, and on the groups a grouping hook returns', async () => {
    const items = makeItems();
    const dim = 4;
    const data = new Float32Array(items.length * dim);
    let seed = 11;
    const rnd = () => ((seed = (seed * 48271) % 2147483647) / 2147483647) * 2 - 1;
    // A weak class cue in feature 0 under noise, so which crops count changes the head.
    items.forEach((it, i) => {
      data[i * dim] = (it.label ? 0.5 : -0.5) + rnd();
      for (let k = 1; k < dim; k++) data[i * dim + k] = rnd();
    });
    const table: FeatureTable = { dim, layers: ['x'], index: new Map(items.map((it, i) => [it.id, i])), views: { plain: data }, extraction: { computed: 0, cached: 0, seconds: 0 } };
    const fold = planCrossedFolds(items, sourceOf, { groups: 2, pairing: 1 }).folds[0];
    const head = { epochs: 10, hiddenUnits: 8, learningRate: 0.01, seed: 1 };
    const plain = await runCrossedFold(table, items, fold, sourceOf, ['plain'], head, { targetFpr: 0.05 });
    const seen: Array<{ ids: string[]; weights: Float32Array }> = [];
    const same = await runCrossedFold(table, items, fold, sourceOf, ['plain'], head, {
      targetFpr: 0.05,
      reweightTraining: (train, weights) => {
        seen.push({ ids: train.map((i) => i.id), weights: Float32Array.from(weights) });
        return weights;
      },
    });
    expect(seen).toHaveLength(1);
    expect(seen[0].ids).toEqual(splitForCrossedFold(items, fold, sourceOf).train.map((i) => i.id));
    expect(seen[0].weights).toHaveLength(seen[0].ids.length);
    expect(Array.from(same.testScores)).toEqual(Array.from(plain.testScores));
    const halved = await runCrossedFold(table, items, fold, sourceOf, ['plain'], head, {
      targetFpr: 0.05,
      reweightTraining: (_train, weights) => weights.map((w, i) => (i % 2 ? 0 : w)),
    });
    expect(Array.from(halved.testScores)).not.toEqual(Array.from(plain.testScores));
    // The groups hook sees the same training items, and its groups reach a group-DRO head.
    const grouped: string[][] = [];
    const dro = await runCrossedFold(table, items, fold, sourceOf, ['plain'], { ...head, groupDroStep: 1 }, {
      targetFpr: 0.05,
      trainingGroups: (train) => {
        grouped.push(train.map((i) => i.id));
        return Int32Array.from(train, (i) => i.label);
      },
    });
    expect(grouped).toEqual([seen[0].ids]);
    expect(Array.from(dro.testScores)).not.toEqual(Array.from(plain.testScores));
    await expect(runCrossedFold(table, items, fold, sourceOf, ['plain'], { ...head, groupDroStep: 1 }, { targetFpr: 0.05 })).rejects.toMatchObject({ code: 'BAD_OPTIONS' });
  });

  it('trains on every cell of a grid-pooled row as a sample of its item and scores an item by its mean cell logit', async () => {
    const items = makeItems();
    // Two cells of 2 columns per item: the class shows in cell 0 only, cell 1 is noise.
    const cells = 2;
    const { table, data, dim } = separableTable(items, 5);
    const set = cellFeatureSet({ dim, views: [data], labels: Uint8Array.from(items, (i) => i.label), weights: Float32Array.from(items, (_, i) => 1 + (i % 3)), groups: Int32Array.from(items, (i) => i.label) }, cells);
    expect(set.dim).toBe(2);
    expect(set.views[0]).toBe(data);
    expect(Array.from(set.labels.subarray(0, 4))).toEqual([0, 0, 0, 0]);
    expect(Array.from(set.weights.subarray(0, 6))).toEqual([0.5, 0.5, 1, 1, 1.5, 1.5]);
    expect(set.groups?.length).toBe(items.length * cells);
    expect(() => cellFeatureSet({ ...set, dim: 3 }, 2)).toThrow();
    const fold = planCrossedFolds(items, sourceOf, { groups: 2, pairing: 1 }).folds[0];
    const run = await runCrossedFold(table, items, fold, sourceOf, ['plain'], { epochs: 30, hiddenUnits: 8, learningRate: 0.01, seed: 1 }, { targetFpr: 0.05, cells });
    expect(run.result.rocAuc).toBe(1);
    expect(run.weights.inputDim).toBe(2);
    // An item's score is the sigmoid of its two cells' mean logit.
    const rows = new Float32Array(run.testItems.length * dim);
    run.testItems.forEach((it, i) => rows.set(data.subarray((table.index.get(it.id) as number) * dim, ((table.index.get(it.id) as number) + 1) * dim), i * dim));
    const perCell = scoreWithHead(run.weights, rows);
    const logit = (p: number) => Math.log(p / (1 - p));
    const expected = run.testItems.map((_, i) => 1 / (1 + Math.exp(-(logit(perCell[2 * i]) + logit(perCell[2 * i + 1])) / 2)));
    Array.from(scoreCells(run.weights, rows, cells)).forEach((p, i) => expect(p).toBeCloseTo(expected[i], 6));
    Array.from(run.testScores).forEach((p, i) => expect(p).toBeCloseTo(expected[i], 6));
  });

  it('trains on the columns a selection hook keeps and scores whole rows with the other columns weighing nothing', async () => {
    const items = makeItems();
    const { table, data, dim } = separableTable(items, 9);
    const fold = planCrossedFolds(items, sourceOf, { groups: 2, pairing: 1 }).folds[0];
    const seen: Array<{ ids: string[]; dim: number }> = [];
    const keep = Int32Array.from([0, 2]);
    const head = { epochs: 30, hiddenUnits: 8, learningRate: 0.01, seed: 1 };
    const run = await runCrossedFold(table, items, fold, sourceOf, ['plain'], head, {
      targetFpr: 0.05,
      selectColumns: (train, set) => {
        seen.push({ ids: train.map((i) => i.id), dim: set.dim });
        return keep;
      },
    });
    expect(seen).toEqual([{ ids: splitForCrossedFold(items, fold, sourceOf).train.map((i) => i.id), dim }]);
    expect(run.result.rocAuc).toBe(1);
    expect(run.weights.inputDim).toBe(dim);
    const units = run.weights.dense1.units;
    for (const dropped of [1, 3]) expect(Array.from(run.weights.dense1.kernel.subarray(dropped * units, (dropped + 1) * units)).every((w) => w === 0)).toBe(true);
    // Whole rows through the widened head score as the kept columns through the head trained on them.
    const set = { dim, views: [data], labels: Uint8Array.from(items, (i) => i.label), weights: new Float32Array(items.length).fill(1) };
    const narrow = { ...run.weights, inputDim: 2, dense1: { ...run.weights.dense1, kernel: Float32Array.from([...run.weights.dense1.kernel.subarray(0, units), ...run.weights.dense1.kernel.subarray(2 * units, 3 * units)]) } };
    expect(headOnAllColumns(narrow, keep, dim).dense1.kernel).toEqual(run.weights.dense1.kernel);
    const picked = featureSetColumns(set, keep);
    expect(picked.dim).toBe(2);
    expect(Array.from(picked.views[0].subarray(0, 2))).toEqual([data[0], data[2]]);
    Array.from(scoreWithHead(narrow, picked.views[0])).forEach((p, i) => expect(p).toBeCloseTo(scoreWithHead(run.weights, data)[i], 6));
    expect(() => featureSetColumns(set, Int32Array.from([4]))).toThrow();
    expect(() => headOnAllColumns(narrow, Int32Array.from([0]), dim)).toThrow();
  });

  it('trains on rows with chosen directions taken out, and folds that projection back into a head on raw rows', async () => {
    const items = makeItems();
    const { table, data, dim } = separableTable(items, 13);
    // One unit direction mixing columns 1 and 2 (noise columns) in the standardised space.
    const direction = Float32Array.from([0, Math.SQRT1_2, Math.SQRT1_2, 0]);
    const projection = { mean: Float32Array.from([0.1, -0.2, 0.3, 0]), std: Float32Array.from([2, 1, 0.5, 1]), directions: direction };
    const set = { dim, views: [data], labels: Uint8Array.from(items, (i) => i.label), weights: new Float32Array(items.length).fill(1) };
    const projected = projectedFeatureSet(set, projection);
    for (let i = 0; i < 5; i++) {
      const z = Array.from({ length: dim }, (_, j) => (data[i * dim + j] - projection.mean[j]) / projection.std[j]);
      const along = (z[1] + z[2]) * Math.SQRT1_2;
      const expected = z.map((v, j) => v - along * direction[j]);
      expected.forEach((v, j) => expect(projected.views[0][i * dim + j]).toBeCloseTo(v, 5));
    }
    const fold = planCrossedFolds(items, sourceOf, { groups: 2, pairing: 1 }).folds[0];
    const seen: string[][] = [];
    const run = await runCrossedFold(table, items, fold, sourceOf, ['plain'], { epochs: 30, hiddenUnits: 8, learningRate: 0.01, seed: 1 }, {
      targetFpr: 0.05,
      projectInputs: (train) => {
        seen.push(train.map((i) => i.id));
        return projection;
      },
    });
    expect(seen).toEqual([splitForCrossedFold(items, fold, sourceOf).train.map((i) => i.id)]);
    expect(run.result.rocAuc).toBe(1);
    // An identity projection leaves a head as it is; any other folds into the first layer, so that
    // raw rows score as the projected rows do through the unfolded head.
    const identity = { mean: new Float32Array(dim), std: new Float32Array(dim).fill(1), directions: new Float32Array(0) };
    expect(Array.from(headOnRawRows(run.weights, identity).dense1.kernel)).toEqual(Array.from(run.weights.dense1.kernel));
    const random = { ...run.weights, dense1: { ...run.weights.dense1, kernel: Float32Array.from(run.weights.dense1.kernel, (_, i) => Math.sin(i)) } };
    const onProjected = scoreWithHead(random, projected.views[0]);
    Array.from(scoreWithHead(headOnRawRows(random, projection), data)).forEach((p, i) => expect(p).toBeCloseTo(onProjected[i], 5));
    expect(() => projectedFeatureSet({ ...set, dim: 3 }, projection)).toThrow();
    // Selection and projection are one choice, and neither combines with cells.
    const both = { targetFpr: 0.05, projectInputs: () => projection, selectColumns: () => Int32Array.from([0]) };
    await expect(runCrossedFold(table, items, fold, sourceOf, ['plain'], { epochs: 2, hiddenUnits: 4, seed: 1 }, both)).rejects.toMatchObject({ code: 'BAD_OPTIONS' });
    await expect(runCrossedFold(table, items, fold, sourceOf, ['plain'], { epochs: 2, hiddenUnits: 4, seed: 1 }, { targetFpr: 0.05, cells: 2, projectInputs: () => projection })).rejects.toMatchObject({ code: 'BAD_OPTIONS' });
  });
});
