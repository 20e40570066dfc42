// A float64 forward and reverse-mode pass through the part of a Keras/tfjs layers graph that lies
// between a shallow layer and the head's feature layer. LayerCAM needs d(score)/d(activations) at a
// shallow layer: tfjs autograd gets it right but takes seconds on CPU (its fused-conv gradient also
// computes filter gradients nobody asked for); these plain loops take a fraction of that and run in
// float64, so finite differences can check them to 1e-6.
import { ExplainError } from './explain-errors';
import type { FeatureMap } from './explain-types';

/** One layer as stored in a tfjs layers model: class, config, weights, inbound layer names. */
export interface GraphLayer {
  name: string;
  className: string;
  config: Record<string, unknown>;
  weights: { shape: number[]; values: Float32Array }[];
  inbound: string[];
}

export interface LayerGraph {
  /** Topological order, as tfjs keeps model.layers. */
  layers: GraphLayer[];
}

interface Tensor3 {
  h: number;
  w: number;
  c: number;
  d: Float64Array;
}

interface Op {
  layer: GraphLayer;
  forward(inputs: Tensor3[]): Tensor3;
  /** Gradients w.r.t. each input, given the forward inputs and output. */
  backward(inputs: Tensor3[], output: Tensor3, dOut: Float64Array): Float64Array[];
}

const SUPPORTED = [
  'Conv2D',
  'DepthwiseConv2D',
  'BatchNormalization',
  'ReLU',
  'Activation',
  'LeakyReLU',
  'ZeroPadding2D',
  'Add',
  'Concatenate',
  'AveragePooling2D',
  'MaxPooling2D',
  'Dropout',
];

function unsupported(layer: GraphLayer, what: string): never {
  throw new ExplainError('EXPLAIN_UNSUPPORTED_LAYER', `Layer ${layer.name} (${layer.className}): ${what} is not supported by the gradient runtime`);
}

function pair(v: unknown, fallback: number): [number, number] {
  if (Array.isArray(v)) return [Number(v[0]), Number(v[1] ?? v[0])];
  if (typeof v === 'number') return [v, v];
  return [fallback, fallback];
}

/** TF's padding: "same" pads (mostly) at the bottom/right when the total is odd. */
function padding(mode: unknown, inSize: number, k: number, stride: number, layer: GraphLayer): { out: number; before: number } {
  if (mode === 'valid') return { out: Math.floor((inSize - k) / stride) + 1, before: 0 };
  if (mode === 'same') {
    const out = Math.ceil(inSize / stride);
    const total = Math.max((out - 1) * stride + k - inSize, 0);
    return { out, before: Math.floor(total / 2) };
  }
  return unsupported(layer, `padding "${String(mode)}"`);
}

type Activation = { f: (x: number) => number; df: (x: number, y: number) => number };
function activation(name: unknown, layer: GraphLayer, extra: Record<string, unknown> = {}): Activation {
  switch (name ?? 'linear') {
    case 'linear':
      return { f: (x) => x, df: () => 1 };
    case 'relu': {
      const max = extra.max_value == null ? Infinity : Number(extra.max_value);
      const slope = Number(extra.negative_slope ?? 0);
      const threshold = Number(extra.threshold ?? 0);
      return {
        f: (x) => (x >= threshold ? Math.min(x, max) : slope * (x - threshold)),
        // tf's convention at the kinks: derivative 0 at exactly 0 and at exactly max.
        df: (x) => (x > threshold ? (x < max ? 1 : 0) : slope),
      };
    }
    case 'relu6':
      return { f: (x) => Math.min(Math.max(x, 0), 6), df: (x) => (x > 0 && x < 6 ? 1 : 0) };
    case 'sigmoid':
      return { f: (x) => 1 / (1 + Math.exp(-x)), df: (_x, y) => y * (1 - y) };
    case 'tanh':
      return { f: Math.tanh, df: (_x, y) => 1 - y * y };
    default:
      return unsupported(layer, `activation "${String(name)}"`);
  }
}

function f64(values: Float32Array): Float64Array {
  return Float64Array.from(values);
}

