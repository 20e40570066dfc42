// Fuses a trained head with its backbone into one detector ONNX (the converter's buildDetectorOnnx)
// and proves the fused file scores images exactly as the head did on the cached features.
import * as ort from 'onnxruntime-node';
import { decodeToPaperRgb, toModelInput } from '../engine/preprocess';
import type { ResolvedBackbone } from './backbone-specs';
import { scoreWithHead, type HeadWeights } from './head-trainer';
import { TrainingError } from './training-errors';

// Resolved at run time: the converter is a sibling area and may be absent in a partial checkout.
const FUSION_MODULE = '../../../models/convert/detector';

interface FusionModule {
  buildDetectorOnnx(backbone: string | Uint8Array, head: HeadWeights, options?: unknown): Uint8Array | Promise<Uint8Array>;
}

export async function loadFusion(): Promise<FusionModule> {
  try {
    const m = (await import(/* @vite-ignore */ FUSION_MODULE)) as Partial<FusionModule>;
    if (typeof m.buildDetectorOnnx !== 'function') throw new Error('buildDetectorOnnx is not exported');
    return m as FusionModule;
  } catch (e) {
    throw new TrainingError('UNSUPPORTED', `the detector fusion (models/convert/detector.ts) is not available: ${(e as Error).message}`);
  }
}

/**
 * featureOutput: the backbone output the head reads (pooled by the fusion's mean) and that the
 * detector exposes as `features` for the explainers; default the backbone's last feature map.
 */
export async function fuseDetector(backbone: ResolvedBackbone, head: HeadWeights, featureOutput?: string): Promise<Uint8Array> {
  const fusion = await loadFusion();
  const bytes = await fusion.buildDetectorOnnx(backbone.onnxPath, head, featureOutput ? { featureOutput } : {});
  return bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
}

/**
 * Runs the fused detector on real images and compares with the head applied to the pooled features
 * the training used. Returns the largest absolute difference in p(synthetic).
 */
export async function checkFusedDetector(
  detector: Uint8Array,
  backbone: ResolvedBackbone,
  head: HeadWeights,
  files: readonly string[],
  pooledFeatures: Float32Array,
): Promise<number> {
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
    const reference = scoreWithHead(head, pooledFeatures);
    let maxDiff = 0;
    for (let i = 0; i < files.length; i++) maxDiff = Math.max(maxDiff, Math.abs(fused[i] - reference[i]));
    return maxDiff;
  } finally {
    await session.release();
  }
}
