// A small real detector whose score depends only on one thing the test controls: a red checkerboard
// texture. Grey images (R = G = B) give the texture channels exactly zero, so wherever the planted
// patch is, that is where the evidence is. Other channels respond to brightness and edges everywhere
// and carry no weight in the planted head; a randomised head weighs them, which is what the model
// randomisation test needs.
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import ort from 'onnxruntime-node';
import sharp from 'sharp';
import { convertLayersModel } from '../../electron/services/onnx-graphs/keras-to-onnx';
import { buildDetectorOnnx } from '../../electron/services/onnx-graphs/detector';
import { decodeWeights, type LayersModelSource } from '../../electron/services/onnx-graphs/tfjs-source';
import { getDetectorSession } from '../../electron/services/engine/detector-session';
import type { ExplainableModel, HeadParams } from '../../electron/services/explainers/explain-types';
import { layerGraphFromKeras } from '../../electron/services/explainers/layer-graph';
import { createOnnxExplainableModel, onnxActivationSource } from '../../electron/services/explainers/onnx-model';

export const PLANTED_INPUT = 64;
export const PLANTED_FEATURE_LAYER = 'feature_relu';
export const PLANTED_SHALLOW_LAYERS = ['c3_relu', 'c1_relu'];

function setWeights(layer: tf.layers.Layer, values: { shape: number[]; data: number[] | Float32Array }[]): void {
  layer.setWeights(values.map((v) => tf.tensor(v.data, v.shape)));
}

/** Backbone: 64×64×3 → 8×8×8 through Conv, ReLU, depthwise, BatchNorm, ReLU6, max pool and a skip Add. */
export function buildPlantedBackbone(): tf.LayersModel {
  const input = tf.input({ shape: [PLANTED_INPUT, PLANTED_INPUT, 3], name: 'image' });
  const c1Layer = tf.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', name: 'c1' });
  const c1 = c1Layer.apply(input) as tf.SymbolicTensor;
  const c1r = tf.layers.reLU({ name: 'c1_relu' }).apply(c1) as tf.SymbolicTensor;
  const c2Layer = tf.layers.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: 'same', name: 'c2', useBias: false });
  const c2 = c2Layer.apply(c1r) as tf.SymbolicTensor;
  const bnLayer = tf.layers.batchNormalization({ name: 'c2_bn', epsilon: 1e-3 });
  const bn = bnLayer.apply(c2) as tf.SymbolicTensor;
  const c2r = tf.layers.reLU({ maxValue: 6, name: 'c2_relu' }).apply(bn) as tf.SymbolicTensor;
  const c3Layer = tf.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', name: 'c3', activation: 'relu' });
  const c3 = c3Layer.apply(c2r) as tf.SymbolicTensor;
  const c3r = tf.layers.activation({ activation: 'linear', name: 'c3_relu' }).apply(c3) as tf.SymbolicTensor;
  const pool = tf.layers.maxPooling2d({ poolSize: 2, strides: 2, name: 'pool' }).apply(c3r) as tf.SymbolicTensor;
  const c5Layer = tf.layers.conv2d({ filters: 8, kernelSize: 1, name: 'c5' });
  const c5 = c5Layer.apply(pool) as tf.SymbolicTensor;
  const add = tf.layers.add({ name: 'add' }).apply([pool, c5]) as tf.SymbolicTensor;
  const features = tf.layers.reLU({ name: PLANTED_FEATURE_LAYER }).apply(add) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: features, name: 'planted_patch' });

  // c1 [3,3,3,8]: 0/1 ±Laplacian of redness (R − (G+B)/2), 2 brightness, 3–6 ±Sobel, 7 darkness.
  const k1 = new Float32Array(3 * 3 * 3 * 8);
  const b1 = new Float32Array(8);
  const at = (ky: number, kx: number, ci: number, co: number) => ((ky * 3 + kx) * 3 + ci) * 8 + co;
  const redness = [1, -0.5, -0.5];
  const sobelX = [
    [-1, 0, 1],
    [-2, 0, 2],
    [-1, 0, 1],
  ];
  for (let ky = 0; ky < 3; ky++) {
    for (let kx = 0; kx < 3; kx++) {
      const lap = ky === 1 && kx === 1 ? 8 : -1;
      for (let ci = 0; ci < 3; ci++) {
        k1[at(ky, kx, ci, 0)] = 0.25 * lap * redness[ci];
        k1[at(ky, kx, ci, 1)] = -0.25 * lap * redness[ci];
        k1[at(ky, kx, ci, 2)] = 1 / 27;
        k1[at(ky, kx, ci, 3)] = sobelX[ky][kx] / 12;
        k1[at(ky, kx, ci, 4)] = sobelX[kx][ky] / 12;
        k1[at(ky, kx, ci, 5)] = -sobelX[ky][kx] / 12;
        k1[at(ky, kx, ci, 6)] = -sobelX[kx][ky] / 12;
        k1[at(ky, kx, ci, 7)] = -1 / 27;
      }
    }
  }
  b1[7] = 1;
  setWeights(c1Layer, [
    { shape: [3, 3, 3, 8], data: k1 },
    { shape: [8], data: b1 },
  ]);
  setWeights(c2Layer, [{ shape: [3, 3, 8, 1], data: new Float32Array(72).fill(1 / 9) }]);
  setWeights(bnLayer, [
    { shape: [8], data: new Float32Array(8).fill(1.5) },
    { shape: [8], data: new Float32Array(8).fill(0.01) },
    { shape: [8], data: new Float32Array(8).fill(0.02) },
    { shape: [8], data: new Float32Array(8).fill(1) },
  ]);
  const k3 = new Float32Array(3 * 3 * 8 * 8);
  for (let t = 0; t < 9; t++) for (let c = 0; c < 8; c++) k3[(t * 8 + c) * 8 + c] = 1 / 9;
  setWeights(c3Layer, [
    { shape: [3, 3, 8, 8], data: k3 },
    { shape: [8], data: new Float32Array(8) },
  ]);
  const k5 = new Float32Array(64);
  for (let c = 0; c < 8; c++) k5[c * 8 + c] = 0.5;
  setWeights(c5Layer, [
    { shape: [1, 1, 8, 8], data: k5 },
    { shape: [8], data: new Float32Array(8) },
  ]);
  return model;
}

