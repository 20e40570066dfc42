// The paper's future work, measured: does the frequency domain help the frozen probe on held-out
// generators? Each 256×256 crop gives the radial power spectrum of its Laplacian residual (grey, 2-D
// FFT, 32 rings, log10 of each ring's share of the power: the shape of the spectrum, not its energy),
// standardised on the train split. The paper's head is trained on it alone ("spectrum") or appended to
// the pooled block_12_add features of the default ("both"), and scored on the same folds as
// EXPERIMENTS.md. A ring average is the same for an image and its mirror, so flips reuse it.
//
//   npx tsx models/experiments/spectrum-experiment.ts --dataset <built dataset> [--mode both|spectrum] \
//     [--cache dir] [--logo]
import fs from 'node:fs';
import path from 'node:path';
import { decodeToPaperRgb } from '../../electron/services/engine/preprocess';
import { layersFor } from '../../electron/services/training/backbone-specs';
import { loadDataset, splitWithHoldOut } from '../../electron/services/training/dataset-items';
import { buildExperimentBackbone } from '../../electron/services/training/experiment-backbones';
import { buildFeatureTable, type FeatureTable } from '../../electron/services/training/feature-table';
import { runFold, syntheticGroups } from '../../electron/services/training/holdout-validation';
import { args, opt } from './script-args';

const RINGS = 32;
const SIDE = 256;

/** In-place radix-2 FFT of one row or column. */
function fft(re: Float64Array, im: Float64Array): void {
  const n = re.length;
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      [re[i], re[j]] = [re[j], re[i]];
      [im[i], im[j]] = [im[j], im[i]];
    }
  }
  for (let len = 2; len <= n; len <<= 1) {
    const angle = (-2 * Math.PI) / len;
    const wr = Math.cos(angle);
    const wi = Math.sin(angle);
    const half = len / 2;
    for (let i = 0; i < n; i += len) {
      let cr = 1;
      let ci = 0;
      for (let j = 0; j < half; j++) {
        const ur = re[i + j];
        const ui = im[i + j];
        const vr = re[i + j + half] * cr - im[i + j + half] * ci;
        const vi = re[i + j + half] * ci + im[i + j + half] * cr;
        re[i + j] = ur + vr;
        im[i + j] = ui + vi;
        re[i + j + half] = ur - vr;
        im[i + j + half] = ui - vi;
        const t = cr * wr - ci * wi;
        ci = cr * wi + ci * wr;
        cr = t;
      }
    }
  }
}

/** log10 share of the residual's power in each of RINGS rings of radial frequency (DC excluded). */
export function residualSpectrum(rgb: Uint8Array): Float32Array {
  const n = SIDE;
  const grey = new Float64Array(n * n);
  for (let i = 0; i < n * n; i++) grey[i] = 0.299 * rgb[3 * i] + 0.587 * rgb[3 * i + 1] + 0.114 * rgb[3 * i + 2];
  const at = (y: number, x: number) => grey[Math.min(Math.max(y, 0), n - 1) * n + Math.min(Math.max(x, 0), n - 1)];
  const re = new Float64Array(n * n);
  const im = new Float64Array(n * n);
  for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) re[y * n + x] = 4 * at(y, x) - at(y - 1, x) - at(y + 1, x) - at(y, x - 1) - at(y, x + 1);
  const lineRe = new Float64Array(n);
  const lineIm = new Float64Array(n);
  for (let y = 0; y < n; y++) {
    lineRe.set(re.subarray(y * n, (y + 1) * n));
    lineIm.fill(0);
    fft(lineRe, lineIm);
    re.set(lineRe, y * n);
    im.set(lineIm, y * n);
  }
  for (let x = 0; x < n; x++) {
    for (let y = 0; y < n; y++) {
      lineRe[y] = re[y * n + x];
      lineIm[y] = im[y * n + x];
    }
    fft(lineRe, lineIm);
    for (let y = 0; y < n; y++) {
      re[y * n + x] = lineRe[y];
      im[y * n + x] = lineIm[y];
    }
  }
  const power = new Float64Array(RINGS);
  const count = new Float64Array(RINGS);
  for (let y = 0; y < n; y++)
    for (let x = 0; x < n; x++) {
      const fy = y < n / 2 ? y : y - n;
      const fx = x < n / 2 ? x : x - n;
      const r = Math.sqrt(fx * fx + fy * fy) / (n / 2);
      if (r >= 1 || r === 0) continue;
      const ring = Math.floor(r * RINGS);
      power[ring] += re[y * n + x] ** 2 + im[y * n + x] ** 2;
      count[ring]++;
    }
  let total = 0;
  for (let b = 0; b < RINGS; b++) total += power[b] / count[b];
  return Float32Array.from(power, (p, b) => Math.log10(p / count[b] / total));
}

