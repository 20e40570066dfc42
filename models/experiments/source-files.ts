// The source files of ../shared/datasets (MANIFEST.csv) as items, read whole: what the engine
// scores, and what an operating point is fitted on out of fold.
import fs from 'node:fs';
import path from 'node:path';
import { parseSourceManifest, sourceKeyOf } from '../../electron/services/dataset/source-manifest';
import type { DatasetItem } from '../../electron/services/training/dataset-items';

export interface SourceFile {
  id: string;
  file: string;
  label: 0 | 1;
  generator: string;
  modality: string;
  sourceKey: string;
}

export function readSourceFiles(sourcesDir: string): SourceFile[] {
  return parseSourceManifest(fs.readFileSync(path.join(sourcesDir, 'MANIFEST.csv'), 'utf8')).map((r) => ({
    id: `src-${r.path.replace(/[^A-Za-z0-9._-]/g, '_')}`,
    file: path.join(sourcesDir, r.path),
    label: r.label === 'synthetic' ? 1 : 0,
    generator: r.generator,
    modality: r.modality,
    sourceKey: sourceKeyOf(r.source),
  }));
}

export function asTestItems(list: readonly SourceFile[]): DatasetItem[] {
  return list.map((s) => ({ id: s.id, file: s.file, split: 'test', label: s.label, modality: s.modality, generator: s.generator, sourceKey: s.sourceKey }));
}
