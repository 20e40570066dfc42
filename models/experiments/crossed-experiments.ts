// Selection on folds that predict the next case: every configuration (feature layer and pooling,
// training views, inference mode) is scored on leave-one-real-source-out × leave-one-generator-
// group-out folds (holdout-validation.ts), never on the random test split. Each row reports the
// folds' mean and worst ROC-AUC, the false-positive rate on every held-out real source at the
// threshold each fold chose on its own validation split (target FPR 5 %), and the per-generator
// ROC-AUC. With --inference, the same fold heads also score the SOURCE files of the held-out
// sources and generators in the paper's whole-image resize and in native-resolution multi-crop
// (mean logit and max), so the inference modes are compared on the same folds.
//
//   npx tsx models/experiments/crossed-experiments.ts --dataset <dir> [--cache dir] [--layers mid|last|mid:block_8_add:mean-std]
//     [--taps block_2_add,block_8_add --layers "block_12_add:mean+block_8_add:mean-std,block_8_add:mean-std"]
//     [--augment "flip;flip,bj;flip,mix,mix2"] [--units 256] [--dropout 0.5] [--l2 0] [--ensemble 1] [--linear <l2>] [--lr 0.001] [--input-noise 0] [--seed 1] [--groups 4] [--pairing 2|all] [--target-fpr 0.05] [--inference [--resize-only]] [--tta] [--std-only] [--extra-backbone inception_v3 --extra-layers ...] [--input-filter residual:<gain>[:<box>]|downup:<factor>] [--extra-input-filter ...] [--extra-combine concat|difference|difference-only] [--content-debias <l2> [--content-clip 20] [--content-sides synthetic|both] [--content-filter downup:8]] [--group-dro <step> [--dro-groups real|real+modality]] [--input-size 256] [--invariant-columns <k>] [--remove-pcs <k>] [--out results.json]
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { realSourceOf } from '../../electron/services/dataset/source-manifest';
import { computeRocAuc } from '../../electron/services/evaluation/metrics';
import { generatorBalancedWeights } from '../../electron/services/evaluation/sample-weights';
import { aggregateCropScores, decodeNativeCrops } from '../../electron/services/engine/multi-crop';
import { layersFor, resolveBackbone, tfjsBackbone, type FeatureChoice } from '../../electron/services/training/backbone-specs';
import { loadDataset, splitWithHoldOut, type DatasetItem } from '../../electron/services/training/dataset-items';
import { gridSizeOf, type LayerSpec } from '../../electron/services/training/feature-cache';
import { buildFeatureTable, featureSetFor, gatherRows, type FeatureTable } from '../../electron/services/training/feature-table';
import { balanceClassWeights, columnStats, scoreWithHead, standardise, type HeadTrainingOptions, type HeadWeights } from '../../electron/services/training/head-trainer';
import { fitLinearProbe } from '../../electron/services/training/linear-probe';
import { perGeneratorRocAuc, type InputProjection, planCrossedFolds, runCrossedValidation, scoreCells, summariseCrossedFolds, trainHeadForRows, type CrossedFoldSpec, type CrossedSummary } from '../../electron/services/training/holdout-validation';
import { parseViews, type ViewName } from '../../electron/services/training/image-views';
import { convertLayersModel, loadNsfwjsSource, withDownUpInput, withResidualInput } from '../../electron/services/onnx-graphs';
import { args, opt } from './script-args';
import { asTestItems, readSourceFiles, type SourceFile } from './source-files';

const here = path.dirname(fileURLToPath(import.meta.url));
const datasetDir = opt('--dataset');
if (!datasetDir) {
  process.stderr.write('usage: crossed-experiments.ts --dataset <dir> [--cache dir] [--layers ...] [--augment "flip;flip,bj"] [--inference]\n');
  process.exit(2);
}
const cacheDir = opt('--cache', '/tmp/wt13/features') as string;
const outFile = opt('--out', '/tmp/wt13/crossed-results.json') as string;
const sourcesDir = path.resolve(here, '../../../shared/datasets');
const targetFpr = Number(opt('--target-fpr', '0.05'));
const groups = Number(opt('--groups', '4'));
const pairingArg = opt('--pairing', '2') as string;
const pairing = pairingArg === 'all' ? 'all' : Number(pairingArg);
const numberOpt = (name: string) => (opt(name) === undefined ? undefined : Number(opt(name)));
// --units, --dropout, --l2, --ensemble n (n heads of seeds seed..seed+n-1, logits averaged).
const head: HeadTrainingOptions = {
  epochs: Number(opt('--epochs', '20')),
  seed: Number(opt('--seed', '1')),
  hiddenUnits: numberOpt('--units'),
  dropout: numberOpt('--dropout'),
  l2: numberOpt('--l2'),
  ensemble: numberOpt('--ensemble'),
  linearProbeL2: numberOpt('--linear'),
  learningRate: numberOpt('--lr'),
  inputNoise: numberOpt('--input-noise'),
  groupDroStep: numberOpt('--group-dro'),
};
// --group-dro <step> [--dro-groups real|real+modality]: group DRO over the real collections (the
// synthetic crops one group, or one per modality).
const droGroups = opt('--dro-groups', 'real') as 'real' | 'real+modality';
const trainingGroups =
  head.groupDroStep === undefined
    ? undefined
    : (items: readonly DatasetItem[]) => {
        const names = items.map((i) => (i.label === 0 ? `real:${realSource(i)}` : droGroups === 'real+modality' ? `synthetic:${i.modality}` : 'synthetic'));
        const index = new Map([...new Set(names)].sort().map((n, k) => [n, k]));
        return Int32Array.from(names, (n) => index.get(n) as number);
      };
