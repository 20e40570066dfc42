// The generalisation experiments behind the shipped default (EXPERIMENTS.md): for each backbone,
// feature layer set and augmentation set, train the paper's head on cached features and measure
// leave-one-modality-out (Table 3 style) and leave-one-generator-out ROC-AUC, next to the
// in-distribution test ROC-AUC. Selection uses the held-out numbers, never in-distribution val.
//
//   npx tsx models/experiments/run-experiments.ts --dataset <built dataset> --cache <dir> \
//     --backbones mobilenet_v2,inception_v3 --layers last,mid,both --augment flip;flip,jpeg,blur,resize \
//     [--logo] [--runner onnx|tfjs] [--out results.json] [--train-only esrgan-twin]
//
// --train-only names synthetic generators that only ever train (e.g. the ESRGAN twins of
// esrgan-twins.ts): they are never a held-out fold, and their modality is not one either.
import fs from 'node:fs';
import path from 'node:path';
import { computeRocAuc } from '../../electron/services/evaluation/metrics';
import { generatorBalancedWeights } from '../../electron/services/evaluation/sample-weights';
import { layersFor, resolveBackbone, tfjsBackbone, type FeatureChoice } from '../../electron/services/training/backbone-specs';
import { buildExperimentBackbone } from '../../electron/services/training/experiment-backbones';
import { loadDataset, splitWithHoldOut } from '../../electron/services/training/dataset-items';
import type { BackboneSpec, LayerSpec } from '../../electron/services/training/feature-cache';
import { buildFeatureTable, featureSetFor, gatherRows } from '../../electron/services/training/feature-table';
import { scoreWithHead, trainHead, type HeadTrainingOptions } from '../../electron/services/training/head-trainer';
import { runLeaveOneOut, syntheticGroups } from '../../electron/services/training/holdout-validation';
import { parseViews } from '../../electron/services/training/image-views';
import { args, opt } from './script-args';

const datasetDir = opt('--dataset');
const cacheDir = opt('--cache', '/tmp/e-work/features') as string;
const outFile = opt('--out', '/tmp/e-work/results.json') as string;
if (!datasetDir) {
  process.stderr.write('usage: run-experiments.ts --dataset <dir> [--cache dir] [--backbones a,b] [--layers last,mid,both] [--augment "flip;flip,jpeg"] [--logo]\n');
  process.exit(2);
}
const backbones = (opt('--backbones', 'mobilenet_v2') as string).split(',');
const layerChoices = (opt('--layers', 'last') as string).split(',') as FeatureChoice[];
const augmentSets = (opt('--augment', 'flip') as string).split(';').map((s) => parseViews(s));
const runner = opt('--runner', 'onnx');
const logo = args.includes('--logo');
const trainOnly = new Set((opt('--train-only', '') as string).split(',').filter(Boolean));
const head: HeadTrainingOptions = {
  epochs: Number(opt('--epochs', '20')),
  hiddenUnits: Number(opt('--units', '256')),
  dropout: Number(opt('--dropout', '0.5')),
  l2: Number(opt('--l2', '0')),
  learningRate: Number(opt('--lr', '0.001')),
  seed: 1,
};

const dataset = loadDataset(datasetDir);
const results: unknown[] = fs.existsSync(outFile) ? (JSON.parse(fs.readFileSync(outFile, 'utf8')) as unknown[]) : [];
const fmt = (x: number | null | undefined) => (x === null || x === undefined ? '—' : x.toFixed(3));

for (const name of backbones) {
  const backbone: BackboneSpec =
    runner === 'tfjs' ? tfjsBackbone(name) : runner === 'exp-onnx' ? await buildExperimentBackbone(name, path.join(cacheDir, 'backbones'), opt('--mid')) : resolveBackbone(name);
  for (const choice of layerChoices) {
    const layers: LayerSpec[] = layersFor(choice, backbone, opt('--mid'));
    if (runner === 'tfjs') for (const l of layers) if (l.key === 'last') l.output = 'pooled';
    const midPooling = opt('--mid-pooling');
    if (midPooling) for (const l of layers) if (l.key === 'mid') l.pooling = midPooling as LayerSpec['pooling'];
    for (const views of augmentSets) {
      const label = `${name} lr${head.learningRate} u${head.hiddenUnits} ${choice}${choice !== 'last' ? `(${layers.find((l) => l.key === 'mid')?.output} ${layers.find((l) => l.key === 'mid')?.pooling})` : ''} [${views.join(',')}]`;
      const t0 = performance.now();
      const table = await buildFeatureTable(dataset.items, {
        backbone,
        layers,
        views,
        cacheDir,
        onProgress: (p) => {
          if (p.done === p.total || p.done % 256 === 0) process.stderr.write(`  ${label} features ${p.view} ${p.done}/${p.total}\n`);
        },
      });
      const tFeat = (performance.now() - t0) / 1000;
      const split = splitWithHoldOut(dataset.items);
      const main = await trainHead(featureSetFor(table, split.train, views), featureSetFor(table, split.val, ['plain']), head);
      const testScores = scoreWithHead(main.weights, gatherRows(table, split.test, 'plain'));
      const valScores = scoreWithHead(main.weights, gatherRows(table, split.val, 'plain'));
      const testAuc = computeRocAuc(split.test.map((i) => i.label), testScores, generatorBalancedWeights(split.test));
      const valAuc = computeRocAuc(split.val.map((i) => i.label), valScores, generatorBalancedWeights(split.val));
      const heldOutItems = dataset.items.filter((i) => !trainOnly.has(i.generator));
      const lomo = await runLeaveOneOut(table, dataset.items, 'modality', views, head, { groups: syntheticGroups(heldOutItems, 'modality') });
      const logoSummary = logo ? await runLeaveOneOut(table, dataset.items, 'generator', views, head, { groups: syntheticGroups(heldOutItems, 'generator') }) : undefined;
      const row = {
        backbone: name,
        runner,
        layers: choice,
        layerSpecs: layers,
        views,
        head,
        dim: table.dim,
        featureSeconds: tFeat,
        headSeconds: main.seconds,
        valAuc,
        testAuc,
        lomo: lomo.folds.map((f) => ({ heldOut: f.heldOut, rocAuc: f.rocAuc, valRocAuc: f.valRocAuc, testSynthetic: f.testSynthetic })),
        lomoMean: lomo.mean,
        lomoMin: lomo.min,
        logo: logoSummary?.folds.map((f) => ({ heldOut: f.heldOut, rocAuc: f.rocAuc, testSynthetic: f.testSynthetic })),
        logoMean: logoSummary?.mean,
        logoMin: logoSummary?.min,
        at: new Date().toISOString(),
      };
      results.push(row);
      fs.mkdirSync(path.dirname(outFile), { recursive: true });
      fs.writeFileSync(outFile, JSON.stringify(results, null, 1));
      process.stdout.write(
        `| ${label} | val ${fmt(valAuc)} | test ${fmt(testAuc)} | LOMO ${lomo.folds.map((f) => `${f.heldOut} ${fmt(f.rocAuc)}`).join(', ')} (mean ${fmt(lomo.mean)}) | LOGO mean ${fmt(logoSummary?.mean)} min ${fmt(logoSummary?.min)} | head ${main.seconds.toFixed(1)} s |\n`,
      );
    }
  }
}
