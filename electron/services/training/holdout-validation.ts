// Validation that rewards generalisation: train without a generator (or a whole modality) and score
// it against real test images it never saw. In-distribution validation on tiles of generators that
// were trained on says little about the next generator; these folds are what configurations are
// selected on.
import { computeRocAuc } from '../evaluation/metrics';
import { generatorBalancedWeights } from '../evaluation/sample-weights';
import { checkSplitUsable, splitWithHoldOut, type DatasetItem, type HoldOut } from './dataset-items';
import { featureSetFor, gatherRows, type FeatureTable } from './feature-table';
import { scoreWithHead, trainHead, type HeadTrainingOptions, type HeadTrainingResult, type TrainingHooks } from './head-trainer';
import type { ViewName } from './image-views';

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

export async function runFold(
  table: FeatureTable,
  items: readonly DatasetItem[],
  holdOut: HoldOut,
  trainViews: readonly ViewName[],
  head: HeadTrainingOptions,
  hooks: TrainingHooks = {},
): Promise<FoldRun> {
  const split = splitWithHoldOut(items, holdOut);
  const label = [...(holdOut.generators ?? []), ...(holdOut.modalities ?? [])].join('+') || 'none';
  checkSplitUsable(split, `fold ${label}`);
  const training = await trainHead(featureSetFor(table, split.train, trainViews), featureSetFor(table, split.val, ['plain']), head, hooks);
  const testScores = scoreWithHead(training.weights, gatherRows(table, split.test, 'plain'));
  const valScores = scoreWithHead(training.weights, gatherRows(table, split.val, 'plain'));
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
  hooks: TrainingHooks & { onFold?: (f: FoldResult, index: number, total: number) => void; groups?: string[] } = {},
): Promise<HoldOutSummary> {
  const groups = hooks.groups ?? syntheticGroups(items, by);
  const folds: FoldResult[] = [];
  for (const [i, g] of groups.entries()) {
    const run = await runFold(table, items, by === 'generator' ? { generators: [g] } : { modalities: [g] }, trainViews, head, { signal: hooks.signal });
    folds.push(run.result);
    hooks.onFold?.(run.result, i, groups.length);
  }
  return summariseFolds(folds);
}
