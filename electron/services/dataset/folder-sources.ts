// The source list for a dataset built from labelled folders (the model lab): one or more "real"
// folders and one or more "synthetic" folders, each image checked by decoding it, then handed to the
// same builder as `npm run dataset` (split by source image: every file is its own split unit).
// Bad input fails with one clear message each: a missing, empty or overlapping folder, a folder with
// no readable image, a class without images, the same bytes under both labels. Unreadable files are
// left out and listed, so the examiner sees exactly what was not used and why.
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { createRng } from '../common/seeded-random';
import { DatasetBuildError } from './dataset-errors';
import type { SourceLabel, SourceRow } from './source-manifest';
import { seedFrom } from './split-plan';

export interface LabelledFolder {
  /** Absolute folder path; its images are read in place, never copied or changed. */
  path: string;
  /** Synthetic folders: the generator that made them (default: the folder's name). */
  generator?: string;
  /** Synthetic folders: diffusion, gan, ... (default "unspecified"). */
  modality?: string;
}

export interface FolderSelection {
  real: LabelledFolder[];
  synthetic: LabelledFolder[];
  /** At most this many images per folder, drawn with the seed (quick runs). */
  maxImagesPerFolder?: number;
  seed: number;
}

export interface SkippedFile {
  file: string;
  reason: string;
}

export interface FolderScan {
  path: string;
  label: SourceLabel;
  generator: string;
  modality: string;
  /** Readable images used from this folder. */
  images: number;
  /** Image files in the folder before the per-folder limit. */
  candidates: number;
  skipped: SkippedFile[];
}

export interface FolderSourceList {
  /** The folder the row paths are relative to (the deepest folder that holds every chosen folder). */
  root: string;
  rows: SourceRow[];
  /** The generated source list in MANIFEST.csv's columns (its sha256 is recorded in the dataset). */
  listText: string;
  folders: FolderScan[];
}

/** Extensions the decoder reads; other files in a folder are listed as skipped, not decoded. */
export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.webp', '.tif', '.tiff', '.gif', '.avif'];
/** One image for each of train, val and test at the least, or the model cannot be evaluated. */
export const MIN_IMAGES_PER_CLASS = 3;
const MAX_PIXELS = 180_000_000;
const MAX_FILES_PER_FOLDER = 200_000;

const fail = (code: ConstructorParameters<typeof DatasetBuildError>[0], message: string): never => {
  throw new DatasetBuildError(code, message);
};

const isInside = (child: string, parent: string) => {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
};

async function resolveFolder(folder: LabelledFolder, label: SourceLabel): Promise<string> {
  if (typeof folder.path !== 'string' || folder.path.trim() === '') fail('BAD_OPTIONS', `A ${label} folder has no path`);
  if (!path.isAbsolute(folder.path)) fail('BAD_OPTIONS', `The ${label} folder "${folder.path}" must be an absolute path`);
  let real: string;
  try {
    real = await fs.realpath(folder.path);
  } catch {
    return fail('FOLDER_NOT_FOUND', `The ${label} folder ${folder.path} does not exist`);
  }
  const stat = await fs.stat(real);
  if (!stat.isDirectory()) fail('NOT_A_FOLDER', `The ${label} folder ${folder.path} is a file, not a folder`);
  return real;
}

/** Every regular file below dir (symbolic links are not followed, hidden files are ignored). */
async function listFiles(dir: string, skipped: SkippedFile[], signal?: AbortSignal): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    if (signal?.aborted) fail('CANCELLED', 'Dataset build was cancelled');
    let entries;
    try {
      entries = await fs.readdir(d, { withFileTypes: true });
    } catch (e) {
      skipped.push({ file: d, reason: `folder cannot be read: ${(e as Error).message}` });
      return;
    }
    for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      if (e.name.startsWith('.')) continue;
      const full = path.join(d, e.name);
      if (e.isDirectory()) await walk(full);
      else if (e.isSymbolicLink()) skipped.push({ file: full, reason: 'symbolic link, not followed' });
      else if (e.isFile()) out.push(full);
      if (out.length > MAX_FILES_PER_FOLDER) fail('BAD_OPTIONS', `${dir} holds more than ${MAX_FILES_PER_FOLDER} files; choose a smaller folder`);
    }
  };
  await walk(dir);
  return out;
}

