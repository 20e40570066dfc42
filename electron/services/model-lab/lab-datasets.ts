// Datasets the model lab builds: from labelled folders (the source list is generated from them) or
// from the bundled training sources (their MANIFEST.csv), with the same builder as `npm run dataset`.
// Each lives in <dataDir>/datasets/<id>/, where the id is a hash of what was chosen, so building the
// same choice again reuses every crop (the builder's cache). A dataset whose train, val or test split
// lacks a class is refused: a model trained on it could not be evaluated.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { buildDataset, type DatasetProgress } from '../dataset/build-dataset';
import { DatasetBuildError } from '../dataset/dataset-errors';
import { DATASET_MANIFEST_FILE, type DatasetItem } from '../dataset/dataset-manifest';
import { sourcesFromFolders, type FolderScan, type LabelledFolder } from '../dataset/folder-sources';
import { SPLITS, type SplitName } from '../dataset/split-plan';
import { findRepoRoot } from '../app/app-info';

export type DatasetSourceChoice =
  | { kind: 'folders'; real: LabelledFolder[]; synthetic: LabelledFolder[]; maxImagesPerFolder?: number }
  | { kind: 'bundled'; sourcesDir?: string; limitPerGenerator?: number; limitReal?: number };

export interface BuildLabDatasetRequest {
  source: DatasetSourceChoice;
  seed?: number;
}

export interface LabDatasetSummary {
  id: string;
  dir: string;
  createdAt: string;
  source: 'folders' | 'bundled';
  description: string;
  items: number;
  splits: Record<SplitName, { real: number; synthetic: number }>;
  generators: Array<{ generator: string; modality: string } & Record<SplitName, number>>;
  folders: Array<Omit<FolderScan, 'skipped'> & { skipped: FolderScan['skipped']; skippedTotal: number }>;
  written: number;
  reused: number;
}

export const LAB_DATASET_FILE = 'lab-dataset.json';
const MAX_SKIPPED_LISTED = 50;

export function labDatasetsDir(dataDir: string): string {
  return path.join(dataDir, 'datasets');
}

/** The bundled training sources: ../shared/datasets beside the install, when it is there. */
export function bundledSourcesDir(): string | undefined {
  const dir = path.resolve(findRepoRoot(), '..', 'shared', 'datasets');
  return fs.existsSync(path.join(dir, 'MANIFEST.csv')) ? dir : undefined;
}

export function summariseSplits(items: readonly Pick<DatasetItem, 'split' | 'label' | 'generator' | 'modality'>[]) {
  const splits = Object.fromEntries(SPLITS.map((s) => [s, { real: 0, synthetic: 0 }])) as LabDatasetSummary['splits'];
  const generators = new Map<string, LabDatasetSummary['generators'][number]>();
  for (const it of items) {
    splits[it.split][it.label]++;
    if (it.label !== 'synthetic') continue;
    const key = `${it.generator}\u0000${it.modality}`;
    const row = generators.get(key) ?? { generator: it.generator, modality: it.modality, train: 0, val: 0, test: 0 };
    row[it.split]++;
    generators.set(key, row);
  }
  return { splits, generators: [...generators.values()].sort((a, b) => a.generator.localeCompare(b.generator)) };
}

/** Why a model trained on these splits could not be evaluated; empty when it can. */
export function evaluabilityProblems(splits: LabDatasetSummary['splits']): string[] {
  const problems: string[] = [];
  for (const s of SPLITS) {
    for (const label of ['real', 'synthetic'] as const) {
      if (splits[s][label] === 0) problems.push(`the ${s} split has no ${label} image`);
    }
  }
  return problems;
}

