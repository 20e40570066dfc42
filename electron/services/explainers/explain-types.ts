// Shared types of the explainers. An explainer never sees onnxruntime or tfjs directly: it sees an
// ExplainableModel (batched forward + the head's parameters), so every method runs unchanged on the
// shipped ONNX detector, on a tfjs model, or on the small planted-patch models the tests build.

/** Which probability is explained. Explicit on purpose: a binary sigmoid has two readings. */
export type ExplainClass = 'synthetic' | 'real';
export interface ExplainTarget {
  class: ExplainClass;
}

export type ExplainMethod = 'gradcam' | 'ablationcam' | 'layercam' | 'scorecam' | 'lime';
export const EXPLAIN_METHODS: readonly ExplainMethod[] = ['gradcam', 'ablationcam', 'layercam', 'scorecam', 'lime'];

/** GAP → Dense(units)+ReLU → BatchNorm → Dropout → Dense(1) → sigmoid, weights row-major as tfjs stores them. */
export interface HeadParams {
  dense1: { kernel: Float32Array; bias: Float32Array; units: number }; // kernel [channels, units]
  bn: {
    gamma: Float32Array;
    beta: Float32Array;
    movingMean: Float32Array;
    movingVariance: Float32Array;
    epsilon: number;
  };
  dense2: { kernel: Float32Array; bias: Float32Array }; // kernel [units, 1], bias [1]
}

/** A feature map (or any H×W×C activation) of one image, NHWC without the batch axis. */
export interface FeatureMap {
  height: number;
  width: number;
  channels: number;
  data: Float32Array | Float64Array;
}

export interface ModelPrediction {
  pSynthetic: Float32Array; // [N]
  features: Float32Array; // [N, h, w, c]
  /**
   * [N, units]: what the head's inputs other than the feature map (pooled maps of earlier layers)
   * add to dense1's output; absent when the head reads the feature map alone.
   */
  headContext?: Float32Array;
}

/** Activations at a layer shallower than the head's feature map and d(score)/d(activations). */
export interface LayerGradients {
  layer: string;
  activations: FeatureMap;
  gradients: FeatureMap;
  pSynthetic: number;
}

export interface ExplainableModel {
  readonly id: string;
  readonly sha256: string;
  /** Square input side in pixels (224 for MobileNetV2); images arrive normalised, NHWC. */
  readonly inputSize: number;
  readonly featureShape: readonly [number, number, number];
  readonly featureLayer: string;
  readonly head: HeadParams;
  /** Batched forward pass of the whole detector. */
  predict(images: Float32Array, count: number): Promise<ModelPrediction>;
  /**
   * The detector scores each image with its mirror (the card's `inference.mirror`): `predict`'s
   * pSynthetic is the mean-logit of both views, its features those of the image as given.
   */
  readonly mirrored?: boolean;
  /** Layers LayerCAM may use besides the feature layer (empty when the model has no backbone graph). */
  readonly shallowLayers: readonly string[];
  /** Exact activations and gradients at a shallower layer; throws EXPLAIN_LAYER_UNAVAILABLE if unsupported. */
  layerGradients(image: Float32Array, layer: string, target: ExplainTarget): Promise<LayerGradients>;
  dispose(): Promise<void>;
}

/** One preprocessed image ready to explain, plus what is needed to map results back onto the original. */
export interface ExplainInput {
  /** [1, S, S, 3] normalised as the model expects. */
  tensor: Float32Array;
  /** The same pixels as RGB in [0, 1] (what LIME segments and perturbs before normalising). */
  rgb01: Float32Array;
  /** Maps an RGB [0,1] buffer of S×S×3 to the model's normalisation. */
  normalise(rgb01: Float32Array): Float32Array;
  /** The original image's size; the map is stretched back onto it (preprocessing squashes, it does not crop). */
  imageWidth: number;
  imageHeight: number;
}

export interface ExplanationMap {
  method: ExplainMethod;
  target: ExplainTarget;
  /** Heatmap in [0,1] at the explained layer's resolution (superpixel resolution for LIME). */
  map: FeatureMap; // channels = 1
  /** Peak of the map in original-image pixel coordinates. */
  peak: { x: number; y: number };
  /** True when the map carries no evidence (all equal before normalisation). */
  flat: boolean;
  pSynthetic: number;
  /** Full detector forward passes and head-only passes the method used. */
  forwardPasses: number;
  headPasses: number;
  /** Method-specific extras (LIME: superpixel labels and weights). */
  lime?: LimeDetails;
  params: Record<string, unknown>;
}

export interface LimeDetails {
  /** Superpixel label per pixel at the model's input resolution (S×S). */
  segments: Int32Array;
  segmentCount: number;
  /** Ridge weight per superpixel (positive = supports the target class). */
  weights: Float64Array;
  intercept: number;
  /** Weighted R² of the local surrogate. */
  score: number;
  /** Superpixels supporting / opposing the target, strongest first. */
  positive: number[];
  negative: number[];
}