function convOp(layer: GraphLayer, depthwise: boolean): Op {
  const cfg = layer.config;
  const [sh, sw] = pair(cfg.strides, 1);
  const [dh, dw] = pair(cfg.dilation_rate, 1);
  if (dh !== 1 || dw !== 1) unsupported(layer, 'dilation');
  if ((cfg.data_format ?? 'channels_last') !== 'channels_last') unsupported(layer, 'channels_first');
  const kernelW = layer.weights[0];
  const [kh, kw, cin, last] = kernelW.shape;
  const K = f64(kernelW.values);
  const useBias = cfg.use_bias !== false && layer.weights.length > 1;
  const bias = useBias ? f64(layer.weights[1].values) : null;
  const mult = depthwise ? last : 1;
  const cout = depthwise ? cin * last : last;
  const act = activation(cfg.activation, layer);
  // Pre-activation kept per forward call for the activation's derivative.
  const pre = new WeakMap<Tensor3, Float64Array>();
  const geometry = (x: Tensor3) => {
    if (x.c !== cin) throw new ExplainError('EXPLAIN_MODEL_MISMATCH', `${layer.name} expects ${cin} channels, got ${x.c}`);
    const ph = padding(cfg.padding, x.h, kh, sh, layer);
    const pw = padding(cfg.padding, x.w, kw, sw, layer);
    return { oh: ph.out, ow: pw.out, top: ph.before, left: pw.before };
  };
  return {
    layer,
    forward([x]) {
      const { oh, ow, top, left } = geometry(x);
      const z = new Float64Array(oh * ow * cout);
      for (let oy = 0; oy < oh; oy++) {
        for (let ox = 0; ox < ow; ox++) {
          const o = (oy * ow + ox) * cout;
          if (bias) for (let co = 0; co < cout; co++) z[o + co] = bias[co];
          for (let ky = 0; ky < kh; ky++) {
            const iy = oy * sh + ky - top;
            if (iy < 0 || iy >= x.h) continue;
            for (let kx = 0; kx < kw; kx++) {
              const ix = ox * sw + kx - left;
              if (ix < 0 || ix >= x.w) continue;
              const ib = (iy * x.w + ix) * cin;
              const kb = (ky * kw + kx) * cin * last;
              if (depthwise) {
                for (let ci = 0; ci < cin; ci++) {
                  const v = x.d[ib + ci];
                  for (let m = 0; m < mult; m++) z[o + ci * mult + m] += v * K[kb + ci * mult + m];
                }
              } else {
                for (let ci = 0; ci < cin; ci++) {
                  const v = x.d[ib + ci];
                  if (v === 0) continue;
                  const kr = kb + ci * cout;
                  for (let co = 0; co < cout; co++) z[o + co] += v * K[kr + co];
                }
              }
            }
          }
        }
      }
      if (cfg.activation && cfg.activation !== 'linear') {
        const a = new Float64Array(z.length);
        for (let i = 0; i < z.length; i++) a[i] = act.f(z[i]);
        const out = { h: oh, w: ow, c: cout, d: a };
        pre.set(out, z);
        return out;
      }
      return { h: oh, w: ow, c: cout, d: z };
    },
    backward([x], out, dOut) {
      const { oh, ow, top, left } = geometry(x);
      let dz = dOut;
      const z = pre.get(out);
      if (z) {
        dz = new Float64Array(dOut.length);
        for (let i = 0; i < dz.length; i++) dz[i] = dOut[i] * act.df(z[i], out.d[i]);
      }
      const dx = new Float64Array(x.d.length);
      for (let oy = 0; oy < oh; oy++) {
        for (let ox = 0; ox < ow; ox++) {
          const o = (oy * ow + ox) * cout;
          for (let ky = 0; ky < kh; ky++) {
            const iy = oy * sh + ky - top;
            if (iy < 0 || iy >= x.h) continue;
            for (let kx = 0; kx < kw; kx++) {
              const ix = ox * sw + kx - left;
              if (ix < 0 || ix >= x.w) continue;
              const ib = (iy * x.w + ix) * cin;
              const kb = (ky * kw + kx) * cin * last;
              if (depthwise) {
                for (let ci = 0; ci < cin; ci++) {
                  let s = 0;
                  for (let m = 0; m < mult; m++) s += dz[o + ci * mult + m] * K[kb + ci * mult + m];
                  dx[ib + ci] += s;
                }
              } else {
                for (let ci = 0; ci < cin; ci++) {
                  const kr = kb + ci * cout;
                  let s = 0;
                  for (let co = 0; co < cout; co++) s += dz[o + co] * K[kr + co];
                  dx[ib + ci] += s;
                }
              }
            }
          }
        }
      }
      return [dx];
    },
  };
}

