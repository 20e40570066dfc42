import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  ImageInputError,
  NORMALISATIONS,
  PAPER_SIZE,
  decodeToPaperRgb,
  parseNormalisation,
  preprocessImage,
  sniffImageFormat,
  toModelInput,
} from '../../electron/services/engine/preprocess';
import { SOLID, makeBadInputs, noiseRgb, type BadInputCase } from '../fixtures/bad-inputs/make-bad-inputs';

const repoRoot = path.resolve(__dirname, '../..');
const datasets = path.resolve(repoRoot, '../shared/datasets');

let dir: string;
let cases: BadInputCase[];

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'preprocess-'));
  cases = await makeBadInputs(dir);
});

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    if (e instanceof ImageInputError) return e.code;
    throw e;
  }
}

const pixel = (rgb: Uint8Array, x: number, y: number) => Array.from(rgb.subarray((y * PAPER_SIZE + x) * 3, (y * PAPER_SIZE + x) * 3 + 3));

describe('decodeToPaperRgb on awkward inputs', () => {
  it('gives each bad file its error code and each odd-but-valid file a 256×256×3 image', async () => {
    const got: Record<string, string> = {};
    for (const c of cases) got[c.file] = await codeOf(decodeToPaperRgb(path.join(dir, c.file)));
    const want = Object.fromEntries(cases.map((c) => [c.file, c.expect]));
    expect(got).toEqual(want);
  });

  it('reports missing files, folders and oversized files by code', async () => {
    expect(await codeOf(decodeToPaperRgb(path.join(dir, 'no-such-file.png')))).toBe('NOT_FOUND');
    expect(await codeOf(decodeToPaperRgb(dir))).toBe('NOT_A_FILE');
    expect(await codeOf(decodeToPaperRgb(path.join(dir, 'really-a-png.jpg'), { maxFileBytes: 1000 }))).toBe('TOO_LARGE');
    expect(await codeOf(decodeToPaperRgb(path.join(dir, 'sixteen-bit.png'), { maxPixels: 1000 }))).toBe('TOO_MANY_PIXELS');
  });

  it('identifies formats by content, not by name', () => {
    const png = fs.readFileSync(path.join(dir, 'really-a-png.jpg'));
    expect(sniffImageFormat(png)).toEqual({ kind: 'decodable', format: 'png' });
    expect(sniffImageFormat(fs.readFileSync(path.join(dir, 'notes.txt')))).toEqual({ kind: 'unknown' });
    expect(sniffImageFormat(fs.readFileSync(path.join(dir, 'animated.webp')))).toEqual({ kind: 'decodable', format: 'webp' });
  });

  it('converts 16-bit to the same 8-bit values as the 8-bit original', async () => {
    const eight = await decodeToPaperRgb(path.join(dir, 'really-a-png.jpg'));
    const sixteen = await decodeToPaperRgb(path.join(dir, 'sixteen-bit.png'));
    let maxDiff = 0;
    let sumDiff = 0;
    for (let i = 0; i < eight.data.length; i++) {
      const d = sixteen.data[i] - eight.data[i];
      maxDiff = Math.max(maxDiff, Math.abs(d));
      sumDiff += d;
    }
    // Resampling at 16-bit precision rounds differently in places; it must not shift or rescale values.
    expect(maxDiff).toBeLessThanOrEqual(2);
    expect(Math.abs(sumDiff / eight.data.length)).toBeLessThan(0.05);
  });

  it('turns greyscale into three equal channels and CMYK into plausible sRGB', async () => {
    const grey = await decodeToPaperRgb(path.join(dir, 'grey.jpg'));
    for (const [x, y] of [[0, 0], [100, 50], [255, 255]]) {
      const [r, g, b] = pixel(grey.data, x, y);
      expect(r).toBe(g);
      expect(g).toBe(b);
    }
    const tmp = path.join(dir, 'solid-cmyk.jpg');
    await sharp({ create: { width: 64, height: 64, channels: 3, background: SOLID } }).toColourspace('cmyk').jpeg({ quality: 100 }).toFile(tmp);
    expect((await sharp(tmp).metadata()).space).toBe('cmyk');
    const [r, g, b] = pixel((await decodeToPaperRgb(tmp)).data, 128, 128);
    // Through an ICC round trip the colour moves a little, not to a different colour.
    expect(Math.abs(r - SOLID.r)).toBeLessThan(30);
    expect(Math.abs(g - SOLID.g)).toBeLessThan(30);
    expect(Math.abs(b - SOLID.b)).toBeLessThan(30);
  });

  it('uses the first frame of animated GIF and WebP', async () => {
    for (const f of ['animated.gif', 'animated.webp']) {
      const img = await decodeToPaperRgb(path.join(dir, f));
      expect(img.source).toMatchObject({ width: 64, height: 64 });
      const [r, g, b] = pixel(img.data, 128, 200);
      expect(Math.abs(r - SOLID.r)).toBeLessThanOrEqual(3);
      expect(Math.abs(g - SOLID.g)).toBeLessThanOrEqual(3);
      expect(Math.abs(b - SOLID.b)).toBeLessThanOrEqual(3);
    }
  });

  it('flattens transparency onto white', async () => {
    const img = await decodeToPaperRgb(path.join(dir, 'alpha.png'));
    expect(pixel(img.data, 20, 128)).toEqual([SOLID.r, SOLID.g, SOLID.b]);
    expect(pixel(img.data, 240, 128)).toEqual([255, 255, 255]);
  });

  it('applies EXIF orientation before stretching to 256×256', async () => {
    // 64 wide × 32 high, left half red, right half blue; orientation 6 = rotate 90° clockwise to view.
    const w = 64;
    const h = 32;
    const data = Buffer.alloc(w * h * 3);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data[(y * w + x) * 3 + (x < w / 2 ? 0 : 2)] = 255;
    const file = path.join(dir, 'exif6.jpg');
    await sharp(data, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 100 }).withMetadata({ orientation: 6 }).toFile(file);
    const img = await decodeToPaperRgb(file);
    expect(img.source).toMatchObject({ width: 32, height: 64 });
    // After rotating clockwise the red (left) half is on top.
    const top = pixel(img.data, 128, 20);
    const bottom = pixel(img.data, 128, 236);
    expect(top[0]).toBeGreaterThan(200);
    expect(top[2]).toBeLessThan(60);
    expect(bottom[2]).toBeGreaterThan(200);
    expect(bottom[0]).toBeLessThan(60);
  });

  it('decodes a path and the same bytes as a Buffer identically', async () => {
    const target = path.join(datasets, 'real/Zelex-images__kodak__kodim01.png');
    const a = await preprocessImage(target, { inputSize: 224, normalisation: NORMALISATIONS.unit });
    const b = await preprocessImage(fs.readFileSync(target), { inputSize: 224, normalisation: NORMALISATIONS.unit });
    expect(a.length).toBe(224 * 224 * 3);
    expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
    const min = a.reduce((m, v) => Math.min(m, v), Infinity);
    const max = a.reduce((m, v) => Math.max(m, v), -Infinity);
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThanOrEqual(1);
    expect(max - min).toBeGreaterThan(0.5);
  });
});

