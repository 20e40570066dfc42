// onnxruntime's blocked channel layout on its CPU provider (NCHWc: channels in blocks of 8 or 16,
// the block innermost). Its direct convolution reads the filter as a graph input, so the training
// graph can run the depthwise weight gradients there, where the plain Conv unfolds every (image,
// channel) map nine times first. The block size is the CPU's (MLAS: 16 with AVX-512, 8 with AVX2),
// read by running the probe below; other providers do not have these operators.
import { attr, encodeModel, makeModel, OnnxGraphBuilder, valueInfo } from './onnx-proto';

export const NCHWC_DOMAIN = 'com.microsoft.nchwc';
export const NCHWC_PROBE_INPUT = 'x';
const PROBE_CHANNELS = 64;

/** One ReorderInput of a [1, 64, 1, 2] map: where the second column's first value lands tells the block. */
export function buildNchwcProbeOnnx(): { bytes: Uint8Array; input: Float32Array; dims: number[]; output: string } {
  const g = new OnnxGraphBuilder();
  const output = g.domainNode(NCHWC_DOMAIN, 'ReorderInput', [NCHWC_PROBE_INPUT], 'blocked');
  const dims = [1, PROBE_CHANNELS, 1, 2];
  const model = makeModel({ name: 'nchwc probe', node: g.nodes, initializer: g.initializers, input: [valueInfo(NCHWC_PROBE_INPUT, dims)], output: [valueInfo(output, dims)] }, { purpose: 'nchwc-probe' });
  // value = channel·2 + column
  return { bytes: encodeModel(model), input: Float32Array.from({ length: PROBE_CHANNELS * 2 }, (_, i) => i), dims, output };
}

/** The block size the probe's output shows, or undefined when it is not a blocked layout. */
export function nchwcBlockSizeFromProbe(out: ArrayLike<number>): number | undefined {
  const block = Array.prototype.indexOf.call(out, 1) as number;
  if (block < 2 || PROBE_CHANNELS % block !== 0) return undefined;
  // Blocked: [channel block, column, channel in block] = ((cb·2 + w)·B + ci).
  for (let i = 0; i < out.length; i++) {
    const cb = Math.floor(i / (2 * block));
    const w = Math.floor(i / block) % 2;
    const c = cb * block + (i % block);
    if (out[i] !== c * 2 + w) return undefined;
  }
  return block;
}

/** Padding and geometry of a depthwise convolution (stride 1 unless given), and its bias if any. */
export interface NchwcConvGeometry {
  kernel: [number, number];
  pads: number[];
  dilations?: [number, number];
  strides?: [number, number];
  bias?: string;
}

/**
 * The NCHWc pieces of the training graph's depthwise gradients. Tensors in the blocked layout keep
 * their logical NCHW shape for onnxruntime, but their memory is [N, C/B, H, W, B]; only Reshapes
 * that keep that memory order may touch them. With C a multiple of B, [N, C, H, W] and [1, N·C, H, W]
 * block alike, so one reordered dz serves as a layer's weight-gradient filter and its dx input.
 */
export class NchwcGraph {
  private readonly reordered = new Map<string, string>();

  constructor(
    private readonly g: OnnxGraphBuilder,
    readonly block: number,
  ) {}

  fits(channels: number): boolean {
    return channels % this.block === 0;
  }

  /** An NCHW tensor in the blocked layout, reordered once however often it is asked for. */
  blocked(tensor: string): string {
    let b = this.reordered.get(tensor);
    if (!b) this.reordered.set(tensor, (b = this.g.domainNode(NCHWC_DOMAIN, 'ReorderInput', [tensor], `${tensor}/blocked`)));
    return b;
  }

  /**
   * Back to NCHW. With whole blocks the blocked source is remembered, so asking for the result
   * blocked again costs no reorder (and the ReorderOutput is dropped if nothing reads it).
   */
  unblocked(blocked: string, channels: number, out: string): string {
    const name = this.g.domainNode(NCHWC_DOMAIN, 'ReorderOutput', [blocked], out, [attr.int('channels', channels)]);
    if (this.fits(channels)) this.reordered.set(name, blocked);
    return name;
  }

  /** `tensor` is a copy of `source` (an Identity): it shares source's blocked form. */
  sameAs(tensor: string, source: string): void {
    const b = this.reordered.get(source);
    if (b) this.reordered.set(tensor, b);
  }

