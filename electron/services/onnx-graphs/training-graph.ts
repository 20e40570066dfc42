// Compiles "backbone layer graph + the paper's head → weighted BCE loss, probabilities and the
// gradient of the loss with respect to every trainable weight" into one ONNX graph, so fine-tuning
// runs in onnxruntime (any execution provider) instead of tfjs's pure-JS CPU backend.
//
// The reverse pass is written out as ONNX ops, as for the explainers' layer gradients: a ReLU is a
// mask of its output, a frozen-statistics BatchNorm a per-channel scale, the input gradient of a
// convolution a convolution with the flipped kernel (stride 1) or a ConvTranspose (strided). Weight
// gradients are correlations of the (padded) input with the output gradient: for Conv2D at stride 1,
// per kernel offset one Slice of the input and one batched MatMul; strided, one dilated 3-D
// convolution; for DepthwiseConv2D in a graph compiled for its batch, one grouped convolution per
// (image, channel), otherwise per offset a multiply-and-sum (stride 1) or the 3-D convolution. Trainable weights are graph
// inputs in their Keras layout (so the optimiser, tfjs and the converter all see the same arrays and
// nothing is re-serialised per step); frozen layers are initializers. BatchNorm runs in inference
// mode (the frozen running statistics, as Keras does when fine-tuning with small batches); γ and β
// of trainable BatchNorms are trained. Dropout's mask is an input, drawn by the caller's seeded RNG.
import { zeroPaddingOf, type GraphLayer } from '../explainers/layer-graph';
import { ConversionError } from './conversion-error';
import { NchwcGraph } from './nchwc';
import { activationBuilder, activationLayer } from './activation-gradients';
import { attr, encodeModel, makeModel, OnnxGraphBuilder, valueInfo } from './onnx-proto';
import { averagePoolReciprocalCounts, kerasPadding, kerasToOnnxKernel, convTransposeAttributes, pair, transposeOutputPadding, type Shape, type Value } from './conv-geometry';

/** One layer as in a tfjs layers model: the explainers' layer graph, read the same way. */
export type TrainingGraphLayer = GraphLayer;

/** The paper's head: GAP → Dense(units)+ReLU → BatchNorm → Dropout → Dense(1)+sigmoid. */
export interface TrainingHead {
  dense1: { kernel: Float32Array; bias: Float32Array; units: number };
  bn: { gamma: Float32Array; beta: Float32Array; movingMean: Float32Array; movingVariance: Float32Array; epsilon: number };
  dense2: { kernel: Float32Array; bias: Float32Array };
}

export interface TrainingGraphOptions {
  /** The backbone layer whose output the head pools. */
  featureLayer: string;
  /** Input image size [h, w, c] (NHWC, already normalised as the backbone expects). */
  inputShape: readonly [number, number, number];
  /** Backbone layers whose weights are trained; the head is always trained. */
  trainableLayers: ReadonlySet<string>;
  head: TrainingHead;
  /** Loss and probabilities only (validation, and the benchmark's forward-alone bound). */
  forwardOnly?: boolean;
  /**
   * Compile for exactly this many images per run. The depthwise weight gradients then run as one
   * grouped convolution over every (image, channel) pair, whose group count must be in the graph
   * (the whole MobileNetV2 step 12 % faster than tap by tap, fine-tune-profile.ts); runTrainingGraph
   * pads a short batch with zero-weight rows.
   */
  batchSize?: number;
  /**
   * The CPU provider's NCHWc block size (nchwc.ts), for a graph that runs on onnxruntime's CPU
   * provider only: the depthwise input gradients, and with a batch size the depthwise weight
   * gradients, then run in its direct NCHWc convolution (the weight gradients 5–6× faster per layer
   * than the grouped Conv, which unfolds every map nine times).
   */
  nchwcBlockSize?: number;
}

export type ParamKind = 'conv_kernel' | 'depthwise_kernel' | 'bias' | 'bn_gamma' | 'bn_beta' | 'dense_kernel';

/** A trainable weight: a graph input (Keras layout) and the output holding its gradient. */
export interface TrainableParam {
  /** The graph input name, also "<layer>/<weight>" as tfjs weight manifests name it. */
  name: string;
  layer: string;
  weight: string;
  kind: ParamKind;
  shape: number[];
  /** The value the graph was compiled from (the starting point). */
  initial: Float32Array;
  gradient: string;
  /** True for the paper's head, false for backbone layers. */
  head: boolean;
}

export interface TrainingGraph {
  bytes: Uint8Array;
  /** The batch size the graph was compiled for (options.batchSize); absent when any size runs. */
  batchSize?: number;
  params: TrainableParam[];
  /** Backbone layers whose weights are trained, in order. */
  trainedLayers: string[];
  featureShape: { c: number; h: number; w: number };
}

export const TRAIN_IMAGES_INPUT = 'images';
export const TRAIN_LABELS_INPUT = 'labels';
export const TRAIN_WEIGHTS_INPUT = 'sample_weights';
export const TRAIN_DROPOUT_INPUT = 'dropout_mask';
export const TRAIN_LOSS_OUTPUT = 'loss';
export const TRAIN_P_OUTPUT = 'p_synthetic';
export const TRAIN_LOGIT_OUTPUT = 'logit';
export const HEAD_LAYERS = { dense1: 'head_dense1', bn: 'head_bn', dense2: 'head_dense2' } as const;


function unsupported(layer: TrainingGraphLayer, what: string): never {
  throw new ConversionError('UNSUPPORTED_LAYER', `Layer ${layer.name} (${layer.className}): ${what} has no training gradient`);
}


function padding(mode: unknown, inSize: number, k: number, s: number, layer: TrainingGraphLayer): { out: number; before: number; after: number } {
  return kerasPadding(mode, inSize, k, s) ?? unsupported(layer, `padding "${String(mode)}"`);
}

/** The layers the feature layer depends on, in topological order, and the input layer. */
function neededLayers(layers: readonly TrainingGraphLayer[], featureLayer: string): { ordered: TrainingGraphLayer[]; input: TrainingGraphLayer } {
  const byName = new Map(layers.map((l) => [l.name, l]));
  if (!byName.has(featureLayer)) throw new ConversionError('UNKNOWN_OUTPUT', `The backbone has no layer "${featureLayer}"`);
  const needed = new Set<string>();
  const stack = [featureLayer];
  while (stack.length) {
    const name = stack.pop()!;
    if (needed.has(name)) continue;
    const layer = byName.get(name);
    if (!layer) throw new ConversionError('BAD_MODEL_SOURCE', `Layer "${name}" is referenced but not defined`);
    needed.add(name);
    stack.push(...layer.inbound);
  }
  const ordered = layers.filter((l) => needed.has(l.name));
  const inputs = ordered.filter((l) => l.inbound.length === 0);
  if (inputs.length !== 1) throw new ConversionError('BAD_MODEL_SOURCE', `Expected one input layer, found ${inputs.length}`);
  return { ordered: ordered.filter((l) => l !== inputs[0]), input: inputs[0] };
}


/**
 * Compiles the training graph. Inputs: `images` [N,h,w,c], `labels` [N] (1 = synthetic),
 * `sample_weights` [N], `dropout_mask` [N,units] (keep/(1-rate), or ones to evaluate) and one input
 * per trainable weight. Outputs: `loss` (Σ wᵢ·BCEᵢ / Σ wᵢ), `p_synthetic` [N], `logit` [N] and one
 * `grad:<param>` per trainable weight, in the weight's own shape.
 */
