// Does the paper's head generalise better when it reads windows of the feature map instead of its
// global average? The same head (Dense+ReLU → BatchNorm → Dropout → Dense) is trained on the mean
// of each window of a grid over the map (grid 1 = the paper's GAP; grid = map side = every position),
// every window labelled as its crop; an image's score is the mean of its windows' logits. The rows of
// EXPERIMENTS.md "window heads" come from here; selection still uses held-out numbers only.
//
//   npx tsx models/experiments/window-head-experiment.ts --dataset <built dataset> [--grid 2] \
//     [--windows-per-crop n] [--layer block_12_add] [--cache dir] [--logo]
import fs from 'node:fs';
import { createRng } from '../../electron/services/common/seeded-random';
import { seedFrom } from '../../electron/services/dataset/split-plan';
import { computeRocAuc } from '../../electron/services/evaluation/metrics';
import { generatorBalancedWeights } from '../../electron/services/evaluation/sample-weights';
import { loadDataset, splitWithHoldOut, type DatasetItem, type HoldOut } from '../../electron/services/training/dataset-items';
import { buildExperimentBackbone } from '../../electron/services/training/experiment-backbones';
import { extractFeatures } from '../../electron/services/training/feature-cache';
import { scoreWithHead, trainHead, type FeatureSet, type HeadWeights } from '../../electron/services/training/head-trainer';
import { syntheticGroups } from '../../electron/services/training/holdout-validation';
import { args, opt } from './script-args';

const datasetDir = opt('--dataset', '');
if (!datasetDir) {
  process.stderr.write('usage: window-head-experiment.ts --dataset <dir> [--grid g] [--windows-per-crop n] [--layer name] [--cache dir] [--logo] [--out file]\n');
  process.exit(2);
}
const layer = opt('--layer', 'block_12_add');
const grid = Number(opt('--grid', '2'));
const cacheDir = opt('--cache', '/tmp/e-work/window-cache');
const outFile = opt('--out', '');
const head = { epochs: 20, hiddenUnits: 256, dropout: 0.5, learningRate: 1e-3, seed: 1 };

const items = [...new Map(loadDataset(datasetDir).items.map((i) => [i.id, i])).values()];
const backbone = await buildExperimentBackbone('mobilenet_v2', `${cacheDir}/backbones`, layer);
const extracted = await extractFeatures(items, {
  backbone,
  // The pooled copy is only read for its length: the map's channel count.
  layers: [
    { key: 'map', output: layer, pooling: 'none' },
    { key: 'gap', output: layer, pooling: 'mean' },
  ],
  views: ['plain', 'flip'],
  cacheDir,
  onProgress: (p) => {
    if (p.done === p.total || p.done % 1024 === 0) process.stderr.write(`features ${p.view} ${p.done}/${p.total}\n`);
  },
});
/** Window means of every crop's map: rows [crop][window][channel]. */
function windowMeans(map: Float32Array, side: number, c: number, g: number): Float32Array {
  if (side % g !== 0) throw new Error(`a ${side}×${side} map does not split into a ${g}×${g} grid`);
  const w = side / g;
  const n = map.length / (side * side * c);
  const out = new Float32Array(n * g * g * c);
  for (let i = 0; i < n; i++)
    for (let y = 0; y < side; y++)
      for (let x = 0; x < side; x++) {
        const src = ((i * side + y) * side + x) * c;
        const dst = ((i * g + Math.floor(y / w)) * g + Math.floor(x / w)) * c;
        for (let k = 0; k < c; k++) out[dst + k] += map[src + k] / (w * w);
      }
  return out;
}

const mapDim = extracted.dims.map;
const C = extracted.dims.gap;
const side = Math.round(Math.sqrt(mapDim / C));
if (side * side * C !== mapDim) throw new Error(`${layer} (${mapDim} values of ${C} channels) is not a square map`);
const windows = grid * grid;
const perCrop = Math.min(Number(opt('--windows-per-crop', String(windows))), windows);
const rowsOf = { plain: windowMeans(extracted.features.plain.map, side, C, grid), flip: windowMeans(extracted.features.flip.map, side, C, grid) };
const index = new Map(items.map((it, i) => [it.id, i]));

