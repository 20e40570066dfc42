// Execution-provider choice on a real fused detector: what is tried, what is reported, and that a
// session is created once per model and preference.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findBackbone } from '../../electron/services/engine/backbones';
import { getDetectorSession, releaseDetectorSessions } from '../../electron/services/engine/detector-session';
import { listProviderAvailability, planProviders, vulkanLoaderPresent } from '../../electron/services/engine/execution-providers';
import { buildDetectorOnnx } from '../../electron/services/onnx-graphs';

const repoRoot = path.resolve(__dirname, '../..');
let work: string;
let detectorPath: string;

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'analyze-providers-'));
  const backbone = findBackbone(repoRoot, 'mobilenet_v2');
  const dim = backbone.featureShape[2];
  const units = 4;
  // Weights do not matter here: only loading, provider choice and output shapes are checked.
  const head = {
    dense1: { kernel: new Float32Array(dim * units).map((_, i) => Math.sin(i) / 40), bias: new Float32Array(units), units },
    bn: { gamma: new Float32Array(units).fill(1), beta: new Float32Array(units), movingMean: new Float32Array(units), movingVariance: new Float32Array(units).fill(1), epsilon: 1e-3 },
    dense2: { kernel: new Float32Array(units).fill(0.5), bias: new Float32Array(1) },
  };
  detectorPath = path.join(work, 'detector.onnx');
  fs.writeFileSync(detectorPath, buildDetectorOnnx(backbone.path, head));
});

afterAll(async () => {
  await releaseDetectorSessions();
  fs.rmSync(work, { recursive: true, force: true });
});

describe('execution providers', () => {
  it('lists every provider with cpu always usable', () => {
    const list = listProviderAvailability();
    expect(list.map((p) => p.name)).toEqual(['cuda', 'dml', 'coreml', 'webgpu', 'cpu']);
    expect(list.find((p) => p.name === 'cpu')).toMatchObject({ listed: true, bundled: true });
  });

  it('plans cpu last and skips providers of other platforms with a reason', () => {
    expect(planProviders('cpu').order).toEqual(['cpu']);
    const linux = planProviders('auto', 'linux');
    expect(linux.order[linux.order.length - 1]).toBe('cpu');
    expect(linux.order).not.toContain('dml');
    expect(linux.skipped.find((s) => s.name === 'dml')?.reason).toMatch(/Windows/);
    expect(planProviders('coreml', 'linux').skipped[0]).toMatchObject({ name: 'coreml', reason: expect.stringMatching(/macOS/) });
  });

  it('does not try WebGPU on Linux without the Vulkan loader, and says why', () => {
    const plan = planProviders('auto', 'linux');
    const skippedWebgpu = plan.skipped.find((x) => x.name === 'webgpu');
    expect(vulkanLoaderPresent() ? skippedWebgpu : skippedWebgpu?.reason).toEqual(vulkanLoaderPresent() ? undefined : expect.stringContaining('libvulkan.so.1'));
    expect(plan.order.includes('webgpu')).toBe(vulkanLoaderPresent());
  });

  it('falls back to cpu with a stated reason and still runs', async () => {
    const session = await getDetectorSession(detectorPath, { preference: 'coreml' });
    expect(session.provider).toBe(process.platform === 'darwin' ? session.provider : 'cpu');
    if (process.platform !== 'darwin') expect(session.providerNote).toMatch(/^coreml unavailable, using cpu \(coreml: CoreML exists only on macOS\)/);
    expect(session.inputSize).toBe(224);
    expect(session.outputNames).toEqual(expect.arrayContaining(['p_synthetic', 'features']));
    const batch = new Float32Array(2 * 224 * 224 * 3).map((_, i) => (i % 251) / 251);
    const p = await session.predict(batch, 2);
    expect(p).toHaveLength(2);
    for (const v of p) expect(v > 0 && v < 1).toBe(true);
    const outputs = await session.runOutputs(batch, 1);
    expect(outputs.features.dims).toEqual([1, 7, 7, 1280]);
  });

  it('reuses one session per model and preference', async () => {
    const a = await getDetectorSession(detectorPath, { preference: 'cpu' });
    const b = await getDetectorSession(detectorPath, { preference: 'cpu' });
    expect(a).toBe(b);
    expect(a.provider).toBe('cpu');
    expect(a.providerNote).toBeUndefined();
    await expect(getDetectorSession(detectorPath, { preference: 'cpu', expectedSha256: '0'.repeat(64) })).rejects.toMatchObject({ code: 'MODEL_SHA_MISMATCH' });
  });

  it('reports why auto did not pick an accelerator', async () => {
    const s = await getDetectorSession(detectorPath, { preference: 'auto' });
    if (s.provider === 'cpu') {
      // On a machine without GPU libraries every accelerator tried is named with its reason.
      const tried = listProviderAvailability().filter((p) => p.listed && p.name !== 'cpu' && ['cuda', 'webgpu'].includes(p.name));
      for (const p of tried) expect(s.providerNote).toContain(`${p.name}:`);
    } else {
      expect(s.providerNote).toBeUndefined();
    }
  });
});
