// The classic forensic views, computed from decoded pixels (the file itself is only read):
// - the log-magnitude 2-D spectrum of the high-pass residual and its azimuthal average;
// - periodic peaks, searched in that spectrum and in the spectrum of the fixed linear predictor's
//   error map (Kirchner 2008), where resampling such as 2x upsampling shows as lines at 1/2 and
//   1/4 cycles per pixel; JPEG's 8x8 grid shows at multiples of 1/8 and is labelled so;
// - error level analysis (ELA): the difference to a re-save at a chosen JPEG quality, amplified;
// - the noise residual, amplified.
import FFT from 'fft.js';
import sharp from 'sharp';
import { PROVENANCE_LIMITS } from './provenance-limits';

export interface SpectralPeak {
  /** Frequency in cycles per pixel, -0.5..0.5 (fy >= 0: one of each symmetric pair). */
  fx: number;
  fy: number;
  radius: number;
  /** log10 of the peak's power over the median power at its radius. */
  prominence: number;
  spectrum: 'residual' | 'predictor-error';
  note?: string;
}

export interface SpectrumData {
  size: number;
  /** Azimuthally averaged log10 power of the residual spectrum, index = radius in frequency bins. */
  radialPower: { frequency: number; logPower: number }[];
  peaks: SpectralPeak[];
  /** Where the analysed square came from (a centre crop, never resampled: resampling would hide the traces). */
  crop: { left: number; top: number; size: number };
}

export interface ForensicViews {
  width: number;
  height: number;
  spectrum: SpectrumData | null;
  spectrumNote?: string;
  ela: { quality: number; meanError: number; maxError: number; amplification: number };
  images: { spectrum: Buffer | null; ela: Buffer; noise: Buffer };
}

const MAX_SPECTRUM_SIZE = 512;
const MIN_SPECTRUM_SIZE = 64;
const MAX_VIEW_SIDE = 1024;
export const PEAK_PROMINENCE = 1.5;

export interface GreyImage {
  width: number;
  height: number;
  data: Float32Array;
}

/** Decodes with EXIF orientation applied (views line up with what the viewer shows), never writing anything. */
export async function decodeRgb(input: Uint8Array | string): Promise<{ width: number; height: number; rgb: Buffer }> {
  const { data, info } = await sharp(input, { limitInputPixels: PROVENANCE_LIMITS.maxInputPixels, failOn: 'error' })
    .rotate()
    .removeAlpha()
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, rgb: data };
}

export function toGrey(width: number, height: number, rgb: Uint8Array): GreyImage {
  const data = new Float32Array(width * height);
  for (let i = 0, j = 0; i < data.length; i++, j += 3) data[i] = 0.299 * rgb[j] + 0.587 * rgb[j + 1] + 0.114 * rgb[j + 2];
  return { width, height, data };
}

/** x minus its 3x3 box mean (clipped at the borders): removes content, keeps fine texture and traces. */
export function highPassResidual(g: GreyImage): Float32Array {
  const { width: w, height: h, data } = g;
  // Separable: horizontal 3-sums and counts, then vertical, in two linear passes.
  const rowSum = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    const o = y * w;
    for (let x = 0; x < w; x++) rowSum[o + x] = data[o + x] + (x > 0 ? data[o + x - 1] : 0) + (x < w - 1 ? data[o + x + 1] : 0);
  }
  const out = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    const o = y * w;
    const ny = 1 + (y > 0 ? 1 : 0) + (y < h - 1 ? 1 : 0);
    for (let x = 0; x < w; x++) {
      const nx = 1 + (x > 0 ? 1 : 0) + (x < w - 1 ? 1 : 0);
      const s = rowSum[o + x] + (y > 0 ? rowSum[o + x - w] : 0) + (y < h - 1 ? rowSum[o + x + w] : 0);
      out[o + x] = data[o + x] - s / (nx * ny);
    }
  }
  return out;
}

/** Kirchner's fixed linear predictor error, mapped to p = exp(-|e| / scale): resampling makes it periodic. */
function predictorErrorMap(g: GreyImage): Float32Array {
  const { width: w, height: h, data } = g;
  const e = new Float32Array(w * h);
  let sum = 0;
  for (let y = 1; y < h - 1; y++) {
    for (let x = 1; x < w - 1; x++) {
      const i = y * w + x;
      const pred =
        0.5 * (data[i - 1] + data[i + 1] + data[i - w] + data[i + w]) - 0.25 * (data[i - w - 1] + data[i - w + 1] + data[i + w - 1] + data[i + w + 1]);
      e[i] = Math.abs(data[i] - pred);
      sum += e[i];
    }
  }
  const scale = sum / Math.max(1, (w - 2) * (h - 2)) + 1e-3;
  for (let i = 0; i < e.length; i++) e[i] = Math.exp(-e[i] / scale);
  return e;
}

