// Faster Score-CAM: Score-CAM (Wang et al.) restricted to the k channels whose activation maps vary
// most. Each chosen map is upsampled to the input, min-max scaled to [0,1] and multiplied into the
// image; a channel's weight is how much its masked image raises the target score over the fully
// masked baseline (Score-CAM's "channel-wise increase of confidence"). The k + 1 masked images go
// through the detector in batches.
import { CamExplainer, type CamContext, type CamOptions } from './base-explainer';
import { ExplainError } from './explain-errors';
import type { ExplainableModel } from './explain-types';
import { targetScore } from './head-math';
import { resizeBilinear } from './map-utils';

export interface ScoreCamOptions extends CamOptions {
  /** Channels kept (by activation variance). */
  topK?: number;
  /** Masked images per forward pass. */
  batchSize?: number;
}

// Small batches: per-image CPU cost of the detector grows with the batch (see LIME_DEFAULTS).
export const SCORECAM_DEFAULTS = { topK: 32, batchSize: 2 } as const;

/** Channel indices sorted by the spatial variance of their activation maps, largest first. */
export function channelsByVariance(data: ArrayLike<number>, positions: number, channels: number): number[] {
  const mean = new Float64Array(channels);
  const sq = new Float64Array(channels);
  for (let i = 0; i < positions; i++) {
    for (let c = 0; c < channels; c++) {
      const v = data[i * channels + c];
      mean[c] += v;
      sq[c] += v * v;
    }
  }
  const variance = new Float64Array(channels);
  for (let c = 0; c < channels; c++) {
    const m = mean[c] / positions;
    variance[c] = sq[c] / positions - m * m;
  }
  return Array.from({ length: channels }, (_, c) => c).sort((a, b) => variance[b] - variance[a] || a - b);
}

export class ScoreCam extends CamExplainer {
  readonly method = 'scorecam' as const;
  protected override readonly usesGradients = false;
  private readonly topK: number;
  private readonly batchSize: number;

  constructor(model: ExplainableModel, options: ScoreCamOptions = {}) {
    if (options.layer && options.layer !== model.featureLayer) {
      throw new ExplainError('EXPLAIN_LAYER_UNAVAILABLE', `Score-CAM here masks with the feature layer "${model.featureLayer}" only`);
    }
    super(model, options);
    this.topK = options.topK ?? SCORECAM_DEFAULTS.topK;
    this.batchSize = options.batchSize ?? SCORECAM_DEFAULTS.batchSize;
    if (!Number.isInteger(this.topK) || this.topK < 1) throw new ExplainError('EXPLAIN_BAD_PARAMS', `topK must be a positive integer, got ${options.topK}`);
    if (!Number.isInteger(this.batchSize) || this.batchSize < 1) throw new ExplainError('EXPLAIN_BAD_PARAMS', `batchSize must be a positive integer, got ${options.batchSize}`);
  }

  override params(): Record<string, unknown> {
    return { ...super.params(), topK: this.topK };
  }

  protected override async channelWeights(ctx: CamContext): Promise<Float64Array> {
    const a = ctx.activations;
    const positions = a.height * a.width;
    const chosen = channelsByVariance(a.data, positions, a.channels).slice(0, Math.min(this.topK, a.channels));
    const s = this.model.inputSize;
    const pixels = s * s;
    const image = ctx.input.tensor;
    // Slot 0 is the baseline: every pixel masked out.
    const masks: (Float32Array | null)[] = [null];
    const channelMap = new Float32Array(positions);
    for (const c of chosen) {
      for (let i = 0; i < positions; i++) channelMap[i] = a.data[i * a.channels + c];
      const up = resizeBilinear(channelMap, a.height, a.width, s, s);
      let min = Infinity;
      let max = -Infinity;
      for (let i = 0; i < pixels; i++) {
        if (up[i] < min) min = up[i];
        if (up[i] > max) max = up[i];
      }
      const range = max - min;
      for (let i = 0; i < pixels; i++) up[i] = range > 0 ? (up[i] - min) / range : 0;
      masks.push(up);
    }
    const scores = new Float64Array(masks.length);
    const batchSize = Math.min(this.batchSize, masks.length);
    const fill = (batch: Float32Array, start: number, n: number) => {
      for (let b = 0; b < n; b++) {
        const mask = masks[start + b];
        const o = b * pixels * 3;
        if (!mask) {
          batch.fill(0, o, o + pixels * 3);
          continue;
        }
        for (let i = 0; i < pixels; i++) {
          const m = mask[i];
          batch[o + 3 * i] = image[3 * i] * m;
          batch[o + 3 * i + 1] = image[3 * i + 1] * m;
          batch[o + 3 * i + 2] = image[3 * i + 2] * m;
        }
      }
    };
    // Two buffers: the next masked batch is built while the detector runs the current one.
    const buffers = [new Float32Array(batchSize * pixels * 3), new Float32Array(batchSize * pixels * 3)];
    const sizeAt = (start: number) => Math.min(batchSize, masks.length - start);
    fill(buffers[0], 0, sizeAt(0));
    for (let start = 0, turn = 0; start < masks.length; start += batchSize, turn ^= 1) {
      const n = sizeAt(start);
      const running = this.model.predict(buffers[turn].subarray(0, n * pixels * 3), n);
      if (start + batchSize < masks.length) fill(buffers[turn ^ 1], start + batchSize, sizeAt(start + batchSize));
      const { pSynthetic } = await running;
      ctx.forwardPasses += n;
      for (let b = 0; b < n; b++) scores[start + b] = targetScore(pSynthetic[b], ctx.target);
    }
    const weights = new Float64Array(a.channels);
    chosen.forEach((c, i) => (weights[c] = scores[i + 1] - scores[0]));
    return weights;
  }
}
