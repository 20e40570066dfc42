// `npm run train -- --backbone <name> [options]`: the paper's recipe on cached frozen-backbone
// features, or with --unfreeze all|k fine-tuning the whole network or its last k blocks in
// onnxruntime (a compiled training graph; resumable with --resume).
import os from 'node:os';
import path from 'node:path';
import { CaseStore } from '../services/case-store';
import { activateModel, ModelLabError } from '../services/model-lab/lab-models';
import { FEATURE_CHOICES, type FeatureChoice } from '../services/training/backbone-specs';
import { numberInRange, parseFlags, UsageError } from '../services/training/cli-args';
import { parseViews } from '../services/training/image-views';
import { trainDetector, type TrainDetectorProgress, type TrainDetectorResult } from '../services/training/train-detector';
import { TrainingError } from '../services/training/training-errors';
import { ModelRegistryError } from '../services/engine/model-registry';
import { isProviderPreference, unknownProviderMessage, type ProviderPreference } from '../services/engine/execution-providers';
import type { FineTuneProgress } from '../services/training/onnx-fine-tune';

export interface TrainCommandContext {
  dataDir: string;
  json: boolean;
  print(obj: unknown): void;
  printError(obj: unknown): void;
}

export const TRAIN_USAGE = [
  'Usage: npm run train -- --backbone <mobilenet_v2|inception_v3> [options]',
  '',
  'Trains the paper\'s head (Dense+ReLU, BatchNorm, Dropout, Dense+sigmoid) on frozen backbone features',
  '(cached), picks the decision threshold on validation, evaluates on test and registers the fused detector.',
  '  --dataset <dir>             built dataset (default <data-dir>/dataset; build it with npm run dataset)',
  '  --epochs <n>                default 20          --batch <n>      default 64',
  '  --lr <x>                    default 0.001       --optimizer adam|rmsprop (default adam)',
  '  --units <n>                 hidden units, default 256   --dropout <x> default 0.5   --seed <n>',
  '  --ensemble <n>              train n heads (seeds seed..seed+n-1) and average their logits, exported as one head (default 1)',
  '  --features last|mid|both|taps  pooled feature layer(s), default last (last, mid and taps can be exported; both is for experiments)',
  '  --mirror                    score every image with its mirror (mean of the two logits), as the shipped default does',
  '  --augment <views>           training views: flip,jpeg,blur,resize (default flip; add -flip variants, e.g. jpeg-flip)',
  '  --exclude-modality <m>      hold a modality out of training (tested on it; the paper\'s Table 3)',
  '  --exclude-generator <g>     hold a generator out of training (tested on it)',
  '  --leave-one-out generator,modality   also run the held-out folds and record them in the model card',
  '  --unfreeze all|<k>          fine-tune the whole backbone or its last k blocks with the head, in onnxruntime',
  '  --backbone-lr <x>           learning rate of the backbone layers when fine-tuning (default 0.0001; --lr is the head\'s)',
  '  --weight-decay <x>          decoupled weight decay on kernels when fine-tuning (default 0)',
  '  --limit <n>                 fine-tune on at most n training and n validation images (smoke runs)',
  '  --resume                    continue a killed fine-tuning run from its last epoch checkpoint',
  '  --checkpoint-dir <dir>      where fine-tuning keeps its checkpoint (default <data-dir>/training/<run>)',
  '  --provider auto|cpu|cuda|dml|coreml|webgpu   execution provider for fine-tuning (default auto, falls back to cpu)',
  '  --threads <n>               onnxruntime intra-op threads for fine-tuning',
  '  --id <model-id>             default <backbone>-<timestamp>',
  '  --set-default               make the new model the active detector (audited in the global chain; a model',
  '                              below the quality floors also needs --confirm-weak)',
  '  --confirm-weak              with --set-default: activate it although it fails its own evaluation',
  '  --no-register               train and evaluate only',
  '  --json                      JSON lines: progress events, then {"result": ...}',
].join('\n');

