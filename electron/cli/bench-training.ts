// `npm run bench -- training [--dataset <dir>] [--backbone mobilenet_v2] [--limit n]` (not a test):
// feature-extraction images/s (cold, then cached), head-training seconds for 20 epochs on cached
// features, and evaluation time of the fused detector on the test split.
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
    io.print('Usage: npm run bench -- training [--dataset <dir>] [--backbone mobilenet_v2] [--limit <images>] [--epochs 20] [--model <id>]');
    return 0;
  }
  const dataDir = io.dataDir ?? os.tmpdir();
  const datasetDir = path.resolve((flags.dataset as string | undefined) ?? path.join(dataDir, 'dataset'));
  const backboneName = (flags.backbone as string | undefined) ?? 'mobilenet_v2';
  const epochs = (flags.epochs as number | undefined) ?? 20;
  const rows: Array<Record<string, unknown>> = [];
  const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-training-'));
  try {
    const dataset = loadDataset(datasetDir);
    const items = flags.limit ? dataset.items.slice(0, flags.limit as number) : dataset.items;
    const backbone = resolveBackbone(backboneName);
    const layers = layersFor('last', backbone);
    const cold = await buildFeatureTable(items, { backbone, layers, views: ['plain', 'flip'], cacheDir });
    rows.push({ step: 'feature extraction (cold, plain+flip)', images: items.length * 2, seconds: cold.extraction.seconds, imagesPerSecond: (items.length * 2) / cold.extraction.seconds });
    const warm = await buildFeatureTable(items, { backbone, layers, views: ['plain', 'flip'], cacheDir });
    rows.push({ step: 'feature extraction (cached)', images: items.length * 2, seconds: warm.extraction.seconds, imagesPerSecond: (items.length * 2) / warm.extraction.seconds });
    const split = splitWithHoldOut(items);
    const r = await trainHead(featureSetFor(warm, split.train, ['plain', 'flip']), featureSetFor(warm, split.val, ['plain']), { epochs });
    rows.push({ step: `head training, ${epochs} epochs`, images: split.train.length, seconds: r.seconds, backend: r.backend, bestEpoch: r.bestEpoch });
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
  if (io.json || flags.json) for (const r of rows) io.print(r);
  else {
    io.print(`Training benchmark: ${backboneName}, ${os.cpus().length} CPU cores\n\n| step | images | seconds | images/s |\n|---|---|---|---|`);
    for (const r of rows) {
      io.print(`| ${r.step} | ${r.images ?? ''} | ${typeof r.seconds === 'number' ? r.seconds.toFixed(2) : (r.skipped ?? '')} | ${typeof r.imagesPerSecond === 'number' ? r.imagesPerSecond.toFixed(1) : ''} |`);
    }
  }
  return 0;
}
