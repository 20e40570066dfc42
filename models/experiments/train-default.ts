// Trains the shipped default with the configuration EXPERIMENTS.md selected, and writes what the
// repository commits: head-weights.json and model-card.json (with leave-one-generator-out and
// leave-one-modality-out numbers). build-default-detector.ts recreates the fused ONNX at install.
//
//   npx tsx models/experiments/train-default.ts --dataset <built dataset> [--backbone mobilenet_v2] [--features last|mid|taps] [--augment flip]
//     [--dataset-options "<the npm run dataset options it was built with>"] [--ensemble n]
//     [--crossed r.json [--crossed-row label] [--target-fpr 0.05] [--collection-fpr 0.1 | --max-collection-fpr 0.07] [--max-fnr 0.1]] [--mirror]
//
// The shipped default: --features mid on a dataset built with
//   npm run dataset -- --sources ../shared/datasets --out <dir> --crops-per-synthetic 5 --max-crops-per-real 24
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FeatureChoice } from '../../electron/services/training/backbone-specs';
import { parseViews } from '../../electron/services/training/image-views';
import { sha256Text } from '../../electron/services/training/head-weights-file';
import { trainDetector } from '../../electron/services/training/train-detector';
import { buildDefaultDetector } from '../default/build-default-detector';
import { realSourceOf } from '../../electron/services/dataset/source-manifest';
import { computeBinaryMetrics } from '../../electron/services/evaluation/metrics';
import { generatorBalancedWeights } from '../../electron/services/evaluation/sample-weights';
import { calibrateScore } from '../../electron/services/engine/operating-point';
import type { CrossedSummary } from '../../electron/services/training/holdout-validation';
import { fitOperatingPoint, fitOperatingPointForCollections, type FittedOperatingPoint, type OutOfFoldScore } from '../../electron/services/training/operating-point-fit';
import { args, opt } from './script-args';

