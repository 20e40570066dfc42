// Per-generator and per-modality metrics: the paper's Tables 4 and 5.
import { computeBinaryMetrics, MetricsInputError, type BinaryMetrics } from './metrics';
import { generatorBalancedWeights } from './sample-weights';

export interface ScoredItem {
  /** 1 = synthetic, 0 = real. */
  label: number;
  /** p(synthetic). */
  score: number;
  generator: string;
  modality: string;
  /** Optional explicit weight; used only when the options ask for weighting "given". */
  weight?: number;
}

export type GroupKey = 'generator' | 'modality';

export interface GroupMetrics {
  group: string;
  by: GroupKey;
  /** Which class the group's own images belong to. */
  groupClass: 'synthetic' | 'real';
  /** Images of this group, plus (for a synthetic group) the real images it was scored against. */
  groupCount: number;
  realCount: number;
  metrics: BinaryMetrics;
}

export interface GroupedMetricsOptions {
  by: GroupKey;
  threshold: number;
  /**
   * none: every image counts once. generator-balanced: generatorBalancedWeights over each group's
   * evaluation set. given: the items' own weight fields.
   */
  weighting?: 'none' | 'generator-balanced' | 'given';
}

/**
 * One row per generator (or modality). A synthetic group is evaluated on its own images TOGETHER
 * WITH ALL REAL IMAGES of the split: a generator's images alone are one class, so ROC-AUC, AP,
 * precision and FPR only exist against the real images it has to be told apart from (this is how
 * the paper's per-generator tables can report AUC). The real group ("none" / "photo") is evaluated
 * on the real images alone, so only accuracy (= specificity) and FPR are defined for it.
 */
export function computeGroupedMetrics(items: readonly ScoredItem[], options: GroupedMetricsOptions): GroupMetrics[] {
  if (options.by !== 'generator' && options.by !== 'modality') {
    throw new MetricsInputError('BAD_OPTIONS', `Cannot group by "${String(options.by)}" (use generator or modality)`);
  }
  const weighting = options.weighting ?? 'none';
  if (!['none', 'generator-balanced', 'given'].includes(weighting)) {
    throw new MetricsInputError('BAD_OPTIONS', `Unknown weighting "${weighting}"`);
  }
  if (items.length === 0) throw new MetricsInputError('EMPTY', 'No samples to evaluate');
  const real = items.filter((item) => item.label === 0);
  const groups = new Map<string, { cls: 'synthetic' | 'real'; items: ScoredItem[] }>();
  for (const [i, item] of items.entries()) {
    if (item.label !== 0 && item.label !== 1) {
      throw new MetricsInputError('BAD_LABEL', `Item ${i} has label ${item.label}; labels must be 0 (real) or 1 (synthetic)`);
    }
    const key = item[options.by];
    const cls = item.label === 1 ? 'synthetic' : 'real';
    const groupId = `${cls}\u0000${key}`;
    let group = groups.get(groupId);
    if (!group) groups.set(groupId, (group = { cls, items: [] }));
    group.items.push(item);
  }
  const rows: GroupMetrics[] = [];
  for (const [groupId, group] of groups) {
    const evalSet = group.cls === 'synthetic' ? [...group.items, ...real] : group.items;
    let weights: number[] | undefined;
    if (weighting === 'generator-balanced') weights = generatorBalancedWeights(evalSet);
    if (weighting === 'given') {
      weights = evalSet.map((item, i) => {
        if (item.weight === undefined) throw new MetricsInputError('BAD_WEIGHT', `Item ${i} of group ${groupId.split('\u0000')[1]} has no weight`);
        return item.weight;
      });
    }
    rows.push({
      group: groupId.split('\u0000')[1],
      by: options.by,
      groupClass: group.cls,
      groupCount: group.items.length,
      realCount: group.cls === 'synthetic' ? real.length : group.items.length,
      metrics: computeBinaryMetrics(
        evalSet.map((item) => item.label),
        evalSet.map((item) => item.score),
        { threshold: options.threshold, weights },
      ),
    });
  }
  // Real rows first, then synthetic groups by name: stable tables for reports and diffs.
  return rows.sort((a, b) => (a.groupClass === b.groupClass ? a.group.localeCompare(b.group) : a.groupClass === 'real' ? -1 : 1));
}
