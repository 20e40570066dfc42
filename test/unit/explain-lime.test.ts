// SLIC, the weighted ridge regression and LIME itself, on a small pure-JS detector whose score is
// the redness of a known square.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExplainError } from '../../electron/services/explainers/explain-errors';
import type { ExplainInput, ExplainableModel, HeadParams } from '../../electron/services/explainers/explain-types';
import { explanationCacheKey, ExplanationCache } from '../../electron/services/explainers/explanation-cache';
import { globalAveragePool, headForward } from '../../electron/services/explainers/head-math';
import { LimeExplainer } from '../../electron/services/explainers/lime/lime-explainer';
import { createRng as seededRandom } from '../../electron/services/common/seeded-random';
import { slic } from '../../electron/services/explainers/lime/slic';
import { weightedRidge } from '../../electron/services/explainers/lime/weighted-ridge';
import { normaliseMap, resizeBilinear, spearman } from '../../electron/services/explainers/map-utils';
import { createExplainer, parseMethods } from '../../electron/services/explainers/explain-image';

const S = 32;

/** Features: per 4×4 block, mean redness (R − (G+B)/2, clipped at 0) and mean brightness. */
function rednessModel(): ExplainableModel {
  const head: HeadParams = {
    dense1: { kernel: new Float32Array([40, 0]), bias: new Float32Array([0]), units: 1 },
    bn: { gamma: new Float32Array([1]), beta: new Float32Array([0]), movingMean: new Float32Array([0]), movingVariance: new Float32Array([1]), epsilon: 0 },
    dense2: { kernel: new Float32Array([1]), bias: new Float32Array([-2]) },
  };
  const h = 8;
  const block = S / h;
  return {
    id: 'redness',
    sha256: '0'.repeat(64),
    inputSize: S,
    featureShape: [h, h, 2],
    featureLayer: 'blocks',
    head,
    shallowLayers: [],
    async predict(images, count) {
      const features = new Float32Array(count * h * h * 2);
      const pSynthetic = new Float32Array(count);
      for (let n = 0; n < count; n++) {
        const img = images.subarray(n * S * S * 3, (n + 1) * S * S * 3);
        const f = features.subarray(n * h * h * 2, (n + 1) * h * h * 2);
        for (let y = 0; y < S; y++) {
          for (let x = 0; x < S; x++) {
            const i = (y * S + x) * 3;
            const cell = (Math.floor(y / block) * h + Math.floor(x / block)) * 2;
            f[cell] += Math.max(0, img[i] - (img[i + 1] + img[i + 2]) / 2) / (block * block);
            f[cell + 1] += (img[i] + img[i + 1] + img[i + 2]) / 3 / (block * block);
          }
        }
        pSynthetic[n] = headForward(head, globalAveragePool({ height: h, width: h, channels: 2, data: f })).pSynthetic;
      }
      return { pSynthetic, features };
    },
    async layerGradients() {
      throw new ExplainError('EXPLAIN_LAYER_UNAVAILABLE', 'none');
    },
    async dispose() {},
  };
}

/** Grey noise with a red square at [12,20)×[8,16). */
function plantedInput(): ExplainInput {
  const r = seededRandom(9);
  const rgb01 = new Float32Array(S * S * 3);
  for (let y = 0; y < S; y++) {
    for (let x = 0; x < S; x++) {
      const i = (y * S + x) * 3;
      const g = 0.3 + 0.4 * r();
      const red = x >= 12 && x < 20 && y >= 8 && y < 16;
      rgb01[i] = red ? 0.9 : g;
      rgb01[i + 1] = red ? 0.1 : g;
      rgb01[i + 2] = red ? 0.1 : g;
    }
  }
  return { tensor: rgb01, rgb01, normalise: (x) => Float32Array.from(x), imageWidth: 64, imageHeight: 48 };
}

