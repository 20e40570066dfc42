// Turns an image file into what the explainers need, through the engine's one preprocessing path
// (decode → 256×256 stretch → model size), so an explanation is of exactly what the detector saw.
import crypto from 'node:crypto';
import { decodeToPaperRgb, readImageFile, toModelInput, NORMALISATIONS, type DecodeLimits, type Normalisation } from '../engine/preprocess';
import type { ExplainInput } from './explain-types';

export interface PreparedImage extends ExplainInput {
  sha256: string;
  /** The original bytes (the overlay is drawn on them at the image's own aspect ratio). */
  bytes: Buffer;
}

export function normaliserFor(normalisation: Normalisation): (rgb01: Float32Array) => Float32Array {
  const [s0, s1, s2] = normalisation.scale;
  const [o0, o1, o2] = normalisation.offset;
  return (rgb01) => {
    const out = new Float32Array(rgb01.length);
    for (let i = 0; i < rgb01.length; i += 3) {
      out[i] = rgb01[i] * 255 * s0 + o0;
      out[i + 1] = rgb01[i + 1] * 255 * s1 + o1;
      out[i + 2] = rgb01[i + 2] * 255 * s2 + o2;
    }
    return out;
  };
}

export async function prepareExplainInput(
  image: string | Buffer,
  options: { inputSize: number; normalisation: Normalisation } & DecodeLimits,
): Promise<PreparedImage> {
  const bytes = typeof image === 'string' ? await readImageFile(image, options) : image;
  const paper = await decodeToPaperRgb(bytes, options);
  const tensor = toModelInput(paper.data, options);
  const rgb01 = toModelInput(paper.data, { inputSize: options.inputSize, normalisation: NORMALISATIONS.unit });
  return {
    tensor,
    rgb01,
    normalise: normaliserFor(options.normalisation),
    imageWidth: paper.source.width,
    imageHeight: paper.source.height,
    sha256: crypto.createHash('sha256').update(bytes).digest('hex'),
    bytes,
  };
}