// --invariant-columns <k>: the head reads only the k columns whose synthetic-minus-real difference
// keeps its sign for every pair of a training collection of real photographs and a training
// generator group, ranked by the smallest such difference in standard deviations (features that
// separate the classes the same way whatever the collection, not only on average).
const invariantColumns = numberOpt('--invariant-columns');
const removePcs = numberOpt('--remove-pcs');
for (const [name, k] of [['--invariant-columns', invariantColumns], ['--remove-pcs', removePcs]] as const) {
  if (k !== undefined && !(Number.isInteger(k) && k >= 1)) throw new Error(`${name} <count ≥ 1>, not ${k}`);
}
function invariantColumnSelector(k: number, generatorGroups: readonly (readonly string[])[]) {
  const groupOfGenerator = new Map(generatorGroups.flatMap((g, i) => g.map((name) => [name, i] as const)));
  return (train: readonly DatasetItem[], set: { dim: number; views: Float32Array[]; labels: Uint8Array }): Int32Array => {
    const rows = set.views[0];
    const d = set.dim;
    const groupKeys = train.map((it) => (it.label === 0 ? `r:${realSource(it)}` : `s:${groupOfGenerator.get(it.generator) ?? 'other'}`));
    const keys = [...new Set(groupKeys)].sort();
    const index = new Map(keys.map((key, i) => [key, i]));
    const sums = new Float64Array(keys.length * d);
    const counts = new Float64Array(keys.length);
    const { std } = columnStats({ dim: d, views: set.views.slice(0, 1), labels: set.labels });
    train.forEach((_, i) => {
      const g = index.get(groupKeys[i]) as number;
      counts[g]++;
      for (let j = 0; j < d; j++) sums[g * d + j] += rows[i * d + j];
    });
    const realGroups = keys.map((key, g) => (key.startsWith('r:') ? g : -1)).filter((g) => g >= 0);
    const synGroups = keys.map((key, g) => (key.startsWith('s:') ? g : -1)).filter((g) => g >= 0);
    const score = new Float64Array(d);
    for (let j = 0; j < d; j++) {
      let lo = Infinity;
      let hi = -Infinity;
      for (const s of synGroups) for (const r of realGroups) {
        const diff = (sums[s * d + j] / counts[s] - sums[r * d + j] / counts[r]) / std[j];
        lo = Math.min(lo, diff);
        hi = Math.max(hi, diff);
      }
      score[j] = lo > 0 ? lo : hi < 0 ? -hi : 0;
    }
    const order = Array.from(score.keys()).sort((a, b) => score[b] - score[a]).slice(0, k);
    return Int32Array.from(order.sort((a, b) => a - b));
  };
}
const headLabel = [
  head.hiddenUnits !== undefined ? `units ${head.hiddenUnits}` : '',
  head.dropout !== undefined ? `dropout ${head.dropout}` : '',
  head.l2 !== undefined ? `l2 ${head.l2}` : '',
  head.ensemble !== undefined ? `ensemble ${head.ensemble}` : '',
  head.linearProbeL2 !== undefined ? `linear probe l2 ${head.linearProbeL2}` : '',
  head.learningRate !== undefined ? `lr ${head.learningRate}` : '',
  head.inputNoise !== undefined ? `input noise ${head.inputNoise}` : '',
  head.groupDroStep !== undefined ? `group DRO ${head.groupDroStep} over ${droGroups}` : '',
  invariantColumns !== undefined ? `${invariantColumns} invariant columns` : '',
  removePcs !== undefined ? `without ${removePcs} principal directions` : '',
].filter(Boolean).join(', ');
const augmentSets = (opt('--augment', 'flip') as string).split(';').map((s) => parseViews(s));
const layerArgs = (opt('--layers', 'mid') as string).split(',');
// --balance-real-sources: each collection of real photographs weighs the same in training.
const balanceRealSources = args.includes('--balance-real-sources');

