// The explainers' gradients are exact: the head's closed form and the float64 reverse mode through
// backbone layers both agree with central finite differences.
import { describe, expect, it } from 'vitest';
import type { ExplainTarget, FeatureMap, HeadParams } from '../../electron/services/explainers/explain-types';
import { ablatedHeadScores, globalAveragePool, headForward, headGradientWrtPooled, targetScore } from '../../electron/services/explainers/head-math';
import { GraphTail, type GraphLayer, type LayerGraph } from '../../electron/services/explainers/layer-graph';
import { createRng as seededRandom } from '../../electron/services/common/seeded-random';
import { ShallowLayerGradients } from '../../electron/services/explainers/shallow-gradients';
import { buildLayerGradientOnnx } from '../../electron/services/onnx-graphs';

function gaussian(seed: number): () => number {
  const r = seededRandom(seed);
  return () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

function randomHead(channels: number, units: number, seed: number): HeadParams {
  const n = gaussian(seed);
  const r = seededRandom(seed + 1);
  const arr = (len: number, f: () => number) => Float32Array.from({ length: len }, f);
  return {
    dense1: { kernel: arr(channels * units, () => n() / Math.sqrt(channels)), bias: arr(units, () => 0.1 * n()), units },
    bn: {
      gamma: arr(units, () => 0.5 + r()),
      beta: arr(units, () => 0.1 * n()),
      movingMean: arr(units, () => 0.2 * r()),
      movingVariance: arr(units, () => 0.5 + r()),
      epsilon: 1e-3,
    },
    dense2: { kernel: arr(units, () => n()), bias: new Float32Array([0.1]) },
  };
}

function randomMap(h: number, w: number, c: number, seed: number): FeatureMap {
  const r = seededRandom(seed);
  return { height: h, width: w, channels: c, data: Float64Array.from({ length: h * w * c }, () => Math.max(0, 2 * r() - 0.5)) };
}

function scoreOfMap(head: HeadParams, map: FeatureMap, target: ExplainTarget): number {
  return targetScore(headForward(head, globalAveragePool(map)).pSynthetic, target);
}

function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / den);
}

describe('head gradient', () => {
  const head = randomHead(16, 8, 7);
  const map = randomMap(3, 4, 16, 11);
  for (const cls of ['synthetic', 'real'] as const) {
    it(`matches central finite differences for p(${cls})`, () => {
      const target = { class: cls };
      const { gradient } = headGradientWrtPooled(head, globalAveragePool(map), target);
      const positions = map.height * map.width;
      const analytic: number[] = [];
      const numeric: number[] = [];
      const eps = 1e-5;
      for (let i = 0; i < map.data.length; i += 5) {
        const plus = { ...map, data: Float64Array.from(map.data) };
        const minus = { ...map, data: Float64Array.from(map.data) };
        plus.data[i] += eps;
        minus.data[i] -= eps;
        numeric.push((scoreOfMap(head, plus, target) - scoreOfMap(head, minus, target)) / (2 * eps));
        analytic.push(gradient[i % map.channels] / positions);
      }
      expect(relativeError(analytic, numeric)).toBeLessThan(1e-3);
      expect(numeric.some((v) => Math.abs(v) > 1e-4)).toBe(true);
    });
  }

  it('gives the real class the negated gradient of the synthetic class', () => {
    const pooled = globalAveragePool(map);
    const s = headGradientWrtPooled(head, pooled, { class: 'synthetic' }).gradient;
    const r = headGradientWrtPooled(head, pooled, { class: 'real' }).gradient;
    for (let c = 0; c < s.length; c++) expect(r[c]).toBeCloseTo(-s[c], 12);
  });

  it('scores each channel ablation exactly as the head on the ablated map', () => {
    const target = { class: 'synthetic' as const };
    const scores = ablatedHeadScores(head, globalAveragePool(map), target);
    for (const c of [0, 5, 15]) {
      const ablated = { ...map, data: Float64Array.from(map.data) };
      for (let p = 0; p < map.height * map.width; p++) ablated.data[p * map.channels + c] = 0;
      expect(scores[c]).toBeCloseTo(scoreOfMap(head, ablated, target), 12);
    }
  });
});

/** A small graph using every layer kind the runtime supports, with random weights. */
function testGraph(seed: number, poolStride = 1): LayerGraph {
  const n = gaussian(seed);
  const w = (shape: number[], scale: number) => ({ shape, values: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => scale * n()) });
  const pos = (len: number, base: number) => ({ shape: [len], values: Float32Array.from({ length: len }, () => base + 0.2 * Math.abs(n())) });
  const L = (name: string, className: string, config: Record<string, unknown>, inbound: string[], weights: GraphLayer['weights'] = []): GraphLayer => ({
    name,
    className,
    config: { name, ...config },
    weights,
    inbound,
  });
  return {
    layers: [
      L('input', 'InputLayer', {}, []),
      L('cut', 'ReLU', {}, ['input']),
      L('pad', 'ZeroPadding2D', { padding: [[0, 1], [0, 1]] }, ['cut']),
      L('conv', 'Conv2D', { strides: [2, 2], padding: 'valid', activation: 'relu', use_bias: true }, ['pad'], [w([3, 3, 4, 6], 0.4), w([6], 0.1)]),
      L('bn', 'BatchNormalization', { epsilon: 1e-3 }, ['conv'], [pos(6, 0.8), w([6], 0.1), w([6], 0.1), pos(6, 0.5)]),
      L('relu6', 'ReLU', { max_value: 6 }, ['bn']),
      L('dw', 'DepthwiseConv2D', { strides: [1, 1], padding: 'same', use_bias: false, depth_multiplier: 1 }, ['relu6'], [w([3, 3, 6, 1], 0.5)]),
      L('leaky', 'LeakyReLU', { alpha: 0.2 }, ['dw']),
      L('pw', 'Conv2D', { strides: [1, 1], padding: 'same', activation: 'linear', use_bias: false }, ['leaky'], [w([1, 1, 6, 6], 0.4)]),
      L('add', 'Add', {}, ['pw', 'relu6']),
      L('avg', 'AveragePooling2D', { pool_size: [3, 3], strides: [poolStride, poolStride], padding: 'same' }, ['add']),
      L('max', 'MaxPooling2D', { pool_size: [2, 2], strides: [poolStride, poolStride], padding: 'same' }, ['add']),
      L('cat', 'Concatenate', { axis: -1 }, ['avg', 'max']),
      L('act', 'Activation', { activation: 'tanh' }, ['cat']),
      L('drop', 'Dropout', { rate: 0.5 }, ['act']),
      L('features', 'Conv2D', { strides: [1, 1], padding: 'same', activation: 'relu', use_bias: true }, ['drop'], [w([1, 1, 12, 10], 0.4), w([10], 0.2)]),
    ],
  };
}

