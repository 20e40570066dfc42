// Reads a built dataset (the dataset builder's manifest) into the few fields training needs, and
// makes the held-out splits: leave-one-generator-out and leave-one-modality-out put every image of the
// held-out group into test and none into train/val; the real images keep their own split.
import fs from 'node:fs';
import path from 'node:path';
import { realSourceOf } from '../dataset/source-manifest';
import { TrainingError } from './training-errors';

export type SplitName = 'train' | 'val' | 'test';

export interface DatasetItem {
  id: string;
  /** Absolute path of the 256×256 crop. */
  file: string;
  split: SplitName;
  /** 1 = synthetic, 0 = real. */
  label: 0 | 1;
  modality: string;
  generator: string;
  sourceKey: string;
}

export interface LoadedDataset {
  dir: string;
  manifestFile: string;
  items: DatasetItem[];
  /** Seed and parameters the builder recorded, when it did. */
  meta: Record<string, unknown>;
}

const MANIFEST_NAMES = ['manifest.json', 'dataset-manifest.json'];

function asLabel(v: unknown, where: string): 0 | 1 {
  if (v === 1 || v === '1' || v === 'synthetic' || v === 'fake' || v === 'ai') return 1;
  if (v === 0 || v === '0' || v === 'real') return 0;
  throw new TrainingError('DATASET_NOT_FOUND', `${where}: label ${JSON.stringify(v)} is neither real nor synthetic`);
}

function asSplit(v: unknown, where: string): SplitName {
  if (v === 'train' || v === 'val' || v === 'test') return v;
  if (v === 'validation') return 'val';
  throw new TrainingError('DATASET_NOT_FOUND', `${where}: split ${JSON.stringify(v)} is not train, val or test`);
}

export function loadDataset(dir: string): LoadedDataset {
  const abs = path.resolve(dir);
  const manifestFile = MANIFEST_NAMES.map((n) => path.join(abs, n)).find((f) => fs.existsSync(f));
  if (!manifestFile) {
    throw new TrainingError('DATASET_NOT_FOUND', `no dataset manifest in ${abs}; build one with \`npm run dataset -- --sources ../shared/datasets --out ${dir}\``);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(manifestFile, 'utf8'));
  } catch (e) {
    throw new TrainingError('DATASET_NOT_FOUND', `cannot read ${manifestFile}: ${(e as Error).message}`);
  }
  const obj = raw as { items?: unknown[] } & Record<string, unknown>;
  const list = Array.isArray(raw) ? raw : Array.isArray(obj.items) ? obj.items : undefined;
  if (!list) throw new TrainingError('DATASET_NOT_FOUND', `${manifestFile} has no items list`);
  const items: DatasetItem[] = list.map((entry, i) => {
    const e = entry as Record<string, unknown>;
    const where = `${path.basename(manifestFile)} item ${i}`;
    const file = (e.file ?? e.path) as string | undefined;
    const id = (e.id ?? file) as string | undefined;
    if (typeof file !== 'string' || typeof id !== 'string') throw new TrainingError('DATASET_NOT_FOUND', `${where} has no id/file`);
    const label = asLabel(e.label, where);
    return {
      id,
      file: path.resolve(abs, file),
      split: asSplit(e.split, where),
      label,
      modality: String(e.modality ?? (label ? 'unknown' : 'photo')),
      generator: String(e.generator ?? (label ? 'unknown' : 'none')),
      sourceKey: String(e.sourceKey ?? e.source ?? id),
    };
  });
  const meta = Array.isArray(raw) ? {} : Object.fromEntries(Object.entries(obj).filter(([k]) => k !== 'items'));
  return { dir: abs, manifestFile, items, meta };
}

export interface HoldOut {
  generators?: readonly string[];
  modalities?: readonly string[];
  /** Collections of real photographs (source-manifest's realSourceOf), for the crossed folds. */
  realSources?: readonly string[];
}

export function isHeldOut(item: DatasetItem, holdOut: HoldOut): boolean {
  if (item.label === 0) return (holdOut.realSources ?? []).includes(realSourceOf(item.sourceKey));
  return (holdOut.generators ?? []).includes(item.generator) || (holdOut.modalities ?? []).includes(item.modality);
}

/**
 * Train/val/test for a held-out experiment: held-out synthetic images (from every split) form the
 * synthetic side of test; real test images stay the real side; train/val lose the held-out images.
 * With nothing held out, the dataset's own splits are returned.
 */
export function splitWithHoldOut(items: readonly DatasetItem[], holdOut: HoldOut = {}): Record<SplitName, DatasetItem[]> {
  const any = (holdOut.generators?.length ?? 0) + (holdOut.modalities?.length ?? 0) + (holdOut.realSources?.length ?? 0) > 0;
  const out: Record<SplitName, DatasetItem[]> = { train: [], val: [], test: [] };
  for (const item of items) {
    if (!any) out[item.split].push(item);
    else if (isHeldOut(item, holdOut)) out.test.push(item);
    else if (item.split === 'test') {
      if (item.label === 0) out.test.push(item);
    } else out[item.split].push(item);
  }
  return out;
}

export function checkSplitUsable(split: Record<SplitName, DatasetItem[]>, what: string): void {
  for (const name of ['train', 'val'] as const) {
    const labels = new Set(split[name].map((i) => i.label));
    if (labels.size < 2) throw new TrainingError('SINGLE_CLASS', `${what}: the ${name} split needs both real and synthetic images (has ${split[name].length} images, classes ${[...labels].join(',') || 'none'})`);
  }
}

export function summariseItems(items: readonly DatasetItem[]): { real: number; synthetic: number; generators: Record<string, number>; modalities: Record<string, number> } {
  const generators: Record<string, number> = {};
  const modalities: Record<string, number> = {};
  let real = 0;
  for (const it of items) {
    if (it.label === 0) real++;
    else generators[it.generator] = (generators[it.generator] ?? 0) + 1;
    modalities[it.modality] = (modalities[it.modality] ?? 0) + 1;
  }
  return { real, synthetic: items.length - real, generators, modalities };
}