const dataset = loadDataset(datasetDir);
const realSource = (i: Pick<DatasetItem, 'sourceKey'>) => realSourceOf(i.sourceKey);
const plan = planCrossedFolds(dataset.items, realSource, { groups, pairing, seed: 1 });
process.stderr.write(`real sources: ${plan.realSources.join(', ')}\n`);
plan.generatorGroups.forEach((g, i) => process.stderr.write(`generator group ${i}: ${g.join(', ')}\n`));
const shippedBackbone = resolveBackbone('mobilenet_v2');
// --taps: extra MobileNetV2 layers as outputs of an experiment build of the backbone (the shipped
// file offers out_relu and block_12_add only), written once beside the cache.
const taps = (opt('--taps', '') as string).split(',').filter(Boolean);
// --input-size 256: the tapped backbone reads the paper's 256-pixel image as it is, without the
// bilinear resize to MobileNetV2's 224 (the network is fully convolutional and the taps pool globally).
const inputSizeOverride = numberOpt('--input-size');
if (inputSizeOverride !== undefined && (!Number.isInteger(inputSizeOverride) || inputSizeOverride < 32)) throw new Error(`--input-size <pixels>, not ${opt('--input-size')}`);
if (inputSizeOverride !== undefined && !taps.length) throw new Error('--input-size needs --taps (the experiment build of the backbone)');
// --input-filter residual:<gain>[:<box>] | downup:<factor> (and --extra-input-filter for the extra
// backbone): the backbone reads the image's high-frequency residual, x − mean of its box, amplified,
// or the image with its finest detail averaged away (input-filters.ts).
// --remove-pcs <k>: the head reads every standardised row without its components along the k
// leading principal directions of the fold's training rows (what varies most across the training
// crops is mostly content: faces against scenes, night against day), folded back onto raw rows.
function principalDirections(k: number) {
  return (_train: readonly DatasetItem[], set: { dim: number; views: Float32Array[]; labels: Uint8Array }): InputProjection => {
    const d = set.dim;
    const n = set.labels.length;
    const { mean, std } = columnStats({ dim: d, views: set.views.slice(0, 1), labels: set.labels });
    const z = standardise(set.views[0], d, mean, std);
    // Subspace iteration on ZᵀZ from a seeded start: the leading k-dimensional subspace is all that
    // is removed, so no rotation within it is needed.
    let seed = 12345;
    const rnd = () => ((seed = (seed * 48271) % 2147483647) / 2147483647) * 2 - 1;
    let q = Float64Array.from({ length: k * d }, rnd);
    const orthonormalise = (m: Float64Array) => {
      for (let a = 0; a < k; a++) {
        const va = m.subarray(a * d, (a + 1) * d);
        for (let b = 0; b < a; b++) {
          const vb = m.subarray(b * d, (b + 1) * d);
          let dot = 0;
          for (let j = 0; j < d; j++) dot += va[j] * vb[j];
          for (let j = 0; j < d; j++) va[j] -= dot * vb[j];
        }
        let norm = 0;
        for (let j = 0; j < d; j++) norm += va[j] * va[j];
        norm = Math.sqrt(norm) || 1;
        for (let j = 0; j < d; j++) va[j] /= norm;
      }
    };
    orthonormalise(q);
    const y = new Float64Array(n * k);
    for (let iter = 0; iter < 12; iter++) {
      y.fill(0);
      for (let i = 0; i < n; i++) for (let a = 0; a < k; a++) {
        let dot = 0;
        for (let j = 0; j < d; j++) dot += z[i * d + j] * q[a * d + j];
        y[i * k + a] = dot;
      }
      const next = new Float64Array(k * d);
      for (let i = 0; i < n; i++) for (let a = 0; a < k; a++) {
        const w = y[i * k + a];
        for (let j = 0; j < d; j++) next[a * d + j] += w * z[i * d + j];
      }
      orthonormalise(next);
      q = next;
    }
    return { mean, std, directions: Float32Array.from(q) };
  };
}
const projectInputs = removePcs === undefined ? undefined : principalDirections(removePcs);
const selectColumns = invariantColumns === undefined ? undefined : invariantColumnSelector(invariantColumns, plan.generatorGroups);
const backbone = withInputFilter(taps.length ? tappedBackbone(taps) : shippedBackbone, opt('--input-filter'));

function withInputFilter<B extends { name: string; onnxPath: string; sha256: string; normalisation: { scale: readonly number[]; offset: readonly number[] } }>(spec: B, filter: string | undefined): B {
  if (!filter) return spec;
  const [kind, ...params] = filter.split(':');
  let tag: string;
  let build: (model: Uint8Array) => Uint8Array;
  if (kind === 'residual' && Number.isFinite(Number(params[0]))) {
    const gain = Number(params[0]);
    const box = Number(params[1] ?? '3');
    const lo = spec.normalisation.offset[0];
    const range: [number, number] = [lo, lo + 255 * spec.normalisation.scale[0]];
    tag = `residual-g${gain}-b${box}`;
    build = (model) => withResidualInput(model, { gain, box, range });
  } else if (kind === 'downup' && Number.isInteger(Number(params[0]))) {
    const factor = Number(params[0]);
    tag = `downup-f${factor}`;
    build = (model) => withDownUpInput(model, { factor });
  } else {
    throw new Error(`--input-filter residual:<gain>[:<box>] or downup:<factor>, not ${filter}`);
  }
  const file = path.join(path.dirname(cacheDir), `${path.basename(spec.onnxPath, '.onnx')}-${tag}.onnx`);
  if (!fs.existsSync(file)) {
    fs.writeFileSync(`${file}.tmp`, build(fs.readFileSync(spec.onnxPath)));
    fs.renameSync(`${file}.tmp`, file);
  }
  const sha256 = crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
  return { ...spec, name: `${spec.name}-${tag}`, onnxPath: file, sha256 };
}

function tappedBackbone(extra: string[]) {
  const sizeTag = inputSizeOverride ? `-in${inputSizeOverride}` : '';
  const file = path.join(path.dirname(cacheDir), `mobilenet_v2-taps-${extra.join('-')}${sizeTag}.onnx`);
  if (!fs.existsSync(file)) {
    const converted = convertLayersModel(loadNsfwjsSource('mobilenet_v2'), { outputs: ['out_relu', 'block_12_add', ...extra], graphName: 'mobilenet_v2_taps', inputSizeOverride });
    fs.writeFileSync(`${file}.tmp`, converted.bytes);
    fs.renameSync(`${file}.tmp`, file);
  }
  const sha256 = crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
  return { ...shippedBackbone, onnxPath: file, sha256, ...(inputSizeOverride ? { inputSize: inputSizeOverride } : {}) };
}

// --extra-backbone inception_v3 --extra-layers "mixed7:mean-std+mixed10:mean": a second backbone's
// pooled maps appended to every row (the two shipped nsfwjs backbones read together).
const extraBackboneName = opt('--extra-backbone');
const extraLayers: LayerSpec[] = extraBackboneName ? parseLayerList(opt('--extra-layers', '') as string) : [];
const extraBackbone = extraBackboneName ? withInputFilter(tappedExtraBackbone(extraBackboneName, extraLayers.map((l) => l.output)), opt('--extra-input-filter')) : undefined;