export async function buildLabDataset(
  dataDir: string,
  request: BuildLabDatasetRequest,
  hooks: { signal?: AbortSignal; onProgress?: (phase: string, done: number, total: number | null, message: string) => void } = {},
): Promise<LabDatasetSummary> {
  const seed = request.seed ?? 1;
  const source = request.source;
  let sourcesDir: string;
  let sourceList: { rows: import('../dataset/source-manifest').SourceRow[]; listText: string } | undefined;
  let folders: FolderScan[] = [];
  let limits: { limitPerGenerator?: number; limitReal?: number } = {};
  let description: string;
  if (source.kind === 'folders') {
    hooks.onProgress?.('checking', 0, null, 'checking the chosen folders');
    const list = await sourcesFromFolders(
      { real: source.real, synthetic: source.synthetic, maxImagesPerFolder: source.maxImagesPerFolder, seed },
      { signal: hooks.signal, onProgress: (done, _t, file) => hooks.onProgress?.('checking', done, null, `checked ${path.basename(file)}`) },
    );
    sourcesDir = list.root;
    sourceList = { rows: list.rows, listText: list.listText };
    folders = list.folders;
    description = `${list.folders.length} labelled folders: ${list.folders
      .map((f) => `${path.basename(f.path)}/ (${f.images} ${f.label}${f.label === 'synthetic' ? `, ${f.generator}` : ''})`)
      .join(', ')}`;
  } else {
    const dir = source.sourcesDir ?? bundledSourcesDir();
    if (!dir) throw new DatasetBuildError('SOURCES_NOT_FOUND', 'The bundled training sources (../shared/datasets with MANIFEST.csv) are not installed here; choose labelled folders instead');
    sourcesDir = path.resolve(dir);
    limits = { limitPerGenerator: source.limitPerGenerator, limitReal: source.limitReal };
    description = `bundled training sources ${sourcesDir}${source.limitPerGenerator ? `, at most ${source.limitPerGenerator} per generator` : ''}${source.limitReal ? `, at most ${source.limitReal} real photographs` : ''}`;
  }

  const selection = JSON.stringify({ source, seed, list: sourceList ? createHash('sha256').update(sourceList.listText).digest('hex') : null });
  const id = `ds-${createHash('sha256').update(selection).digest('hex').slice(0, 12)}`;
  const outDir = path.join(labDatasetsDir(dataDir), id);
  const onProgress = (p: DatasetProgress) => {
    if (p.phase === 'reading') hooks.onProgress?.('reading', p.done, p.total, `reading sources ${p.done}/${p.total}`);
    else if (p.phase === 'images') hooks.onProgress?.('images', p.done, p.total, `crops from ${p.done}/${p.total} sources (${p.written} written, ${p.reused} reused)`);
  };
  const built = await buildDataset({
    sourcesDir,
    outDir,
    seed,
    ...limits,
    // Labelled folders usually hold one or two generators: split each by its item counts instead.
    ...(sourceList ? { sourceList, generatorCoverage: false } : {}),
    signal: hooks.signal,
    onProgress,
  });

  const { splits, generators } = summariseSplits(built.manifest.items);
  const problems = evaluabilityProblems(splits);
  if (problems.length > 0) {
    // The crops stay cached, but without a manifest nothing can train on this split.
    await fsp.rm(path.join(outDir, DATASET_MANIFEST_FILE), { force: true });
    throw new DatasetBuildError(
      'DATASET_NOT_EVALUABLE',
      `This dataset cannot train an evaluable model: ${problems.join('; ')}. Add images (more source images per class) and build again.`,
    );
  }
  const summary: LabDatasetSummary = {
    id,
    dir: outDir,
    createdAt: new Date().toISOString(),
    source: source.kind,
    description,
    items: built.items,
    splits,
    generators,
    folders: folders.map((f) => ({ ...f, skipped: f.skipped.slice(0, MAX_SKIPPED_LISTED), skippedTotal: f.skipped.length })),
    written: built.written,
    reused: built.reused,
  };
  if (sourceList) await writeAtomic(path.join(outDir, 'sources.csv'), sourceList.listText);
  await writeAtomic(path.join(outDir, LAB_DATASET_FILE), JSON.stringify(summary, null, 2) + '\n');
  return summary;
}

export async function listLabDatasets(dataDir: string): Promise<LabDatasetSummary[]> {
  const dir = labDatasetsDir(dataDir);
  let names: string[] = [];
  try {
    names = await fsp.readdir(dir);
  } catch {
    return [];
  }
  const out: LabDatasetSummary[] = [];
  for (const name of names) {
    const file = path.join(dir, name, LAB_DATASET_FILE);
    if (!fs.existsSync(file) || !fs.existsSync(path.join(dir, name, DATASET_MANIFEST_FILE))) continue;
    try {
      out.push(JSON.parse(await fsp.readFile(file, 'utf8')) as LabDatasetSummary);
    } catch {
      // A summary that cannot be read is not offered; the dataset folder itself is left alone.
    }
  }
  return out.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
}

async function writeAtomic(file: string, text: string): Promise<void> {
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  const handle = await fsp.open(tmp, 'w');
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fsp.rename(tmp, file);
}
