// Reads a tfjs layers model (topology JSON + weights) from the nsfwjs bundles or a plain folder,
// and dequantises its weights exactly as tfjs does (value = q * scale + min, rounded to float32).
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { ConversionError } from './conversion-error';
import { parseJsLiteral } from './js-literal';

export interface WeightSpec {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string; min?: number; scale?: number; original_dtype?: string };
}

export interface WeightsGroup {
  paths: string[];
  weights: WeightSpec[];
}

/** The tfjs `ModelJSON` fields the converter needs. */
export interface LayersModelJson {
  modelTopology: Record<string, unknown>;
  weightsManifest: WeightsGroup[];
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
}

export interface LayersModelSource {
  /** Where it came from, for messages and manifests. */
  origin: string;
  modelJson: LayersModelJson;
  weightSpecs: WeightSpec[];
  /** All weight shards concatenated in manifest order. */
  weightData: ArrayBuffer;
}

export interface DecodedWeight {
  shape: number[];
  data: Float32Array;
}

export const NSFWJS_MODELS = ['mobilenet_v2', 'inception_v3'] as const;

/** The installed nsfwjs package root and version. */
export function nsfwjsPackage(): { dir: string; version: string; license: string } {
  const require = createRequire(import.meta.url);
  let entry: string;
  try {
    entry = require.resolve('nsfwjs');
  } catch {
    throw new ConversionError('BAD_MODEL_SOURCE', 'the nsfwjs package is not installed (npm install)');
  }
  // Its exports map hides package.json, so walk up from the main entry.
  let dir = path.dirname(entry);
  while (!fs.existsSync(path.join(dir, 'package.json')) || path.basename(dir) !== 'nsfwjs') {
    const up = path.dirname(dir);
    if (up === dir) throw new ConversionError('BAD_MODEL_SOURCE', `cannot find the nsfwjs package root above ${entry}`);
    dir = up;
  }
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version: string; license?: string };
  return { dir, version: pkg.version, license: pkg.license ?? 'unknown' };
}

