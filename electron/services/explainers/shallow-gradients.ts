// LayerCAM below the feature layer: activations at a shallow layer from any source (an ONNX output,
// tfjs), the float64 layer-graph runtime forward to the feature layer, the head's exact gradient,
// and reverse mode back to the shallow layer.
import { ExplainError } from './explain-errors';
import type { ExplainTarget, FeatureMap, HeadParams, LayerGradients } from './explain-types';
import { globalAveragePool, headGradientWrtPooled } from './head-math';
import { GraphTail, type LayerGraph } from './layer-graph';

/** Where shallow-layer activations come from (tfjs here, an ONNX session for the shipped model). */
export type ActivationSource = (image: Float32Array, layer: string) => Promise<FeatureMap>;

export class ShallowLayerGradients {
  private readonly tails = new Map<string, GraphTail>();

  constructor(
    private readonly graph: LayerGraph,
    private readonly featureLayer: string,
    private readonly head: HeadParams,
    readonly layers: readonly string[],
    private readonly source: ActivationSource,
  ) {}

  tail(layer: string): GraphTail {
    let t = this.tails.get(layer);
    if (!t) {
      t = new GraphTail(this.graph, layer, this.featureLayer);
      this.tails.set(layer, t);
    }
    return t;
  }

  async gradients(image: Float32Array, layer: string, target: ExplainTarget): Promise<LayerGradients> {
    if (!this.layers.includes(layer)) {
      throw new ExplainError('EXPLAIN_LAYER_UNAVAILABLE', `Layer "${layer}" is not offered (offered: ${this.layers.join(', ') || 'none'})`);
    }
    const tail = this.tail(layer);
    const activations = await this.source(image, layer);
    const fwd = tail.forward(activations);
    const features = fwd.output;
    const positions = features.height * features.width;
    const { gradient, pSynthetic } = headGradientWrtPooled(this.head, globalAveragePool(features), target);
    const dFeatures = new Float64Array(features.data.length);
    for (let p = 0; p < positions; p++) for (let c = 0; c < features.channels; c++) dFeatures[p * features.channels + c] = gradient[c] / positions;
    const dActivations = tail.backward(fwd, dFeatures);
    return {
      layer,
      activations,
      gradients: { height: activations.height, width: activations.width, channels: activations.channels, data: dActivations },
      pSynthetic,
    };
  }
}

