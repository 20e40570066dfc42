// The experiment input filters (residual: x − its 3×3 mean; down-up: block means resized back):
// onnxruntime's result against the same arithmetic in JS, on an identity "backbone" so the prefix is
// all there is.
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { withDownUpInput, withResidualInput } from '../../electron/services/onnx-graphs';
import { ConversionError } from '../../electron/services/onnx-graphs/conversion-error';
import { encodeModel, makeModel, valueInfo } from '../../electron/services/onnx-graphs/onnx-proto';

const H = 5;
const W = 6;
const identityOf = (h: number, w: number) =>
  encodeModel(makeModel({ name: 'id', node: [{ input: ['image'], output: ['out'], opType: 'Identity' }], initializer: [], input: [valueInfo('image', ['N', h, w, 3])], output: [valueInfo('out', ['N', h, w, 3])] }, {}));
const identity = identityOf(H, W);

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

/** Means of f×f blocks, then bilinear ×f with half-pixel centres and clamped edges, NHWC. */
function downUpReference(x: Float32Array, n: number, h: number, w: number, f: number): Float32Array {
  const hs = h / f;
  const ws = w / f;
  const small = new Float32Array(n * hs * ws * 3);
  for (let b = 0; b < n; b++)
    for (let y = 0; y < hs; y++)
      for (let xx = 0; xx < ws; xx++)
        for (let c = 0; c < 3; c++) {
          let sum = 0;
          for (let dy = 0; dy < f; dy++) for (let dx = 0; dx < f; dx++) sum += x[((b * h + y * f + dy) * w + xx * f + dx) * 3 + c];
          small[((b * hs + y) * ws + xx) * 3 + c] = sum / (f * f);
        }
  const taps = (o: number, size: number): [number, number, number] => {
    const src = Math.min(size - 1, Math.max(0, (o + 0.5) / f - 0.5));
    const i0 = Math.floor(src);
    return [i0, Math.min(size - 1, i0 + 1), src - i0];
  };
  const out = new Float32Array(x.length);
  for (let b = 0; b < n; b++)
    for (let y = 0; y < h; y++)
      for (let xx = 0; xx < w; xx++) {
        const [y0, y1, ty] = taps(y, hs);
        const [x0, x1, tx] = taps(xx, ws);
        for (let c = 0; c < 3; c++) {
          const v = (yy: number, xv: number) => small[((b * hs + yy) * ws + xv) * 3 + c];
          const top = v(y0, x0) * (1 - tx) + v(y0, x1) * tx;
          const bottom = v(y1, x0) * (1 - tx) + v(y1, x1) * tx;
          out[((b * h + y) * w + xx) * 3 + c] = top * (1 - ty) + bottom * ty;
        }
      }
  return out;
}

describe('down-up input', () => {
  it('feeds the model the 2×2 block means resized back bilinearly', async () => {
    const n = 2;
    const h = 4;
    const w = 6;
    const x = Float32Array.from({ length: n * h * w * 3 }, (_, i) => ((i * 7919) % 101) / 100);
    const session = await ort.InferenceSession.create(withDownUpInput(identityOf(h, w), { factor: 2 }));
    const [input] = session.inputNames;
    const got = (await session.run({ [input]: new ort.Tensor('float32', x, [n, h, w, 3]) })).out.data as Float32Array;
    const want = downUpReference(x, n, h, w, 2);
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i])).toBeLessThan(1e-6);
    expect(got.some((v, i) => Math.abs(v - x[i]) > 0.05)).toBe(true);
    await session.release();
  });

  it('refuses a factor under 2 or not an integer', () => {
    expect(() => withDownUpInput(identity, { factor: 1 })).toThrow(ConversionError);
    expect(() => withDownUpInput(identity, { factor: 2.5 })).toThrow(ConversionError);
  });
});