function tappedExtraBackbone(name: string, outputs: string[]) {
  const unique = [...new Set(outputs)];
  if (!unique.length) throw new Error('--extra-backbone needs --extra-layers "<output>:<pooling>+..."');
  const file = path.join(path.dirname(cacheDir), `${name}-taps-${unique.join('-')}.onnx`);
  if (!fs.existsSync(file)) {
    const converted = convertLayersModel(loadNsfwjsSource(name), { outputs: unique, pooled: false, graphName: `${name}_taps` });
    fs.writeFileSync(`${file}.tmp`, converted.bytes);
    fs.renameSync(`${file}.tmp`, file);
  }
  const sha256 = crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
  const { inputSize, normalisation } = tfjsBackbone(name);
  return { name, onnxPath: file, sha256, inputSize, normalisation };
}

function parseLayerList(list: string): LayerSpec[] {
  return list.split('+').filter(Boolean).map((part) => {
    const [output, pooling = 'mean'] = part.split(':');
    return { key: `${output}-${pooling}`, output, pooling: pooling as LayerSpec['pooling'] };
  });
}

// --extra-combine difference | difference-only: the extra backbone (the same maps of a filtered
// input) enters as main − extra, beside the main columns or instead of them.
const extraCombine = (opt('--extra-combine', 'concat') as string);
if (!['concat', 'difference', 'difference-only'].includes(extraCombine)) throw new Error(`--extra-combine concat|difference|difference-only, not ${extraCombine}`);

// --content-debias <l2> [--content-filter downup:8]: importance weights that give the synthetic
// training crops the content distribution of the real ones. "Content" is what a crop still shows
// with its detail averaged away (the backbone's out_relu on the down-up copy); a linear probe on it,
// cross-fitted on two halves of the training units, gives each synthetic crop the odds that its
// content is real, and that odds (clipped to [1/c, c], c = --content-clip, 20 by default) scales its weight. Why: a head learns
// "a face is synthetic" when the training photographs hold no faces; here such crops weigh little.
const contentDebiasL2 = opt('--content-debias') ? Number(opt('--content-debias')) : undefined;
const contentClip = Number(opt('--content-clip', '20'));
const contentSides = opt('--content-sides', 'synthetic') as string;
if (!['synthetic', 'both'].includes(contentSides)) throw new Error(`--content-sides synthetic|both, not ${contentSides}`);
const contentBackbone = contentDebiasL2 ? withInputFilter(shippedBackbone, opt('--content-filter', 'downup:8') as string) : undefined;
let contentTable: FeatureTable | undefined;
const contentLog: string[] = [];

function contentDebiasedWeights(train: readonly DatasetItem[], weights: Float32Array): Float32Array {
  const table = contentTable as FeatureTable;
  const d = table.dim;
  const raw = gatherRows(table, train, 'plain');
  const { mean, std } = columnStats({ dim: d, views: [raw], labels: Uint8Array.from(train.map((i) => i.label)) });
  const x = standardise(raw, d, mean, std);
  const half = train.map((it) => crypto.createHash('sha256').update(it.sourceKey).digest()[0] & 1);
  const logit = new Float64Array(train.length);
  for (const h of [0, 1]) {
    const fitIdx = train.map((_, i) => i).filter((i) => half[i] !== h);
    const rows = new Float32Array(fitIdx.length * d);
    fitIdx.forEach((i, k) => rows.set(x.subarray(i * d, (i + 1) * d), k * d));
    const labels = Uint8Array.from(fitIdx.map((i) => train[i].label));
    const fit = fitLinearProbe({ dim: d, x: rows, labels, weights: balanceClassWeights(labels, Float32Array.from(fitIdx.map((i) => weights[i]))) }, contentDebiasL2 as number);
    for (let i = 0; i < train.length; i++) {
      if (half[i] !== h) continue;
      let s = fit.b;
      for (let j = 0; j < d; j++) s += fit.w[j] * x[i * d + j];
      logit[i] = s;
    }
  }
  const labels = train.map((it) => it.label);
  contentLog.push(`content AUC ${fmt(computeRocAuc(labels, Float32Array.from(logit, (s) => 1 / (1 + Math.exp(-s))), Array.from(weights)))}`);
  // Each class's crops scaled by the odds of the other class's content (--content-sides synthetic:
  // the synthetic crops only; both: the real ones too, toward the synthetic content), each class's
  // total restored.
  const out = Float32Array.from(weights);
  const share: string[] = [];
  for (const cls of contentSides === 'both' ? [1, 0] : [1]) {
    const sign = cls === 1 ? -1 : 1;
    let before = 0;
    let after = 0;
    for (let i = 0; i < train.length; i++) {
      if (train[i].label !== cls) continue;
      before += weights[i];
      out[i] = weights[i] * Math.min(contentClip, Math.max(1 / contentClip, Math.exp(sign * logit[i])));
      after += out[i];
    }
    let sum = 0;
    let sum2 = 0;
    for (let i = 0; i < train.length; i++) {
      if (train[i].label !== cls) continue;
      out[i] *= before / after;
      sum += out[i] / weights[i];
      sum2 += (out[i] / weights[i]) ** 2;
    }
    const n = labels.filter((l) => l === cls).length;
    share.push(`${cls ? 'synthetic' : 'real'} ratio spread ${(sum2 / n / (sum / n) ** 2).toFixed(2)}`);
  }
  contentLog[contentLog.length - 1] += `, ${share.join(', ')}`;
  return out;
}

// --std-only: of every mean-std map, the standard deviations alone (texture and contrast, without
// the channel means that carry colour and content).
const stdOnly = args.includes('--std-only');