// The shipped default's artefacts (head weights, model card) live in models/default.
const here = path.join(path.dirname(fileURLToPath(import.meta.url)), '../default');
const datasetDir = opt('--dataset');
if (!datasetDir) {
  process.stderr.write('usage: train-default.ts --dataset <dir> [--backbone mobilenet_v2] [--augment flip] [--cache dir]\n');
  process.exit(2);
}
const backbone = opt('--backbone', 'mobilenet_v2') as string;
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'train-default-'));
const cacheDir = opt('--cache');
const id = `default-${backbone.replace(/_/g, '-')}`;
// --mirror: every image is scored with its mirror (the detector's `inference.mirror`), in the
// evaluations and in the fused file, and the operating point is fitted on the folds' mirrored scores.
const mirror = args.includes('--mirror');
const r = await trainDetector(
  {
    datasetDir,
    dataDir,
    backbone,
    views: parseViews(opt('--augment', 'flip') as string),
    features: opt('--features', 'last') as FeatureChoice,
    leaveOneOut: args.includes('--no-loo') ? [] : args.includes('--no-logo') ? ['modality'] : ['modality', 'generator'],
    modelId: `${id}-candidate`,
    cacheDir,
    seed: Number(opt('--seed', '1')),
    ensemble: opt('--ensemble') ? Number(opt('--ensemble')) : undefined,
    realGroupOf: args.includes('--balance-real-sources') ? (item) => realSourceOf(item.sourceKey) : undefined,
    mirror,
  },
  {
    onProgress: (p) => {
      if (p.kind === 'stage') process.stderr.write(`[${p.stage}] ${p.message}\n`);
      else if (p.kind === 'fold') process.stderr.write(`  ${p.by} ${p.index + 1}/${p.total} ${p.heldOut}: ${p.rocAuc?.toFixed(3)}\n`);
      else if (p.kind === 'epoch') process.stderr.write(`  epoch ${p.epoch} loss ${p.loss.toFixed(4)} val ${p.valLoss?.toFixed(4)}\n`);
    },
  },
);
// The operating point and the held-out tables come from the crossed folds of the same configuration
// (crossed-experiments.ts --out <file>): --crossed <file> --crossed-row <label>. With --input-mode
// crops the calibration and threshold are fitted on the folds' multi-crop scores of source files.
const crossedFile = opt('--crossed');
const inputMode = (opt('--input-mode', 'resize') as string) === 'crops' ? 'crops' : 'resize';
let operatingPoint: FittedOperatingPoint | undefined;
let crossed: Record<string, unknown> | undefined;
if (crossedFile) {
  type Row = { label: string; crossed: CrossedSummary; groups: number; pairing: unknown; targetFpr: number; outOfFold: Array<{ realSource: string; items: Array<[0 | 1, string, number]> }>; inference?: Record<string, unknown> & { outOfFold?: Record<string, Array<[0 | 1, string, number]>> } };
  const rows = JSON.parse(fs.readFileSync(crossedFile, 'utf8')) as Row[];
  const wanted = opt('--crossed-row');
  const row = rows.filter((r) => !wanted || r.label === wanted).at(-1);
  if (!row) throw new Error(`no row ${wanted} in ${crossedFile}`);
  // Fitted on what the engine will score: the folds' scores of whole source files in the shipped
  // input mode when the run has them, else the folds' scores of dataset crops.
  const fileMode = inputMode === 'crops' ? 'crops-mean-logit' : mirror ? 'resize-mirror' : 'resize';
  const fileScores = row.inference?.outOfFold?.[fileMode];
  if (mirror && !fileScores) throw new Error(`${crossedFile} has no mirrored source-file scores: run crossed-experiments.ts with --inference --tta`);
  const fitOn = fileScores && opt('--fit-on', 'source-files') === 'source-files' ? 'source-files' : 'dataset-items';
  const oof: OutOfFoldScore[] =
    fitOn === 'source-files' && fileScores
      ? fileScores.map(([label, group, score]) => ({ label, group, score }))
      : row.outOfFold.flatMap((f) => f.items.map(([label, generator, score]) => ({ label, group: label === 0 ? f.realSource : generator, score })));
  process.stderr.write(`operating point fitted on ${oof.length} out-of-fold ${fitOn} scores (${fileMode})\n`);
  const targetFpr = Number(opt('--target-fpr', '0.05'));
  const maxFnr = Number(opt('--max-fnr', '0.1'));
  // --collection-fpr x: the loosest per-collection cap whose leave-one-collection-out check keeps every
  // collection at or under x; --max-collection-fpr x: that cap directly.
  operatingPoint = opt('--collection-fpr')
    ? fitOperatingPointForCollections(oof, { targetFpr, maxFnr, collectionFpr: Number(opt('--collection-fpr')) })
    : fitOperatingPoint(oof, { targetFpr, maxFnr, maxCollectionFpr: opt('--max-collection-fpr') ? Number(opt('--max-collection-fpr')) : undefined });
  const { outOfFold: _scores, ...inferenceModes } = row.inference ?? {};
  crossed = {
    protocol:
      `leave-one-real-source-out × leave-one-generator-group-out: ${row.crossed.folds.length} folds, ${row.groups} groups of generator families, pairing ${String(row.pairing)}; ` +
      `each fold trains without one collection of real photographs and one group of generators and tests only those; its threshold is chosen on its own validation split for FPR ${row.targetFpr}`,
    configuration: row.label,
    operatingPointFittedOn: fitOn,
    meanRocAuc: row.crossed.meanRocAuc,
    minRocAuc: row.crossed.minRocAuc,
    worstRealSourceFpr: row.crossed.worstRealSourceFpr,
    byRealSource: row.crossed.byRealSource,
    byGenerator: row.crossed.byGenerator,
    folds: row.crossed.folds.map((f) => ({ realSource: f.realSource, generatorGroup: f.generatorGroup, rocAuc: f.rocAuc, threshold: f.threshold, fprHeldOutReal: f.fprHeldOutReal, tprHeldOutSynthetic: f.tprHeldOutSynthetic, testReal: f.testReal, testSynthetic: f.testSynthetic })),
    inferenceModes: Object.keys(inferenceModes).length ? inferenceModes : undefined,
  };
}
const headFile = 'head-weights.json';
fs.writeFileSync(path.join(here, headFile), r.headJson);
const card = {
  ...r.card,
  id,
  name: `Shipped default: ${backbone} + the paper's head`,
  createdAt: new Date().toISOString(),
  head: { ...(r.card.head as object), file: headFile, sha256: sha256Text(r.headJson) },
  trainingData: {
    ...(r.card.trainingData as object),
    dataset: `npm run dataset -- --sources ../shared/datasets --out <dir> ${opt('--dataset-options', '--crops-per-synthetic 5 --max-crops-per-real 24')} (seed 1)`,
  },
  sha256: r.model?.card.sha256,
  limitations:
    'Trained on 256×256 crops of a small collection (743 photographs of 8 collections, 776 synthetic files of 63 generators; see trainingData), with a frozen MobileNetV2 (nsfwjs weights). ' +
    'Its crossed hold-out numbers (metrics.crossedHoldOut: a collection of real photographs and a group of generators, both unseen) predict how it does on the next case; they are far below the paper\'s in-distribution numbers, and the false-positive rate differs by collection. ' +
    'Scores inside the inconclusive band say the detector cannot tell; treat every verdict as one indicator, not proof.',
};
if (operatingPoint && crossed) {
  const op = operatingPoint;
  // The eight metrics again on the test split, at the calibrated threshold (single 256 crops).
  const cal = Array.from(r.testScores, (x) => calibrateScore(x, op.calibration));
  const labels = r.testItems.map((i) => i.label);
  const m = computeBinaryMetrics(labels, cal, { threshold: op.threshold, weights: generatorBalancedWeights(r.testItems) });
  const inBand = cal.filter((p) => p >= op.band.low && p < op.threshold).length / cal.length;
  const metrics = card.metrics as Record<string, unknown>;
  metrics.testAtValThreshold = metrics.test;
  metrics.test = { precision: m.precision, recall: m.recall, f1: m.f1, accuracy: m.accuracy, ap: m.ap, rocAuc: m.rocAuc, fpr: m.fpr, fnr: m.fnr, confusion: m.confusion, n: m.n, weighted: m.weighted, inconclusiveShare: inBand, note: 'calibrated scores at the shipped threshold; inconclusive items count by which side of the threshold they fall' };
  metrics.crossedHoldOut = crossed;
  Object.assign(card, {
    threshold: op.threshold,
    thresholdSelection: {
      chosenOn:
        'out-of-fold scores of held-out real collections (crossed folds), each collection weighing the same' +
        (op.maxCollectionFpr !== undefined ? `, raised until no collection has more than ${Math.round(op.maxCollectionFpr * 100)} % called synthetic` : '') +
        (opt('--collection-fpr') ? `; that cap is the loosest for which every collection, under a threshold chosen without it (leaveOneCollectionOut), stays at or under ${Number(opt('--collection-fpr')) * 100} %` : ''),
      targetFpr: op.targetFpr,
      maxCollectionFpr: op.maxCollectionFpr,
      leaveOneCollectionOut: op.leaveOneCollectionOut,
      outOfFold: op.overall,
      byRealSource: op.byRealSource,
      bySyntheticGroup: op.bySyntheticGroup,
      previous: (card as { thresholdSelection?: unknown }).thresholdSelection,
    },
    calibration: { ...op.calibration, fittedOn: 'out-of-fold scores of the crossed folds (Platt scaling, each real collection and each generator weighing the same)' },
    inconclusiveBand: { ...op.band, chosenOn: `out-of-fold: from the score under which at most ${op.maxFnr * 100} % of held-out synthetic images fall, up to the threshold` },
    inference: { inputMode, ...(inputMode === 'crops' ? { maxCrops: 5, aggregate: 'mean-logit' } : {}), ...(mirror ? { mirror: true } : {}) },
  });
}
fs.writeFileSync(path.join(here, 'model-card.json'), JSON.stringify(card, null, 2) + '\n');
const built = buildDefaultDetector({ force: true });
process.stdout.write(JSON.stringify({ id, sha256: built.sha256, test: r.card.metrics, seconds: r.seconds }, null, 1).slice(0, 4000) + '\n');
fs.rmSync(dataDir, { recursive: true, force: true });
