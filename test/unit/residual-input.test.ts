// The residual-input prefix (an experiment backbone that reads x − its 3×3 mean): onnxruntime's
// result against the same arithmetic in JS, on an identity "backbone" so the prefix is all there is.
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { withResidualInput } from '../../electron/services/onnx-graphs';
import { ConversionError } from '../../electron/services/onnx-graphs/conversion-error';
import { encodeModel, makeModel, valueInfo } from '../../electron/services/onnx-graphs/onnx-proto';

const H = 5;
const W = 6;
const identity = encodeModel(
  makeModel({ name: 'id', node: [{ input: ['image'], output: ['out'], opType: 'Identity' }], initializer: [], input: [valueInfo('image', ['N', H, W, 3])], output: [valueInfo('out', ['N', H, W, 3])] }, {}),
);

/** clip(gain · (x − mean of the 3×3 box inside the image) + mid, lo, hi), NHWC. */
function reference(x: Float32Array, n: number, gain: number, [lo, hi]: [number, number]): Float32Array {
  const out = new Float32Array(x.length);
  const at = (b: number, y: number, xx: number, c: number) => ((b * H + y) * W + xx) * 3 + c;
  for (let b = 0; b < n; b++)
    for (let y = 0; y < H; y++)
      for (let xx = 0; xx < W; xx++)
        for (let c = 0; c < 3; c++) {
          let sum = 0;
          let count = 0;
          for (let dy = -1; dy <= 1; dy++)
            for (let dx = -1; dx <= 1; dx++) {
              if (y + dy < 0 || y + dy >= H || xx + dx < 0 || xx + dx >= W) continue;
              sum += x[at(b, y + dy, xx + dx, c)];
              count++;
            }
          const v = gain * (x[at(b, y, xx, c)] - sum / count) + (lo + hi) / 2;
          out[at(b, y, xx, c)] = Math.min(hi, Math.max(lo, v));
        }
  return out;
}

describe('residual input', () => {
  it('feeds the model gain · (x − its 3×3 mean), centred and clipped to the input range', async () => {
    const n = 2;
    const x = Float32Array.from({ length: n * H * W * 3 }, (_, i) => ((i * 7919) % 101) / 100);
    const session = await ort.InferenceSession.create(withResidualInput(identity, { gain: 3, range: [0, 1] }));
    const [input] = session.inputNames;
    const got = (await session.run({ [input]: new ort.Tensor('float32', x, [n, H, W, 3]) })).out.data as Float32Array;
    const want = reference(x, n, 3, [0, 1]);
    const clipped = want.filter((v) => v === 0 || v === 1).length;
    expect(clipped).toBeGreaterThan(0);
    expect(clipped).toBeLessThan(want.length);
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i])).toBeLessThan(1e-6);
    await session.release();
  });

  it('refuses an even box and an empty range', () => {
    expect(() => withResidualInput(identity, { gain: 3, box: 4, range: [0, 1] })).toThrow(ConversionError);
    expect(() => withResidualInput(identity, { gain: 3, range: [1, 1] })).toThrow(ConversionError);
  });
});