describe('toModelInput', () => {
  const rgb = new Uint8Array(noiseRgb(PAPER_SIZE, PAPER_SIZE, 3));

  it('keeps 256 px inputs exact and normalises per channel', () => {
    const unit = toModelInput(rgb, { inputSize: 256, normalisation: NORMALISATIONS.unit });
    const sym = toModelInput(rgb, { inputSize: 256, normalisation: NORMALISATIONS.symmetric });
    for (const i of [0, 1, 2, 1000, rgb.length - 1]) {
      expect(unit[i]).toBeCloseTo(rgb[i] / 255, 6);
      expect(sym[i]).toBeCloseTo(rgb[i] / 127.5 - 1, 5);
    }
  });

  it('flip mirrors columns', () => {
    for (const size of [256, 224, 299]) {
      const a = toModelInput(rgb, { inputSize: size, normalisation: NORMALISATIONS.unit });
      const f = toModelInput(rgb, { inputSize: size, normalisation: NORMALISATIONS.unit, flip: true });
      for (const [x, y] of [[0, 0], [5, 17], [size - 1, size - 1]]) {
        for (let c = 0; c < 3; c++) expect(f[(y * size + (size - 1 - x)) * 3 + c]).toBeCloseTo(a[(y * size + x) * 3 + c], 6);
      }
    }
  });

  it('resizes a constant image to the same constant and a ramp to a ramp', () => {
    const constant = new Uint8Array(PAPER_SIZE * PAPER_SIZE * 3).fill(77);
    const out = toModelInput(constant, { inputSize: 299, normalisation: NORMALISATIONS.unit });
    expect(out.every((v) => Math.abs(v - 77 / 255) < 1e-6)).toBe(true);
    const ramp = new Uint8Array(PAPER_SIZE * PAPER_SIZE * 3);
    for (let y = 0; y < PAPER_SIZE; y++) for (let x = 0; x < PAPER_SIZE; x++) ramp.fill(x, (y * PAPER_SIZE + x) * 3, (y * PAPER_SIZE + x) * 3 + 3);
    const small = toModelInput(ramp, { inputSize: 224, normalisation: NORMALISATIONS.unit });
    // Half-pixel centres: output column x samples source column (x + 0.5) * 256/224 - 0.5.
    for (const x of [0, 50, 111, 223]) {
      const expected = Math.min(Math.max((x + 0.5) * (256 / 224) - 0.5, 0), 255) / 255;
      expect(small[(10 * 224 + x) * 3]).toBeCloseTo(expected, 5);
    }
  });

  it('writes into a batch buffer at an offset', () => {
    const n = 224 * 224 * 3;
    const batch = new Float32Array(2 * n).fill(-9);
    toModelInput(rgb, { inputSize: 224, normalisation: NORMALISATIONS.unit }, batch, n);
    expect(batch[0]).toBe(-9);
    expect(batch[n - 1]).toBe(-9);
    const single = toModelInput(rgb, { inputSize: 224, normalisation: NORMALISATIONS.unit });
    expect(Buffer.from(batch.buffer, n * 4).equals(Buffer.from(single.buffer))).toBe(true);
  });

  it('parses normalisations as manifests spell them', () => {
    expect(parseNormalisation('[0,1]')).toBe(NORMALISATIONS.unit);
    expect(parseNormalisation({ name: 'symmetric' })).toBe(NORMALISATIONS.symmetric);
    const ms = parseNormalisation({ mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] });
    expect(ms.scale[0]).toBeCloseTo(2 / 255, 8);
    expect(ms.offset[0]).toBeCloseTo(-1, 8);
    expect(() => parseNormalisation('sideways')).toThrow(/Unknown normalisation/);
  });
});