export function buildTrainingGraph(layers: readonly TrainingGraphLayer[], options: TrainingGraphOptions): TrainingGraph {
  const g = new OnnxGraphBuilder();
  const { ordered, input } = neededLayers(layers, options.featureLayer);
  for (const name of options.trainableLayers) {
    if (!ordered.some((l) => l.name === name)) throw new ConversionError('UNKNOWN_OUTPUT', `Trainable layer "${name}" is not on the path to ${options.featureLayer}`);
  }
  const params: TrainableParam[] = [];
  const fixedBatch = options.batchSize;
  if (fixedBatch !== undefined && !(Number.isInteger(fixedBatch) && fixedBatch >= 1)) throw new ConversionError('BAD_ONNX', `batch size ${fixedBatch} is not a whole number ≥ 1`);
  const N: number | string = fixedBatch ?? 'N';
  const graphInputs = [valueInfo(TRAIN_IMAGES_INPUT, [N, ...options.inputShape]), valueInfo(TRAIN_LABELS_INPUT, [N]), valueInfo(TRAIN_WEIGHTS_INPUT, [N])];
  const addParam = (layer: string, weight: string, kind: ParamKind, shape: number[], initial: Float32Array, head = false): string => {
    const name = `${layer}/${weight}`;
    if (initial.length !== shape.reduce((a, b) => a * b, 1)) throw new ConversionError('BAD_SHAPE', `${name}: ${initial.length} values for shape [${shape}]`);
    params.push({ name, layer, weight, kind, shape, initial: Float32Array.from(initial), gradient: `grad:${name}`, head });
    graphInputs.push(valueInfo(name, shape));
    return name;
  };
  const scalar = (base: string, v: number) => g.floatConst(base, [], new Float32Array([v]));
  const channelConst = (base: string, data: ArrayLike<number>) => g.floatConst(base, [1, data.length, 1, 1], Float32Array.from(data));
  const shapeConst = (base: string, dims: number[]) => g.int64Const(base, dims);
  const nchwc = options.nchwcBlockSize !== undefined ? new NchwcGraph(g, options.nchwcBlockSize) : undefined;
  // Opset 13: ReduceSum takes its axes as an input.
  const reduceSum = (x: string, axes: number[], out: string) => g.node('ReduceSum', [x, shapeConst(`${out}/axes`, axes)], out, [attr.int('keepdims', 0)]);
  // Σ over the batch axis of x [N, ...rest]: with the batch size compiled in, a row of ones times x
  // as [N, rest] (3.5× faster than ReduceSum over axis 0 on a 6.5M-value weight gradient).
  const sumOverImages = (x: string, rest: number[], out: string) =>
    fixedBatch === undefined
      ? reduceSum(x, [0], out)
      : g.node('Reshape', [g.node('MatMul', [g.floatConst(`${out}/ones`, [1, fixedBatch], new Float32Array(fixedBatch).fill(1)), g.node('Reshape', [x, shapeConst(`${out}/rows`, [fixedBatch, -1])], `${out}/rows`)], `${out}/mm`), shapeConst(`${out}/shape`, rest)], out);

  // Which values can reach a trainable weight backwards: only those need an input gradient.
  const upstreamTrainable = new Map<string, boolean>([[input.name, false]]);
  // (A layer "trains" only if it has weights to train: a padding or ReLU in the set does not count.)
  const hasTrainableWeights = (l: TrainingGraphLayer) => options.trainableLayers.has(l.name) && l.weights.length > 0 && ['Conv2D', 'DepthwiseConv2D', 'BatchNormalization'].includes(l.className);
  for (const l of ordered) upstreamTrainable.set(l.name, hasTrainableWeights(l) || l.inbound.some((n) => upstreamTrainable.get(n)));
  // A trainable convolution without activation whose only consumer is a trainable BatchNorm is folded
  // with it: one Conv with W·scale and the shifted bias, no BatchNorm pass, and γ's gradient from the
  // kernel's correlation (Σ dy·z = ⟨W, G⟩ + b·Σ dy), so no extra pass over the activations either.
  const consumers = new Map<string, number>();
  for (const l of ordered) for (const n of l.inbound) consumers.set(n, (consumers.get(n) ?? 0) + 1);
  const foldedInto = new Map<string, TrainingGraphLayer>();
  const foldedBns = new Set<string>();
  for (const bn of ordered) {
    if (bn.className !== 'BatchNormalization' || bn.inbound.length !== 1 || !hasTrainableWeights(bn)) continue;
    const conv = ordered.find((l) => l.name === bn.inbound[0]);
    if (!conv || (conv.className !== 'Conv2D' && conv.className !== 'DepthwiseConv2D') || !hasTrainableWeights(conv)) continue;
    if ((conv.config.activation ?? 'linear') !== 'linear' || consumers.get(conv.name) !== 1 || conv.name === options.featureLayer) continue;
    const axis = bn.config.axis == null ? -1 : Number(Array.isArray(bn.config.axis) ? bn.config.axis[0] : bn.config.axis);
    if (axis !== -1 && axis !== 3) continue;
    foldedInto.set(conv.name, bn);
    foldedBns.add(bn.name);
  }
  // A ZeroPadding2D read only by a "valid" convolution (MobileNetV2's strided blocks) becomes that
  // convolution's own padding: no Pad forward and no Slice backward over the block's largest maps.
  const paddingInto = new Map<string, { t: number; b: number; l: number; r: number }>();
  const paddingFolded = new Set<string>();
  for (const pad of ordered) {
    if (pad.className !== 'ZeroPadding2D' || consumers.get(pad.name) !== 1 || pad.name === options.featureLayer) continue;
    const conv = ordered.find((l) => l.inbound.includes(pad.name));
    if (!conv || (conv.className !== 'Conv2D' && conv.className !== 'DepthwiseConv2D') || (conv.config.padding ?? 'valid') !== 'valid') continue;
    paddingInto.set(conv.name, zeroPaddingOf(pad));
    paddingFolded.add(pad.name);
  }

  const activation = activationBuilder(g, unsupported);

  const [h0, w0, c0] = options.inputShape;
  const values = new Map<string, Value>();
  values.set(input.name, { name: g.node('Transpose', [TRAIN_IMAGES_INPUT], 'input/nchw', [attr.ints('perm', [0, 3, 1, 2])]), shape: { c: c0, h: h0, w: w0 } });
  // backward(dy) → input gradients (undefined where none is needed); weight gradients are emitted as outputs.
  type Backward = (dy: string) => (string | undefined)[];
  const backward = new Map<string, Backward>();
  const gradOutputs = new Map<string, string>();
  const emitGradient = (param: string, tensor: string) => gradOutputs.set(param, g.node('Identity', [tensor], `grad:${param}`, [], true));

  for (const layer of ordered) {
    const cfg = layer.config;
    const ins = layer.inbound.map((n) => {
      const v = values.get(n);
      if (!v) throw new ConversionError('BAD_MODEL_SOURCE', `Layer ${layer.name} reads ${n} before it is computed`);
      return v;
    });
    const x = ins[0];
    const base = layer.name;
    const trainable = options.trainableLayers.has(layer.name);
    const needDx = ins.map((_, i) => upstreamTrainable.get(layer.inbound[i]) === true);
    let out: Value;
    let back: Backward;
    switch (layer.className) {
      case 'Conv2D':
      case 'DepthwiseConv2D': {
        const depthwise = layer.className === 'DepthwiseConv2D';
        if ((cfg.data_format ?? 'channels_last') !== 'channels_last') unsupported(layer, 'channels_first');
        const [dh, dw] = pair(cfg.dilation_rate, 1);
        if (dh !== 1 || dw !== 1) unsupported(layer, 'dilation');
        const kShape = layer.weights[0].shape;
        const [kh, kw, cin, last] = kShape;
        if (depthwise && last !== 1) unsupported(layer, 'a depth multiplier other than 1');
        const cout = depthwise ? cin * last : last;
        const per = depthwise ? 1 : cin;
        const group = depthwise ? cin : 1;
        const kernelName = depthwise ? 'depthwise_kernel' : 'kernel';
        // W in ONNX layout [cout, per, kh, kw]: a constant, or the Keras-layout input transposed.
        let W: string;
        let kernelParam: string | undefined;
        if (trainable) {
          kernelParam = addParam(layer.name, kernelName, depthwise ? 'depthwise_kernel' : 'conv_kernel', kShape, layer.weights[0].values);
          // As one 2-D transpose where the layouts allow (depthwise [kh·kw, C]; 1×1 [cin, cout]):
          // onnxruntime's 4-D Transpose is 8× slower on MobileNetV2's top 1×1 kernel.
          const transposed2d = (rows: number, cols: number, shape: number[]) =>
            g.node('Reshape', [g.node('Transpose', [g.node('Reshape', [kernelParam as string, shapeConst(`${base}/k2`, [rows, cols])], `${base}/k2d`)], `${base}/kT`, [attr.ints('perm', [1, 0])]), shapeConst(`${base}/kshape`, shape)], `${base}/W`);
          W = depthwise
            ? transposed2d(kh * kw, cin, [cout, 1, kh, kw])
            : kh === 1 && kw === 1
              ? transposed2d(cin, cout, [cout, cin, 1, 1])
              : g.node('Transpose', [kernelParam], `${base}/W`, [attr.ints('perm', [3, 2, 0, 1])]);
        } else {
          W = g.floatConst(`${base}/W`, [cout, per, kh, kw], kerasToOnnxKernel(layer.weights[0].values, kShape, depthwise));
        }
        const useBias = cfg.use_bias !== false && layer.weights.length > 1;
        let biasParam: string | undefined;
        let B: string | undefined;
        if (useBias) {
          if (trainable) B = biasParam = addParam(layer.name, 'bias', 'bias', [cout], layer.weights[1].values);
          else B = g.floatConst(`${base}/B`, [cout], Float32Array.from(layer.weights[1].values));
        }
        // Folded BatchNorm: W ← W·scale, B ← (b − μ)·scale + β, with scale = γ·invStd.
        const bnFold = foldedInto.get(layer.name);
        let fold: { scale: string; gammaP?: string; betaP?: string; meanT: string; invT: string; rawBias?: string } | undefined;
        if (bnFold) {
          const bc = bnFold.config;
          let wi = 0;
          const gammaV = bc.scale !== false ? bnFold.weights[wi++].values : null;
          const betaV = bc.center !== false ? bnFold.weights[wi++].values : null;
          const meanV = bnFold.weights[wi++].values;
          const varV = bnFold.weights[wi++].values;
          const epsV = Number(bc.epsilon ?? 1e-3);
          const gammaP = gammaV ? addParam(bnFold.name, 'gamma', 'bn_gamma', [cout], gammaV) : undefined;
          const betaP = betaV ? addParam(bnFold.name, 'beta', 'bn_beta', [cout], betaV) : undefined;
          const invT = g.floatConst(`${bnFold.name}/invstd`, [cout], Float32Array.from(varV, (v) => 1 / Math.sqrt(v + epsV)));
          const meanT = g.floatConst(`${bnFold.name}/mean`, [cout], Float32Array.from(meanV));
          const scale = gammaP ? g.node('Mul', [gammaP, invT], `${bnFold.name}/scale`) : invT;
          W = g.node('Mul', [W, g.node('Reshape', [scale, shapeConst(`${base}/foldshape`, [cout, 1, 1, 1])], `${base}/scale4`)], `${base}/Wfolded`);
          const centred = g.node('Mul', [B ? g.node('Sub', [B, meanT], `${base}/bmm`) : g.node('Neg', [meanT], `${base}/negmean`), scale], `${base}/bscaled`);
          fold = { scale, gammaP, betaP, meanT, invT, rawBias: B };
          B = betaP ? g.node('Add', [centred, betaP], `${base}/Bfolded`) : centred;
        }
        const [sh, sw] = pair(cfg.strides, 1);
        const zp = paddingInto.get(layer.name) ?? { t: 0, b: 0, l: 0, r: 0 };
        const ph0 = padding(cfg.padding, x.shape.h + zp.t + zp.b, kh, sh, layer);
        const pw0 = padding(cfg.padding, x.shape.w + zp.l + zp.r, kw, sw, layer);
        const ph = { out: ph0.out, before: ph0.before + zp.t, after: ph0.after + zp.b };
        const pw = { out: pw0.out, before: pw0.before + zp.l, after: pw0.after + zp.r };
        const pads = [ph.before, pw.before, ph.after, pw.after];
        // A depthwise layer on the CPU runs forward in the NCHWc convolution too (onnxruntime's own
        // NCHWc rewrite needs constant filters; the plain grouped Conv unfolds every map nine times).
        // Its reordered input is the one the weight gradient reads.
        const z =
          depthwise && nchwc?.fits(cin)
            ? nchwc.unblocked(nchwc.depthwiseConv(nchwc.blocked(x.name), nchwc.depthwiseFilter(W, cin, [kh, kw], `${base}/filter`), cin, { kernel: [kh, kw], pads, strides: [sh, sw], bias: B }, `${base}/conv/blocked`), cin, `${base}/conv`)
            : g.node('Conv', B ? [x.name, W, B] : [x.name, W], `${base}/conv`, [attr.ints('kernel_shape', [kh, kw]), attr.ints('strides', [sh, sw]), attr.ints('pads', pads), attr.int('group', group)]);
        const act = activation(layer, z, cfg.activation);
        out = { name: act.y, shape: { c: cout, h: ph.out, w: pw.out } };
        const outPad = transposeOutputPadding(x.shape, ph, pw, [kh, kw], [sh, sw]);
        if (outPad[0] < 0 || outPad[1] < 0 || outPad[0] >= sh || outPad[1] >= sw) unsupported(layer, 'this stride/padding combination');
        // A 1×1 stride-1 Conv2D on the CPU runs its reverse pass in the NCHWc layout: dz blocked (the
        // depthwise layer after it hands its dx over blocked, and the mask reads the blocked output
        // the depthwise forward made), the weight gradient one batched MatMul of the plain x by
        // dz's channel blocks, dx one NCHWc 1×1 convolution (2–3× faster than the plain Conv).
        const pointwise =
          !depthwise && kh === 1 && kw === 1 && sh === 1 && sw === 1 && !pads.some((p) => p > 0) && nchwc?.fits(cin) && nchwc.fits(cout) ? nchwc : undefined;
        back = (dy) => {
          let dz: string;
          let blockedDz: string | undefined;
          if (pointwise) {
            const dyB = pointwise.knownBlocked(dy);
            const yB = pointwise.knownBlocked(act.y);
            blockedDz = !act.mask ? pointwise.blocked(dy) : dyB && yB ? act.mask(dyB, yB, `${base}/bwd`) : pointwise.blocked(act.mask(dy, act.y, `${base}/bwd`));
            dz = blockedDz;
          } else dz = act.mask ? act.mask(dy, act.y, `${base}/bwd`) : dy;
          // A depthwise layer's dz may exist blocked already (its ReLU masked it in that layout).
          const dzBlocks = blockedDz ?? (depthwise && nchwc?.fits(cout) ? nchwc.knownBlocked(dz) : undefined);
          // Blocked dz as [N, C/B, oh·ow, B] (the same memory).
          let dzCells: string | undefined;
          const cellsOf = (t: string) => (dzCells ??= g.node('Reshape', [t, shapeConst(`${base}/dzcells`, [0, cout / (nchwc as NchwcGraph).block, ph.out * pw.out, (nchwc as NchwcGraph).block])], `${base}/dz4`));
          // Σ dz over images and positions, per channel ([N, C/B, hw, B] against a row of ones when blocked).
          const sumOfDz = (out: string) =>
            dzBlocks
              ? g.node('Reshape', [sumOverImages(g.node('MatMul', [g.floatConst(`${base}/ones`, [1, ph.out * pw.out], new Float32Array(ph.out * pw.out).fill(1)), cellsOf(dzBlocks)], `${out}/cells`), [cout], `${out}/blocks`), shapeConst(`${out}/shape`, [cout])], out)
              : reduceSum(dz, [0, 2, 3], out);
          if (kernelParam) {
            // Weight gradient: dW[ky,kx] = Σ_{n,oy,ox} x_pad[n,:,oy·s+ky,ox·s+kx] ⊗ dz[n,:,oy,ox].
            const anyPad = pads.some((p) => p > 0);
            let G: string;
            if (blockedDz) {
              // [N, 1, cin, hw] × [N, C/B, hw, B] → [N, C/B, cin, B], summed over N, → [cin, cout].
              const perImage = g.node('MatMul', [g.node('Reshape', [x.name, shapeConst(`${base}/x4`, [0, 1, cin, ph.out * pw.out])], `${base}/x4r`), cellsOf(blockedDz)], `${base}/xdz`);
              G = g.node('Reshape', [g.node('Transpose', [sumOverImages(perImage, [cout / (nchwc as NchwcGraph).block, cin, (nchwc as NchwcGraph).block], `${base}/wsum`)], `${base}/wblocks`, [attr.ints('perm', [1, 0, 2])]), shapeConst(`${base}/gkshape`, kShape)], `${base}/G`);
            } else if (depthwise && fixedBatch !== undefined) {
              // Every (image, channel) pair its own group: x as [1, N·C, h, w] correlated with dz as
              // [N·C, 1, oh, ow] (dilated by the stride), then the batch summed: each group unfolds one
              // small map, where tap-by-tap products stream the whole batch nine times.
              const nc = fixedBatch * cin;
              const x2 = g.node('Reshape', [x.name, shapeConst(`${base}/x2`, [1, nc, x.shape.h, x.shape.w])], `${base}/xg`);
              let corr: string;
              if (nchwc && (nchwc.fits(cin) || nchwc.fits(nc))) {
                // The same correlation in onnxruntime's NCHWc convolution, which reads dz as its filter
                // as it is: x and dz reordered into channel blocks (dz's blocked memory is the blocked
                // depthwise filter of N·C groups), and the kh×kw result reordered back. With C a
                // multiple of the block, the reordered dz is the one the input gradient reads too.
                const perImage = nchwc.fits(cin);
                const dzMap = perImage ? dz : g.node('Reshape', [dz, shapeConst(`${base}/dz2`, [1, nc, ph.out, pw.out])], `${base}/dzimage`);
                const filter = nchwc.mapAsDepthwiseFilter(nchwc.blocked(dzMap), nc, [ph.out, pw.out], `${base}/dzfilter`);
                const image = nchwc.mapAsOneImage(nchwc.blocked(perImage ? x.name : x2), nc, x.shape.h, x.shape.w, `${base}/ximage`);
                corr = nchwc.unblocked(nchwc.depthwiseConv(image, filter, nc, { kernel: [ph.out, pw.out], dilations: [sh, sw], pads }, `${base}/wcorr/blocked`), nc, `${base}/wcorr`);
              } else {
                const k2 = g.node('Reshape', [dz, shapeConst(`${base}/k2`, [nc, 1, ph.out, pw.out])], `${base}/dzg`);
                corr = g.node('Conv', [x2, k2], `${base}/wcorr`, [attr.ints('dilations', [sh, sw]), attr.ints('pads', pads), attr.int('group', nc)]);
              }
              const cells = g.node('Slice', [g.node('Reshape', [corr, shapeConst(`${base}/c4`, [fixedBatch, cin, -1, (pw.before + pw.after + x.shape.w) - sw * (pw.out - 1)])], `${base}/corr4`), shapeConst(`${base}/ws`, [0, 0]), shapeConst(`${base}/we`, [kh, kw]), shapeConst(`${base}/wa`, [2, 3])], `${base}/wtaps`);
              G = g.node('Reshape', [g.node('Transpose', [sumOverImages(cells, [cin, kh, kw], `${base}/wsum`)], `${base}/wkeras`, [attr.ints('perm', [1, 2, 0])]), shapeConst(`${base}/gkshape`, kShape)], `${base}/G`);
            } else if (!depthwise && (sh !== 1 || sw !== 1) && cin * kh * kw <= 64) {
              // A strided Conv2D with few input taps (MobileNetV2's first layer: 3 channels, 3×3):
              // its input patches by one convolution with a one-hot filter, then one batched
              // MatMul with dz, summed over the batch.
              const taps = cin * kh * kw;
              const eye = new Float32Array(taps * taps);
              for (let t = 0; t < taps; t++) eye[t * taps + t] = 1;
              const patches = g.node('Conv', [x.name, g.floatConst(`${base}/patchfilter`, [taps, cin, kh, kw], eye)], `${base}/patches`, [attr.ints('kernel_shape', [kh, kw]), attr.ints('strides', [sh, sw]), attr.ints('pads', pads)]);
              const pT = g.node('Transpose', [g.node('Reshape', [patches, shapeConst(`${base}/p3`, [0, taps, -1])], `${base}/p3r`)], `${base}/pT`, [attr.ints('perm', [0, 2, 1])]);
              const prod = g.node('MatMul', [g.node('Reshape', [dz, shapeConst(`${base}/dz3`, [0, cout, -1])], `${base}/dz3r`), pT], `${base}/dzp`);
              // [cout, cin, kh, kw] → Keras [kh, kw, cin, cout]
              const w4 = g.node('Reshape', [sumOverImages(prod, [cout, taps], `${base}/wsum`), shapeConst(`${base}/w4`, [cout, cin, kh, kw])], `${base}/w4d`);
              G = g.node('Reshape', [g.node('Transpose', [w4], `${base}/wkeras`, [attr.ints('perm', [2, 3, 1, 0])]), shapeConst(`${base}/gkshape`, kShape)], `${base}/G`);
            } else if (sh !== 1 || sw !== 1) {
              // Strided: one 3-D convolution over (batch, y, x) of x by dz dilated by the stride, the
              // batch summed by the kernel's depth (its size is read from dz, so N stays dynamic).
              // Strided Slices per tap cost 2–5× as much in onnxruntime.
              const xV = g.node('Reshape', [g.node('Transpose', [x.name], `${base}/xT`, [attr.ints('perm', [1, 0, 2, 3])]), shapeConst(`${base}/xvol`, [depthwise ? 1 : cin, depthwise ? cin : 1, -1, x.shape.h, x.shape.w])], `${base}/xV`);
              const dzV = g.node('Reshape', [g.node('Transpose', [dz], `${base}/dzT`, [attr.ints('perm', [1, 0, 2, 3])]), shapeConst(`${base}/dzvol`, [cout, 1, -1, ph.out, pw.out])], `${base}/dzV`);
              const corr = g.node('Conv', [xV, dzV], `${base}/wcorr`, [attr.ints('dilations', [1, sh, sw]), attr.ints('pads', [0, ph.before, pw.before, 0, ph.after, pw.after]), attr.int('group', depthwise ? cin : 1)]);
              // [1|cin, C|cout, 1, ≥kh, ≥kw]: the first kh×kw cells are the taps.
              const taps = g.node('Reshape', [g.node('Slice', [corr, shapeConst(`${base}/ws`, [0, 0]), shapeConst(`${base}/we`, [kh, kw]), shapeConst(`${base}/wa`, [3, 4])], `${base}/wtaps`), shapeConst(`${base}/w4`, [depthwise ? 1 : cin, cout, kh, kw])], `${base}/w4d`);
              G = g.node('Reshape', [g.node('Transpose', [taps], `${base}/wkeras`, [attr.ints('perm', [2, 3, 0, 1])]), shapeConst(`${base}/gkshape`, kShape)], `${base}/G`);
            } else {
              // Stride 1: tap by tap, one Slice and one GEMM (Conv2D) or multiply-and-sum (depthwise).
              const xp = anyPad ? g.node('Pad', [x.name, shapeConst(`${base}/gpads`, [0, 0, ph.before, pw.before, 0, 0, ph.after, pw.after])], `${base}/xpad`) : x.name;
              const taps: string[] = [];
              if (depthwise) {
                for (let ky = 0; ky < kh; ky++)
                  for (let kx = 0; kx < kw; kx++) {
                    const xs = g.node(
                      'Slice',
                      [xp, shapeConst(`${base}/s${ky}${kx}`, [ky, kx]), shapeConst(`${base}/e${ky}${kx}`, [ky + sh * (ph.out - 1) + 1, kx + sw * (pw.out - 1) + 1]), shapeConst(`${base}/ax${ky}${kx}`, [2, 3]), shapeConst(`${base}/st${ky}${kx}`, [sh, sw])],
                      `${base}/xs${ky}${kx}`,
                    );
                    taps.push(reduceSum(g.node('Mul', [xs, dz], `${base}/xdz${ky}${kx}`), [0, 2, 3], `${base}/tap${ky}${kx}`));
                  }
              } else {
                // Per tap one batched MatMul, [N, cin, oh·ow] × [N, oh·ow, cout], summed over the batch:
                // onnxruntime folds the Transpose of dz into the MatMul, so no channel-major copy of the
                // whole batch is made for one GEMM (the step 2–3 % faster, fine-tune-profile.ts).
                const dzT = g.node('Transpose', [g.node('Reshape', [dz, shapeConst(`${base}/dz3`, [0, cout, -1])], `${base}/dz3r`)], `${base}/dzT`, [attr.ints('perm', [0, 2, 1])]);
                const flat = shapeConst(`${base}/xshape`, [0, cin, -1]);
                for (let ky = 0; ky < kh; ky++)
                  for (let kx = 0; kx < kw; kx++) {
                    const xs =
                      kh === 1 && kw === 1 && !anyPad
                        ? x.name
                        : g.node(
                            'Slice',
                            [xp, shapeConst(`${base}/s${ky}${kx}`, [ky, kx]), shapeConst(`${base}/e${ky}${kx}`, [ky + sh * (ph.out - 1) + 1, kx + sw * (pw.out - 1) + 1]), shapeConst(`${base}/ax${ky}${kx}`, [2, 3]), shapeConst(`${base}/st${ky}${kx}`, [sh, sw])],
                            `${base}/xs${ky}${kx}`,
                          );
                    taps.push(sumOverImages(g.node('MatMul', [g.node('Reshape', [xs, flat], `${base}/xsf${ky}${kx}`), dzT], `${base}/xdz${ky}${kx}`), [cin, cout], `${base}/tap${ky}${kx}`));
                  }
              }
              const stacked = taps.length === 1 ? taps[0] : g.node('Concat', taps.map((t) => g.node('Unsqueeze', [t, shapeConst(`${t}/ax`, [0])], `${t}/u`)), `${base}/taps`, [attr.int('axis', 0)]);
              G = g.node('Reshape', [stacked, shapeConst(`${base}/gkshape`, kShape)], `${base}/G`);
            }
            if (!fold) {
              emitGradient(kernelParam, G);
              if (biasParam) emitGradient(biasParam, sumOfDz(`${base}/db`));
            } else {
              // Keras layout puts the output channel last ([kh,kw,cin,cout]; depthwise [kh,kw,C,1]).
              const scaleK = depthwise ? g.node('Reshape', [fold.scale, shapeConst(`${base}/sk`, [cout, 1])], `${base}/scaleK`) : fold.scale;
              emitGradient(kernelParam, g.node('Mul', [G, scaleK], `${base}/dW`));
              const sumDy = sumOfDz(`${base}/sumdy`);
              if (biasParam) emitGradient(biasParam, g.node('Mul', [sumDy, fold.scale], `${base}/db`));
              if (fold.betaP) emitGradient(fold.betaP, g.node('Identity', [sumDy], `${bnFold!.name}/dbeta`));
              if (fold.gammaP) {
                const wg = reduceSum(g.node('Mul', [kernelParam, G], `${base}/WG`), depthwise ? [0, 1, 3] : [0, 1, 2], `${base}/wgsum`);
                const shift = g.node('Mul', [fold.rawBias ? g.node('Sub', [fold.rawBias, fold.meanT], `${base}/bmm2`) : g.node('Neg', [fold.meanT], `${base}/negmean2`), sumDy], `${base}/shiftdy`);
                emitGradient(fold.gammaP, g.node('Mul', [g.node('Add', [wg, shift], `${base}/sdyz`), fold.invT], `${bnFold!.name}/dgamma`));
              }
            }
          }
          if (!needDx[0]) return [undefined];
          if (pointwise && blockedDz) return [pointwise.unblocked(pointwise.conv(blockedDz, pointwise.transposedPointwiseFilter(W, cout, cin, `${base}/dx/filter`), { kernel: [1, 1], pads: [0, 0, 0, 0] }, `${base}/dx/blocked`), cin, `${base}/dx`)];
          // dx is a stride-1 convolution with the kernel flipped and its channel axes swapped; a
          // strided Conv2D first spreads dz out with zeros between its cells (onnxruntime's dense
          // Conv is far faster than its ConvTranspose).
          // (Made only where used: the ConvTranspose below reads W itself.)
          const flippedOnnx = () =>
            kh === 1 && kw === 1
              ? W
              : g.node(
                  'Slice',
                  [W, shapeConst(`${base}/fs`, [-1, -1]), shapeConst(`${base}/fe`, [-(kh + 1), -(kw + 1)]), shapeConst(`${base}/fa`, [2, 3]), shapeConst(`${base}/fst`, [-1, -1])],
                  `${base}/Wflip`,
                );
          if (depthwise && (sh !== 1 || sw !== 1) && nchwc?.fits(cout)) {
            // In the NCHWc layout, dz spread with zeros and one direct convolution beats the
            // ConvTranspose (MobileNetV2's four strided layers: 73 against 121 ms a step).
            const afterH = x.shape.h + ph.before - ph.out * sh;
            const afterW = x.shape.w + pw.before - pw.out * sw;
            if (afterH >= 0 && afterW >= 0) {
              const dxPads = [kh - 1 - ph.before, kw - 1 - pw.before, afterH, afterW];
              const blockedDz = nchwc.blocked(dz);
              const blockedDx = nchwc.depthwiseConv(nchwc.spread(blockedDz, cout, [sh, sw], { h: ph.out, w: pw.out }, `${base}/dx/spread`), nchwc.depthwiseFilter(flippedOnnx(), cout, [kh, kw], `${base}/dx/filter`), cout, { kernel: [kh, kw], pads: dxPads }, `${base}/dx/blocked`);
              return [nchwc.unblocked(blockedDx, cout, `${base}/dx`)];
            }
          }
          if (depthwise && (sh !== 1 || sw !== 1)) {
            // A strided depthwise layer: onnxruntime's grouped ConvTranspose beats spreading dz with
            // zeros and convolving (1.5–2×), and sub-pixel phase convolutions (1.1–1.2×).
            return [g.node('ConvTranspose', [dz, W], `${base}/dx`, convTransposeAttributes([kh, kw], [sh, sw], pads, outPad, group))];
          }
          const flipped = flippedOnnx();
          const WBack = depthwise ? flipped : g.node('Transpose', [flipped], `${base}/Wback`, [attr.ints('perm', [1, 0, 2, 3])]);
          let spread = dz;
          let afterH = kh - 1 - ph.after;
          let afterW = kw - 1 - pw.after;
          if (sh !== 1 || sw !== 1) {
            if (sh === sw) {
              // DepthToSpace (DCR) of [dz, 0, 0, …] along channels puts dz at the top-left of each s×s cell.
              const zerosShape = g.node('Concat', [g.node('Slice', [g.node('Shape', [dz], `${base}/dzshape0`), shapeConst(`${base}/n0`, [0]), shapeConst(`${base}/n1`, [1])], `${base}/nshape`), shapeConst(`${base}/zshape`, [(sh * sw - 1) * cout, ph.out, pw.out])], `${base}/zerosshape`, [attr.int('axis', 0)]);
              const zeros = g.node('ConstantOfShape', [zerosShape], `${base}/zeros`);
              spread = g.node('DepthToSpace', [g.node('Concat', [dz, zeros], `${base}/dzblocks`, [attr.int('axis', 1)])], `${base}/dzspread`, [attr.int('blocksize', sh), attr.string('mode', 'DCR')]);
            } else {
              // Broadcasting against a [1,…,s,1,s] pattern of one 1 and zeros spreads dz in one pass.
              const u = g.node('Unsqueeze', [dz, shapeConst(`${base}/uax`, [3, 5])], `${base}/dz6`);
              const pattern = new Float32Array(sh * sw);
              pattern[0] = 1;
              const padded = g.node('Mul', [u, g.floatConst(`${base}/spreadpattern`, [1, 1, 1, sh, 1, sw], pattern)], `${base}/dz6p`);
              spread = g.node('Reshape', [padded, shapeConst(`${base}/spread`, [0, 0, ph.out * sh, pw.out * sw])], `${base}/dzspread`);
            }
            // The spread map is s·out long; the correlation needs x.h + kh − 1 cells in all.
            afterH = x.shape.h + ph.before - ph.out * sh;
            afterW = x.shape.w + pw.before - pw.out * sw;
            if (afterH < 0 || afterW < 0) {
              spread = g.node(
                'Slice',
                [spread, shapeConst(`${base}/ss`, [0, 0]), shapeConst(`${base}/se`, [ph.out * sh + Math.min(0, afterH), pw.out * sw + Math.min(0, afterW)]), shapeConst(`${base}/sa`, [2, 3])],
                `${base}/dzspreadcut`,
              );
              afterH = Math.max(0, afterH);
              afterW = Math.max(0, afterW);
            }
          }
          const dxPads = [kh - 1 - ph.before, kw - 1 - pw.before, afterH, afterW];
          if (depthwise && nchwc?.fits(cout))
            return [nchwc.unblocked(nchwc.depthwiseConv(nchwc.blocked(spread), nchwc.depthwiseFilter(WBack, cout, [kh, kw], `${base}/dx/filter`), cout, { kernel: [kh, kw], pads: dxPads }, `${base}/dx/blocked`), cout, `${base}/dx`)];
          return [
            g.node('Conv', [spread, WBack], `${base}/dx`, [
              attr.ints('kernel_shape', [kh, kw]),
              attr.ints('strides', [1, 1]),
              attr.ints('pads', dxPads),
              attr.int('group', group),
            ]),
          ];
        };
        break;
      }
      case 'BatchNormalization': {
        if (foldedBns.has(layer.name)) {
          // Already applied inside its convolution.
          out = { name: g.node('Identity', [x.name], `${base}/folded`), shape: x.shape };
          nchwc?.sameAs(out.name, x.name);
          back = (dy) => [dy];
          break;
        }
        const axis = cfg.axis == null ? -1 : Number(Array.isArray(cfg.axis) ? cfg.axis[0] : cfg.axis);
        if (axis !== -1 && axis !== 3) unsupported(layer, `axis ${axis}`);
        let i = 0;
        const hasGamma = cfg.scale !== false;
        const hasBeta = cfg.center !== false;
        const gamma = hasGamma ? layer.weights[i++].values : null;
        const beta = hasBeta ? layer.weights[i++].values : null;
        const mean = layer.weights[i++].values;
        const variance = layer.weights[i++].values;
        const eps = Number(cfg.epsilon ?? 1e-3);
        const C = mean.length;
        const invStd = Array.from(variance, (v) => 1 / Math.sqrt(v + eps));
        if (!trainable) {
          const scale = Array.from(mean, (_, c) => (gamma ? gamma[c] : 1) * invStd[c]);
          const shift = Array.from(mean, (m, c) => (beta ? beta[c] : 0) - m * scale[c]);
          const S = channelConst(`${base}/scale`, scale);
          out = { name: g.node('Add', [g.node('Mul', [x.name, S], `${base}/mul`), channelConst(`${base}/shift`, shift)], `${base}/bn`), shape: x.shape };
          back = (dy) => [needDx[0] ? g.node('Mul', [dy, S], `${base}/dx`) : undefined];
          break;
        }
        // y = γ·(x − μ)·invStd + β with μ and invStd frozen: onnxruntime's BatchNormalization in
        // inference mode, γ and β fed as inputs.
        const gammaP = hasGamma ? addParam(layer.name, 'gamma', 'bn_gamma', [C], gamma!) : undefined;
        const betaP = hasBeta ? addParam(layer.name, 'beta', 'bn_beta', [C], beta!) : undefined;
        const meanT = g.floatConst(`${base}/mean`, [C], Float32Array.from(mean));
        out = {
          name: g.node(
            'BatchNormalization',
            [x.name, gammaP ?? g.floatConst(`${base}/ones`, [C], new Float32Array(C).fill(1)), betaP ?? g.floatConst(`${base}/zeros`, [C], new Float32Array(C)), meanT, g.floatConst(`${base}/var`, [C], Float32Array.from(variance))],
            `${base}/bn`,
            [attr.float('epsilon', eps)],
          ),
          shape: x.shape,
        };
        const invT = g.floatConst(`${base}/invstd`, [C], Float32Array.from(invStd));
        back = (dy) => {
          const sumDy = reduceSum(dy, [0, 2, 3], `${base}/dbeta`);
          if (betaP) emitGradient(betaP, sumDy);
          // dγ = invStd·(Σ dy·x − μ·Σ dy): one product pass instead of rebuilding x̂.
          if (gammaP) emitGradient(gammaP, g.node('Mul', [g.node('Sub', [reduceSum(g.node('Mul', [dy, x.name], `${base}/dyx`), [0, 2, 3], `${base}/sdyx`), g.node('Mul', [meanT, sumDy], `${base}/musdy`)], `${base}/dgs`), invT], `${base}/dgamma`));
          if (!needDx[0]) return [undefined];
          const S = g.node('Reshape', [gammaP ? g.node('Mul', [gammaP, invT], `${base}/scale`) : invT, shapeConst(`${base}/cshape`, [1, C, 1, 1])], `${base}/scale4`);
          return [g.node('Mul', [dy, S], `${base}/dx`)];
        };
        break;
      }
      case 'ReLU':
      case 'Activation':
      case 'LeakyReLU': {
        // After a layer whose output exists blocked (a depthwise convolution on the CPU), the
        // activation runs in that layout and its output is unblocked once; its mask runs blocked
        // when the gradient arrives blocked too, and hands its result on blocked.
        const xB = nchwc?.fits(x.shape.c) ? nchwc.knownBlocked(x.name) : undefined;
        const input = xB ?? x.name;
        const act = activationLayer(activation, layer, input);
        const y = act.y === input ? x.name : xB ? (nchwc as NchwcGraph).unblocked(act.y, x.shape.c, `${base}/y`) : act.y;
        out = { name: y === x.name ? g.node('Identity', [x.name], `${base}/id`) : y, shape: x.shape };
        back = (dy) => {
          if (!needDx[0]) return [undefined];
          if (!act.mask) return [dy];
          const dyB = nchwc?.fits(x.shape.c) ? nchwc.knownBlocked(dy) : undefined;
          const yB = nchwc?.knownBlocked(out.name);
          if (dyB && yB) return [(nchwc as NchwcGraph).unblocked(act.mask(dyB, yB, `${base}/bwd`), x.shape.c, `${base}/bwd/dx`)];
          return [act.mask(dy, out.name, `${base}/bwd`)];
        };
        break;
      }
      case 'Dropout':
        // Backbone dropout runs in inference mode (identity), as in the frozen-feature pipeline.
        out = { name: g.node('Identity', [x.name], `${base}/id`), shape: x.shape };
        back = (dy) => [needDx[0] ? dy : undefined];
        break;
      case 'ZeroPadding2D': {
        if (paddingFolded.has(layer.name)) {
          // Applied by the convolution that reads it.
          out = x;
          back = (dy) => [dy];
          break;
        }
        const { t, b, l, r } = zeroPaddingOf(layer);
        out = { name: g.node('Pad', [x.name, shapeConst(`${base}/pads`, [0, 0, t, l, 0, 0, b, r])], `${base}/pad`), shape: { c: x.shape.c, h: x.shape.h + t + b, w: x.shape.w + l + r } };
        back = (dy) => [
          needDx[0] ? g.node('Slice', [dy, shapeConst(`${base}/starts`, [t, l]), shapeConst(`${base}/ends`, [t + x.shape.h, l + x.shape.w]), shapeConst(`${base}/axes`, [2, 3])], `${base}/dx`) : undefined,
        ];
        break;
      }
      case 'Add':
        out = { name: g.node('Sum', ins.map((v) => v.name), `${base}/sum`), shape: x.shape };
        back = (dy) => ins.map((_, i) => (needDx[i] ? dy : undefined));
        break;
      case 'Concatenate': {
        const axis = Number(cfg.axis ?? -1);
        if (axis !== -1 && axis !== 3) unsupported(layer, `axis ${axis}`);
        out = { name: g.node('Concat', ins.map((v) => v.name), `${base}/concat`, [attr.int('axis', 1)]), shape: { ...x.shape, c: ins.reduce((n, v) => n + v.shape.c, 0) } };
        back = (dy) => {
          let start = 0;
          return ins.map((v, i) => {
            const from = start;
            start += v.shape.c;
            return needDx[i] ? g.node('Slice', [dy, shapeConst(`${base}/s${i}`, [from]), shapeConst(`${base}/e${i}`, [from + v.shape.c]), shapeConst(`${base}/a${i}`, [1])], `${base}/dx${i}`) : undefined;
          });
        };
        break;
      }
      case 'AveragePooling2D':
      case 'MaxPooling2D': {
        const [kh, kw] = pair(cfg.pool_size, 2);
        const [sh, sw] = pair(cfg.strides ?? cfg.pool_size, 2);
        const ph = padding(cfg.padding ?? 'valid', x.shape.h, kh, sh, layer);
        const pw = padding(cfg.padding ?? 'valid', x.shape.w, kw, sw, layer);
        const pads = [ph.before, pw.before, ph.after, pw.after];
        const shape = { c: x.shape.c, h: ph.out, w: pw.out };
        const outPad = transposeOutputPadding(x.shape, ph, pw, [kh, kw], [sh, sw]);
        const spreadBack = (d: string, tag: string) => {
          if (outPad[0] < 0 || outPad[1] < 0 || outPad[0] >= sh || outPad[1] >= sw) unsupported(layer, 'this stride/padding combination');
          return g.node('ConvTranspose', [d, g.floatConst(`${base}/ones`, [x.shape.c, 1, kh, kw], new Float32Array(x.shape.c * kh * kw).fill(1))], `${base}/${tag}`, convTransposeAttributes([kh, kw], [sh, sw], pads, outPad, x.shape.c));
        };
        if (layer.className === 'AveragePooling2D') {
          // Keras averages over the cells inside the image only.
          const counts = averagePoolReciprocalCounts(x.shape, ph, pw, [kh, kw], [sh, sw]);
          out = { name: g.node('AveragePool', [x.name], `${base}/avg`, [attr.ints('kernel_shape', [kh, kw]), attr.ints('strides', [sh, sw]), attr.ints('pads', pads), attr.int('count_include_pad', 0)]), shape };
          back = (dy) => [needDx[0] ? spreadBack(g.node('Mul', [dy, g.floatConst(`${base}/inv`, [1, 1, ph.out, pw.out], counts)], `${base}/share`), 'dx') : undefined];
        } else if (!needDx[0]) {
          // Frozen below: the forward alone (overlapping windows included).
          out = { name: g.node('MaxPool', [x.name], `${base}/max`, [attr.ints('kernel_shape', [kh, kw]), attr.ints('strides', [sh, sw]), attr.ints('pads', pads)]), shape };
          back = () => [undefined];
        } else {
          if (sh < kh || sw < kw) unsupported(layer, 'overlapping max pooling above a trainable layer');
          // MaxPool's Indices (flat over the whole NCHW tensor) scatter each cell's gradient to its maximum.
          const y = g.unique(`${base}/max`);
          const indices = g.unique(`${base}/indices`);
          g.nodes.push({ input: [x.name], output: [y, indices], name: `MaxPool:${y}`, opType: 'MaxPool', attribute: [attr.ints('kernel_shape', [kh, kw]), attr.ints('strides', [sh, sw]), attr.ints('pads', pads)] });
          out = { name: y, shape };
          back = (dy) => {
            const flat = (t: string, tag: string) => g.node('Reshape', [t, shapeConst(`${base}/flat${tag}`, [-1])], `${base}/${tag}`);
            const xShape = g.node('Shape', [x.name], `${base}/xshape`);
            const zeros = g.node('ConstantOfShape', [g.node('ReduceProd', [xShape], `${base}/n`, [attr.int('keepdims', 1)])], `${base}/zeros`);
            const scattered = g.node('ScatterElements', [zeros, flat(indices, 'idx'), flat(dy, 'dy')], `${base}/scatter`, [attr.int('axis', 0)]);
            return [g.node('Reshape', [scattered, xShape], `${base}/dx`)];
          };
        }
        break;
      }
      default:
        unsupported(layer, 'this layer class');
    }
    values.set(layer.name, out);
    backward.set(layer.name, back);
  }

  // The head, every weight trained; its BatchNorm in inference mode like the backbone's.
  const features = values.get(options.featureLayer)!;
  const { c, h, w } = features.shape;
  const head = options.head;
  const units = head.dense1.units;
  if (head.dense1.kernel.length !== c * units || head.dense1.bias.length !== units || head.dense2.kernel.length !== units || head.dense2.bias.length !== 1) {
    throw new ConversionError('BAD_HEAD', `The head does not fit a ${c}-channel feature map with ${units} hidden units`);
  }
  graphInputs.push(valueInfo(TRAIN_DROPOUT_INPUT, [N, units]));
  const W1 = addParam(HEAD_LAYERS.dense1, 'kernel', 'dense_kernel', [c, units], head.dense1.kernel, true);
  const b1 = addParam(HEAD_LAYERS.dense1, 'bias', 'bias', [units], head.dense1.bias, true);
  const gammaH = addParam(HEAD_LAYERS.bn, 'gamma', 'bn_gamma', [units], head.bn.gamma, true);
  const betaH = addParam(HEAD_LAYERS.bn, 'beta', 'bn_beta', [units], head.bn.beta, true);
  const W2 = addParam(HEAD_LAYERS.dense2, 'kernel', 'dense_kernel', [units, 1], head.dense2.kernel, true);
  const b2 = addParam(HEAD_LAYERS.dense2, 'bias', 'bias', [1], head.dense2.bias, true);
  const invStdH = g.floatConst('head/invstd', [1, units], Float32Array.from(head.bn.movingVariance, (v) => 1 / Math.sqrt(v + head.bn.epsilon)));
  const meanH = g.floatConst('head/mean', [1, units], Float32Array.from(head.bn.movingMean));
  const pooled = g.node('ReduceMean', [features.name], 'head/gap', [attr.ints('axes', [2, 3]), attr.int('keepdims', 0)]);
  const z1 = g.node('Gemm', [pooled, W1, b1], 'head/z1');
  const a1 = g.node('Relu', [z1], 'head/a1');
  const xhat = g.node('Mul', [g.node('Sub', [a1, meanH], 'head/a1centred'), invStdH], 'head/xhat');
  const bn = g.node('Add', [g.node('Mul', [xhat, gammaH], 'head/bnscaled'), betaH], 'head/bn');
  const dropped = g.node('Mul', [bn, TRAIN_DROPOUT_INPUT], 'head/dropout');
  const logit2 = g.node('Gemm', [dropped, W2, b2], 'head/z2');
  const logit = g.node('Reshape', [logit2, shapeConst('head/flat', [-1])], TRAIN_LOGIT_OUTPUT, [], true);
  const p = g.node('Sigmoid', [logit], TRAIN_P_OUTPUT, [], true);
  // Weighted BCE from the logit, stable for any sign: max(z,0) − z·y + log(1 + e^(−|z|)).
  const bce = g.node(
    'Add',
    [g.node('Sub', [g.node('Relu', [logit], 'loss/relu'), g.node('Mul', [logit, TRAIN_LABELS_INPUT], 'loss/zy')], 'loss/lin'), g.node('Log', [g.node('Add', [scalar('loss/one', 1), g.node('Exp', [g.node('Neg', [g.node('Abs', [logit], 'loss/abs')], 'loss/nabs')], 'loss/exp')], 'loss/1pe')], 'loss/log')],
    'loss/bce',
  );
  const wsum = g.node('Max', [g.node('ReduceSum', [TRAIN_WEIGHTS_INPUT], 'loss/wsum0', [attr.int('keepdims', 0)]), scalar('loss/tiny', 1e-12)], 'loss/wsum');
  g.node('Div', [g.node('ReduceSum', [g.node('Mul', [bce, TRAIN_WEIGHTS_INPUT], 'loss/wbce')], 'loss/sum', [attr.int('keepdims', 0)]), wsum], TRAIN_LOSS_OUTPUT, [], true);

  if (options.forwardOnly) return finish(g, graphInputs, params, [], ordered, options, features.shape);

  // Head backward: dL/dlogit = w·(p − y)/Σw.
  const dLogit = g.node('Div', [g.node('Mul', [g.node('Sub', [p, TRAIN_LABELS_INPUT], 'head/pmy'), TRAIN_WEIGHTS_INPUT], 'head/wpmy'), wsum], 'head/dlogit');
  const dLogitCol = g.node('Unsqueeze', [dLogit, shapeConst('head/col', [1])], 'head/dlogitcol');
  emitGradient(W2, g.node('Gemm', [dropped, dLogitCol], 'head/dW2', [attr.int('transA', 1)]));
  emitGradient(b2, reduceSum(dLogitCol, [0], 'head/db2'));
  const dDropped = g.node('Gemm', [dLogitCol, W2], 'head/ddropped', [attr.int('transB', 1)]);
  const dBn = g.node('Mul', [dDropped, TRAIN_DROPOUT_INPUT], 'head/dbn');
  emitGradient(betaH, reduceSum(dBn, [0], 'head/dbeta'));
  emitGradient(gammaH, reduceSum(g.node('Mul', [dBn, xhat], 'head/dbnxhat'), [0], 'head/dgamma'));
  const dA1 = g.node('Mul', [dBn, g.node('Mul', [gammaH, invStdH], 'head/bnscale')], 'head/da1');
  const dZ1 = g.node('Mul', [dA1, g.node('Cast', [g.node('Greater', [z1, scalar('head/zero', 0)], 'head/pos')], 'head/mask', [attr.int('to', 1)])], 'head/dz1');
  emitGradient(W1, g.node('Gemm', [pooled, dZ1], 'head/dW1', [attr.int('transA', 1)]));
  emitGradient(b1, reduceSum(dZ1, [0], 'head/db1'));

  if (upstreamTrainable.get(options.featureLayer)) {
    const dPooled = g.node('Gemm', [dZ1, W1], 'head/dpooled', [attr.int('transB', 1), attr.float('alpha', 1 / (h * w))]);
    const dFeatures = g.node('Expand', [g.node('Unsqueeze', [dPooled, shapeConst('head/hw', [2, 3])], 'head/dcol'), g.node('Shape', [features.name], 'head/fshape')], 'head/dfeatures');
    // Reverse mode: sum what each value receives from its consumers, then pass it on.
    const pending = new Map<string, string[]>([[options.featureLayer, [dFeatures]]]);
    for (let k = ordered.length - 1; k >= 0; k--) {
      const layer = ordered[k];
      const parts = pending.get(layer.name);
      if (!parts) continue;
      const dy = parts.length === 1 ? parts[0] : g.node('Sum', parts, `${layer.name}/dsum`);
      const dIns = backward.get(layer.name)!(dy);
      layer.inbound.forEach((n, i) => {
        const d = dIns[i];
        if (d !== undefined && upstreamTrainable.get(n)) pending.set(n, [...(pending.get(n) ?? []), d]);
      });
    }
  }
  for (const prm of params) if (!gradOutputs.has(prm.name)) throw new ConversionError('BAD_ONNX', `No gradient was produced for ${prm.name}`);
  return finish(g, graphInputs, params, params, ordered, options, features.shape);
}

