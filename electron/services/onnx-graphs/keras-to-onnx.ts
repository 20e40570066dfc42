// Converts a tfjs (Keras) layers model to ONNX by reading its topology JSON and weights directly.
// The ONNX graph computes in NCHW, but its input and every feature-map output are NHWC like tfjs,
// so callers never think about layout. Explicit pads reproduce TF's "same" padding, which puts the
// odd pixel at the bottom/right.
import { ConversionError } from './conversion-error';
import {
  attr,
  encodeModel,
  makeModel,
  OnnxGraphBuilder,
  valueInfo,
  type Dim,
  type ValueInfoProto,
} from './onnx-proto';
import { decodeWeights, type DecodedWeight, type LayersModelSource } from './tfjs-source';

export interface ConvertOptions {
  /** Layer names whose outputs become graph outputs (NHWC for feature maps); the first is the feature layer. */
  outputs: string[];
  /** Layer whose global average pool becomes the output `pooled`; default the first output, `false` for none. */
  pooled?: string | false;
  /** Graph input name; default "image". */
  inputName?: string;
  /** Input height/width when the model's InputLayer leaves them open. */
  inputSize?: number;
  /** Input height/width instead of the InputLayer's own: a fully convolutional backbone read at
   * another size (experiments: the paper's 256 pixels without the resize to 224). */
  inputSizeOverride?: number;
  graphName?: string;
  /** Stored as ONNX metadata_props. */
  metadata?: Record<string, string>;
}

export interface ConvertedOutput {
  name: string;
  /** Shape without the batch dimension: [h, w, c] for feature maps, [c] for vectors. */
  shape: number[];
}

export interface ConvertedModel {
  bytes: Uint8Array;
  inputName: string;
  /** [h, w, c] of one input image. */
  inputShape: number[];
  outputs: ConvertedOutput[];
  /** Number of ONNX nodes and weights (for reports). */
  nodeCount: number;
  parameterCount: number;
}

/** Names a converter-produced graph uses. */
export const POOLED_OUTPUT = 'pooled';
export const DEFAULT_INPUT_NAME = 'image';

interface KerasLayer {
  name: string;
  className: string;
  config: Record<string, unknown>;
  inbound: string[];
}

/** A value flowing between layers: NCHW storage of an NHWC feature map, or a [N, c] vector. */
interface Value {
  name: string;
  layout: 'nchw' | 'flat';
  /** NHWC shape without batch: [h, w, c] or [c]. */
  shape: number[];
}

