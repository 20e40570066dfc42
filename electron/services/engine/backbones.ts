// Reads models/backbones/manifest.json, written by the backbone build (models/build-backbones.ts).
import fs from 'node:fs';
import path from 'node:path';
import { parseNormalisation, type Normalisation } from './preprocess';

export interface BackboneEntry {
  name: string;
  /** File name inside models/backbones/. */
  file: string;
  sha256: string;
  inputSize: number;
  normalisation: unknown;
  featureLayer: string;
  /** [h, w, c] of the feature map. */
  featureShape: number[];
  shipped?: boolean;
  [key: string]: unknown;
}

export function backbonesDir(repoRoot: string): string {
  return path.join(repoRoot, 'models', 'backbones');
}

/** Accepts {backbones: [...]}, a plain array, or an object keyed by backbone name. */
export function readBackboneManifest(repoRoot: string): BackboneEntry[] {
  const file = path.join(backbonesDir(repoRoot), 'manifest.json');
  if (!fs.existsSync(file)) {
    throw new Error(`No backbone manifest at ${file}: build the backbones first (npx tsx models/build-backbones.ts)`);
  }
  const raw = JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
  const list: unknown[] = Array.isArray(raw)
    ? raw
    : raw && typeof raw === 'object' && Array.isArray((raw as { backbones?: unknown }).backbones)
      ? ((raw as { backbones: unknown[] }).backbones)
      : Object.entries((raw as Record<string, unknown>) ?? {}).map(([name, v]) => ({ name, ...(v as object) }));
  return list.map((v, i) => {
    const e = v as Partial<BackboneEntry>;
    if (typeof e.name !== 'string' || typeof e.file !== 'string' || typeof e.inputSize !== 'number' || !Array.isArray(e.featureShape)) {
      throw new Error(`${file}: entry ${i} lacks name, file, inputSize or featureShape`);
    }
    return e as BackboneEntry;
  });
}

export function findBackbone(repoRoot: string, name: string): BackboneEntry & { path: string; norm: Normalisation } {
  const entry = readBackboneManifest(repoRoot).find((b) => b.name === name);
  if (!entry) throw new Error(`Backbone ${name} is not in ${path.join(backbonesDir(repoRoot), 'manifest.json')}`);
  return { ...entry, path: path.join(backbonesDir(repoRoot), entry.file), norm: parseNormalisation(entry.normalisation) };
}
