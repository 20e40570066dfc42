// Backbone ONNX files with extra outputs (an earlier layer besides the last feature map), built with
// the converter into a cache folder, for the layer comparisons. The shipped detector reads only the
// pooled last layer; these files exist to measure whether earlier layers generalise better.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { findRepoRoot } from '../app/app-info';
import { convertLayersModel, loadLayersFolderSource, loadNsfwjsSource } from '../onnx-graphs';
import { MID_LAYERS, TINY_DARKNET_LAST } from './backbone-specs';
import type { BackboneSpec } from './feature-cache';
import { TrainingError } from './training-errors';

const LAST_LAYERS: Record<string, string> = { mobilenet_v2: 'out_relu', inception_v3: 'mixed10', tiny_darknet: TINY_DARKNET_LAST };
const INPUT_SIZES: Record<string, number> = { mobilenet_v2: 224, inception_v3: 299, tiny_darknet: 224 };

export async function buildExperimentBackbone(name: string, cacheDir: string, midLayer = MID_LAYERS[name], repoRoot = findRepoRoot()): Promise<BackboneSpec & { midOutput: string }> {
  const last = LAST_LAYERS[name];
  if (!last) throw new TrainingError('BACKBONE_NOT_FOUND', `unknown backbone ${name}`);
  const file = path.join(cacheDir, `${name}-${last}-${midLayer}.onnx`);
  if (!fs.existsSync(file)) {
    const src = name === 'tiny_darknet' ? loadLayersFolderSource(path.resolve(repoRoot, '../shared/datasets/models/tiny-darknet')) : loadNsfwjsSource(name);
    const r = convertLayersModel(src, { outputs: [last, midLayer], pooled: last });
    fs.mkdirSync(cacheDir, { recursive: true });
    fs.writeFileSync(`${file}.tmp`, r.bytes);
    fs.renameSync(`${file}.tmp`, file);
  }
  const bytes = fs.readFileSync(file);
  return {
    name,
    onnxPath: file,
    sha256: crypto.createHash('sha256').update(bytes).digest('hex'),
    inputSize: INPUT_SIZES[name],
    normalisation: { name: 'unit', scale: [1 / 255, 1 / 255, 1 / 255], offset: [0, 0, 0] },
    midOutput: midLayer,
  };
}