const datasetDir = opt('--dataset', '');
const mode = opt('--mode', 'both');
if (!datasetDir || !['both', 'spectrum'].includes(mode)) {
  process.stderr.write('usage: spectrum-experiment.ts --dataset <dir> [--mode both|spectrum] [--cache dir] [--logo]\n');
  process.exit(2);
}
const cacheDir = opt('--cache', '/tmp/e-work/features');
const items = loadDataset(datasetDir).items;
const index = new Map(items.map((it, i) => [it.id, i]));

// Spectra of every item, cached next to the features (the FFT in JS takes ~70 ms per crop).
const spectraFile = path.join(cacheDir, `spectra-${RINGS}-${path.basename(path.resolve(datasetDir))}.f32`);
let spectra: Float32Array;
if (fs.existsSync(spectraFile) && fs.statSync(spectraFile).size === items.length * RINGS * 4) {
  const b = fs.readFileSync(spectraFile);
  spectra = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
} else {
  spectra = new Float32Array(items.length * RINGS);
  for (const [i, it] of items.entries()) {
    spectra.set(residualSpectrum((await decodeToPaperRgb(it.file)).data), i * RINGS);
    if (i % 1000 === 0) process.stderr.write(`spectra ${i}/${items.length}\n`);
  }
  fs.mkdirSync(cacheDir, { recursive: true });
  fs.writeFileSync(spectraFile, Buffer.from(spectra.buffer));
}

// Standardised with the train split's statistics, so the head sees features of unit scale.
const train = splitWithHoldOut(items, {}).train;
const mean = new Float64Array(RINGS);
const variance = new Float64Array(RINGS);
for (const it of train) for (let b = 0; b < RINGS; b++) mean[b] += spectra[(index.get(it.id) as number) * RINGS + b] / train.length;
for (const it of train) for (let b = 0; b < RINGS; b++) variance[b] += (spectra[(index.get(it.id) as number) * RINGS + b] - mean[b]) ** 2 / train.length;
for (let i = 0; i < items.length; i++) for (let b = 0; b < RINGS; b++) spectra[i * RINGS + b] = (spectra[i * RINGS + b] - mean[b]) / Math.sqrt(variance[b] + 1e-12);

const backbone = await buildExperimentBackbone('mobilenet_v2', path.join(cacheDir, 'backbones'), 'block_12_add');
const pooled = await buildFeatureTable(items, { backbone, layers: layersFor('mid', backbone, 'block_12_add'), views: ['plain', 'flip'], cacheDir });
const dim = mode === 'spectrum' ? RINGS : pooled.dim + RINGS;
const views: FeatureTable['views'] = {};
for (const view of ['plain', 'flip'] as const) {
  const src = pooled.views[view] as Float32Array;
  const out = new Float32Array(pooled.index.size * dim);
  for (const [id, row] of pooled.index) {
    const i = index.get(id) as number;
    const ring = spectra.subarray(i * RINGS, (i + 1) * RINGS);
    if (mode === 'spectrum') out.set(ring, row * dim);
    else {
      out.set(src.subarray(row * pooled.dim, (row + 1) * pooled.dim), row * dim);
      out.set(ring, row * dim + pooled.dim);
    }
  }
  views[view] = out;
}
const table: FeatureTable = { ...pooled, dim, views };
const head = { epochs: 20, hiddenUnits: 256, dropout: 0.5, l2: 0, learningRate: 1e-3, seed: 1 };
const fold = async (holdOut: Parameters<typeof runFold>[2]) => (await runFold(table, items, holdOut, ['plain', 'flip'], head)).result;
const fmt = (x: number | null | undefined) => (x === null || x === undefined ? '—' : x.toFixed(3));
const avg = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;

const main = await fold({});
const lomo = [];
for (const m of syntheticGroups(items, 'modality')) lomo.push(await fold({ modalities: [m] }));
const logo = [];
if (args.includes('--logo')) for (const g of syntheticGroups(items, 'generator')) logo.push(await fold({ generators: [g] }));
const logoAucs = logo.map((f) => f.rocAuc).filter((a): a is number => a !== null);
process.stdout.write(
  `| ${mode} | val ${fmt(main.valRocAuc)} | test ${fmt(main.rocAuc)} | LOMO ${lomo.map((f) => `${f.heldOut} ${fmt(f.rocAuc)}`).join(', ')} (mean ${fmt(avg(lomo.map((f) => f.rocAuc as number)))}) | LOGO mean ${logoAucs.length ? fmt(avg(logoAucs)) : '—'} min ${logoAucs.length ? fmt(Math.min(...logoAucs)) : '—'} |\n`,
);
