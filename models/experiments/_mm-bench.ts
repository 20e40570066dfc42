// Micro-benchmark: 1x1 conv weight gradient, dW[cout,cin] = Σ_n,p dz[n,cout,p] x[n,cin,p].
import ort from 'onnxruntime-node';
import { attr, encodeModel, makeModel, OnnxGraphBuilder, valueInfo } from '../../electron/services/onnx-graphs/onnx-proto';
const N = 16, CIN = Number(process.env.CIN ?? 16), COUT = Number(process.env.COUT ?? 96), H = Number(process.env.H ?? 112), W = H;
function build(kind: string): Uint8Array {
  const g = new OnnxGraphBuilder();
  const c64 = (n: string, v: number[]) => g.int64Const(n, v);
  let out: string;
  if (kind === 'gemm') {
    const xT = g.node('Reshape', [g.node('Transpose', ['x'], 'xT4', [attr.ints('perm', [1, 0, 2, 3])]), c64('xs', [CIN, -1])], 'xT');
    const dT = g.node('Reshape', [g.node('Transpose', ['dz'], 'dT4', [attr.ints('perm', [1, 0, 2, 3])]), c64('ds', [COUT, -1])], 'dT');
    out = g.node('Gemm', [xT, dT], 'out', [attr.int('transB', 1)]);
  } else {
    const x3 = g.node('Reshape', ['x', c64('x3', [0, CIN, -1])], 'x3');
    const d3 = g.node('Reshape', ['dz', c64('d3', [0, COUT, -1])], 'd3');
    const mm = kind === 'fused' ? g.node('FusedMatMul', [x3, d3], 'mm', [attr.int('transB', 1)]) : g.node('MatMul', [x3, g.node('Transpose', [d3], 'dT', [attr.ints('perm', [0, 2, 1])])], 'mm');
    if (kind === 'fused') g.nodes[g.nodes.length - 1].domain = 'com.microsoft';
    out = g.node('ReduceSum', [mm, c64('r0', [0])], 'out', [attr.int('keepdims', 0)]);
  }
  g.nodes.push({ input: [out], output: ['y'], opType: 'Identity', name: 'id' });
  const m = makeModel({ name: 'b', node: g.nodes, initializer: g.initializers, input: [valueInfo('x', [N, CIN, H, W]), valueInfo('dz', [N, COUT, H, W])], output: [valueInfo('y', [CIN, COUT])] }, {});
  m.opsetImport.push({ domain: 'com.microsoft', version: 1 });
  return encodeModel(m);
}
const x = Float32Array.from({ length: N * CIN * H * W }, (_, i) => Math.sin(i * 0.37));
const dz = Float32Array.from({ length: N * COUT * H * W }, (_, i) => Math.cos(i * 0.11));
for (const kind of (process.env.KINDS ?? 'gemm,fused,matmul').split(',')) {
  const s = await ort.InferenceSession.create(build(kind), { intraOpNumThreads: 2, graphOptimizationLevel: 'all' });
  const feeds = { x: new ort.Tensor('float32', x, [N, CIN, H, W]), dz: new ort.Tensor('float32', dz, [N, COUT, H, W]) };
  let y = (await s.run(feeds)).y.data as Float32Array;
  const ts: number[] = [];
  for (let r = 0; r < 7; r++) { const t = performance.now(); y = (await s.run(feeds)).y.data as Float32Array; ts.push(performance.now() - t); }
  ts.sort((a, b) => a - b);
  console.log(kind, 'median ms', ts[3].toFixed(1), 'y0', y[0].toFixed(3), 'y5', y[5].toFixed(3));
}
