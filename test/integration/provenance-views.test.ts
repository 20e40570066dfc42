// The forensic views: periodic upsampling shows as spectral peaks exactly where theory puts them,
// noise without resampling shows none; ELA of a re-pasted region is higher in that region.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { inspectImageBytes } from '../../electron/services/provenance';
import { decodeRgb, errorLevel } from '../../electron/services/provenance/forensic-views';
import { createRng } from '../../electron/services/common/seeded-random';

/** Bilinear k-times upsampling of seeded noise, as a PNG (lossless: only the resampling leaves traces). */
async function upsampledNoisePng(size: number, factor: number, seed: number): Promise<Buffer> {
  const rng = createRng(seed);
  const s = Math.ceil(size / factor) + 1;
  const src = Float32Array.from({ length: s * s }, () => 30 + rng() * 195);
  const out = Buffer.alloc(size * size);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const sx = x / factor;
      const sy = y / factor;
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const fx = sx - x0;
      const fy = sy - y0;
      const at = (xx: number, yy: number) => src[yy * s + xx];
      out[y * size + x] = Math.round((1 - fx) * (1 - fy) * at(x0, y0) + fx * (1 - fy) * at(x0 + 1, y0) + (1 - fx) * fy * at(x0, y0 + 1) + fx * fy * at(x0 + 1, y0 + 1));
    }
  }
  return sharp(out, { raw: { width: size, height: size, channels: 1 } }).png().toBuffer();
}

const has = (peaks: { fx: number; fy: number }[], fx: number, fy: number) => peaks.some((p) => Math.abs(p.fx - fx) < 1e-9 && Math.abs(p.fy - fy) < 1e-9);

describe('spectrum of the residual', () => {
  it('2x upsampling gives peaks at 1/2 cycle per pixel on both axes; the spectrum image and radial data are there', async () => {
    const { report, images } = await inspectImageBytes(await upsampledNoisePng(256, 2, 3), 'up2.png');
    const spec = report.views!.spectrum!;
    expect(spec.size).toBe(256);
    expect(has(spec.peaks, 0.5, 0)).toBe(true);
    expect(has(spec.peaks, 0, 0.5)).toBe(true);
    expect(spec.peaks.find((p) => p.fx === 0.5 && p.fy === 0)!.prominence).toBeGreaterThan(2);
    expect(spec.radialPower).toHaveLength(129);
    expect(spec.radialPower[128].frequency).toBe(0.5);
    const meta = await sharp(images.spectrum!).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 256, 256]);
    expect(report.finding.witnesses.find((w) => w.source === 'spectrum')?.statement).toMatch(/\(0\.500, 0\.000\)|\(0\.000, 0\.500\)/);
  });

  it('4x upsampling gives peaks at 1/4 cycle per pixel', async () => {
    const { report } = await inspectImageBytes(await upsampledNoisePng(256, 4, 5), 'up4.png');
    const peaks = report.views!.spectrum!.peaks;
    expect(has(peaks, 0.25, 0)).toBe(true);
    expect(has(peaks, 0, 0.25)).toBe(true);
  });

  it('noise that was never resampled has no periodic peaks', async () => {
    const { report } = await inspectImageBytes(await upsampledNoisePng(256, 1, 9), 'noise.png');
    expect(report.views!.spectrum!.peaks).toEqual([]);
    expect(report.finding.witnesses.some((w) => w.source === 'spectrum')).toBe(false);
  });

  it('a real JPEG photograph: its 8x8 grid peaks are labelled as such', async () => {
    const dir = path.resolve('../shared/datasets/real');
    const file = path.join(dir, fs.readdirSync(dir).filter((f) => f.endsWith('.jpg')).sort()[0]);
    const { report } = await inspectImageBytes(fs.readFileSync(file), path.basename(file));
    const grid = report.views!.spectrum!.peaks.filter((p) => p.note?.includes('JPEG 8x8'));
    expect(grid.length).toBeGreaterThan(0);
    for (const p of grid) expect([p.fx * 8, p.fy * 8].every((v) => Number.isInteger(Math.round(v * 1e9) / 1e9))).toBe(true);
  });
});

describe('error level analysis', () => {
  const S = 384;
  const P = 128;
  const X = 128;
  const Y = 128;
  const real = path.resolve('../shared/datasets/real');
  const photos = fs.readdirSync(real).filter((f) => f.endsWith('.jpg')).sort();
  const load = (f: string) => sharp(path.join(real, f)).rotate().resize(S, S, { fit: 'cover' }).removeAlpha().raw().toBuffer();
  const jpegRoundTrip = async (rgb: Buffer, q: number) => sharp(await sharp(rgb, { raw: { width: S, height: S, channels: 3 } }).jpeg({ quality: q }).toBuffer()).raw().toBuffer();

  async function regionErrors(file: Buffer) {
    const d = await decodeRgb(file);
    const e = await errorLevel(d.width, d.height, d.rgb, 90);
    let inside = 0;
    let outside = 0;
    for (let y = 0; y < S; y++) {
      for (let x = 0; x < S; x++) {
        if (x >= X && x < X + P && y >= Y && y < Y + P) inside += e.error[y * S + x];
        else outside += e.error[y * S + x];
      }
    }
    return { inside: inside / (P * P), outside: outside / (S * S - P * P) };
  }

  it('a region pasted into a thrice-saved JPEG stands out: higher error level inside than outside', async () => {
    let base = await load(photos[0]);
    for (let i = 0; i < 3; i++) base = await jpegRoundTrip(base, 90);
    const donor = await load(photos[5]);
    const pasted = Buffer.from(base);
    for (let y = 0; y < P; y++) donor.copy(pasted, ((Y + y) * S + X) * 3, ((Y + y) * S + X) * 3, ((Y + y) * S + X + P) * 3);
    const toJpeg = (rgb: Buffer) => sharp(rgb, { raw: { width: S, height: S, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();

    const forged = await regionErrors(await toJpeg(pasted));
    const control = await regionErrors(await toJpeg(base));
    expect(forged.inside).toBeGreaterThan(2 * forged.outside);
    expect(control.inside).toBeLessThan(1.5 * control.outside + 0.05);

    // Through the whole inspection: the ELA image is there, amplified, and the original bytes are untouched.
    const bytes = await toJpeg(pasted);
    const copy = Buffer.from(bytes);
    const { report, images } = await inspectImageBytes(bytes, 'pasted.jpg', { elaQuality: 90 });
    expect(report.views!.ela).toMatchObject({ quality: 90 });
    expect(report.views!.ela.amplification).toBeGreaterThanOrEqual(10);
    expect((await sharp(images.ela!).metadata()).width).toBe(S);
    expect((await sharp(images.noise!).metadata()).width).toBe(S);
    expect(bytes.equals(copy)).toBe(true);
  });
});
