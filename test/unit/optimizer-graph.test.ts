// The optimiser step graph against Adam and RMSprop written out in float64 (tfjs's formulas, with
// decoupled weight decay), and what a non-finite gradient does: training stops, nothing is updated.
import { describe, expect, it } from 'vitest';
import type { TrainableParam } from '../../electron/services/onnx-graphs';
import { applyOptimizerStep, createOptimizer, createOptimizerState, type OptimizerOptions } from '../../electron/services/training/onnx-training';
import { TrainingError } from '../../electron/services/training/training-errors';

const param = (name: string, initial: number[], head: boolean, kind: TrainableParam['kind']): TrainableParam => ({
  name,
  layer: name.split('/')[0],
  weight: name.split('/')[1],
  kind,
  shape: [initial.length],
  initial: Float32Array.from(initial),
  gradient: `grad:${name}`,
  head,
});

const params = [param('conv/kernel', [0.5, -0.25, 1.5, 0], false, 'conv_kernel'), param('bn/gamma', [1, 0.8], false, 'bn_gamma'), param('head/kernel', [0.1, -0.3, 0.2], true, 'dense_kernel')];
const grads = [
  [
    [0.2, -0.1, 0.05, 0.3],
    [0.01, -0.02],
    [1, -0.5, 0.25],
  ],
  [
    [-0.1, 0.4, 0.02, -0.3],
    [0.03, 0.01],
    [-0.2, 0.6, 0.1],
  ],
];

/** Two steps in float64. */
function reference(o: Required<Omit<OptimizerOptions, 'kind'>> & { kind: OptimizerOptions['kind'] }, lrScale: number): number[][] {
  return params.map((p, k) => {
    const w = Array.from(p.initial);
    const m = w.map(() => 0);
    const v = w.map(() => 0);
    const lr = (p.head ? o.headLearningRate : o.backboneLearningRate) * lrScale;
    const decays = p.kind !== 'bn_gamma';
    grads.forEach((step, s) => {
      const t = s + 1;
      step[k].forEach((g, i) => {
        if (o.kind === 'adam') {
          m[i] = o.beta1 * m[i] + (1 - o.beta1) * g;
          v[i] = o.beta2 * v[i] + (1 - o.beta2) * g * g;
          w[i] -= (lr * (m[i] / (1 - o.beta1 ** t))) / (Math.sqrt(v[i] / (1 - o.beta2 ** t)) + o.epsilon);
        } else {
          v[i] = o.rho * v[i] + (1 - o.rho) * g * g;
          w[i] -= (lr * g) / Math.sqrt(v[i] + o.epsilon);
        }
        if (decays) w[i] -= lr * o.weightDecay * w[i];
      });
    });
    return w;
  });
}

describe('optimiser step graph', () => {
  for (const kind of ['adam', 'rmsprop'] as const) {
    it(`${kind}: two steps with two learning rates, weight decay on kernels only and a plateau-lowered scale give the float64 weights`, async () => {
      const o = { kind, headLearningRate: 1e-2, backboneLearningRate: 1e-3, beta1: 0.9, beta2: 0.999, rho: 0.9, epsilon: 1e-7, weightDecay: 0.01 };
      const optimizer = await createOptimizer(o, params, 1);
      try {
        const state = createOptimizerState(kind, params);
        state.lrScale = 0.5;
        const values = new Map(params.map((p) => [p.name, Float32Array.from(p.initial)]));
        for (const step of grads) await applyOptimizerStep(optimizer, state, values, new Map(params.map((p, k) => [p.name, Float32Array.from(step[k])])));
        expect(state.step).toBe(2);
        const expected = reference(o, 0.5);
        params.forEach((p, k) => {
          const got = values.get(p.name)!;
          expected[k].forEach((e, i) => expect(Math.abs(got[i] - e), `${p.name}[${i}]`).toBeLessThan(1e-6));
          // Every weight moved, and the moments are the graph's outputs now.
          expect(got.every((x, i) => x !== p.initial[i])).toBe(true);
          expect(state.second.get(p.name)!.some((x) => x > 0)).toBe(true);
        });
      } finally {
        await optimizer.session.release();
      }
    });
  }

  it('a non-finite gradient stops with DIVERGED and leaves the weights, moments and step as they were', async () => {
    const optimizer = await createOptimizer({ kind: 'adam', headLearningRate: 1e-2, backboneLearningRate: 1e-3 }, params, 1);
    try {
      const state = createOptimizerState('adam', params);
      const values = new Map(params.map((p) => [p.name, Float32Array.from(p.initial)]));
      const before = new Map(values);
      const bad = new Map(params.map((p, k) => [p.name, Float32Array.from(grads[0][k])]));
      bad.get('bn/gamma')![1] = Number.POSITIVE_INFINITY;
      const error = await applyOptimizerStep(optimizer, state, values, bad).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TrainingError);
      expect((error as TrainingError).code).toBe('DIVERGED');
      expect(state.step).toBe(0);
      for (const p of params) {
        expect(values.get(p.name)).toBe(before.get(p.name));
        expect(Array.from(values.get(p.name)!)).toEqual(Array.from(p.initial));
        expect(state.first.get(p.name)!.every((x) => x === 0)).toBe(true);
      }
      // A missing gradient is refused before anything runs.
      await expect(applyOptimizerStep(optimizer, state, values, new Map())).rejects.toThrow(/no gradient for conv\/kernel/);
    } finally {
      await optimizer.session.release();
    }
  });
});
