// Platt scaling recovers a known logistic link, and the fitted operating point meets its stated
// false-positive rate per held-out collection weighting and its false-negative floor.
import { describe, expect, it } from 'vitest';
import { createRng } from '../../electron/services/common/seeded-random';
import { calibrateScore } from '../../electron/services/engine/operating-point';
import { fitOperatingPoint, fitOperatingPointForCollections, fitPlatt, groupBalancedWeights, type OutOfFoldScore } from '../../electron/services/training/operating-point-fit';

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

describe('operating point fit', () => {
  it('recovers a and b of a logistic link', () => {
    const rng = createRng(3);
    const scores: OutOfFoldScore[] = [];
    for (let i = 0; i < 20000; i++) {
      const z = rng() * 8 - 4;
      scores.push({ label: rng() < sigmoid(2 * z - 0.5) ? 1 : 0, group: 'g', score: sigmoid(z) });
    }
    const c = fitPlatt(scores, scores.map(() => 1));
    expect(c.a).toBeCloseTo(2, 1);
    expect(c.b).toBeCloseTo(-0.5, 1);
  });

  it('converges on an overconfident head whose scores saturate (logits near ±16), instead of running off', () => {
    // What a head on 1,936 pooled features gave out of fold: most logits far from 0, some clipped at
    // p = 1, and the true link much flatter (a ≈ 0.2). A full Newton step from a = 1 overshoots.
    const rng = createRng(11);
    const scores: OutOfFoldScore[] = [];
    for (let i = 0; i < 2000; i++) {
      const z = rng() * 36 - 18;
      scores.push({ label: rng() < sigmoid(0.2 * z + 0.3) ? 1 : 0, group: i % 2 ? 'g1' : 'g2', score: Number(sigmoid(z).toFixed(6)) });
    }
    const c = fitPlatt(scores);
    expect(Number.isFinite(c.a) && Number.isFinite(c.b)).toBe(true);
    expect(c.a).toBeGreaterThan(0.1);
    expect(c.a).toBeLessThan(0.35);
    expect(Math.abs(c.b)).toBeLessThan(1);
  });

  it('weighs every group equally within its class', () => {
    const w = groupBalancedWeights([
      { label: 0, group: 'a', score: 0.1 },
      { label: 0, group: 'a', score: 0.2 },
      { label: 0, group: 'b', score: 0.3 },
      { label: 1, group: 'x', score: 0.9 },
    ]);
    expect(w).toEqual([0.25, 0.25, 0.5, 1]);
  });

  it('meets the target false-positive rate and the false-negative floor on the scores it was fitted to', () => {
    const rng = createRng(5);
    const scores: OutOfFoldScore[] = [];
    // Two real collections of different sizes and difficulty, three generators.
    for (let i = 0; i < 400; i++) scores.push({ label: 0, group: 'faces', score: sigmoid(rng() * 4 - 1) });
    for (let i = 0; i < 100; i++) scores.push({ label: 0, group: 'wallpapers', score: sigmoid(rng() * 4 - 3) });
    for (const [g, shift] of [['gan', 2], ['diffusion', 0], ['flow', 1]] as const) for (let i = 0; i < 150; i++) scores.push({ label: 1, group: g, score: sigmoid(rng() * 4 - 2 + shift) });
    const op = fitOperatingPoint(scores, { targetFpr: 0.05, maxFnr: 0.1 });
    const cal = scores.map((s) => calibrateScore(s.score, op.calibration));
    const w = groupBalancedWeights(scores);
    const share = (label: 0 | 1, pred: (p: number) => boolean) => {
      let num = 0;
      let den = 0;
      scores.forEach((s, i) => {
        if (s.label !== label) return;
        den += w[i];
        if (pred(cal[i])) num += w[i];
      });
      return num / den;
    };
    expect(share(0, (p) => p >= op.threshold)).toBeLessThanOrEqual(0.05);
    expect(share(1, (p) => p < op.band.low)).toBeLessThanOrEqual(0.1);
    expect(op.band.low).toBeLessThanOrEqual(op.band.high);
    expect(op.band.high).toBe(op.threshold);
    expect(op.overall.realCalledSynthetic).toBeCloseTo(share(0, (p) => p >= op.threshold), 12);
    expect(op.byRealSource.map((r) => r.group)).toEqual(['faces', 'wallpapers']);
    for (const r of [...op.byRealSource, ...op.bySyntheticGroup]) expect(r.synthetic + r.inconclusive + r.real).toBeCloseTo(1, 12);
  });

  /** Two easy real collections, one whose scores sit `hardShift` higher in logit, and one generator. */
  function threeCollections(hardShift: number): OutOfFoldScore[] {
    const rng = createRng(9);
    const scores: OutOfFoldScore[] = [];
    for (const [group, n, shift] of [['easy', 300, -4], ['medium', 300, -3], ['hard', 100, hardShift]] as const) {
      for (let i = 0; i < n; i++) scores.push({ label: 0, group, score: sigmoid(rng() * 4 + shift) });
    }
    for (let i = 0; i < 300; i++) scores.push({ label: 1, group: 'gan', score: sigmoid(rng() * 4) });
    return scores;
  }

  it('caps every collection\'s false-positive rate when asked, and reports each collection under a threshold chosen without it', () => {
    // "hard" is a collection the pooled 5 % lets through at far more than 10 %.
    const scores = threeCollections(-1);
    const pooled = fitOperatingPoint(scores, { targetFpr: 0.05, maxFnr: 0.1 });
    const capped = fitOperatingPoint(scores, { targetFpr: 0.05, maxFnr: 0.1, maxCollectionFpr: 0.1 });
    const hard = (op: typeof pooled) => op.byRealSource.find((r) => r.group === 'hard')!.synthetic;
    expect(hard(pooled)).toBeGreaterThan(0.1);
    expect(capped.threshold).toBeGreaterThan(pooled.threshold);
    for (const r of capped.byRealSource) expect(r.synthetic).toBeLessThanOrEqual(0.1);
    // Without "hard", the rule sees only the two easy collections and lets more of "hard" through.
    const lococ = capped.leaveOneCollectionOut.find((r) => r.group === 'hard')!;
    expect(lococ.threshold).toBeLessThan(capped.threshold);
    const cal = scores.map((s) => calibrateScore(s.score, capped.calibration));
    const own = scores.map((s, i) => (s.group === 'hard' ? cal[i] : NaN)).filter((p) => !Number.isNaN(p));
    expect(lococ.fpr).toBeCloseTo(own.filter((p) => p >= lococ.threshold).length / own.length, 12);
    expect(lococ.fpr).toBeGreaterThan(0.1);
    expect(capped.leaveOneCollectionOut.map((r) => r.group)).toEqual(['easy', 'hard', 'medium']);
    // No cap makes "hard" pass when judged without it: the tightest (1 %) is returned, and its check shows the miss.
    const unreachable = fitOperatingPointForCollections(scores, { targetFpr: 0.05, maxFnr: 0.1, collectionFpr: 0.1 });
    expect(unreachable.maxCollectionFpr).toBe(0.01);
    expect(Math.max(...unreachable.leaveOneCollectionOut.map((r) => r.fpr))).toBeGreaterThan(0.1);
    expect(() => fitOperatingPointForCollections(scores, { targetFpr: 0.05, maxFnr: 0.1, collectionFpr: Number.NaN })).toThrow(RangeError);
    expect(() => fitOperatingPointForCollections(scores, { targetFpr: 0.05, maxFnr: 0.1, collectionFpr: 0.001 })).toThrow(RangeError);
    expect(() => fitOperatingPoint(scores, { targetFpr: 0.05, maxFnr: 0.1, maxCollectionFpr: 1.5 })).toThrow(RangeError);
  });

  it('lowers the per-collection cap until every collection, judged by a threshold chosen without it, stays within the target', () => {
    const scores = threeCollections(-2.7);
    const at10 = fitOperatingPoint(scores, { targetFpr: 0.05, maxFnr: 0.1, maxCollectionFpr: 0.1 });
    expect(Math.max(...at10.leaveOneCollectionOut.map((r) => r.fpr))).toBeGreaterThan(0.1);
    const chosen = fitOperatingPointForCollections(scores, { targetFpr: 0.05, maxFnr: 0.1, collectionFpr: 0.1 });
    expect(chosen.maxCollectionFpr).toBeLessThan(0.1);
    for (const r of chosen.leaveOneCollectionOut) expect(r.fpr).toBeLessThanOrEqual(0.1);
    expect(chosen.threshold).toBeGreaterThan(at10.threshold);
    // The loosest cap that passes: one step looser fails the check.
    const looser = fitOperatingPoint(scores, { targetFpr: 0.05, maxFnr: 0.1, maxCollectionFpr: Math.round((chosen.maxCollectionFpr as number) * 100 + 1) / 100 });
    expect(Math.max(...looser.leaveOneCollectionOut.map((r) => r.fpr))).toBeGreaterThan(0.1);
  });
});