function toArrayBuffer(chunks: Uint8Array[]): ArrayBuffer {
  const total = chunks.reduce((n, c) => n + c.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out.buffer;
}

function checkModelJson(value: unknown, where: string): LayersModelJson {
  const v = value as Partial<LayersModelJson> | null;
  if (!v || typeof v !== 'object' || !v.modelTopology || typeof v.modelTopology !== 'object' || !Array.isArray(v.weightsManifest)) {
    throw new ConversionError('BAD_MODEL_SOURCE', `${where} is not a tfjs layers model (needs modelTopology and weightsManifest)`);
  }
  return v as LayersModelJson;
}

/** One of the models bundled in nsfwjs (dist/models/<name>/model.min.js + group1-shard*.min.js). */
export function loadNsfwjsSource(name: string): LayersModelSource {
  if (!(NSFWJS_MODELS as readonly string[]).includes(name)) {
    throw new ConversionError('BAD_MODEL_SOURCE', `no nsfwjs layers model "${name}" (known: ${NSFWJS_MODELS.join(', ')})`);
  }
  const dir = path.join(nsfwjsPackage().dir, 'dist', 'models', name);
  const modelFile = path.join(dir, 'model.min.js');
  if (!fs.existsSync(modelFile)) throw new ConversionError('BAD_MODEL_SOURCE', `missing ${modelFile}`);
  const text = fs.readFileSync(modelFile, 'utf8');
  const at = text.search(/exports\s*=\s*\{\s*"?modelTopology/);
  if (at < 0) throw new ConversionError('BAD_MODEL_SOURCE', `${modelFile} holds no model literal`);
  const { value } = parseJsLiteral(text, text.indexOf('{', at));
  const modelJson = checkModelJson(value, modelFile);
  const chunks: Uint8Array[] = [];
  const weightSpecs: WeightSpec[] = [];
  for (const group of modelJson.weightsManifest) {
    for (const p of group.paths) {
      const shardFile = path.join(dir, `${path.basename(p)}.min.js`);
      if (!fs.existsSync(shardFile)) throw new ConversionError('BAD_MODEL_SOURCE', `missing weight shard ${shardFile}`);
      const m = /exports\s*=\s*"([A-Za-z0-9+/=]*)"/.exec(fs.readFileSync(shardFile, 'utf8'));
      if (!m) throw new ConversionError('BAD_MODEL_SOURCE', `${shardFile} holds no base64 weight string`);
      chunks.push(Buffer.from(m[1], 'base64'));
    }
    weightSpecs.push(...group.weights);
  }
  return { origin: `nsfwjs/dist/models/${name}`, modelJson, weightSpecs, weightData: toArrayBuffer(chunks) };
}

/** A plain tfjs layers folder: model.json + the shard files it names. */
export function loadLayersFolderSource(dir: string): LayersModelSource {
  const file = path.join(dir, 'model.json');
  if (!fs.existsSync(file)) throw new ConversionError('BAD_MODEL_SOURCE', `no model.json in ${dir}`);
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ConversionError('BAD_MODEL_SOURCE', `${file} is not JSON: ${(e as Error).message}`);
  }
  const modelJson = checkModelJson(raw, file);
  const chunks: Uint8Array[] = [];
  const weightSpecs: WeightSpec[] = [];
  for (const group of modelJson.weightsManifest) {
    for (const p of group.paths) {
      const shard = path.resolve(dir, p);
      if (!shard.startsWith(path.resolve(dir) + path.sep)) throw new ConversionError('BAD_MODEL_SOURCE', `${file}: shard path ${p} leaves the folder`);
      if (!fs.existsSync(shard)) throw new ConversionError('BAD_MODEL_SOURCE', `missing weight shard ${shard}`);
      chunks.push(fs.readFileSync(shard));
    }
    weightSpecs.push(...group.weights);
  }
  return { origin: dir, modelJson, weightSpecs, weightData: toArrayBuffer(chunks) };
}

const BYTES: Record<string, number> = { float32: 4, int32: 4, uint8: 1, uint16: 2, float16: 2 };

function float16ToFloat32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

/** Decodes every weight to float32, keyed by its manifest name (e.g. "Conv1/kernel"). */
export function decodeWeights(source: LayersModelSource): Map<string, DecodedWeight> {
  const out = new Map<string, DecodedWeight>();
  const view = new DataView(source.weightData);
  let offset = 0;
  for (const spec of source.weightSpecs) {
    const size = spec.shape.reduce((a, b) => a * b, 1);
    const q = spec.quantization;
    const stored = q ? q.dtype : spec.dtype;
    const width = BYTES[stored];
    if (!width) throw new ConversionError('BAD_MODEL_SOURCE', `weight ${spec.name}: unsupported storage dtype ${stored}`);
    if (spec.dtype !== 'float32') throw new ConversionError('BAD_MODEL_SOURCE', `weight ${spec.name}: dtype ${spec.dtype} is not float32`);
    if (offset + size * width > source.weightData.byteLength) {
      throw new ConversionError('BAD_MODEL_SOURCE', `weight ${spec.name} runs past the end of the weight data (${source.weightData.byteLength} bytes)`);
    }
    const data = new Float32Array(size);
    if (!q) {
      for (let i = 0; i < size; i++) data[i] = view.getFloat32(offset + i * 4, true);
    } else if (q.dtype === 'uint8' || q.dtype === 'uint16') {
      if (typeof q.min !== 'number' || typeof q.scale !== 'number') {
        throw new ConversionError('BAD_MODEL_SOURCE', `weight ${spec.name}: affine quantisation lacks min/scale`);
      }
      for (let i = 0; i < size; i++) {
        const v = q.dtype === 'uint8' ? view.getUint8(offset + i) : view.getUint16(offset + i * 2, true);
        data[i] = v * q.scale + q.min;
      }
    } else if (q.dtype === 'float16') {
      for (let i = 0; i < size; i++) data[i] = float16ToFloat32(view.getUint16(offset + i * 2, true));
    } else {
      throw new ConversionError('BAD_MODEL_SOURCE', `weight ${spec.name}: unsupported quantisation ${q.dtype}`);
    }
    offset += size * width;
    out.set(spec.name, { shape: spec.shape, data });
  }
  if (offset !== source.weightData.byteLength) {
    throw new ConversionError('BAD_MODEL_SOURCE', `${source.origin}: the manifest covers ${offset} bytes but the shards hold ${source.weightData.byteLength}`);
  }
  return out;
}
