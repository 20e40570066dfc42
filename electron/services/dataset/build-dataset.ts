// Builds the 256×256 training/validation/test set from ../shared/datasets (the offline RSI set).
//
// One pipeline for both classes, in this order, with every random draw seeded per (source, crop):
//  1. decode with sharp: EXIF orientation, first frame, alpha flattened onto white, sRGB 8-bit RGB;
//  2. resize the whole image so its SHORT side is a random length in shortSideRange (default
//     256–384), then take a random 256×256 window. Why not a plain random crop at native size:
//     149 synthetic tiles are 128×128 and must be enlarged while photos up to 2048 px would keep
//     camera-scale detail, so native crops would make "scale of detail" a class cue. Resizing both
//     classes to a common short-side range puts them on one scale; what remains (small tiles are
//     enlarged, large photos reduced) is countered by step 3;
//  3. augment both classes with the same probabilities (CNNDetection's recipe): down-and-up
//     rescale (so enlarged-looking images exist in both classes), Gaussian blur, grayscale (only the
//     real sources contain grayscale files), JPEG re-encoding at a random quality (191 of 300 real
//     files but only 94 of 536 synthetic files are JPEG);
//  4. store as PNG (lossless, so what was decided above is exactly what training sees).
// Before step 2, source histories are matched (matchSourceHistory, default on): the two classes
// arrive with different pasts (28% of synthetic files are 128 px tiles that must be enlarged while
// photos are reduced; 64% of photos but 18% of synthetic files are JPEG), and "how much was this
// enlarged" alone separates the classes with ROC-AUC 0.81 on the unmatched set. So each item first
// takes a native short side drawn from the OTHER class's sources (downscaled to it when smaller)
// and, when not already JPEG, a JPEG encoding with the other class's JPEG rate. Both classes then
// have the same distribution of native sizes (min of one draw from each class) and of JPEG history.
// Real photos give several crops (large photos more) so each split is roughly balanced against the
// many synthetic tiles; sample weights make each generator count equally.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { generatorBalancedWeights } from '../evaluation/sample-weights';
import { createRng } from '../common/seeded-random';
import { DatasetBuildError } from './dataset-errors';
import {
  DATASET_MANIFEST_FILE,
  DATASET_MANIFEST_FORMAT,
  DATASET_MANIFEST_VERSION,
  type DatasetItem,
  type DatasetManifest,
} from './dataset-manifest';
import { parseSourceManifest, sourceKeyOf, type SourceRow } from './source-manifest';
import { allocateRealCrops, assignSplits, groupIntoUnits, limitRows, seedFrom, SPLITS, type SplitFractions, type SplitName } from './split-plan';

/** Bump when the pixel pipeline changes, so cached crops from an older pipeline are not reused. */
export const PIPELINE_VERSION = 2;
export const ITEM_SIZE = 256;

const MAX_SOURCE_PIXELS = 180_000_000;

export interface AugmentationOptions {
  /** Probability of down-scaling to a side in rescaleRange and back up to 256. */
  rescaleProbability?: number;
  rescaleRange?: [number, number];
  blurProbability?: number;
  blurSigmaRange?: [number, number];
  grayscaleProbability?: number;
  jpegProbability?: number;
  jpegQualityRange?: [number, number];
}

export interface DatasetProgress {
  phase: 'reading' | 'images' | 'done';
  done: number;
  total: number;
  written: number;
  reused: number;
  /** Source file just finished, relative to the sources folder. */
  file?: string;
}

