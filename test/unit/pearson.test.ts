import { describe, expect, it } from 'vitest';
import { pearsonCorrelation } from '../../electron/services/common/pearson';
import { spearman } from '../../electron/services/explainers/map-utils';

describe('pearsonCorrelation', () => {
  it('is 1 and −1 for exact linear relations, and matches a direct computation', () => {
    expect(pearsonCorrelation([1, 2, 3, 4], [3, 5, 7, 9])).toBeCloseTo(1, 12);
    expect(pearsonCorrelation([1, 2, 3, 4], [8, 6, 4, 2])).toBeCloseTo(-1, 12);
    // x = 1..5, y = [2, 1, 4, 3, 5]: cov 2, var 2 each → 0.8.
    expect(pearsonCorrelation([1, 2, 3, 4, 5], [2, 1, 4, 3, 5])).toBeCloseTo(0.8, 12);
  });

  it('is 0 when one side is constant and the caller’s value when both are; unequal lengths are refused', () => {
    expect(pearsonCorrelation([1, 1, 1], [1, 2, 3])).toBe(0);
    expect(pearsonCorrelation([2, 2], [5, 5])).toBe(0);
    expect(pearsonCorrelation([2, 2], [5, 5], 1)).toBe(1);
    expect(() => pearsonCorrelation([1, 2], [1, 2, 3])).toThrow(RangeError);
  });

  it('gives Spearman as the correlation of ranks (monotone but not linear → 1)', () => {
    expect(spearman([1, 2, 3, 4], [1, 8, 27, 64])).toBeCloseTo(1, 12);
    expect(spearman([1, 2, 3], [7, 7, 7])).toBe(0);
  });
});
