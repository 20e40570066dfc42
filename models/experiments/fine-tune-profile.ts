// The whole-MobileNetV2 training step against its forward pass, with onnxruntime's per-node profile:
// where a step's time goes (experiment only; the benchmark is `npm run bench -- training`). Kernel
// times include the warm-up run, so read them as shares.
//   npx tsx models/experiments/fine-tune-profile.ts --dataset <dir> [--level all|extended|basic] [--reps 5] [--profile] [--parallel] [--dynamic-batch] [--no-nchwc]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { decodeToPaperRgb, toModelInput } from '../../electron/services/engine/preprocess';
import { layerGraphFromKeras } from '../../electron/services/explainers/layer-graph';
import { buildTrainingGraph, decodeWeights, loadNsfwjsSource } from '../../electron/services/onnx-graphs';
import { tfjsBackbone } from '../../electron/services/training/backbone-specs';
import { loadDataset } from '../../electron/services/training/dataset-items';
import { backboneBlocks, initialHead } from '../../electron/services/training/onnx-fine-tune';
import { cpuNchwcBlockSize, runTrainingGraph, type TrainingBatch } from '../../electron/services/training/onnx-training';
import { args, opt } from './script-args';

const level = opt('--level', 'all') as 'all' | 'extended' | 'basic' | 'disabled';
const profile = args.includes('--profile');
const profileDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ft-profile-'));
const N = 16;
const spec = tfjsBackbone('mobilenet_v2');
const source = loadNsfwjsSource('mobilenet_v2');
const graph = layerGraphFromKeras(source.modelJson.modelTopology, decodeWeights(source));
const blocks = backboneBlocks(graph, spec.featureLayer);
const trainable = new Set(blocks.flat());
const head = initialHead(1280, 256, 1);
const inputShape = [224, 224, 3] as const;
// --dynamic-batch: the graphs as they compile without a batch size (the tap-by-tap depthwise gradients).
const batchSize = args.includes('--dynamic-batch') ? undefined : N;
// --no-nchwc: the depthwise weight gradients without onnxruntime's NCHWc convolution.
const nchwcBlockSize = args.includes('--no-nchwc') ? undefined : await cpuNchwcBlockSize();
const train = buildTrainingGraph(graph.layers, { featureLayer: spec.featureLayer, inputShape, trainableLayers: trainable, head, batchSize, nchwcBlockSize });
const forward = buildTrainingGraph(graph.layers, { featureLayer: spec.featureLayer, inputShape, trainableLayers: trainable, head, forwardOnly: true, batchSize, nchwcBlockSize });
const items = loadDataset(opt('--dataset', 'dataset')).items.slice(0, N);
const per = 224 * 224 * 3;
const images = new Float32Array(N * per);
for (const [i, it] of items.entries()) toModelInput((await decodeToPaperRgb(it.file)).data, { inputSize: 224, normalisation: spec.normalisation }, images, i * per);
const batch: TrainingBatch = { images, count: N, inputShape, labels: Float32Array.from(items.map((i) => i.label)), weights: new Float32Array(N).fill(1), dropoutMask: new Float32Array(N * 256).fill(1), units: 256 };
const values = new Map(train.params.map((p) => [p.name, Float32Array.from(p.initial)]));
const parallel = args.includes('--parallel');
const mk = (bytes: Uint8Array, prof: boolean, par = parallel) => ort.InferenceSession.create(bytes, { executionProviders: ['cpu'], intraOpNumThreads: par ? 1 : 2, interOpNumThreads: par ? 2 : 1, executionMode: par ? 'parallel' : 'sequential', graphOptimizationLevel: level, enableProfiling: prof, profileFilePrefix: path.join(profileDir, 'step') });
const trainSession = await mk(train.bytes, profile);
const forwardSession = await mk(forward.bytes, false, false);
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const f: number[] = [], t: number[] = [];
const reps = Number(opt('--reps', '5'));
for (let r = -1; r < reps; r++) {
  let a = performance.now();
  await runTrainingGraph(forwardSession, forward.params, values, batch);
  const fw = performance.now() - a;
  a = performance.now();
  await runTrainingGraph(trainSession, train.params, values, batch);
  const tr = performance.now() - a;
  if (r >= 0) { f.push(fw); t.push(tr); }
}
console.log(`NCHWc block ${nchwcBlockSize ?? 'none'}, level ${level}: forward ${med(f).toFixed(0)} ms, step ${med(t).toFixed(0)} ms, ratio ${(med(t) / med(f)).toFixed(2)}`);
if (profile) {
  trainSession.endProfiling();
  // onnxruntime-node does not return the file's name: it is the only file in this run's folder.
  const file = path.join(profileDir, fs.readdirSync(profileDir).find((n) => n.endsWith('.json')) as string);
  const ev = JSON.parse(fs.readFileSync(file, 'utf8')) as Array<{ cat: string; name: string; dur: number; args?: { op_name?: string } }>;
  const byOp = new Map<string, number>();
  const byNode = new Map<string, number>();
  let total = 0;
  for (const e of ev) if (e.cat === 'Node' && e.name.endsWith('_kernel_time')) { const op = e.args?.op_name ?? '?'; byOp.set(op, (byOp.get(op) ?? 0) + e.dur); byNode.set(e.name, (byNode.get(e.name) ?? 0) + e.dur); total += e.dur; }
  const runs = reps + 1;
  console.log(`kernel total per run ${(total / runs / 1000).toFixed(0)} ms`);
  for (const [op, d] of [...byOp].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`${op.padEnd(24)} ${(d / runs / 1000).toFixed(1)} ms ${(100 * d / total).toFixed(1)} %`);
  console.log('--- top nodes');
  for (const [n, d] of [...byNode].sort((a, b) => b[1] - a[1]).slice(0, 40)) console.log(`${n.padEnd(60)} ${(d / runs / 1000).toFixed(1)} ms`);
}