const spec = {
  backbone: { type: 'string' },
  dataset: { type: 'string' },
  epochs: { type: 'int' },
  batch: { type: 'int' },
  lr: { type: 'number' },
  optimizer: { type: 'string' },
  units: { type: 'int' },
  dropout: { type: 'number' },
  seed: { type: 'int' },
  ensemble: { type: 'int' },
  features: { type: 'string' },
  augment: { type: 'string' },
  mirror: { type: 'flag' },
  'exclude-modality': { type: 'list' },
  'exclude-generator': { type: 'list' },
  'leave-one-out': { type: 'list' },
  unfreeze: { type: 'string' },
  'backbone-lr': { type: 'number' },
  'weight-decay': { type: 'number' },
  limit: { type: 'int' },
  resume: { type: 'flag' },
  'checkpoint-dir': { type: 'string' },
  provider: { type: 'string' },
  threads: { type: 'int' },
  id: { type: 'string' },
  'set-default': { type: 'flag' },
  'confirm-weak': { type: 'flag' },
  'no-register': { type: 'flag' },
  help: { type: 'flag' },
  json: { type: 'flag' },
  'cache-dir': { type: 'string' },
} as const;

const fmt = (x: number | null | undefined, digits = 4) => (x === null || x === undefined ? 'n/a' : x.toFixed(digits));

