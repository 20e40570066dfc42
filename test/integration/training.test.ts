// End to end on a tiny real subset of ../shared/datasets: dataset → cached MobileNetV2 features →
// the paper's head → threshold on validation → fused ONNX → registered model → evaluation.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findRepoRoot } from '../../electron/services/app/app-info';
import { buildDataset } from '../../electron/services/dataset/build-dataset';
import { selectThreshold } from '../../electron/services/evaluation/metrics';
import { generatorBalancedWeights } from '../../electron/services/evaluation/sample-weights';
import { ModelRegistry } from '../../electron/services/engine/model-registry';
import { layersFor, resolveBackbone } from '../../electron/services/training/backbone-specs';
import { loadDataset, splitWithHoldOut } from '../../electron/services/training/dataset-items';
import { buildFeatureTable, gatherRows } from '../../electron/services/training/feature-table';
import { releaseFeatureSessions } from '../../electron/services/training/feature-cache';
import { scoreWithHead } from '../../electron/services/training/head-trainer';
import { evaluateModel } from '../../electron/services/training/evaluate-model';
import { trainDetector, type TrainDetectorProgress, type TrainDetectorResult } from '../../electron/services/training/train-detector';
import { runTrainCommand } from '../../electron/cli/train-command';
import { runEvaluateCommand } from '../../electron/cli/evaluate-command';

const repoRoot = findRepoRoot();
const sources = path.resolve(repoRoot, '../shared/datasets');
const backbonesBuilt = fs.existsSync(path.join(repoRoot, 'models/backbones/manifest.json'));

