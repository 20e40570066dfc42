import { describe, it, expect } from 'vitest';
import {
  computeAveragePrecision,
  computeBinaryMetrics,
  computePrCurve,
  computeRocAuc,
  computeRocCurve,
  MetricsInputError,
  selectThreshold,
} from '../../electron/services/evaluation/metrics';
import { computeGroupedMetrics, type ScoredItem } from '../../electron/services/evaluation/grouped-metrics';
import { generatorBalancedWeights } from '../../electron/services/evaluation/sample-weights';

// The example from sklearn's documentation: roc_auc_score = 0.75, average_precision_score = 0.8333.
const labels = [0, 0, 1, 1];
const scores = [0.1, 0.4, 0.35, 0.8];

function expectCode(fn: () => unknown, code: string): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(MetricsInputError);
    expect((e as MetricsInputError).code).toBe(code);
    return;
  }
  throw new Error(`expected MetricsInputError ${code}`);
}

describe('binary metrics against hand-computed values', () => {
  it('computes the eight metrics and the confusion matrix at a threshold', () => {
    const m = computeBinaryMetrics(labels, scores, { threshold: 0.5 });
    // Only 0.8 is >= 0.5: TP 1, FN 1 (0.35), TN 2.
    expect(m.confusion).toEqual({ tp: 1, fp: 0, tn: 2, fn: 1 });
    expect(m.precision).toBe(1);
    expect(m.recall).toBe(0.5);
    expect(m.f1).toBeCloseTo(2 / 3, 12);
    expect(m.accuracy).toBe(0.75);
    expect(m.fpr).toBe(0);
    expect(m.fnr).toBe(0.5);
    expect(m.rocAuc).toBeCloseTo(0.75, 12);
    expect(m.ap).toBeCloseTo(5 / 6, 12);
    expect(m.undefinedReasons).toEqual({});
    expect(m.weighted).toBe(false);
  });

  it('treats a score equal to the threshold as synthetic', () => {
    const m = computeBinaryMetrics(labels, scores, { threshold: 0.35 });
    expect(m.confusion).toEqual({ tp: 2, fp: 1, tn: 1, fn: 0 });
  });

  it('gives tied scores half credit in ROC-AUC and one PR step in AP', () => {
    // Pairs (synthetic, real): (0.5, 0.5) tie = 0.5, the other three pairs ordered correctly.
    const tiedLabels = [0, 1, 0, 1];
    const tiedScores = [0.5, 0.5, 0.2, 0.9];
    expect(computeRocAuc(tiedLabels, tiedScores)).toBeCloseTo(3.5 / 4, 12);
    // Steps: R .5 at P 1 (0.9), then R 1 at P 2/3 (both 0.5s together).
    expect(computeAveragePrecision(tiedLabels, tiedScores)).toBeCloseTo(0.5 + 0.5 * (2 / 3), 12);
    const m = computeBinaryMetrics(tiedLabels, tiedScores, { threshold: 0.5 });
    expect(m.confusion).toEqual({ tp: 2, fp: 1, tn: 1, fn: 0 });
    expect(m.f1).toBeCloseTo(0.8, 12);
    // All scores equal: a coin-flip detector, AUC 0.5 and AP = the positive rate.
    expect(computeRocAuc([0, 1, 1, 0], [0.7, 0.7, 0.7, 0.7])).toBe(0.5);
    expect(computeAveragePrecision([0, 1, 1, 0], [0.7, 0.7, 0.7, 0.7])).toBe(0.5);
  });

  it('returns null with a reason, not NaN, for metrics a one-class set cannot define', () => {
    const onlySynthetic = computeBinaryMetrics([1, 1], [0.2, 0.9], { threshold: 0.5 });
    expect(onlySynthetic.rocAuc).toBeNull();
    expect(onlySynthetic.undefinedReasons.rocAuc).toMatch(/both classes/);
    expect(onlySynthetic.fpr).toBeNull();
    expect(onlySynthetic.undefinedReasons.fpr).toMatch(/no real images/);
    expect(onlySynthetic.ap).toBe(1);
    expect(onlySynthetic.recall).toBe(0.5);
    expect(onlySynthetic.accuracy).toBe(0.5);

    const onlyReal = computeBinaryMetrics([0, 0, 0], [0.1, 0.6, 0.3], { threshold: 0.5 });
    expect(onlyReal.rocAuc).toBeNull();
    expect(onlyReal.ap).toBeNull();
    expect(onlyReal.recall).toBeNull();
    expect(onlyReal.fnr).toBeNull();
    expect(onlyReal.precision).toBe(0);
    expect(onlyReal.fpr).toBeCloseTo(1 / 3, 12);
    expect(onlyReal.accuracy).toBeCloseTo(2 / 3, 12);
    expect(Object.keys(onlyReal.undefinedReasons).sort()).toEqual(['ap', 'fnr', 'recall', 'rocAuc']);
    expect(JSON.stringify(onlyReal)).not.toContain('NaN');

    const nothingFlagged = computeBinaryMetrics(labels, scores, { threshold: 0.9 });
    expect(nothingFlagged.precision).toBeNull();
    expect(nothingFlagged.undefinedReasons.precision).toMatch(/predicted synthetic/);
    expect(nothingFlagged.f1).toBe(0);
  });

  it('weights samples in every metric (weighted Mann-Whitney for AUC)', () => {
    const weights = [1, 1, 2, 1];
    const m = computeBinaryMetrics(labels, scores, { threshold: 0.5, weights });
    // Pairs weighted: 0.8 (w1) beats both reals = 2; 0.35 (w2) beats 0.1 (w1) = 2; of 3 × 2 = 6.
    expect(m.rocAuc).toBeCloseTo(4 / 6, 12);
    // Steps: R 1/3 at P 1, R 1/3 at P .5, R 1 at P .75.
    expect(m.ap).toBeCloseTo(1 / 3 + (2 / 3) * 0.75, 12);
    expect(m.weightedConfusion).toEqual({ tp: 1, fp: 0, tn: 2, fn: 2 });
    expect(m.confusion).toEqual({ tp: 1, fp: 0, tn: 2, fn: 1 });
    expect(m.recall).toBeCloseTo(1 / 3, 12);
    expect(m.accuracy).toBeCloseTo(3 / 5, 12);
  });

  it('rejects bad input with typed errors', () => {
    expectCode(() => computeBinaryMetrics([], [], { threshold: 0.5 }), 'EMPTY');
    expectCode(() => computeBinaryMetrics([0, 1], [0.5], { threshold: 0.5 }), 'LENGTH_MISMATCH');
    expectCode(() => computeBinaryMetrics([0, 2], [0.5, 0.4], { threshold: 0.5 }), 'BAD_LABEL');
    expectCode(() => computeBinaryMetrics([0, 1], [0.5, Number.NaN], { threshold: 0.5 }), 'BAD_SCORE');
    expectCode(() => computeBinaryMetrics([0, 1], [0.5, 0.4], { threshold: Number.NaN }), 'BAD_THRESHOLD');
    expectCode(() => computeBinaryMetrics([0, 1], [0.5, 0.4], { threshold: 0.5, weights: [1, -1] }), 'BAD_WEIGHT');
    expectCode(() => computeRocCurve([1, 1], [0.5, 0.4]), 'SINGLE_CLASS');
    expectCode(() => selectThreshold([0, 0], [0.5, 0.4]), 'SINGLE_CLASS');
  });
});