function batchNormOp(layer: GraphLayer): Op {
  const cfg = layer.config;
  const axis = cfg.axis == null ? -1 : Number(Array.isArray(cfg.axis) ? cfg.axis[0] : cfg.axis);
  if (axis !== -1 && axis !== 3) unsupported(layer, `axis ${axis}`);
  const center = cfg.center !== false;
  const scaleOn = cfg.scale !== false;
  let i = 0;
  const gamma = scaleOn ? layer.weights[i++].values : null;
  const beta = center ? layer.weights[i++].values : null;
  const mean = layer.weights[i++].values;
  const variance = layer.weights[i++].values;
  const eps = Number(cfg.epsilon ?? 1e-3);
  const c = mean.length;
  const scale = new Float64Array(c);
  const shift = new Float64Array(c);
  for (let k = 0; k < c; k++) {
    scale[k] = (gamma ? gamma[k] : 1) / Math.sqrt(variance[k] + eps);
    shift[k] = (beta ? beta[k] : 0) - mean[k] * scale[k];
  }
  return {
    layer,
    forward([x]) {
      const d = new Float64Array(x.d.length);
      for (let p = 0; p < d.length; p += c) for (let k = 0; k < c; k++) d[p + k] = x.d[p + k] * scale[k] + shift[k];
      return { ...x, d };
    },
    backward(_inputs, _out, dOut) {
      const dx = new Float64Array(dOut.length);
      for (let p = 0; p < dx.length; p += c) for (let k = 0; k < c; k++) dx[p + k] = dOut[p + k] * scale[k];
      return [dx];
    },
  };
}

function pointwiseOp(layer: GraphLayer, act: Activation): Op {
  return {
    layer,
    forward([x]) {
      const d = new Float64Array(x.d.length);
      for (let i = 0; i < d.length; i++) d[i] = act.f(x.d[i]);
      return { ...x, d };
    },
    backward([x], out, dOut) {
      const dx = new Float64Array(dOut.length);
      for (let i = 0; i < dx.length; i++) dx[i] = dOut[i] * act.df(x.d[i], out.d[i]);
      return [dx];
    },
  };
}

/** A ZeroPadding2D's rows and columns added above, below, left and right (Keras' three spellings). */
export function zeroPaddingOf(layer: GraphLayer): { t: number; b: number; l: number; r: number } {
  const p = layer.config.padding;
  if (typeof p === 'number') return { t: p, b: p, l: p, r: p };
  if (Array.isArray(p) && Array.isArray(p[0])) {
    const [[t, b], [l, r]] = p as [[number, number], [number, number]];
    return { t, b, l, r };
  }
  if (Array.isArray(p)) {
    const [v, h] = p as [number, number];
    return { t: v, b: v, l: h, r: h };
  }
  return { t: 1, b: 1, l: 1, r: 1 };
}

function zeroPaddingOp(layer: GraphLayer): Op {
  const { t, b, l, r } = zeroPaddingOf(layer);
  return {
    layer,
    forward([x]) {
      const h = x.h + t + b;
      const w = x.w + l + r;
      const d = new Float64Array(h * w * x.c);
      for (let y = 0; y < x.h; y++) d.set(x.d.subarray(y * x.w * x.c, (y + 1) * x.w * x.c), ((y + t) * w + l) * x.c);
      return { h, w, c: x.c, d };
    },
    backward([x], out, dOut) {
      const dx = new Float64Array(x.d.length);
      for (let y = 0; y < x.h; y++) dx.set(dOut.subarray(((y + t) * out.w + l) * x.c, ((y + t) * out.w + l + x.w) * x.c), y * x.w * x.c);
      return [dx];
    },
  };
}

