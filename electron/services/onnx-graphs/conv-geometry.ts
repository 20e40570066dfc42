// Shapes, Keras padding arithmetic and kernel layouts shared by the graph builders that walk a backbone's layers
// in NCHW (the explainers' gradient graph and the training graph).
import { attr, type AttributeProto } from './onnx-proto';

export interface Shape {
  c: number;
  h: number;
  w: number;
}

/** A forward value in a graph: its NCHW tensor name and shape. */
export interface Value {
  name: string;
  shape: Shape;
}

/** A Keras size or stride attribute (a number or an [h, w] pair) as [h, w]. */
export function pair(v: unknown, fallback: number): [number, number] {
  if (Array.isArray(v)) return [Number(v[0]), Number(v[1] ?? v[0])];
  if (typeof v === 'number') return [v, v];
  return [fallback, fallback];
}

/**
 * Output size and the padding before/after of one spatial axis for Keras "valid" or "same"
 * (TensorFlow puts the odd cell after); null for a mode the builders do not know.
 */
export function kerasPadding(mode: unknown, inSize: number, k: number, s: number): { out: number; before: number; after: number } | null {
  if (mode === 'valid' || mode === undefined) return { out: Math.floor((inSize - k) / s) + 1, before: 0, after: 0 };
  if (mode === 'same') {
    const out = Math.ceil(inSize / s);
    const total = Math.max((out - 1) * s + k - inSize, 0);
    return { out, before: Math.floor(total / 2), after: total - Math.floor(total / 2) };
  }
  return null;
}

type AxisPadding = { out: number; before: number; after: number };

/**
 * ConvTranspose's output_padding that brings a strided window op's backward back to the input's
 * size (the rows and columns the forward's last window did not reach).
 */
export function transposeOutputPadding(input: Shape, ph: AxisPadding, pw: AxisPadding, k: [number, number], s: [number, number]): [number, number] {
  return [input.h - (s[0] * (ph.out - 1) + k[0] - ph.before - ph.after), input.w - (s[1] * (pw.out - 1) + k[1] - pw.before - pw.after)];
}

/** 1 / (cells of each "same" average-pool window inside the image): Keras does not count padding. */
export function averagePoolReciprocalCounts(input: Shape, ph: AxisPadding, pw: AxisPadding, k: [number, number], s: [number, number]): Float32Array {
  const counts = new Float32Array(ph.out * pw.out);
  for (let oy = 0; oy < ph.out; oy++)
    for (let ox = 0; ox < pw.out; ox++) {
      const ys = Math.min(input.h, oy * s[0] - ph.before + k[0]) - Math.max(0, oy * s[0] - ph.before);
      const xs = Math.min(input.w, ox * s[1] - pw.before + k[1]) - Math.max(0, ox * s[1] - pw.before);
      counts[oy * pw.out + ox] = 1 / (ys * xs);
    }
  return counts;
}

/** Keras kernel [kh,kw,cin,cout] → ONNX [cout,cin,kh,kw]; depthwise [kh,kw,c,1] → [c,1,kh,kw]. */
export function kerasToOnnxKernel(k: Float32Array, shape: number[], depthwise: boolean): Float32Array {
  const [kh, kw, cin, last] = shape;
  const cout = depthwise ? cin * last : last;
  const per = depthwise ? 1 : cin;
  const out = new Float32Array(cout * per * kh * kw);
  for (let ky = 0; ky < kh; ky++)
    for (let kx = 0; kx < kw; kx++)
      for (let ci = 0; ci < cin; ci++)
        for (let m = 0; m < last; m++) {
          const co = depthwise ? ci * last + m : m;
          out[((co * per + (depthwise ? 0 : ci)) * kh + ky) * kw + kx] = k[((ky * kw + kx) * cin + ci) * last + m];
        }
  return out;
}

/** The attributes of the ConvTranspose that sends a strided window op's output gradient back to its input. */
export function convTransposeAttributes(k: [number, number], s: [number, number], pads: number[], outputPadding: [number, number], group: number): AttributeProto[] {
  return [attr.ints('kernel_shape', k), attr.ints('strides', s), attr.ints('pads', pads), attr.ints('output_padding', outputPadding), attr.int('group', group)];
}
