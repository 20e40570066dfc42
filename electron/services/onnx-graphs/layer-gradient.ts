// Compiles "activations at a shallow layer → p(synthetic) and d p/d activations" into one ONNX graph:
// the backbone tail forward, the head, and the reverse-mode pass written out as ONNX ops (the backward
// of a convolution is a ConvTranspose with the same weights, a BatchNorm is a per-channel scale, a
// ReLU a mask of its output...). onnxruntime then runs LayerCAM's gradient in milliseconds instead of
// the float64 JS runtime's hundreds; that runtime stays the reference the graph is tested against.
import { ExplainError } from '../explainers/explain-errors';
import type { HeadParams } from '../explainers/explain-types';
import { checkHead } from '../explainers/head-math';
import { zeroPaddingOf, type GraphLayer, type LayerGraph } from '../explainers/layer-graph';
import { attr, encodeModel, makeModel, OnnxGraphBuilder, valueInfo } from './onnx-proto';
import { activationBuilder, activationLayer } from './activation-gradients';
import { averagePoolReciprocalCounts, kerasPadding, kerasToOnnxKernel, convTransposeAttributes, pair, transposeOutputPadding, type Value } from './conv-geometry';

export const GRADIENT_INPUT = 'activations';
export const GRADIENT_P_OUTPUT = 'p_synthetic';
export const GRADIENT_OUTPUT = 'gradient_synthetic';



function unsupported(layer: GraphLayer, what: string): never {
  throw new ExplainError('EXPLAIN_UNSUPPORTED_LAYER', `Layer ${layer.name} (${layer.className}): ${what} has no ONNX gradient`);
}


function samePadding(mode: unknown, inSize: number, k: number, s: number, layer: GraphLayer): { out: number; before: number; after: number } {
  return kerasPadding(mode, inSize, k, s) ?? unsupported(layer, `padding "${String(mode)}"`);
}

/** Which of the tail's layers the graph needs, in order; refuses a cut a skip connection jumps over. */
function tailLayers(graph: LayerGraph, from: string, to: string): GraphLayer[] {
  const byName = new Map(graph.layers.map((l) => [l.name, l]));
  if (!byName.has(from) || !byName.has(to) || from === to) throw new ExplainError('EXPLAIN_LAYER_UNAVAILABLE', `No tail from "${from}" to "${to}"`);
  const needed = new Set<string>();
  const stack = [to];
  while (stack.length) {
    const name = stack.pop()!;
    if (name === from || needed.has(name)) continue;
    const layer = byName.get(name)!;
    if (layer.inbound.length === 0) throw new ExplainError('EXPLAIN_LAYER_UNAVAILABLE', `Layer "${from}" does not lie on every path to "${to}"`);
    needed.add(name);
    stack.push(...layer.inbound);
  }
  return graph.layers.filter((l) => needed.has(l.name));
}

/**
 * ONNX bytes: input `activations` [1,h,w,c] (NHWC, the layer `from`), outputs `p_synthetic` [1,1] and
 * `gradient_synthetic` [1,h,w,c] = d p(synthetic) / d activations (negate it for p(real)).
 */
