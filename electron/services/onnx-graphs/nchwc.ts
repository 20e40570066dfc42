// onnxruntime's blocked channel layout on its CPU provider (NCHWc: channels in blocks of 8 or 16,
// the block innermost). Its direct convolution reads the filter as a graph input, so the training
// graph can run the depthwise weight gradients there, where the plain Conv unfolds every (image,
// channel) map nine times first. The block size is the CPU's (MLAS: 16 with AVX-512, 8 with AVX2),
// read by running the probe below; other providers do not have these operators.
import { encodeModel, makeModel, OnnxGraphBuilder, valueInfo } from './onnx-proto';

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