/** perCrop windows of each crop (all of them, or a seeded draw per crop and view). */
function gather(list: readonly DatasetItem[], view: 'plain' | 'flip', count: number): Float32Array {
  const x = new Float32Array(list.length * count * C);
  list.forEach((it, i) => {
    const row = index.get(it.id) as number;
    const rng = createRng(seedFrom(1, view, it.id));
    for (let j = 0; j < count; j++) {
      const win = count === windows ? j : Math.floor(rng() * windows);
      x.set(rowsOf[view].subarray((row * windows + win) * C, (row * windows + win + 1) * C), (i * count + j) * C);
    }
  });
  return x;
}

function featureSet(list: readonly DatasetItem[], views: ('plain' | 'flip')[]): FeatureSet {
  const w = generatorBalancedWeights(list);
  return {
    dim: C,
    views: views.map((v) => gather(list, v, perCrop)),
    labels: Uint8Array.from(list.flatMap((it) => new Array<number>(perCrop).fill(it.label))),
    weights: Float32Array.from(list.flatMap((_, i) => new Array<number>(perCrop).fill(w[i]))),
  };
}

/** An image's score: the sigmoid of its windows' mean logit. */
function score(weights: HeadWeights, list: readonly DatasetItem[]): Float32Array {
  const p = scoreWithHead(weights, gather(list, 'plain', windows));
  const out = new Float32Array(list.length);
  for (let i = 0; i < list.length; i++) {
    let logit = 0;
    for (let j = 0; j < windows; j++) {
      const q = Math.min(Math.max(p[i * windows + j], 1e-7), 1 - 1e-7);
      logit += Math.log(q / (1 - q));
    }
    out[i] = 1 / (1 + Math.exp(-logit / windows));
  }
  return out;
}

async function fold(holdOut: HoldOut) {
  const split = splitWithHoldOut(items, holdOut);
  const training = await trainHead(featureSet(split.train, ['plain', 'flip']), featureSet(split.val, ['plain']), head);
  const auc = (list: DatasetItem[]) => {
    const labels = list.map((i) => i.label);
    return new Set(labels).size === 2 ? computeRocAuc(labels, score(training.weights, list), generatorBalancedWeights(list)) : null;
  };
  return { test: auc(split.test), val: auc(split.val), seconds: training.seconds, bestEpoch: training.bestEpoch };
}

const fmt = (x: number | null) => (x === null ? '—' : x.toFixed(3));
const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
const label = `${layer} grid ${grid}×${grid}, ${perCrop} window(s) per crop`;
const main = await fold({});
const lomo: Record<string, number | null> = {};
for (const m of syntheticGroups(items, 'modality')) lomo[m] = (await fold({ modalities: [m] })).test;
const logo: Record<string, number | null> = {};
if (args.includes('--logo')) for (const g of syntheticGroups(items, 'generator')) logo[g] = (await fold({ generators: [g] })).test;
const lomoValues = Object.values(lomo).filter((v): v is number => v !== null);
const logoValues = Object.values(logo).filter((v): v is number => v !== null);
process.stdout.write(
  `| ${label} | val ${fmt(main.val)} | test ${fmt(main.test)} | LOMO ${Object.entries(lomo).map(([k, v]) => `${k} ${fmt(v)}`).join(', ')} (mean ${fmt(mean(lomoValues))}) | LOGO mean ${logoValues.length ? fmt(mean(logoValues)) : '—'} min ${logoValues.length ? fmt(Math.min(...logoValues)) : '—'} | head ${main.seconds.toFixed(1)} s |\n`,
);
if (outFile) fs.writeFileSync(outFile, JSON.stringify({ layer, grid, perCrop, main, lomo, logo }, null, 1));
