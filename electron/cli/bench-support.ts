// Shared by the benchmarks. A seeded random head: speed does not depend on the weights, and a random head
// keeps the benchmarks independent of whether a trained model exists.
import type { HeadWeightsLike } from '../services/engine/model-registry';
import { createRng } from '../services/common/seeded-random';

export function seededRandomHead(inputDim: number, units: number, seed: number): HeadWeightsLike {
  const rng = createRng(seed);
  const arr = (n: number, scale: number) => Float32Array.from({ length: n }, () => (rng() - 0.5) * scale);
  return {
    inputDim,
    dense1: { kernel: arr(inputDim * units, 2 / Math.sqrt(inputDim)), bias: arr(units, 0.1), units },
    bn: {
      gamma: new Float32Array(units).fill(1),
      beta: new Float32Array(units),
      movingMean: new Float32Array(units),
      movingVariance: new Float32Array(units).fill(1),
      epsilon: 1e-3,
    },
    dense2: { kernel: arr(units, 2 / Math.sqrt(units)), bias: new Float32Array(1) },
  };
}

/** Reads `--name value` options of a benchmark command line. */
export function benchOptionReader(argv: readonly string[]): (name: string) => string | undefined {
  return (name) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
}