  /** The blocked form of a tensor if one exists already, else undefined. */
  knownBlocked(tensor: string): string | undefined {
    return this.reordered.get(tensor);
  }

  /**
   * The filter of dx = Wᵀ·dz for a 1×1 convolution W [cout, cin, 1, 1], in the layout the NCHWc
   * convolution reads for blocked input ([O/B, I/B, Bi, Bo] with O = cin, I = cout).
   */
  transposedPointwiseFilter(filter: string, cout: number, cin: number, out: string): string {
    const b = this.block;
    const t = this.g.node('Transpose', [this.reshape(filter, [cout / b, b, cin / b, b], `${out}/cells`)], `${out}/t`, [attr.ints('perm', [2, 0, 1, 3])]);
    return this.reshape(t, [cin, cout, 1, 1], out);
  }

  /** A dense (group 1) convolution of a blocked input by a blocked filter; blocked out. */
  conv(blockedIn: string, blockedFilter: string, geo: NchwcConvGeometry, out: string): string {
    return this.depthwiseConv(blockedIn, blockedFilter, 1, geo, out);
  }

  private reshape(t: string, dims: number[], out: string): string {
    return this.g.node('Reshape', [t, this.g.int64Const(`${out}/shape`, dims)], out);
  }

  /**
   * A depthwise filter [C, 1, kh, kw] in the layout the NCHWc depthwise convolution reads
   * ([C/B, kh, kw, B], which is what ReorderInput makes of it as a [1, C, kh, kw] map).
   */
  depthwiseFilter(filter: string, channels: number, kernel: [number, number], out: string): string {
    return this.reshape(this.g.domainNode(NCHWC_DOMAIN, 'ReorderInput', [this.reshape(filter, [1, channels, ...kernel], `${out}/map`)], `${out}/blocked`), [channels, 1, ...kernel], out);
  }

  /** A blocked [N, C, h, w] map read as a depthwise filter of N·C groups (the same memory). */
  mapAsDepthwiseFilter(blockedMap: string, groups: number, kernel: [number, number], out: string): string {
    return this.reshape(blockedMap, [groups, 1, ...kernel], out);
  }

  /** A blocked [N, C, h, w] map read as one image of N·C channels (the same memory). */
  mapAsOneImage(blockedMap: string, groups: number, h: number, w: number, out: string): string {
    return this.reshape(blockedMap, [1, groups, h, w], out);
  }

  /** Depthwise convolution (group = channels; 1 for a dense one) of a blocked input by a blocked filter; blocked out. */
  depthwiseConv(blockedIn: string, blockedFilter: string, channels: number, geo: NchwcConvGeometry, out: string): string {
    return this.g.domainNode(NCHWC_DOMAIN, 'Conv', geo.bias ? [blockedIn, blockedFilter, geo.bias] : [blockedIn, blockedFilter], out, [
      attr.ints('kernel_shape', geo.kernel),
      attr.ints('strides', geo.strides ?? [1, 1]),
      attr.ints('dilations', geo.dilations ?? [1, 1]),
      attr.ints('pads', geo.pads),
      attr.int('group', channels),
    ]);
  }

  /**
   * dz of a strided layer with zeros between its cells, in the blocked layout: one Pad of the blocked
   * memory (73 ms a MobileNetV2 step for its four strided layers, against 89 for nearest upsampling
   * and a multiply by a 0/1 pattern, and 120 for four phase convolutions of dz interleaved by Concat).
   */
  spread(blockedDz: string, channels: number, stride: [number, number], dz: { h: number; w: number }, out: string): string {
    const [sh, sw] = stride;
    // The blocked memory [N·C/B, h, w, B] with a unit axis after h and after w, padded to the stride.
    const cells = this.reshape(blockedDz, [-1, dz.h, 1, dz.w, 1, this.block], `${out}/cells`);
    const padded = this.g.node('Pad', [cells, this.g.int64Const(`${out}/pads`, [0, 0, 0, 0, 0, 0, 0, 0, sh - 1, 0, sw - 1, 0])], `${out}/padded`);
    return this.reshape(padded, [-1, channels, dz.h * sh, dz.w * sw], out);
  }

}