function addOp(layer: GraphLayer): Op {
  return {
    layer,
    forward(inputs) {
      const d = Float64Array.from(inputs[0].d);
      for (let k = 1; k < inputs.length; k++) {
        if (inputs[k].d.length !== d.length) throw new ExplainError('EXPLAIN_MODEL_MISMATCH', `${layer.name}: shapes differ`);
        for (let i = 0; i < d.length; i++) d[i] += inputs[k].d[i];
      }
      return { ...inputs[0], d };
    },
    backward(inputs, _out, dOut) {
      return inputs.map(() => dOut);
    },
  };
}

function concatenateOp(layer: GraphLayer): Op {
  const axis = Number(layer.config.axis ?? -1);
  if (axis !== -1 && axis !== 3) unsupported(layer, `axis ${axis}`);
  return {
    layer,
    forward(inputs) {
      const { h, w } = inputs[0];
      const c = inputs.reduce((s, x) => s + x.c, 0);
      const d = new Float64Array(h * w * c);
      let off = 0;
      for (const x of inputs) {
        for (let p = 0; p < h * w; p++) d.set(x.d.subarray(p * x.c, (p + 1) * x.c), p * c + off);
        off += x.c;
      }
      return { h, w, c, d };
    },
    backward(inputs, out, dOut) {
      let off = 0;
      return inputs.map((x) => {
        const dx = new Float64Array(x.d.length);
        for (let p = 0; p < x.h * x.w; p++) dx.set(dOut.subarray(p * out.c + off, p * out.c + off + x.c), p * x.c);
        off += x.c;
        return dx;
      });
    },
  };
}

function poolOp(layer: GraphLayer, kind: 'avg' | 'max'): Op {
  const cfg = layer.config;
  const [kh, kw] = pair(cfg.pool_size, 2);
  const [sh, sw] = pair(cfg.strides ?? cfg.pool_size, 2);
  // For each output cell, the input cells it reads: the max picks one, the average shares evenly
  // among the cells inside the image (Keras excludes the padding from the count).
  const windows = (x: Tensor3, fn: (o: number, cells: number[]) => void) => {
    const ph = padding(cfg.padding ?? 'valid', x.h, kh, sh, layer);
    const pw = padding(cfg.padding ?? 'valid', x.w, kw, sw, layer);
    const cells: number[] = [];
    for (let oy = 0; oy < ph.out; oy++) {
      for (let ox = 0; ox < pw.out; ox++) {
        cells.length = 0;
        for (let ky = 0; ky < kh; ky++) {
          const iy = oy * sh + ky - ph.before;
          if (iy < 0 || iy >= x.h) continue;
          for (let kx = 0; kx < kw; kx++) {
            const ix = ox * sw + kx - pw.before;
            if (ix >= 0 && ix < x.w) cells.push(iy * x.w + ix);
          }
        }
        fn(oy * pw.out + ox, cells);
      }
    }
    return { oh: ph.out, ow: pw.out };
  };
  return {
    layer,
    forward([x]) {
      const ph = padding(cfg.padding ?? 'valid', x.h, kh, sh, layer);
      const pw = padding(cfg.padding ?? 'valid', x.w, kw, sw, layer);
      const d = new Float64Array(ph.out * pw.out * x.c);
      windows(x, (o, cells) => {
        for (let k = 0; k < x.c; k++) {
          let v = kind === 'max' ? -Infinity : 0;
          for (const p of cells) v = kind === 'max' ? Math.max(v, x.d[p * x.c + k]) : v + x.d[p * x.c + k];
          d[o * x.c + k] = kind === 'max' ? v : v / cells.length;
        }
      });
      return { h: ph.out, w: pw.out, c: x.c, d };
    },
    backward([x], out, dOut) {
      const dx = new Float64Array(x.d.length);
      windows(x, (o, cells) => {
        for (let k = 0; k < x.c; k++) {
          const g = dOut[o * x.c + k];
          if (kind === 'avg') for (const p of cells) dx[p * x.c + k] += g / cells.length;
          else {
            const target = out.d[o * x.c + k];
            const p = cells.find((q) => x.d[q * x.c + k] === target)!;
            dx[p * x.c + k] += g;
          }
        }
      });
      return [dx];
    },
  };
}

