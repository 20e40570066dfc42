// Augmented "views" of a 256×256 dataset crop, applied identically to real and synthetic images so
// that compression, blur and resampling stop being class cues (what made CNNDetection generalise).
// Each view is deterministic from (item id, view name), so cached features stay valid across runs.
import crypto from 'node:crypto';
import sharp, { type Sharp } from 'sharp';
import { PAPER_SIZE } from '../engine/preprocess';
import { createRng, gaussian } from '../common/seeded-random';
import { TrainingError } from './training-errors';

export const VIEW_NAMES = [
  'plain',
  'flip',
  'jpeg',
  'jpeg-flip',
  'blur',
  'blur-flip',
  'resize',
  'resize-flip',
  // CNNDetection's Blur+JPEG: blur σ ~ U[0, 3] with probability 0.5, then JPEG quality ~ U[30, 100] with probability 0.5.
  'bj',
  'bj-flip',
  // A chain of degradations an examiner's files carry (each with its own probability): blur, resize
  // down and up, sensor-like noise, gamma and colour jitter, a small rotation, JPEG quality 30–100.
  'mix',
  'mix-flip',
  'mix2',
  'mix2-flip',
] as const;
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
  if (base === 'bj') {
    const u = (k: string) => itemUniform(id, `bj-${k}`);
    return { blurSigma: u('pb') < 0.5 ? Number((u('s') * 3).toFixed(3)) : 0, jpegQuality: u('pj') < 0.5 ? Math.round(30 + u('q') * 70) : 0 };
  }
  if (base === 'mix' || base === 'mix2') {
    const u = (k: string) => itemUniform(id, `${base}-${k}`);
    return {
      blurSigma: u('pb') < 0.3 ? Number((0.3 + u('s') * 1.7).toFixed(3)) : 0,
      rescale: u('pr') < 0.3 ? Number((0.5 + u('r') * 0.4).toFixed(3)) : 0,
      noiseSigma: u('pn') < 0.3 ? Number((1 + u('n') * 5).toFixed(3)) : 0,
      gamma: u('pg') < 0.3 ? Number((0.7 + u('g') * 0.7).toFixed(3)) : 1,
      colourJitter: u('pc') < 0.3 ? Number((u('c') * 0.1).toFixed(3)) : 0,
      rotateDegrees: u('pa') < 0.2 ? Number(((u('a') * 2 - 1) * 5).toFixed(3)) : 0,
      jpegQuality: u('pj') < 0.5 ? Math.round(30 + u('q') * 70) : 0,
    };
  }
  return {};
}

const RAW = { raw: { width: PAPER_SIZE, height: PAPER_SIZE, channels: 3 as const } };

async function rawOf(img: Sharp): Promise<Buffer> {
  return img.removeAlpha().raw().toBuffer();
}

/** The degradation chain of the bj / mix views, in the order a file's history would apply them. */
async function degrade(rgb: Buffer, id: string, p: Record<string, number>): Promise<Buffer> {
  let buf = rgb;
  if (p.rotateDegrees) {
    // Rotate, then keep the largest centred square that holds no padding, back at 256.
    const a = (Math.abs(p.rotateDegrees) * Math.PI) / 180;
    const inner = Math.floor(PAPER_SIZE / (Math.cos(a) + Math.sin(a)));
    const rotated = await sharp(buf, RAW).rotate(p.rotateDegrees, { background: { r: 0, g: 0, b: 0 } }).png().toBuffer({ resolveWithObject: true });
    const left = Math.floor((rotated.info.width - inner) / 2);
    const top = Math.floor((rotated.info.height - inner) / 2);
    buf = await rawOf(sharp(rotated.data).extract({ left, top, width: inner, height: inner }).resize(PAPER_SIZE, PAPER_SIZE, { fit: 'fill', kernel: 'cubic' }));
  }
  if (p.rescale) {
    const small = Math.max(8, Math.round(PAPER_SIZE * p.rescale));
    const down = await sharp(buf, RAW).resize(small, small, { fit: 'fill', kernel: 'lanczos3' }).png().toBuffer();
    buf = await rawOf(sharp(down).resize(PAPER_SIZE, PAPER_SIZE, { fit: 'fill', kernel: 'cubic' }));
  }
  if (p.blurSigma && p.blurSigma >= 0.3) buf = await rawOf(sharp(buf, RAW).blur(p.blurSigma));
  if (p.gamma !== undefined && (p.gamma !== 1 || p.colourJitter || p.noiseSigma)) {
    const rng = createRng(crypto.createHash('sha256').update(`noise\u0000${id}`).digest().readUInt32LE(0));
    const gains = [0, 1, 2].map(() => 1 + (rng() * 2 - 1) * (p.colourJitter ?? 0));
    const out = Buffer.alloc(buf.length);
    for (let i = 0; i < buf.length; i++) {
      let v = 255 * Math.pow(buf[i] / 255, p.gamma) * gains[i % 3];
      if (p.noiseSigma) {
        // One normal per value: sensor-like noise on every channel.
        v += p.noiseSigma * gaussian(rng);
      }
      out[i] = Math.max(0, Math.min(255, Math.round(v)));
    }
    buf = out;
  }
  if (p.jpegQuality) {
    const jpeg = await sharp(buf, RAW).jpeg({ quality: p.jpegQuality, chromaSubsampling: '4:2:0' }).toBuffer();
    buf = await rawOf(sharp(jpeg));
  }
  return buf;
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
  if (base === 'bj' || base === 'mix' || base === 'mix2') {
    out = await degrade(Buffer.from(rgb), `${base}\u0000${id}`, p);
  } else if (base === 'jpeg') {
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
