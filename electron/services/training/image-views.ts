// Augmented "views" of a 256×256 dataset crop, applied identically to real and synthetic images so
// that compression, blur and resampling stop being class cues (what made CNNDetection generalise).
// Each view is deterministic from (item id, view name), so cached features stay valid across runs.
import crypto from 'node:crypto';
import sharp from 'sharp';
import { PAPER_SIZE } from '../engine/preprocess';
import { TrainingError } from './training-errors';

export const VIEW_NAMES = ['plain', 'flip', 'jpeg', 'jpeg-flip', 'blur', 'blur-flip', 'resize', 'resize-flip'] as const;
export type ViewName = (typeof VIEW_NAMES)[number];

export function isViewName(v: string): v is ViewName {
  return (VIEW_NAMES as readonly string[]).includes(v);
}

export function parseViews(list: string): ViewName[] {
  const views = list.split(',').map((s) => s.trim()).filter(Boolean);
  for (const v of views) if (!isViewName(v)) throw new TrainingError('BAD_OPTIONS', `unknown view "${v}" (known: ${VIEW_NAMES.join(', ')})`);
  if (!views.includes('plain')) views.unshift('plain');
  return [...new Set(views)] as ViewName[];
}

export function viewIsFlipped(view: ViewName): boolean {
  return view === 'flip' || view.endsWith('-flip');
}

/** A uniform number in [0, 1) fixed by the item and the view. */
function itemUniform(id: string, salt: string): number {
  const h = crypto.createHash('sha256').update(`${salt}\u0000${id}`).digest();
  return h.readUInt32LE(0) / 2 ** 32;
}

/** The augmentation parameters a view uses for an item (recorded for reproducibility). */
export function viewParameters(id: string, view: ViewName): Record<string, number> {
  const base = view.replace(/-flip$/, '');
  if (base === 'jpeg') return { quality: Math.round(60 + itemUniform(id, 'jpeg') * 35) };
  if (base === 'blur') return { sigma: Number((0.5 + itemUniform(id, 'blur') * 1.5).toFixed(3)) };
  if (base === 'resize') return { scale: Number((0.5 + itemUniform(id, 'resize') * 0.4).toFixed(3)) };
  return {};
}

/**
 * Returns the 256×256×3 RGB of the view, before flipping (the flip happens in toModelInput so the
 * engine's preprocessing stays the one place that flips).
 */
export async function renderView(rgb: Uint8Array, id: string, view: ViewName): Promise<Uint8Array> {
  const base = view.replace(/-flip$/, '');
  if (base === 'plain' || base === 'flip') return rgb;
  const raw = { raw: { width: PAPER_SIZE, height: PAPER_SIZE, channels: 3 as const } };
  const p = viewParameters(id, view);
  let out: Buffer;
  if (base === 'jpeg') {
    const jpeg = await sharp(Buffer.from(rgb), raw).jpeg({ quality: p.quality, chromaSubsampling: '4:2:0' }).toBuffer();
    out = await sharp(jpeg).removeAlpha().raw().toBuffer();
  } else if (base === 'blur') {
    out = await sharp(Buffer.from(rgb), raw).blur(p.sigma).raw().toBuffer();
  } else {
    const small = Math.max(8, Math.round(PAPER_SIZE * p.scale));
    const down = await sharp(Buffer.from(rgb), raw).resize(small, small, { fit: 'fill', kernel: 'lanczos3' }).png().toBuffer();
    out = await sharp(down).resize(PAPER_SIZE, PAPER_SIZE, { fit: 'fill', kernel: 'cubic' }).removeAlpha().raw().toBuffer();
  }
  if (out.length !== rgb.length) throw new TrainingError('BAD_FEATURES', `view ${view} of ${id} produced ${out.length} bytes`);
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}
