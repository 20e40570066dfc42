// Which backbone file and which of its outputs a feature layer name ("last", "mid", "both") means.
import fs from 'node:fs';
import path from 'node:path';
import { findRepoRoot } from '../app/app-info';
import { findBackbone } from '../engine/backbones';
import type { BackboneSpec, LayerSpec } from './feature-cache';
import { TrainingError } from './training-errors';

export type FeatureChoice = 'last' | 'mid' | 'both' | 'taps';

export const FEATURE_CHOICES: readonly FeatureChoice[] = ['last', 'mid', 'both', 'taps'];

/**
 * "taps": pooled maps of several depths, concatenated (EXPERIMENTS.md, "Layer taps": on the crossed
 * folds they beat any single layer). The last entry is the backbone's last map, mean-pooled: the
 * map the detector exposes as `features`, so every other tap lies before it and stays fixed while an
 * explainer varies it.
 */
export const TAP_LAYERS: Record<string, ReadonlyArray<{ output: string; pooling: 'mean' | 'mean-std' }>> = {
  mobilenet_v2: [
    { output: 'block_2_add', pooling: 'mean-std' },
    { output: 'block_5_add', pooling: 'mean-std' },
    { output: 'block_8_add', pooling: 'mean-std' },
    { output: 'block_12_add', pooling: 'mean' },
    { output: 'block_15_add', pooling: 'mean-std' },
    { output: 'out_relu', pooling: 'mean' },
  ],
};

/** The earlier layer each backbone offers for "mid" features: a residual/inception output with texture-scale receptive fields. */
export const MID_LAYERS: Record<string, string> = {
  mobilenet_v2: 'block_12_add',
  inception_v3: 'mixed7',
  tiny_darknet: 'leaky_re_lu_9',
};

/** Graph output holding the globally average-pooled last feature map, as the backbone build names it. */
export const POOLED_OUTPUT = 'pooled';

export interface ResolvedBackbone extends BackboneSpec {
  featureLayer: string;
  featureShape: number[];
  /** Outputs the file offers (from the manifest, when recorded). */
  outputs?: string[];
  entry: Record<string, unknown>;
}

export function resolveBackbone(name: string, repoRoot = findRepoRoot()): ResolvedBackbone {
  let b;
  try {
    b = findBackbone(repoRoot, name);
  } catch (e) {
    throw new TrainingError('BACKBONE_NOT_FOUND', (e as Error).message);
  }
  if (!fs.existsSync(b.path)) throw new TrainingError('BACKBONE_NOT_FOUND', `backbone file ${b.path} is missing; run \`npx tsx models/build-backbones.ts\``);
  return {
    name: b.name,
    onnxPath: b.path,
    sha256: b.sha256,
    inputSize: b.inputSize,
    normalisation: b.norm,
    featureLayer: b.featureLayer,
    featureShape: b.featureShape,
    outputs: Array.isArray(b.outputs) ? (b.outputs as unknown[]).map((o) => (typeof o === 'string' ? o : String((o as { name?: unknown }).name))) : undefined,
    entry: b,
  };
}

/** The layer specs of a feature choice. "last" reads the pooled output; "mid" needs a backbone file that exposes the mid layer. */
export function layersFor(choice: FeatureChoice, backbone: { name: string }, midOutput?: string): LayerSpec[] {
  if (choice === 'taps') {
    const taps = TAP_LAYERS[backbone.name];
    if (!taps) throw new TrainingError('UNSUPPORTED', `no layer taps are known for backbone ${backbone.name}`);
    return taps.map((t) => ({ key: `${t.output}-${t.pooling}`, output: t.output, pooling: t.pooling }));
  }
  const last: LayerSpec = { key: 'last', output: POOLED_OUTPUT, pooling: 'none' };
  const midName = midOutput ?? MID_LAYERS[backbone.name];
  if (choice !== 'last' && !midName) throw new TrainingError('UNSUPPORTED', `no mid layer is known for backbone ${backbone.name}`);
  const mid: LayerSpec = { key: 'mid', output: midName, pooling: 'mean' };
  return choice === 'last' ? [last] : choice === 'mid' ? [mid] : [last, mid];
}

export function defaultBackbonesDir(repoRoot = findRepoRoot()): string {
  return path.join(repoRoot, 'models', 'backbones');
}

/**
 * The same backbones run in TensorFlow.js (experiments only): any layer can be read, at ~10× the
 * ONNX cost. Values agree with the ONNX build to the converter's 1e-4 tolerance; the cache keeps
 * them apart by key.
 */
export function tfjsBackbone(name: string, repoRoot = findRepoRoot()): BackboneSpec & { featureLayer: string } {
  const unit = { name: 'unit', scale: [1 / 255, 1 / 255, 1 / 255] as [number, number, number], offset: [0, 0, 0] as [number, number, number] };
  if (name === 'mobilenet_v2') return { name, onnxPath: '', runner: 'tfjs', sha256: 'tfjs-nsfwjs-4.4-mobilenet_v2', inputSize: 224, normalisation: unit, featureLayer: 'out_relu' };
  if (name === 'inception_v3') return { name, onnxPath: '', runner: 'tfjs', sha256: 'tfjs-nsfwjs-4.4-inception_v3', inputSize: 299, normalisation: unit, featureLayer: 'mixed10' };
  if (name === 'tiny_darknet') {
    const dir = path.resolve(repoRoot, '../shared/datasets/models/tiny-darknet');
    return { name, onnxPath: dir, runner: 'tfjs', sha256: 'tfjs-shared-tiny_darknet', inputSize: 224, normalisation: unit, featureLayer: TINY_DARKNET_LAST };
  }
  throw new TrainingError('BACKBONE_NOT_FOUND', `unknown backbone ${name}`);
}

export const TINY_DARKNET_LAST = 'leaky_re_lu_15';
