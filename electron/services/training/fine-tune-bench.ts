// The fine-tuning benchmark's measurement (npm run bench -- training): one compiled training graph and
// its forward-only twin, the same weights and the same real batch, timed alternately so both see the
// same machine load, with the same weights as a fused detector (the runtime's bound for a forward
// pass of this network). Medians, not means: the machine is shared.
import ort from 'onnxruntime-node';
import { decodeToPaperRgb, toModelInput } from '../engine/preprocess';
import { defaultIntraOpThreads, type ProviderName } from '../engine/execution-providers';
import { layerGraphFromKeras } from '../explainers/layer-graph';
import { buildDetectorOnnx, buildTrainingGraph, convertLayersModel, decodeWeights, loadNsfwjsSource } from '../onnx-graphs';
import { tfjsBackbone } from './backbone-specs';
import type { DatasetItem } from './dataset-items';
import { backboneBlocks, initialHead } from './onnx-fine-tune';
import { applyOptimizerStep, compileTrainingSession, createOptimizerState, runTrainingGraph, type TrainingBatch, type TrainingTarget } from './onnx-training';
import { TrainingError } from './training-errors';

export interface FineTuneBenchOptions {
  backbone: string;
  unfreeze: number | 'all';
  batchSize: number;
  reps: number;
  intraOpThreads?: number;
  items: readonly DatasetItem[];
  hiddenUnits?: number;
  /** false: the CPU graph without onnxruntime's NCHWc operators. */
  nchwc?: boolean;
}

export interface FineTuneBenchResult {
  batchSize: number;
  provider: ProviderName;
  optimizer: 'adam';
  trainedWeights: number;
  /** Median seconds per batch. */
  forwardSeconds: number;
  /**
   * The same weights as the fused detector analysis runs: constant weights, so onnxruntime folds and
   * lays out the whole network itself. The fastest forward pass the runtime allows this model.
   */
  detectorForwardSeconds: number;
  stepSeconds: number;
  updateSeconds: number;
  /** The CPU NCHWc block the training graph was compiled for (undefined: the plain graph). */
  nchwcBlockSize?: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function benchFineTuneStep(o: FineTuneBenchOptions): Promise<FineTuneBenchResult> {
  const spec = tfjsBackbone(o.backbone);
  if (o.items.length < o.batchSize) throw new TrainingError('EMPTY_SPLIT', `the dataset has ${o.items.length} images, fewer than one batch of ${o.batchSize}`);
  const source = loadNsfwjsSource(o.backbone);
  const graph = layerGraphFromKeras(source.modelJson.modelTopology, decodeWeights(source));
  const blocks = backboneBlocks(graph, spec.featureLayer);
  const k = o.unfreeze === 'all' ? blocks.length : o.unfreeze;
  const trainable = new Set(blocks.slice(blocks.length - k).flat());
  const units = o.hiddenUnits ?? 256;
  const head = initialHead(o.backbone === 'mobilenet_v2' ? 1280 : 2048, units, 1);
  const inputShape = [spec.inputSize, spec.inputSize, 3] as const;
  // Both compiled for the batch and the provider, as fine-tuning compiles its training graph.
  const compile = (forwardOnly: boolean) => (t: TrainingTarget) =>
    buildTrainingGraph(graph.layers, { featureLayer: spec.featureLayer, inputShape, trainableLayers: trainable, head, forwardOnly, batchSize: o.batchSize, nchwcBlockSize: t.nchwcBlockSize });
  const trainSession = await compileTrainingSession(compile(false), { preference: 'auto', intraOpThreads: o.intraOpThreads, nchwc: o.nchwc });
  const forwardSession = await compileTrainingSession(compile(true), { preference: trainSession.provider, intraOpThreads: o.intraOpThreads, nchwc: o.nchwc });
  const train = trainSession.graph;
  const forward = forwardSession.graph;
  const detectorBytes = buildDetectorOnnx(convertLayersModel(source, { outputs: [spec.featureLayer], pooled: spec.featureLayer }).bytes, head);
  let detectorSession: ort.InferenceSession | undefined;
  try {
    detectorSession = await ort.InferenceSession.create(detectorBytes, { executionProviders: [trainSession.provider], intraOpNumThreads: o.intraOpThreads ?? defaultIntraOpThreads() });
    // Half real, half synthetic images when the dataset has both.
    const reals = o.items.filter((i) => i.label === 0);
    const fakes = o.items.filter((i) => i.label === 1);
    const picked = [...reals.slice(0, Math.ceil(o.batchSize / 2)), ...fakes.slice(0, Math.floor(o.batchSize / 2))];
    const items = picked.length === o.batchSize ? picked : o.items.slice(0, o.batchSize);
    const per = spec.inputSize * spec.inputSize * 3;
    const images = new Float32Array(o.batchSize * per);
    for (const [i, it] of items.entries()) toModelInput((await decodeToPaperRgb(it.file)).data, { inputSize: spec.inputSize, normalisation: spec.normalisation }, images, i * per);
    const batch: TrainingBatch = {
      images,
      count: o.batchSize,
      inputShape,
      labels: Float32Array.from(items.map((i) => i.label)),
      weights: new Float32Array(o.batchSize).fill(1),
      dropoutMask: Float32Array.from({ length: o.batchSize * units }, (_, i) => (i % 2 ? 2 : 0)),
      units,
    };
    const values = new Map(train.params.map((p) => [p.name, Float32Array.from(p.initial)]));
    const state = createOptimizerState('adam', train.params);
    const opts = { kind: 'adam' as const, headLearningRate: 1e-3, backboneLearningRate: 1e-4 };
    const detectorFeeds = { [detectorSession.inputNames[0]]: new ort.Tensor('float32', images, [o.batchSize, ...inputShape]) };
    const fwd: number[] = [];
    const det: number[] = [];
    const step: number[] = [];
    const upd: number[] = [];
    // One warm-up of each, then alternate.
    for (let r = -1; r < o.reps; r++) {
      let t = performance.now();
      await detectorSession.run(detectorFeeds);
      const d = (performance.now() - t) / 1000;
      t = performance.now();
      await runTrainingGraph(forwardSession.session, forward.params, values, batch);
      const f = (performance.now() - t) / 1000;
      t = performance.now();
      const out = await runTrainingGraph(trainSession.session, train.params, values, batch);
      const u0 = performance.now();
      applyOptimizerStep(state, opts, train.params, values, out.gradients);
      const end = performance.now();
      if (r >= 0) {
        fwd.push(f);
        det.push(d);
        step.push((end - t) / 1000);
        upd.push((end - u0) / 1000);
      }
    }
    return {
      batchSize: o.batchSize,
      provider: trainSession.provider,
      optimizer: 'adam',
      trainedWeights: train.params.filter((p) => !p.head).length,
      forwardSeconds: median(fwd),
      detectorForwardSeconds: median(det),
      stepSeconds: median(step),
      updateSeconds: median(upd),
      nchwcBlockSize: trainSession.nchwcBlockSize,
    };
  } finally {
    await detectorSession?.release();
    await trainSession.session.release();
    await forwardSession.session.release();
  }
}