describe('curves', () => {
  it('lists ROC points at every distinct threshold from (0, 0)', () => {
    expect(computeRocCurve(labels, scores)).toEqual([
      { fpr: 0, tpr: 0, threshold: Infinity },
      { fpr: 0, tpr: 0.5, threshold: 0.8 },
      { fpr: 0.5, tpr: 0.5, threshold: 0.4 },
      { fpr: 0.5, tpr: 1, threshold: 0.35 },
      { fpr: 1, tpr: 1, threshold: 0.1 },
    ]);
    // A tie is one point, not two.
    expect(computeRocCurve([0, 1, 0, 1], [0.5, 0.5, 0.2, 0.9]).map((p) => p.threshold)).toEqual([Infinity, 0.9, 0.5, 0.2]);
  });

  it('lists PR points in sklearn order, ending at recall 0, precision 1', () => {
    const pr = computePrCurve(labels, scores);
    expect(pr.map((p) => p.threshold)).toEqual([0.1, 0.35, 0.4, 0.8, Infinity]);
    expect(pr.map((p) => p.recall)).toEqual([1, 1, 0.5, 0.5, 0]);
    expect(pr[0].precision).toBe(0.5);
    expect(pr[1].precision).toBeCloseTo(2 / 3, 12);
    expect(pr.slice(2).map((p) => p.precision)).toEqual([0.5, 1, 1]);
  });
});