/** The main backbone's table, with the extra backbone's columns appended when one is given. */
async function featureTableFor(items: DatasetItem[], layers: LayerSpec[], views: ViewName[], onProgress?: Parameters<typeof buildFeatureTable>[1]['onProgress']): Promise<FeatureTable> {
  const parts: Array<{ table: FeatureTable; from: number; to: number }> = [];
  const grid = gridSizeOf(layers[0].pooling);
  if (grid !== undefined) {
    // Layers after the grid ones with a global pooling join every cell (the cell's context).
    if (extraBackbone || stdOnly || layers.some((l) => ![grid, undefined].includes(gridSizeOf(l.pooling)))) throw new Error('grid pooling: the first layer sets the grid, the others the same grid or a global pooling; no --extra-backbone or --std-only');
    // One backbone pass fills the cache for every layer; the per-layer tables then read it.
    await buildFeatureTable(items, { backbone, layers, views, cacheDir, onProgress });
    const perLayer: FeatureTable[] = [];
    for (const layer of layers) perLayer.push(await buildFeatureTable(items, { backbone, layers: [layer], views, cacheDir }));
    return cellMajorTable(perLayer, grid * grid, views, layers.map((l) => gridSizeOf(l.pooling) !== undefined));
  }
  if (stdOnly) {
    for (const layer of layers) {
      const t = await buildFeatureTable(items, { backbone, layers: [layer], views, cacheDir, onProgress });
      parts.push({ table: t, from: layer.pooling === 'mean-std' ? t.dim / 2 : 0, to: t.dim });
    }
  } else {
    const t = await buildFeatureTable(items, { backbone, layers, views, cacheDir, onProgress });
    parts.push({ table: t, from: 0, to: t.dim });
  }
  if (extraBackbone) {
    const t = await buildFeatureTable(items, { backbone: extraBackbone, layers: extraLayers, views, cacheDir, onProgress });
    parts.push({ table: t, from: 0, to: t.dim });
  }
  if (parts.length === 1) return parts[0].table;
  if (extraCombine !== 'concat') return differenceTable(parts[0].table, parts[1].table, views);
  const main = parts[0].table;
  const n = main.index.size;
  const dim = parts.reduce((a, p) => a + p.to - p.from, 0);
  const joined: FeatureTable['views'] = {};
  for (const v of views) {
    const out = new Float32Array(n * dim);
    let col = 0;
    for (const { table, from, to } of parts) {
      const src = table.views[v] as Float32Array;
      for (const [id, row] of main.index) {
        const r = table.index.get(id) as number;
        out.set(src.subarray(r * table.dim + from, r * table.dim + to), row * dim + col);
      }
      col += to - from;
    }
    joined[v] = out;
  }
  return { ...main, dim, layers: parts.flatMap((p) => p.table.layers), views: joined };
}

/** Grid-pooled layers joined cell by cell: each row becomes `cells` descriptors of every layer's cell. */
function cellMajorTable(tables: FeatureTable[], cells: number, views: ViewName[], gridded: boolean[]): FeatureTable {
  const main = tables[0];
  const perCell = tables.map((t, k) => (gridded[k] ? t.dim / cells : t.dim));
  const cellDim = perCell.reduce((a, b) => a + b, 0);
  const out: FeatureTable['views'] = {};
  for (const v of views) {
    const rows = new Float32Array(main.index.size * cells * cellDim);
    for (const [id, row] of main.index) {
      let col = 0;
      tables.forEach((t, k) => {
        const src = t.views[v] as Float32Array;
        const r = t.index.get(id) as number;
        for (let c = 0; c < cells; c++) {
          const from = r * t.dim + (gridded[k] ? c * perCell[k] : 0);
          rows.set(src.subarray(from, from + perCell[k]), (row * cells + c) * cellDim + col);
        }
        col += perCell[k];
      });
    }
    out[v] = rows;
  }
  return { ...main, dim: cells * cellDim, layers: tables.flatMap((t) => t.layers), views: out };
}

/** [main, main − extra] ('difference') or main − extra alone ('difference-only'), row by row. */
function differenceTable(main: FeatureTable, extra: FeatureTable, views: ViewName[]): FeatureTable {
  if (main.dim !== extra.dim) throw new Error(`--extra-combine needs the same maps on both backbones (${main.dim} and ${extra.dim} columns)`);
  const keep = extraCombine === 'difference' ? main.dim : 0;
  const dim = keep + main.dim;
  const out: FeatureTable['views'] = {};
  for (const v of views) {
    const a = main.views[v] as Float32Array;
    const b = extra.views[v] as Float32Array;
    const rows = new Float32Array(main.index.size * dim);
    for (const [id, row] of main.index) {
      const r = extra.index.get(id) as number;
      for (let j = 0; j < main.dim; j++) {
        const x = a[row * main.dim + j];
        if (keep) rows[row * dim + j] = x;
        rows[row * dim + keep + j] = x - b[r * main.dim + j];
      }
    }
    out[v] = rows;
  }
  return { ...main, dim, layers: keep ? [...main.layers, ...extra.layers] : extra.layers, views: out };
}

/** "mid", "last", "mid:<output>:<pooling>", or "<output>:<pooling>+<output>:<pooling>..." (concatenated). */
function layersOf(layerArg: string): LayerSpec[] {
  if (layerArg.includes('+') || !['mid', 'last', 'both'].includes(layerArg.split(':')[0])) return parseLayerList(layerArg);
  const [choice, output, pooling] = layerArg.split(':');
  const layers: LayerSpec[] = layersFor(choice as FeatureChoice, backbone, output);
  if (pooling) for (const l of layers) l.pooling = pooling as LayerSpec['pooling'];
  return layers;
}
const results: unknown[] = fs.existsSync(outFile) ? (JSON.parse(fs.readFileSync(outFile, 'utf8')) as unknown[]) : [];
const fmt = (x: number | null | undefined) => (x === null || x === undefined ? '—' : x.toFixed(3));