describe('SLIC', () => {
  it('gives connected superpixels near the requested count that respect a colour edge', () => {
    const input = plantedInput();
    const { labels, count } = slic(input.rgb01, S, S, { segments: 16 });
    expect(count).toBeGreaterThanOrEqual(8);
    expect(count).toBeLessThanOrEqual(32);
    expect(Math.max(...labels) + 1).toBe(count);
    // Each label is one 4-connected region.
    for (let k = 0; k < count; k++) {
      const cells = [...labels.keys()].filter((i) => labels[i] === k);
      const seen = new Set([cells[0]]);
      const stack = [cells[0]];
      while (stack.length) {
        const i = stack.pop()!;
        const x = i % S;
        for (const j of [x > 0 ? i - 1 : -1, x < S - 1 ? i + 1 : -1, i - S, i + S]) {
          if (j >= 0 && j < S * S && labels[j] === k && !seen.has(j)) {
            seen.add(j);
            stack.push(j);
          }
        }
      }
      expect(seen.size).toBe(cells.length);
    }
    // The red square's interior pixels are not mixed with grey ones in the same superpixel.
    const redLabels = new Set<number>();
    for (let y = 9; y < 15; y++) for (let x = 13; x < 19; x++) redLabels.add(labels[y * S + x]);
    let grey = 0;
    for (let i = 0; i < S * S; i++) {
      const x = i % S;
      const y = Math.floor(i / S);
      const red = x >= 12 && x < 20 && y >= 8 && y < 16;
      if (!red && redLabels.has(labels[i])) grey++;
    }
    expect(grey).toBeLessThan(8);
  });

  it('rejects a bad size or parameter with a typed error', () => {
    expect(() => slic(new Float32Array(10), 4, 4)).toThrow(expect.objectContaining({ code: 'EXPLAIN_BAD_INPUT' }));
    expect(() => slic(new Float32Array(S * S * 3), S, S, { segments: 0 })).toThrow(expect.objectContaining({ code: 'EXPLAIN_BAD_PARAMS' }));
  });
});

describe('weighted ridge', () => {
  it('recovers an exact linear model and ignores zero-weight samples', () => {
    const rows = 60;
    const cols = 4;
    const r = seededRandom(4);
    const X = Float64Array.from({ length: rows * cols }, () => (r() < 0.5 ? 0 : 1));
    const coef = [0.5, -0.25, 0, 1];
    const y = Float64Array.from({ length: rows }, (_, i) => 0.2 + coef.reduce((s, c, j) => s + c * X[i * cols + j], 0));
    const w = Float64Array.from({ length: rows }, (_, i) => (i % 10 === 0 ? 0 : 0.5 + r()));
    for (let i = 0; i < rows; i += 10) y[i] = 100; // outliers with zero weight
    const fit = weightedRidge(X, y, w, rows, cols, 1e-9);
    for (let j = 0; j < cols; j++) expect(fit.coef[j]).toBeCloseTo(coef[j], 6);
    expect(fit.intercept).toBeCloseTo(0.2, 6);
    expect(fit.r2).toBeCloseTo(1, 6);
  });

  it('shrinks towards zero as alpha grows', () => {
    const X = Float64Array.from([1, 0, 0, 1, 1, 1, 0, 0]);
    const y = Float64Array.from([1, 0, 1, 0]);
    const w = Float64Array.from([1, 1, 1, 1]);
    const small = weightedRidge(X, y, w, 4, 2, 0.01);
    const large = weightedRidge(X, y, w, 4, 2, 100);
    expect(Math.abs(large.coef[0])).toBeLessThan(Math.abs(small.coef[0]));
  });
});

describe('map utilities', () => {
  it('resizes, normalises and ranks', () => {
    const up = resizeBilinear([0, 1, 2, 3], 2, 2, 4, 4);
    expect(up[0]).toBeCloseTo(0, 6);
    expect(up[15]).toBeCloseTo(3, 6);
    expect(up[5]).toBeCloseTo(0.75, 6);
    expect(normaliseMap([2, 2, 2]).flat).toBe(true);
    expect(Array.from(normaliseMap([1, 3, 2]).values)).toEqual([0, 1, 0.5]);
    expect(spearman([1, 2, 3, 4], [10, 20, 30, 40])).toBeCloseTo(1, 12);
    expect(spearman([1, 2, 3, 4], [4, 3, 2, 1])).toBeCloseTo(-1, 12);
    expect(spearman([1, 1, 2, 2], [5, 5, 1, 1])).toBeCloseTo(-1, 12);
  });
});