function makeOp(layer: GraphLayer): Op {
  const cfg = layer.config;
  switch (layer.className) {
    case 'Conv2D':
      return convOp(layer, false);
    case 'DepthwiseConv2D':
      return convOp(layer, true);
    case 'BatchNormalization':
      return batchNormOp(layer);
    case 'ReLU':
      return pointwiseOp(layer, activation('relu', layer, cfg));
    case 'LeakyReLU':
      return pointwiseOp(layer, activation('relu', layer, { negative_slope: cfg.alpha ?? 0.3 }));
    case 'Activation':
      return pointwiseOp(layer, activation(cfg.activation, layer));
    case 'ZeroPadding2D':
      return zeroPaddingOp(layer);
    case 'Add':
      return addOp(layer);
    case 'Concatenate':
      return concatenateOp(layer);
    case 'AveragePooling2D':
      return poolOp(layer, 'avg');
    case 'MaxPooling2D':
      return poolOp(layer, 'max');
    case 'Dropout':
      return pointwiseOp(layer, activation('linear', layer));
    default:
      return unsupported(layer, `class (supported: ${SUPPORTED.join(', ')})`);
  }
}

export interface TailForward {
  output: FeatureMap;
  /** Everything backward() needs; drop it to free the intermediates. */
  values: Map<string, Tensor3>;
}

/**
 * The layers strictly after `from` up to and including `to`. Refuses a cut that a skip connection
 * jumps over, because then `from` alone does not determine `to`.
 */
export class GraphTail {
  private readonly ops: Op[];

  constructor(
    graph: LayerGraph,
    readonly from: string,
    readonly to: string,
  ) {
    const byName = new Map(graph.layers.map((l) => [l.name, l]));
    if (!byName.has(from)) throw new ExplainError('EXPLAIN_LAYER_UNAVAILABLE', `No layer named "${from}"`);
    if (!byName.has(to)) throw new ExplainError('EXPLAIN_LAYER_UNAVAILABLE', `No layer named "${to}"`);
    const needed = new Set<string>();
    const stack = [to];
    while (stack.length) {
      const name = stack.pop()!;
      if (name === from || needed.has(name)) continue;
      const layer = byName.get(name)!;
      if (layer.inbound.length === 0) {
        throw new ExplainError('EXPLAIN_LAYER_UNAVAILABLE', `Layer "${from}" does not lie on every path to "${to}" (reached input "${name}" around it)`);
      }
      needed.add(name);
      stack.push(...layer.inbound);
    }
    if (from === to) throw new ExplainError('EXPLAIN_LAYER_UNAVAILABLE', `"${from}" is the feature layer itself`);
    this.ops = graph.layers.filter((l) => needed.has(l.name)).map(makeOp);
  }

  forward(activations: FeatureMap): TailForward {
    const values = new Map<string, Tensor3>();
    values.set(this.from, { h: activations.height, w: activations.width, c: activations.channels, d: Float64Array.from(activations.data) });
    let last!: Tensor3;
    for (const op of this.ops) {
      last = op.forward(op.layer.inbound.map((n) => values.get(n)!));
      values.set(op.layer.name, last);
    }
    return { output: { height: last.h, width: last.w, channels: last.c, data: last.d }, values };
  }

  /** d(score)/d(activations at `from`), given d(score)/d(output at `to`). */
  backward(forward: TailForward, dOutput: Float64Array): Float64Array {
    const grads = new Map<string, Float64Array>();
    grads.set(this.to, dOutput);
    for (let k = this.ops.length - 1; k >= 0; k--) {
      const op = this.ops[k];
      const g = grads.get(op.layer.name);
      if (!g) continue;
      const inputs = op.layer.inbound.map((n) => forward.values.get(n)!);
      const dIns = op.backward(inputs, forward.values.get(op.layer.name)!, g);
      op.layer.inbound.forEach((n, i) => {
        const prev = grads.get(n);
        if (!prev) grads.set(n, dIns[i] === g ? Float64Array.from(g) : dIns[i]);
        else for (let j = 0; j < prev.length; j++) prev[j] += dIns[i][j];
      });
      grads.delete(op.layer.name);
    }
    return grads.get(this.from)!;
  }
}