const allSourceFiles: SourceFile[] = readSourceFiles(sourcesDir);
// --inference-cap n: at most n files per generator and 4n per real source (a seeded choice by file
// name hash), so the native-crop comparison fits the 2-core machine.
const cap = Number(opt('--inference-cap', '0'));
const hashRank = (s: string) => crypto.createHash('sha256').update(s).digest().readUInt32BE(0);
const sourceFiles: SourceFile[] = (() => {
  if (!cap) return allSourceFiles;
  const byGroup = new Map<string, SourceFile[]>();
  for (const s of allSourceFiles) {
    const g = s.label === 0 ? `real:${realSourceOf(s.sourceKey)}` : `gen:${s.generator}`;
    byGroup.set(g, [...(byGroup.get(g) ?? []), s]);
  }
  return [...byGroup.entries()].flatMap(([g, list]) => list.sort((a, b) => hashRank(a.id) - hashRank(b.id)).slice(0, g.startsWith('real:') ? 4 * cap : cap));
})();

// --window-short-side s: also score windows of each file scaled to an s-pixel short side (the
// scale of the training crops) instead of its own resolution.
const windowShortSide = opt('--window-short-side') ? Number(opt('--window-short-side')) : undefined;

/** Native-resolution (or, with shortSide, rescaled) windows of every source file, written once as lossless PNGs. */
async function cropItems(shortSide?: number): Promise<Array<SourceFile & { parent: string }>> {
  const dir = path.join(path.dirname(cacheDir), shortSide ? `scaled-crops-${shortSide}` : 'native-crops');
  fs.mkdirSync(dir, { recursive: true });
  const out: Array<SourceFile & { parent: string }> = [];
  for (const s of sourceFiles) {
    const listFile = path.join(dir, `${s.id}.json`);
    let n: number;
    if (fs.existsSync(listFile)) n = (JSON.parse(fs.readFileSync(listFile, 'utf8')) as { n: number }).n;
    else {
      const c = await decodeNativeCrops(fs.readFileSync(s.file), {}, undefined, shortSide);
      for (const [k, crop] of c.crops.entries()) await sharp(Buffer.from(crop), { raw: { width: 256, height: 256, channels: 3 } }).png({ compressionLevel: 1 }).toFile(path.join(dir, `${s.id}-c${k}.png`));
      n = c.crops.length;
      fs.writeFileSync(listFile, JSON.stringify({ n, width: c.width, height: c.height }));
    }
    for (let k = 0; k < n; k++) out.push({ ...s, id: `${s.id}-${shortSide ? `s${shortSide}-` : ''}c${k}`, file: path.join(dir, `${s.id}-c${k}.png`), parent: s.id });
  }
  return out;
}

const asItems = asTestItems;

function heldOutSources(fold: CrossedFoldSpec): SourceFile[] {
  const gens = new Set(fold.generators);
  return sourceFiles.filter((s) => (s.label === 0 ? realSource(s) === fold.realSource : gens.has(s.generator)));
}

function foldScore(list: SourceFile[], scores: number[], threshold: number) {
  const labels = list.map((s) => s.label);
  const w = generatorBalancedWeights(list.map((s) => ({ label: s.label, generator: s.generator })));
  const real = list.map((s, i) => (s.label === 0 ? scores[i] : NaN)).filter((x) => !Number.isNaN(x));
  return { rocAuc: computeRocAuc(labels, scores, w), fpr: real.length ? real.filter((x) => x >= threshold).length / real.length : 0 };
}

