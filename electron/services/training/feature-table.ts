// Cached features of a whole dataset, addressable by item id, so that every split and every held-out
// fold is assembled from the same vectors without touching the backbone again.
import { generatorBalancedWeights } from '../evaluation/sample-weights';
import type { DatasetItem } from './dataset-items';
import { concatLayers, extractFeatures, type BackboneSpec, type FeatureExtractionProgress, type LayerSpec } from './feature-cache';
import type { FeatureSet } from './head-trainer';
import type { ViewName } from './image-views';
import { TrainingError } from './training-errors';

export interface FeatureTable {
  dim: number;
  layers: string[];
  index: Map<string, number>;
  /** view → n × dim, rows in `index` order. */
  views: Partial<Record<ViewName, Float32Array>>;
  extraction: { computed: number; cached: number; seconds: number };
}

export async function buildFeatureTable(
  items: readonly DatasetItem[],
  options: {
    backbone: BackboneSpec;
    layers: LayerSpec[];
    views: ViewName[];
    cacheDir: string;
    batchSize?: number;
    onProgress?: (p: FeatureExtractionProgress) => void;
    signal?: AbortSignal;
  },
): Promise<FeatureTable> {
  const unique = [...new Map(items.map((i) => [i.id, i])).values()];
  const r = await extractFeatures(unique, options);
  const keys = options.layers.map((l) => l.key);
  const views: Partial<Record<ViewName, Float32Array>> = {};
  let dim = 0;
  for (const v of options.views) {
    const c = concatLayers(r.features[v], r.dims, keys);
    views[v] = c.data;
    dim = c.dim;
  }
  return {
    dim,
    layers: keys,
    index: new Map(unique.map((it, i) => [it.id, i])),
    views,
    extraction: { computed: r.computed, cached: r.cached, seconds: r.seconds },
  };
}

export function gatherRows(table: FeatureTable, items: readonly DatasetItem[], view: ViewName): Float32Array {
  const src = table.views[view];
  if (!src) throw new TrainingError('BAD_FEATURES', `features for view ${view} were not extracted`);
  const d = table.dim;
  const out = new Float32Array(items.length * d);
  items.forEach((it, i) => {
    const row = table.index.get(it.id);
    if (row === undefined) throw new TrainingError('BAD_FEATURES', `no features for item ${it.id}`);
    out.set(src.subarray(row * d, (row + 1) * d), i * d);
  });
  return out;
}

/**
 * A labelled, generator-balanced feature set over the given views (views[0] is the plain one).
 * With `realGroupOf`, the real class is balanced too: each collection of real photographs gets the
 * same share of the real weight (so 150 faces do not outweigh 25 wallpapers' worth of evidence, or
 * the other way round).
 */
export function featureSetFor(table: FeatureTable, items: readonly DatasetItem[], views: readonly ViewName[], realGroupOf?: (item: DatasetItem) => string): FeatureSet {
  return {
    dim: table.dim,
    views: views.map((v) => gatherRows(table, items, v)),
    labels: Uint8Array.from(items.map((i) => i.label)),
    weights: Float32Array.from(realGroupOf ? sourceBalancedWeights(items, realGroupOf) : generatorBalancedWeights(items)),
  };
}

export function sourceBalancedWeights(items: readonly DatasetItem[], realGroupOf: (item: DatasetItem) => string): number[] {
  const w = generatorBalancedWeights(items);
  const counts = new Map<string, number>();
  for (const it of items) if (it.label === 0) counts.set(realGroupOf(it), (counts.get(realGroupOf(it)) ?? 0) + 1);
  const realTotal = items.reduce((s, it, i) => s + (it.label === 0 ? w[i] : 0), 0);
  return items.map((it, i) => (it.label === 0 ? realTotal / counts.size / (counts.get(realGroupOf(it)) as number) : w[i]));
}
