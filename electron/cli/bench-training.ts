// `npm run bench -- training [--dataset <dir>] [--backbone mobilenet_v2] [--limit n]` (not a test):
// feature-extraction images/s (cold, then cached), head-training seconds for 20 epochs on cached
// features, and evaluation time of the fused detector on the test split; then fine-tuning in
// onnxruntime: time per training image (forward + backward + optimiser update) against the forward
// pass alone of the same graph and batch measured in the same run, images/s, and the projected time
// of 20 epochs on the dataset's training split.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { layersFor, resolveBackbone } from '../services/training/backbone-specs';
import { parseFlags, UsageError } from '../services/training/cli-args';
import { loadDataset, splitWithHoldOut } from '../services/training/dataset-items';
import { buildFeatureTable, featureSetFor } from '../services/training/feature-table';
import { trainHead } from '../services/training/head-trainer';
import { TrainingError } from '../services/training/training-errors';
import { releaseFeatureSessions } from '../services/training/feature-cache';
import { benchFineTuneStep } from '../services/training/fine-tune-bench';

export interface BenchIo {
  print(obj: unknown): void;
  printError(obj: unknown): void;
  json?: boolean;
  dataDir?: string;
}

const spec = {
  dataset: { type: 'string' },
  backbone: { type: 'string' },
  limit: { type: 'int' },
  epochs: { type: 'int' },
  model: { type: 'string' },
  unfreeze: { type: 'string' },
  batch: { type: 'int' },
  reps: { type: 'int' },
  threads: { type: 'int' },
  'fine-tune-only': { type: 'flag' },
  'no-nchwc': { type: 'flag' },
  'train-images': { type: 'int' },
  json: { type: 'flag' },
  help: { type: 'flag' },
} as const;