/** Planted head: only the two texture channels count; a grey photograph scores ~0.1, the planted one ~0.9. */
export function plantedHead(): HeadParams {
  const units = 4;
  const kernel = new Float32Array(8 * units);
  for (let u = 0; u < units; u++) {
    kernel[0 * units + u] = 4 + 0.25 * u;
    kernel[1 * units + u] = 4 - 0.25 * u;
  }
  return {
    dense1: { kernel, bias: new Float32Array(units), units },
    bn: {
      gamma: new Float32Array(units).fill(1),
      beta: new Float32Array(units).fill(0),
      movingMean: new Float32Array(units).fill(0),
      movingVariance: new Float32Array(units).fill(1),
      epsilon: 1e-3,
    },
    dense2: { kernel: new Float32Array(units).fill(1), bias: new Float32Array([-2.2]) },
  };
}

/** The same head shape with weights drawn at random (Adebayo et al.'s model randomisation). */
export function randomisedHead(seed: number, channels = 8, units = 4): HeadParams {
  let s = seed >>> 0;
  const rand = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const normal = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const kernel = Float32Array.from({ length: channels * units }, () => normal() * 0.5);
  return {
    dense1: { kernel, bias: Float32Array.from({ length: units }, () => normal()), units },
    bn: {
      gamma: Float32Array.from({ length: units }, () => 0.5 + rand()),
      beta: Float32Array.from({ length: units }, () => normal() * 0.1),
      movingMean: Float32Array.from({ length: units }, () => rand() * 0.1),
      movingVariance: Float32Array.from({ length: units }, () => 0.5 + rand()),
      epsilon: 1e-3,
    },
    dense2: { kernel: Float32Array.from({ length: units }, () => normal()), bias: new Float32Array([normal()]) },
  };
}