export async function buildLayerGradientOnnx(graph: LayerGraph, from: string, to: string, head: HeadParams, fromShape: readonly [number, number, number]): Promise<Uint8Array> {
  const g = new OnnxGraphBuilder();
  const layers = tailLayers(graph, from, to);
  const [h0, w0, c0] = fromShape;
  const values = new Map<string, Value>();
  values.set(from, { name: g.node('Transpose', [GRADIENT_INPUT], 'in/nchw', [attr.ints('perm', [0, 3, 1, 2])]), shape: { c: c0, h: h0, w: w0 } });
  const channelConst = (base: string, data: ArrayLike<number>) => g.floatConst(base, [1, data.length, 1, 1], Float32Array.from(data));
  const scalar = (base: string, v: number) => g.floatConst(base, [], new Float32Array([v]));
  const activation = activationBuilder(g, unsupported);

  // Forward, recording for each layer how to send a gradient back to its inputs.
  type Backward = (dy: string) => string[];
  const backward = new Map<string, Backward>();
  for (const layer of layers) {
    const cfg = layer.config;
    const ins = layer.inbound.map((n) => values.get(n)!);
    const x = ins[0];
    const base = layer.name;
    let out: Value;
    let back: Backward;
    switch (layer.className) {
      case 'Conv2D':
      case 'DepthwiseConv2D': {
        const depthwise = layer.className === 'DepthwiseConv2D';
        if ((cfg.data_format ?? 'channels_last') !== 'channels_last') unsupported(layer, 'channels_first');
        const [dh, dw] = pair(cfg.dilation_rate, 1);
        if (dh !== 1 || dw !== 1) unsupported(layer, 'dilation');
        const [kh, kw, cin, last] = layer.weights[0].shape;
        const k = layer.weights[0].values;
        const cout = depthwise ? cin * last : last;
        const onnxW = kerasToOnnxKernel(k, layer.weights[0].shape, depthwise);
        const W = g.floatConst(`${base}/W`, [cout, depthwise ? 1 : cin, kh, kw], onnxW);
        const [sh, sw] = pair(cfg.strides, 1);
        const ph = samePadding(cfg.padding, x.shape.h, kh, sh, layer);
        const pw = samePadding(cfg.padding, x.shape.w, kw, sw, layer);
        const pads = [ph.before, pw.before, ph.after, pw.after];
        const group = depthwise ? cin : 1;
        const convInputs = [x.name, W];
        if (cfg.use_bias !== false && layer.weights.length > 1) convInputs.push(g.floatConst(`${base}/B`, [cout], Float32Array.from(layer.weights[1].values)));
        const z = g.node('Conv', convInputs, `${base}/conv`, [attr.ints('kernel_shape', [kh, kw]), attr.ints('strides', [sh, sw]), attr.ints('pads', pads), attr.int('group', group)]);
        const act = activation(layer, z, cfg.activation);
        out = { name: act.y, shape: { c: cout, h: ph.out, w: pw.out } };
        const outPad = transposeOutputPadding(x.shape, ph, pw, [kh, kw], [sh, sw]);
        if (outPad[0] < 0 || outPad[1] < 0 || outPad[0] >= sh || outPad[1] >= sw) unsupported(layer, 'this stride/padding combination');
        // Stride 1: the backward is a plain convolution with the kernel flipped and its in/out
        // channels swapped (onnxruntime's Conv is far faster than its ConvTranspose); strided
        // layers keep ConvTranspose.
        const plainBackward = sh === 1 && sw === 1 && (!depthwise || last === 1);
        let WBack: string | undefined;
        if (plainBackward) {
          const cinB = depthwise ? 1 : cout;
          const coutB = depthwise ? cin : cin;
          const flipped = new Float32Array(coutB * cinB * kh * kw);
          for (let co = 0; co < cout; co++)
            for (let ci = 0; ci < (depthwise ? 1 : cin); ci++)
              for (let ky = 0; ky < kh; ky++)
                for (let kx = 0; kx < kw; kx++) {
                  const v = onnxW[((co * (depthwise ? 1 : cin) + ci) * kh + ky) * kw + kx];
                  const dst = depthwise ? ((co * 1 + 0) * kh + (kh - 1 - ky)) * kw + (kw - 1 - kx) : ((ci * cout + co) * kh + (kh - 1 - ky)) * kw + (kw - 1 - kx);
                  flipped[dst] = v;
                }
          WBack = g.floatConst(`${base}/Wback`, [coutB, cinB, kh, kw], flipped);
        }
        back = (dy) => {
          const dz = act.mask ? act.mask(dy, act.y, `${base}/bwd`) : dy;
          if (WBack) {
            return [
              g.node('Conv', [dz, WBack], `${base}/dx`, [
                attr.ints('kernel_shape', [kh, kw]),
                attr.ints('strides', [1, 1]),
                attr.ints('pads', [kh - 1 - ph.before, kw - 1 - pw.before, kh - 1 - ph.after, kw - 1 - pw.after]),
                attr.int('group', group),
              ]),
            ];
          }
          return [g.node('ConvTranspose', [dz, W], `${base}/dx`, convTransposeAttributes([kh, kw], [sh, sw], pads, outPad, group))];
        };
        break;
      }
      case 'BatchNormalization': {
        const axis = cfg.axis == null ? -1 : Number(Array.isArray(cfg.axis) ? cfg.axis[0] : cfg.axis);
        if (axis !== -1 && axis !== 3) unsupported(layer, `axis ${axis}`);
        let i = 0;
        const gamma = cfg.scale !== false ? layer.weights[i++].values : null;
        const beta = cfg.center !== false ? layer.weights[i++].values : null;
        const mean = layer.weights[i++].values;
        const variance = layer.weights[i++].values;
        const eps = Number(cfg.epsilon ?? 1e-3);
        const scale = Array.from(mean, (_, c) => (gamma ? gamma[c] : 1) / Math.sqrt(variance[c] + eps));
        const shift = Array.from(mean, (m, c) => (beta ? beta[c] : 0) - m * scale[c]);
        const S = channelConst(`${base}/scale`, scale);
        out = { name: g.node('Add', [g.node('Mul', [x.name, S], `${base}/mul`), channelConst(`${base}/shift`, shift)], `${base}/bn`), shape: x.shape };
        back = (dy) => [g.node('Mul', [dy, S], `${base}/dx`)];
        break;
      }
      case 'ReLU':
      case 'Activation':
      case 'LeakyReLU': {
        const act = activationLayer(activation, layer, x.name);
        out = { name: act.y === x.name ? g.node('Identity', [x.name], `${base}/id`) : act.y, shape: x.shape };
        back = (dy) => [act.mask ? act.mask(dy, out.name, `${base}/bwd`) : dy];
        break;
      }
      case 'Dropout':
        out = { name: g.node('Identity', [x.name], `${base}/id`), shape: x.shape };
        back = (dy) => [dy];
        break;
      case 'ZeroPadding2D': {
        const { t, b, l, r } = zeroPaddingOf(layer);
        out = { name: g.node('Pad', [x.name, g.int64Const(`${base}/pads`, [0, 0, t, l, 0, 0, b, r])], `${base}/pad`), shape: { c: x.shape.c, h: x.shape.h + t + b, w: x.shape.w + l + r } };
        back = (dy) => [
          g.node('Slice', [dy, g.int64Const(`${base}/starts`, [t, l]), g.int64Const(`${base}/ends`, [t + x.shape.h, l + x.shape.w]), g.int64Const(`${base}/axes`, [2, 3])], `${base}/dx`),
        ];
        break;
      }
      case 'Add':
        out = { name: g.node('Sum', ins.map((v) => v.name), `${base}/sum`), shape: x.shape };
        back = (dy) => ins.map(() => dy);
        break;
      case 'Concatenate': {
        const axis = Number(cfg.axis ?? -1);
        if (axis !== -1 && axis !== 3) unsupported(layer, `axis ${axis}`);
        out = { name: g.node('Concat', ins.map((v) => v.name), `${base}/concat`, [attr.int('axis', 1)]), shape: { ...x.shape, c: ins.reduce((s, v) => s + v.shape.c, 0) } };
        back = (dy) => {
          let start = 0;
          return ins.map((v, i) => {
            const sl = g.node('Slice', [dy, g.int64Const(`${base}/s${i}`, [start]), g.int64Const(`${base}/e${i}`, [start + v.shape.c]), g.int64Const(`${base}/a${i}`, [1])], `${base}/dx${i}`);
            start += v.shape.c;
            return sl;
          });
        };
        break;
      }
      case 'AveragePooling2D':
      case 'MaxPooling2D': {
        const [kh, kw] = pair(cfg.pool_size, 2);
        const [sh, sw] = pair(cfg.strides ?? cfg.pool_size, 2);
        const ph = samePadding(cfg.padding ?? 'valid', x.shape.h, kh, sh, layer);
        const pw = samePadding(cfg.padding ?? 'valid', x.shape.w, kw, sw, layer);
        const pads = [ph.before, pw.before, ph.after, pw.after];
        const shape = { c: x.shape.c, h: ph.out, w: pw.out };
        const outPad = transposeOutputPadding(x.shape, ph, pw, [kh, kw], [sh, sw]);
        if (outPad[0] < 0 || outPad[1] < 0 || outPad[0] >= sh || outPad[1] >= sw) unsupported(layer, 'this stride/padding combination');
        const spread = (d: string, tag: string) =>
          g.node('ConvTranspose', [d, g.floatConst(`${base}/ones`, [x.shape.c, 1, kh, kw], new Float32Array(x.shape.c * kh * kw).fill(1))], `${base}/${tag}`, convTransposeAttributes([kh, kw], [sh, sw], pads, outPad, x.shape.c));
        if (layer.className === 'AveragePooling2D') {
          // Keras averages over the cells inside the image only.
          const counts = averagePoolReciprocalCounts(x.shape, ph, pw, [kh, kw], [sh, sw]);
          out = { name: g.node('AveragePool', [x.name], `${base}/avg`, [attr.ints('kernel_shape', [kh, kw]), attr.ints('strides', [sh, sw]), attr.ints('pads', pads), attr.int('count_include_pad', 0)]), shape };
          back = (dy) => [spread(g.node('Mul', [dy, g.floatConst(`${base}/inv`, [1, 1, ph.out, pw.out], counts)], `${base}/share`), 'dx')];
        } else {
          if (sh < kh || sw < kw) unsupported(layer, 'overlapping max pooling');
          // MaxPool's Indices output (first maximum in row-major order, as tf's gradient picks) lets
          // the gradient be scattered to exactly one cell per window, ties included.
          const y = g.unique(`${base}/max`);
          const indices = g.unique(`${base}/indices`);
          g.nodes.push({
            input: [x.name],
            output: [y, indices],
            name: `MaxPool:${y}`,
            opType: 'MaxPool',
            attribute: [attr.ints('kernel_shape', [kh, kw]), attr.ints('strides', [sh, sw]), attr.ints('pads', pads)],
          });
          out = { name: y, shape };
          const inputSize = x.shape.c * x.shape.h * x.shape.w;
          back = (dy) => {
            const flat = (t: string, tag: string) => g.node('Reshape', [t, g.int64Const(`${base}/flat${tag}`, [-1])], `${base}/${tag}`);
            const zeros = g.node('ConstantOfShape', [g.int64Const(`${base}/n`, [inputSize])], `${base}/zeros`);
            const scattered = g.node('ScatterElements', [zeros, flat(indices, 'idx'), flat(dy, 'dy')], `${base}/scatter`, [attr.int('axis', 0)]);
            return [g.node('Reshape', [scattered, g.int64Const(`${base}/shape`, [1, x.shape.c, x.shape.h, x.shape.w])], `${base}/dx`)];
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

  // Head forward and its exact gradient (the same algebra as head-math.ts).
  const features = values.get(to)!;
  const { c, h, w } = features.shape;
  checkHead(head, c);
  const units = head.dense1.units;
  const scale = Array.from(head.bn.gamma, (gm, u) => gm / Math.sqrt(head.bn.movingVariance[u] + head.bn.epsilon));
  const shift = Array.from(head.bn.beta, (b, u) => b - head.bn.movingMean[u] * scale[u]);
  const pooled = g.node('ReduceMean', [features.name], 'head/gap', [attr.ints('axes', [2, 3]), attr.int('keepdims', 0)]);
  const W1 = g.floatConst('head/W1', [c, units], Float32Array.from(head.dense1.kernel));
  const z1 = g.node('Gemm', [pooled, W1, g.floatConst('head/b1', [units], Float32Array.from(head.dense1.bias))], 'head/z1');
  const S = g.floatConst('head/scale', [1, units], Float32Array.from(scale));
  const scaled = g.node('Mul', [g.node('Relu', [z1], 'head/a1'), S], 'head/scaled');
  const bn = g.node('Add', [scaled, g.floatConst('head/shift', [1, units], Float32Array.from(shift))], 'head/bn');
  const W2 = g.floatConst('head/W2', [units, 1], Float32Array.from(head.dense2.kernel));
  const logit = g.node('Gemm', [bn, W2, g.floatConst('head/b2', [1], Float32Array.from(head.dense2.bias))], 'head/logit');
  const p = g.node('Sigmoid', [logit], GRADIENT_P_OUTPUT, [], true);
  const dLogit = g.node('Mul', [p, g.node('Sub', [scalar('head/one', 1), p], 'head/1mp')], 'head/dlogit');
  const dBn = g.node('Mul', [dLogit, g.floatConst('head/w2row', [1, units], Float32Array.from(head.dense2.kernel))], 'head/dbn');
  const dA = g.node('Mul', [dBn, S], 'head/da');
  const dZ1 = g.node('Mul', [dA, g.node('Cast', [g.node('Greater', [z1, scalar('head/zero', 0)], 'head/pos')], 'head/mask', [attr.int('to', 1)])], 'head/dz1');
  const dPooled = g.node('Gemm', [dZ1, W1], 'head/dpooled', [attr.int('transB', 1), attr.float('alpha', 1 / (h * w))]);
  const dFeatures = g.node('Expand', [g.node('Reshape', [dPooled, g.int64Const('head/shape', [1, c, 1, 1])], 'head/dcol'), g.int64Const('head/full', [1, c, h, w])], 'head/dfeatures');

  // Reverse mode: sum the gradients a value receives from all its consumers, then pass them on.
  const pending = new Map<string, string[]>([[to, [dFeatures]]]);
  for (let k = layers.length - 1; k >= 0; k--) {
    const layer = layers[k];
    const parts = pending.get(layer.name);
    if (!parts) continue;
    const dy = parts.length === 1 ? parts[0] : g.node('Sum', parts, `${layer.name}/dsum`);
    const dIns = backward.get(layer.name)!(dy);
    layer.inbound.forEach((n, i) => pending.set(n, [...(pending.get(n) ?? []), dIns[i]]));
  }
  const parts = pending.get(from)!;
  const dFrom = parts.length === 1 ? parts[0] : g.node('Sum', parts, 'from/dsum');
  g.node('Transpose', [dFrom], GRADIENT_OUTPUT, [attr.ints('perm', [0, 2, 3, 1])], true);

  const model = makeModel(
    {
      name: `gradient ${from} → ${to}`,
      node: g.nodes,
      initializer: g.initializers,
      input: [valueInfo(GRADIENT_INPUT, [1, h0, w0, c0])],
      output: [valueInfo(GRADIENT_P_OUTPUT, [1, 1]), valueInfo(GRADIENT_OUTPUT, [1, h0, w0, c0])],
    },
    { purpose: 'layercam-gradient', from, to },
  );
  return encodeModel(model);
}
