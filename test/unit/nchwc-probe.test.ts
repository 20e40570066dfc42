// Reading onnxruntime's CPU NCHWc block size from the probe's output, and the probe on this machine.
import ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { buildNchwcProbeOnnx, NCHWC_PROBE_INPUT, nchwcBlockSizeFromProbe } from '../../electron/services/onnx-graphs';
import { cpuNchwcBlockSize } from '../../electron/services/training/onnx-training';

/** A [1, 64, 1, 2] map of value c·2 + w in the blocked layout of block B. */
function blocked(block: number): Float32Array {
  const out = new Float32Array(128);
  for (let c = 0; c < 64; c++) for (let w = 0; w < 2; w++) out[(Math.floor(c / block) * 2 + w) * block + (c % block)] = c * 2 + w;
  return out;
}

describe('NCHWc probe', () => {
  it('reads the block size from a blocked map, and nothing from one that is not blocked', () => {
    expect(nchwcBlockSizeFromProbe(blocked(8))).toBe(8);
    expect(nchwcBlockSizeFromProbe(blocked(16))).toBe(16);
    // Unchanged NCHW order (no blocked layout), and a blocked map with one value out of place.
    expect(nchwcBlockSizeFromProbe(Float32Array.from({ length: 128 }, (_, i) => i))).toBeUndefined();
    const wrong = blocked(16);
    [wrong[40], wrong[41]] = [wrong[41], wrong[40]];
    expect(nchwcBlockSizeFromProbe(wrong)).toBeUndefined();
  });

  it("runs on this machine's onnxruntime and agrees with the cached answer", async () => {
    const probe = buildNchwcProbeOnnx();
    let direct: number | undefined;
    try {
      const session = await ort.InferenceSession.create(probe.bytes, { executionProviders: ['cpu'] });
      const out = await session.run({ [NCHWC_PROBE_INPUT]: new ort.Tensor('float32', probe.input, probe.dims) });
      direct = nchwcBlockSizeFromProbe(out[probe.output].data as Float32Array);
      await session.release();
    } catch {
      direct = undefined;
    }
    expect(await cpuNchwcBlockSize()).toBe(direct);
    if (direct !== undefined) expect([8, 16]).toContain(direct);
  });
});