export interface PlantedImage {
  file: string;
  width: number;
  height: number;
  /** The planted square in original-image pixels, [x0, x1) × [y0, y1). */
  patch: { x0: number; y0: number; x1: number; y1: number };
}

/**
 * Writes a grey version of a real photograph at width×height with a red/grey checkerboard square
 * planted at `patch` (checker cells of `cell` pixels, so the texture survives the resize to 64 px).
 */
export async function writePlantedImage(source: string, file: string, width: number, height: number, patch: PlantedImage['patch'], cellX: number, cellY: number): Promise<PlantedImage> {
  const { data } = await sharp(source).resize(width, height, { fit: 'fill' }).grayscale().toColourspace('srgb').removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const rgb = Buffer.alloc(width * height * 3);
  const channels = data.length / (width * height);
  for (let i = 0; i < width * height; i++) {
    const g = data[i * channels];
    rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = g;
  }
  for (let y = patch.y0; y < patch.y1; y++) {
    for (let x = patch.x0; x < patch.x1; x++) {
      const on = (Math.floor((x - patch.x0) / cellX) + Math.floor((y - patch.y0) / cellY)) % 2 === 0;
      const i = (y * width + x) * 3;
      rgb[i] = on ? 230 : 128;
      rgb[i + 1] = on ? 20 : 128;
      rgb[i + 2] = on ? 20 : 128;
    }
  }
  await sharp(rgb, { raw: { width, height, channels: 3 } }).png().toFile(file);
  return { file, width, height, patch };
}

/** The tfjs model as the converter's source (topology JSON + weights), as if read from model.json. */
export async function plantedSource(model: tf.LayersModel): Promise<LayersModelSource> {
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  const a = saved!;
  const weightSpecs = a.weightSpecs as LayersModelSource['weightSpecs'];
  const data = a.weightData as ArrayBuffer;
  return {
    origin: 'planted-patch test model',
    modelJson: { modelTopology: a.modelTopology as Record<string, unknown>, weightsManifest: [{ paths: [], weights: weightSpecs }] },
    weightSpecs,
    weightData: data,
  };
}

export interface PlantedOnnx {
  model: ExplainableModel;
  detectorPath: string;
  backboneBytes: Uint8Array;
}

/**
 * The planted detector through the shipped path: converted to ONNX by the converter, fused with a
 * head by buildDetectorOnnx, run by onnxruntime; LayerCAM's shallow activations come from the
 * backbone ONNX's extra outputs.
 */
export async function buildPlantedOnnxModel(backbone: tf.LayersModel, head: HeadParams, dir: string, id = 'planted-onnx'): Promise<PlantedOnnx> {
  const source = await plantedSource(backbone);
  const converted = convertLayersModel(source, { outputs: [PLANTED_FEATURE_LAYER, ...PLANTED_SHALLOW_LAYERS] });
  const detectorBytes = buildDetectorOnnx(converted.bytes, head);
  const detectorPath = path.join(dir, `${id}.onnx`);
  fs.writeFileSync(detectorPath, detectorBytes);
  const detector = await getDetectorSession(detectorPath, { intraOpThreads: 2, preference: 'cpu' });
  const backboneSession = await ort.InferenceSession.create(converted.bytes, { intraOpNumThreads: 2 });
  const model = createOnnxExplainableModel({
    id,
    detector,
    head,
    featureLayer: PLANTED_FEATURE_LAYER,
    featureShape: [8, 8, 8],
    shallow: {
      layers: PLANTED_SHALLOW_LAYERS,
      graph: async () => layerGraphFromKeras(source.modelJson.modelTopology, decodeWeights(source)),
      activations: onnxActivationSource(backboneSession, PLANTED_INPUT),
    },
  });
  return { model, detectorPath, backboneBytes: converted.bytes };
}
