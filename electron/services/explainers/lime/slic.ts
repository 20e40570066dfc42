// SLIC superpixels (Achanta et al. 2012) in CIELAB, with the connectivity clean-up of the reference
// implementation: k-means restricted to a 2S×2S window around each centre, then small or detached
// fragments are merged into a neighbour so every label is one connected region.
import { ExplainError } from '../explain-errors';

export interface SlicOptions {
  /** Approximate number of superpixels. */
  segments?: number;
  /** Colour vs. space trade-off (skimage's default is 10 for Lab). */
  compactness?: number;
  iterations?: number;
}

export const SLIC_DEFAULTS = { segments: 64, compactness: 10, iterations: 10 } as const;

export interface Superpixels {
  labels: Int32Array; // per pixel, 0..count-1
  count: number;
}

function srgbToLinearExact(c: number): number {
  return c <= 0.04045 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
}

// 12-bit table: the input came from 8-bit pixels, so this loses nothing that matters for segmenting.
const LINEAR_STEPS = 4096;
let linearTable: Float32Array | undefined;
function srgbToLinear(c: number): number {
  if (!linearTable) {
    linearTable = new Float32Array(LINEAR_STEPS + 1);
    for (let i = 0; i <= LINEAR_STEPS; i++) linearTable[i] = srgbToLinearExact(i / LINEAR_STEPS);
  }
  const i = c <= 0 ? 0 : c >= 1 ? LINEAR_STEPS : Math.round(c * LINEAR_STEPS);
  return linearTable[i];
}

function labF(t: number): number {
  return t > 216 / 24389 ? Math.cbrt(t) : (24389 / 27 * t + 16) / 116;
}

/** sRGB in [0,1] (interleaved) → CIELAB (D65), planar L, a, b. */
export function rgbToLab(rgb01: ArrayLike<number>, pixels: number): Float32Array[] {
  const L = new Float32Array(pixels);
  const A = new Float32Array(pixels);
  const B = new Float32Array(pixels);
  for (let i = 0; i < pixels; i++) {
    const r = srgbToLinear(rgb01[3 * i]);
    const g = srgbToLinear(rgb01[3 * i + 1]);
    const b = srgbToLinear(rgb01[3 * i + 2]);
    const fx = labF((0.4124564 * r + 0.3575761 * g + 0.1804375 * b) / 0.95047);
    const fy = labF(0.2126729 * r + 0.7151522 * g + 0.072175 * b);
    const fz = labF((0.0193339 * r + 0.119192 * g + 0.9503041 * b) / 1.08883);
    L[i] = 116 * fy - 16;
    A[i] = 500 * (fx - fy);
    B[i] = 200 * (fy - fz);
  }
  return [L, A, B];
}

