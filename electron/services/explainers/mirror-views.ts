// Explanations for a detector that reads each image together with its mirror (the card's
// `inference.mirror`). Its score is the mean of two logits, one per view, so a method that works on
// the feature map of one view (GradCAM, LayerCAM, AblationCAM) explains the image and its mirror and
// averages the two maps, the mirror's flipped back: pytorch-grad-cam's aug_smooth with the flip
// alone. ScoreCAM and LIME perturb the image itself and read the detector's mirrored score of each
// perturbation, so they already explain both views and run once.
import type { ExplainInput, ExplainMethod, ExplainTarget, ExplanationMap, FeatureMap } from './explain-types';
import { argmax, cellToImage, normaliseMap } from './map-utils';

/** Methods that vary one view's feature map and need both views explained. */
export const FEATURE_MAP_METHODS: readonly ExplainMethod[] = ['gradcam', 'layercam', 'ablationcam'];

/** A size×size×3 NHWC image read right to left. */
export function mirrorImage<T extends Float32Array>(data: T, size: number): T {
  const out = new (data.constructor as new (n: number) => T)(data.length);
  for (let y = 0; y < size; y++) {
    const row = y * size * 3;
    for (let x = 0; x < size; x++) {
      const from = row + (size - 1 - x) * 3;
      out.set(data.subarray(from, from + 3), row + x * 3);
    }
  }
  return out;
}

/** The same image, mirrored left to right (the overlay and the map's coordinates stay the image's). */
export function mirrorInput<T extends ExplainInput>(input: T, size: number): T {
  return { ...input, tensor: mirrorImage(input.tensor, size), rgb01: mirrorImage(input.rgb01, size) };
}

function mirrorMap(map: FeatureMap): Float32Array {
  const { height, width, data } = map;
  const out = new Float32Array(height * width);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) out[y * width + x] = data[y * width + (width - 1 - x)];
  return out;
}

/** Explains the image and its mirror with one method and averages the two normalised maps. */
export async function explainBothViews(
  explain: (input: ExplainInput, target: ExplainTarget) => Promise<ExplanationMap>,
  input: ExplainInput,
  target: ExplainTarget,
  size: number,
): Promise<ExplanationMap> {
  const own = await explain(input, target);
  const other = await explain(mirrorInput(input, size), target);
  const { height, width } = own.map;
  const back = mirrorMap(other.map);
  const mean = new Float64Array(height * width);
  for (let i = 0; i < mean.length; i++) mean[i] = (own.map.data[i] + back[i]) / 2;
  const { values, flat } = normaliseMap(mean);
  const best = argmax(values);
  return {
    ...own,
    map: { height, width, channels: 1, data: values },
    peak: cellToImage(Math.floor(best / width), best % width, height, width, input.imageWidth, input.imageHeight),
    flat,
    forwardPasses: own.forwardPasses + other.forwardPasses,
    headPasses: own.headPasses + other.headPasses,
    params: { ...own.params, views: 'image+mirror' },
  };
}
