// Fine-tuning MobileNetV2 in onnxruntime on a tiny real subset: a run SIGKILLed after its first
// epoch checkpoint and resumed with --resume ends with exactly the weights of an uninterrupted run;
// the exported detector is the fused ONNX file with a model card that records the fine-tuning.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findRepoRoot } from '../../electron/services/app/app-info';
import { buildDataset } from '../../electron/services/dataset/build-dataset';
import { ModelRegistry } from '../../electron/services/engine/model-registry';
import { fineTuneDetector, readCheckpoint } from '../../electron/services/training/onnx-fine-tune';
import { runTrainCli } from '../support/train-cli';

const repoRoot = findRepoRoot();
const sources = path.resolve(repoRoot, '../shared/datasets');
const backbonesBuilt = fs.existsSync(path.join(repoRoot, 'models/backbones/manifest.json'));

/** killAfterEpoch SIGKILLs the run once that epoch's checkpoint is reported. */
function train(args: string[], killAfterEpoch?: number) {
  return runTrainCli(repoRoot, args, killAfterEpoch === undefined ? undefined : (line) => line.includes('"kind":"checkpoint"') && line.includes(`"epoch":${killAfterEpoch}`));
}

describe.skipIf(!backbonesBuilt || !fs.existsSync(sources))('fine-tuning MobileNetV2 in onnxruntime', () => {
  let tmp: string;
  let datasetDir: string;

  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fine-tune-onnx-'));
    datasetDir = path.join(tmp, 'dataset');
    await buildDataset({ sourcesDir: sources, outDir: datasetDir, seed: 7, limitPerGenerator: 1, limitReal: 24 });
  }, 300_000);

  afterAll(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('resumes a SIGKILLed run from its checkpoint to the same final weights as an uninterrupted run', async () => {
    // The last two blocks (block_16 and the top 1×1 conv), 3 epochs, one thread so runs are bit-reproducible.
    const common = ['--backbone', 'mobilenet_v2', '--unfreeze', '2', '--epochs', '3', '--batch', '4', '--limit', '8', '--units', '16', '--dataset', datasetDir, '--no-register', '--provider', 'cpu', '--threads', '1', '--json', '--data-dir', path.join(tmp, 'data')];
    const whole = await train([...common, '--checkpoint-dir', path.join(tmp, 'whole')]);
    expect(whole.code).toBe(0);
    const killed = await train([...common, '--checkpoint-dir', path.join(tmp, 'killed')], 1);
    expect(killed.signal).toBe('SIGKILL');
    const afterKill = readCheckpoint(path.join(tmp, 'killed', 'checkpoint.bin'));
    expect(afterKill.header.epoch).toBe(1);
    const resumed = await train([...common, '--checkpoint-dir', path.join(tmp, 'killed'), '--resume']);
    expect(resumed.code).toBe(0);
    expect(resumed.lines.some((l) => l.includes('resuming after epoch 1'))).toBe(true);
    // The resumed run trained epochs 2 and 3 only.
    const resumedEpochs = resumed.lines.filter((l) => l.includes('"kind":"epoch"')).map((l) => JSON.parse(l).progress.epoch);
    expect(resumedEpochs).toEqual([2, 3]);

    const a = readCheckpoint(path.join(tmp, 'whole', 'checkpoint.bin'));
    const b = readCheckpoint(path.join(tmp, 'killed', 'checkpoint.bin'));
    expect(a.header.epoch).toBe(3);
    expect(b.header.epoch).toBe(3);
    expect(b.header.history.map((h) => h.loss)).toEqual(a.header.history.map((h) => h.loss));
    expect([...b.arrays.keys()]).toEqual([...a.arrays.keys()]);
    let trainedBackbone = 0;
    for (const [key, arr] of a.arrays) {
      expect(Buffer.from(b.arrays.get(key)!.buffer).equals(Buffer.from(arr.buffer)), key).toBe(true);
      if (key.startsWith('value:') && !key.includes('head_')) trainedBackbone++;
    }
    // block_16: expand, depthwise and project kernels and their BatchNorms γ, β (9); Conv_1 and Conv_1_bn (3).
    expect(trainedBackbone).toBe(12);
    // A checkpoint of other settings is refused with the reason, and left as it was.
    const before = fs.readFileSync(path.join(tmp, 'whole', 'checkpoint.bin'));
    const otherSettings = common.map((a, i) => (common[i - 1] === '--epochs' ? '4' : a));
    await expect(train([...otherSettings, '--checkpoint-dir', path.join(tmp, 'whole'), '--resume'])).rejects.toThrow(/belongs to a run with other settings or data/);
    expect(fs.readFileSync(path.join(tmp, 'whole', 'checkpoint.bin')).equals(before)).toBe(true);
    const result = JSON.parse(whole.lines.find((l) => l.startsWith('{"result"'))!).result;
    expect(result.unfrozenBlocks).toBe(2);
    expect(result.provider).toBe('cpu');
  }, 900_000);

  it('exports the fine-tuned network as the fused ONNX detector with a card that records the fine-tuning', async () => {
    const dataDir = path.join(tmp, 'data-export');
    const r = await fineTuneDetector({ datasetDir, dataDir, backbone: 'mobilenet_v2', unfreeze: 1, epochs: 1, batchSize: 4, limit: 8, hiddenUnits: 16, provider: 'cpu', modelId: 'ft-test' });
    expect(r.summary.fusedMaxDiff as number).toBeLessThanOrEqual(1e-3);
    const registry = new ModelRegistry({ dataDir, repoRoot });
    const model = (await registry.list()).find((m) => m.id === 'ft-test');
    expect(model).toBeDefined();
    const card = model!.card as Record<string, any>;
    expect(card.fineTuning).toMatchObject({ engine: 'onnxruntime training graph', depth: 1, epochs: 1, headLearningRate: 1e-3, backboneLearningRate: 1e-4, provider: 'cpu' });
    expect(card.fineTuning.seconds).toBeGreaterThan(0);
    // The top block's weights moved, so the fused backbone differs from the shipped one.
    const shipped = JSON.parse(fs.readFileSync(path.join(repoRoot, 'models/backbones/manifest.json'), 'utf8')).backbones.find((b: { name: string }) => b.name === 'mobilenet_v2');
    expect(card.backbone.sha256).not.toBe(shipped.sha256);
  }, 600_000);
});
