// A backbone that reads an image's high-frequency residual instead of the image: the same model with
// a prefix on its NHWC input, x → clip(gain · (x − mean₃ₓ₃(x)) + mid, lo, hi). Why: a frozen ImageNet
// backbone describes content first (a face, a street), and content is what differs between
// collections of photographs; the residual keeps edges and noise and drops most of the content, so
// the features describe how the pixels were made rather than what they show.
import { ConversionError } from './conversion-error';
import { attr, decodeModel, encodeModel, OnnxGraphBuilder } from './onnx-proto';

export interface ResidualInputOptions {
  /** Amplification of the residual (its values are a few hundredths of the input range). */
  gain: number;
  /** Side of the box filter whose mean is subtracted (odd; 3 by default). */
  box?: number;
  /** The input range of the backbone, e.g. [0, 1] for nsfwjs's 'unit' normalisation. */
  range: readonly [number, number];
}

export function withResidualInput(model: Uint8Array, options: ResidualInputOptions): Uint8Array {
  const m = decodeModel(model);
  const graph = m.graph;
  if (graph.input.length !== 1) throw new ConversionError('BAD_ONNX', `the model has ${graph.input.length} inputs; expected one image input`);
  const box = options.box ?? 3;
  const [lo, hi] = options.range;
  if (!(box >= 3 && box % 2 === 1) || !Number.isFinite(options.gain) || !(hi > lo)) {
    throw new ConversionError('BAD_ONNX', 'the residual needs an odd box of 3 or more, a finite gain and a range lo < hi');
  }
  const inputName = graph.input[0].name;
  const g = new OnnxGraphBuilder();
  for (const n of graph.node) for (const o of n.output) g.unique(o);
  for (const t of graph.initializer) g.unique(t.name);
  const raw = g.unique('residual/raw');
  const nchw = g.node('Transpose', [raw], 'residual/nchw', [attr.ints('perm', [0, 3, 1, 2])]);
  const half = (box - 1) / 2;
  const mean = g.node('AveragePool', [nchw], 'residual/mean', [
    attr.ints('kernel_shape', [box, box]),
    attr.ints('pads', [half, half, half, half]),
    attr.int('count_include_pad', 0),
  ]);
  const diff = g.node('Sub', [nchw, mean], 'residual/diff');
  const scaled = g.node('Mul', [diff, g.floatConst('residual/gain', [], new Float32Array([options.gain]))], 'residual/scaled');
  const centred = g.node('Add', [scaled, g.floatConst('residual/mid', [], new Float32Array([(lo + hi) / 2]))], 'residual/centred');
  const clipped = g.node('Clip', [centred, g.floatConst('residual/lo', [], new Float32Array([lo])), g.floatConst('residual/hi', [], new Float32Array([hi]))], 'residual/clipped');
  g.nodes.push({ input: [clipped], output: [inputName], name: `Transpose:${inputName}`, opType: 'Transpose', attribute: [attr.ints('perm', [0, 2, 3, 1])] });
  return encodeModel({
    ...m,
    graph: {
      ...graph,
      node: [...g.nodes, ...graph.node],
      initializer: [...g.initializers, ...graph.initializer],
      input: [{ ...graph.input[0], name: raw }],
    },
  });
}
