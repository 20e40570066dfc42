// LIME for images (Ribeiro et al. 2016, the lime package's LimeImageExplainer): superpixels switched
// off at random (replaced by their mean colour), the detector scores every perturbed image, and a
// weighted ridge regression on the on/off vectors — weighted by an exponential kernel of the cosine
// distance to the unperturbed image — says which superpixels push the target score up or down.
import { checkInput, checkTarget } from '../base-explainer';
import { ExplainError } from '../explain-errors';
import type { ExplainInput, ExplainTarget, ExplainableModel, ExplanationMap } from '../explain-types';
import { targetScore } from '../head-math';
import { normaliseMap } from '../map-utils';
import { createRng as seededRandom } from '../../common/seeded-random';
import { slic, SLIC_DEFAULTS } from './slic';
import { weightedRidge } from './weighted-ridge';

export interface LimeOptions {
  samples?: number;
  kernelWidth?: number;
  seed?: number;
  segments?: number;
  compactness?: number;
  /** Ridge penalty (sklearn's alpha; LIME uses 1). */
  alpha?: number;
  /** Perturbed images per forward pass. */
  batchSize?: number;
  /**
   * What a switched-off superpixel shows: its own mean colour (lime's default, which removes texture
   * but keeps colour, fitting a detector of generator artefacts) or a fixed RGB colour in [0,1].
   */
  hideColor?: 'mean' | [number, number, number];
}

export const LIME_DEFAULTS = {
  samples: 1000,
  kernelWidth: 0.25,
  seed: 0,
  segments: SLIC_DEFAULTS.segments,
  compactness: SLIC_DEFAULTS.compactness,
  alpha: 1,
  // onnxruntime's CPU cost per MobileNetV2 image grows with the batch here (11.5 ms at 1–2, 15+ at
  // 16–32: the activations stop fitting in cache), so small batches, double-buffered, are fastest.
  batchSize: 2,
  hideColor: 'mean',
} as const satisfies LimeOptions;

function positiveInt(name: string, v: number, min = 1): number {
  if (!Number.isInteger(v) || v < min) throw new ExplainError('EXPLAIN_BAD_PARAMS', `${name} must be an integer ≥ ${min}, got ${v}`);
  return v;
}

export class LimeExplainer {
  readonly method = 'lime' as const;
  private readonly o: Required<LimeOptions>;

  constructor(
    private readonly model: ExplainableModel,
    options: LimeOptions = {},
  ) {
    this.o = { ...LIME_DEFAULTS, ...stripUndefined(options) } as Required<LimeOptions>;
    const hide = this.o.hideColor;
    if (hide !== 'mean' && !(Array.isArray(hide) && hide.length === 3 && hide.every((v) => v >= 0 && v <= 1))) {
      throw new ExplainError('EXPLAIN_BAD_PARAMS', `hideColor must be "mean" or [r, g, b] in [0,1], got ${JSON.stringify(hide)}`);
    }
    positiveInt('samples', this.o.samples, 2);
    positiveInt('segments', this.o.segments);
    positiveInt('batchSize', this.o.batchSize);
    if (!Number.isInteger(this.o.seed)) throw new ExplainError('EXPLAIN_BAD_PARAMS', `seed must be an integer, got ${this.o.seed}`);
    if (!(this.o.kernelWidth > 0)) throw new ExplainError('EXPLAIN_BAD_PARAMS', `kernelWidth must be > 0, got ${this.o.kernelWidth}`);
    if (!(this.o.alpha > 0)) throw new ExplainError('EXPLAIN_BAD_PARAMS', `alpha must be > 0, got ${this.o.alpha}`);
    if (!(this.o.compactness > 0)) throw new ExplainError('EXPLAIN_BAD_PARAMS', `compactness must be > 0, got ${this.o.compactness}`);
  }

  params(): Record<string, unknown> {
    const { samples, kernelWidth, seed, segments, compactness, alpha, hideColor } = this.o;
    return { samples, kernelWidth, seed, segments, compactness, alpha, hideColor };
  }

