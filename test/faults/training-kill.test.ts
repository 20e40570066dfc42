// kill -9 of fine-tuning at seeded random moments (while compiling, mid-epoch, while a checkpoint is
// being written): the checkpoint on disk is always whole (readable, at a finished epoch, or absent),
// and `--resume` ends with exactly the weights of an uninterrupted run.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findRepoRoot } from '../../electron/services/app/app-info';
import { buildDataset } from '../../electron/services/dataset/build-dataset';
import { readCheckpoint } from '../../electron/services/training/onnx-fine-tune';
import { runTrainCli } from '../support/train-cli';
import { faultLedger, NIGHTLY } from './fault-ledger';

const repoRoot = findRepoRoot();
const sources = path.resolve(repoRoot, '../shared/datasets');
const ledger = faultLedger('kill-9 training');
const KILLS = NIGHTLY ? 6 : 2;
const SEED = Number(process.env.FAULTS_SEED ?? 20261201);

function seeded(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => ((s = (s * 48271) % 2147483647) / 2147483647);
}

describe.skipIf(!fs.existsSync(path.join(repoRoot, 'models/backbones/manifest.json')) || !fs.existsSync(sources))('kill -9 during fine-tuning', () => {
  let tmp: string;
  let common: string[];
  let reference: ReturnType<typeof readCheckpoint>;
  let referenceLines = 0;

  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'faults-train-'));
    const datasetDir = path.join(tmp, 'dataset');
    await buildDataset({ sourcesDir: sources, outDir: datasetDir, seed: 11, limitPerGenerator: 1, limitReal: 16 });
    // The top block only, 2 epochs, one thread so runs are bit-reproducible.
    common = ['--backbone', 'mobilenet_v2', '--unfreeze', '1', '--epochs', '2', '--batch', '4', '--limit', '8', '--units', '16', '--dataset', datasetDir, '--no-register', '--provider', 'cpu', '--threads', '1', '--json', '--data-dir', path.join(tmp, 'data')];
    const whole = await runTrainCli(repoRoot, [...common, '--checkpoint-dir', path.join(tmp, 'whole')]);
    expect(whole.code).toBe(0);
    referenceLines = whole.lines.length;
    reference = readCheckpoint(path.join(tmp, 'whole', 'checkpoint.bin'));
  }, 600_000);

  afterAll(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it(`resumes from ${KILLS} seeded random kills to the uninterrupted run's weights`, async () => {
    const rnd = seeded(SEED);
    for (let k = 0; k < KILLS; k++) {
      // A moment: after a random line of the run's output (lines come at compile, batches, epochs, checkpoints).
      const at = 1 + Math.floor(rnd() * Math.max(1, referenceLines - 2));
      const name = `kill after output line ${at} of ${referenceLines} (seed ${SEED}, #${k})`;
      ledger.tried(name);
      const dir = path.join(tmp, `killed-${k}`);
      const killed = await runTrainCli(repoRoot, [...common, '--checkpoint-dir', dir], (_line, i) => i + 1 === at);
      const file = path.join(dir, 'checkpoint.bin');
      if (killed.signal === 'SIGKILL' && fs.existsSync(file)) {
        // Whole or absent, never half-written: it reads, and sits at a finished epoch.
        const cp = readCheckpoint(file);
        expect(cp.header.epoch, name).toBeGreaterThanOrEqual(1);
        expect(cp.header.epoch, name).toBeLessThanOrEqual(2);
      }
      const resumed = await runTrainCli(repoRoot, [...common, '--checkpoint-dir', dir, '--resume']);
      expect(resumed.code, name).toBe(0);
      const final = readCheckpoint(file);
      expect(final.header.epoch, name).toBe(reference.header.epoch);
      expect([...final.arrays.keys()], name).toEqual([...reference.arrays.keys()]);
      for (const [key, arr] of reference.arrays) expect(Buffer.from(final.arrays.get(key)!.buffer).equals(Buffer.from(arr.buffer)), `${name}: ${key}`).toBe(true);
      ledger.held(name);
    }
  }, 1_200_000);
});
