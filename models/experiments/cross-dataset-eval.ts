// Leave-one-generator-out across two builds of the same split plan: train on dataset A without
// generator g, score g's items and the real test items of dataset B. With A = B it is the usual LOGO;
// with A unmatched and B history-matched (or the reverse) it shows how much of a detector's score
// came from source size and JPEG history rather than from the pixels of generation.
//
//   npx tsx models/experiments/cross-dataset-eval.ts --train <dataset A> --test <dataset B> [--layers mid] \
//     [--backbone mobilenet_v2] [--cache dir] [--json]
import path from 'node:path';
import { computeRocAuc } from '../../electron/services/evaluation/metrics';
import { layersFor, resolveBackbone, type FeatureChoice } from '../../electron/services/training/backbone-specs';
import { loadDataset, splitWithHoldOut } from '../../electron/services/training/dataset-items';
import { buildFeatureTable, featureSetFor, gatherRows } from '../../electron/services/training/feature-table';
import { scoreWithHead, trainHead } from '../../electron/services/training/head-trainer';
import { syntheticGroups } from '../../electron/services/training/holdout-validation';
import { args, opt } from './script-args';

const trainDir = opt('--train');
const testDir = opt('--test');
if (!trainDir || !testDir) {
  process.stderr.write('usage: cross-dataset-eval.ts --train <dataset> --test <dataset> [--layers mid|last|both] [--backbone name] [--cache dir]\n');
  process.exit(2);
}
const cacheDir = opt('--cache', '/tmp/e-work/features') as string;
const backbone = resolveBackbone(opt('--backbone', 'mobilenet_v2') as string);
const layers = layersFor(opt('--layers', 'mid') as FeatureChoice, backbone);
const views = ['plain', 'flip'] as const;
const head = { epochs: 20, hiddenUnits: 256, dropout: 0.5, learningRate: 1e-3, seed: 1 };

const A = loadDataset(trainDir);
const B = loadDataset(testDir);
const tableA = await buildFeatureTable(A.items, { backbone, layers, views: [...views], cacheDir });
const tableB = await buildFeatureTable(B.items, { backbone, layers, views: ['plain'], cacheDir });

const rows: { generator: string; tiles: number; rocAuc: number | null }[] = [];
for (const g of syntheticGroups(A.items, 'generator')) {
  const trainSplit = splitWithHoldOut(A.items, { generators: [g] });
  const testSplit = splitWithHoldOut(B.items, { generators: [g] });
  const training = await trainHead(featureSetFor(tableA, trainSplit.train, views), featureSetFor(tableA, trainSplit.val, ['plain']), head);
  const scores = scoreWithHead(training.weights, gatherRows(tableB, testSplit.test, 'plain'));
  const labels = testSplit.test.map((i) => i.label);
  rows.push({ generator: g, tiles: labels.filter((l) => l === 1).length, rocAuc: computeRocAuc(labels, scores) });
}
const aucs = rows.map((r) => r.rocAuc).filter((a): a is number => a !== null);
const summary = {
  train: path.resolve(trainDir),
  test: path.resolve(testDir),
  backbone: backbone.name,
  layers: layers.map((l) => l.output),
  logoMean: aucs.reduce((s, a) => s + a, 0) / aucs.length,
  logoMin: Math.min(...aucs),
  folds: rows,
};
if (args.includes('--json')) process.stdout.write(`${JSON.stringify(summary)}\n`);
else process.stdout.write(`train ${trainDir} → test ${testDir}: LOGO mean ${summary.logoMean.toFixed(3)}, worst ${summary.logoMin.toFixed(3)}\n`);