/** 2-D power spectrum (|F|^2), DC at the centre, of an n x n real square with a Hann window. */
export function powerSpectrum2d(values: Float32Array, n: number): Float64Array {
  const fft = new FFT(n);
  const hann = Float64Array.from({ length: n }, (_, i) => 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / (n - 1)));
  let mean = 0;
  for (let i = 0; i < n * n; i++) mean += values[i];
  mean /= n * n;
  const re = new Float64Array(n * n);
  const im = new Float64Array(n * n);
  const rowIn = fft.createComplexArray();
  const rowOut = fft.createComplexArray();
  for (let y = 0; y < n; y++) {
    for (let x = 0; x < n; x++) {
      rowIn[2 * x] = (values[y * n + x] - mean) * hann[x] * hann[y];
      rowIn[2 * x + 1] = 0;
    }
    fft.transform(rowOut, rowIn);
    for (let x = 0; x < n; x++) {
      re[y * n + x] = rowOut[2 * x];
      im[y * n + x] = rowOut[2 * x + 1];
    }
  }
  const power = new Float64Array(n * n);
  const half = n >> 1;
  for (let x = 0; x < n; x++) {
    for (let y = 0; y < n; y++) {
      rowIn[2 * y] = re[y * n + x];
      rowIn[2 * y + 1] = im[y * n + x];
    }
    fft.transform(rowOut, rowIn);
    for (let y = 0; y < n; y++) {
      const p = rowOut[2 * y] ** 2 + rowOut[2 * y + 1] ** 2;
      power[((y + half) % n) * n + ((x + half) % n)] = p;
    }
  }
  return power;
}

interface RadiusIndex {
  /** Rounded radius (in frequency bins from DC) of each spectrum position. */
  bins: Int32Array;
  /** Positions grouped by radius: order[starts[r] .. starts[r + 1]). */
  order: Int32Array;
  starts: Int32Array;
}

const radiusIndexCache = new Map<number, RadiusIndex>();

function radiusIndex(n: number): RadiusIndex {
  const cached = radiusIndexCache.get(n);
  if (cached) return cached;
  const half = n >> 1;
  const bins = new Int32Array(n * n);
  for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) bins[y * n + x] = Math.round(Math.hypot(x - half, y - half));
  const maxR = Math.ceil(half * Math.SQRT2) + 1;
  const starts = new Int32Array(maxR + 2);
  for (let i = 0; i < bins.length; i++) starts[bins[i] + 1]++;
  for (let r = 0; r <= maxR; r++) starts[r + 1] += starts[r];
  const fill = starts.slice();
  const order = new Int32Array(n * n);
  for (let i = 0; i < bins.length; i++) order[fill[bins[i]]++] = i;
  const index = { bins, order, starts };
  radiusIndexCache.set(n, index);
  return index;
}

function radialBins(n: number): Int32Array {
  return radiusIndex(n).bins;
}

/** Median of logP over each radius, with one scratch buffer. */
function radiusMedians(logP: Float64Array, index: RadiusIndex): Float64Array {
  const { order, starts } = index;
  const radii = starts.length - 1;
  const medians = new Float64Array(radii);
  let widest = 0;
  for (let r = 0; r < radii; r++) widest = Math.max(widest, starts[r + 1] - starts[r]);
  const scratch = new Float64Array(widest);
  for (let r = 0; r < radii; r++) {
    const count = starts[r + 1] - starts[r];
    if (!count) continue;
    for (let k = 0; k < count; k++) scratch[k] = logP[order[starts[r] + k]];
    const seg = scratch.subarray(0, count).sort();
    medians[r] = seg[count >> 1];
  }
  return medians;
}

function median(values: number[]): number {
  if (!values.length) return 0;
  const s = Float64Array.from(values).sort();
  return s[s.length >> 1];
}

/**
 * Isolated maxima: a point that stands out by PEAK_PROMINENCE (log10) above the median power at its
 * radius AND above the medians of its row and column neighbours (3..10 bins away), so a ridge
 * (straight edges in the content put energy along an axis) is not mistaken for a periodic trace.
 * One of each symmetric pair is kept; the DC region is excluded.
 */
