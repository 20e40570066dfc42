// Leave-one-modality-out for fine-tuning (the paper's Table 3, issue #13 item 2): for each synthetic
// modality, fine-tune the last k blocks in onnxruntime without it, and score the fused detector on
// that modality's images against the real test images. k = 0 trains the head alone through the same
// graph (frozen features, the same epochs, flips and data), which is the comparison that isolates
// what fine-tuning adds.
// With --hold-out generator-groups the folds are the crossed plan's four groups of generator families
// instead (leave-one-generator-group-out; a fold per generator would take days here), and
// --frozen <features> adds the frozen-feature head of that choice (e.g. taps, the shipped default's)
// trained on the same folds. With --hold-out crossed --crossed-folds 0,1,2,3 the folds are those of
// the crossed plan (crossed-experiments.ts: one real collection and one generator group left out of
// training and validation), scored generator-balanced on the held-out files as the frozen heads are.
//   npx tsx models/experiments/fine-tune-holdout.ts --dataset <dir> --data-dir <dir> --unfreeze 0,2[,all] \
//     [--epochs 2] [--batch 16] [--modalities diffusion,gan] [--hold-out modality|generator-groups]
//     [--hold-out crossed --crossed-folds 0,1,2,3] [--frozen taps] [--backbone-lr 1e-4] [--limit n] [--threads n] [--out results.json]
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ModelRegistry } from '../../electron/services/engine/model-registry';
import { computeRocAuc } from '../../electron/services/evaluation/metrics';
import { loadDataset, splitWithHoldOut } from '../../electron/services/training/dataset-items';
import { scoreWithDetector } from '../../electron/services/training/evaluate-model';
import { fineTuneDetector } from '../../electron/services/training/onnx-fine-tune';
import { evaluateScores, trainDetector } from '../../electron/services/training/train-detector';
import { realSourceOf } from '../../electron/services/dataset/source-manifest';
import type { FeatureChoice } from '../../electron/services/training/backbone-specs';
import type { DatasetItem, HoldOut } from '../../electron/services/training/dataset-items';
import { planCrossedFolds, splitForCrossedFold } from '../../electron/services/training/holdout-validation';
import { generatorBalancedWeights } from '../../electron/services/evaluation/sample-weights';
import { opt } from './script-args';
import { asTestItems, readSourceFiles } from './source-files';

const datasetDir = opt('--dataset');
const dataDir = opt('--data-dir');
if (!datasetDir || !dataDir) throw new Error('--dataset and --data-dir are required');
const depths = opt('--unfreeze', '0,2').split(',').map((d) => (d === 'all' ? ('all' as const) : Number(d)));
const epochs = Number(opt('--epochs', '2'));
// --backbone-lr x: the backbone layers' learning rate (the training default is 1e-4).
const backboneLr = opt('--backbone-lr') ? Number(opt('--backbone-lr')) : undefined;
const batchSize = Number(opt('--batch', '16'));
const outFile = opt('--out', 'fine-tune-holdout.json');
const limit = opt('--limit') ? Number(opt('--limit')) : undefined;
const items = loadDataset(datasetDir).items;
const holdOutKind = opt('--hold-out', 'modality') as 'modality' | 'generator-groups' | 'crossed';
const byGroups = holdOutKind === 'generator-groups';
const crossed = holdOutKind === 'crossed';
const all = [...new Set(items.filter((i) => i.label === 1).map((i) => i.modality))].sort();
const realSource = (i: DatasetItem) => realSourceOf(i.sourceKey);
const plan = planCrossedFolds(items, realSource, { groups: 4, pairing: 2, seed: 1 });
// Each fold: its name, what it holds out, and (crossed) its test items.
const folds: Array<{ name: string; holdOut: HoldOut; test?: DatasetItem[] }> = crossed
  ? (opt('--crossed-folds', '0,1,2,3') as string).split(',').map(Number).map((f) => {
      const fold = plan.folds[f];
      return { name: `${fold.realSource}×g${fold.generatorGroup}`, holdOut: { generators: fold.generators, realSources: [fold.realSource] }, test: splitForCrossedFold(items, fold, realSource).test };
    })
  : byGroups
    ? plan.generatorGroups.map((g, i) => ({ name: `g${i}`, holdOut: { generators: g } }))
    : (opt('--modalities') ? (opt('--modalities') as string).split(',') : all).map((m) => ({ name: m, holdOut: { modalities: [m] } }));
const frozen = opt('--frozen') as FeatureChoice | undefined;
// Crossed folds also score the held-out SOURCE files whole (the engine's input), so an operating
// point can be fitted on out-of-fold scores as the shipped default's is.
const sourcesDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../shared/datasets');
const sourceFiles: DatasetItem[] = crossed ? asTestItems(readSourceFiles(sourcesDir)) : [];
if (frozen && crossed) throw new Error('--frozen with --hold-out crossed: the frozen heads of the crossed folds come from crossed-experiments.ts');
const results: unknown[] = fs.existsSync(outFile) ? (JSON.parse(fs.readFileSync(outFile, 'utf8')) as unknown[]) : [];
const done = new Set(results.map((r) => `${(r as { unfreeze: number | string }).unfreeze}:${(r as { heldOut: string }).heldOut}`));
const registry = new ModelRegistry({ dataDir });

