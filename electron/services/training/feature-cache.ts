// Frozen-backbone features, computed once with onnxruntime and cached on disk, keyed by
// (backbone sha256, layer, view, item id, item content hash). Re-running reuses every cached vector;
// changing a crop's bytes (same id, new content) recomputes it rather than serving a stale vector.
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { decodeToPaperRgb, toModelInput, type Normalisation } from '../engine/preprocess';
import { renderView, viewIsFlipped, type ViewName } from './image-views';
import { TrainingError } from './training-errors';

export interface BackboneSpec {
  name: string;
  /** ONNX file with NHWC float input [N, S, S, 3] and the outputs the layers name. */
  onnxPath: string;
  /**
   * 'onnx' (default) runs onnxPath; 'tfjs' runs the nsfwjs layers model in TensorFlow.js, for
   * experiments on layers the ONNX file does not expose (slower; the shipped path is always ONNX).
   */
  runner?: 'onnx' | 'tfjs';
  /** For the tfjs runner: the layer whose average pool is the "pooled" output. */
  featureLayer?: string;
  /** Identity of the computed values (sha256 of the backbone they come from). */
  sha256: string;
  inputSize: number;
  normalisation: Normalisation;
}

export type Pooling = 'none' | 'mean' | 'mean-std' | GridPooling;
/** Experiments: mean-std of each cell of a G×G grid over the map, cell-major ([G·G, 2c]). */
export type GridPooling = `grid${number}-mean-std`;

/** A pooling a detector can fuse (global); grid poolings are for experiments only. */
export function globalPooling(pooling: Pooling): 'none' | 'mean' | 'mean-std' {
  if (gridSizeOf(pooling) !== undefined) throw new TrainingError('BAD_OPTIONS', `${pooling} pooling is for experiments only: a detector fuses global poolings`);
  return pooling as 'none' | 'mean' | 'mean-std';
}

/** The grid size of a grid pooling, or undefined for the global ones. */
export function gridSizeOf(pooling: Pooling): number | undefined {
  const m = /^grid(\d+)-mean-std$/.exec(pooling);
  return m ? Number(m[1]) : undefined;
}

export interface LayerSpec {
  /** Cache and report name, e.g. "last" or "mid". */
  key: string;
  /** Graph output to read. Rank 2 outputs are used as they are; rank 4 (NHWC) ones are pooled. */
  output: string;
  pooling: Pooling;
}

export interface FeatureItem {
  id: string;
  file: string;
}

export interface FeatureExtractionProgress {
  kind: 'features';
  done: number;
  total: number;
  cached: number;
  view: ViewName;
}

export interface FeatureExtractionOptions {
  backbone: BackboneSpec;
  layers: LayerSpec[];
  views: ViewName[];
  cacheDir: string;
  batchSize?: number;
  intraOpThreads?: number;
  onProgress?: (p: FeatureExtractionProgress) => void;
  signal?: AbortSignal;
}

export interface FeatureExtractionResult {
  /** features[view][layerKey] = n × dim, rows in item order. */
  features: Record<string, Record<string, Float32Array>>;
  dims: Record<string, number>;
  computed: number;
  cached: number;
  seconds: number;
}

const safeName = (s: string) => s.replace(/[^A-Za-z0-9._-]/g, '_');

function cacheFile(cacheDir: string, backbone: BackboneSpec, layer: LayerSpec, view: ViewName, id: string, contentHash: string) {
  return path.join(
    cacheDir,
    `${safeName(backbone.name)}-${backbone.sha256.slice(0, 16)}`,
    `${safeName(layer.key)}-${safeName(layer.output)}-${layer.pooling}`,
    view,
    `${safeName(id)}-${contentHash.slice(0, 12)}.f32`,
  );
}

function readVector(file: string): Float32Array | undefined {
  try {
    const b = fs.readFileSync(file);
    if (b.length === 0 || b.length % 4 !== 0) return undefined;
    return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
  } catch {
    return undefined;
  }
}

