// Loads the ImageNet-initialised backbones that ship inside nsfwjs (MIT) as tfjs layers models, for
// fine-tuning (--unfreeze). The .min.js files are CommonJS wrappers around the model JSON and the
// base64 weight shards; requiring them runs no browser code.
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Tf } from './tf-runtime';
import { TrainingError } from './training-errors';

export const NSFWJS_BACKBONES = ['mobilenet_v2', 'inception_v3'] as const;
export type NsfwjsBackbone = (typeof NSFWJS_BACKBONES)[number];

interface WeightsGroup {
  paths: string[];
  weights: Array<{ name: string; shape: number[]; dtype: string; quantization?: unknown }>;
}

export async function loadNsfwjsLayersModel(tf: Tf, name: string): Promise<import('@tensorflow/tfjs').LayersModel> {
  if (!(NSFWJS_BACKBONES as readonly string[]).includes(name)) {
    throw new TrainingError('BACKBONE_NOT_FOUND', `no nsfwjs model "${name}" (known: ${NSFWJS_BACKBONES.join(', ')})`);
  }
  const require = createRequire(import.meta.url);
  let dir: string;
  try {
    // The package's exports map hides package.json; find its root from the main entry instead.
    const entry = require.resolve('nsfwjs');
    dir = path.join(entry.slice(0, entry.lastIndexOf(`${path.sep}nsfwjs${path.sep}`) + '/nsfwjs'.length), 'dist', 'models', name);
  } catch {
    throw new TrainingError('BACKBONE_NOT_FOUND', 'the nsfwjs package is not installed');
  }
  const json = require(path.join(dir, 'model.min.js')) as { modelTopology: object; weightsManifest: WeightsGroup[] };
  const buffers: Buffer[] = [];
  const specs: WeightsGroup['weights'] = [];
  for (const group of json.weightsManifest) {
    for (const p of group.paths) buffers.push(Buffer.from(require(path.join(dir, `${p}.min.js`)) as string, 'base64'));
    specs.push(...group.weights);
  }
  const all = Buffer.concat(buffers);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.length);
  return tf.loadLayersModel(
    tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: specs as never, weightData }),
  );
}

/** A plain tfjs layers folder (model.json + weight shards), e.g. ../shared/datasets/models/tiny-darknet. */
export async function loadLayersModelFolder(tf: Tf, dir: string): Promise<import('@tensorflow/tfjs').LayersModel> {
  const fs = await import('node:fs');
  const file = path.join(dir, 'model.json');
  if (!fs.existsSync(file)) throw new TrainingError('BACKBONE_NOT_FOUND', `no model.json in ${dir}`);
  const json = JSON.parse(fs.readFileSync(file, 'utf8')) as { modelTopology: object; weightsManifest: WeightsGroup[] };
  const buffers: Buffer[] = [];
  const specs: WeightsGroup['weights'] = [];
  for (const group of json.weightsManifest) {
    for (const p of group.paths) buffers.push(fs.readFileSync(path.join(dir, p)));
    specs.push(...group.weights);
  }
  const all = Buffer.concat(buffers);
  return tf.loadLayersModel(
    tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: specs as never, weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.length) }),
  );
}