export async function runTrainingBench(argv: string[], io: BenchIo): Promise<number> {
  let flags;
  try {
    flags = parseFlags(argv, spec);
  } catch (e) {
    if (e instanceof UsageError) {
      io.printError(e.message);
      return 2;
    }
    throw e;
  }
  if (flags.help) {
    io.print(
      'Usage: npm run bench -- training [--dataset <dir>] [--backbone mobilenet_v2] [--limit <images>] [--epochs 20] [--model <id>]\n' +
        '       [--unfreeze all|<k>] [--batch 16] [--reps 5] [--threads n] [--fine-tune-only] [--no-nchwc] [--train-images n]',
    );
    return 0;
  }
  const dataDir = io.dataDir ?? os.tmpdir();
  const datasetDir = path.resolve((flags.dataset as string | undefined) ?? path.join(dataDir, 'dataset'));
  const backboneName = (flags.backbone as string | undefined) ?? 'mobilenet_v2';
  const epochs = (flags.epochs as number | undefined) ?? 20;
  const rows: Array<Record<string, unknown>> = [];
  const fineTuneRows = async () => {
    const unfreeze = (flags.unfreeze as string | undefined) ?? 'all';
    const dataset = loadDataset(datasetDir);
    const r = await benchFineTuneStep({
      backbone: backboneName,
      unfreeze: unfreeze === 'all' ? 'all' : Number(unfreeze),
      batchSize: (flags.batch as number | undefined) ?? 16,
      reps: (flags.reps as number | undefined) ?? 5,
      intraOpThreads: flags.threads as number | undefined,
      items: dataset.items,
      nchwc: !flags['no-nchwc'],
    });
    // The projection is for the dataset's training split, or for --train-images (e.g. 3380, the shipped default's).
    const trainImages = (flags['train-images'] as number | undefined) ?? splitWithHoldOut(dataset.items).train.length;
    rows.push({ step: `fine-tuning forward pass alone (unfreeze ${unfreeze}, batch ${r.batchSize}, ${r.provider}${r.nchwcBlockSize ? `, NCHWc block ${r.nchwcBlockSize}` : ''})`, images: r.batchSize, seconds: r.forwardSeconds, imagesPerSecond: r.batchSize / r.forwardSeconds });
    rows.push({ step: `fine-tuning step: forward + backward + ${r.optimizer} update (${r.trainedWeights} weights)`, images: r.batchSize, seconds: r.stepSeconds, imagesPerSecond: r.batchSize / r.stepSeconds });
    rows.push({ step: `the same weights as the fused detector (constant weights, every onnxruntime optimisation: the runtime's bound)`, images: r.batchSize, seconds: r.detectorForwardSeconds, imagesPerSecond: r.batchSize / r.detectorForwardSeconds });
    rows.push({
      step: 'fine-tuning: training image / forward image of the same graph (target ≤ 3.5)',
      ratio: r.stepSeconds / r.forwardSeconds,
      updateShare: r.updateSeconds / r.stepSeconds,
      projected20EpochsHours: (20 * trainImages * (r.stepSeconds / r.batchSize)) / 3600,
      trainImages,
    });
    rows.push({ step: "fine-tuning: training image / the fused detector's forward image", ratioToBound: r.stepSeconds / r.detectorForwardSeconds });
  };
  const print = () => {
    if (io.json || flags.json) for (const r of rows) io.print(r);
    else {
      io.print(`Training benchmark: ${backboneName}, ${os.cpus().length} CPU cores\n\n| step | images | seconds | images/s |\n|---|---|---|---|`);
      for (const r of rows) {
        if (typeof r.ratioToBound === 'number') {
          io.print(`| ${r.step} | | ratio ${r.ratioToBound.toFixed(2)} | |`);
          continue;
        }
        if (typeof r.ratio === 'number') {
          io.print(`| ${r.step} | | ratio ${r.ratio.toFixed(2)} (update ${(100 * (r.updateShare as number)).toFixed(1)} % of a step) | 20 epochs of ${r.trainImages} training images: ${(r.projected20EpochsHours as number).toFixed(2)} h |`);
          continue;
        }
        io.print(`| ${r.step} | ${r.images ?? ''} | ${typeof r.seconds === 'number' ? r.seconds.toFixed(2) : (r.skipped ?? '')} | ${typeof r.imagesPerSecond === 'number' ? r.imagesPerSecond.toFixed(1) : ''} |`);
      }
    }
    return 0;
  };
  const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-training-'));
  try {
    const dataset = loadDataset(datasetDir);
    const items = flags.limit ? dataset.items.slice(0, flags.limit as number) : dataset.items;
    if (flags['fine-tune-only']) {
      await fineTuneRows();
      return print();
    }
    const backbone = resolveBackbone(backboneName);
    const layers = layersFor('last', backbone);
    const cold = await buildFeatureTable(items, { backbone, layers, views: ['plain', 'flip'], cacheDir });
    rows.push({ step: 'feature extraction (cold, plain+flip)', images: items.length * 2, seconds: cold.extraction.seconds, imagesPerSecond: (items.length * 2) / cold.extraction.seconds });
    const warm = await buildFeatureTable(items, { backbone, layers, views: ['plain', 'flip'], cacheDir });
    rows.push({ step: 'feature extraction (cached)', images: items.length * 2, seconds: warm.extraction.seconds, imagesPerSecond: (items.length * 2) / warm.extraction.seconds });
    const split = splitWithHoldOut(items);
    const r = await trainHead(featureSetFor(warm, split.train, ['plain', 'flip']), featureSetFor(warm, split.val, ['plain']), { epochs });
    rows.push({ step: `head training, ${epochs} epochs`, images: split.train.length, seconds: r.seconds, backend: r.backend, bestEpoch: r.bestEpoch });
    await fineTuneRows();
    if (flags.model || io.dataDir) {
      try {
        const { evaluateModel } = await import('../services/training/evaluate-model');
        const e = await evaluateModel({ dataDir, datasetDir, modelId: flags.model as string | undefined, outDir: path.join(cacheDir, 'curves') });
        const n = e.evaluation.metrics.n;
        rows.push({ step: 'evaluation of the fused detector (test split, incl. curves)', images: n, seconds: e.seconds, imagesPerSecond: n / e.seconds });
      } catch (err) {
        rows.push({ step: 'evaluation', skipped: (err as Error).message });
      }
    }
  } catch (e) {
    if (e instanceof TrainingError) {
      io.printError(`${e.code}: ${e.message}`);
      return 1;
    }
    throw e;
  } finally {
    await releaseFeatureSessions();
    fs.rmSync(cacheDir, { recursive: true, force: true });
  }
  return print();
}