export function slic(rgb01: ArrayLike<number>, width: number, height: number, options: SlicOptions = {}): Superpixels {
  const wanted = options.segments ?? SLIC_DEFAULTS.segments;
  const m = options.compactness ?? SLIC_DEFAULTS.compactness;
  const iterations = options.iterations ?? SLIC_DEFAULTS.iterations;
  const pixels = width * height;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 2 || height < 2 || rgb01.length !== pixels * 3) {
    throw new ExplainError('EXPLAIN_BAD_INPUT', `SLIC needs a ${width}×${height}×3 image`);
  }
  if (!Number.isInteger(wanted) || wanted < 1 || wanted > pixels / 4) throw new ExplainError('EXPLAIN_BAD_PARAMS', `segments must be an integer in 1..${Math.floor(pixels / 4)}, got ${wanted}`);
  if (!(m > 0)) throw new ExplainError('EXPLAIN_BAD_PARAMS', `compactness must be > 0, got ${m}`);
  const [L, A, B] = rgbToLab(rgb01, pixels);
  const step = Math.max(1, Math.round(Math.sqrt(pixels / wanted)));

  // Seeds on a regular grid, each moved to the lowest colour gradient in its 3×3 neighbourhood.
  const cy: number[] = [];
  const cx: number[] = [];
  const gradient = (x: number, y: number) => {
    const i = y * width + x;
    const l = i - 1;
    const r = i + 1;
    const u = i - width;
    const d = i + width;
    const dx = (L[r] - L[l]) ** 2 + (A[r] - A[l]) ** 2 + (B[r] - B[l]) ** 2;
    const dy = (L[d] - L[u]) ** 2 + (A[d] - A[u]) ** 2 + (B[d] - B[u]) ** 2;
    return dx + dy;
  };
  for (let y = Math.floor(step / 2); y < height; y += step) {
    for (let x = Math.floor(step / 2); x < width; x += step) {
      let bx = x;
      let by = y;
      let best = Infinity;
      for (let yy = Math.max(1, y - 1); yy <= Math.min(height - 2, y + 1); yy++) {
        for (let xx = Math.max(1, x - 1); xx <= Math.min(width - 2, x + 1); xx++) {
          const g = gradient(xx, yy);
          if (g < best) {
            best = g;
            bx = xx;
            by = yy;
          }
        }
      }
      cx.push(bx);
      cy.push(by);
    }
  }
  const k = cx.length;
  const cL = new Float64Array(k);
  const cA = new Float64Array(k);
  const cB = new Float64Array(k);
  const cX = new Float64Array(k);
  const cY = new Float64Array(k);
  for (let j = 0; j < k; j++) {
    const i = cy[j] * width + cx[j];
    cL[j] = L[i];
    cA[j] = A[i];
    cB[j] = B[i];
    cX[j] = cx[j];
    cY[j] = cy[j];
  }
  const labels = new Int32Array(pixels).fill(-1);
  const dist = new Float64Array(pixels);
  const spatialWeight = (m / step) ** 2;
  const sums = new Float64Array(k * 6);
  for (let it = 0; it < iterations; it++) {
    dist.fill(Infinity);
    for (let j = 0; j < k; j++) {
      const x0 = Math.max(0, Math.floor(cX[j] - step));
      const x1 = Math.min(width - 1, Math.ceil(cX[j] + step));
      const y0 = Math.max(0, Math.floor(cY[j] - step));
      const y1 = Math.min(height - 1, Math.ceil(cY[j] + step));
      const lj = cL[j];
      const aj = cA[j];
      const bj = cB[j];
      const xj = cX[j];
      const yj = cY[j];
      for (let y = y0; y <= y1; y++) {
        const dyy = y - yj;
        const dy2 = dyy * dyy;
        let i = y * width + x0;
        for (let x = x0; x <= x1; x++, i++) {
          const dl = L[i] - lj;
          const da = A[i] - aj;
          const db = B[i] - bj;
          const dxx = x - xj;
          const d = dl * dl + da * da + db * db + spatialWeight * (dxx * dxx + dy2);
          if (d < dist[i]) {
            dist[i] = d;
            labels[i] = j;
          }
        }
      }
    }
    sums.fill(0);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const i = y * width + x;
        const j = labels[i];
        if (j < 0) continue;
        const o = j * 6;
        sums[o] += L[i];
        sums[o + 1] += A[i];
        sums[o + 2] += B[i];
        sums[o + 3] += x;
        sums[o + 4] += y;
        sums[o + 5] += 1;
      }
    }
    for (let j = 0; j < k; j++) {
      const o = j * 6;
      const n = sums[o + 5];
      if (n === 0) continue;
      cL[j] = sums[o] / n;
      cA[j] = sums[o + 1] / n;
      cB[j] = sums[o + 2] / n;
      cX[j] = sums[o + 3] / n;
      cY[j] = sums[o + 4] / n;
    }
  }
  return enforceConnectivity(labels, width, height, Math.max(1, Math.floor((step * step) / 4)), [L, A, B]);
}

/**
 * Relabels connected components in scan order. A component smaller than minSize (or one SLIC left
 * unassigned) joins the already-labelled neighbouring component closest to it in colour — the
 * reference code takes the left or upper neighbour, which can glue a grey fragment to a red region.
 */
export function enforceConnectivity(labels: Int32Array, width: number, height: number, minSize: number, lab?: Float32Array[]): Superpixels {
  const pixels = width * height;
  const out = new Int32Array(pixels).fill(-1);
  const queue = new Int32Array(pixels);
  // Running colour sums per output label.
  const sums: number[] = [];
  let next = 0;
  for (let start = 0; start < pixels; start++) {
    if (out[start] >= 0) continue;
    const original = labels[start];
    let head = 0;
    let tail = 0;
    queue[tail++] = start;
    out[start] = next;
    const neighbours = new Set<number>();
    while (head < tail) {
      const i = queue[head++];
      const x = i % width;
      const y = (i - x) / width;
      for (let n = 0; n < 4; n++) {
        let j: number;
        if (n === 0) {
          if (x === 0) continue;
          j = i - 1;
        } else if (n === 1) {
          if (x === width - 1) continue;
          j = i + 1;
        } else if (n === 2) {
          if (y === 0) continue;
          j = i - width;
        } else {
          if (y === height - 1) continue;
          j = i + width;
        }
        const o = out[j];
        if (o < 0) {
          if (labels[j] === original) {
            out[j] = next;
            queue[tail++] = j;
          }
        } else if (o !== next) neighbours.add(o);
      }
    }
    let mL = 0;
    let mA = 0;
    let mB = 0;
    if (lab) {
      for (let q = 0; q < tail; q++) {
        mL += lab[0][queue[q]];
        mA += lab[1][queue[q]];
        mB += lab[2][queue[q]];
      }
    }
    if ((tail < minSize || original < 0) && neighbours.size > 0) {
      let target = -1;
      let best = Infinity;
      for (const k of neighbours) {
        const d = lab ? (sums[4 * k] / sums[4 * k + 3] - mL / tail) ** 2 + (sums[4 * k + 1] / sums[4 * k + 3] - mA / tail) ** 2 + (sums[4 * k + 2] / sums[4 * k + 3] - mB / tail) ** 2 : k;
        if (d < best) {
          best = d;
          target = k;
        }
      }
      for (let q = 0; q < tail; q++) out[queue[q]] = target;
      sums[4 * target] += mL;
      sums[4 * target + 1] += mA;
      sums[4 * target + 2] += mB;
      sums[4 * target + 3] += tail;
    } else {
      sums.push(mL, mA, mB, tail);
      next++;
    }
  }
  return { labels: out, count: next };
}