export interface KerasLayerJson {
  name?: string;
  class_name: string;
  config: Record<string, unknown>;
  inbound_nodes?: unknown[];
}

/** Keras topology JSON (a ModelJSON's modelTopology, or model.toJSON()) → layers with inbound names. */
export function kerasLayers(topology: Record<string, unknown>): { layers: KerasLayerJson[]; sequential: boolean } {
  const root = (topology.model_config ?? topology) as { class_name?: string; config?: unknown };
  const config = root.config as { layers?: KerasLayerJson[] } | KerasLayerJson[] | undefined;
  const layers = Array.isArray(config) ? config : config?.layers;
  if (!Array.isArray(layers)) throw new ExplainError('EXPLAIN_MODEL_MISMATCH', 'The model topology has no layer list');
  return { layers, sequential: root.class_name === 'Sequential' };
}

export function inboundNames(lj: KerasLayerJson): string[] {
  const node = (lj.inbound_nodes ?? [])[0] as unknown[] | undefined;
  return (node ?? []).map((entry) => (Array.isArray(entry) ? String(entry[0]) : String((entry as { args?: unknown }).args ?? '')));
}

const WEIGHT_ORDER: Record<string, string[]> = {
  Conv2D: ['kernel', 'bias'],
  DepthwiseConv2D: ['depthwise_kernel', 'bias'],
  BatchNormalization: ['gamma', 'beta', 'moving_mean', 'moving_variance'],
  Dense: ['kernel', 'bias'],
};

/**
 * A layer graph from Keras topology JSON plus weights keyed "<layer>/<weight>" (as tfjs weight
 * manifests name them), without tfjs: what the ONNX path uses for LayerCAM.
 */
export function layerGraphFromKeras(topology: Record<string, unknown>, weights: Map<string, { shape: number[]; data: Float32Array }>): LayerGraph {
  const { layers: list, sequential } = kerasLayers(topology);
  const byLayer = new Map<string, Map<string, { shape: number[]; data: Float32Array }>>();
  for (const [name, w] of weights) {
    const slash = name.lastIndexOf('/');
    if (slash < 0) continue;
    // Some exports prefix the model name ("model/Conv1/kernel"); the layer is the segment before the weight.
    const parts = name.split('/');
    const weight = parts[parts.length - 1].replace(/:0$/, '');
    const layer = parts[parts.length - 2];
    if (!byLayer.has(layer)) byLayer.set(layer, new Map());
    byLayer.get(layer)!.set(weight, w);
  }
  const layers: GraphLayer[] = [];
  let previous: string | undefined;
  for (const lj of list) {
    const name = (lj.config.name as string) ?? lj.name;
    const own = byLayer.get(name);
    const order = WEIGHT_ORDER[lj.class_name] ?? [];
    const ws = order.filter((k) => own?.has(k)).map((k) => ({ shape: own!.get(k)!.shape, values: own!.get(k)!.data }));
    const wanted = order.filter((k) => {
      if (k === 'bias') return lj.config.use_bias !== false;
      if (k === 'gamma') return lj.config.scale !== false;
      if (k === 'beta') return lj.config.center !== false;
      return true;
    });
    if (ws.length !== wanted.length) {
      throw new ExplainError('EXPLAIN_MODEL_MISMATCH', `Layer ${name} (${lj.class_name}) expects weights ${wanted.join(', ')}; found ${[...(own?.keys() ?? [])].join(', ') || 'none'}`);
    }
    layers.push({ name, className: lj.class_name, config: lj.config, weights: ws, inbound: sequential ? (previous ? [previous] : []) : inboundNames(lj) });
    previous = name;
  }
  return { layers };
}