export interface BuildDatasetOptions {
  sourcesDir: string;
  outDir: string;
  seed: number;
  /**
   * Mean crops per real photo, or "balance" (default): as many real crops per split as there are
   * synthetic items in it, shared by photo size.
   */
  cropsPerRealImage?: number | 'balance';
  maxCropsPerRealImage?: number;
  /** Crops per synthetic file (default 1): more views of each generated image, each with its own draws. */
  cropsPerSyntheticImage?: number;
  /** Fractions of each class per split; default 0.7 / 0.15 / 0.15. */
  fractions?: Partial<SplitFractions>;
  shortSideRange?: [number, number];
  augmentation?: AugmentationOptions;
  /** Match native sizes and JPEG history across the classes before cropping (default true). */
  matchSourceHistory?: boolean;
  /** Subset for tests and quick runs: at most this many synthetic files per generator. */
  limitPerGenerator?: number;
  /** Subset: at most this many real photos. */
  limitReal?: number;
  /** Delete image files in outDir/images that the new manifest does not list. */
  prune?: boolean;
  concurrency?: number;
  /**
   * The source list itself, instead of <sourcesDir>/MANIFEST.csv (the model lab generates it from
   * labelled folders); row paths stay relative to sourcesDir. `listText` is what its hash records.
   */
  sourceList?: { rows: SourceRow[]; listText: string };
  /** Also spread generators over the splits when assigning sources (default true; see assignSplits). */
  generatorCoverage?: boolean;
  onProgress?: (progress: DatasetProgress) => void;
  signal?: AbortSignal;
}

export interface SplitCounts {
  real: number;
  synthetic: number;
  generators: string[];
}

export interface BuildDatasetResult {
  outDir: string;
  manifestPath: string;
  items: number;
  written: number;
  reused: number;
  /** Image files in outDir/images not listed in the manifest (from other parameters); removed with prune. */
  staleFiles: number;
  counts: Record<SplitName, SplitCounts>;
  manifest: DatasetManifest;
}

interface ResolvedOptions {
  seed: number;
  cropsPerRealImage: number | 'balance';
  maxCropsPerRealImage: number;
  cropsPerSyntheticImage: number;
  fractions: SplitFractions;
  shortSideRange: [number, number];
  augmentation: Required<AugmentationOptions>;
  matchSourceHistory: boolean;
  limitPerGenerator?: number;
  limitReal?: number;
}

const DEFAULT_AUGMENTATION: Required<AugmentationOptions> = {
  rescaleProbability: 0.25,
  rescaleRange: [128, 224],
  blurProbability: 0.1,
  blurSigmaRange: [0.4, 1.6],
  grayscaleProbability: 0.02,
  jpegProbability: 0.5,
  jpegQualityRange: [70, 95],
};

function bad(message: string): never {
  throw new DatasetBuildError('BAD_OPTIONS', message);
}

function checkRange(name: string, r: unknown, min: number, max: number, integer: boolean): [number, number] {
  if (!Array.isArray(r) || r.length !== 2 || !r.every((v) => typeof v === 'number' && Number.isFinite(v))) bad(`${name} must be [low, high]`);
  const [lo, hi] = r as [number, number];
  if (lo > hi || lo < min || hi > max || (integer && (!Number.isInteger(lo) || !Number.isInteger(hi)))) {
    bad(`${name} must be ${integer ? 'integers ' : ''}with ${min} <= low <= high <= ${max}, got [${lo}, ${hi}]`);
  }
  return [lo, hi];
}

function checkProbability(name: string, p: unknown): number {
  if (typeof p !== 'number' || !(p >= 0 && p <= 1)) bad(`${name} must be a probability from 0 to 1, got ${String(p)}`);
  return p;
}

