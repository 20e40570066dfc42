// Micro-benchmark: stride-1 depthwise 3x3 weight gradient, N=16, C=144, 56x56, pad 1.
import ort from 'onnxruntime-node';
import { attr, encodeModel, makeModel, OnnxGraphBuilder, valueInfo } from '../../electron/services/onnx-graphs/onnx-proto';
const N = 16, C = Number(process.env.C ?? 144), H = Number(process.env.H ?? 56), W = H;
function build(kind: string): Uint8Array {
  const g = new OnnxGraphBuilder();
  const c64 = (n: string, v: number[]) => g.int64Const(n, v);
  let out: string;
  if (kind === 'taps') {
    const xp = g.node('Pad', ['x', c64('pads', [0, 0, 1, 1, 0, 0, 1, 1])], 'xp');
    const taps: string[] = [];
    for (let ky = 0; ky < 3; ky++) for (let kx = 0; kx < 3; kx++) {
      const xs = g.node('Slice', [xp, c64(`s${ky}${kx}`, [ky, kx]), c64(`e${ky}${kx}`, [ky + H, kx + W]), c64(`a${ky}${kx}`, [2, 3])], `xs${ky}${kx}`);
      const m = g.node('Mul', [xs, 'dz'], `m${ky}${kx}`);
      taps.push(g.node('ReduceSum', [m, c64(`r${ky}${kx}`, [0, 2, 3])], `t${ky}${kx}`, [attr.int('keepdims', 0)]));
    }
    out = g.node('Concat', taps.map((t, i) => g.node('Unsqueeze', [t, c64(`u${i}`, [0])], `u${i}`)), 'out', [attr.int('axis', 0)]);
  } else if (kind === 'group2d') {
    // (1, N*C, H, W) input, (N*C, 1, H, W) kernel, group N*C, pads 1: out (1, N*C, 3, 3).
    const x2 = g.node('Reshape', ['x', c64('xs', [1, -1, H, W])], 'x2');
    const k2 = g.node('Reshape', ['dz', c64('ks', [-1, 1, H, W])], 'k2');
    const corr = g.node('Conv', [x2, k2], 'corr', [attr.ints('pads', [1, 1, 1, 1]), attr.int('group', N * C), attr.ints('kernel_shape', [H, W])]);
    out = g.node('ReduceSum', [g.node('Reshape', [corr, c64('cs', [N, C, 9])], 'c3'), c64('r0', [0])], 'out', [attr.int('keepdims', 0)]);
  } else if (kind === 'stack2d') {
    // Batch stacked along height, each image padded on its own: group C, dynamic N.
    const xp = g.node('Pad', ['x', c64('pads', [0, 0, 1, 1, 0, 0, 1, 1])], 'xp');
    const xT = g.node('Transpose', [xp], 'xT', [attr.ints('perm', [1, 0, 2, 3])]);
    const xS = g.node('Pad', [g.node('Reshape', [xT, c64('xs', [1, C, -1, W + 2])], 'xS0'), c64('p2', [0, 0, 0, 0, 0, 0, 2, 0])], 'xS');
    const dp = g.node('Pad', ['dz', c64('dpads', [0, 0, 0, 0, 0, 0, 2, 0])], 'dp');
    const dT = g.node('Transpose', [dp], 'dT', [attr.ints('perm', [1, 0, 2, 3])]);
    const dS = g.node('Reshape', [dT, c64('ds', [C, 1, -1, W])], 'dS');
    const corr = g.node('Conv', [xS, dS], 'corr', [attr.int('group', C)]);
    out = g.node('Reshape', [corr, c64('os', [C, 9])], 'out');
  } else {
    // 3-D: x as (1, C, N, H, W), kernel dz (C, 1, N, H, W), group C.
    const xT = g.node('Transpose', ['x'], 'xT', [attr.ints('perm', [1, 0, 2, 3])]);
    const xV = g.node('Reshape', [xT, c64('xv', [1, C, N, H, W])], 'xV');
    const dT = g.node('Transpose', ['dz'], 'dT', [attr.ints('perm', [1, 0, 2, 3])]);
    const dV = g.node('Reshape', [dT, c64('dv', [C, 1, N, H, W])], 'dV');
    const corr = g.node('Conv', [xV, dV], 'corr', [attr.ints('pads', [0, 1, 1, 0, 1, 1]), attr.int('group', C)]);
    out = g.node('Reshape', [corr, c64('os', [C, 9])], 'out');
  }
  g.nodes.push({ input: [out], output: ['y'], opType: 'Identity', name: 'id' });
  return encodeModel(makeModel({ name: 'b', node: g.nodes, initializer: g.initializers, input: [valueInfo('x', [N, C, H, W]), valueInfo('dz', [N, C, H, W])], output: [valueInfo('y', [-1])] }, {}));
}
const x = Float32Array.from({ length: N * C * H * W }, (_, i) => Math.sin(i * 0.37));
const dz = Float32Array.from({ length: N * C * H * W }, (_, i) => Math.cos(i * 0.11));
const ref: Float32Array[] = [];
for (const kind of (process.env.KINDS ?? 'taps,group2d,conv3d').split(',')) {
  const s = await ort.InferenceSession.create(build(kind), { intraOpNumThreads: 2, graphOptimizationLevel: 'all' });
  const feeds = { x: new ort.Tensor('float32', x, [N, C, H, W]), dz: new ort.Tensor('float32', dz, [N, C, H, W]) };
  let y = (await s.run(feeds)).y.data as Float32Array;
  const ts: number[] = [];
  for (let r = 0; r < 7; r++) { const t = performance.now(); y = (await s.run(feeds)).y.data as Float32Array; ts.push(performance.now() - t); }
  ts.sort((a, b) => a - b);
  ref.push(y);
  console.log(kind, 'median ms', ts[3].toFixed(1), 'len', y.length, 'y0', y[0].toFixed(3));
}
