// GAN-upsampled twins of real training crops, for the experiment in EXPERIMENTS.md: each chosen real
// train crop is halved (Lanczos) and brought back to 256 px by a *trained* GAN generator (ESRGAN-slim
// ×2 of @upscalerjs/esrgan-slim, MIT, trained on DIV2K), then given the same JPEG history as the crop
// it came from. The twin keeps the photo's content and carries a generator's upsampling, so a head
// that separates them cannot be using content. Writes a new dataset folder whose manifest is the old
// one (absolute file paths) plus the twins, in train only, as generator "esrgan-twin".
//
// The model is not a dependency of the product: fetch it with `npm pack @upscalerjs/esrgan-slim@1.0.0`
// and unpack it, then
//   npx tsx models/experiments/esrgan-twins.ts --dataset <built dataset> --out <dir> \
//     --esrgan <package>/models/x2 [--count 600]
// and run run-experiments.ts on <dir> with `--train-only esrgan-twin`.
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { createRng } from '../../electron/services/common/seeded-random';
import { loadLayersModelFolder } from '../../electron/services/training/nsfwjs-models';
import { loadTf } from '../../electron/services/training/tf-runtime';
import { opt } from './script-args';

const datasetDir = path.resolve(opt('--dataset', ''));
const outDir = path.resolve(opt('--out', ''));
const esrganDir = opt('--esrgan', '');
const count = Number(opt('--count', '600'));
if (!opt('--dataset', '') || !opt('--out', '') || !esrganDir || !(Number.isInteger(count) && count > 0)) {
  process.stderr.write('usage: esrgan-twins.ts --dataset <dir> --out <dir> --esrgan <esrgan-slim>/models/x2 [--count n]\n');
  process.exit(2);
}

interface ManifestItem {
  id: string;
  file: string;
  split: string;
  label: string;
  modality: string;
  generator: string;
  history?: { jpegQuality?: number | null };
  [key: string]: unknown;
}

const manifest = JSON.parse(fs.readFileSync(path.join(datasetDir, 'manifest.json'), 'utf8')) as { items: ManifestItem[] } & Record<string, unknown>;
const rng = createRng(7);
const chosen = manifest.items
  .filter((i) => i.split === 'train' && i.label === 'real')
  .map((item) => ({ key: rng(), item }))
  .sort((a, b) => a.key - b.key)
  .slice(0, count)
  .map((x) => x.item);

const { tf } = await loadTf('dense');
const generator = await loadLayersModelFolder(tf, esrganDir);
fs.mkdirSync(path.join(outDir, 'twins'), { recursive: true });
const raw = (side: number) => ({ raw: { width: side, height: side, channels: 3 as const } });
const twins: ManifestItem[] = [];
const started = performance.now();
for (const [k, real] of chosen.entries()) {
  const file = path.join(outDir, 'twins', `twin-${real.id}.png`);
  // Re-running reuses twins already written.
  if (!fs.existsSync(file)) {
    const crop = await sharp(path.join(datasetDir, real.file)).removeAlpha().raw().toBuffer();
    const half = await sharp(crop, raw(256)).resize(128, 128, { kernel: 'lanczos3' }).raw().toBuffer();
    // esrgan-slim takes and returns 0–255 values.
    const y = tf.tidy(() => (generator.predict(tf.tensor4d(Float32Array.from(half), [1, 128, 128, 3])) as import('@tensorflow/tfjs').Tensor).clipByValue(0, 255).round());
    const pixels = Buffer.from(Uint8Array.from((await y.data()) as Float32Array));
    y.dispose();
    const quality = real.history?.jpegQuality;
    const png = quality ? await sharp(await sharp(pixels, raw(256)).jpeg({ quality }).toBuffer()).png().toBuffer() : await sharp(pixels, raw(256)).png().toBuffer();
    fs.writeFileSync(`${file}.tmp`, png);
    fs.renameSync(`${file}.tmp`, file);
  }
  twins.push({ ...real, id: `twin-${real.id}`, file, label: 'synthetic', target: 1, modality: 'twin-sr', generator: 'esrgan-twin', twinOf: real.id });
  if (k % 100 === 0) process.stderr.write(`twins ${k}/${chosen.length} (${((performance.now() - started) / 1000).toFixed(0)} s)\n`);
}
const items = [...manifest.items.map((i) => ({ ...i, file: path.join(datasetDir, i.file) })), ...twins];
fs.writeFileSync(path.join(outDir, 'manifest.json'), JSON.stringify({ ...manifest, items, twins: { count: twins.length, generator: 'esrgan-slim x2 (@upscalerjs/esrgan-slim 1.0.0)' } }));
process.stdout.write(`${twins.length} twins; ${items.length} items in ${outDir}\n`);
