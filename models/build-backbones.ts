// Builds the ONNX backbones from the tfjs weights that ship inside npm packages (no download):
//   models/backbones/mobilenet_v2.onnx, inception_v3.onnx (+ tiny_darknet.onnx for experiments
//   when ../shared/datasets/models/tiny-darknet exists) and models/backbones/manifest.json.
// Idempotent: a backbone is rebuilt only when its file is missing, its sha256 differs from the
// manifest, or its build key (source version, outputs, converter code) changed. Writes are atomic.
// Usage: npx tsx models/build-backbones.ts [--force] [--only name,name] [--out dir]
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { convertLayersModel, loadLayersFolderSource, loadNsfwjsSource, nsfwjsPackage, POOLED_OUTPUT, type LayersModelSource } from '../electron/services/onnx-graphs';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(here, '..');
export const BACKBONES_DIR = path.join(REPO_ROOT, 'models', 'backbones');
export const TINY_DARKNET_DIR = path.resolve(REPO_ROOT, '../shared/datasets/models/tiny-darknet');

/** nsfwjs feeds its models x / 255 (dist/cjs/core.js: `normalizationOffset = tf.scalar(255)`). */
export const UNIT_NORMALISATION = { name: 'unit', scale: [1 / 255, 1 / 255, 1 / 255], offset: [0, 0, 0] };

export interface BackboneRecipe {
  name: string;
  inputSize: number;
  /** First is the feature layer; the rest are extra taps (the "mid" layers training can use). */
  outputs: string[];
  shipped: boolean;
  licence: string;
  source: { package?: string; version?: string; path: string; upstream?: string };
  load(): LayersModelSource;
}

export interface BackboneManifestEntry {
  name: string;
  file: string;
  sha256: string;
  bytes: number;
  inputName: string;
  inputLayout: 'NHWC';
  inputSize: number;
  inputShape: number[];
  normalisation: typeof UNIT_NORMALISATION;
  featureLayer: string;
  featureShape: number[];
  pooledOutput: string;
  outputs: Array<{ name: string; shape: number[]; layout: 'NHWC' | 'vector' }>;
  source: BackboneRecipe['source'];
  licence: string;
  shipped: boolean;
  parameters: number;
  buildKey: string;
}

export interface BackboneManifest {
  version: 1;
  generatedBy: string;
  backbones: BackboneManifestEntry[];
}

export function backboneRecipes(): BackboneRecipe[] {
  const nsfwjs = nsfwjsPackage();
  const recipes: BackboneRecipe[] = [
    {
      name: 'mobilenet_v2',
      inputSize: 224,
      // Deepest first (explainers offer the outputs after a head's feature layer as shallower
      // layers); block_12_add is the "mid" layer, and all of them are the "taps" features
      // (backbone-specs.ts TAP_LAYERS).
      outputs: ['out_relu', 'block_15_add', 'block_12_add', 'block_8_add', 'block_5_add', 'block_2_add'],
      shipped: true,
      licence: nsfwjs.license,
      source: { package: 'nsfwjs', version: nsfwjs.version, path: 'dist/models/mobilenet_v2' },
      load: () => loadNsfwjsSource('mobilenet_v2'),
    },
    {
      name: 'inception_v3',
      inputSize: 299,
      outputs: ['mixed10', 'mixed7'],
      shipped: true,
      licence: nsfwjs.license,
      source: { package: 'nsfwjs', version: nsfwjs.version, path: 'dist/models/inception_v3' },
      load: () => loadNsfwjsSource('inception_v3'),
    },
  ];
  if (fs.existsSync(path.join(TINY_DARKNET_DIR, 'model.json'))) {
    recipes.push({
      name: 'tiny_darknet',
      inputSize: 224,
      outputs: ['leaky_re_lu_14', 'leaky_re_lu_9'],
      shipped: false,
      licence: 'MIT',
      source: { path: '../shared/datasets/models/tiny-darknet', upstream: 'ml5js/ml5-data-and-models models/darknetclassifier/darknettiny' },
      load: () => loadLayersFolderSource(TINY_DARKNET_DIR),
    });
  }
  return recipes;
}

function sha256(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export function sha256File(file: string): string {
  const hash = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0; ) hash.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest('hex');
}

/** Changes whenever the recipe or the converter code changes, so stale builds are redone. */
function buildKey(recipe: BackboneRecipe): string {
  const converterFiles = ['keras-to-onnx.ts', 'onnx-proto.ts', 'tfjs-source.ts', 'js-literal.ts'].map((f) => fs.readFileSync(path.join(here, '..', 'electron', 'services', 'onnx-graphs', f), 'utf8'));
  return sha256(JSON.stringify({ recipe: { ...recipe, load: undefined }, converter: converterFiles.map((c) => sha256(c)) }));
}

