// Assigning whole split units (sources, README groups) to train/val/test, and deciding how many
// crops each real photo gives. Everything is a pure function of the rows and the seed.
import { createHash } from 'node:crypto';
import { createRng } from '../common/seeded-random';
import { realCollectionOf, splitUnitOf, type SourceRow } from './source-manifest';

export const SPLITS = ['train', 'val', 'test'] as const;
export type SplitName = (typeof SPLITS)[number];

export interface SplitFractions {
  train: number;
  val: number;
  test: number;
}

/** A 32-bit seed from any strings, so every random stream is tied to what it is for, not to order. */
export function seedFrom(...parts: Array<string | number>): number {
  return createHash('sha256').update(parts.join('\u0000')).digest().readUInt32BE(0);
}

export interface SplitUnit {
  id: string;
  label: SourceRow['label'];
  /** Real: photo collection; synthetic: generator. Splits are balanced within each stratum first. */
  stratum: string;
  rows: SourceRow[];
}

export function groupIntoUnits(rows: readonly SourceRow[]): SplitUnit[] {
  const units = new Map<string, SplitUnit>();
  for (const row of rows) {
    const id = splitUnitOf(row);
    let unit = units.get(id);
    if (!unit) {
      const stratum = row.label === 'real' ? realCollectionOf(row) : row.generator;
      units.set(id, (unit = { id, label: row.label, stratum, rows: [] }));
    } else if (unit.label !== row.label) {
      // A unit never mixes classes in the shared set; if a manifest ever did, keep it whole anyway.
      unit.stratum = `${unit.stratum}+${row.label}`;
    }
    unit.rows.push(row);
  }
  return [...units.values()];
}

