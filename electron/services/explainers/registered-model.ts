// Opens a registered detector (the engine's model registry) for explanation: the fused ONNX for
// forward passes, the head weights beside its card for exact gradients, and — when the backbone ONNX
// exposes a layer shallower than the feature map — that layer for LayerCAM.
import fs from 'node:fs';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { findRepoRoot } from '../app/app-info';
import { findBackbone, type BackboneEntry } from '../engine/backbones';
import { getDetectorSession, providerReport, type SessionOptionsInput } from '../engine/detector-session';
import { defaultIntraOpThreads, type ProviderName } from '../engine/execution-providers';
import { headInputsOfCard, ModelRegistry, readHeadWeightsFile, type RegisteredModel } from '../engine/model-registry';
import { inferenceOf, operatingPointOf, type Calibration } from '../engine/operating-point';
import type { Normalisation } from '../engine/preprocess';
import { decodeWeights, loadNsfwjsSource, type HeadInput } from '../onnx-graphs';
import { ExplainError } from './explain-errors';
import type { ExplainableModel, HeadParams } from './explain-types';
import { headRowsOf } from './head-math';
import { layerGraphFromKeras, type LayerGraph } from './layer-graph';
import { createOnnxExplainableModel, onnxActivationSource } from './onnx-model';


export interface ExplainableRegisteredModel {
  model: ExplainableModel;
  registered: RegisteredModel;
  normalisation: Normalisation;
  /** The card's decision threshold, on calibrated scores. */
  threshold: number;
  /** The card's calibration: the threshold applies to calibrated p(synthetic). */
  calibration?: Calibration;
  /** The execution provider of the detector's session, and why not the one asked for. */
  provider: ProviderName;
  providerNote?: string;
}

export function headWeightsPath(registered: RegisteredModel): string {
  const dir = path.dirname(registered.cardPath);
  const file = registered.card.head.file;
  return path.resolve(dir, typeof file === 'string' && file ? file : 'head-weights.json');
}

export function readHeadParams(file: string): HeadParams {
  if (!fs.existsSync(file)) {
    throw new ExplainError('EXPLAIN_NO_HEAD_WEIGHTS', `No head weights at ${file}: the explainers need them for exact gradients`);
  }
  try {
    return readHeadWeightsFile(file);
  } catch (e) {
    throw new ExplainError('EXPLAIN_NO_HEAD_WEIGHTS', `Cannot read head weights ${file}: ${(e as Error).message}`);
  }
}

function outputShapeOf(entry: BackboneEntry | undefined, name: string): number[] | undefined {
  const outputs = entry && Array.isArray(entry.outputs) ? (entry.outputs as unknown[]) : [];
  const o = outputs.find((x) => typeof x === 'object' && x !== null && (x as { name?: unknown }).name === name) as { shape?: unknown } | undefined;
  return Array.isArray(o?.shape) ? (o.shape as number[]) : undefined;
}
const outputHeight = (entry: BackboneEntry | undefined, name: string) => outputShapeOf(entry, name)?.[0];
const outputChannels = (entry: BackboneEntry | undefined, name: string) => outputShapeOf(entry, name)?.at(-1);

/** The explainers' head for a multi-map head: the feature map's rows (the other maps arrive as head_context). */
function featureRowsOfHead(head: HeadParams, inputs: HeadInput[], featureLayer: string, channelsOf: (output: string) => number | undefined): HeadParams {
  let row = 0;
  for (const i of inputs) {
    const c = channelsOf(i.output);
    if (!c) throw new ExplainError('EXPLAIN_MODEL_MISMATCH', `The backbone manifest gives no shape for ${i.output}, an input of the head`);
    const rows = c * (i.pooling === 'mean-std' ? 2 : 1);
    if (i.output === featureLayer) return headRowsOf(head, row, rows);
    row += rows;
  }
  throw new ExplainError('EXPLAIN_MODEL_MISMATCH', `The head's inputs do not include its feature layer ${featureLayer}`);
}

function outputNames(entry: BackboneEntry): string[] {
  const outputs = Array.isArray(entry.outputs) ? (entry.outputs as unknown[]) : [];
  return outputs.map((o) => (typeof o === 'string' ? o : String((o as { name?: unknown })?.name ?? ''))).filter(Boolean);
}

const graphCache = new Map<string, Promise<LayerGraph>>();