const PASS_THROUGH = new Set(['Dropout', 'SpatialDropout2D', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout', 'ActivityRegularization']);

function historyOf(arg: unknown, into: string[]): void {
  if (!arg || typeof arg !== 'object') return;
  if (Array.isArray(arg)) {
    for (const a of arg) historyOf(a, into);
    return;
  }
  const o = arg as Record<string, unknown>;
  const cfg = o.config as Record<string, unknown> | undefined;
  if (o.class_name === '__keras_tensor__' && cfg && Array.isArray(cfg.keras_history)) {
    const [name, node, index] = cfg.keras_history as [string, number, number];
    if (node !== 0 || index !== 0) throw new ConversionError('UNSUPPORTED_CONFIG', `shared or multi-output layer ${name} is not supported`);
    into.push(name);
  }
}

function parseInbound(layerName: string, nodes: unknown): string[] {
  if (!Array.isArray(nodes) || nodes.length === 0) return [];
  if (nodes.length > 1) throw new ConversionError('UNSUPPORTED_CONFIG', `layer ${layerName} is called ${nodes.length} times; shared layers are not supported`);
  const node = nodes[0] as unknown;
  const out: string[] = [];
  if (Array.isArray(node)) {
    for (const ref of node) {
      if (!Array.isArray(ref) || typeof ref[0] !== 'string') throw new ConversionError('BAD_MODEL_SOURCE', `layer ${layerName}: unreadable inbound node`);
      if (ref[1] !== 0 || ref[2] !== 0) throw new ConversionError('UNSUPPORTED_CONFIG', `layer ${layerName} reads ${ref[0]}[${ref[1]}][${ref[2]}]; shared or multi-output layers are not supported`);
      out.push(ref[0]);
    }
  } else if (node && typeof node === 'object') {
    historyOf((node as Record<string, unknown>).args, out);
  }
  return out;
}

/** The layer list of a functional or sequential Keras topology, with inputs and outputs. */
export function readTopology(modelTopology: Record<string, unknown>): { layers: Map<string, KerasLayer>; inputs: string[]; outputs: string[] } {
  const modelConfig = (modelTopology.model_config ?? modelTopology) as { class_name?: string; config?: unknown };
  const className = modelConfig.class_name;
  const layers = new Map<string, KerasLayer>();
  if (className === 'Model' || className === 'Functional') {
    const cfg = modelConfig.config as { layers?: unknown[]; input_layers?: unknown[]; output_layers?: unknown[] };
    if (!Array.isArray(cfg?.layers)) throw new ConversionError('BAD_MODEL_SOURCE', 'the topology has no layer list');
    for (const raw of cfg.layers) {
      const l = raw as { name?: string; class_name?: string; config?: Record<string, unknown>; inbound_nodes?: unknown };
      const name = l.name ?? (l.config?.name as string | undefined);
      if (typeof name !== 'string' || typeof l.class_name !== 'string') throw new ConversionError('BAD_MODEL_SOURCE', 'a layer lacks name or class_name');
      layers.set(name, { name, className: l.class_name, config: l.config ?? {}, inbound: parseInbound(name, l.inbound_nodes) });
    }
    const refNames = (refs: unknown[] | undefined) => (refs ?? []).map((r) => (Array.isArray(r) ? String(r[0]) : String(r)));
    return { layers, inputs: refNames(cfg.input_layers), outputs: refNames(cfg.output_layers) };
  }
  if (className === 'Sequential') {
    const cfg = modelConfig.config as unknown;
    const list = (Array.isArray(cfg) ? cfg : (cfg as { layers?: unknown[] })?.layers) as Array<{ class_name: string; config: Record<string, unknown> }> | undefined;
    if (!Array.isArray(list) || list.length === 0) throw new ConversionError('BAD_MODEL_SOURCE', 'the sequential topology has no layers');
    let previous: string | undefined;
    const inputs: string[] = [];
    for (const l of list) {
      if (!previous && l.class_name !== 'InputLayer') {
        const shape = l.config.batch_input_shape ?? l.config.batch_shape;
        if (!Array.isArray(shape)) throw new ConversionError('BAD_MODEL_SOURCE', 'the first sequential layer has no batch_input_shape');
        layers.set('input_1', { name: 'input_1', className: 'InputLayer', config: { batch_input_shape: shape }, inbound: [] });
        previous = 'input_1';
        inputs.push(previous);
      }
      const name = String(l.config.name);
      layers.set(name, { name, className: l.class_name, config: l.config, inbound: previous ? [previous] : [] });
      if (!previous) inputs.push(name);
      previous = name;
    }
    return { layers, inputs, outputs: [previous as string] };
  }
  throw new ConversionError('UNSUPPORTED_CONFIG', `model class ${String(className)} is not supported (Model, Functional or Sequential)`);
}

function pair(v: unknown, what: string): [number, number] {
  if (typeof v === 'number') return [v, v];
  if (Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number')) return [v[0] as number, v[1] as number];
  throw new ConversionError('UNSUPPORTED_CONFIG', `${what}: expected a number or pair, got ${JSON.stringify(v)}`);
}

/** TF padding for one spatial axis: [before, after, output size]. */
export function spatialPadding(inSize: number, kernel: number, stride: number, dilation: number, padding: string): [number, number, number] {
  const effective = (kernel - 1) * dilation + 1;
  if (padding === 'same') {
    const out = Math.ceil(inSize / stride);
    const total = Math.max((out - 1) * stride + effective - inSize, 0);
    return [Math.floor(total / 2), total - Math.floor(total / 2), out];
  }
  if (padding === 'valid') {
    const out = Math.floor((inSize - effective) / stride) + 1;
    if (out < 1) throw new ConversionError('BAD_SHAPE', `a ${kernel}-wide window does not fit an input of ${inSize}`);
    return [0, 0, out];
  }
  throw new ConversionError('UNSUPPORTED_CONFIG', `padding "${padding}" is not supported`);
}

/** Keras conv kernel [kh, kw, cin, cout] → ONNX [cout, cin, kh, kw]. */
function convKernelToOnnx(k: DecodedWeight): { dims: number[]; data: Float32Array } {
  const [kh, kw, cin, cout] = k.shape;
  const data = new Float32Array(k.data.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let i = 0; i < cin; i++)
        for (let o = 0; o < cout; o++) data[((o * cin + i) * kh + y) * kw + x] = k.data[((y * kw + x) * cin + i) * cout + o];
  return { dims: [cout, cin, kh, kw], data };
}

/** Keras depthwise kernel [kh, kw, cin, mult] → ONNX grouped [cin·mult, 1, kh, kw] (channel c·mult + m, as TF orders it). */
function depthwiseKernelToOnnx(k: DecodedWeight): { dims: number[]; data: Float32Array } {
  const [kh, kw, cin, mult] = k.shape;
  const data = new Float32Array(k.data.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let i = 0; i < cin; i++)
        for (let m = 0; m < mult; m++) data[((i * mult + m) * kh + y) * kw + x] = k.data[((y * kw + x) * cin + i) * mult + m];
  return { dims: [cin * mult, 1, kh, kw], data };
}

class KerasToOnnx {
  readonly g = new OnnxGraphBuilder();
  private readonly values = new Map<string, Value>();
  private readonly visiting = new Set<string>();
  parameterCount = 0;

  constructor(
    private readonly layers: Map<string, KerasLayer>,
    private readonly weights: Map<string, DecodedWeight>,
    private readonly inputName: string,
    private readonly inputSize: number | undefined,
    private readonly inputSizeOverride: number | undefined,
  ) {}

  weight(layer: KerasLayer, key: string, required = true): DecodedWeight | undefined {
    const exact = this.weights.get(`${layer.name}/${key}`);
    if (exact) return exact;
    const suffix = `/${layer.name}/${key}`;
    for (const [name, w] of this.weights) if (name.endsWith(suffix)) return w;
    if (required) throw new ConversionError('MISSING_WEIGHT', `layer ${layer.name} (${layer.className}) has no weight ${key}`);
    return undefined;
  }

  private constTensor(base: string, dims: number[], data: Float32Array): string {
    this.parameterCount += data.length;
    return this.g.floatConst(base, dims, data);
  }

  /** The value a layer outputs, converting its inputs first. */
  value(name: string): Value {
    const done = this.values.get(name);
    if (done) return done;
    const layer = this.layers.get(name);
    if (!layer) throw new ConversionError('UNKNOWN_OUTPUT', `the model has no layer ${name}`);
    if (this.visiting.has(name)) throw new ConversionError('BAD_MODEL_SOURCE', `layer ${name} is part of a cycle`);
    this.visiting.add(name);
    const inputs = layer.inbound.map((n) => this.value(n));
    const out = this.convertLayer(layer, inputs);
    this.visiting.delete(name);
    this.values.set(name, out);
    return out;
  }

  private one(layer: KerasLayer, inputs: Value[], layout?: Value['layout']): Value {
    if (inputs.length !== 1) throw new ConversionError('BAD_MODEL_SOURCE', `layer ${layer.name} (${layer.className}) expects one input, has ${inputs.length}`);
    if (layout && inputs[0].layout !== layout) {
      throw new ConversionError('UNSUPPORTED_CONFIG', `layer ${layer.name} (${layer.className}) needs a ${layout === 'nchw' ? 'rank-4 feature map' : 'vector'} input, got shape [${inputs[0].shape}]`);
    }
    return inputs[0];
  }

  private checkChannelsLast(layer: KerasLayer): void {
    const fmt = layer.config.data_format;
    if (fmt !== undefined && fmt !== null && fmt !== 'channels_last') {
      throw new ConversionError('UNSUPPORTED_CONFIG', `layer ${layer.name}: data_format ${String(fmt)} is not supported`);
    }
  }

  activation(v: Value, act: unknown, base: string): Value {
    const name = act === undefined || act === null ? 'linear' : typeof act === 'string' ? act : (act as { class_name?: string }).class_name;
    const same = (tensor: string): Value => ({ ...v, name: tensor });
    switch (name) {
      case 'linear':
        return v;
      case 'relu':
        return same(this.g.node('Relu', [v.name], `${base}/relu`));
      case 'relu6':
        return same(this.g.node('Clip', [v.name, this.g.floatConst(`${base}/min`, [], new Float32Array([0])), this.g.floatConst(`${base}/max`, [], new Float32Array([6]))], `${base}/relu6`));
      case 'sigmoid':
        return same(this.g.node('Sigmoid', [v.name], `${base}/sigmoid`));
      case 'tanh':
        return same(this.g.node('Tanh', [v.name], `${base}/tanh`));
      case 'softmax':
        return same(this.g.node('Softmax', [v.name], `${base}/softmax`, [attr.int('axis', v.layout === 'nchw' ? 1 : -1)]));
      case 'elu':
        return same(this.g.node('Elu', [v.name], `${base}/elu`, [attr.float('alpha', 1)]));
      case 'selu':
        return same(this.g.node('Selu', [v.name], `${base}/selu`));
      case 'softplus':
        return same(this.g.node('Softplus', [v.name], `${base}/softplus`));
      case 'softsign':
        return same(this.g.node('Softsign', [v.name], `${base}/softsign`));
      case 'hard_sigmoid':
        return same(this.g.node('HardSigmoid', [v.name], `${base}/hard_sigmoid`, [attr.float('alpha', 0.2), attr.float('beta', 0.5)]));
      case 'swish':
      case 'silu': {
        const s = this.g.node('Sigmoid', [v.name], `${base}/swish_gate`);
        return same(this.g.node('Mul', [v.name, s], `${base}/swish`));
      }
      default:
        throw new ConversionError('UNSUPPORTED_CONFIG', `activation ${String(name)} (in ${base}) is not supported`);
    }
  }

  private convertLayer(layer: KerasLayer, inputs: Value[]): Value {
    const c = layer.config;
    const base = `t:${layer.name}`;
    switch (layer.className) {
      case 'InputLayer': {
        const shape = (c.batch_input_shape ?? c.batch_shape) as Array<number | null> | undefined;
        if (!Array.isArray(shape) || shape.length !== 4) throw new ConversionError('UNSUPPORTED_CONFIG', `input ${layer.name} must be [batch, h, w, c], got ${JSON.stringify(shape)}`);
        const h = this.inputSizeOverride ?? shape[1] ?? this.inputSize;
        const w = this.inputSizeOverride ?? shape[2] ?? this.inputSize;
        const ch = shape[3];
        if (!h || !w || !ch) throw new ConversionError('BAD_SHAPE', `input ${layer.name} has open size ${JSON.stringify(shape)}; pass inputSize`);
        const nchw = this.g.node('Transpose', [this.inputName], `${base}/nchw`, [attr.ints('perm', [0, 3, 1, 2])]);
        return { name: nchw, layout: 'nchw', shape: [h, w, ch] };
      }
      case 'Conv2D':
      case 'DepthwiseConv2D':
      case 'SeparableConv2D': {
        this.checkChannelsLast(layer);
        const x = this.one(layer, inputs, 'nchw');
        const [kh, kw] = pair(c.kernel_size, `${layer.name}.kernel_size`);
        const [sh, sw] = pair(c.strides ?? 1, `${layer.name}.strides`);
        const [dh, dw] = pair(c.dilation_rate ?? 1, `${layer.name}.dilation_rate`);
        const padding = String(c.padding ?? 'valid');
        const [top, bottom, oh] = spatialPadding(x.shape[0], kh, sh, dh, padding);
        const [left, right, ow] = spatialPadding(x.shape[1], kw, sw, dw, padding);
        const convAttrs = [
          attr.ints('kernel_shape', [kh, kw]),
          attr.ints('strides', [sh, sw]),
          attr.ints('dilations', [dh, dw]),
          attr.ints('pads', [top, left, bottom, right]),
        ];
        const cin = x.shape[2];
        const useBias = c.use_bias !== false;
        let out: string;
        let cout: number;
        if (layer.className === 'Conv2D') {
          const k = this.weight(layer, 'kernel') as DecodedWeight;
          const groups = typeof c.groups === 'number' ? c.groups : 1;
          if (k.shape.length !== 4 || k.shape[2] * groups !== cin) throw new ConversionError('BAD_SHAPE', `${layer.name}: kernel [${k.shape}] does not fit ${cin} input channels`);
          const onnxK = convKernelToOnnx(k);
          cout = k.shape[3];
          const ins = [x.name, this.constTensor(`${layer.name}/kernel`, onnxK.dims, onnxK.data)];
          if (useBias) ins.push(this.constTensor(`${layer.name}/bias`, [cout], (this.weight(layer, 'bias') as DecodedWeight).data));
          out = this.g.node('Conv', ins, `${base}/conv`, [...convAttrs, attr.int('group', groups)]);
        } else {
          const dk = this.weight(layer, 'depthwise_kernel') as DecodedWeight;
          if (dk.shape.length !== 4 || dk.shape[2] !== cin) throw new ConversionError('BAD_SHAPE', `${layer.name}: depthwise kernel [${dk.shape}] does not fit ${cin} input channels`);
          const onnxK = depthwiseKernelToOnnx(dk);
          const depthOut = cin * dk.shape[3];
          const dIns = [x.name, this.constTensor(`${layer.name}/depthwise_kernel`, onnxK.dims, onnxK.data)];
          if (layer.className === 'DepthwiseConv2D') {
            cout = depthOut;
            if (useBias) dIns.push(this.constTensor(`${layer.name}/bias`, [cout], (this.weight(layer, 'bias') as DecodedWeight).data));
            out = this.g.node('Conv', dIns, `${base}/depthwise`, [...convAttrs, attr.int('group', cin)]);
          } else {
            const depthwise = this.g.node('Conv', dIns, `${base}/depthwise`, [...convAttrs, attr.int('group', cin)]);
            const pk = this.weight(layer, 'pointwise_kernel') as DecodedWeight;
            if (pk.shape[0] !== 1 || pk.shape[1] !== 1 || pk.shape[2] !== depthOut) throw new ConversionError('BAD_SHAPE', `${layer.name}: pointwise kernel [${pk.shape}] does not fit`);
            const onnxP = convKernelToOnnx(pk);
            cout = pk.shape[3];
            const pIns = [depthwise, this.constTensor(`${layer.name}/pointwise_kernel`, onnxP.dims, onnxP.data)];
            if (useBias) pIns.push(this.constTensor(`${layer.name}/bias`, [cout], (this.weight(layer, 'bias') as DecodedWeight).data));
            out = this.g.node('Conv', pIns, `${base}/pointwise`, [attr.ints('kernel_shape', [1, 1])]);
          }
        }
        return this.activation({ name: out, layout: 'nchw', shape: [oh, ow, cout] }, c.activation, base);
      }
      case 'BatchNormalization': {
        const x = this.one(layer, inputs);
        const axis = Array.isArray(c.axis) ? (c.axis.length === 1 ? c.axis[0] : NaN) : c.axis ?? -1;
        const rank = x.layout === 'nchw' ? 4 : 2;
        if (axis !== -1 && axis !== rank - 1) throw new ConversionError('UNSUPPORTED_CONFIG', `${layer.name}: batch normalisation over axis ${JSON.stringify(c.axis)} is not supported (channels only)`);
        const ch = x.shape[x.shape.length - 1];
        const gamma = c.scale === false ? new Float32Array(ch).fill(1) : (this.weight(layer, 'gamma') as DecodedWeight).data;
        const beta = c.center === false ? new Float32Array(ch) : (this.weight(layer, 'beta') as DecodedWeight).data;
        const mean = (this.weight(layer, 'moving_mean') as DecodedWeight).data;
        const variance = (this.weight(layer, 'moving_variance') as DecodedWeight).data;
        for (const [what, arr] of [['gamma', gamma], ['beta', beta], ['moving_mean', mean], ['moving_variance', variance]] as const) {
          if (arr.length !== ch) throw new ConversionError('BAD_SHAPE', `${layer.name}: ${what} has ${arr.length} values for ${ch} channels`);
        }
        const out = this.g.node(
          'BatchNormalization',
          [
            x.name,
            this.constTensor(`${layer.name}/gamma`, [ch], gamma),
            this.constTensor(`${layer.name}/beta`, [ch], beta),
            this.constTensor(`${layer.name}/moving_mean`, [ch], mean),
            this.constTensor(`${layer.name}/moving_variance`, [ch], variance),
          ],
          `${base}/bn`,
          [attr.float('epsilon', typeof c.epsilon === 'number' ? c.epsilon : 1e-3)],
        );
        return { ...x, name: out };
      }
      case 'Activation':
        return this.activation(this.one(layer, inputs), c.activation, base);
      case 'ReLU': {
        const x = this.one(layer, inputs);
        const max = c.max_value === null || c.max_value === undefined ? undefined : Number(c.max_value);
        const slope = Number(c.negative_slope ?? 0);
        const threshold = Number(c.threshold ?? 0);
        if (threshold !== 0) throw new ConversionError('UNSUPPORTED_CONFIG', `${layer.name}: ReLU threshold ${threshold} is not supported`);
        if (slope !== 0) {
          if (max !== undefined) throw new ConversionError('UNSUPPORTED_CONFIG', `${layer.name}: ReLU with both negative_slope and max_value is not supported`);
          return { ...x, name: this.g.node('LeakyRelu', [x.name], `${base}/leaky_relu`, [attr.float('alpha', slope)]) };
        }
        if (max === undefined) return { ...x, name: this.g.node('Relu', [x.name], `${base}/relu`) };
        const lo = this.g.floatConst(`${layer.name}/clip_min`, [], new Float32Array([0]));
        const hi = this.g.floatConst(`${layer.name}/clip_max`, [], new Float32Array([max]));
        return { ...x, name: this.g.node('Clip', [x.name, lo, hi], `${base}/relu_clip`) };
      }
      case 'LeakyReLU': {
        const x = this.one(layer, inputs);
        const alpha = Number(c.alpha ?? c.negative_slope ?? 0.3);
        return { ...x, name: this.g.node('LeakyRelu', [x.name], `${base}/leaky_relu`, [attr.float('alpha', alpha)]) };
      }
      case 'ZeroPadding2D': {
        this.checkChannelsLast(layer);
        const x = this.one(layer, inputs, 'nchw');
        const p = c.padding ?? 1;
        let rows: [number, number];
        let cols: [number, number];
        if (typeof p === 'number') rows = cols = [p, p];
        else if (Array.isArray(p) && p.length === 2 && typeof p[0] === 'number') {
          rows = [p[0] as number, p[0] as number];
          cols = [p[1] as number, p[1] as number];
        } else if (Array.isArray(p) && p.length === 2) {
          rows = pair(p[0], `${layer.name}.padding`);
          cols = pair(p[1], `${layer.name}.padding`);
        } else throw new ConversionError('UNSUPPORTED_CONFIG', `${layer.name}: padding ${JSON.stringify(p)}`);
        const pads = this.g.int64Const(`${layer.name}/pads`, [0, 0, rows[0], cols[0], 0, 0, rows[1], cols[1]]);
        const out = this.g.node('Pad', [x.name, pads], `${base}/pad`, [attr.string('mode', 'constant')]);
        return { name: out, layout: 'nchw', shape: [x.shape[0] + rows[0] + rows[1], x.shape[1] + cols[0] + cols[1], x.shape[2]] };
      }
      case 'MaxPooling2D':
      case 'AveragePooling2D': {
        this.checkChannelsLast(layer);
        const x = this.one(layer, inputs, 'nchw');
        const [kh, kw] = pair(c.pool_size ?? 2, `${layer.name}.pool_size`);
        const [sh, sw] = pair(c.strides ?? c.pool_size ?? 2, `${layer.name}.strides`);
        const padding = String(c.padding ?? 'valid');
        const [top, bottom, oh] = spatialPadding(x.shape[0], kh, sh, 1, padding);
        const [left, right, ow] = spatialPadding(x.shape[1], kw, sw, 1, padding);
        const attrs = [attr.ints('kernel_shape', [kh, kw]), attr.ints('strides', [sh, sw]), attr.ints('pads', [top, left, bottom, right])];
        // TF averages over the in-image part of a window only.
        if (layer.className === 'AveragePooling2D') attrs.push(attr.int('count_include_pad', 0));
        const out = this.g.node(layer.className === 'MaxPooling2D' ? 'MaxPool' : 'AveragePool', [x.name], `${base}/pool`, attrs);
        return { name: out, layout: 'nchw', shape: [oh, ow, x.shape[2]] };
      }
      case 'GlobalAveragePooling2D':
      case 'GlobalMaxPooling2D': {
        this.checkChannelsLast(layer);
        const x = this.one(layer, inputs, 'nchw');
        const pooled = this.g.node(layer.className === 'GlobalAveragePooling2D' ? 'GlobalAveragePool' : 'GlobalMaxPool', [x.name], `${base}/pool`);
        if (c.keepdims === true) return { name: pooled, layout: 'nchw', shape: [1, 1, x.shape[2]] };
        return { name: this.g.node('Flatten', [pooled], `${base}/flat`, [attr.int('axis', 1)]), layout: 'flat', shape: [x.shape[2]] };
      }
      case 'Add':
      case 'Subtract':
      case 'Multiply':
      case 'Average':
      case 'Maximum':
      case 'Minimum': {
        if (inputs.length < 2) throw new ConversionError('BAD_MODEL_SOURCE', `${layer.name} merges fewer than two inputs`);
        const key = JSON.stringify(inputs[0].shape) + inputs[0].layout;
        if (inputs.some((v) => JSON.stringify(v.shape) + v.layout !== key)) {
          throw new ConversionError('UNSUPPORTED_CONFIG', `${layer.name}: merging different shapes (${inputs.map((v) => `[${v.shape}]`).join(', ')}) is not supported`);
        }
        const op = { Add: 'Sum', Subtract: 'Sub', Multiply: 'Mul', Average: 'Mean', Maximum: 'Max', Minimum: 'Min' }[layer.className] as string;
        if (op === 'Sub' && inputs.length !== 2) throw new ConversionError('BAD_MODEL_SOURCE', `${layer.name}: Subtract needs two inputs`);
        const opName = op === 'Sum' && inputs.length === 2 ? 'Add' : op === 'Mul' && inputs.length > 2 ? 'Mul' : op;
        let out: string;
        if (opName === 'Mul' && inputs.length > 2) {
          out = inputs[0].name;
          for (let i = 1; i < inputs.length; i++) out = this.g.node('Mul', [out, inputs[i].name], `${base}/mul`);
        } else out = this.g.node(opName, inputs.map((v) => v.name), `${base}/${opName.toLowerCase()}`);
        return { ...inputs[0], name: out };
      }
      case 'Concatenate': {
        if (inputs.length < 1) throw new ConversionError('BAD_MODEL_SOURCE', `${layer.name} concatenates nothing`);
        const layout = inputs[0].layout;
        if (inputs.some((v) => v.layout !== layout)) throw new ConversionError('UNSUPPORTED_CONFIG', `${layer.name}: mixed ranks`);
        const rank = layout === 'nchw' ? 4 : 2;
        let axis = Number(c.axis ?? -1);
        if (axis < 0) axis += rank;
        if (axis < 1 || axis >= rank) throw new ConversionError('UNSUPPORTED_CONFIG', `${layer.name}: concatenation over axis ${c.axis}`);
        const nhwcAxis = axis - 1; // index into our batch-less shape
        const onnxAxis = layout === 'nchw' ? [2, 3, 1][nhwcAxis] : 1;
        const shape = [...inputs[0].shape];
        shape[nhwcAxis] = inputs.reduce((n, v) => n + v.shape[nhwcAxis], 0);
        for (const v of inputs) {
          if (v.shape.some((d, i) => i !== nhwcAxis && d !== inputs[0].shape[i])) throw new ConversionError('BAD_SHAPE', `${layer.name}: inputs [${v.shape}] and [${inputs[0].shape}] do not line up`);
        }
        return { name: this.g.node('Concat', inputs.map((v) => v.name), `${base}/concat`, [attr.int('axis', onnxAxis)]), layout, shape };
      }
      case 'Flatten': {
        const x = this.one(layer, inputs);
        if (x.layout === 'flat') return x;
        // Keras flattens in NHWC order.
        const nhwc = this.g.node('Transpose', [x.name], `${base}/nhwc`, [attr.ints('perm', [0, 2, 3, 1])]);
        return { name: this.g.node('Flatten', [nhwc], `${base}/flat`, [attr.int('axis', 1)]), layout: 'flat', shape: [x.shape[0] * x.shape[1] * x.shape[2]] };
      }
      case 'Reshape': {
        const x = this.one(layer, inputs);
        const target = c.target_shape as number[] | undefined;
        if (!Array.isArray(target) || (target.length !== 1 && target.length !== 3)) throw new ConversionError('UNSUPPORTED_CONFIG', `${layer.name}: target_shape ${JSON.stringify(target)} (rank 1 or 3 only)`);
        const count = x.shape.reduce((a, b) => a * b, 1);
        const known = target.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
        const resolved = target.map((d) => (d === -1 ? count / known : d));
        if (resolved.reduce((a, b) => a * b, 1) !== count || resolved.some((d) => !Number.isInteger(d))) throw new ConversionError('BAD_SHAPE', `${layer.name}: cannot reshape [${x.shape}] to ${JSON.stringify(target)}`);
        const src = x.layout === 'nchw' ? this.g.node('Transpose', [x.name], `${base}/nhwc`, [attr.ints('perm', [0, 2, 3, 1])]) : x.name;
        const shapeConst = this.g.int64Const(`${layer.name}/shape`, [-1, ...resolved]);
        const reshaped = this.g.node('Reshape', [src, shapeConst], `${base}/reshape`);
        if (resolved.length === 1) return { name: reshaped, layout: 'flat', shape: resolved };
        return { name: this.g.node('Transpose', [reshaped], `${base}/nchw`, [attr.ints('perm', [0, 3, 1, 2])]), layout: 'nchw', shape: resolved };
      }
      case 'Dense': {
        const x = this.one(layer, inputs, 'flat');
        const k = this.weight(layer, 'kernel') as DecodedWeight;
        if (k.shape.length !== 2 || k.shape[0] !== x.shape[0]) throw new ConversionError('BAD_SHAPE', `${layer.name}: kernel [${k.shape}] does not fit ${x.shape[0]} inputs`);
        const units = k.shape[1];
        const ins = [x.name, this.constTensor(`${layer.name}/kernel`, k.shape, k.data)];
        if (c.use_bias !== false) ins.push(this.constTensor(`${layer.name}/bias`, [units], (this.weight(layer, 'bias') as DecodedWeight).data));
        const out = this.g.node('Gemm', ins, `${base}/dense`);
        return this.activation({ name: out, layout: 'flat', shape: [units] }, c.activation, base);
      }
      default:
        if (PASS_THROUGH.has(layer.className)) return this.one(layer, inputs);
        throw new ConversionError('UNSUPPORTED_LAYER', `layer ${layer.name}: ${layer.className} is not supported by the converter`);
    }
  }
}

/** Converts the part of a tfjs layers model that the requested outputs need. */
export function convertLayersModel(source: LayersModelSource, options: ConvertOptions): ConvertedModel {
  if (!Array.isArray(options.outputs) || options.outputs.length === 0) throw new ConversionError('UNKNOWN_OUTPUT', 'name at least one output layer');
  const { layers, inputs } = readTopology(source.modelJson.modelTopology);
  if (inputs.length !== 1) throw new ConversionError('UNSUPPORTED_CONFIG', `models with ${inputs.length} inputs are not supported`);
  for (const o of options.outputs) if (!layers.has(o)) throw new ConversionError('UNKNOWN_OUTPUT', `the model has no layer "${o}"`);
  const inputName = options.inputName ?? DEFAULT_INPUT_NAME;
  const pooledFrom = options.pooled === undefined ? options.outputs[0] : options.pooled;
  const reserved = new Set([inputName, ...(pooledFrom ? [POOLED_OUTPUT] : [])]);
  const seen = new Set<string>();
  for (const o of options.outputs) {
    if (reserved.has(o) || seen.has(o)) throw new ConversionError('UNKNOWN_OUTPUT', `output name "${o}" is used twice`);
    seen.add(o);
  }
  if (pooledFrom && !layers.has(pooledFrom)) throw new ConversionError('UNKNOWN_OUTPUT', `the model has no layer "${pooledFrom}" to pool`);

  const override = options.inputSizeOverride;
  if (override !== undefined && !(Number.isInteger(override) && override >= 1 && override <= 8192)) throw new ConversionError('BAD_SHAPE', `input size ${override} is not a whole number of pixels from 1 to 8192`);
  const converter = new KerasToOnnx(layers, decodeWeights(source), inputName, options.inputSize, override);
  const inputLayer = converter.value(inputs[0]);
  const outputs: ConvertedOutput[] = [];
  const outputInfos: ValueInfoProto[] = [];
  for (const o of options.outputs) {
    const v = converter.value(o);
    if (v.layout === 'nchw') converter.g.node('Transpose', [v.name], o, [attr.ints('perm', [0, 2, 3, 1])], true);
    else converter.g.node('Identity', [v.name], o, [], true);
    outputs.push({ name: o, shape: v.shape });
    outputInfos.push(valueInfo(o, ['N', ...v.shape]));
  }
  if (pooledFrom) {
    const v = converter.value(pooledFrom);
    if (v.layout !== 'nchw') throw new ConversionError('UNSUPPORTED_CONFIG', `cannot pool ${pooledFrom}: it is not a feature map`);
    const gap = converter.g.node('GlobalAveragePool', [v.name], `t:${pooledFrom}/gap`);
    converter.g.node('Flatten', [gap], POOLED_OUTPUT, [attr.int('axis', 1)], true);
    outputs.push({ name: POOLED_OUTPUT, shape: [v.shape[2]] });
    outputInfos.push(valueInfo(POOLED_OUTPUT, ['N', v.shape[2]]));
  }
  const inputShape = inputLayer.shape;
  const graphInput = valueInfo(inputName, ['N', ...inputShape] as Dim[]);
  const metadata: Record<string, string> = {
    source: source.origin,
    input_layout: 'NHWC',
    feature_layer: options.outputs[0],
    outputs: outputs.map((o) => o.name).join(','),
    ...(pooledFrom ? { pooled_from: pooledFrom } : {}),
    ...options.metadata,
  };
  const model = makeModel(
    {
      name: options.graphName ?? 'backbone',
      node: converter.g.nodes,
      initializer: converter.g.initializers,
      input: [graphInput],
      output: outputInfos,
    },
    metadata,
  );
  return {
    bytes: encodeModel(model),
    inputName,
    inputShape,
    outputs,
    nodeCount: converter.g.nodes.length,
    parameterCount: converter.parameterCount,
  };
}