function finish(
  g: OnnxGraphBuilder,
  graphInputs: ReturnType<typeof valueInfo>[],
  params: TrainableParam[],
  withGradients: TrainableParam[],
  ordered: TrainingGraphLayer[],
  options: TrainingGraphOptions,
  featureShape: Shape,
): TrainingGraph {
  const outputs = [valueInfo(TRAIN_LOSS_OUTPUT, []), valueInfo(TRAIN_P_OUTPUT, ['N']), valueInfo(TRAIN_LOGIT_OUTPUT, ['N']), ...withGradients.map((prm) => valueInfo(prm.gradient, prm.shape))];
  // Tensors emitted in both layouts where only one is read leave dead nodes behind.
  const live = g.liveGraph(outputs.map((o) => o.name));
  const model = makeModel(
    { name: `training ${options.featureLayer}`, node: live.nodes, initializer: live.initializers, input: graphInputs, output: outputs },
    { purpose: options.forwardOnly ? 'training-forward' : 'training-step', featureLayer: options.featureLayer, trainableLayers: String(options.trainableLayers.size) },
  );
  const trainedLayers = ordered.filter((l) => options.trainableLayers.has(l.name)).map((l) => l.name);
  return { bytes: encodeModel(model), params, trainedLayers, featureShape, ...(options.batchSize !== undefined ? { batchSize: options.batchSize } : {}) };
}
