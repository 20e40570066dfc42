// The optimiser update between training steps (onnx-training.ts): Adam and RMSprop against their
// formulas written out in float64 here, per-layer learning rates, decoupled weight decay on kernels
// only, and a gradient with a NaN or an Infinity refused before any weight moves.
import { describe, expect, it } from 'vitest';
import type { ParamKind, TrainableParam } from '../../electron/services/onnx-graphs/training-graph';
import { applyOptimizerStep, createOptimizerState, type OptimizerOptions } from '../../electron/services/training/onnx-training';
import { TrainingError } from '../../electron/services/training/training-errors';

function param(name: string, kind: ParamKind, n: number, head: boolean): TrainableParam {
  return { name, layer: name.split('/')[0], weight: name.split('/')[1], kind, shape: [n], initial: Float32Array.from({ length: n }, (_, i) => Math.sin(i + name.length)), gradient: `grad:${name}`, head };
}

const params = [param('conv/kernel', 'conv_kernel', 257, false), param('conv_bn/gamma', 'bn_gamma', 31, false), param('dense/kernel', 'dense_kernel', 64, true)];
const gradientsAt = (step: number) => new Map(params.map((p) => [p.name, Float32Array.from(p.initial, (_, i) => Math.cos(i * 0.7 + step) * 10 ** ((i % 7) - 4))]));

describe('applyOptimizerStep', () => {
  for (const kind of ['adam', 'rmsprop'] as const) {
    it(`${kind}: three steps follow the float64 formula to float32 rounding, with the head's and the backbone's learning rates and weight decay on kernels only`, () => {
      const options: OptimizerOptions = { kind, headLearningRate: 1e-2, backboneLearningRate: 1e-3, weightDecay: 0.01 };
      const values = new Map(params.map((p) => [p.name, Float32Array.from(p.initial)]));
      const state = createOptimizerState(kind, params);
      state.lrScale = 0.5;
      const ref = params.map((p) => ({ w: Float64Array.from(p.initial), m: new Float64Array(p.initial.length), v: new Float64Array(p.initial.length) }));
      for (let t = 1; t <= 3; t++) {
        const grads = gradientsAt(t);
        applyOptimizerStep(state, options, params, values, grads);
        params.forEach((p, k) => {
          const g = grads.get(p.name)!;
          const r = ref[k];
          const lr = (p.head ? 1e-2 : 1e-3) * 0.5;
          for (let i = 0; i < g.length; i++) {
            if (kind === 'adam') {
              r.m[i] = 0.9 * r.m[i] + 0.1 * g[i];
              r.v[i] = 0.999 * r.v[i] + 0.001 * g[i] * g[i];
              r.w[i] -= (lr * (r.m[i] / (1 - 0.9 ** t))) / (Math.sqrt(r.v[i] / (1 - 0.999 ** t)) + 1e-7);
            } else {
              r.v[i] = 0.9 * r.v[i] + 0.1 * g[i] * g[i];
              r.w[i] -= (lr * g[i]) / Math.sqrt(r.v[i] + 1e-7);
            }
            if (p.kind !== 'bn_gamma') r.w[i] -= lr * 0.01 * r.w[i];
          }
        });
        expect(state.step).toBe(t);
      }
      params.forEach((p, k) => {
        const got = values.get(p.name)!;
        let moved = 0;
        for (let i = 0; i < got.length; i++) {
          // float32 storage after each of three steps: a few ulps of the weight.
          expect(Math.abs(got[i] - ref[k].w[i]), `${p.name}[${i}]`).toBeLessThanOrEqual(4e-7 * Math.max(1, Math.abs(ref[k].w[i])));
          moved = Math.max(moved, Math.abs(got[i] - p.initial[i]));
        }
        expect(moved, `${p.name} moved`).toBeGreaterThan(1e-3);
      });
    });
  }

  for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
    it(`a gradient holding ${bad} is refused as DIVERGED and no weight, moment or step count changes`, () => {
      const values = new Map(params.map((p) => [p.name, Float32Array.from(p.initial)]));
      const state = createOptimizerState('adam', params);
      applyOptimizerStep(state, { kind: 'adam', headLearningRate: 1e-3, backboneLearningRate: 1e-4 }, params, values, gradientsAt(1));
      const before = { values: new Map([...values].map(([k, v]) => [k, Float32Array.from(v)])), first: new Map([...state.first].map(([k, v]) => [k, Float32Array.from(v)])), step: state.step };
      const grads = gradientsAt(2);
      // In the last parameter, so the ones before it would have been updated by a check made on the way.
      grads.get('dense/kernel')![17] = bad;
      let error: unknown;
      try {
        applyOptimizerStep(state, { kind: 'adam', headLearningRate: 1e-3, backboneLearningRate: 1e-4 }, params, values, grads);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(TrainingError);
      expect((error as TrainingError).code).toBe('DIVERGED');
      expect((error as TrainingError).message).toContain('dense/kernel');
      expect(state.step).toBe(before.step);
      for (const p of params) {
        expect(values.get(p.name)).toEqual(before.values.get(p.name));
        expect(state.first.get(p.name)).toEqual(before.first.get(p.name));
      }
    });
  }
});