describe('LIME', () => {
  const model = rednessModel();
  const input = plantedInput();

  it('puts its top superpixel on the red square and finds the peak there', async () => {
    // A flat red square hidden by its own mean colour would not change; hide with grey instead.
    const lime = new LimeExplainer(model, { samples: 400, segments: 16, hideColor: [0.5, 0.5, 0.5] });
    const e = await lime.explain(input, { class: 'synthetic' });
    expect(e.forwardPasses).toBe(400);
    const top = e.lime!.positive[0];
    let inside = 0;
    for (let y = 8; y < 16; y++) for (let x = 12; x < 20; x++) if (e.lime!.segments[y * S + x] === top) inside++;
    expect(inside).toBeGreaterThan(0);
    // Peak in original-image pixels (64×48 stretched from 32×32): the square is [24,40)×[12,24).
    expect(e.peak.x).toBeGreaterThanOrEqual(24);
    expect(e.peak.x).toBeLessThan(40);
    expect(e.peak.y).toBeGreaterThanOrEqual(12);
    expect(e.peak.y).toBeLessThan(24);
    // For p(real) the same superpixel argues against.
    const real = await lime.explain(input, { class: 'real' });
    expect(real.lime!.negative[0]).toBe(top);
  });

  it('gives the same explanation for the same seed and a different one for another seed', async () => {
    const a = await new LimeExplainer(model, { samples: 200, segments: 16, seed: 1 }).explain(input, { class: 'synthetic' });
    const b = await new LimeExplainer(model, { samples: 200, segments: 16, seed: 1 }).explain(input, { class: 'synthetic' });
    const c = await new LimeExplainer(model, { samples: 200, segments: 16, seed: 2 }).explain(input, { class: 'synthetic' });
    expect(Array.from(b.lime!.weights)).toEqual(Array.from(a.lime!.weights));
    expect(Array.from(c.lime!.weights)).not.toEqual(Array.from(a.lime!.weights));
  });

  it('rejects bad parameters and targets with typed errors', async () => {
    expect(() => new LimeExplainer(model, { samples: 1 })).toThrow(ExplainError);
    expect(() => new LimeExplainer(model, { kernelWidth: 0 })).toThrow(expect.objectContaining({ code: 'EXPLAIN_BAD_PARAMS' }));
    expect(() => new LimeExplainer(model, { hideColor: [2, 0, 0] })).toThrow(expect.objectContaining({ code: 'EXPLAIN_BAD_PARAMS' }));
    await expect(new LimeExplainer(model).explain(input, { class: 'fake' as 'real' })).rejects.toMatchObject({ code: 'EXPLAIN_BAD_PARAMS' });
    await expect(new LimeExplainer(model).explain({ ...input, tensor: new Float32Array(5) }, { class: 'real' })).rejects.toMatchObject({ code: 'EXPLAIN_BAD_INPUT' });
    expect(() => parseMethods('gradcam,shap')).toThrow(expect.objectContaining({ code: 'EXPLAIN_UNKNOWN_METHOD' }));
    expect(() => createExplainer('ablationcam', model, { ablationcam: { layer: 'other' } })).toThrow(expect.objectContaining({ code: 'EXPLAIN_LAYER_UNAVAILABLE' }));
    expect(() => createExplainer('scorecam', model, { scorecam: { topK: 0 } })).toThrow(expect.objectContaining({ code: 'EXPLAIN_BAD_PARAMS' }));
  });
});

describe('explanation cache', () => {
  it('round-trips a LIME explanation and misses on any changed key part', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'explain-cache-'));
    try {
      const model = rednessModel();
      const e = await new LimeExplainer(model, { samples: 50, segments: 16 }).explain(plantedInput(), { class: 'synthetic' });
      const cache = new ExplanationCache(dir);
      const parts = { imageSha256: 'a'.repeat(64), modelSha256: 'b'.repeat(64), method: 'lime' as const, target: { class: 'synthetic' as const }, params: e.params };
      const key = explanationCacheKey(parts);
      expect(await cache.get(key)).toBeUndefined();
      await cache.put(key, e);
      const back = await cache.get(key);
      expect(Array.from(back!.map.data)).toEqual(Array.from(e.map.data));
      expect(Array.from(back!.lime!.segments)).toEqual(Array.from(e.lime!.segments));
      expect(Array.from(back!.lime!.weights)).toEqual(Array.from(e.lime!.weights));
      expect(back!.peak).toEqual(e.peak);
      expect(explanationCacheKey({ ...parts, target: { class: 'real' } })).not.toBe(key);
      expect(explanationCacheKey({ ...parts, params: { ...e.params, samples: 51 } })).not.toBe(key);
      expect(explanationCacheKey({ ...parts, params: Object.fromEntries(Object.entries(e.params).reverse()) })).toBe(key);
      // A damaged entry is a miss.
      const bin = path.join(dir, key.slice(0, 2), `${key}.bin`);
      fs.writeFileSync(bin, Buffer.alloc(3));
      expect(await cache.get(key)).toBeUndefined();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