export function findPeaks(power: Float64Array, n: number, spectrum: SpectralPeak['spectrum'], isJpeg: boolean): SpectralPeak[] {
  const half = n >> 1;
  const index = radiusIndex(n);
  const bins = index.bins;
  const logP = new Float64Array(power.length);
  for (let i = 0; i < power.length; i++) logP[i] = Math.log10(power[i] + 1e-12);
  const medians = radiusMedians(logP, index);
  const at = (x: number, y: number) => logP[(((y % n) + n) % n) * n + (((x % n) + n) % n)];
  const peaks: SpectralPeak[] = [];
  const seen = new Set<string>();
  const minRadius = Math.max(4, n >> 4);
  for (let y = 0; y < n; y++) {
    for (let x = 0; x < n; x++) {
      const i = y * n + x;
      const r = bins[i];
      if (r < minRadius) continue;
      const v = logP[i];
      if (v - medians[r] < PEAK_PROMINENCE) continue;
      let isMax = true;
      for (let dy = -1; dy <= 1 && isMax; dy++) for (let dx = -1; dx <= 1; dx++) if ((dx || dy) && at(x + dx, y + dy) > v) isMax = false;
      if (!isMax) continue;
      const rowNb: number[] = [];
      const colNb: number[] = [];
      for (let d = 3; d <= 10; d++) {
        rowNb.push(at(x + d, y), at(x - d, y));
        colNb.push(at(x, y + d), at(x, y - d));
      }
      const prominence = v - Math.max(medians[r], median(rowNb), median(colNb));
      if (prominence < PEAK_PROMINENCE) continue;
      // Canonical half-plane; -0.5 and +0.5 cycles/pixel are the same (Nyquist) frequency.
      let fx = (x - half) / n;
      let fy = (y - half) / n;
      if (fy < 0 || (fy === 0 && fx < 0)) {
        fx = -fx;
        fy = -fy;
      }
      if (fx === -0.5) fx = 0.5;
      if (fy === -0.5) fy = 0.5;
      fx += 0; // no -0 in reports
      fy += 0;
      const key = `${fx},${fy}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const onAxis = [fx, fy].some((f) => f === 0 || Math.abs(f) === 0.5);
      const eighths = [fx, fy].every((f) => Math.abs(f * 8 - Math.round(f * 8)) < 1e-9);
      peaks.push({
        fx,
        fy,
        radius: Math.round(Math.hypot(fx, fy) * 1000) / 1000,
        prominence: Math.round(prominence * 100) / 100,
        spectrum,
        note:
          isJpeg && eighths
            ? 'at a multiple of 1/8 cycle/pixel: consistent with the JPEG 8x8 block grid'
            : onAxis
              ? 'on an axis: periodic in rows or columns (resampling, upsampling layers or sensor pattern)'
              : undefined,
      });
    }
  }
  return peaks.sort((a, b) => b.prominence - a.prominence).slice(0, 24);
}

function logSpectrumPng(power: Float64Array, n: number): Promise<Buffer> {
  const logP = Float64Array.from(power, (p) => Math.log10(p + 1e-12));
  const sorted = Float64Array.from(logP).sort();
  const lo = sorted[Math.floor(sorted.length * 0.01)];
  const hi = sorted[Math.floor(sorted.length * 0.9995)];
  const out = Buffer.alloc(n * n);
  for (let i = 0; i < out.length; i++) out[i] = Math.max(0, Math.min(255, Math.round(((logP[i] - lo) / (hi - lo || 1)) * 255)));
  return sharp(out, { raw: { width: n, height: n, channels: 1 } }).png().toBuffer();
}

export function computeSpectrum(g: GreyImage, isJpeg: boolean): { data: SpectrumData; power: Float64Array } | null {
  let n = MAX_SPECTRUM_SIZE;
  while (n > Math.min(g.width, g.height)) n >>= 1;
  if (n < MIN_SPECTRUM_SIZE) return null;
  const left = (g.width - n) >> 1;
  const top = (g.height - n) >> 1;
  const crop = new Float32Array(n * n);
  for (let y = 0; y < n; y++) crop.set(g.data.subarray((top + y) * g.width + left, (top + y) * g.width + left + n), y * n);
  const square: GreyImage = { width: n, height: n, data: crop };
  const power = powerSpectrum2d(highPassResidual(square), n);
  const predictorPower = powerSpectrum2d(predictorErrorMap(square), n);
  const bins = radialBins(n);
  const half = n >> 1;
  const sums = new Float64Array(half + 1);
  const counts = new Float64Array(half + 1);
  for (let i = 0; i < power.length; i++) {
    if (bins[i] > half) continue;
    sums[bins[i]] += power[i];
    counts[bins[i]]++;
  }
  const radialPower = Array.from(sums, (s, r) => ({ frequency: r / n, logPower: Math.round(Math.log10(s / Math.max(1, counts[r]) + 1e-12) * 1000) / 1000 }));
  const peaks = [...findPeaks(power, n, 'residual', isJpeg), ...findPeaks(predictorPower, n, 'predictor-error', isJpeg)].sort(
    (a, b) => b.prominence - a.prominence,
  );
  return { data: { size: n, radialPower, peaks: peaks.slice(0, 32), crop: { left, top, size: n } }, power };
}

/** ELA at `quality`: |original - re-saved|, max over channels; returns the per-pixel error too. */
export async function errorLevel(width: number, height: number, rgb: Buffer, quality: number): Promise<{ error: Uint8Array; mean: number; max: number }> {
  const resaved = await sharp(rgb, { raw: { width, height, channels: 3 } })
    .jpeg({ quality, chromaSubsampling: '4:2:0', mozjpeg: false })
    .toBuffer();
  const back = await sharp(resaved).raw().toBuffer();
  const error = new Uint8Array(width * height);
  let sum = 0;
  let max = 0;
  for (let i = 0, j = 0; i < error.length; i++, j += 3) {
    const e = Math.max(Math.abs(rgb[j] - back[j]), Math.abs(rgb[j + 1] - back[j + 1]), Math.abs(rgb[j + 2] - back[j + 2]));
    error[i] = e;
    sum += e;
    if (e > max) max = e;
  }
  return { error, mean: sum / error.length, max };
}

async function viewPng(values: Uint8Array, width: number, height: number): Promise<Buffer> {
  let img = sharp(Buffer.from(values.buffer, values.byteOffset, values.byteLength), { raw: { width, height, channels: 1 } });
  if (Math.max(width, height) > MAX_VIEW_SIDE) img = img.resize(MAX_VIEW_SIDE, MAX_VIEW_SIDE, { fit: 'inside', kernel: 'lanczos3' });
  return img.png().toBuffer();
}

export async function computeForensicViews(input: Uint8Array, options: { elaQuality?: number; isJpeg: boolean }): Promise<ForensicViews> {
  const quality = Math.min(100, Math.max(1, Math.round(options.elaQuality ?? 90)));
  const { width, height, rgb } = await decodeRgb(input);
  const grey = toGrey(width, height, rgb);
  const spectrum = computeSpectrum(grey, options.isJpeg);
  const ela = await errorLevel(width, height, rgb, quality);
  // Amplify so the strongest errors reach white; at least x10 so a clean image does not look noisy.
  const amplification = Math.max(10, Math.floor(255 / Math.max(1, ela.max)));
  const elaView = new Uint8Array(ela.error.length);
  for (let i = 0; i < elaView.length; i++) elaView[i] = Math.min(255, ela.error[i] * amplification);
  const residual = highPassResidual(grey);
  // Gain from the residual's own mean magnitude, so texture is visible without every edge saturating.
  let absSum = 0;
  for (let i = 0; i < residual.length; i++) absSum += Math.abs(residual[i]);
  const noiseGain = Math.min(32, Math.max(2, 24 / (absSum / Math.max(1, residual.length) + 1e-6)));
  const noiseView = new Uint8Array(residual.length);
  for (let i = 0; i < residual.length; i++) noiseView[i] = Math.max(0, Math.min(255, Math.round(128 + residual[i] * noiseGain)));
  const [spectrumPng, elaPng, noisePng] = await Promise.all([
    spectrum ? logSpectrumPng(spectrum.power, spectrum.data.size) : Promise.resolve(null),
    viewPng(elaView, width, height),
    viewPng(noiseView, width, height),
  ]);
  return {
    width,
    height,
    spectrum: spectrum?.data ?? null,
    spectrumNote: spectrum ? undefined : `image smaller than ${MIN_SPECTRUM_SIZE}x${MIN_SPECTRUM_SIZE}: no spectrum`,
    ela: { quality, meanError: Math.round(ela.mean * 1000) / 1000, maxError: ela.max, amplification },
    images: { spectrum: spectrumPng, ela: elaPng, noise: noisePng },
  };
}
