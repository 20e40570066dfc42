// Multi-crop input: instead of stretching the whole file to 256×256 (the paper, which erases the
// pixel-level traces of a large image), score several 256×256 windows of the file at its own
// resolution and aggregate their logits. Small images are enlarged to a 256 short side first.
import sharp from 'sharp';
import { classifyDecodeError, DEFAULT_MAX_FILE_BYTES, DEFAULT_MAX_PIXELS, ImageInputError, PAPER_SIZE, sniffImageFormat, type DecodeLimits } from './preprocess';

export const INPUT_MODES = ['resize', 'crops'] as const;
export type InputMode = (typeof INPUT_MODES)[number];

export type CropAggregate = 'mean-logit' | 'max';

export interface CropBox {
  left: number;
  top: number;
}

export interface NativeCrops {
  /** 256×256×3 RGB, one per window. */
  crops: Uint8Array[];
  boxes: CropBox[];
  /** Size of the image the windows were cut from (after EXIF orientation and any enlargement). */
  width: number;
  height: number;
}

export const DEFAULT_MAX_CROPS = 5;
/** 24 MP of RGB is 72 MB held at once per file being decoded. */
const MAX_RAW_PIXELS = 24_000_000;

/**
 * Window positions: the centre first, then four windows at 20 % and 80 % of the free range on each
 * axis (inside the corners, which are often borders or sky). Duplicates (an image of 256 px on a
 * side has one position on that axis) are dropped, so a 256×256 image gives one window.
 */
export function cropBoxes(width: number, height: number, maxCrops = DEFAULT_MAX_CROPS): CropBox[] {
  const fx = width - PAPER_SIZE;
  const fy = height - PAPER_SIZE;
  const at = (f: number, free: number) => Math.round(f * free);
  const candidates: CropBox[] = [{ left: at(0.5, fx), top: at(0.5, fy) }];
  for (const [a, b] of [
    [0.2, 0.2],
    [0.8, 0.2],
    [0.2, 0.8],
    [0.8, 0.8],
  ]) {
    candidates.push({ left: at(a, fx), top: at(b, fy) });
  }
  const seen = new Set<string>();
  const out: CropBox[] = [];
  for (const c of candidates) {
    const k = `${c.left},${c.top}`;
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(c);
    if (out.length >= maxCrops) break;
  }
  return out;
}

/**
 * Decodes a file (as decodeToPaperRgb does: EXIF orientation, first frame, alpha on white, sRGB) and
 * cuts its windows. With `shortSide`, the file is first scaled (up or down, aspect kept) to that
 * short side: the scale the training crops were cut at (the dataset builder brings every image to a
 * 256–384 short side), rather than the file's own.
 */
export async function decodeNativeCrops(buf: Buffer, limits: DecodeLimits = {}, maxCrops = DEFAULT_MAX_CROPS, shortSide?: number): Promise<NativeCrops> {
  if (shortSide !== undefined && !(Number.isInteger(shortSide) && shortSide >= PAPER_SIZE && shortSide <= 4096)) {
    throw new RangeError(`window short side must be an integer from ${PAPER_SIZE} to 4096, got ${shortSide}`);
  }
  if (buf.length === 0) throw new ImageInputError('EMPTY_FILE', 'The image data is empty (0 bytes)');
  if (buf.length > (limits.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES)) throw new ImageInputError('TOO_LARGE', `The image data is ${buf.length} bytes; over the limit`);
  const sniffed = sniffImageFormat(buf);
  if (sniffed.kind === 'unknown') throw new ImageInputError('NOT_AN_IMAGE', 'The content is not a recognised image format (checked by its signature, not its name)');
  if (sniffed.kind === 'unsupported') throw new ImageInputError('UNSUPPORTED_FORMAT', `${sniffed.format} images are not supported`);
  let data: Buffer;
  let width: number;
  let height: number;
  try {
    const image = sharp(buf, { limitInputPixels: limits.maxPixels ?? DEFAULT_MAX_PIXELS, failOn: 'truncated', autoOrient: true, pages: 1, page: 0 });
    const meta = await image.metadata();
    const w0 = meta.autoOrient?.width ?? meta.width ?? 0;
    const h0 = meta.autoOrient?.height ?? meta.height ?? 0;
    let pipeline = image.flatten({ background: { r: 255, g: 255, b: 255 } }).toColourspace('srgb');
    const short = Math.min(w0, h0);
    if (shortSide !== undefined && short > 0) {
      const scale = shortSide / short;
      pipeline = pipeline.resize(Math.max(PAPER_SIZE, Math.round(w0 * scale)), Math.max(PAPER_SIZE, Math.round(h0 * scale)), { fit: 'fill', kernel: 'lanczos3' });
    } else if (w0 * h0 > MAX_RAW_PIXELS) {
      // The whole raw image is held in memory: past this size it is reduced first (windows then see
      // a slightly downscaled file, which still keeps far more of its pixels than a 256 stretch).
      const scale = Math.sqrt(MAX_RAW_PIXELS / (w0 * h0));
      pipeline = pipeline.resize(Math.max(PAPER_SIZE, Math.floor(w0 * scale)), Math.max(PAPER_SIZE, Math.floor(h0 * scale)), { fit: 'fill', kernel: 'lanczos3' });
    } else if (short > 0 && short < PAPER_SIZE) {
      const scale = PAPER_SIZE / short;
      pipeline = pipeline.resize(Math.max(PAPER_SIZE, Math.round(w0 * scale)), Math.max(PAPER_SIZE, Math.round(h0 * scale)), { fit: 'fill' });
    }
    const r = await pipeline.removeAlpha().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    data = r.data;
    width = r.info.width;
    height = r.info.height;
    if (r.info.channels !== 3) throw new ImageInputError('CORRUPT', `Decoder produced ${r.info.channels} channels, expected 3`);
  } catch (e) {
    if (e instanceof ImageInputError) throw e;
    // The same classification as the resize path, so both modes name a bad file alike.
    throw classifyDecodeError(e, buf, sniffed.format);
  }
  const boxes = cropBoxes(width, height, maxCrops);
  const crops = boxes.map((b) => {
    const out = new Uint8Array(PAPER_SIZE * PAPER_SIZE * 3);
    for (let y = 0; y < PAPER_SIZE; y++) {
      const src = ((b.top + y) * width + b.left) * 3;
      out.set(data.subarray(src, src + PAPER_SIZE * 3), y * PAPER_SIZE * 3);
    }
    return out;
  });
  return { crops, boxes, width, height };
}

const logit = (p: number) => {
  const q = Math.min(Math.max(p, 1e-7), 1 - 1e-7);
  return Math.log(q / (1 - q));
};

/** One p(synthetic) from the windows' p(synthetic): the sigmoid of the mean logit, or the maximum. */
export function aggregateCropScores(scores: ArrayLike<number>, how: CropAggregate = 'mean-logit'): number {
  if (scores.length === 0) return NaN;
  if (how === 'max') return Math.max(...Array.from(scores));
  let s = 0;
  for (let i = 0; i < scores.length; i++) s += logit(scores[i]);
  return 1 / (1 + Math.exp(-s / scores.length));
}