for (const { name: m, holdOut, test: crossedTest } of folds) {
  const heldOutFiles = sourceFiles.filter((f) => (f.label === 0 ? (holdOut.realSources ?? []).includes(realSource(f)) : (holdOut.generators ?? []).includes(f.generator)));
  const test = crossedTest ?? splitWithHoldOut(items, holdOut).test;
  if (frozen && !done.has(`frozen-${frozen}:${m}`)) {
    const r = await trainDetector({ datasetDir, dataDir, backbone: 'mobilenet_v2', features: frozen, cacheDir: opt('--cache'), excludeGenerators: holdOut.generators && [...holdOut.generators], excludeModalities: holdOut.modalities && [...holdOut.modalities], register: false });
    const rocAuc = computeRocAuc(r.testItems.map((i) => i.label), r.testScores);
    console.log(JSON.stringify({ heldOut: m, unfreeze: `frozen-${frozen}`, rocAuc, fpr: r.test.metrics.fpr }));
    results.push({ heldOut: m, unfreeze: `frozen-${frozen}`, testReal: test.filter((i) => i.label === 0).length, testSynthetic: test.filter((i) => i.label === 1).length, rocAuc, threshold: r.threshold.threshold, metrics: r.test.metrics, trainingSeconds: r.training.seconds });
    fs.writeFileSync(outFile, JSON.stringify(results, null, 2));
  }
  for (const k of depths) {
    if (done.has(`${k}:${m}`)) continue;
    const started = Date.now();
    const id = `${crossed ? 'crossed' : byGroups ? 'logo' : 'lomo'}-${m.replace('×', '-')}-unfreeze-${k}-e${epochs}${backboneLr === undefined ? '' : `-blr${backboneLr}`}`;
    const run = await fineTuneDetector(
      { datasetDir, dataDir, backbone: 'mobilenet_v2', unfreeze: k, epochs, batchSize, excludeModalities: holdOut.modalities && [...holdOut.modalities], excludeGenerators: holdOut.generators && [...holdOut.generators], excludeRealSources: holdOut.realSources && [...holdOut.realSources], modelId: id, resume: true, limit, backboneLearningRate: backboneLr, intraOpThreads: opt('--threads') ? Number(opt('--threads')) : undefined },
      { onProgress: (p) => p.kind === 'epoch' && console.log(`${m} k=${k} epoch ${p.epoch}/${p.epochs} loss ${p.loss.toFixed(4)} val ${p.valLoss.toFixed(4)} ${p.seconds.toFixed(0)} s`) },
    );
    const model = await registry.resolve(run.modelId);
    const scores = await scoreWithDetector(model, test);
    const ev = evaluateScores(test, scores, model.card.threshold);
    // Crossed folds weigh every held-out generator the same, as crossed-experiments.ts does.
    const heldOutAuc = computeRocAuc(
      test.map((i) => i.label),
      scores,
      crossed ? generatorBalancedWeights(test) : undefined,
    );
    let sourceFileRows: { rocAuc: number | null; outOfFold: Array<[number, string, number]> } | undefined;
    if (crossed) {
      const fileScores = await scoreWithDetector(model, heldOutFiles);
      sourceFileRows = {
        rocAuc: computeRocAuc(heldOutFiles.map((f) => f.label), fileScores, generatorBalancedWeights(heldOutFiles)),
        outOfFold: heldOutFiles.map((f, i) => [f.label, f.label === 0 ? realSource(f) : f.generator, Number(fileScores[i].toFixed(6))]),
      };
    }
    const row = {
      heldOut: m,
      ...(sourceFileRows ? { sourceFiles: sourceFileRows } : {}),
      unfreeze: k,
      epochs,
      backboneLearningRate: backboneLr ?? 1e-4,
      bestEpoch: run.result.bestEpoch,
      valRocAuc: run.summary.valRocAuc,
      testReal: test.filter((i) => i.label === 0).length,
      testSynthetic: test.filter((i) => i.label === 1).length,
      rocAuc: heldOutAuc,
      threshold: model.card.threshold,
      metrics: ev.metrics,
      trainingSeconds: run.result.seconds,
      wallSeconds: (Date.now() - started) / 1000,
    };
    console.log(JSON.stringify({ heldOut: m, unfreeze: k, rocAuc: heldOutAuc, sourceFilesRocAuc: sourceFileRows?.rocAuc, fpr: ev.metrics.fpr, recall: ev.metrics.recall }));
    results.push(row);
    fs.writeFileSync(outFile, JSON.stringify(results, null, 2));
  }
}
