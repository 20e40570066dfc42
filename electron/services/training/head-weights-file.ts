// Head weights as a small JSON file (float32 arrays as base64, little-endian): what the repository
// commits for the shipped default and what the engine's registry reads back (readHeadWeightsFile).
import crypto from 'node:crypto';
import type { HeadWeights } from './head-trainer';

const b64 = (a: Float32Array) => {
  const out = Buffer.alloc(a.length * 4);
  for (let i = 0; i < a.length; i++) out.writeFloatLE(a[i], i * 4);
  return out.toString('base64');
};

export function serialiseHeadWeights(w: HeadWeights, meta: Record<string, unknown> = {}): string {
  return (
    JSON.stringify(
      {
        format: 'paper-head/float32-base64-le',
        ...meta,
        inputDim: w.inputDim,
        dense1: { units: w.dense1.units, kernel: b64(w.dense1.kernel), bias: b64(w.dense1.bias) },
        bn: {
          epsilon: w.bn.epsilon,
          gamma: b64(w.bn.gamma),
          beta: b64(w.bn.beta),
          movingMean: b64(w.bn.movingMean),
          movingVariance: b64(w.bn.movingVariance),
        },
        dense2: { kernel: b64(w.dense2.kernel), bias: b64(w.dense2.bias) },
      },
      null,
      1,
    ) + '\n'
  );
}

export function sha256Text(s: string | Uint8Array): string {
  return crypto.createHash('sha256').update(s).digest('hex');
}
