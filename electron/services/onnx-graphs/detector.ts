// Fuses a backbone ONNX (from the converter) with a trained dense head into one detector:
//   image [N,H,W,3] → backbone → pooled → Dense+ReLU → BN (inference) → Dropout (identity) → Dense → Sigmoid
// with outputs p_synthetic [N,1] and features (the backbone's feature map, NHWC). Also builds the
// head alone on a feature map, for explainers that perturb or re-weight features.
import fs from 'node:fs';
import { ConversionError } from './conversion-error';
import { withInputPrefix } from './input-filters';
import { DEFAULT_INPUT_NAME, POOLED_OUTPUT } from './keras-to-onnx';
import {
  attr,
  decodeModel,
  encodeModel,

  int64,
  makeModel,
  OnnxGraphBuilder,
  valueInfo,
  type Dim,
  type ModelProto,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from './onnx-proto';

type Floats = Float32Array | ArrayLike<number>;

/** Head weights as Keras stores them: kernels row-major [in, out]. */
export interface HeadWeights {
  inputDim?: number;
  dense1: { kernel: Floats; bias: Floats; units: number };
  bn: { gamma: Floats; beta: Floats; movingMean: Floats; movingVariance: Floats; epsilon: number };
  dense2: { kernel: Floats; bias: Floats };
}

/** One pooled backbone map the head reads; the head's input is these, concatenated in order. */
export interface HeadInput {
  output: string;
  /** 'mean': channel means (global average pooling); 'mean-std': channel means, then standard deviations. */
  pooling: 'mean' | 'mean-std';
}

export interface DetectorOptions {
  /** Backbone output exposed as `features`; default its `feature_layer` metadata, else its first output. */
  featureOutput?: string;
  /**
   * Several pooled maps (the feature output among them, mean-pooled): the detector then also
   * outputs `head_context`, what the other maps add to dense1 for each image, so explainers that
   * vary the feature map keep the rest of the head's input fixed. Default: the feature map alone.
   */
  headInputs?: HeadInput[];
  /**
   * Score each image and its left-right mirror and average the two logits (the mirrored reading the
   * model card's `inference.mirror` names). `features` and `head_context` stay those of the image
   * as given, so an explainer that varies them explains that view.
   */
  mirror?: boolean;
  /** Extra ONNX metadata_props (e.g. a model id). */
  metadata?: Record<string, string>;
}

export interface HeadOnnxOptions {
  /** [h, w, c] when known; h and w stay symbolic otherwise. */
  featureShape?: number[];
  metadata?: Record<string, string>;
}

export const P_SYNTHETIC_OUTPUT = 'p_synthetic';
export const FEATURES_OUTPUT = 'features';
export const HEAD_CONTEXT_OUTPUT = 'head_context';
export const IMAGE_INPUT = DEFAULT_INPUT_NAME;

interface CheckedHead {
  inputDim: number;
  units: number;
  kernel1: Float32Array;
  bias1: Float32Array;
  gamma: Float32Array;
  beta: Float32Array;
  mean: Float32Array;
  variance: Float32Array;
  epsilon: number;
  kernel2: Float32Array;
  bias2: Float32Array;
}

/** Validates a head and returns float32 copies of its arrays. */
export function checkHead(head: HeadWeights): CheckedHead {
  const bad = (why: string): never => {
    throw new ConversionError('BAD_HEAD', `head weights: ${why}`);
  };
  if (!head || typeof head !== 'object' || !head.dense1 || !head.bn || !head.dense2) bad('dense1, bn and dense2 are required');
  const floats = (v: Floats | undefined, name: string, length?: number): Float32Array => {
    if (!v || typeof (v as ArrayLike<number>).length !== 'number') return bad(`${name} is missing`);
    const out = Float32Array.from(v as ArrayLike<number>);
    if (length !== undefined && out.length !== length) bad(`${name} has ${out.length} values, expected ${length}`);
    if (!out.every(Number.isFinite)) bad(`${name} holds a non-finite value`);
    return out;
  };
  const units = head.dense1.units;
  if (!Number.isInteger(units) || units < 1) bad(`dense1.units must be a positive integer, got ${String(units)}`);
  const bias1 = floats(head.dense1.bias, 'dense1.bias', units);
  const kernel1 = floats(head.dense1.kernel, 'dense1.kernel');
  if (kernel1.length === 0 || kernel1.length % units !== 0) bad(`dense1.kernel has ${kernel1.length} values, not a multiple of ${units} units`);
  const inputDim = kernel1.length / units;
  if (head.inputDim !== undefined && head.inputDim !== inputDim) bad(`inputDim ${head.inputDim} disagrees with dense1.kernel (${inputDim} × ${units})`);
  const epsilon = head.bn.epsilon;
  if (typeof epsilon !== 'number' || !(epsilon > 0) || !Number.isFinite(epsilon)) bad(`bn.epsilon must be a positive number, got ${String(epsilon)}`);
  const variance = floats(head.bn.movingVariance, 'bn.movingVariance', units);
  if (variance.some((v) => v < 0)) bad('bn.movingVariance holds a negative value');
  return {
    inputDim,
    units,
    kernel1,
    bias1,
    gamma: floats(head.bn.gamma, 'bn.gamma', units),
    beta: floats(head.bn.beta, 'bn.beta', units),
    mean: floats(head.bn.movingMean, 'bn.movingMean', units),
    variance,
    epsilon,
    kernel2: floats(head.dense2.kernel, 'dense2.kernel', units),
    bias2: floats(head.dense2.bias, 'dense2.bias', 1),
  };
}

/** Appends the head's nodes reading `pooled` [N, inputDim]; returns the logit [N, 1] (before the sigmoid). */
function addHeadNodes(g: OnnxGraphBuilder, pooled: string, h: CheckedHead): string {
  const dense1 = g.node('Gemm', [pooled, g.floatConst('head/dense1/kernel', [h.inputDim, h.units], h.kernel1), g.floatConst('head/dense1/bias', [h.units], h.bias1)], 'head/dense1');
  const relu = g.node('Relu', [dense1], 'head/dense1/relu');
  const bn = g.node(
    'BatchNormalization',
    [
      relu,
      g.floatConst('head/bn/gamma', [h.units], h.gamma),
      g.floatConst('head/bn/beta', [h.units], h.beta),
      g.floatConst('head/bn/moving_mean', [h.units], h.mean),
      g.floatConst('head/bn/moving_variance', [h.units], h.variance),
    ],
    'head/bn',
    [attr.float('epsilon', h.epsilon)],
  );
  // Dropout is the identity at inference.
  return g.node('Gemm', [bn, g.floatConst('head/dense2/kernel', [h.units, 1], h.kernel2), g.floatConst('head/dense2/bias', [1], h.bias2)], 'head/dense2');
}

/** Rows [from, to) of a batch; `to` is a 1-element int64 tensor name, or omitted for "to the end". */
function batchRows(g: OnnxGraphBuilder, x: string, from: string, to: string | undefined, base: string, exactName = false): string {
  const end = to ?? g.int64Const(`${base}/end`, [Number.MAX_SAFE_INTEGER]);
  return g.node('Slice', [x, from, end, g.int64Const(`${base}/axes`, [0])], base, [], exactName);
}

function headMetadata(h: CheckedHead): Record<string, string> {
  return { head: 'gap-dense-relu-bn-dropout-dense-sigmoid', head_input_dim: String(h.inputDim), head_units: String(h.units) };
}

function outputDims(v: ValueInfoProto): Dim[] {
  return (v.type?.tensorType?.shape?.dim ?? []).map((d) => (d.dimParam ? d.dimParam : int64(d.dimValue)));
}

/** Keeps only the nodes and initializers the graph outputs need. */
function prune(nodes: NodeProto[], initializers: TensorProto[], outputs: string[]): { nodes: NodeProto[]; initializers: TensorProto[] } {
  const producer = new Map<string, number>();
  nodes.forEach((n, i) => n.output.forEach((o) => producer.set(o, i)));
  const keep = new Set<number>();
  const needed = new Set<string>();
  const stack = [...outputs];
  while (stack.length) {
    const t = stack.pop() as string;
    if (needed.has(t)) continue;
    needed.add(t);
    const i = producer.get(t);
    if (i === undefined || keep.has(i)) continue;
    keep.add(i);
    for (const input of nodes[i].input) if (input) stack.push(input);
  }
  return { nodes: nodes.filter((_, i) => keep.has(i)), initializers: initializers.filter((t) => needed.has(t.name)) };
}

function readBackbone(backbone: string | Uint8Array): ModelProto {
  if (typeof backbone === 'string') {
    if (!fs.existsSync(backbone)) throw new ConversionError('BAD_ONNX', `backbone file ${backbone} does not exist`);
    return decodeModel(fs.readFileSync(backbone));
  }
  if (!(backbone instanceof Uint8Array)) throw new ConversionError('BAD_ONNX', 'the backbone must be a file path or ONNX bytes');
  return decodeModel(backbone);
}

/**
 * One ONNX model: input `image` [N,H,W,3] (the backbone's), outputs `p_synthetic` [N,1] and
 * `features` (the feature map, NHWC). Deterministic: the same backbone and head give the same bytes.
 */
export function buildDetectorOnnx(backbone: string | Uint8Array, head: HeadWeights, options: DetectorOptions = {}): Uint8Array {
  const h = checkHead(head);
  const model = readBackbone(backbone);
  const graph = model.graph;
  const meta = new Map((model.metadataProps ?? []).map((p) => [p.key, p.value]));
  if (graph.input.length !== 1) throw new ConversionError('BAD_ONNX', `the backbone has ${graph.input.length} inputs; expected one image input`);
  const featureName = options.featureOutput ?? meta.get('feature_layer') ?? graph.output.find((o) => o.name !== POOLED_OUTPUT)?.name;
  const featureInfo = graph.output.find((o) => o.name === featureName);
  if (!featureName || !featureInfo) {
    throw new ConversionError('BAD_ONNX', `the backbone has no output ${String(featureName)} (outputs: ${graph.output.map((o) => o.name).join(', ')})`);
  }
  const featureDims = outputDims(featureInfo);
  if (featureDims.length !== 4) throw new ConversionError('BAD_ONNX', `backbone output ${featureName} is not a feature map [N,h,w,c]`);
  const inputs = options.headInputs ?? [{ output: featureName, pooling: 'mean' as const }];
  const channelsOf = (name: string): number => {
    const info = graph.output.find((o) => o.name === name);
    const dims = info ? outputDims(info) : [];
    if (dims.length !== 4 || typeof dims[3] !== 'number') throw new ConversionError('BAD_ONNX', `the backbone has no feature map output ${name} (outputs: ${graph.output.map((o) => o.name).join(', ')})`);
    return dims[3];
  };
  const featureIndex = inputs.findIndex((i) => i.output === featureName);
  if (featureIndex < 0 || inputs[featureIndex].pooling !== 'mean' || inputs.filter((i) => i.output === featureName).length !== 1) {
    throw new ConversionError('BAD_HEAD', `the head's inputs must include the feature map ${featureName} once, mean-pooled`);
  }
  for (const i of inputs) if (i.pooling !== 'mean' && i.pooling !== 'mean-std') throw new ConversionError('BAD_HEAD', `unknown pooling ${String(i.pooling)} for ${i.output}`);
  const rowsOf = (i: HeadInput) => channelsOf(i.output) * (i.pooling === 'mean-std' ? 2 : 1);
  const totalRows = inputs.reduce((s, i) => s + rowsOf(i), 0);
  if (totalRows !== h.inputDim) {
    throw new ConversionError('BAD_HEAD', `the head expects ${h.inputDim} features but ${inputs.map((i) => `${i.output} ${i.pooling}`).join(' + ')} give ${totalRows}`);
  }

  const g = new OnnxGraphBuilder();
  for (const n of graph.node) for (const o of n.output) g.unique(o);
  for (const t of graph.initializer) g.unique(t.name);
  const imageName = graph.input[0].name;
  for (const reserved of [P_SYNTHETIC_OUTPUT, FEATURES_OUTPUT]) {
    if (g.has(reserved) || reserved === imageName) throw new ConversionError('BAD_ONNX', `the backbone already uses the name ${reserved}`);
  }
  if (g.has(HEAD_CONTEXT_OUTPUT) || HEAD_CONTEXT_OUTPUT === imageName) throw new ConversionError('BAD_ONNX', `the backbone already uses the name ${HEAD_CONTEXT_OUTPUT}`);
  const pooledInfo = graph.output.find((o) => o.name === POOLED_OUTPUT);
  const pooledFrom = meta.get('pooled_from');
  const outputs = [P_SYNTHETIC_OUTPUT, FEATURES_OUTPUT];
  // Mirrored: the backbone reads [images; mirrored images] (2N), and every output keeps the first N
  // rows except p_synthetic, the sigmoid of the two logits' mean.
  const mirror = options.mirror === true;
  let backboneInput = IMAGE_INPUT;
  let firstRows = (x: string, name: string) => g.node('Identity', [x], name, [], true);
  let probability = (logit: string) => g.node('Sigmoid', [logit], P_SYNTHETIC_OUTPUT, [], true);
  if (mirror) {
    g.unique(IMAGE_INPUT);
    const zero = g.int64Const('mirror/zero', [0]);
    const n = g.node('Slice', [g.node('Shape', [IMAGE_INPUT], 'mirror/shape'), zero, g.int64Const('mirror/one', [1])], 'mirror/n');
    // Width is axis 2 of NHWC; a negative step reads it backwards.
    const flipped = g.node('Slice', [IMAGE_INPUT, g.int64Const('mirror/last', [-1]), g.int64Const('mirror/before_first', [Number.MIN_SAFE_INTEGER]), g.int64Const('mirror/width_axis', [2]), g.int64Const('mirror/back', [-1])], 'mirror/flipped');
    backboneInput = g.node('Concat', [IMAGE_INPUT, flipped], 'mirror/both', [attr.int('axis', 0)]);
    firstRows = (x, name) => batchRows(g, x, zero, n, name, true);
    probability = (logit) => {
      const sum = g.node('Add', [batchRows(g, logit, zero, n, 'mirror/logit_plain'), batchRows(g, logit, n, undefined, 'mirror/logit_mirrored')], 'mirror/logit_sum');
      return g.node('Sigmoid', [g.node('Mul', [sum, g.floatConst('mirror/half', [1], new Float32Array([0.5]))], 'mirror/logit_mean')], P_SYNTHETIC_OUTPUT, [], true);
    };
  }
  const mirrorNodes = g.nodes.splice(0);
  if (inputs.length === 1) {
    // The converter's `pooled` is the mean of the feature map; recompute it if the backbone lacks it.
    const pooled =
      pooledInfo && (pooledFrom === undefined || pooledFrom === featureName)
        ? POOLED_OUTPUT
        : g.node('ReduceMean', [featureName], 'head/gap', [attr.ints('axes', [1, 2]), attr.int('keepdims', 0)]);
    probability(addHeadNodes(g, pooled, h));
  } else {
    const pooled = inputs.map((i, k) => poolNodes(g, i, `head/pool${k}`));
    probability(addHeadNodes(g, g.node('Concat', pooled, 'head/inputs', [attr.int('axis', 1)]), h));
    // head_context = the other inputs times their rows of dense1's kernel.
    const others = pooled.filter((_, k) => k !== featureIndex);
    const otherRows: number[] = [];
    let row = 0;
    for (const [k, i] of inputs.entries()) {
      const n = rowsOf(i);
      if (k !== featureIndex) for (let r = row; r < row + n; r++) otherRows.push(r);
      row += n;
    }
    const kernel = new Float32Array(otherRows.length * h.units);
    otherRows.forEach((r, j) => kernel.set(h.kernel1.subarray(r * h.units, (r + 1) * h.units), j * h.units));
    const otherInput = others.length === 1 ? others[0] : g.node('Concat', others, 'head/context_inputs', [attr.int('axis', 1)]);
    const contextKernel = g.floatConst('head/context_kernel', [otherRows.length, h.units], kernel);
    if (mirror) firstRows(g.node('MatMul', [otherInput, contextKernel], 'head/context'), HEAD_CONTEXT_OUTPUT);
    else g.node('MatMul', [otherInput, contextKernel], HEAD_CONTEXT_OUTPUT, [], true);
    outputs.push(HEAD_CONTEXT_OUTPUT);
  }
  firstRows(featureName, FEATURES_OUTPUT);

  const renameInput = (name: string) => (name === imageName ? backboneInput : name);
  const backboneNodes = graph.node.map((n) => (n.input.includes(imageName) && imageName !== backboneInput ? { ...n, input: n.input.map(renameInput) } : n));
  const { nodes, initializers } = prune([...mirrorNodes, ...backboneNodes, ...g.nodes], [...graph.initializer, ...g.initializers], outputs);
  const inputInfo = { ...graph.input[0], name: IMAGE_INPUT };
  const metadata: Record<string, string> = {
    ...Object.fromEntries(meta),
    ...headMetadata(h),
    feature_layer: featureName,
    outputs: outputs.join(','),
    ...(inputs.length > 1 ? { head_inputs: inputs.map((i) => `${i.output}:${i.pooling}`).join('+') } : {}),
    ...(mirror ? { mirror: 'mean-logit' } : {}),
    ...options.metadata,
  };
  delete metadata.pooled_from;
  return encodeModel(
    makeModel(
      {
        name: 'detector',
        node: nodes,
        initializer: initializers,
        input: [inputInfo],
        output: [
          valueInfo(P_SYNTHETIC_OUTPUT, [featureDims[0], 1]),
          valueInfo(FEATURES_OUTPUT, featureDims),
          ...(inputs.length > 1 ? [valueInfo(HEAD_CONTEXT_OUTPUT, [featureDims[0], h.units])] : []),
        ],
      },
      metadata,
    ),
  );
}

/**
 * [N, c] channel means of an NHWC map, or [N, 2c] means then standard deviations (population, as
 * feature-cache's poolFeatureMap computes them for training), computed around the mean for accuracy.
 */
function poolNodes(g: OnnxGraphBuilder, input: HeadInput, prefix: string): string {
  const axes = [attr.ints('axes', [1, 2])];
  if (input.pooling === 'mean') return g.node('ReduceMean', [input.output], `${prefix}/mean`, [...axes, attr.int('keepdims', 0)]);
  const mean = g.node('ReduceMean', [input.output], `${prefix}/mean_keep`, [...axes, attr.int('keepdims', 1)]);
  const centred = g.node('Sub', [input.output, mean], `${prefix}/centred`);
  const variance = g.node('ReduceMean', [g.node('Mul', [centred, centred], `${prefix}/squared`)], `${prefix}/variance`, [...axes, attr.int('keepdims', 0)]);
  const std = g.node('Sqrt', [variance], `${prefix}/std`);
  const flatMean = g.node('ReduceMean', [input.output], `${prefix}/mean`, [...axes, attr.int('keepdims', 0)]);
  return g.node('Concat', [flatMean, std], `${prefix}/mean_std`, [attr.int('axis', 1)]);
}

/** The head alone: input `features` [N,h,w,c] (NHWC) → output `p_synthetic` [N,1]. */
export function buildHeadOnnx(head: HeadWeights, options: HeadOnnxOptions = {}): Uint8Array {
  const h = checkHead(head);
  const shape = options.featureShape;
  if (shape !== undefined && (shape.length !== 3 || shape[2] !== h.inputDim || shape.some((d) => !Number.isInteger(d) || d < 1))) {
    throw new ConversionError('BAD_HEAD', `featureShape ${JSON.stringify(shape)} does not fit a head of ${h.inputDim} inputs`);
  }
  const g = new OnnxGraphBuilder();
  g.unique(FEATURES_OUTPUT);
  const pooled = g.node('ReduceMean', [FEATURES_OUTPUT], 'head/gap', [attr.ints('axes', [1, 2]), attr.int('keepdims', 0)]);
  g.node('Sigmoid', [addHeadNodes(g, pooled, h)], P_SYNTHETIC_OUTPUT, [], true);
  const dims: Dim[] = shape ? ['N', ...shape] : ['N', 'h', 'w', h.inputDim];
  return encodeModel(
    makeModel(
      {
        name: 'head',
        node: g.nodes,
        initializer: g.initializers,
        input: [valueInfo(FEATURES_OUTPUT, dims)],
        output: [valueInfo(P_SYNTHETIC_OUTPUT, ['N', 1])],
      },
      { ...headMetadata(h), input_layout: 'NHWC', ...options.metadata },
    ),
  );
}

/** p(synthetic) of pooled features [n, inputDim] in float64, the reference the ONNX head must match. */
export function scoreHeadReference(head: HeadWeights, pooled: Float32Array | ArrayLike<number>): Float64Array {
  const h = checkHead(head);
  if (pooled.length % h.inputDim !== 0) throw new ConversionError('BAD_HEAD', `${pooled.length} feature values are not rows of ${h.inputDim}`);
  const n = pooled.length / h.inputDim;
  const out = new Float64Array(n);
  for (let r = 0; r < n; r++) {
    let z = h.bias2[0];
    for (let u = 0; u < h.units; u++) {
      let a = h.bias1[u];
      for (let i = 0; i < h.inputDim; i++) a += pooled[r * h.inputDim + i] * h.kernel1[i * h.units + u];
      a = Math.max(a, 0);
      const b = ((a - h.mean[u]) / Math.sqrt(h.variance[u] + h.epsilon)) * h.gamma[u] + h.beta[u];
      z += b * h.kernel2[u];
    }
    out[r] = 1 / (1 + Math.exp(-z));
  }
  return out;
}


/** Name of the input added by withPaperRgbInput. */
export const PAPER_RGB_INPUT = 'paper_rgb';
const TENSOR_UINT8 = 2;

export interface PaperRgbInputOptions {
  /** value = pixel × scale[c] + offset[c]: the backbone's normalisation (the model card's). */
  normalisation: { scale: readonly number[]; offset: readonly number[] };
  /** Side of the decoded square images fed in (the paper's 256). */
  paperSize?: number;
}

/**
 * The same model with its preprocessing moved into the graph: input `paper_rgb` uint8 [N,256,256,3]
 * (the decoder's 256×256 RGB bytes) → float → bilinear resize to the model's input size (half-pixel
 * centres, the arithmetic of toModelInput in electron/services/engine/preprocess.ts) → normalisation
 * → the original input. Why: onnxruntime-node runs a batch on the JS main thread, so preprocessing
 * done in JS cannot overlap inference; in the graph it runs on the session's threads.
 */
export function withPaperRgbInput(model: Uint8Array, options: PaperRgbInputOptions): Uint8Array {
  const m = decodeModel(model);
  const graph = m.graph;
  if (graph.input.length !== 1) throw new ConversionError('BAD_ONNX', `the model has ${graph.input.length} inputs; expected one image input`);
  const input = graph.input[0];
  const dims = input.type.tensorType.shape.dim.map((d) => (d.dimValue !== undefined && d.dimValue !== null ? int64(d.dimValue) : undefined));
  const size = dims[1];
  if (dims.length !== 4 || size === undefined || dims[2] !== size || dims[3] !== 3) {
    throw new ConversionError('BAD_ONNX', `the model input ${input.name} is not NHWC [N, S, S, 3]`);
  }
  const paper = options.paperSize ?? 256;
  const { scale, offset } = options.normalisation;
  if (scale.length !== 3 || offset.length !== 3 || ![...scale, ...offset].every(Number.isFinite)) {
    throw new ConversionError('BAD_ONNX', 'normalisation needs three finite scales and offsets');
  }
  return withInputPrefix(
    model,
    { name: PAPER_RGB_INPUT, exact: true, valueInfo: (image, name) => valueInfo(name, [image.type.tensorType.shape.dim[0]?.dimParam ?? 'N', paper, paper, 3], TENSOR_UINT8) },
    'paper',
    (g, nchw) => {
      let x = g.node('Cast', [nchw], 'paper/float', [attr.int('to', 1)]);
      if (size !== paper) {
        const ratio = Math.fround(size / paper);
        // Resize derives the output size from the scale; it must land exactly on the model's size.
        if (Math.floor(paper * ratio) !== size) throw new ConversionError('BAD_ONNX', `cannot resize ${paper} to ${size} with an exact scale`);
        const scales = g.floatConst('paper/scales', [4], new Float32Array([1, 1, ratio, ratio]));
        x = g.node('Resize', [x, '', scales], 'paper/resized', [
          attr.string('mode', 'linear'),
          attr.string('coordinate_transformation_mode', 'half_pixel'),
        ]);
      }
      x = g.node('Mul', [x, g.floatConst('paper/scale', [1, 3, 1, 1], Float32Array.from(scale))], 'paper/scaled');
      return g.node('Add', [x, g.floatConst('paper/offset', [1, 3, 1, 1], Float32Array.from(offset))], 'paper/normalised');
    },
  );
}