describe('threshold selection on a validation set', () => {
  it('maximises Youden J and places the threshold in the gap', () => {
    expect(selectThreshold([0, 0, 1, 1], [0.2, 0.3, 0.7, 0.9])).toEqual({ threshold: 0.5, criterion: 'youden', value: 1, tpr: 1, fpr: 0 });
    // J = 0.5 both above 0.8 (gap 0.8..0.4 → 0.6) and above 0.35 (gap 0.35..0.1 → 0.225): the one nearer 0.5 wins.
    const s = selectThreshold(labels, scores);
    expect(s.threshold).toBeCloseTo(0.6, 12);
    expect(s.value).toBeCloseTo(0.5, 12);
  });

  it('can maximise F1 instead', () => {
    // F1 at >= 0.35 is 2·2 / (2·2 + 1) = 0.8, the best cut.
    const s = selectThreshold(labels, scores, { criterion: 'f1' });
    expect(s.threshold).toBeCloseTo(0.225, 12);
    expect(s.value).toBeCloseTo(0.8, 12);
  });
});

describe('grouped and weighted metrics', () => {
  const items: ScoredItem[] = [
    { label: 0, score: 0.1, generator: 'none', modality: 'photo' },
    { label: 0, score: 0.6, generator: 'none', modality: 'photo' },
    { label: 1, score: 0.9, generator: 'A', modality: 'gan' },
    { label: 1, score: 0.4, generator: 'A', modality: 'gan' },
    { label: 1, score: 0.8, generator: 'B', modality: 'diffusion' },
  ];

  it('scores each generator against all real images of the split', () => {
    const rows = computeGroupedMetrics(items, { by: 'generator', threshold: 0.5 });
    expect(rows.map((r) => r.group)).toEqual(['none', 'A', 'B']);
    const [real, a, b] = rows;
    // A: synthetic 0.9 beats both reals, 0.4 beats 0.1 only: 3 of 4 pairs.
    expect(a.metrics.rocAuc).toBeCloseTo(0.75, 12);
    expect(a.metrics.n).toBe(4);
    expect(a.realCount).toBe(2);
    expect(b.metrics.rocAuc).toBe(1);
    expect(b.metrics.recall).toBe(1);
    // The real row is real images only: specificity as accuracy, no AUC.
    expect(real.groupClass).toBe('real');
    expect(real.metrics.accuracy).toBe(0.5);
    expect(real.metrics.fpr).toBe(0.5);
    expect(real.metrics.rocAuc).toBeNull();
  });

  it('groups by modality the same way', () => {
    const rows = computeGroupedMetrics(items, { by: 'modality', threshold: 0.5 });
    expect(rows.map((r) => `${r.groupClass}:${r.group}`)).toEqual(['real:photo', 'synthetic:diffusion', 'synthetic:gan']);
    expect(rows[2].metrics.rocAuc).toBeCloseTo(0.75, 12);
  });

  it('gives each generator equal total weight and each class half', () => {
    const w = generatorBalancedWeights(items);
    expect(w).toEqual([1.25, 1.25, 0.625, 0.625, 1.25]);
    expect(w.reduce((s, x) => s + x, 0)).toBeCloseTo(items.length, 12);
    // With these weights the real class and generators A and B each weigh the same in the metric.
    const m = computeBinaryMetrics(items.map((i) => i.label), items.map((i) => i.score), { threshold: 0.5, weights: w });
    expect(m.weightedConfusion).toEqual({ tp: 1.875, fp: 1.25, tn: 1.25, fn: 0.625 });
    const weightedRows = computeGroupedMetrics(items, { by: 'generator', threshold: 0.5, weighting: 'generator-balanced' });
    expect(weightedRows[1].metrics.weighted).toBe(true);
    expect(weightedRows[1].metrics.rocAuc).toBeCloseTo(0.75, 12);
  });
});