async function writeVector(file: string, v: Float32Array): Promise<void> {
  await fsp.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await fsp.writeFile(tmp, Buffer.from(v.buffer, v.byteOffset, v.byteLength));
  await fsp.rename(tmp, file);
}

/** Pools an NHWC map of one sample to a vector: channel means, optionally followed by channel standard deviations. */
export function poolFeatureMap(data: Float32Array, offset: number, h: number, w: number, c: number, pooling: Pooling): Float32Array {
  const grid = gridSizeOf(pooling);
  if (grid !== undefined) return poolGrid(data, offset, h, w, c, grid);
  const hw = h * w;
  const mean = new Float64Array(c);
  const sq = new Float64Array(c);
  for (let p = 0; p < hw; p++) {
    const o = offset + p * c;
    for (let k = 0; k < c; k++) {
      const x = data[o + k];
      mean[k] += x;
      sq[k] += x * x;
    }
  }
  const out = new Float32Array(pooling === 'mean-std' ? 2 * c : c);
  for (let k = 0; k < c; k++) {
    const m = mean[k] / hw;
    out[k] = m;
    if (pooling === 'mean-std') out[c + k] = Math.sqrt(Math.max(sq[k] / hw - m * m, 0));
  }
  return out;
}

/** Mean-std of each cell of a G×G grid (cell edges at floor(i·h/G)), cell-major. */
function poolGrid(data: Float32Array, offset: number, h: number, w: number, c: number, grid: number): Float32Array {
  if (!Number.isInteger(grid) || grid < 1 || grid > h || grid > w) throw new TrainingError('BAD_OPTIONS', `a ${grid}×${grid} grid does not fit a ${h}×${w} map`);
  const out = new Float32Array(grid * grid * 2 * c);
  const mean = new Float64Array(c);
  const sq = new Float64Array(c);
  for (let gy = 0; gy < grid; gy++)
    for (let gx = 0; gx < grid; gx++) {
      mean.fill(0);
      sq.fill(0);
      const y0 = Math.floor((gy * h) / grid), y1 = Math.floor(((gy + 1) * h) / grid);
      const x0 = Math.floor((gx * w) / grid), x1 = Math.floor(((gx + 1) * w) / grid);
      for (let y = y0; y < y1; y++)
        for (let x = x0; x < x1; x++) {
          const o = offset + (y * w + x) * c;
          for (let k = 0; k < c; k++) {
            const v = data[o + k];
            mean[k] += v;
            sq[k] += v * v;
          }
        }
      const n = (y1 - y0) * (x1 - x0);
      const base = (gy * grid + gx) * 2 * c;
      for (let k = 0; k < c; k++) {
        const m = mean[k] / n;
        out[base + k] = m;
        out[base + c + k] = Math.sqrt(Math.max(sq[k] / n - m * m, 0));
      }
    }
  return out;
}

interface OutputTensor {
  data: Float32Array;
  dims: readonly number[];
}

interface FeatureRunner {
  outputNames: string[];
  run(input: Float32Array, n: number, size: number, outputs: string[]): Promise<Record<string, OutputTensor>>;
}

async function onnxRunner(file: string, threads: number): Promise<FeatureRunner> {
  const session = await openSession(file, threads);
  return {
    outputNames: [...session.outputNames],
    async run(input, n, size, outputs) {
      const r = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', input, [n, size, size, 3]) }, outputs);
      return Object.fromEntries(outputs.map((o) => [o, { data: r[o].data as Float32Array, dims: r[o].dims }]));
    },
  };
}