describe.skipIf(!backbonesBuilt || !fs.existsSync(sources))('training end to end on a tiny real subset', () => {
  let tmp: string;
  let datasetDir: string;
  let dataDir: string;
  let result: TrainDetectorResult;
  const events: TrainDetectorProgress[] = [];

  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'training-e2e-'));
    datasetDir = path.join(tmp, 'dataset');
    dataDir = path.join(tmp, 'data');
    await buildDataset({ sourcesDir: sources, outDir: datasetDir, seed: 7, limitPerGenerator: 1, limitReal: 24 });
    result = await trainDetector(
      { datasetDir, dataDir, backbone: 'mobilenet_v2', epochs: 5, batchSize: 16, learningRate: 3e-3, modelId: 'tiny-test-model', seed: 2 },
      { onProgress: (p) => events.push(p) },
    );
  });

  afterAll(async () => {
    await releaseFeatureSessions();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('reports progress: feature extraction, every batch and every epoch with loss, val loss, accuracy and learning rate', () => {
    expect(events.some((e) => e.kind === 'features')).toBe(true);
    const epochs = events.filter((e) => e.kind === 'epoch');
    expect(epochs.map((e) => (e as { epoch: number }).epoch)).toEqual([1, 2, 3, 4, 5]);
    for (const e of epochs as Array<{ loss: number; valLoss: number; accuracy: number; learningRate: number }>) {
      expect(Number.isFinite(e.loss) && Number.isFinite(e.valLoss) && e.accuracy >= 0 && e.learningRate > 0).toBe(true);
    }
    expect(events.filter((e) => e.kind === 'batch').length).toBeGreaterThanOrEqual(5);
  });

  it('lowers the training loss and keeps the checkpoint with the best validation loss', () => {
    const h = result.training.history;
    expect(h.at(-1)!.loss).toBeLessThan(h[0].loss);
    const best = h.reduce((a, b) => (b.valLoss < a.valLoss ? b : a));
    expect(result.training.bestEpoch).toBe(best.epoch);
  });

  it('chooses the threshold on the validation split, from the exported head\'s validation scores', async () => {
    const dataset = loadDataset(datasetDir);
    const split = splitWithHoldOut(dataset.items);
    const backbone = resolveBackbone('mobilenet_v2');
    const table = await buildFeatureTable(dataset.items, { backbone, layers: layersFor('last', backbone), views: ['plain'], cacheDir: path.join(dataDir, 'cache', 'features') });
    // Everything came from the cache written during training.
    expect(table.extraction.computed).toBe(0);
    const valScores = scoreWithHead(result.head, gatherRows(table, split.val, 'plain'));
    const fromVal = selectThreshold(split.val.map((i) => i.label), valScores, { weights: generatorBalancedWeights(split.val) });
    expect(result.card.threshold).toBeCloseTo(fromVal.threshold, 10);
    expect((result.card as unknown as { thresholdSelection: { chosenOn: string } }).thresholdSelection.chosenOn).toBe('val');
  });

  it('registers a fused detector whose card carries backbone, head, data summary, metrics, threshold and sha256', async () => {
    expect(result.fusedMaxDiff).toBeLessThanOrEqual(1e-3);
    const registry = new ModelRegistry({ dataDir, repoRoot });
    const model = await registry.resolve('tiny-test-model');
    const card = model.card as any;
    expect(card.backbone.name).toBe('mobilenet_v2');
    expect(card.backbone.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(card.head.inputDim).toBe(1280);
    expect(card.head.hiddenUnits).toBe(256);
    expect(card.trainingData.summary).toMatch(/real/);
    expect(card.metrics.test.rocAuc).toBeGreaterThanOrEqual(0);
    expect(card.metrics.testPerGenerator.length).toBeGreaterThan(1);
    expect(card.threshold).toBeGreaterThan(0);
    expect(card.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(fs.existsSync(path.join(path.dirname(model.cardPath), 'head-weights.json'))).toBe(true);
  });

  it('evaluates the registered model through its ONNX file: eight metrics, groups and curve images', async () => {
    const e = await evaluateModel({ dataDir, datasetDir, modelId: 'tiny-test-model' });
    const testCount = loadDataset(datasetDir).items.filter((i) => i.split === 'test').length;
    expect(e.evaluation.metrics.n).toBe(testCount);
    for (const k of ['precision', 'recall', 'f1', 'accuracy', 'ap', 'rocAuc', 'fpr', 'fnr'] as const) {
      const v = e.evaluation.metrics[k];
      expect(v === null || (v >= 0 && v <= 1)).toBe(true);
    }
    // The fused file and the head on cached features give the same test ROC-AUC.
    expect(e.evaluation.metrics.rocAuc).toBeCloseTo(result.test.metrics.rocAuc as number, 2);
    expect(e.threshold).toBe(result.card.threshold);
    expect(e.evaluation.perModality.some((r) => r.groupClass === 'real')).toBe(true);
    for (const f of [e.curves.roc, e.curves.pr]) expect(fs.readFileSync(f).subarray(1, 4).toString()).toBe('PNG');
  });

  it('runs through the CLI commands and reports usage and typed errors', async () => {
    const out: unknown[] = [];
    const errs: unknown[] = [];
    const ctx = { dataDir, json: true, print: (o: unknown) => out.push(o), printError: (o: unknown) => errs.push(o) };
    expect(await runEvaluateCommand(['--model', 'tiny-test-model', '--dataset', datasetDir], ctx)).toBe(0);
    expect((out.at(-1) as { result: { model: { id: string } } }).result.model.id).toBe('tiny-test-model');
    expect(await runTrainCommand(['--dataset', datasetDir], ctx)).toBe(2);
    expect(await runTrainCommand(['--backbone', 'mobilenet_v2', '--dataset', datasetDir, '--ensemble', '0'], ctx)).toBe(2);
    expect(await runTrainCommand(['--backbone', 'mobilenet_v2', '--dataset', datasetDir, '--ensemble', '2', '--unfreeze', 'all'], ctx)).toBe(2);
    expect(JSON.stringify(errs.at(-1))).toContain('does not combine with --unfreeze');
    // Mirrored scoring is for frozen heads: the fine-tuned network's threshold is a single-pass one.
    expect(await runTrainCommand(['--backbone', 'mobilenet_v2', '--dataset', datasetDir, '--mirror', '--unfreeze', '1'], ctx)).toBe(2);
    expect(JSON.stringify(errs.at(-1))).toContain('--mirror is offered for frozen heads');
    // The training job refuses the same combination before any work starts.
    const { jobTasks } = await import('../../electron/services/jobs/job-tasks');
    await expect(
      jobTasks['training.run']({ kind: 'training.run', dataDir, datasetDir, backbone: 'mobilenet_v2', actor: 'test', unfreeze: 'all', ensemble: 2 }, { signal: new AbortController().signal, progress: () => {} }),
    ).rejects.toThrow('does not combine with fine-tuning');
    expect(await runTrainCommand(['--backbone', 'no_such_net', '--dataset', datasetDir], ctx)).toBe(1);
    expect(JSON.stringify(errs.at(-1))).toContain('BACKBONE_NOT_FOUND');
    expect(await runEvaluateCommand(['--model', 'missing-model', '--dataset', datasetDir], ctx)).toBe(1);
    expect(JSON.stringify(errs.at(-1))).toContain('MODEL_NOT_FOUND');
  });

  it('exports a head on the earlier layer (what the default uses): the detector pools block_12_add and exposes it as features', async () => {
    const r = await trainDetector({ datasetDir, dataDir, backbone: 'mobilenet_v2', features: 'mid', epochs: 2, batchSize: 16, modelId: 'tiny-mid-model' });
    expect(r.fusedMaxDiff).toBeLessThanOrEqual(1e-3);
    expect(r.head.inputDim).toBe(96);
    const card = r.model!.card as unknown as { backbone: { featureLayer: string; featureShape: number[] } };
    expect(card.backbone.featureLayer).toBe('block_12_add');
    expect(card.backbone.featureShape).toEqual([14, 14, 96]);
  });

  it('exports a "taps" head (pooled maps of six depths): the fused detector scores as the head did, and the explainers rebuild its score from the feature map plus head_context', async () => {
    // Two heads averaged, as the shipped default is trained: exported as one head of 2 × 256 units.
    const r = await trainDetector({ datasetDir, dataDir, backbone: 'mobilenet_v2', features: 'taps', epochs: 2, batchSize: 16, ensemble: 2, modelId: 'tiny-taps-model' });
    expect(r.fusedMaxDiff).toBeLessThanOrEqual(1e-3);
    expect(r.head.dense1.units).toBe(512);
    expect((r.card.head as { ensemble?: { heads: number } }).ensemble?.heads).toBe(2);
    // block_2 (24 ch), block_5 (32), block_8 (64) and block_15 (160) as mean+std; block_12 (96) and out_relu (1280) as means.
    expect(r.head.inputDim).toBe(2 * 24 + 2 * 32 + 2 * 64 + 96 + 2 * 160 + 1280);
    const card = r.model!.card.backbone;
    expect(card.featureLayer).toBe('out_relu');
    expect(card.featureShape).toEqual([7, 7, 1280]);
    expect(card.featureLayers?.map((l) => `${l.output}:${l.pooling}`)).toEqual(['block_2_add:mean-std', 'block_5_add:mean-std', 'block_8_add:mean-std', 'block_12_add:mean', 'block_15_add:mean-std', 'out_relu:mean']);

    const { openRegisteredModel } = await import('../../electron/services/explainers/registered-model');
    const { prepareExplainInput } = await import('../../electron/services/explainers/explain-input');
    const { createExplainer } = await import('../../electron/services/explainers/explain-image');
    const { globalAveragePool, headForward } = await import('../../electron/services/explainers/head-math');
    const opened = await openRegisteredModel({ dataDir, modelId: 'tiny-taps-model', repoRoot });
    try {
      const model = opened.model;
      // Gradients at a shallower layer would miss the paths through the other taps: none is offered.
      expect(model.shallowLayers).toEqual([]);
      expect(model.head.dense1.kernel.length).toBe(1280 * model.head.dense1.units);
      const item = loadDataset(datasetDir).items.find((i) => i.split === 'test') as { file: string };
      const input = await prepareExplainInput(item.file, { inputSize: model.inputSize, normalisation: opened.normalisation });
      const pred = await model.predict(input.tensor, 1);
      expect(pred.headContext).toHaveLength(model.head.dense1.units);
      const rebuilt = headForward(model.head, globalAveragePool({ height: 7, width: 7, channels: 1280, data: pred.features }), pred.headContext).pSynthetic;
      expect(Math.abs(rebuilt - pred.pSynthetic[0])).toBeLessThanOrEqual(1e-5);
      const target = { class: pred.pSynthetic[0] >= 0.5 ? ('synthetic' as const) : ('real' as const) };
      const flat: boolean[] = [];
      for (const method of ['gradcam', 'ablationcam'] as const) {
        const map = await createExplainer(method, model).explain(input, target);
        expect(map.map.height).toBe(7);
        expect(Math.abs(map.pSynthetic - pred.pSynthetic[0])).toBeLessThanOrEqual(1e-6);
        flat.push(map.flat);
      }
      expect(flat).toContain(false);
    } finally {
      await opened.model.dispose();
    }
  });

  it('stops when cancelled', async () => {
    const controller = new AbortController();
    const run = trainDetector(
      { datasetDir, dataDir, backbone: 'mobilenet_v2', epochs: 50, batchSize: 8, register: false },
      { signal: controller.signal, onProgress: (p) => p.kind === 'epoch' && controller.abort() },
    );
    await expect(run).rejects.toMatchObject({ code: 'CANCELLED' });
  });

  it('--unfreeze 1 fine-tunes the last backbone block (and only it) on a few images, converts it to ONNX and registers it', async () => {
    const { fineTuneDetector } = await import('../../electron/services/training/onnx-fine-tune');
    const r = await fineTuneDetector({ datasetDir, dataDir, backbone: 'mobilenet_v2', unfreeze: 1, epochs: 1, batchSize: 4, limit: 4, modelId: 'tiny-unfreeze' });
    const s = r.summary as { trainedLayers: string[]; maxBackboneWeightChange: number; maxFrozenWeightChange: number; history: Array<{ loss: number }>; fusedMaxDiff: number };
    expect(s.trainedLayers).toEqual(['Conv_1', 'Conv_1_bn', 'out_relu']);
    expect(s.maxBackboneWeightChange).toBeGreaterThan(0);
    expect(s.maxFrozenWeightChange).toBe(0);
    expect(s.history).toHaveLength(1);
    expect(Number.isFinite(s.history[0].loss)).toBe(true);
    // The converted fine-tuned detector scores as the training graph did.
    expect(s.fusedMaxDiff).toBeLessThanOrEqual(1e-3);
    const model = await new ModelRegistry({ dataDir, repoRoot }).resolve('tiny-unfreeze');
    expect((model.card.backbone as { fineTunedBlocks?: number }).fineTunedBlocks).toBe(1);
  });
});
