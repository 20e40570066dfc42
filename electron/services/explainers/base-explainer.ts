// The template every CAM method follows (the shape of pytorch-grad-cam's base_cam.py): get the
// activations of the target layer, and their exact gradients when the method needs them; turn them
// into per-channel weights or straight into a spatial map; ReLU; normalise; find the peak. A method
// overrides one step. Maps stay at the layer's resolution; overlay.ts stretches them onto the image.
import { ExplainError } from './explain-errors';
import type { ExplainInput, ExplainMethod, ExplainTarget, ExplainableModel, ExplanationMap, FeatureMap } from './explain-types';
import { globalAveragePool, headGradientWrtPooled } from './head-math';
import { argmax, cellToImage, normaliseMap } from './map-utils';

export interface CamContext {
  input: ExplainInput;
  target: ExplainTarget;
  layer: string;
  activations: FeatureMap;
  /** d(target score)/d(activations); present only when the method uses gradients. */
  gradients?: FeatureMap;
  pSynthetic: number;
  forwardPasses: number;
  headPasses: number;
  /** The head's other inputs for this image (ModelPrediction.headContext), at the feature layer. */
  headContext?: Float32Array;
}

export interface CamOptions {
  /** The layer to explain; defaults to the model's feature layer (the head's input). */
  layer?: string;
}

export function checkInput(model: ExplainableModel, input: ExplainInput): void {
  const s = model.inputSize;
  const need = s * s * 3;
  if (!(input.tensor instanceof Float32Array) || input.tensor.length !== need) {
    throw new ExplainError('EXPLAIN_BAD_INPUT', `Expected a ${s}×${s}×3 float tensor (${need} values), got ${input.tensor?.length ?? 'none'}`);
  }
  if (!(input.rgb01 instanceof Float32Array) || input.rgb01.length !== need) {
    throw new ExplainError('EXPLAIN_BAD_INPUT', `Expected a ${s}×${s}×3 RGB buffer`);
  }
  if (!(Number.isInteger(input.imageWidth) && input.imageWidth > 0 && Number.isInteger(input.imageHeight) && input.imageHeight > 0)) {
    throw new ExplainError('EXPLAIN_BAD_INPUT', `Bad original image size ${input.imageWidth}×${input.imageHeight}`);
  }
}

export function checkTarget(target: ExplainTarget): void {
  if (!target || (target.class !== 'synthetic' && target.class !== 'real')) {
    throw new ExplainError('EXPLAIN_BAD_PARAMS', `target.class must be "synthetic" or "real", got ${JSON.stringify(target?.class)}`);
  }
}

/** Sum over channels of weight × activation, per position. */
export function weightedSum(map: FeatureMap, weights: ArrayLike<number>): Float64Array {
  const { height, width, channels, data } = map;
  const out = new Float64Array(height * width);
  for (let i = 0; i < out.length; i++) {
    const o = i * channels;
    let s = 0;
    for (let c = 0; c < channels; c++) s += weights[c] * data[o + c];
    out[i] = s;
  }
  return out;
}

export abstract class CamExplainer {
  abstract readonly method: ExplainMethod;
  /** Gradient-free methods (AblationCAM, ScoreCAM) skip the gradient step. */
  protected readonly usesGradients: boolean = true;

  constructor(
    protected readonly model: ExplainableModel,
    protected readonly options: CamOptions = {},
  ) {}

  get layer(): string {
    return this.options.layer ?? this.model.featureLayer;
  }

  /** Parameters that change the result (part of the cache key). */
  params(): Record<string, unknown> {
    return { layer: this.layer };
  }

  async explain(input: ExplainInput, target: ExplainTarget): Promise<ExplanationMap> {
    checkTarget(target);
    checkInput(this.model, input);
    const ctx = await this.activationsAndGradients(input, target);
    const raw = await this.spatialMap(ctx);
    for (let i = 0; i < raw.length; i++) if (raw[i] < 0) raw[i] = 0;
    const { values, flat } = normaliseMap(raw);
    const { height, width } = ctx.activations;
    const best = argmax(values);
    return {
      method: this.method,
      target,
      map: { height, width, channels: 1, data: values },
      peak: cellToImage(Math.floor(best / width), best % width, height, width, input.imageWidth, input.imageHeight),
      flat,
      pSynthetic: ctx.pSynthetic,
      forwardPasses: ctx.forwardPasses,
      headPasses: ctx.headPasses,
      params: this.params(),
    };
  }

  protected async activationsAndGradients(input: ExplainInput, target: ExplainTarget): Promise<CamContext> {
    const layer = this.layer;
    if (layer !== this.model.featureLayer) {
      if (!this.model.shallowLayers.includes(layer)) {
        throw new ExplainError(
          'EXPLAIN_LAYER_UNAVAILABLE',
          `Layer "${layer}" is not available for ${this.method}; use "${this.model.featureLayer}"${this.model.shallowLayers.length ? ` or one of ${this.model.shallowLayers.join(', ')}` : ''}`,
        );
      }
      const lg = await this.model.layerGradients(input.tensor, layer, target);
      return { input, target, layer, activations: lg.activations, gradients: lg.gradients, pSynthetic: lg.pSynthetic, forwardPasses: 1, headPasses: 0 };
    }
    const [h, w, c] = this.model.featureShape;
    const { pSynthetic, features, headContext } = await this.model.predict(input.tensor, 1);
    const activations: FeatureMap = { height: h, width: w, channels: c, data: features };
    const ctx: CamContext = { input, target, layer, activations, pSynthetic: pSynthetic[0], forwardPasses: 1, headPasses: 0, headContext };
    if (this.usesGradients) {
      // Through GAP every position gets the same gradient: d score/d pooled ÷ (h·w).
      const { gradient } = headGradientWrtPooled(this.model.head, globalAveragePool(activations), target, headContext);
      const data = new Float64Array(h * w * c);
      for (let i = 0; i < h * w; i++) for (let k = 0; k < c; k++) data[i * c + k] = gradient[k] / (h * w);
      ctx.gradients = { height: h, width: w, channels: c, data };
    }
    return ctx;
  }

  /** Default: per-channel weights times activations. Methods with a spatial map of their own override this. */
  protected async spatialMap(ctx: CamContext): Promise<Float64Array> {
    return weightedSum(ctx.activations, await this.channelWeights(ctx));
  }

  protected channelWeights(_ctx: CamContext): Promise<ArrayLike<number>> | ArrayLike<number> {
    throw new Error(`${this.method} must override channelWeights or spatialMap`);
  }
}
