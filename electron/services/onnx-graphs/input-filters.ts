// A model with a prefix on its NHWC image input (the detector's paper-RGB input is one), and the
// experiment backbones that read a filtered image:
// - residual: x → clip(gain · (x − mean₃ₓ₃(x)) + mid, lo, hi). A frozen ImageNet backbone describes
//   content first (a face, a street), and content is what differs between collections of
//   photographs; the residual keeps edges and noise and drops most of the content.
// - down-up: x → the image averaged over factor×factor blocks and resized back (bilinear). Content
//   stays and the finest detail goes, so features of x minus features of down-up(x) describe what
//   the finest scale adds, in the backbone's own (natural-image) input distribution.
import { ConversionError } from './conversion-error';
import { attr, decodeModel, encodeModel, OnnxGraphBuilder, type ValueInfoProto } from './onnx-proto';

export interface ResidualInputOptions {
  /** Amplification of the residual (its values are a few hundredths of the input range). */
  gain: number;
  /** Side of the box filter whose mean is subtracted (odd; 3 by default). */
  box?: number;
  /** The input range of the backbone, e.g. [0, 1] for nsfwjs's 'unit' normalisation. */
  range: readonly [number, number];
}

export interface DownUpInputOptions {
  /** Integer block side (2 or more) that the input's height and width divide by. */
  factor: number;
}

/**
 * `model` with `filter` (NCHW in, NCHW out) between a new NHWC input and the model's image input,
 * which the filter's output now feeds; its nodes are named under `prefix`. `input` names the new
 * input (taken as is when `exact`, else made unique) and may give it another type or shape. The
 * filter works in NCHW, so the backbone's own NHWC→NCHW transpose cancels against the one added here.
 */
export function withInputPrefix(
  model: Uint8Array,
  input: { name: string; exact?: boolean; valueInfo?: (image: ValueInfoProto, name: string) => ValueInfoProto },
  prefix: string,
  filter: (g: OnnxGraphBuilder, nchw: string) => string,
): Uint8Array {
  const m = decodeModel(model);
  const graph = m.graph;
  if (graph.input.length !== 1) throw new ConversionError('BAD_ONNX', `the model has ${graph.input.length} inputs; expected one image input`);
  const image = graph.input[0];
  const g = new OnnxGraphBuilder();
  for (const n of graph.node) for (const o of n.output) g.unique(o);
  for (const t of graph.initializer) g.unique(t.name);
  if (input.exact && g.has(input.name)) throw new ConversionError('BAD_ONNX', `the model already uses the name ${input.name}`);
  const raw = g.unique(input.name);
  const filtered = filter(g, g.node('Transpose', [raw], `${prefix}/nchw`, [attr.ints('perm', [0, 3, 1, 2])]));
  g.nodes.push({ input: [filtered], output: [image.name], name: `Transpose:${image.name}`, opType: 'Transpose', attribute: [attr.ints('perm', [0, 2, 3, 1])] });
  return encodeModel({
    ...m,
    graph: {
      ...graph,
      node: [...g.nodes, ...graph.node],
      initializer: [...g.initializers, ...graph.initializer],
      input: [input.valueInfo ? input.valueInfo(image, raw) : { ...image, name: raw }],
    },
  });
}

export function withResidualInput(model: Uint8Array, options: ResidualInputOptions): Uint8Array {
  const box = options.box ?? 3;
  const [lo, hi] = options.range;
  if (!(box >= 3 && box % 2 === 1) || !Number.isFinite(options.gain) || !(hi > lo)) {
    throw new ConversionError('BAD_ONNX', 'the residual needs an odd box of 3 or more, a finite gain and a range lo < hi');
  }
  const scalar = (g: OnnxGraphBuilder, name: string, v: number) => g.floatConst(name, [], new Float32Array([v]));
  return withInputPrefix(model, { name: 'residual/raw' }, 'residual', (g, nchw) => {
    const half = (box - 1) / 2;
    const mean = g.node('AveragePool', [nchw], 'residual/mean', [
      attr.ints('kernel_shape', [box, box]),
      attr.ints('pads', [half, half, half, half]),
      attr.int('count_include_pad', 0),
    ]);
    const diff = g.node('Sub', [nchw, mean], 'residual/diff');
    const scaled = g.node('Mul', [diff, scalar(g, 'residual/gain', options.gain)], 'residual/scaled');
    const centred = g.node('Add', [scaled, scalar(g, 'residual/mid', (lo + hi) / 2)], 'residual/centred');
    return g.node('Clip', [centred, scalar(g, 'residual/lo', lo), scalar(g, 'residual/hi', hi)], 'residual/clipped');
  });
}

export function withDownUpInput(model: Uint8Array, options: DownUpInputOptions): Uint8Array {
  const f = options.factor;
  if (!(Number.isInteger(f) && f >= 2)) throw new ConversionError('BAD_ONNX', 'the down-up filter needs an integer factor of 2 or more');
  return withInputPrefix(model, { name: 'downup/raw' }, 'downup', (g, nchw) => {
    const down = g.node('AveragePool', [nchw], 'downup/down', [attr.ints('kernel_shape', [f, f]), attr.ints('strides', [f, f])]);
    const scales = g.floatConst('downup/scales', [4], new Float32Array([1, 1, f, f]));
    return g.node('Resize', [down, '', scales], 'downup/up', [attr.string('mode', 'linear'), attr.string('coordinate_transformation_mode', 'half_pixel')]);
  });
}
