// Fuses a trained head with its backbone into one detector ONNX (the converter's buildDetectorOnnx)
// and proves the fused file scores images exactly as the head did on the cached features.
import * as ort from 'onnxruntime-node';
import { decodeToPaperRgb, toModelInput } from '../engine/preprocess';
import { buildDetectorOnnx, type DetectorOptions } from '../onnx-graphs';
import type { ResolvedBackbone } from './backbone-specs';
import type { HeadWeights } from './head-trainer';


/**
 * options.featureOutput: the backbone output the head reads (pooled by the fusion's mean) and that
 * the detector exposes as `features` for the explainers; default the backbone's last feature map.
 * options.headInputs: every pooled map the head reads, for a "taps" head.
 */
export async function fuseDetector(backbone: ResolvedBackbone, head: HeadWeights, options: DetectorOptions = {}): Promise<Uint8Array> {
  return buildDetectorOnnx(backbone.onnxPath, head, options);
}

/**
 * Runs the fused detector on real images and compares with `reference`, the scores the training
 * computed from its cached features (scoreItems). Returns the largest absolute difference in p(synthetic).
 */
export async function checkFusedDetector(detector: Uint8Array, backbone: ResolvedBackbone, files: readonly string[], reference: ArrayLike<number>): Promise<number> {
  const session = await ort.InferenceSession.create(detector, { intraOpNumThreads: 2 });
  try {
    const size = backbone.inputSize;
    const input = new Float32Array(files.length * size * size * 3);
    for (const [i, f] of files.entries()) {
      const rgb = await decodeToPaperRgb(f);
      toModelInput(rgb.data, { inputSize: size, normalisation: backbone.normalisation }, input, i * size * size * 3);
    }
    const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', input, [files.length, size, size, 3]) });
    const fused = (out.p_synthetic ?? out[session.outputNames[0]]).data as Float32Array;
    let maxDiff = 0;
    for (let i = 0; i < files.length; i++) maxDiff = Math.max(maxDiff, Math.abs(fused[i] - reference[i]));
    return maxDiff;
  } finally {
    await session.release();
  }
}
