// Draws an explanation over the original image at the image's own aspect ratio: a colour-mapped
// heatmap blended at a chosen opacity for the CAMs; for LIME, as in the paper's Figure 7, the top
// superpixels for the decision tinted green and those against it red, with their outlines.
import sharp from 'sharp';
import { COLORMAPS, colormapTable, type ColormapName } from './colormap';
import { ExplainError } from './explain-errors';
import type { ExplanationMap } from './explain-types';
import { resizeBilinear } from './map-utils';

export interface OverlayOptions {
  /** Heat (or tint) opacity in [0,1]. */
  opacity?: number;
  colormap?: ColormapName;
  /** Longest side of the PNG; the aspect ratio is always the image's. */
  maxSide?: number;
  /** LIME: superpixels shown on each side. */
  limeFeatures?: number;
}

export const OVERLAY_DEFAULTS = { opacity: 0.5, colormap: 'jet' as ColormapName, maxSide: 1024, limeFeatures: 5 };

export function checkOverlayOptions(o: OverlayOptions): Required<OverlayOptions> {
  const r = { ...OVERLAY_DEFAULTS, ...Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) } as Required<OverlayOptions>;
  if (!(r.opacity >= 0 && r.opacity <= 1)) throw new ExplainError('EXPLAIN_BAD_PARAMS', `opacity must be in [0,1], got ${o.opacity}`);
  if (!COLORMAPS.includes(r.colormap)) throw new ExplainError('EXPLAIN_BAD_PARAMS', `colormap must be one of ${COLORMAPS.join(', ')}, got ${o.colormap}`);
  if (!Number.isInteger(r.maxSide) || r.maxSide < 16 || r.maxSide > 8192) throw new ExplainError('EXPLAIN_BAD_PARAMS', `maxSide must be an integer in 16..8192, got ${o.maxSide}`);
  if (!Number.isInteger(r.limeFeatures) || r.limeFeatures < 1) throw new ExplainError('EXPLAIN_BAD_PARAMS', `limeFeatures must be a positive integer, got ${o.limeFeatures}`);
  return r;
}

/** The original image as RGB bytes, oriented as viewers show it, scaled to fit maxSide. */
export async function decodeForOverlay(bytes: Buffer, maxSide: number): Promise<{ rgb: Buffer; width: number; height: number }> {
  const { data, info } = await sharp(bytes, { autoOrient: true, pages: 1, page: 0, limitInputPixels: 180_000_000 })
    .flatten({ background: { r: 255, g: 255, b: 255 } })
    .toColourspace('srgb')
    .resize(maxSide, maxSide, { fit: 'inside', withoutEnlargement: true })
    .removeAlpha()
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  return { rgb: data, width: info.width, height: info.height };
}

function limeTint(explanation: ExplanationMap, width: number, height: number, rgb: Buffer, opacity: number, features: number): void {
  const lime = explanation.lime!;
  const s = explanation.map.width;
  const tint = new Int8Array(lime.segmentCount); // 1 green, -1 red
  for (const k of lime.positive.slice(0, features)) tint[k] = 1;
  for (const k of lime.negative.slice(0, features)) tint[k] = -1;
  const labelAt = new Int32Array(width * height);
  for (let y = 0; y < height; y++) {
    const sy = Math.min(s - 1, Math.floor(((y + 0.5) / height) * s));
    for (let x = 0; x < width; x++) labelAt[y * width + x] = lime.segments[sy * s + Math.min(s - 1, Math.floor(((x + 0.5) / width) * s))];
  }
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const k = labelAt[i];
      if (!tint[k]) continue;
      const edge = (x + 1 < width && labelAt[i + 1] !== k) || (y + 1 < height && labelAt[i + width] !== k) || (x > 0 && labelAt[i - 1] !== k) || (y > 0 && labelAt[i - width] !== k);
      const colour = edge ? [255, 255, 0] : tint[k] > 0 ? [0, 255, 0] : [255, 0, 0];
      const a = edge ? 1 : opacity;
      for (let c = 0; c < 3; c++) rgb[3 * i + c] = Math.round((1 - a) * rgb[3 * i + c] + a * colour[c]);
    }
  }
}

/** Renders the overlay PNG; returns its bytes and size. */
export async function renderOverlay(imageBytes: Buffer, explanation: ExplanationMap, options: OverlayOptions = {}): Promise<{ png: Buffer; width: number; height: number }> {
  const o = checkOverlayOptions(options);
  const { rgb, width, height } = await decodeForOverlay(imageBytes, o.maxSide);
  if (explanation.method === 'lime' && explanation.lime) {
    limeTint(explanation, width, height, rgb, o.opacity, o.limeFeatures);
  } else {
    const heat = resizeBilinear(explanation.map.data, explanation.map.height, explanation.map.width, height, width);
    const table = colormapTable(o.colormap);
    const a = o.opacity;
    for (let i = 0; i < width * height; i++) {
      const t = Math.max(0, Math.min(255, Math.round(heat[i] * 255))) * 3;
      rgb[3 * i] = Math.round((1 - a) * rgb[3 * i] + a * table[t]);
      rgb[3 * i + 1] = Math.round((1 - a) * rgb[3 * i + 1] + a * table[t + 1]);
      rgb[3 * i + 2] = Math.round((1 - a) * rgb[3 * i + 2] + a * table[t + 2]);
    }
  }
  const png = await sharp(rgb, { raw: { width, height, channels: 3 } }).png({ compressionLevel: 6 }).toBuffer();
  return { png, width, height };
}
