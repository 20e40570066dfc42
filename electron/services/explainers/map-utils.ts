// Small numeric helpers shared by the explainers: resizing, normalising and ranking 2-D maps.
import { ExplainError } from './explain-errors';
import { pearsonCorrelation } from '../common/pearson';

/** Bilinear resize with half-pixel centres (what torch's interpolate(align_corners=False) and cv2 do). */
export function resizeBilinear(src: ArrayLike<number>, h: number, w: number, outH: number, outW: number): Float32Array {
  const out = new Float32Array(outH * outW);
  const sy = h / outH;
  const sx = w / outW;
  const x0s = new Int32Array(outW);
  const x1s = new Int32Array(outW);
  const fxs = new Float32Array(outW);
  for (let x = 0; x < outW; x++) {
    let fx = (x + 0.5) * sx - 0.5;
    if (fx < 0) fx = 0;
    const x0 = Math.min(Math.floor(fx), w - 1);
    x0s[x] = x0;
    x1s[x] = Math.min(x0 + 1, w - 1);
    fxs[x] = fx - x0;
  }
  for (let y = 0; y < outH; y++) {
    let fy = (y + 0.5) * sy - 0.5;
    if (fy < 0) fy = 0;
    const y0 = Math.min(Math.floor(fy), h - 1);
    const y1 = Math.min(y0 + 1, h - 1);
    const wy = fy - y0;
    const r0 = y0 * w;
    const r1 = y1 * w;
    const o = y * outW;
    for (let x = 0; x < outW; x++) {
      const a = src[r0 + x0s[x]] + (src[r0 + x1s[x]] - src[r0 + x0s[x]]) * fxs[x];
      const b = src[r1 + x0s[x]] + (src[r1 + x1s[x]] - src[r1 + x0s[x]]) * fxs[x];
      out[o + x] = a + (b - a) * wy;
    }
  }
  return out;
}

/** Min-max scaling to [0,1] as pytorch-grad-cam's scale_cam_image; a constant map becomes all zeros. */
export function normaliseMap(map: ArrayLike<number>): { values: Float32Array; flat: boolean } {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < map.length; i++) {
    const v = map[i];
    if (!Number.isFinite(v)) throw new ExplainError('EXPLAIN_NOT_FINITE', 'The explanation map holds a non-finite value (the model produced NaN or infinity)');
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const values = new Float32Array(map.length);
  const range = max - min;
  if (!(range > 1e-12 * Math.max(1, Math.abs(max)))) return { values, flat: true };
  for (let i = 0; i < map.length; i++) values[i] = (map[i] - min) / range;
  return { values, flat: false };
}

export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/** Centre of map cell (row, col) in original-image pixels; preprocessing stretches, so each axis scales alone. */
export function cellToImage(row: number, col: number, mapH: number, mapW: number, imageW: number, imageH: number): { x: number; y: number } {
  return {
    x: Math.min(imageW - 1, Math.floor(((col + 0.5) / mapW) * imageW)),
    y: Math.min(imageH - 1, Math.floor(((row + 0.5) / mapH) * imageH)),
  };
}

/** Average ranks (ties share the mean rank), the basis of Spearman's rho. */
export function ranks(values: ArrayLike<number>): Float64Array {
  const n = values.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => values[a] - values[b]);
  const r = new Float64Array(n);
  let i = 0;
  while (i < n) {
    let j = i;
    while (j + 1 < n && values[order[j + 1]] === values[order[i]]) j++;
    const mean = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) r[order[k]] = mean;
    i = j + 1;
  }
  return r;
}

/** Spearman rank correlation; 0 when either side is constant (no ranking to agree with). */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError('spearman: lengths differ');
  return pearsonCorrelation(ranks(a), ranks(b));
}
