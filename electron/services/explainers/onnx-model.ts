// ExplainableModel over the fused detector ONNX (the shipped path): batched forward passes through
// onnxruntime for everything, plus an optional source of shallow-layer activations (a backbone ONNX
// that exposes them) for LayerCAM, whose gradients then come from the float64 layer-graph runtime.
import ort from 'onnxruntime-node';
import type { DetectorSession } from '../engine/detector-session';
// A detector whose head also reads pooled earlier maps outputs their share of dense1 under this name.
import { HEAD_CONTEXT_OUTPUT } from '../onnx-graphs';
import { ExplainError } from './explain-errors';
import type { ExplainTarget, ExplainableModel, FeatureMap, HeadParams, ModelPrediction } from './explain-types';
import { checkHead } from './head-math';
import type { LayerGraph } from './layer-graph';
import { ShallowLayerGradients, type ActivationSource, type ShallowGradientOptions } from './shallow-gradients';

export const FEATURES_OUTPUT = 'features';
export const P_SYNTHETIC_OUTPUT = 'p_synthetic';

export interface ShallowLayerOptions {
  /** Offered layers, first = LayerCAM's default. */
  layers: string[];
  /** The backbone's layer graph, loaded on first use (it needs the tfjs weights). */
  graph: () => Promise<LayerGraph>;
  activations: ActivationSource;
  gradient?: ShallowGradientOptions;
}

export interface OnnxExplainableModelOptions {
  id: string;
  detector: DetectorSession;
  head: HeadParams;
  featureLayer: string;
  featureShape: readonly [number, number, number];
  shallow?: ShallowLayerOptions;
  /** Most images per session.run (bounds memory for LIME's 1000 samples). */
  maxBatch?: number;
  /** The detector averages each image with its mirror (ExplainableModel.mirrored). */
  mirrored?: boolean;
}

export function createOnnxExplainableModel(options: OnnxExplainableModelOptions): ExplainableModel {
  const { detector, head, featureShape } = options;
  const [h, w, c] = featureShape;
  checkHead(head, c);
  if (!detector.outputNames.includes(FEATURES_OUTPUT) || !detector.outputNames.includes(P_SYNTHETIC_OUTPUT)) {
    throw new ExplainError(
      'EXPLAIN_MODEL_MISMATCH',
      `The detector ${detector.modelPath} must output "${P_SYNTHETIC_OUTPUT}" and "${FEATURES_OUTPUT}" to be explained (it has: ${detector.outputNames.join(', ')})`,
    );
  }
  const inputSize = detector.inputSize;
  const per = inputSize * inputSize * 3;
  const perFeatures = h * w * c;
  const maxBatch = options.maxBatch ?? 64;
  const units = head.dense1.units;
  const hasContext = detector.outputNames.includes(HEAD_CONTEXT_OUTPUT);
  const wanted = hasContext ? [P_SYNTHETIC_OUTPUT, FEATURES_OUTPUT, HEAD_CONTEXT_OUTPUT] : [P_SYNTHETIC_OUTPUT, FEATURES_OUTPUT];
  let shallow: Promise<ShallowLayerGradients> | undefined;
  const shallowGradients = () => {
    const s = options.shallow;
    if (!s) throw new ExplainError('EXPLAIN_LAYER_UNAVAILABLE', `Model ${options.id} offers no layer besides "${options.featureLayer}"`);
    shallow ??= Promise.resolve(new ShallowLayerGradients(s.graph, options.featureLayer, head, s.layers, s.activations, s.gradient));
    return shallow;
  };
  return {
    id: options.id,
    sha256: detector.modelSha256,
    inputSize,
    featureShape: [h, w, c],
    featureLayer: options.featureLayer,
    head,
    ...(options.mirrored ? { mirrored: true } : {}),
    shallowLayers: options.shallow?.layers ?? [],
    async predict(images: Float32Array, count: number): Promise<ModelPrediction> {
      if (!Number.isInteger(count) || count < 1 || images.length < count * per) {
        throw new ExplainError('EXPLAIN_BAD_INPUT', `predict: ${count} images need ${count * per} floats, got ${images.length}`);
      }
      const pSynthetic = new Float32Array(count);
      const features = new Float32Array(count * perFeatures);
      const headContext = hasContext ? new Float32Array(count * units) : undefined;
      for (let start = 0; start < count; start += maxBatch) {
        const n = Math.min(maxBatch, count - start);
        const out = await detector.runOutputs(images.subarray(start * per, (start + n) * per), n, wanted);
        if (headContext) {
          const k = out[HEAD_CONTEXT_OUTPUT].data as Float32Array;
          if (k.length !== n * units) throw new ExplainError('EXPLAIN_MODEL_MISMATCH', `Detector returned ${k.length / n} head context values per image; the head has ${units} units`);
          headContext.set(k, start * units);
        }
        const p = out[P_SYNTHETIC_OUTPUT].data as Float32Array;
        const f = out[FEATURES_OUTPUT].data as Float32Array;
        if (p.length !== n || f.length !== n * perFeatures) {
          throw new ExplainError('EXPLAIN_MODEL_MISMATCH', `Detector returned ${f.length / n} feature values per image; its card says ${h}×${w}×${c}`);
        }
        pSynthetic.set(p, start);
        features.set(f, start * perFeatures);
        for (const t of Object.values(out)) t.dispose?.();
      }
      return headContext ? { pSynthetic, features, headContext } : { pSynthetic, features };
    },
    async layerGradients(image: Float32Array, layer: string, target: ExplainTarget) {
      return (await shallowGradients()).gradients(image, layer, target);
    },
    async dispose() {
      const s = shallow;
      shallow = undefined;
      await (await s?.catch(() => undefined))?.dispose();
    },
  };
}

/** Shallow activations read from named outputs of an ONNX backbone (one forward pass per request). */
export function onnxActivationSource(session: ort.InferenceSession, inputSize: number, outputFor: Record<string, string> = {}): ActivationSource {
  return async (image: Float32Array, layer: string): Promise<FeatureMap> => {
    const output = outputFor[layer] ?? layer;
    if (!session.outputNames.includes(output)) {
      throw new ExplainError('EXPLAIN_LAYER_UNAVAILABLE', `The backbone ONNX has no output "${output}" (it has: ${session.outputNames.join(', ')})`);
    }
    const result = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', image, [1, inputSize, inputSize, 3]) }, [output]);
    const t = result[output];
    const dims = t.dims;
    if (dims.length !== 4) throw new ExplainError('EXPLAIN_MODEL_MISMATCH', `Output "${output}" is not NHWC (dims ${dims.join('×')})`);
    const data = Float32Array.from(t.data as Float32Array);
    t.dispose?.();
    return { height: dims[1], width: dims[2], channels: dims[3], data };
  };
}