function resolveOptions(o: BuildDatasetOptions): ResolvedOptions {
  if (!o || typeof o !== 'object') bad('Options are required');
  if (typeof o.sourcesDir !== 'string' || o.sourcesDir === '') bad('sourcesDir is required');
  if (typeof o.outDir !== 'string' || o.outDir === '') bad('outDir is required');
  if (!Number.isInteger(o.seed) || o.seed < 0 || o.seed > 0xffffffff) bad(`seed must be an integer from 0 to 4294967295, got ${String(o.seed)}`);
  if (path.resolve(o.outDir) === path.resolve(o.sourcesDir)) bad('outDir must not be the sources folder');
  if (o.matchSourceHistory !== undefined && typeof o.matchSourceHistory !== 'boolean') bad('matchSourceHistory must be true or false');
  const crops = o.cropsPerRealImage ?? 'balance';
  if (crops !== 'balance' && !(typeof crops === 'number' && crops >= 1 && crops <= 64)) bad(`cropsPerRealImage must be "balance" or a number from 1 to 64`);
  const maxCrops = o.maxCropsPerRealImage ?? 8;
  if (!Number.isInteger(maxCrops) || maxCrops < 1 || maxCrops > 64) bad('maxCropsPerRealImage must be an integer from 1 to 64');
  const syntheticCrops = o.cropsPerSyntheticImage ?? 1;
  if (!Number.isInteger(syntheticCrops) || syntheticCrops < 1 || syntheticCrops > 16) bad('cropsPerSyntheticImage must be an integer from 1 to 16');
  const val = o.fractions?.val ?? 0.15;
  const test = o.fractions?.test ?? 0.15;
  const train = o.fractions?.train ?? 1 - val - test;
  for (const [k, v] of Object.entries({ train, val, test })) if (!(v > 0 && v < 1)) bad(`The ${k} fraction must be between 0 and 1, got ${v}`);
  if (Math.abs(train + val + test - 1) > 1e-9) bad(`Split fractions must add up to 1, got ${train + val + test}`);
  const a = { ...DEFAULT_AUGMENTATION, ...(o.augmentation ?? {}) };
  const augmentation: Required<AugmentationOptions> = {
    rescaleProbability: checkProbability('rescaleProbability', a.rescaleProbability),
    rescaleRange: checkRange('rescaleRange', a.rescaleRange, 16, ITEM_SIZE - 1, true),
    blurProbability: checkProbability('blurProbability', a.blurProbability),
    blurSigmaRange: checkRange('blurSigmaRange', a.blurSigmaRange, 0.3, 10, false),
    grayscaleProbability: checkProbability('grayscaleProbability', a.grayscaleProbability),
    jpegProbability: checkProbability('jpegProbability', a.jpegProbability),
    jpegQualityRange: checkRange('jpegQualityRange', a.jpegQualityRange, 1, 100, true),
  };
  const limit = (name: string, v: number | undefined) => {
    if (v !== undefined && (!Number.isInteger(v) || v < 1)) bad(`${name} must be a positive integer`);
    return v;
  };
  return {
    seed: o.seed,
    cropsPerRealImage: crops,
    maxCropsPerRealImage: maxCrops,
    cropsPerSyntheticImage: syntheticCrops,
    fractions: { train, val, test },
    shortSideRange: checkRange('shortSideRange', o.shortSideRange ?? [256, 384], ITEM_SIZE, 4096, true),
    augmentation,
    matchSourceHistory: o.matchSourceHistory ?? true,
    limitPerGenerator: limit('limitPerGenerator', o.limitPerGenerator),
    limitReal: limit('limitReal', o.limitReal),
  };
}

const sha256 = (data: string | Uint8Array) => createHash('sha256').update(data).digest('hex');

function throwIfCancelled(signal?: AbortSignal): void {
  if (signal?.aborted) throw new DatasetBuildError('CANCELLED', 'Dataset build was cancelled');
}