  async explain(input: ExplainInput, target: ExplainTarget): Promise<ExplanationMap> {
    checkTarget(target);
    checkInput(this.model, input);
    const s = this.model.inputSize;
    const pixels = s * s;
    const { labels, count } = slic(input.rgb01, s, s, { segments: this.o.segments, compactness: this.o.compactness });

    // lime's hide_color=None: a switched-off superpixel shows its own mean colour.
    const hide = this.o.hideColor;
    const mean = new Float64Array(count * 3);
    const size = new Float64Array(count);
    for (let i = 0; i < pixels; i++) {
      const k = labels[i];
      size[k]++;
      for (let ch = 0; ch < 3; ch++) mean[k * 3 + ch] += input.rgb01[3 * i + ch];
    }
    for (let k = 0; k < count; k++) for (let ch = 0; ch < 3; ch++) mean[k * 3 + ch] = hide === 'mean' ? mean[k * 3 + ch] / size[k] : hide[ch];
    const fudged = new Float32Array(pixels * 3);
    for (let i = 0; i < pixels; i++) for (let ch = 0; ch < 3; ch++) fudged[3 * i + ch] = mean[labels[i] * 3 + ch];
    const fudgedTensor = input.normalise(fudged);

    // Row 0 is the unperturbed image, as in lime.
    const n = this.o.samples;
    const random = seededRandom(this.o.seed);
    const Z = new Uint8Array(n * count);
    Z.fill(1, 0, count);
    for (let i = count; i < n * count; i++) Z[i] = random() < 0.5 ? 0 : 1;

    // Each superpixel as runs of consecutive pixels, so a perturbed image is the original copied
    // whole, then the switched-off superpixels' runs copied from the fudged image.
    const runs: number[][] = Array.from({ length: count }, () => []);
    for (let i = 0; i < pixels; ) {
      const k = labels[i];
      let j = i + 1;
      while (j < pixels && labels[j] === k && j % s !== 0) j++;
      runs[k].push(i * 3, j * 3);
      i = j;
    }
    const perImage = pixels * 3;
    const fill = (buffer: Float32Array, start: number, m: number) => {
      for (let b = 0; b < m; b++) {
        const row = (start + b) * count;
        const o = b * perImage;
        buffer.set(input.tensor, o);
        for (let k = 0; k < count; k++) {
          if (Z[row + k]) continue;
          const r = runs[k];
          for (let q = 0; q < r.length; q += 2) buffer.set(fudgedTensor.subarray(r[q], r[q + 1]), o + r[q]);
        }
      }
    };

    const scores = new Float64Array(n);
    let pSynthetic = NaN;
    const batchSize = Math.min(this.o.batchSize, n);
    // Two buffers: the next batch is filled while the detector runs the current one.
    const buffers = [new Float32Array(batchSize * perImage), new Float32Array(batchSize * perImage)];
    const sizeAt = (start: number) => Math.min(batchSize, n - start);
    fill(buffers[0], 0, sizeAt(0));
    for (let start = 0, turn = 0; start < n; start += batchSize, turn ^= 1) {
      const m = sizeAt(start);
      const buffer = buffers[turn];
      const running = this.model.predict(m === batchSize ? buffer : buffer.subarray(0, m * perImage), m);
      const next = start + batchSize;
      if (next < n) fill(buffers[turn ^ 1], next, sizeAt(next));
      const out = await running;
      if (start === 0) pSynthetic = out.pSynthetic[0];
      for (let b = 0; b < m; b++) scores[start + b] = targetScore(out.pSynthetic[b], target);
    }

    // Cosine distance of each on/off vector to all-ones is 1 − sqrt(on / count).
    const kernel = new Float64Array(n);
    const X = new Float64Array(n * count);
    for (let r = 0; r < n; r++) {
      let on = 0;
      for (let k = 0; k < count; k++) {
        const v = Z[r * count + k];
        X[r * count + k] = v;
        on += v;
      }
      const d = on === 0 ? 1 : 1 - Math.sqrt(on / count);
      kernel[r] = Math.sqrt(Math.exp(-(d * d) / (this.o.kernelWidth * this.o.kernelWidth)));
    }
    const fit = weightedRidge(X, scores, kernel, n, count, this.o.alpha);

    const byWeight = Array.from({ length: count }, (_, k) => k);
    const positive = byWeight.filter((k) => fit.coef[k] > 0).sort((a, b) => fit.coef[b] - fit.coef[a]);
    const negative = byWeight.filter((k) => fit.coef[k] < 0).sort((a, b) => fit.coef[a] - fit.coef[b]);

    const raw = new Float64Array(pixels);
    for (let i = 0; i < pixels; i++) raw[i] = Math.max(0, fit.coef[labels[i]]);
    const { values, flat } = normaliseMap(raw);
    const top = positive[0] ?? byWeight.sort((a, b) => Math.abs(fit.coef[b]) - Math.abs(fit.coef[a]))[0];
    const at = pixelNearestCentroid(labels, s, top);
    return {
      method: 'lime',
      target,
      map: { height: s, width: s, channels: 1, data: values },
      peak: {
        x: Math.min(input.imageWidth - 1, Math.floor(((at.x + 0.5) / s) * input.imageWidth)),
        y: Math.min(input.imageHeight - 1, Math.floor(((at.y + 0.5) / s) * input.imageHeight)),
      },
      flat: flat || positive.length === 0,
      pSynthetic,
      forwardPasses: n,
      headPasses: 0,
      lime: { segments: labels, segmentCount: count, weights: fit.coef, intercept: fit.intercept, score: fit.r2, positive, negative },
      params: this.params(),
    };
  }
}

/** A pixel inside the superpixel, the one closest to its centroid (the centroid itself may lie outside). */
export function pixelNearestCentroid(labels: Int32Array, width: number, label: number): { x: number; y: number } {
  let sx = 0;
  let sy = 0;
  let n = 0;
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] !== label) continue;
    sx += i % width;
    sy += Math.floor(i / width);
    n++;
  }
  const cx = sx / n;
  const cy = sy / n;
  let best = { x: 0, y: 0 };
  let bestD = Infinity;
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] !== label) continue;
    const x = i % width;
    const y = Math.floor(i / width);
    const d = (x - cx) ** 2 + (y - cy) ** 2;
    if (d < bestD) {
      bestD = d;
      best = { x, y };
    }
  }
  return best;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
