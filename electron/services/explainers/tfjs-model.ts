// ExplainableModel over a tfjs layers backbone: the slow but dependency-free path (tests build tiny
// models this way) and the source of the layer graph LayerCAM's gradient runtime walks.
import crypto from 'node:crypto';
import * as tf from '@tensorflow/tfjs';
import { ExplainError } from './explain-errors';
import type { ExplainableModel, HeadParams, ModelPrediction } from './explain-types';
import { checkHead, globalAveragePool, headForward } from './head-math';
import { GraphTail, inboundNames, kerasLayers, type GraphLayer, type LayerGraph } from './layer-graph';
import { ShallowLayerGradients, type ActivationSource, type ShallowGradientOptions } from './shallow-gradients';

/** Layer list with Keras (snake_case) configs, weights and inbound names, read from a tfjs model. */
export function layerGraphFromTfjs(model: tf.LayersModel): LayerGraph {
  const raw = model.toJSON(null, false) as unknown;
  const { layers: layersJson, sequential } = kerasLayers((typeof raw === 'string' ? JSON.parse(raw) : raw) as Record<string, unknown>);
  const layers: GraphLayer[] = [];
  let previous: string | undefined;
  for (const lj of layersJson) {
    const name = (lj.config.name as string) ?? lj.name;
    const layer = model.getLayer(name);
    let inbound: string[] = [];
    if (sequential) inbound = previous ? [previous] : [];
    else inbound = inboundNames(lj);
    layers.push({
      name,
      className: lj.class_name,
      config: lj.config,
      weights: layer.getWeights().map((w) => ({ shape: w.shape.slice(), values: Float32Array.from(w.dataSync() as Float32Array) })),
      inbound,
    });
    previous = name;
  }
  if (sequential && model.inputs.length === 1) {
    // Sequential topologies have no InputLayer entry; give the first layer a named source.
    layers.unshift({ name: model.inputs[0].name, className: 'InputLayer', config: {}, weights: [], inbound: [] });
    layers[1].inbound = [model.inputs[0].name];
  }
  return { layers };
}

export function sha256OfModel(graph: LayerGraph, head: HeadParams): string {
  const h = crypto.createHash('sha256');
  for (const l of graph.layers) {
    h.update(JSON.stringify([l.name, l.className, l.config, l.inbound]));
    for (const w of l.weights) h.update(new Uint8Array(w.values.buffer, w.values.byteOffset, w.values.byteLength));
  }
  for (const a of [head.dense1.kernel, head.dense1.bias, head.bn.gamma, head.bn.beta, head.bn.movingMean, head.bn.movingVariance, head.dense2.kernel]) {
    h.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  }
  h.update(JSON.stringify([head.bn.epsilon, Array.from(head.dense2.bias)]));
  return h.digest('hex');
}

export interface TfjsExplainableModelOptions {
  id: string;
  backbone: tf.LayersModel;
  featureLayer: string;
  head: HeadParams;
  /** Layers LayerCAM may use, first = its default. */
  shallowLayers?: string[];
  batchSize?: number;
  gradient?: ShallowGradientOptions;
}

export function createTfjsExplainableModel(options: TfjsExplainableModelOptions): ExplainableModel {
  const { backbone, featureLayer, head } = options;
  const graph = layerGraphFromTfjs(backbone);
  const featureOut = backbone.getLayer(featureLayer).output as tf.SymbolicTensor;
  const [, h, w, c] = featureOut.shape as number[];
  checkHead(head, c);
  const inputSize = backbone.inputs[0].shape[1] as number;
  if (backbone.inputs[0].shape[2] !== inputSize || backbone.inputs[0].shape[3] !== 3) {
    throw new ExplainError('EXPLAIN_MODEL_MISMATCH', `Backbone input must be [N, S, S, 3], got [${backbone.inputs[0].shape.join(', ')}]`);
  }
  const featureModel = tf.model({ inputs: backbone.inputs, outputs: featureOut });
  const shallowModels = new Map<string, tf.LayersModel>();
  const batchSize = options.batchSize ?? 16;
  const activationsAt: ActivationSource = async (image, layer) => {
    let m = shallowModels.get(layer);
    if (!m) {
      m = tf.model({ inputs: backbone.inputs, outputs: backbone.getLayer(layer).output as tf.SymbolicTensor });
      shallowModels.set(layer, m);
    }
    const out = tf.tidy(() => m!.predict(tf.tensor4d(image, [1, inputSize, inputSize, 3])) as tf.Tensor);
    const data = (await out.data()) as Float32Array;
    const [, lh, lw, lc] = out.shape;
    out.dispose();
    return { height: lh!, width: lw!, channels: lc!, data };
  };
  const shallow = new ShallowLayerGradients(graph, featureLayer, head, options.shallowLayers ?? [], activationsAt, options.gradient);
  // Refuse a layer a skip connection jumps over now, not at the first explanation.
  for (const layer of shallow.layers) new GraphTail(graph, layer, featureLayer);
  const per = inputSize * inputSize * 3;
  return {
    id: options.id,
    sha256: sha256OfModel(graph, head),
    inputSize,
    featureShape: [h, w, c],
    featureLayer,
    head,
    shallowLayers: shallow.layers,
    async predict(images: Float32Array, count: number): Promise<ModelPrediction> {
      if (!Number.isInteger(count) || count < 1 || images.length < count * per) {
        throw new ExplainError('EXPLAIN_BAD_INPUT', `predict: ${count} images need ${count * per} floats, got ${images.length}`);
      }
      const features = new Float32Array(count * h * w * c);
      const pSynthetic = new Float32Array(count);
      for (let start = 0; start < count; start += batchSize) {
        const n = Math.min(batchSize, count - start);
        const out = tf.tidy(() => featureModel.predict(tf.tensor4d(images.subarray(start * per, (start + n) * per), [n, inputSize, inputSize, 3])) as tf.Tensor);
        features.set((await out.data()) as Float32Array, start * h * w * c);
        out.dispose();
      }
      for (let i = 0; i < count; i++) {
        const map = { height: h, width: w, channels: c, data: features.subarray(i * h * w * c, (i + 1) * h * w * c) };
        pSynthetic[i] = headForward(head, globalAveragePool(map)).pSynthetic;
      }
      return { pSynthetic, features };
    },
    layerGradients: (image, layer, target) => shallow.gradients(image, layer, target),
    async dispose() {
      shallowModels.clear();
      await shallow.dispose();
    },
  };
}