for (const layerArg of layerArgs) {
  const layers = layersOf(layerArg);
  for (const views of augmentSets) {
    const label = `${backbone.name === shippedBackbone.name ? '' : `${backbone.name}: `}${layers.map((l) => `${l.output} ${stdOnly && l.pooling === 'mean-std' ? 'std' : l.pooling}`).join('+')}${extraBackbone ? ` ${{ concat: '+', difference: '+ minus', 'difference-only': 'only minus' }[extraCombine]} ${extraBackbone.name} ${extraLayers.map((l) => `${l.output} ${l.pooling}`).join('+')}` : ''} [${views.join(',')}]${balanceRealSources ? ' real-source-balanced' : ''}${contentDebiasL2 ? ` content-debiased l2 ${contentDebiasL2} clip ${contentClip}${contentSides === 'both' ? ' both classes' : ''}` : ''}${headLabel ? ` {${headLabel}}` : ''}`;
    const t0 = performance.now();
    const table = await featureTableFor(dataset.items, layers, views, (p) => {
      if (p.done === p.total || p.done % 512 === 0) process.stderr.write(`  ${label} features ${p.view} ${p.done}/${p.total} (cached ${p.cached})\n`);
    });
    const featureSeconds = (performance.now() - t0) / 1000;
    if (contentBackbone && !contentTable) contentTable = await buildFeatureTable(dataset.items, { backbone: contentBackbone, layers: [{ key: 'out_relu-mean', output: 'out_relu', pooling: 'mean' }], views: ['plain'], cacheDir });
    const reweightTraining = contentTable ? contentDebiasedWeights : undefined;
    // In-distribution test ROC-AUC, for the record only.
    const split = splitWithHoldOut(dataset.items);
    const groupOf = balanceRealSources ? realSource : undefined;
    const mainSet = featureSetFor(table, split.train, views, groupOf);
    if (reweightTraining) mainSet.weights = reweightTraining(split.train, mainSet.weights);
    if (trainingGroups) mainSet.groups = trainingGroups(split.train);
    const grid = gridSizeOf(layers[0].pooling);
    const cells = grid === undefined ? 1 : grid * grid;
    if (cells > 1 && (args.includes('--tta') || args.includes('--inference'))) throw new Error('grid pooling: no --tta or --inference');
    const valSet = featureSetFor(table, split.val, ['plain'], groupOf);
    const main = await trainHeadForRows(split.train, mainSet, valSet, head, { cells, selectColumns, projectInputs });
    const testRows = gatherRows(table, split.test, 'plain');
    const testScores = cells > 1 ? scoreCells(main.weights, testRows, cells) : scoreWithHead(main.weights, testRows);
    const testAuc = computeRocAuc(split.test.map((i) => i.label), testScores, generatorBalancedWeights(split.test));
    const foldHeads: HeadWeights[] = [];
    const { summary, runs } = await runCrossedValidation(table, dataset.items, plan, realSource, views, head, {
      targetFpr,
      balanceRealSources,
      reweightTraining,
      trainingGroups,
      cells,
      selectColumns,
      projectInputs,
      onFold: (run, i, n) => {
        foldHeads.push(run.weights);
        const r = run.result;
        process.stderr.write(`  fold ${i + 1}/${n} ${r.realSource} × g${r.generatorGroup}: AUC ${fmt(r.rocAuc)} FPR ${fmt(r.fprHeldOutReal)} TPR ${fmt(r.tprHeldOutSynthetic)} t ${r.threshold.toFixed(3)} (${r.seconds.toFixed(1)} s)${contentLog.length ? ` ${contentLog[contentLog.length - 1]}` : ''}\n`);
      },
    });
    // --tta: each fold's test crops also scored flipped, the two logits averaged (ranking only: the
    // fold thresholds were chosen on plain scores).
    let tta: { meanRocAuc: number; minRocAuc: number; folds: number[]; byGenerator: CrossedSummary['byGenerator'] } | undefined;
    if (args.includes('--tta') && !views.includes('flip')) process.stderr.write(`  --tta skipped for [${views.join(',')}]: it needs the flip view\n`);
    if (args.includes('--tta') && views.includes('flip')) {
      const logit = (p: number) => Math.log(Math.max(p, 1e-7) / Math.max(1 - p, 1e-7));
      const mirroredFolds = runs.map((run, f) => {
        const flipped = scoreWithHead(foldHeads[f], gatherRows(table, run.testItems, 'flip'));
        const both = Array.from(run.testScores, (p, i) => 1 / (1 + Math.exp(-(logit(p) + logit(flipped[i])) / 2)));
        const rocAuc = computeRocAuc(run.testItems.map((i) => i.label), both, generatorBalancedWeights(run.testItems));
        return { ...run.result, rocAuc, perGenerator: perGeneratorRocAuc(run.testItems, both, plan.folds[f].generators) };
      });
      const folds = mirroredFolds.map((r) => r.rocAuc ?? NaN);
      const byGenerator = summariseCrossedFolds(mirroredFolds).byGenerator;
      tta = { meanRocAuc: folds.reduce((a, b) => a + b, 0) / folds.length, minRocAuc: Math.min(...folds), folds, byGenerator };
      const genAucs = byGenerator.map((g) => g.meanRocAuc ?? NaN);
      process.stdout.write(
        `|   flip TTA | crossed mean ${fmt(tta.meanRocAuc)} min ${fmt(tta.minRocAuc)} | generators mean ${fmt(genAucs.reduce((a, b) => a + b, 0) / genAucs.length)}, ${genAucs.filter((a) => a < 0.75).length} under 0.75, worst ${byGenerator
          .slice(0, 5)
          .map((g) => `${g.generator} ${fmt(g.meanRocAuc)}`)
          .join(', ')} |\n`,
      );
    }
    let inference: Record<string, unknown> | undefined;
    if (args.includes('--inference')) {
      // With --tta the source files are also read mirrored: the engine's `mirror` inference, whose
      // out-of-fold scores an operating point for it is fitted on.
      const mirrored = args.includes('--tta') && views.includes('flip');
      const resizeTable: FeatureTable = await featureTableFor(asItems(sourceFiles), layers, mirrored ? ['plain', 'flip'] : ['plain']);
      // --resize-only: the paper's whole-image mode alone (what the shipped default's operating point is fitted on).
      const resizeOnly = args.includes('--resize-only');
      const crops = resizeOnly ? [] : await cropItems();
      const cropTable: FeatureTable | undefined = resizeOnly ? undefined : await featureTableFor(asItems(crops), layers, ['plain'], (p) => {
        if (p.done === p.total || p.done % 1024 === 0) process.stderr.write(`  crops features ${p.done}/${p.total} (cached ${p.cached})\n`);
      });
      const scaled = windowShortSide ? await cropItems(windowShortSide) : [];
      const scaledTable: FeatureTable | undefined = windowShortSide ? await featureTableFor(asItems(scaled), layers, ['plain']) : undefined;
      const modes: Record<string, Array<{ rocAuc: number | null; fpr: number }>> = resizeOnly ? { resize: [] } : { resize: [], 'crops-mean-logit': [], 'crops-max': [], 'crops-centre': [] };
      if (scaledTable) Object.assign(modes, { [`scaled${windowShortSide}-mean-logit`]: [], [`scaled${windowShortSide}-centre`]: [] });
      // Out-of-fold source-file scores per mode: what an operating point for that mode is fitted on.
      const oofByMode: Record<string, Array<[0 | 1, string, number]>> = resizeOnly ? { resize: [] } : { resize: [], 'crops-mean-logit': [] };
      if (scaledTable) oofByMode[`scaled${windowShortSide}-mean-logit`] = [];
      if (mirrored) {
        modes['resize-mirror'] = [];
        oofByMode['resize-mirror'] = [];
      }
      plan.folds.forEach((fold, f) => {
        const list = heldOutSources(fold);
        const threshold = runs[f].result.threshold;
        const resize = Array.from(scoreWithHead(foldHeads[f], gatherRows(resizeTable, asItems(list), 'plain')));
        modes.resize.push(foldScore(list, resize, threshold));
        list.forEach((src, i) => oofByMode.resize.push([src.label, src.label === 0 ? fold.realSource : src.generator, Number(resize[i].toFixed(6))]));
        if (mirrored) {
          const flipped = scoreWithHead(foldHeads[f], gatherRows(resizeTable, asItems(list), 'flip'));
          const both = resize.map((p, i) => aggregateCropScores([p, flipped[i]], 'mean-logit'));
          modes['resize-mirror'].push(foldScore(list, both, threshold));
          list.forEach((src, i) => oofByMode['resize-mirror'].push([src.label, src.label === 0 ? fold.realSource : src.generator, Number(both[i].toFixed(6))]));
        }
        if (resizeOnly) return;
        const byParent = new Map<string, number[]>();
        const ownCrops = crops.filter((c) => list.some((s) => s.id === c.parent));
        const cs = scoreWithHead(foldHeads[f], gatherRows(cropTable as FeatureTable, asItems(ownCrops), 'plain'));
        ownCrops.forEach((c, i) => byParent.set(c.parent, [...(byParent.get(c.parent) ?? []), cs[i]]));
        const meanLogit = list.map((s) => aggregateCropScores(byParent.get(s.id) ?? [], 'mean-logit'));
        modes['crops-mean-logit'].push(foldScore(list, meanLogit, threshold));
        list.forEach((src, i) => oofByMode['crops-mean-logit'].push([src.label, src.label === 0 ? fold.realSource : src.generator, Number(meanLogit[i].toFixed(6))]));
        modes['crops-max'].push(foldScore(list, list.map((s) => aggregateCropScores(byParent.get(s.id) ?? [], 'max')), threshold));
        modes['crops-centre'].push(foldScore(list, list.map((s) => (byParent.get(s.id) ?? [NaN])[0]), threshold));
        if (scaledTable) {
          const own = scaled.filter((c) => list.some((s) => s.id === c.parent));
          const ss = scoreWithHead(foldHeads[f], gatherRows(scaledTable, asItems(own), 'plain'));
          const byFile = new Map<string, number[]>();
          own.forEach((c, i) => byFile.set(c.parent, [...(byFile.get(c.parent) ?? []), ss[i]]));
          const mean = list.map((s) => aggregateCropScores(byFile.get(s.id) ?? [], 'mean-logit'));
          modes[`scaled${windowShortSide}-mean-logit`].push(foldScore(list, mean, threshold));
          list.forEach((src, i) => oofByMode[`scaled${windowShortSide}-mean-logit`].push([src.label, src.label === 0 ? fold.realSource : src.generator, Number(mean[i].toFixed(6))]));
          modes[`scaled${windowShortSide}-centre`].push(foldScore(list, list.map((s) => (byFile.get(s.id) ?? [NaN])[0]), threshold));
        }
      });
      inference = { outOfFold: oofByMode };
      Object.assign(inference, Object.fromEntries(
        Object.entries(modes).map(([m, rs]) => {
          const aucs = rs.map((r) => r.rocAuc).filter((a): a is number => a !== null);
          return [m, { meanRocAuc: aucs.reduce((s, a) => s + a, 0) / aucs.length, minRocAuc: Math.min(...aucs), meanFpr: rs.reduce((s, r) => s + r.fpr, 0) / rs.length, maxFpr: Math.max(...rs.map((r) => r.fpr)), folds: rs }];
        }),
      ));
      for (const [m, v] of Object.entries(inference).filter(([k]) => k !== 'outOfFold')) {
        const s = v as { meanRocAuc: number; minRocAuc: number; meanFpr: number; maxFpr: number };
        process.stdout.write(`|   inference ${m} | source files | crossed mean ${fmt(s.meanRocAuc)} min ${fmt(s.minRocAuc)} | FPR mean ${fmt(s.meanFpr)} max ${fmt(s.maxFpr)} |\n`);
      }
    }
    const row = {
      label,
      layers,
      views,
      head,
      groups,
      pairing,
      targetFpr,
      featureSeconds,
      testAuc,
      crossed: summary,
      // Out-of-fold scores of the held-out items, for calibration of the chosen configuration.
      outOfFold: runs.map((r) => ({
        realSource: r.result.realSource,
        generatorGroup: r.result.generatorGroup,
        items: r.testItems.map((it, i) => [it.label, it.generator, Number(r.testScores[i].toFixed(6))]),
      })),
      inference,
      tta,
      at: new Date().toISOString(),
    };
    results.push(row);
    fs.mkdirSync(path.dirname(outFile), { recursive: true });
    fs.writeFileSync(outFile, JSON.stringify(results));
    process.stdout.write(
      `| ${label} | test ${fmt(testAuc)} | crossed mean ${fmt(summary.meanRocAuc)} min ${fmt(summary.minRocAuc)} | FPR by real source ${summary.byRealSource.map((r) => `${r.realSource} ${fmt(r.fpr)}`).join(', ')} (worst ${fmt(summary.worstRealSourceFpr)}) | worst generators ${summary.byGenerator
        .slice(0, 5)
        .map((g) => `${g.generator} ${fmt(g.meanRocAuc)}`)
        .join(', ')} |\n`,
    );
  }
}