export async function runTrainCommand(argv: string[], ctx: TrainCommandContext): Promise<number> {
  let flags;
  try {
    flags = parseFlags(argv, spec);
    if (flags.help) {
      ctx.print(TRAIN_USAGE);
      return 0;
    }
    if (flags._.length) throw new UsageError(`unexpected argument "${flags._[0]}"`);
    if (typeof flags.backbone !== 'string') throw new UsageError('--backbone is required');
    if (flags.optimizer !== undefined && flags.optimizer !== 'adam' && flags.optimizer !== 'rmsprop') throw new UsageError('--optimizer must be adam or rmsprop');
    if (flags.features !== undefined && !FEATURE_CHOICES.includes(flags.features as FeatureChoice)) throw new UsageError('--features must be last, mid, both or taps');
    numberInRange(flags.epochs, 'epochs', 1, 10_000);
    numberInRange(flags.batch, 'batch', 2, 65_536);
    numberInRange(flags.lr, 'lr', 0, 10, false);
    numberInRange(flags.units, 'units', 1, 65_536);
    numberInRange(flags.dropout, 'dropout', 0, 0.99);
    numberInRange(flags.ensemble, 'ensemble', 1, 32);
    if (flags.ensemble !== undefined && flags.unfreeze !== undefined && flags.unfreeze !== '0') throw new UsageError('--ensemble trains heads on frozen features; it does not combine with --unfreeze');
    if (flags.mirror === true && flags.unfreeze !== undefined && flags.unfreeze !== '0') throw new UsageError('--mirror is offered for frozen heads; a fine-tuned network is scored one pass per image');
    if (flags.unfreeze !== undefined && flags.unfreeze !== 'all' && !/^\d+$/.test(flags.unfreeze as string)) throw new UsageError('--unfreeze takes "all" or a whole number of blocks');
    numberInRange(flags['backbone-lr'], 'backbone-lr', 0, 10, false);
    numberInRange(flags['weight-decay'], 'weight-decay', 0, 1);
    numberInRange(flags.limit, 'limit', 2, 10_000_000);
    numberInRange(flags.threads, 'threads', 1, 1024);
    if (flags.provider !== undefined && !isProviderPreference(flags.provider as string)) throw new UsageError(unknownProviderMessage(flags.provider as string));
    for (const v of (flags['leave-one-out'] as string[] | undefined) ?? []) {
      if (v !== 'generator' && v !== 'modality') throw new UsageError('--leave-one-out takes generator and/or modality');
    }
  } catch (e) {
    if (e instanceof UsageError || e instanceof TrainingError) {
      ctx.printError(ctx.json ? { error: { code: 'USAGE', message: e.message } } : `${e.message}\n\n${TRAIN_USAGE}`);
      return 2;
    }
    throw e;
  }
  const json = ctx.json || flags.json === true;
  const datasetDir = path.resolve((flags.dataset as string | undefined) ?? path.join(ctx.dataDir, 'dataset'));
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once('SIGINT', onSigint);
  let lastFeatureLine = 0;
  const onFineTuneProgress = (p: FineTuneProgress) => {
    if (json) {
      if (p.kind !== 'batch') ctx.print({ progress: p });
      return;
    }
    if (p.kind === 'stage') ctx.print(`[${p.stage}] ${p.message}`);
    else if (p.kind === 'batch') {
      if (p.batch === p.batches || p.batch % 10 === 0) ctx.print(`  epoch ${p.epoch} batch ${p.batch}/${p.batches} loss ${fmt(p.loss)}`);
    } else if (p.kind === 'epoch') ctx.print(`  epoch ${p.epoch}/${p.epochs} loss ${fmt(p.loss)} val_loss ${fmt(p.valLoss)} lr ${p.learningRate.toExponential(1)} ${p.seconds.toFixed(1)} s`);
  };
  const onProgress = (p: TrainDetectorProgress) => {
    if (json) {
      if (p.kind !== 'batch') ctx.print({ progress: p });
      return;
    }
    if (p.kind === 'stage') ctx.print(`[${p.stage}] ${p.message}`);
    else if (p.kind === 'features') {
      const now = Date.now();
      if (p.done === p.total || now - lastFeatureLine > 5000) {
        lastFeatureLine = now;
        ctx.print(`  features ${p.view}: ${p.done}/${p.total} (${p.cached} cached)`);
      }
    } else if (p.kind === 'epoch') {
      ctx.print(
        `  epoch ${p.epoch}/${p.epochs} loss ${fmt(p.loss)} val_loss ${fmt(p.valLoss)} acc ${fmt(p.accuracy, 3)} val_acc ${fmt(p.valAccuracy, 3)} lr ${p.learningRate.toExponential(1)}${p.improved ? ' *' : ''}`,
      );
    } else if (p.kind === 'fold') ctx.print(`  leave-one-${p.by}-out ${p.index + 1}/${p.total} ${p.heldOut}: ROC-AUC ${fmt(p.rocAuc, 3)}`);
  };
  try {
    // The head recipe and held-out data, the same for head training and fine-tuning.
    const sharedOptions = {
      epochs: flags.epochs as number | undefined,
      batchSize: flags.batch as number | undefined,
      learningRate: flags.lr as number | undefined,
      optimizer: flags.optimizer as 'adam' | 'rmsprop' | undefined,
      hiddenUnits: flags.units as number | undefined,
      dropout: flags.dropout as number | undefined,
      seed: flags.seed as number | undefined,
      excludeModalities: flags['exclude-modality'] as string[] | undefined,
      excludeGenerators: flags['exclude-generator'] as string[] | undefined,
    };
    if (flags.unfreeze !== undefined && flags.unfreeze !== '0') {
      const { fineTuneDetector } = await import('../services/training/onnx-fine-tune');
      const r = await fineTuneDetector(
        {
          datasetDir,
          dataDir: ctx.dataDir,
          backbone: flags.backbone as string,
          unfreeze: flags.unfreeze === 'all' ? 'all' : Number(flags.unfreeze),
          epochs: sharedOptions.epochs,
          batchSize: sharedOptions.batchSize,
          headLearningRate: sharedOptions.learningRate,
          backboneLearningRate: flags['backbone-lr'] as number | undefined,
          weightDecay: flags['weight-decay'] as number | undefined,
          optimizer: sharedOptions.optimizer,
          hiddenUnits: sharedOptions.hiddenUnits,
          dropout: sharedOptions.dropout,
          seed: sharedOptions.seed,
          excludeModalities: sharedOptions.excludeModalities,
          excludeGenerators: sharedOptions.excludeGenerators,
          limit: flags.limit as number | undefined,
          resume: flags.resume === true,
          checkpointDir: flags['checkpoint-dir'] as string | undefined,
          provider: flags.provider as ProviderPreference | undefined,
          intraOpThreads: flags.threads as number | undefined,
          modelId: flags.id as string | undefined,
          register: flags['no-register'] !== true,
        },
        { onProgress: onFineTuneProgress, signal: controller.signal },
      );
      const summary = { unfreeze: flags.unfreeze, ...r.summary };
      ctx.print(json ? { result: summary } : summary);
      return 0;
    }
    const result: TrainDetectorResult = await trainDetector(
      {
        datasetDir,
        dataDir: ctx.dataDir,
        backbone: flags.backbone as string,
        features: flags.features as FeatureChoice | undefined,
        views: flags.augment ? parseViews(flags.augment as string) : undefined,
        ...sharedOptions,
        ensemble: flags.ensemble as number | undefined,
        mirror: flags.mirror === true,
        leaveOneOut: flags['leave-one-out'] as Array<'generator' | 'modality'> | undefined,
        modelId: flags.id as string | undefined,
        createdBy: os.userInfo().username,
        register: flags['no-register'] !== true,
        cacheDir: flags['cache-dir'] as string | undefined,
      },
      { onProgress, signal: controller.signal },
    );
    let activation: Awaited<ReturnType<typeof activateModel>> | undefined;
    if (flags['set-default'] === true && result.model) {
      // The same path as the model lab: explicit, audited, and refused for a weak model unless confirmed.
      const store = CaseStore.open(ctx.dataDir);
      try {
        activation = await activateModel({ dataDir: ctx.dataDir, store, actor: os.userInfo().username }, { id: result.modelId, confirmWeak: flags['confirm-weak'] === true });
      } finally {
        store.close();
      }
    }
    const t = result.test.metrics;
    const summary = {
      ...(activation ? { activated: activation } : {}),
      modelId: result.model ? result.modelId : null,
      registered: result.model !== undefined,
      threshold: result.threshold.threshold,
      thresholdChosenOn: 'val',
      bestEpoch: result.training.bestEpoch,
      headSeconds: Number(result.training.seconds.toFixed(2)),
      test: { precision: t.precision, recall: t.recall, f1: t.f1, accuracy: t.accuracy, ap: t.ap, rocAuc: t.rocAuc, fpr: t.fpr, fnr: t.fnr, confusion: t.confusion },
      leaveOneOut: Object.fromEntries(
        Object.entries(result.leaveOneOut).map(([by, s]) => [by, { mean: s?.mean, min: s?.min, folds: s?.folds.map((f) => ({ heldOut: f.heldOut, rocAuc: f.rocAuc })) }]),
      ),
      fusedMaxDiff: result.fusedMaxDiff,
    };
    if (json) ctx.print({ result: summary });
    else {
      ctx.print(`\nModel ${summary.modelId ?? '(not registered)'}; threshold ${fmt(summary.threshold)} chosen on validation; best epoch ${summary.bestEpoch}; head ${summary.headSeconds} s`);
      ctx.print(`Test: ROC-AUC ${fmt(t.rocAuc)} AP ${fmt(t.ap)} accuracy ${fmt(t.accuracy)} precision ${fmt(t.precision)} recall ${fmt(t.recall)} F1 ${fmt(t.f1)} FPR ${fmt(t.fpr)} FNR ${fmt(t.fnr)}`);
      for (const [by, s] of Object.entries(summary.leaveOneOut)) ctx.print(`Leave-one-${by}-out ROC-AUC: mean ${fmt(s.mean, 3)}, min ${fmt(s.min, 3)}`);
    }
    return 0;
  } catch (e) {
    if (e instanceof TrainingError || e instanceof ModelRegistryError || e instanceof ModelLabError) {
      ctx.printError(json ? { error: { code: e.code, message: e.message } } : `${e.code}: ${e.message}`);
      return e instanceof TrainingError && e.code === 'CANCELLED' ? 130 : 1;
    }
    throw e;
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}
