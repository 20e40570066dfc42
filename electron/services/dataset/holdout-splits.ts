// Leave-one-generator-out and leave-one-modality-out splits. Validation on seen generators rewards
// learning those generators' content; these splits measure what predicts the next generator.
import { generatorBalancedWeights } from '../evaluation/sample-weights';
import { DatasetBuildError } from './dataset-errors';
import type { DatasetItem } from './dataset-manifest';

export interface HoldoutGroup {
  name: string;
  items: number;
  /** Generators of a modality, or the modality of a generator. */
  members: string[];
}

export interface HoldoutGroups {
  generators: HoldoutGroup[];
  modalities: HoldoutGroup[];
}

/** The synthetic generators and modalities that can be held out, with their item counts. */
export function listHoldoutGroups(items: readonly DatasetItem[]): HoldoutGroups {
  const generators = new Map<string, { items: number; members: Set<string> }>();
  const modalities = new Map<string, { items: number; members: Set<string> }>();
  for (const item of items) {
    if (item.label !== 'synthetic') continue;
    const g = generators.get(item.generator) ?? { items: 0, members: new Set() };
    g.items++;
    g.members.add(item.modality);
    generators.set(item.generator, g);
    const m = modalities.get(item.modality) ?? { items: 0, members: new Set() };
    m.items++;
    m.members.add(item.generator);
    modalities.set(item.modality, m);
  }
  const list = (map: Map<string, { items: number; members: Set<string> }>) =>
    [...map.entries()].map(([name, v]) => ({ name, items: v.items, members: [...v.members].sort() })).sort((a, b) => a.name.localeCompare(b.name));
  return { generators: list(generators), modalities: list(modalities) };
}

export interface HoldoutSplit {
  heldOut: { by: 'generator' | 'modality'; value: string };
  train: DatasetItem[];
  val: DatasetItem[];
  /** The held-out synthetic items and the real items of the original test split. */
  test: DatasetItem[];
  /**
   * Synthetic items of the other generators that were in the original test split: left out so that
   * the test set measures only the unseen generator (or modality).
   */
  excluded: DatasetItem[];
}

/**
 * Moves every synthetic item of one generator or modality into test and keeps it out of train and
 * val; real items and the other synthetic items keep their split (which already keeps sources and
 * README groups apart). Sample weights are recomputed per resulting split.
 */
export function makeHoldoutSplit(items: readonly DatasetItem[], heldOut: { generator: string } | { modality: string }): HoldoutSplit {
  const by: 'generator' | 'modality' = 'generator' in heldOut ? 'generator' : 'modality';
  const value = 'generator' in heldOut ? heldOut.generator : heldOut.modality;
  const isHeldOut = (item: DatasetItem) => item.label === 'synthetic' && item[by] === value;
  if (!items.some(isHeldOut)) {
    throw new DatasetBuildError('BAD_OPTIONS', `No synthetic items with ${by} "${value}" to hold out`);
  }
  const out: HoldoutSplit = { heldOut: { by, value }, train: [], val: [], test: [], excluded: [] };
  for (const item of items) {
    if (isHeldOut(item)) out.test.push({ ...item, split: 'test' });
    else if (item.split === 'test' && item.label === 'synthetic') out.excluded.push(item);
    else out[item.split].push({ ...item });
  }
  for (const split of ['train', 'val', 'test'] as const) {
    const weights = generatorBalancedWeights(out[split].map((i) => ({ label: i.target, generator: i.generator })));
    out[split].forEach((item, i) => (item.sampleWeight = weights[i]));
  }
  if (!out.train.some((i) => i.label === 'synthetic')) {
    throw new DatasetBuildError('BAD_OPTIONS', `Holding out ${by} "${value}" leaves no synthetic items to train on`);
  }
  return out;
}
