// Sample weights that make each generator count equally. The shared sources have sheets with
// dozens of small tiles from one generator (bicyclegan alone has 64), so unweighted training and
// metrics would mostly measure those few generators.
import { MetricsInputError } from './metrics';

export interface WeightableItem {
  /** 1 = synthetic, 0 = real. */
  label: number;
  generator: string;
}

/**
 * Weights with mean 1 over the items given (call once per split):
 * - the two classes get equal total weight (n / 2 each) when both are present;
 * - within the synthetic class every generator gets the same total weight, shared equally by its items;
 * - real items (generator "none") share the real class's weight equally, one crop one share.
 * A set with one class gives that class weight 1 per generator-share in the same way.
 */
export function generatorBalancedWeights(items: readonly WeightableItem[]): number[] {
  if (items.length === 0) return [];
  const perGenerator = new Map<string, number>();
  let realCount = 0;
  for (const [i, item] of items.entries()) {
    if (item.label !== 0 && item.label !== 1) {
      throw new MetricsInputError('BAD_LABEL', `Item ${i} has label ${item.label}; labels must be 0 (real) or 1 (synthetic)`);
    }
    if (item.label === 1) perGenerator.set(item.generator, (perGenerator.get(item.generator) ?? 0) + 1);
    else realCount++;
  }
  const syntheticCount = items.length - realCount;
  const classes = (realCount > 0 ? 1 : 0) + (syntheticCount > 0 ? 1 : 0);
  const classTotal = items.length / classes;
  const generators = perGenerator.size;
  return items.map((item) =>
    item.label === 1 ? classTotal / generators / (perGenerator.get(item.generator) as number) : classTotal / realCount,
  );
}
