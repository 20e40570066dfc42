// Trains the shipped default with the configuration EXPERIMENTS.md selected, and writes what the
// repository commits: head-weights.json and model-card.json (with leave-one-generator-out and
// leave-one-modality-out numbers). build-default-detector.ts recreates the fused ONNX at install.
//
//   npx tsx models/default/train-default.ts --dataset <built dataset> [--backbone mobilenet_v2] [--features last|mid] [--augment flip]
//     [--dataset-options "<the npm run dataset options it was built with>"]
//
// The shipped default: --features mid on a dataset built with
//   npm run dataset -- --sources ../shared/datasets --out <dir> --crops-per-synthetic 5 --max-crops-per-real 24
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseViews } from '../../electron/services/training/image-views';
import { sha256Text } from '../../electron/services/training/head-weights-file';
import { trainDetector } from '../../electron/services/training/train-detector';
import { buildDefaultDetector } from './build-default-detector';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (name: string, dflt?: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const datasetDir = opt('--dataset');
if (!datasetDir) {
  process.stderr.write('usage: train-default.ts --dataset <dir> [--backbone mobilenet_v2] [--augment flip] [--cache dir]\n');
  process.exit(2);
}
const backbone = opt('--backbone', 'mobilenet_v2') as string;
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'train-default-'));
const cacheDir = opt('--cache');
const id = `default-${backbone.replace(/_/g, '-')}`;
const r = await trainDetector(
  {
    datasetDir,
    dataDir,
    backbone,
    views: parseViews(opt('--augment', 'flip') as string),
    features: (opt('--features', 'last') as 'last' | 'mid'),
    leaveOneOut: args.includes('--no-logo') ? ['modality'] : ['modality', 'generator'],
    modelId: `${id}-candidate`,
    cacheDir,
    seed: Number(opt('--seed', '1')),
  },
  {
    onProgress: (p) => {
      if (p.kind === 'stage') process.stderr.write(`[${p.stage}] ${p.message}\n`);
      else if (p.kind === 'fold') process.stderr.write(`  ${p.by} ${p.index + 1}/${p.total} ${p.heldOut}: ${p.rocAuc?.toFixed(3)}\n`);
      else if (p.kind === 'epoch') process.stderr.write(`  epoch ${p.epoch} loss ${p.loss.toFixed(4)} val ${p.valLoss?.toFixed(4)}\n`);
    },
  },
);
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
    'Trained on 256×256 crops of a small collection (300 photographs, 536 synthetic files of 39 generators; see trainingData). ' +
    'Its leave-one-generator-out and leave-one-modality-out ROC-AUC (metrics) predict how it does on a new generator; they are far below the paper\'s in-distribution numbers. Treat its verdict as one indicator, not proof.',
};
fs.writeFileSync(path.join(here, 'model-card.json'), JSON.stringify(card, null, 2) + '\n');
const built = buildDefaultDetector({ force: true });
process.stdout.write(JSON.stringify({ id, sha256: built.sha256, test: r.card.metrics, seconds: r.seconds }, null, 1).slice(0, 4000) + '\n');
fs.rmSync(dataDir, { recursive: true, force: true });