function shuffleInPlace<T>(items: T[], rng: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

/**
 * Keeps at most `perGenerator` synthetic rows of each generator and `real` real rows, taking whole
 * units in a seeded random order (the last unit may be cut short, which still keeps it in one split).
 */
export function limitRows(rows: readonly SourceRow[], seed: number, limits: { perGenerator?: number; real?: number }): SourceRow[] {
  if (limits.perGenerator === undefined && limits.real === undefined) return [...rows];
  const byPool = new Map<string, SplitUnit[]>();
  for (const unit of groupIntoUnits(rows)) {
    const pool = unit.label === 'real' ? 'real' : `synthetic:${unit.rows[0].generator}`;
    byPool.set(pool, [...(byPool.get(pool) ?? []), unit]);
  }
  const kept = new Set<SourceRow>();
  for (const [pool, units] of byPool) {
    const limit = pool === 'real' ? limits.real : limits.perGenerator;
    const ordered = shuffleInPlace([...units].sort((a, b) => a.id.localeCompare(b.id)), createRng(seedFrom(seed, 'limit', pool)));
    let taken = 0;
    for (const unit of ordered) {
      for (const row of unit.rows) {
        if (limit !== undefined && taken >= limit) break;
        kept.add(row);
        taken++;
      }
    }
  }
  return rows.filter((row) => kept.has(row));
}

/**
 * Whole units to splits, per class. Units are placed largest first; each goes to the split with
 * the largest relative shortfall within its stratum plus the largest relative shortfall of its
 * class (items and, for synthetic, generators), so a generator with several sources is spread over
 * the splits and generators with a single sheet are spread between splits by the class totals.
 * Ties are broken by a seeded draw weighted by the target fractions.
 */
export function assignSplits(
  units: readonly SplitUnit[],
  fractions: SplitFractions,
  seed: number,
  // Spreading generators over the splits suits many generators (the shared set has 39); with a few
  // (labelled folders: often one or two) the term outweighs the item counts and puts nearly every
  // file in train, so the model lab turns it off.
  options: { generatorCoverage?: boolean } = {},
): Map<string, SplitName> {
  const assignment = new Map<string, SplitName>();
  for (const label of ['real', 'synthetic'] as const) {
    const classUnits = units.filter((u) => u.label === label).sort((a, b) => a.id.localeCompare(b.id));
    const rng = createRng(seedFrom(seed, 'split', label));
    shuffleInPlace(classUnits, rng);
    classUnits.sort((a, b) => b.rows.length - a.rows.length);
    const classTotal = classUnits.reduce((s, u) => s + u.rows.length, 0);
    const strataTotals = new Map<string, number>();
    for (const u of classUnits) strataTotals.set(u.stratum, (strataTotals.get(u.stratum) ?? 0) + u.rows.length);
    const generatorsTotal = strataTotals.size;
    const classCount: Record<SplitName, number> = { train: 0, val: 0, test: 0 };
    const stratumCount = new Map<string, Record<SplitName, number>>();
    const stratumSplits: Record<SplitName, Set<string>> = { train: new Set(), val: new Set(), test: new Set() };
    for (const unit of classUnits) {
      const counts = stratumCount.get(unit.stratum) ?? { train: 0, val: 0, test: 0 };
      stratumCount.set(unit.stratum, counts);
      const stratumTotal = strataTotals.get(unit.stratum) as number;
      let best: SplitName[] = [];
      let bestScore = -Infinity;
      for (const split of SPLITS) {
        const f = fractions[split];
        if (f <= 0) continue;
        const relative = (target: number, have: number) => (target - have) / target;
        let score = relative(f * stratumTotal, counts[split]) + relative(f * classTotal, classCount[split]);
        if (label === 'synthetic' && options.generatorCoverage !== false) score += relative(f * generatorsTotal, stratumSplits[split].size);
        if (score > bestScore + 1e-9) {
          best = [split];
          bestScore = score;
        } else if (Math.abs(score - bestScore) <= 1e-9) best.push(split);
      }
      let chosen = best[0];
      if (best.length > 1) {
        const total = best.reduce((s, b) => s + fractions[b], 0);
        let u = rng() * total;
        for (const b of best) {
          u -= fractions[b];
          if (u < 0) {
            chosen = b;
            break;
          }
        }
      }
      assignment.set(unit.id, chosen);
      counts[chosen] += unit.rows.length;
      classCount[chosen] += unit.rows.length;
      stratumSplits[chosen].add(unit.stratum);
    }
  }
  return assignment;
}

export interface RealCropRequest {
  row: SourceRow;
  /** Size after EXIF orientation. */
  width: number;
  height: number;
}

/**
 * How many 256×256 crops each real photo of one split gives. `target` crops are shared in
 * proportion to sqrt(area) (large photos more), at least one per photo, at most `maxPerImage` and
 * at most about one crop per 256×256 of source area, so small photos are not cropped over and over.
 * Largest-remainder rounding keeps the total at the target where the caps allow.
 */
export function allocateRealCrops(photos: readonly RealCropRequest[], target: number, maxPerImage: number): number[] {
  if (photos.length === 0) return [];
  const caps = photos.map((p) => Math.max(1, Math.min(maxPerImage, Math.floor((p.width * p.height) / (256 * 256)))));
  const weights = photos.map((p) => Math.sqrt(p.width * p.height));
  const weightSum = weights.reduce((s, w) => s + w, 0);
  const ideal = weights.map((w) => (target * w) / weightSum);
  const counts = ideal.map((x, i) => Math.min(caps[i], Math.max(1, Math.floor(x))));
  let remaining = target - counts.reduce((s, c) => s + c, 0);
  // Hand out what is left by largest remainder, repeatedly, until the target or every cap is reached.
  while (remaining > 0) {
    const order = photos
      .map((_, i) => i)
      .filter((i) => counts[i] < caps[i])
      .sort((a, b) => ideal[b] - counts[b] - (ideal[a] - counts[a]) || a - b);
    if (order.length === 0) break;
    for (const i of order) {
      if (remaining === 0) break;
      counts[i]++;
      remaining--;
    }
  }
  return counts;
}