/** Runs tasks with a fixed number of workers; results keep the input order. */
async function mapWithConcurrency<T, R>(inputs: readonly T[], workers: number, fn: (input: T, index: number) => Promise<R>, signal?: AbortSignal): Promise<R[]> {
  const results = new Array<R>(inputs.length);
  let next = 0;
  const worker = async () => {
    while (next < inputs.length) {
      throwIfCancelled(signal);
      const i = next++;
      results[i] = await fn(inputs[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(workers, inputs.length) }, worker));
  return results;
}

interface SourceInfo {
  row: SourceRow;
  sha256: string;
  width: number;
  height: number;
  jpeg: boolean;
}

function imageFailed(row: SourceRow, e: unknown): DatasetBuildError {
  if (e instanceof DatasetBuildError) return e;
  return new DatasetBuildError('IMAGE_FAILED', `Cannot use ${row.path}${row.line > 0 ? ` (MANIFEST.csv line ${row.line})` : ''}: ${(e as Error)?.message ?? String(e)}`);
}

async function readSource(sourcesDir: string, row: SourceRow): Promise<{ bytes: Buffer; info: SourceInfo }> {
  try {
    const bytes = await fs.readFile(path.join(sourcesDir, row.path));
    if (bytes.length === 0) throw new Error('the file is empty');
    const meta = await sharp(bytes, { limitInputPixels: MAX_SOURCE_PIXELS }).metadata();
    const width = meta.autoOrient?.width ?? meta.width;
    const height = meta.autoOrient?.height ?? meta.height;
    if (!width || !height) throw new Error('the image has no size');
    return { bytes, info: { row, sha256: sha256(bytes), width, height, jpeg: meta.format === 'jpeg' } };
  } catch (e) {
    throw imageFailed(row, e);
  }
}

/** What one item is made of: everything that decides its pixels. */
interface CropPlan {
  history: DatasetItem['history'];
  resize: { width: number; height: number; shortSide: number };
  crop: { left: number; top: number; width: number; height: number };
  augmentation: DatasetItem['augmentation'];
}

/** What the other class's sources look like, for matching (per class: its own sources' facts). */
interface HistoryModel {
  shortSides: Record<'real' | 'synthetic', number[]>;
  jpegRate: Record<'real' | 'synthetic', number>;
}

function historyModelOf(infos: readonly SourceInfo[]): HistoryModel {
  const of = (label: 'real' | 'synthetic') => infos.filter((i) => i.row.label === label);
  const sides = (label: 'real' | 'synthetic') => of(label).map((i) => Math.min(i.width, i.height)).sort((a, b) => a - b);
  const rate = (label: 'real' | 'synthetic') => of(label).filter((i) => i.jpeg).length / Math.max(1, of(label).length);
  return { shortSides: { real: sides('real'), synthetic: sides('synthetic') }, jpegRate: { real: rate('real'), synthetic: rate('synthetic') } };
}

const HISTORY_JPEG_QUALITY: [number, number] = [75, 95];

function planCrop(info: SourceInfo, cropIndex: number, opts: ResolvedOptions, model: HistoryModel): CropPlan {
  const rng = createRng(seedFrom(opts.seed, 'crop', info.row.path, cropIndex));
  const int = (lo: number, hi: number) => lo + Math.floor(rng() * (hi - lo + 1));
  const aug = opts.augmentation;
  // Every draw is made whatever the probabilities, so changing one option does not shift the others.
  const shortSide = int(opts.shortSideRange[0], opts.shortSideRange[1]);
  const scale = shortSide / Math.min(info.width, info.height);
  const width = Math.max(ITEM_SIZE, Math.round(info.width * scale));
  const height = Math.max(ITEM_SIZE, Math.round(info.height * scale));
  const left = int(0, width - ITEM_SIZE);
  const top = int(0, height - ITEM_SIZE);
  const rescale = rng() < aug.rescaleProbability;
  const rescaleVia = int(aug.rescaleRange[0], aug.rescaleRange[1]);
  const blur = rng() < aug.blurProbability;
  const sigma = Math.round((aug.blurSigmaRange[0] + rng() * (aug.blurSigmaRange[1] - aug.blurSigmaRange[0])) * 100) / 100;
  const grayscale = rng() < aug.grayscaleProbability;
  const jpeg = rng() < aug.jpegProbability;
  const quality = int(aug.jpegQualityRange[0], aug.jpegQualityRange[1]);
  // Drawn after the older draws, so matching on or off leaves every other choice as it was.
  const other = info.row.label === 'real' ? 'synthetic' : 'real';
  const otherSides = model.shortSides[other];
  const drawnSide = otherSides.length > 0 ? otherSides[Math.floor(rng() * otherSides.length)] : Infinity;
  const jpegHistory = rng() < model.jpegRate[other];
  const historyQuality = int(HISTORY_JPEG_QUALITY[0], HISTORY_JPEG_QUALITY[1]);
  const ownSide = Math.min(info.width, info.height);
  const history = opts.matchSourceHistory
    ? {
        nativeShortSide: drawnSide < ownSide ? drawnSide : null,
        jpegQuality: jpegHistory && !info.jpeg ? historyQuality : null,
      }
    : { nativeShortSide: null, jpegQuality: null };
  return {
    history,
    resize: { width, height, shortSide },
    crop: { left, top, width: ITEM_SIZE, height: ITEM_SIZE },
    augmentation: {
      rescaleVia: rescale ? rescaleVia : null,
      blurSigma: blur ? sigma : null,
      grayscale,
      jpegQuality: jpeg ? quality : null,
    },
  };
}

const round2 = (v: number) => Math.round(v * 100) / 100;

type PlannedItem = Omit<DatasetItem, 'sha256'>;

export interface DatasetPlan {
  params: Record<string, unknown>;
  sourcesManifestSha256: string;
  items: PlannedItem[];
  /** Rows used (after limits), for checks. */
  rows: SourceRow[];
}

/**
 * Everything buildDataset decides, without writing pixels: splits, crops, augmentation, ids and
 * weights. Reads every source file (for its hash and oriented size).
 */
export async function planDataset(options: BuildDatasetOptions): Promise<DatasetPlan> {
  const opts = resolveOptions(options);
  let manifestText: string;
  let sourceRows: SourceRow[];
  if (options.sourceList) {
    manifestText = options.sourceList.listText;
    sourceRows = options.sourceList.rows;
    if (sourceRows.length === 0) throw new DatasetBuildError('MANIFEST_INVALID', 'The source list names no images');
  } else {
    const manifestPath = path.join(options.sourcesDir, 'MANIFEST.csv');
    try {
      manifestText = await fs.readFile(manifestPath, 'utf8');
    } catch (e) {
      throw new DatasetBuildError('SOURCES_NOT_FOUND', `No MANIFEST.csv in ${options.sourcesDir}: ${(e as Error).message}`);
    }
    sourceRows = parseSourceManifest(manifestText);
  }
  const rows = limitRows(sourceRows, opts.seed, { perGenerator: opts.limitPerGenerator, real: opts.limitReal });
  const assignment = assignSplits(groupIntoUnits(rows), opts.fractions, opts.seed, { generatorCoverage: options.generatorCoverage });
  const unitOf = new Map<SourceRow, string>();
  for (const unit of groupIntoUnits(rows)) for (const row of unit.rows) unitOf.set(row, unit.id);

  let readCount = 0;
  const infos = await mapWithConcurrency(
    rows,
    resolveConcurrency(options.concurrency),
    async (row) => {
      const { info } = await readSource(options.sourcesDir, row);
      options.onProgress?.({ phase: 'reading', done: ++readCount, total: rows.length, written: 0, reused: 0, file: row.path });
      return info;
    },
    options.signal,
  );

  const historyModel = historyModelOf(infos);
  const cropsOf = new Map<SourceInfo, number>();
  for (const split of SPLITS) {
    const inSplit = infos.filter((info) => assignment.get(unitOf.get(info.row) as string) === split);
    const synthetic = inSplit.filter((info) => info.row.label === 'synthetic');
    const real = inSplit.filter((info) => info.row.label === 'real');
    for (const info of synthetic) cropsOf.set(info, opts.cropsPerSyntheticImage);
    const target = opts.cropsPerRealImage === 'balance' ? synthetic.length * opts.cropsPerSyntheticImage : Math.round(opts.cropsPerRealImage * real.length);
    const counts = allocateRealCrops(real, Math.max(target, real.length), opts.maxCropsPerRealImage);
    real.forEach((info, i) => cropsOf.set(info, counts[i]));
  }

  const items: PlannedItem[] = [];
  for (const info of infos) {
    const split = assignment.get(unitOf.get(info.row) as string) as SplitName;
    for (let cropIndex = 0; cropIndex < (cropsOf.get(info) as number); cropIndex++) {
      const plan = planCrop(info, cropIndex, opts, historyModel);
      const scaleX = plan.resize.width / info.width;
      const scaleY = plan.resize.height / info.height;
      // Content-addressed: the id changes exactly when the pixels would.
      const id = sha256(JSON.stringify({ v: PIPELINE_VERSION, source: info.sha256, ...plan })).slice(0, 20);
      items.push({
        id,
        file: `images/${split}/${id}.png`,
        split,
        label: info.row.label,
        target: info.row.label === 'synthetic' ? 1 : 0,
        modality: info.row.modality,
        generator: info.row.generator,
        sourceKey: sourceKeyOf(info.row.source),
        source: info.row.source,
        splitUnit: unitOf.get(info.row) as string,
        originalPath: info.row.path,
        license: info.row.license,
        sourceSha256: info.sha256,
        sourceWidth: info.width,
        sourceHeight: info.height,
        cropIndex,
        history: plan.history,
        resize: plan.resize,
        crop: plan.crop,
        sourceBox: {
          left: round2(plan.crop.left / scaleX),
          top: round2(plan.crop.top / scaleY),
          width: round2(ITEM_SIZE / scaleX),
          height: round2(ITEM_SIZE / scaleY),
        },
        augmentation: plan.augmentation,
        sampleWeight: 0,
      });
    }
  }
  for (const split of SPLITS) {
    const inSplit = items.filter((item) => item.split === split);
    const weights = generatorBalancedWeights(inSplit.map((item) => ({ label: item.target, generator: item.generator })));
    inSplit.forEach((item, i) => (item.sampleWeight = weights[i]));
  }
  const { seed, ...rest } = opts;
  const coverage = options.generatorCoverage === false ? { generatorCoverage: false } : {};
  return { params: { seed, pipelineVersion: PIPELINE_VERSION, ...rest, ...coverage }, sourcesManifestSha256: sha256(manifestText), items, rows };
}

function resolveConcurrency(c: number | undefined): number {
  if (c === undefined) return Math.max(1, Math.min(4, os.availableParallelism()));
  if (!Number.isInteger(c) || c < 1 || c > 64) bad('concurrency must be an integer from 1 to 64');
  return c;
}

async function decodeSource(bytes: Buffer): Promise<{ data: Buffer; width: number; height: number }> {
  const { data, info } = await sharp(bytes, { limitInputPixels: MAX_SOURCE_PIXELS, failOn: 'truncated', autoOrient: true, pages: 1 })
    .flatten({ background: { r: 255, g: 255, b: 255 } })
    .toColourspace('srgb')
    .removeAlpha()
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels, expected 3`);
  return { data, width: info.width, height: info.height };
}

const rawOf = (width: number, height: number) => ({ raw: { width, height, channels: 3 as const } });

/** The source as it would have arrived with the matched history: smaller, then JPEG-encoded. */
async function withHistory(
  source: { data: Buffer; width: number; height: number },
  history: DatasetItem['history'],
): Promise<{ data: Buffer; width: number; height: number }> {
  let current = source;
  if (history?.nativeShortSide) {
    const scale = history.nativeShortSide / Math.min(current.width, current.height);
    const width = Math.max(1, Math.round(current.width * scale));
    const height = Math.max(1, Math.round(current.height * scale));
    const data = await sharp(current.data, rawOf(current.width, current.height)).resize(width, height, { fit: 'fill', kernel: 'lanczos3' }).raw().toBuffer();
    current = { data, width, height };
  }
  if (history?.jpegQuality) current = { ...current, data: await jpegRoundTrip(current.data, current.width, current.height, history.jpegQuality) };
  return current;
}

/** RGB pixels after JPEG encoding at this quality (4:2:0, as cameras and the web do) and decoding. */
async function jpegRoundTrip(pixels: Buffer, width: number, height: number, quality: number): Promise<Buffer> {
  const jpeg = await sharp(pixels, rawOf(width, height)).jpeg({ quality, chromaSubsampling: '4:2:0' }).toBuffer();
  const decoded = await sharp(jpeg).toColourspace('srgb').removeAlpha().raw().toBuffer({ resolveWithObject: true });
  if (decoded.info.channels !== 3 || decoded.info.width !== width || decoded.info.height !== height) {
    throw new Error('JPEG round trip did not give the same size in 3 channels');
  }
  return decoded.data;
}

/** The crop, augmented, as PNG bytes. Same code for both classes. */
async function renderItem(original: { data: Buffer; width: number; height: number }, item: PlannedItem): Promise<Buffer> {
  const source = await withHistory(original, item.history);
  let pixels: Buffer = await sharp(source.data, rawOf(source.width, source.height))
    .resize(item.resize.width, item.resize.height, { fit: 'fill', kernel: 'lanczos3' })
    .extract(item.crop)
    .raw()
    .toBuffer();
  const a = item.augmentation;
  if (a.rescaleVia !== null) {
    const small = await sharp(pixels, rawOf(ITEM_SIZE, ITEM_SIZE)).resize(a.rescaleVia, a.rescaleVia, { fit: 'fill', kernel: 'lanczos3' }).raw().toBuffer();
    pixels = await sharp(small, rawOf(a.rescaleVia, a.rescaleVia)).resize(ITEM_SIZE, ITEM_SIZE, { fit: 'fill', kernel: 'lanczos3' }).raw().toBuffer();
  }
  if (a.blurSigma !== null) pixels = await sharp(pixels, rawOf(ITEM_SIZE, ITEM_SIZE)).blur(a.blurSigma).raw().toBuffer();
  if (a.grayscale) {
    // Rec. 601 luma, the weights JPEG uses, kept in three equal channels.
    for (let i = 0; i < pixels.length; i += 3) {
      const y = Math.round(0.299 * pixels[i] + 0.587 * pixels[i + 1] + 0.114 * pixels[i + 2]);
      pixels[i] = pixels[i + 1] = pixels[i + 2] = y;
    }
  }
  if (a.jpegQuality !== null) pixels = await jpegRoundTrip(pixels, ITEM_SIZE, ITEM_SIZE, a.jpegQuality);
  return sharp(pixels, rawOf(ITEM_SIZE, ITEM_SIZE)).png({ compressionLevel: 6 }).toBuffer();
}

async function writeAtomically(file: string, data: string | Buffer): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await fs.writeFile(temp, data);
    await fs.rename(temp, file);
  } catch (e) {
    await fs.rm(temp, { force: true });
    throw new DatasetBuildError('OUTPUT_FAILED', `Cannot write ${file}: ${(e as Error).message}`);
  }
}

/** Existing item files by id, wherever a previous run put them, and leftover temporary files. */
async function indexExistingImages(outDir: string): Promise<{ byId: Map<string, string>; temps: string[] }> {
  const byId = new Map<string, string>();
  const temps: string[] = [];
  for (const split of SPLITS) {
    const dir = path.join(outDir, 'images', split);
    let names: string[] = [];
    try {
      names = await fs.readdir(dir);
    } catch {
      continue;
    }
    for (const name of names) {
      if (name.startsWith('.') && name.endsWith('.tmp')) temps.push(path.join(dir, name));
      const m = /^([0-9a-f]{20})\.png$/.exec(name);
      if (m) byId.set(m[1], `images/${split}/${name}`);
    }
  }
  return { byId, temps };
}

/**
 * Builds (or updates) the dataset in outDir: images/<split>/<id>.png and manifest.json.
 * Items whose file already exists (same id = same source bytes and same plan) are reused, also when
 * a previous run filed them under another split. Files and the manifest are written atomically.
 */
export async function buildDataset(options: BuildDatasetOptions): Promise<BuildDatasetResult> {
  const plan = await planDataset(options);
  const outDir = path.resolve(options.outDir);
  try {
    await fs.mkdir(outDir, { recursive: true });
  } catch (e) {
    throw new DatasetBuildError('OUTPUT_FAILED', `Cannot create ${outDir}: ${(e as Error).message}`);
  }
  const existing = await indexExistingImages(outDir);
  // Temporary files are only left by an interrupted run; their pixels were never trusted.
  await Promise.all(existing.temps.map((t) => fs.rm(t, { force: true })));

  const bySource = new Map<string, PlannedItem[]>();
  for (const item of plan.items) bySource.set(item.originalPath, [...(bySource.get(item.originalPath) ?? []), item]);
  const rowsByPath = new Map(plan.rows.map((r) => [r.path, r]));
  const sources = [...bySource.entries()];
  const hashes = new Map<string, string>();
  let written = 0;
  let reused = 0;
  let done = 0;
  await mapWithConcurrency(
    sources,
    resolveConcurrency(options.concurrency),
    async ([sourcePath, items]) => {
      const missing: PlannedItem[] = [];
      for (const item of items) {
        const found = existing.byId.get(item.id);
        if (found === item.file) {
          reused++;
          hashes.set(item.id, sha256(await fs.readFile(path.join(outDir, item.file))));
        } else if (found) {
          await fs.mkdir(path.dirname(path.join(outDir, item.file)), { recursive: true });
          await fs.rename(path.join(outDir, found), path.join(outDir, item.file));
          reused++;
          hashes.set(item.id, sha256(await fs.readFile(path.join(outDir, item.file))));
        } else missing.push(item);
      }
      if (missing.length > 0) {
        const row = rowsByPath.get(sourcePath) as SourceRow;
        let decoded: { data: Buffer; width: number; height: number };
        try {
          const bytes = await fs.readFile(path.join(options.sourcesDir, sourcePath));
          if (sha256(bytes) !== missing[0].sourceSha256) throw new Error('the file changed while the dataset was being built');
          decoded = await decodeSource(bytes);
          if (decoded.width !== missing[0].sourceWidth || decoded.height !== missing[0].sourceHeight) {
            throw new Error(`decoded to ${decoded.width}x${decoded.height}, header said ${missing[0].sourceWidth}x${missing[0].sourceHeight}`);
          }
        } catch (e) {
          throw imageFailed(row, e);
        }
        for (const item of missing) {
          throwIfCancelled(options.signal);
          let png: Buffer;
          try {
            png = await renderItem(decoded, item);
          } catch (e) {
            throw imageFailed(row, e);
          }
          await writeAtomically(path.join(outDir, item.file), png);
          hashes.set(item.id, sha256(png));
          written++;
        }
      }
      options.onProgress?.({ phase: 'images', done: ++done, total: sources.length, written, reused, file: sourcePath });
    },
    options.signal,
  );

  const items: DatasetItem[] = plan.items.map((item) => ({ ...item, sha256: hashes.get(item.id) as string }));
  const counts = {} as Record<SplitName, SplitCounts>;
  for (const split of SPLITS) {
    const inSplit = items.filter((i) => i.split === split);
    counts[split] = {
      real: inSplit.filter((i) => i.label === 'real').length,
      synthetic: inSplit.filter((i) => i.label === 'synthetic').length,
      generators: [...new Set(inSplit.filter((i) => i.label === 'synthetic').map((i) => i.generator))].sort(),
    };
  }
  const manifest: DatasetManifest = {
    format: DATASET_MANIFEST_FORMAT,
    version: DATASET_MANIFEST_VERSION,
    pipelineVersion: PIPELINE_VERSION,
    params: plan.params,
    sourcesManifestSha256: plan.sourcesManifestSha256,
    counts,
    items,
  };
  const manifestPath = path.join(outDir, DATASET_MANIFEST_FILE);
  await writeAtomically(manifestPath, `${JSON.stringify(manifest, null, 1)}\n`);

  const listed = new Set(items.map((i) => i.file));
  const after = await indexExistingImages(outDir);
  const stale = [...after.byId.values()].filter((f) => !listed.has(f));
  if (options.prune) await Promise.all(stale.map((f) => fs.rm(path.join(outDir, f), { force: true })));
  options.onProgress?.({ phase: 'done', done: sources.length, total: sources.length, written, reused });
  return { outDir, manifestPath, items: items.length, written, reused, staleFiles: options.prune ? 0 : stale.length, counts, manifest };
}