async function tfjsRunner(backbone: BackboneSpec, wanted: string[]): Promise<FeatureRunner> {
  const { loadTf } = await import('./tf-runtime');
  const { loadNsfwjsLayersModel, loadLayersModelFolder } = await import('./nsfwjs-models');
  const { tf } = await loadTf('dense');
  // A backbone whose onnxPath names a folder is a plain tfjs layers model (Tiny Darknet in ../shared).
  const model = backbone.onnxPath && fs.existsSync(path.join(backbone.onnxPath, 'model.json')) ? await loadLayersModelFolder(tf, backbone.onnxPath) : await loadNsfwjsLayersModel(tf, backbone.name);
  const featureLayer = backbone.featureLayer ?? 'out_relu';
  const layerNames = wanted.map((o) => (o === 'pooled' ? featureLayer : o));
  const sub = tf.model({ inputs: model.inputs, outputs: layerNames.map((l) => model.getLayer(l).output as import('@tensorflow/tfjs').SymbolicTensor) });
  return {
    outputNames: wanted,
    async run(input, n, size, outputs) {
      const x = tf.tensor4d(input, [n, size, size, 3]);
      const ys = sub.predict(x) as import('@tensorflow/tfjs').Tensor | import('@tensorflow/tfjs').Tensor[];
      const list = Array.isArray(ys) ? ys : [ys];
      const out: Record<string, OutputTensor> = {};
      for (const [i, o] of wanted.entries()) {
        if (!outputs.includes(o)) continue;
        const t = o === 'pooled' ? tf.mean(list[i], [1, 2]) : list[i];
        out[o] = { data: (await t.data()) as Float32Array, dims: t.shape };
        if (t !== list[i]) t.dispose();
      }
      x.dispose();
      list.forEach((t) => t.dispose());
      return out;
    },
  };
}

const sessions = new Map<string, Promise<ort.InferenceSession>>();