interface CheckedImage {
  file: string;
  sha256: string;
  width: number;
  height: number;
}

/** Reads and fully decodes (at reduced size) one file, so a truncated image is caught here, not mid-build. */
async function checkImage(file: string): Promise<CheckedImage | SkippedFile> {
  try {
    const bytes = await fs.readFile(file);
    if (bytes.length === 0) return { file, reason: 'the file is empty' };
    const meta = await sharp(bytes, { limitInputPixels: MAX_PIXELS }).metadata();
    const width = meta.autoOrient?.width ?? meta.width;
    const height = meta.autoOrient?.height ?? meta.height;
    if (!width || !height) return { file, reason: 'the image has no size' };
    await sharp(bytes, { limitInputPixels: MAX_PIXELS, failOn: 'truncated', pages: 1 }).resize(32, 32, { fit: 'inside' }).raw().toBuffer();
    return { file, sha256: createHash('sha256').update(bytes).digest('hex'), width, height };
  } catch (e) {
    return { file, reason: `not a readable image: ${(e as Error).message}` };
  }
}

function shuffled<T>(items: readonly T[], seed: number, key: string): T[] {
  const out = [...items];
  const rng = createRng(seedFrom(seed, 'folder-limit', key));
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

const csvField = (v: string) => v.replace(/%/g, '%25').replace(/,/g, '%2C').replace(/\r?\n/g, ' ');

/**
 * Checks the chosen folders and lists their readable images as source rows for the builder.
 * Throws a DatasetBuildError with one clear message for input that cannot make an evaluable dataset.
 */
export async function sourcesFromFolders(
  selection: FolderSelection,
  hooks: { signal?: AbortSignal; onProgress?: (done: number, total: number, file: string) => void } = {},
): Promise<FolderSourceList> {
  const real = selection.real ?? [];
  const synthetic = selection.synthetic ?? [];
  if (real.length === 0 && synthetic.length === 0) fail('MISSING_CLASS', 'Choose at least one folder of real photographs and one folder of synthetic images');
  if (real.length === 0) fail('MISSING_CLASS', 'No folder of real photographs was chosen: a detector needs both classes to learn and to be evaluated');
  if (synthetic.length === 0) fail('MISSING_CLASS', 'No folder of synthetic images was chosen: a detector needs both classes to learn and to be evaluated');
  const limit = selection.maxImagesPerFolder;
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) fail('BAD_OPTIONS', 'maxImagesPerFolder must be a positive integer');

  const chosen: Array<{ folder: LabelledFolder; label: SourceLabel; dir: string }> = [];
  for (const [label, list] of [['real', real], ['synthetic', synthetic]] as const) {
    for (const folder of list) chosen.push({ folder, label, dir: await resolveFolder(folder, label) });
  }
  for (let i = 0; i < chosen.length; i++) {
    for (let j = i + 1; j < chosen.length; j++) {
      const a = chosen[i];
      const b = chosen[j];
      if (a.dir === b.dir) {
        fail('OVERLAPPING_FOLDERS', `${a.folder.path} is chosen twice (as ${a.label} and ${b.label}); each folder may be chosen once`);
      }
      const [inner, outer] = isInside(a.dir, b.dir) ? [a, b] : isInside(b.dir, a.dir) ? [b, a] : [undefined, undefined];
      if (inner && outer) {
        fail(
          'OVERLAPPING_FOLDERS',
          `The ${inner.label} folder ${inner.folder.path} is inside the ${outer.label} folder ${outer.folder.path}: its images would be used twice${inner.label !== outer.label ? ' and under both labels' : ''}`,
        );
      }
    }
  }

  const scans: FolderScan[] = [];
  const accepted: Array<{ scan: FolderScan; image: CheckedImage }> = [];
  for (const { folder, label, dir } of chosen) {
    const skipped: SkippedFile[] = [];
    const files = await listFiles(dir, skipped, hooks.signal);
    if (files.length === 0 && skipped.length === 0) fail('EMPTY_FOLDER', `The ${label} folder ${folder.path} is empty`);
    const candidates: string[] = [];
    for (const f of files) {
      if (IMAGE_EXTENSIONS.includes(path.extname(f).toLowerCase())) candidates.push(f);
      else skipped.push({ file: f, reason: `not an image file type (${path.extname(f) || 'no extension'})` });
    }
    const scan: FolderScan = {
      path: folder.path,
      label,
      generator: label === 'real' ? 'none' : (folder.generator?.trim() || path.basename(dir)),
      modality: label === 'real' ? 'photo' : (folder.modality?.trim() || 'unspecified'),
      images: 0,
      candidates: candidates.length,
      skipped,
    };
    // Drawn in a seeded order; an unreadable file is skipped and the next one taken, up to the limit.
    for (const file of limit ? shuffled(candidates, selection.seed, dir) : candidates) {
      if (limit && scan.images >= limit) break;
      if (hooks.signal?.aborted) fail('CANCELLED', 'Dataset build was cancelled');
      const checked = await checkImage(file);
      if ('reason' in checked) skipped.push(checked);
      else {
        accepted.push({ scan, image: checked });
        scan.images++;
      }
      hooks.onProgress?.(accepted.length, Number.NaN, file);
    }
    if (scan.images === 0) {
      const why = skipped.slice(0, 3).map((s) => `${path.basename(s.file)}: ${s.reason}`).join('; ');
      fail(
        candidates.length === 0 && files.length === 0 ? 'EMPTY_FOLDER' : 'NO_READABLE_IMAGES',
        `The ${label} folder ${folder.path} has no readable image (${files.length} files${why ? `; ${why}` : ''})`,
      );
    }
    scans.push(scan);
  }

  // The same bytes twice: within a class the copy is left out; under both labels the input is contradictory.
  const bySha = new Map<string, { scan: FolderScan; image: CheckedImage }>();
  const unique: typeof accepted = [];
  for (const a of accepted) {
    const first = bySha.get(a.image.sha256);
    if (!first) {
      bySha.set(a.image.sha256, a);
      unique.push(a);
    } else if (first.scan.label !== a.scan.label) {
      fail('CONFLICTING_LABELS', `${a.image.file} (${a.scan.label}) has the same bytes as ${first.image.file} (${first.scan.label}): one image cannot be both`);
    } else {
      a.scan.images--;
      a.scan.skipped.push({ file: a.image.file, reason: `same bytes as ${first.image.file}, used once` });
    }
  }
  for (const label of ['real', 'synthetic'] as const) {
    const n = unique.filter((u) => u.scan.label === label).length;
    if (n < MIN_IMAGES_PER_CLASS) {
      fail(
        'TOO_FEW_IMAGES',
        `The ${label} class has ${n} readable image${n === 1 ? '' : 's'}; at least ${MIN_IMAGES_PER_CLASS} are needed (one each for training, validation and test, split by source image)`,
      );
    }
  }

  const root = commonAncestor(chosen.map((c) => c.dir));
  const rows: SourceRow[] = unique.map(({ scan, image }) => {
    const rel = path.relative(root, image.file).split(path.sep).join('/');
    return {
      path: rel,
      label: scan.label,
      modality: scan.modality,
      generator: scan.generator,
      // Each file is its own split unit: the builder never puts one file in two splits.
      source: `folder:${rel}`,
      license: 'NOASSERTION',
      width: image.width,
      height: image.height,
      line: 0,
    };
  });
  const listText =
    ['path,label,modality,generator,source,license,width,height', ...rows.map((r) => [r.path, r.label, r.modality, r.generator, r.source, r.license, r.width, r.height].map((v) => csvField(String(v))).join(','))].join('\n') +
    '\n';
  return { root, rows, listText, folders: scans };
}

function commonAncestor(dirs: readonly string[]): string {
  let root = dirs[0];
  while (!dirs.every((d) => isInside(d, root))) {
    const parent = path.dirname(root);
    if (parent === root) fail('BAD_OPTIONS', `The chosen folders have no common root folder (different drives?): ${dirs.join(', ')}`);
    root = parent;
  }
  return root;
}
