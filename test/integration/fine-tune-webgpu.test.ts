// Fine-tuning on a GPU provider for real, on a machine without a GPU: Debian's Chromium ships
// SwiftShader (Vulkan on the CPU), which gives onnxruntime's WebGPU provider an adapter (as in
// analyze-webgpu.test.ts). The same `npm run train -- --unfreeze 2` runs once on webgpu, with the
// plain training graph (the NCHWc operators are the CPU's), and once on the CPU with the NCHWc graph;
// both report their provider and train to the same losses. SwiftShader is slow, so the run is tiny.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findRepoRoot } from '../../electron/services/app/app-info';
import { buildDataset } from '../../electron/services/dataset/build-dataset';
import { runTrainCli } from '../support/train-cli';

const repoRoot = findRepoRoot();
const sources = path.resolve(repoRoot, '../shared/datasets');
const backbonesBuilt = fs.existsSync(path.join(repoRoot, 'models/backbones/manifest.json'));
const chromiumLibs = process.env.CHROMIUM_LIB_DIR ?? '/usr/lib/chromium';
const swiftShaderIcd = path.join(chromiumLibs, 'vk_swiftshader_icd.json');

describe.skipIf(!backbonesBuilt || !fs.existsSync(sources) || !fs.existsSync(swiftShaderIcd))('fine-tuning on the webgpu provider (SwiftShader)', () => {
  let tmp: string;
  let datasetDir: string;

  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fine-tune-webgpu-'));
    datasetDir = path.join(tmp, 'dataset');
    await buildDataset({ sourcesDir: sources, outDir: datasetDir, seed: 7, limitPerGenerator: 1, limitReal: 24 });
  }, 300_000);

  afterAll(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('trains the last two blocks on webgpu to the CPU run’s losses, and says which provider trained', async () => {
    const run = (provider: 'cpu' | 'webgpu') => {
      const env = { ...process.env };
      if (provider === 'webgpu') {
        env.LD_LIBRARY_PATH = [chromiumLibs, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':');
        env.VK_ICD_FILENAMES = swiftShaderIcd;
      }
      const args = ['--backbone', 'mobilenet_v2', '--unfreeze', '2', '--epochs', '1', '--batch', '4', '--limit', '4', '--units', '16', '--dataset', datasetDir, '--no-register', '--provider', provider, '--json'];
      return runTrainCli(repoRoot, [...args, '--data-dir', path.join(tmp, `data-${provider}`), '--checkpoint-dir', path.join(tmp, `ckpt-${provider}`)], undefined, env);
    };
    const gpu = await run('webgpu');
    const cpu = await run('cpu');
    const result = (r: typeof gpu) => JSON.parse(r.lines.find((l) => l.startsWith('{"result"'))!).result as { provider: string; providerNote?: string; history: Array<{ loss: number; valLoss: number }> };
    const g = result(gpu);
    const c = result(cpu);
    // The provider asked for trained: no silent fallback to the CPU.
    expect(g.provider, g.providerNote).toBe('webgpu');
    expect(gpu.lines.some((l) => l.includes('training on webgpu'))).toBe(true);
    expect(c.provider).toBe('cpu');
    // Same data, seeds, flips and dropout masks: the same losses, to float rounding.
    expect(g.history).toHaveLength(1);
    for (const key of ['loss', 'valLoss'] as const) expect(Math.abs(g.history[0][key] - c.history[0][key]), key).toBeLessThanOrEqual(1e-3 * Math.max(1, c.history[0][key]));
  }, 900_000);
});