describe('layer-graph reverse mode', () => {
  const graph = testGraph(3);
  const tail = new GraphTail(graph, 'cut', 'features');
  const head = randomHead(10, 5, 21);
  const input = randomMap(7, 7, 4, 5);
  const target = { class: 'synthetic' as const };
  const score = (x: FeatureMap) => scoreOfMap(head, tail.forward(x).output, target);

  it('matches central finite differences through conv, depthwise, BN, ReLU6, padding, add, pooling and concat', () => {
    const fwd = tail.forward(input);
    const out = fwd.output;
    expect([out.height, out.width, out.channels]).toEqual([3, 3, 10]);
    const positions = out.height * out.width;
    const { gradient } = headGradientWrtPooled(head, globalAveragePool(out), target);
    const dOut = new Float64Array(out.data.length);
    for (let p = 0; p < positions; p++) for (let c = 0; c < out.channels; c++) dOut[p * out.channels + c] = gradient[c] / positions;
    const dIn = tail.backward(fwd, dOut);
    const eps = 1e-6;
    const numeric: number[] = [];
    const analytic: number[] = [];
    for (let i = 0; i < input.data.length; i++) {
      const plus = { ...input, data: Float64Array.from(input.data) };
      const minus = { ...input, data: Float64Array.from(input.data) };
      plus.data[i] += eps;
      minus.data[i] -= eps;
      numeric.push((score(plus) - score(minus)) / (2 * eps));
      analytic.push(dIn[i]);
    }
    expect(relativeError(analytic, numeric)).toBeLessThan(1e-3);
    expect(numeric.filter((v) => Math.abs(v) > 1e-6).length).toBeGreaterThan(numeric.length / 4);
  });

  it('refuses a cut that a skip connection jumps over', () => {
    expect(() => new GraphTail(graph, 'dw', 'features')).toThrow(expect.objectContaining({ code: 'EXPLAIN_LAYER_UNAVAILABLE' }));
    expect(() => new GraphTail(graph, 'nope', 'features')).toThrow(expect.objectContaining({ code: 'EXPLAIN_LAYER_UNAVAILABLE' }));
  });

  it('refuses a layer kind it cannot differentiate', () => {
    const bad: LayerGraph = { layers: [...graph.layers.slice(0, 2), { name: 'x', className: 'Conv3D', config: {}, weights: [], inbound: ['cut'] }] };
    expect(() => new GraphTail(bad, 'cut', 'x')).toThrow(expect.objectContaining({ code: 'EXPLAIN_UNSUPPORTED_LAYER' }));
  });
});

describe('compiled ONNX gradient graph', () => {
  const head = randomHead(10, 5, 21);
  const input = randomMap(7, 7, 4, 5);
  const source = async () => ({ ...input, data: Float32Array.from(input.data) });

  it('equals the float64 runtime through every layer kind, for both targets', async () => {
    // Stride-2 pools: max pooling with overlapping windows has no ONNX gradient here.
    const graph = testGraph(3, 2);
    const onnx = new ShallowLayerGradients(graph, 'features', head, ['cut'], source);
    const js = new ShallowLayerGradients(graph, 'features', head, ['cut'], source, { engine: 'js' });
    for (const cls of ['synthetic', 'real'] as const) {
      const a = await onnx.gradients(new Float32Array(0), 'cut', { class: cls });
      const b = await js.gradients(new Float32Array(0), 'cut', { class: cls });
      expect(relativeError(a.gradients.data, b.gradients.data)).toBeLessThan(1e-4);
      expect(a.pSynthetic).toBeCloseTo(b.pSynthetic, 5);
    }
    expect(onnx.fallbacks.size).toBe(0);
    await onnx.dispose();
  });

  it('refuses overlapping max pooling with a typed error, and LayerCAM falls back to the runtime', async () => {
    const graph = testGraph(3, 1);
    await expect(buildLayerGradientOnnx(graph, 'cut', 'features', head, [7, 7, 4])).rejects.toMatchObject({ code: 'EXPLAIN_UNSUPPORTED_LAYER' });
    const shallow = new ShallowLayerGradients(graph, 'features', head, ['cut'], source);
    const g = await shallow.gradients(new Float32Array(0), 'cut', { class: 'synthetic' });
    expect(g.gradients.data.length).toBe(7 * 7 * 4);
    expect(shallow.fallbacks.get('cut')).toMatch(/overlapping max pooling/);
  });
});
