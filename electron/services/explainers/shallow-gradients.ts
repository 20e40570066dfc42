// LayerCAM below the feature layer: activations at a shallow layer from any source (an ONNX output,
// tfjs), then d(score)/d(activations) through the rest of the backbone and the head. The gradient
// runs as a compiled ONNX graph (onnx-graphs/layer-gradient.ts) when every layer of the tail has an ONNX
// gradient, else in the float64 layer-graph runtime; both are exact, the first is ~50× faster.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { ExplainError } from './explain-errors';
import type { ExplainTarget, FeatureMap, HeadParams, LayerGradients } from './explain-types';
import { buildLayerGradientOnnx, GRADIENT_INPUT, GRADIENT_OUTPUT, GRADIENT_P_OUTPUT } from '../onnx-graphs';
import { globalAveragePool, headGradientWrtPooled } from './head-math';
import { GraphTail, type LayerGraph } from './layer-graph';

/** Where shallow-layer activations come from (tfjs here, an ONNX session for the shipped model). */
export type ActivationSource = (image: Float32Array, layer: string) => Promise<FeatureMap>;

export interface ShallowGradientOptions {
  /** 'onnx' compiles the gradient graph (falls back to 'js' for layers it cannot express). */
  engine?: 'onnx' | 'js';
  /** Where compiled gradient graphs are kept between runs. */
  cacheDir?: string;
  /**
   * Names the backbone weights and head (e.g. the fused detector's sha256), so a cached gradient
   * graph is found without decoding the backbone's weights; without it the weights are hashed.
   */
  cacheKey?: string;
  intraOpThreads?: number;
}

interface Compiled {
  session: ort.InferenceSession;
}

function graphKey(graph: LayerGraph, head: HeadParams, from: string, to: string): string {
  const h = crypto.createHash('sha256');
  h.update(JSON.stringify({ v: 1, from, to }));
  for (const l of graph.layers) {
    h.update(JSON.stringify([l.name, l.className, l.config, l.inbound]));
    for (const w of l.weights) h.update(new Uint8Array(w.values.buffer, w.values.byteOffset, w.values.byteLength));
  }
  for (const a of [head.dense1.kernel, head.dense1.bias, head.bn.gamma, head.bn.beta, head.bn.movingMean, head.bn.movingVariance, head.dense2.kernel, head.dense2.bias]) {
    h.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  }
  h.update(String(head.bn.epsilon));
  return h.digest('hex');
}

export class ShallowLayerGradients {
  private readonly tails = new Map<string, GraphTail>();
  private graphPromise?: Promise<LayerGraph>;
  private readonly compiled = new Map<string, Promise<Compiled | undefined>>();
  /** Why a layer fell back to the JS runtime, for reports. */
  readonly fallbacks = new Map<string, string>();

  constructor(
    private readonly graphSource: LayerGraph | (() => Promise<LayerGraph>),
    private readonly featureLayer: string,
    private readonly head: HeadParams,
    readonly layers: readonly string[],
    private readonly source: ActivationSource,
    private readonly options: ShallowGradientOptions = {},
  ) {}

  /** The backbone's layer graph, decoded on first need (a cached gradient graph does not need it). */
  graph(): Promise<LayerGraph> {
    const src = this.graphSource;
    this.graphPromise ??= typeof src === 'function' ? src() : Promise.resolve(src);
    this.graphPromise.catch(() => (this.graphPromise = undefined));
    return this.graphPromise;
  }

  async tail(layer: string): Promise<GraphTail> {
    let t = this.tails.get(layer);
    if (!t) {
      t = new GraphTail(await this.graph(), layer, this.featureLayer);
      this.tails.set(layer, t);
    }
    return t;
  }

  private compile(layer: string, shape: [number, number, number]): Promise<Compiled | undefined> {
    const key = `${layer}:${shape.join('x')}`;
    let c = this.compiled.get(key);
    if (!c) {
      c = (async () => {
        let bytes: Uint8Array | undefined;
        const { cacheDir, cacheKey } = this.options;
        const key = cacheKey ? `${cacheKey}-${layer}-${this.featureLayer}`.replace(/[^A-Za-z0-9._-]/g, '_') : undefined;
        const file = cacheDir ? path.join(cacheDir, `${key ?? graphKey(await this.graph(), this.head, layer, this.featureLayer)}-${shape.join('x')}.onnx`) : undefined;
        if (file && fs.existsSync(file)) bytes = fs.readFileSync(file);
        if (!bytes) {
          try {
            bytes = await buildLayerGradientOnnx(await this.graph(), layer, this.featureLayer, this.head, shape);
          } catch (e) {
            if (e instanceof ExplainError && e.code === 'EXPLAIN_UNSUPPORTED_LAYER') {
              this.fallbacks.set(layer, e.message);
              return undefined;
            }
            throw e;
          }
          if (file) {
            fs.mkdirSync(path.dirname(file), { recursive: true });
            const tmp = `${file}.${process.pid}.tmp`;
            fs.writeFileSync(tmp, bytes);
            fs.renameSync(tmp, file);
          }
        }
        const threads = this.options.intraOpThreads ?? 2;
        const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all', logSeverityLevel: 3 });
        return { session };
      })();
      this.compiled.set(key, c);
      c.catch(() => this.compiled.delete(key));
    }
    return c;
  }

  async gradients(image: Float32Array, layer: string, target: ExplainTarget): Promise<LayerGradients> {
    if (!this.layers.includes(layer)) {
      throw new ExplainError('EXPLAIN_LAYER_UNAVAILABLE', `Layer "${layer}" is not offered (offered: ${this.layers.join(', ') || 'none'})`);
    }
    const activations = await this.source(image, layer);
    const shape: [number, number, number] = [activations.height, activations.width, activations.channels];
    const sign = target.class === 'synthetic' ? 1 : -1;
    const compiled = this.options.engine === 'js' ? undefined : await this.compile(layer, shape);
    if (compiled) {
      const data = activations.data instanceof Float32Array ? activations.data : Float32Array.from(activations.data);
      const out = await compiled.session.run({ [GRADIENT_INPUT]: new ort.Tensor('float32', data, [1, ...shape]) });
      const g = out[GRADIENT_OUTPUT].data as Float32Array;
      const gradient = sign === 1 ? Float32Array.from(g) : Float32Array.from(g, (v) => -v);
      const pSynthetic = (out[GRADIENT_P_OUTPUT].data as Float32Array)[0];
      for (const t of Object.values(out)) t.dispose?.();
      return { layer, activations, gradients: { height: shape[0], width: shape[1], channels: shape[2], data: gradient }, pSynthetic };
    }
    const tail = await this.tail(layer);
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

  async dispose(): Promise<void> {
    const all = [...this.compiled.values()];
    this.compiled.clear();
    for (const c of all) await (await c.catch(() => undefined))?.session.release();
  }
}
