// Calibration and the three-way verdict that the engine applies to every score.
import { describe, expect, it } from 'vitest';
import { aggregateCropScores, cropBoxes } from '../../electron/services/engine/multi-crop';
import { calibrateScore, inferenceOf, operatingPointOf, verdictFor } from '../../electron/services/engine/operating-point';

describe('operating point', () => {
  it('applies Platt scaling in the logit and leaves scores alone without it', () => {
    expect(calibrateScore(0.7)).toBe(0.7);
    const logit = Math.log(0.7 / 0.3);
    expect(calibrateScore(0.7, { method: 'platt', a: 0.5, b: -1 })).toBeCloseTo(1 / (1 + Math.exp(-(0.5 * logit - 1))), 12);
    // Temperature scaling has no offset, so 0.5 stays 0.5.
    expect(calibrateScore(0.5, { method: 'temperature', a: 0.3, b: 7 })).toBeCloseTo(0.5, 12);
    // Monotone: calibration never reorders images.
    const xs = [0.01, 0.2, 0.5, 0.8, 0.99].map((p) => calibrateScore(p, { method: 'platt', a: 0.8, b: 0.3 }));
    expect([...xs].sort((a, b) => a - b)).toEqual(xs);
  });

  it('says synthetic at or above the threshold, inconclusive inside the band below it, real under it', () => {
    const op = { threshold: 0.7, band: { low: 0.4, high: 0.7 } };
    expect(verdictFor(0.7, op)).toBe('synthetic');
    expect(verdictFor(0.69, op)).toBe('inconclusive');
    expect(verdictFor(0.4, op)).toBe('inconclusive');
    expect(verdictFor(0.39, op)).toBe('real');
    expect(verdictFor(0.69, { threshold: 0.7 })).toBe('real');
  });

  it('reads the card, and an explicit threshold drops the band', () => {
    const card = { threshold: 0.6, inconclusiveBand: { low: 0.3, high: 0.6 }, calibration: { method: 'platt', a: 1, b: 0 } };
    expect(operatingPointOf(card)).toEqual({ threshold: 0.6, band: { low: 0.3, high: 0.6 }, calibration: { method: 'platt', a: 1, b: 0 } });
    expect(operatingPointOf(card, 0.9)).toEqual({ threshold: 0.9, calibration: { method: 'platt', a: 1, b: 0 } });
    expect(() => operatingPointOf({ threshold: 0.5, inconclusiveBand: { low: 0.8, high: 0.2 } })).toThrow(/low must not exceed high/);
    expect(inferenceOf({})).toEqual({ inputMode: 'resize' });
    expect(inferenceOf({ inference: { inputMode: 'crops', maxCrops: 5, aggregate: 'mean-logit' } })).toEqual({ inputMode: 'crops', maxCrops: 5, aggregate: 'mean-logit' });
  });
});

describe('multi-crop windows', () => {
  it('places the centre first and drops duplicate windows', () => {
    expect(cropBoxes(256, 256)).toEqual([{ left: 0, top: 0 }]);
    expect(cropBoxes(1256, 256)).toEqual([
      { left: 500, top: 0 },
      { left: 200, top: 0 },
      { left: 800, top: 0 },
    ]);
    expect(cropBoxes(1256, 1256)).toHaveLength(5);
    expect(cropBoxes(1256, 1256, 2)).toEqual([
      { left: 500, top: 500 },
      { left: 200, top: 200 },
    ]);
  });

  it('aggregates by mean logit or maximum', () => {
    expect(aggregateCropScores([0.5])).toBeCloseTo(0.5, 12);
    const l = (p: number) => Math.log(p / (1 - p));
    expect(aggregateCropScores([0.9, 0.2])).toBeCloseTo(1 / (1 + Math.exp(-(l(0.9) + l(0.2)) / 2)), 12);
    expect(aggregateCropScores([0.9, 0.2], 'max')).toBe(0.9);
    expect(aggregateCropScores([])).toBeNaN();
  });
});