/** The backbone's layer graph from the tfjs weights that ship in npm (nsfwjs), decoded without tfjs. */
export function loadBackboneGraph(name: string): Promise<LayerGraph> {
  let g = graphCache.get(name);
  if (!g) {
    g = (async () => {
      const source = loadNsfwjsSource(name);
      return layerGraphFromKeras(source.modelJson.modelTopology, decodeWeights(source));
    })();
    graphCache.set(name, g);
    g.catch(() => graphCache.delete(name));
  }
  return g;
}

const backboneSessions = new Map<string, Promise<ort.InferenceSession>>();

function backboneSession(file: string): Promise<ort.InferenceSession> {
  let s = backboneSessions.get(file);
  if (!s) {
    s = ort.InferenceSession.create(file, { intraOpNumThreads: defaultIntraOpThreads(), interOpNumThreads: 1, graphOptimizationLevel: 'all', logSeverityLevel: 3 });
    backboneSessions.set(file, s);
    s.catch(() => backboneSessions.delete(file));
  }
  return s;
}

export async function releaseExplainerSessions(): Promise<void> {
  const all = [...backboneSessions.values()];
  backboneSessions.clear();
  for (const s of all) await (await s.catch(() => undefined))?.release();
}

export async function openRegisteredModel(options: { dataDir: string; modelId?: string; repoRoot?: string; session?: SessionOptionsInput }): Promise<ExplainableRegisteredModel> {
  const repoRoot = options.repoRoot ?? findRepoRoot();
  const registry = new ModelRegistry({ dataDir: options.dataDir, repoRoot });
  const registered = await registry.resolve(options.modelId);
  const card = registered.card;
  const head = readHeadParams(headWeightsPath(registered));
  const detector = await getDetectorSession(registered.detectorPath, { ...options.session, expectedSha256: card.sha256 });

  let entry: (BackboneEntry & { path: string }) | undefined;
  try {
    entry = findBackbone(repoRoot, card.backbone.name);
  } catch {
    entry = undefined;
  }
  const featureLayer = card.backbone.featureLayer ?? entry?.featureLayer;
  const featureShape = (card.backbone.featureShape ?? entry?.featureShape) as number[] | undefined;
  if (!featureLayer || !featureShape || featureShape.length !== 3) {
    throw new ExplainError('EXPLAIN_MODEL_MISMATCH', `Model ${card.id}: neither its card nor the backbone manifest gives the feature layer and its shape`);
  }
  // Shallow layers: outputs the backbone file already computes that lie *before* the feature map.
  // The manifest lists them deepest first, so a head trained on a mid layer (e.g. block_12_add)
  // must not be offered the deeper out_relu: gradients cannot flow from it to the head.
  const backboneOutputs = entry && fs.existsSync(entry.path) ? outputNames(entry).filter((o) => o !== 'pooled' && o !== 'features') : [];
  const featureIndex = backboneOutputs.indexOf(featureLayer);
  // LayerCAM's default (the first) is the deepest layer finer than the feature map.
  const finer = (o: string) => (outputHeight(entry, o) ?? 0) > featureShape[0];
  const shallowCandidates = featureIndex < 0 ? [] : backboneOutputs.slice(featureIndex + 1);
  const headInputs = headInputsOfCard(card.backbone);
  // A head that also reads earlier maps: the layer-gradient graphs follow the feature map alone, so
  // a gradient at a shallower layer would miss its paths through those maps; none is offered.
  const shallowLayers = headInputs ? [] : [...shallowCandidates.filter(finer), ...shallowCandidates.filter((o) => !finer(o))];
  const model = createOnnxExplainableModel({
    id: card.id,
    detector,
    head: headInputs ? featureRowsOfHead(head, headInputs, featureLayer, (o) => outputChannels(entry, o)) : head,
    featureLayer,
    featureShape: featureShape as [number, number, number],
    mirrored: inferenceOf(card).mirror === true,
    shallow:
      entry && shallowLayers.length > 0
        ? {
            layers: shallowLayers,
            graph: () => loadBackboneGraph(card.backbone.name),
            activations: async (image, layer) => onnxActivationSource(await backboneSession(entry.path), detector.inputSize)(image, layer),
            // The fused detector's hash covers the backbone weights and the head.
            gradient: { cacheDir: path.join(options.dataDir, 'cache', 'gradient-graphs'), cacheKey: detector.modelSha256 },
          }
        : undefined,
  });
  return {
    model,
    registered,
    normalisation: registered.normalisation,
    threshold: card.threshold,
    calibration: operatingPointOf(card).calibration,
    ...providerReport(detector),
  };
}
