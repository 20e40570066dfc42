// Pure parts of the model lab: the quality floors that decide whether activation needs a confirmation,
// choosing a threshold for an operating point on a ROC, and the live training chart's series.
import { describe, it, expect } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { parseModelCard } from '../../electron/services/engine/model-registry';
import { assessModelQuality, MODEL_QUALITY_FLOORS } from '../../electron/services/model-lab/model-quality';
import { thresholdFor, thinCurve } from '../../electron/services/model-lab/lab-evaluation';
import { trainingCurves } from '../../renderer/src/features/settings/model-lab/training-curves';

const repoRoot = path.resolve(import.meta.dirname, '../..');
const shippedCard = parseModelCard(JSON.parse(fs.readFileSync(path.join(repoRoot, 'models/default/model-card.json'), 'utf8')), 'shipped');

describe('model quality floors', () => {
  it('flags the shipped default below the recall floor at its threshold, and says its misses are mostly inconclusive', () => {
    const q = assessModelQuality(shippedCard);
    const test = (shippedCard.metrics as { test: { recall: number; rocAuc: number; fpr: number } }).test;
    // Only the recall floor is missed: ranking and false positives pass.
    expect(test.rocAuc).toBeGreaterThanOrEqual(MODEL_QUALITY_FLOORS.rocAuc);
    expect(test.fpr).toBeLessThanOrEqual(MODEL_QUALITY_FLOORS.maxFpr);
    expect(test.recall).toBeLessThan(MODEL_QUALITY_FLOORS.recall);
    expect(q.weak).toBe(true);
    expect(q.reasons).toHaveLength(1);
    expect(q.reasons[0]).toMatch(new RegExp(`^test recall ${test.recall.toFixed(3)} at its threshold is below 0.4: .*inconclusive band \\(p 0\\.\\d{3}–0\\.\\d{3}, \\d+ % of test images\\) rather than being called real$`));
  });

  it('flags a model that was never evaluated', () => {
    const q = assessModelQuality({ ...shippedCard, metrics: {} });
    expect(q).toMatchObject({ weak: true, reasons: ['it has no evaluation on a test split'] });
  });

  it('names every floor a model misses, with its number', () => {
    const test = { rocAuc: 0.5, recall: 0, fpr: 0.3, confusion: { tp: 0, fn: 4, tn: 2, fp: 1 } };
    // A card without an inconclusive band, as the lab trains them.
    const q = assessModelQuality({ ...shippedCard, inconclusiveBand: undefined, metrics: { test } } as typeof shippedCard);
    expect(q.reasons).toEqual([
      'test ROC-AUC 0.500 is below 0.75',
      'test recall 0.000 is below 0.4 (it misses most synthetic images)',
      'test FPR 0.300 is above 0.2 (it calls many real photographs synthetic)',
      'its test split is too small to trust (3 real, 4 synthetic; at least 10 of each)',
    ]);
  });
});

describe('operating points on a ROC', () => {
  // Points in order of falling threshold, as computeRocCurve returns them.
  const roc = [
    { fpr: 0, tpr: 0, threshold: Infinity },
    { fpr: 0, tpr: 0.4, threshold: 0.9 },
    { fpr: 0.01, tpr: 0.6, threshold: 0.8 },
    { fpr: 0.05, tpr: 0.8, threshold: 0.6 },
    { fpr: 0.3, tpr: 0.95, threshold: 0.3 },
    { fpr: 1, tpr: 1, threshold: 0.01 },
  ];
  it('FPR ≤ x: the most recall within it', () => {
    expect(thresholdFor({ kind: 'max-fpr', value: 0.01 }, roc)).toEqual({ threshold: 0.8, fpr: 0.01, tpr: 0.6 });
    expect(thresholdFor({ kind: 'max-fpr', value: 0 }, roc)).toEqual({ threshold: 0.9, fpr: 0, tpr: 0.4 });
  });
  it('recall ≥ y: the fewest false alarms that reach it', () => {
    expect(thresholdFor({ kind: 'min-recall', value: 0.9 }, roc)).toEqual({ threshold: 0.3, fpr: 0.3, tpr: 0.95 });
  });
  it('a given threshold reads its point off the curve', () => {
    expect(thresholdFor({ kind: 'threshold', value: 0.7 }, roc)).toEqual({ threshold: 0.7, fpr: 0.01, tpr: 0.6 });
  });
  it('refuses a point no threshold reaches', () => {
    expect(() => thresholdFor({ kind: 'min-recall', value: 1.01 }, roc)).toThrow(/rate from 0 to 1/);
    expect(() => thresholdFor({ kind: 'max-fpr', value: 0 }, roc.filter((p) => p.fpr > 0))).toThrow(/No threshold on the validation ROC keeps FPR at or below 0 except one above every score/);
  });
  it('thins long curves evenly and keeps both ends', () => {
    const pts = Array.from({ length: 1001 }, (_, i) => i);
    const thin = thinCurve(pts, 11);
    expect(thin).toEqual([0, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]);
    expect(thinCurve([1, 2, 3], 11)).toEqual([1, 2, 3]);
  });
});

describe('training chart series', () => {
  it('puts batches at fractional epochs, epochs at whole ones, and lists the learning-rate steps', () => {
    const details = [
      { kind: 'stage', stage: 'head', message: 'training' },
      { kind: 'batch', epoch: 1, epochs: 3, batch: 1, batches: 2, loss: 0.9, learningRate: 0.001 },
      { kind: 'batch', epoch: 1, epochs: 3, batch: 2, batches: 2, loss: 0.8, learningRate: 0.001 },
      { kind: 'epoch', epoch: 1, epochs: 3, loss: 0.85, valLoss: 0.7, accuracy: 0.6, valAccuracy: 0.55, learningRate: 0.001 },
      { kind: 'batch', epoch: 2, epochs: 3, batch: 1, batches: 2, loss: 0.6, learningRate: 0.001 },
      { kind: 'epoch', epoch: 2, epochs: 3, loss: 0.6, valLoss: 0.75, accuracy: 0.7, valAccuracy: 0.5, learningRate: 0.001 },
      { kind: 'epoch', epoch: 3, epochs: 3, loss: 0.5, valLoss: 0.72, accuracy: 0.8, valAccuracy: 0.52, learningRate: 0.0005 },
    ];
    const c = trainingCurves(details);
    expect(c.x).toEqual([0.5, 1, 1.5, 2, 3]);
    expect(c.batchLoss).toEqual([0.9, 0.8, 0.6, null, null]);
    expect(c.loss).toEqual([null, 0.85, null, 0.6, 0.5]);
    expect(c.valLoss).toEqual([null, 0.7, null, 0.75, 0.72]);
    expect(c.epochX).toEqual([1, 2, 3]);
    expect(c.valAccuracy).toEqual([0.55, 0.5, 0.52]);
    expect(c.lrSteps).toEqual([{ epoch: 3, from: 0.001, to: 0.0005 }]);
    expect(c.totalEpochs).toBe(3);
  });
});