export function writeFileAtomic(file: string, data: Uint8Array | string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
  try {
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

function readManifest(dir: string): BackboneManifest | undefined {
  const file = path.join(dir, 'manifest.json');
  if (!fs.existsSync(file)) return undefined;
  try {
    const m = JSON.parse(fs.readFileSync(file, 'utf8')) as BackboneManifest;
    return Array.isArray(m.backbones) ? m : undefined;
  } catch {
    return undefined;
  }
}

export interface BuildOptions {
  outDir?: string;
  force?: boolean;
  only?: string[];
  log?: (line: string) => void;
}

export interface BuildReport {
  manifest: BackboneManifest;
  built: Array<{ name: string; ms: number; bytes: number }>;
  skipped: string[];
}

export function buildBackbones(options: BuildOptions = {}): BuildReport {
  const outDir = options.outDir ?? BACKBONES_DIR;
  const log = options.log ?? (() => {});
  const previous = readManifest(outDir);
  const recipes = backboneRecipes();
  for (const o of options.only ?? []) {
    if (!recipes.some((r) => r.name === o)) throw new Error(`unknown backbone ${o} (known: ${recipes.map((r) => r.name).join(', ')})`);
  }
  const entries: BackboneManifestEntry[] = [];
  const built: BuildReport['built'] = [];
  const skipped: string[] = [];
  for (const recipe of recipes) {
    const file = `${recipe.name}.onnx`;
    const target = path.join(outDir, file);
    const key = buildKey(recipe);
    const old = previous?.backbones.find((b) => b.name === recipe.name);
    const wanted = !options.only || options.only.includes(recipe.name);
    const upToDate = old && old.buildKey === key && fs.existsSync(target) && sha256File(target) === old.sha256;
    if (upToDate && (!options.force || !wanted)) {
      entries.push(old);
      skipped.push(recipe.name);
      log(`${recipe.name}: up to date (${old.sha256.slice(0, 12)})`);
      continue;
    }
    if (!wanted) {
      if (old) entries.push(old);
      continue;
    }
    const t0 = performance.now();
    const converted = convertLayersModel(recipe.load(), {
      outputs: recipe.outputs,
      graphName: recipe.name,
      metadata: { backbone: recipe.name, input_size: String(recipe.inputSize), normalisation: 'x/255' },
    });
    if (converted.inputShape[0] !== recipe.inputSize || converted.inputShape[1] !== recipe.inputSize) {
      throw new Error(`${recipe.name}: the model takes ${converted.inputShape.join('×')}, the recipe says ${recipe.inputSize}`);
    }
    writeFileAtomic(target, converted.bytes);
    const ms = performance.now() - t0;
    built.push({ name: recipe.name, ms, bytes: converted.bytes.length });
    log(`${recipe.name}: built ${file} (${(converted.bytes.length / 1e6).toFixed(1)} MB, ${converted.parameterCount} weights) in ${(ms / 1000).toFixed(1)} s`);
    const feature = converted.outputs[0];
    entries.push({
      name: recipe.name,
      file,
      sha256: sha256(converted.bytes),
      bytes: converted.bytes.length,
      inputName: converted.inputName,
      inputLayout: 'NHWC',
      inputSize: recipe.inputSize,
      inputShape: converted.inputShape,
      normalisation: UNIT_NORMALISATION,
      featureLayer: feature.name,
      featureShape: feature.shape,
      pooledOutput: POOLED_OUTPUT,
      outputs: converted.outputs.map((o) => ({ name: o.name, shape: o.shape, layout: o.shape.length === 3 ? 'NHWC' : 'vector' })),
      source: recipe.source,
      licence: recipe.licence,
      shipped: recipe.shipped,
      parameters: converted.parameterCount,
      buildKey: key,
    });
  }
  const manifest: BackboneManifest = { version: 1, generatedBy: 'models/build-backbones.ts', backbones: entries };
  const text = `${JSON.stringify(manifest, null, 2)}\n`;
  if (!previous || JSON.stringify(previous, null, 2) + '\n' !== text) writeFileAtomic(path.join(outDir, 'manifest.json'), text);
  return { manifest, built, skipped };
}

function parseArgs(argv: string[]): BuildOptions {
  const options: BuildOptions = { log: (line) => process.stdout.write(`${line}\n`) };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--force') options.force = true;
    else if (a === '--only') options.only = (argv[++i] ?? '').split(',').filter(Boolean);
    else if (a === '--out') options.outDir = path.resolve(argv[++i] ?? '');
    else throw new Error(`unknown argument ${a} (use --force, --only a,b, --out dir)`);
  }
  return options;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  try {
    const t0 = performance.now();
    const report = buildBackbones(parseArgs(process.argv.slice(2)));
    process.stdout.write(`backbones: ${report.built.length} built, ${report.skipped.length} up to date, ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  } catch (e) {
    process.stderr.write(`backbone build failed: ${(e as Error).message}\n`);
    process.exit(1);
  }
}