function openSession(file: string, threads: number): Promise<ort.InferenceSession> {
  const key = `${file}\u0000${threads}`;
  let s = sessions.get(key);
  if (!s) {
    s = ort.InferenceSession.create(file, { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
    sessions.set(key, s);
    s.catch(() => sessions.delete(key));
  }
  return s;
}

export async function releaseFeatureSessions(): Promise<void> {
  const all = [...sessions.values()];
  sessions.clear();
  for (const s of all) await (await s.catch(() => undefined))?.release();
}

async function hashFile(file: string): Promise<string> {
  return crypto.createHash('sha256').update(await fsp.readFile(file)).digest('hex');
}

export async function extractFeatures(items: readonly FeatureItem[], options: FeatureExtractionOptions): Promise<FeatureExtractionResult> {
  const started = performance.now();
  const { backbone, layers, views, cacheDir } = options;
  if (layers.length === 0) throw new TrainingError('BAD_OPTIONS', 'no feature layer requested');
  if (backbone.runner !== 'tfjs' && !fs.existsSync(backbone.onnxPath)) {
    throw new TrainingError('BACKBONE_NOT_FOUND', `backbone ${backbone.name} is not built: ${backbone.onnxPath} is missing (run \`npx tsx models/build-backbones.ts\`)`);
  }
  const batchSize = Math.max(1, options.batchSize ?? 16);
  const n = items.length;
  const hashes = await Promise.all(
    items.map(async (it) => {
      try {
        return await hashFile(it.file);
      } catch (e) {
        throw new TrainingError('DATASET_NOT_FOUND', `dataset image ${it.file} cannot be read: ${(e as Error).message}`);
      }
    }),
  );
  const features: Record<string, Record<string, Float32Array>> = {};
  const dims: Record<string, number> = {};
  let computed = 0;
  let cachedCount = 0;
  let session: FeatureRunner | undefined;
  const outputNames = [...new Set(layers.map((l) => l.output))];
  const size = backbone.inputSize;
  const perImage = size * size * 3;

  for (const view of views) {
    const rows: Record<string, (Float32Array | undefined)[]> = {};
    const missing: number[] = [];
    for (const layer of layers) rows[layer.key] = new Array(n);
    for (let i = 0; i < n; i++) {
      let complete = true;
      for (const layer of layers) {
        const v = readVector(cacheFile(cacheDir, backbone, layer, view, items[i].id, hashes[i]));
        rows[layer.key][i] = v;
        if (!v) complete = false;
      }
      if (complete) cachedCount++;
      else missing.push(i);
    }
    options.onProgress?.({ kind: 'features', done: n - missing.length, total: n, cached: n - missing.length, view });
    for (let start = 0; start < missing.length; start += batchSize) {
      if (options.signal?.aborted) throw new TrainingError('CANCELLED', 'feature extraction was cancelled');
      session ??= backbone.runner === 'tfjs' ? await tfjsRunner(backbone, outputNames) : await onnxRunner(backbone.onnxPath, options.intraOpThreads ?? 2);
      for (const layer of layers) {
        if (!session.outputNames.includes(layer.output)) {
          throw new TrainingError('BAD_OPTIONS', `backbone ${backbone.name} has no output "${layer.output}" (it has ${session.outputNames.join(', ')})`);
        }
      }
      const idx = missing.slice(start, start + batchSize);
      const input = new Float32Array(idx.length * perImage);
      await Promise.all(
        idx.map(async (itemIndex, b) => {
          const item = items[itemIndex];
          const rgb = await decodeToPaperRgb(item.file).catch((e: Error) => {
            throw new TrainingError('BAD_FEATURES', `dataset image ${item.file}: ${e.message}`);
          });
          const viewed = await renderView(rgb.data, item.id, view);
          toModelInput(viewed, { inputSize: size, normalisation: backbone.normalisation, flip: viewIsFlipped(view) }, input, b * perImage);
        }),
      );
      const result = await session.run(input, idx.length, size, outputNames);
      for (const layer of layers) {
        const t = result[layer.output];
        const data = t.data;
        const dimsOut = t.dims;
        for (let b = 0; b < idx.length; b++) {
          let vec: Float32Array;
          if (dimsOut.length === 2) {
            const d = dimsOut[1];
            vec = Float32Array.from(data.subarray(b * d, (b + 1) * d));
          } else if (dimsOut.length === 4) {
            const [, h, w, c] = dimsOut;
            vec = layer.pooling === 'none' ? Float32Array.from(data.subarray(b * h * w * c, (b + 1) * h * w * c)) : poolFeatureMap(data, b * h * w * c, h, w, c, layer.pooling);
          } else {
            throw new TrainingError('BAD_FEATURES', `output ${layer.output} has rank ${dimsOut.length}; expected 2 or 4`);
          }
          rows[layer.key][idx[b]] = vec;
          await writeVector(cacheFile(cacheDir, backbone, layer, view, items[idx[b]].id, hashes[idx[b]]), vec);
        }
      }
      computed += idx.length;
      options.onProgress?.({ kind: 'features', done: n - missing.length + start + idx.length, total: n, cached: n - missing.length, view });
    }
    features[view] = {};
    for (const layer of layers) {
      const list = rows[layer.key] as Float32Array[];
      const d = list[0]?.length ?? 0;
      if (dims[layer.key] !== undefined && dims[layer.key] !== d) throw new TrainingError('BAD_FEATURES', `layer ${layer.key} changed size between views`);
      dims[layer.key] = d;
      const m = new Float32Array(n * d);
      list.forEach((v, i) => {
        if (v.length !== d) throw new TrainingError('BAD_FEATURES', `cached vector for ${items[i].id} has ${v.length} values, expected ${d}`);
        m.set(v, i * d);
      });
      features[view][layer.key] = m;
    }
  }
  return { features, dims, computed, cached: cachedCount, seconds: (performance.now() - started) / 1000 };
}

/** Concatenates per-layer matrices (same rows) into one n × Σd matrix, in the given layer order. */
export function concatLayers(perLayer: Record<string, Float32Array>, dims: Record<string, number>, keys: readonly string[]): { data: Float32Array; dim: number } {
  const dim = keys.reduce((s, k) => s + dims[k], 0);
  const n = keys.length ? perLayer[keys[0]].length / dims[keys[0]] : 0;
  const out = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    let o = i * dim;
    for (const k of keys) {
      const d = dims[k];
      out.set(perLayer[k].subarray(i * d, (i + 1) * d), o);
      o += d;
    }
  }
  return { data: out, dim };
}
