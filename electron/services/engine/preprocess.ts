// The one image preprocessing path for training and inference: decode with sharp, normalise the
// pixel format, rescale to the paper's 256×256, then to the backbone's input size and value range.
// Training caches the 256×256 RGB bytes (decodeToPaperRgb) and finishes with toModelInput, so both
// sides run exactly the same arithmetic.
import { constants as fsConstants } from 'node:fs';
import fs from 'node:fs/promises';
import sharp, { type OutputInfo } from 'sharp';

/** The paper rescales every real and synthetic image to 256×256, whatever its source resolution. */
export const PAPER_SIZE = 256;

export type ImageErrorCode =
  | 'EMPTY_FILE'
  | 'TRUNCATED'
  | 'CORRUPT'
  | 'NOT_AN_IMAGE'
  | 'UNSUPPORTED_FORMAT'
  | 'TOO_MANY_PIXELS'
  | 'TOO_LARGE'
  | 'NOT_FOUND'
  | 'PERMISSION_DENIED'
  | 'NOT_A_FILE'
  | 'UNREADABLE_NAME'
  | 'READ_FAILED';

export class ImageInputError extends Error {
  constructor(
    readonly code: ImageErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ImageInputError';
  }
}

export interface DecodeLimits {
  /** Read the source's size and format from its header too (default true; analyze skips it). */
  sourceInfo?: boolean;
  /** Width × height above which decoding is refused (decompression bombs). */
  maxPixels?: number;
  /** File size above which a file is refused before it is read. */
  maxFileBytes?: number;
}

// ~179 MP covers 200 MP phone sensors' default output and stops a 2^30-pixel bomb header.
export const DEFAULT_MAX_PIXELS = 180_000_000;
export const DEFAULT_MAX_FILE_BYTES = 256 * 1024 * 1024;

/** Value = pixel(0..255) × scale[c] + offset[c], per RGB channel. */
export interface Normalisation {
  name: string;
  scale: [number, number, number];
  offset: [number, number, number];
}

export const NORMALISATIONS = {
  /** [0, 1]: what nsfwjs and the Tiny Darknet model expect (x / 255). */
  unit: { name: 'unit', scale: [1 / 255, 1 / 255, 1 / 255], offset: [0, 0, 0] },
  /** [-1, 1]: Keras "tf" mode (MobileNet, Inception from keras.applications). */
  symmetric: { name: 'symmetric', scale: [2 / 255, 2 / 255, 2 / 255], offset: [-1, -1, -1] },
  /** ImageNet mean/std on [0, 1] inputs (torchvision). */
  imagenet: {
    name: 'imagenet',
    scale: [1 / (255 * 0.229), 1 / (255 * 0.224), 1 / (255 * 0.225)],
    offset: [-0.485 / 0.229, -0.456 / 0.224, -0.406 / 0.225],
  },
} satisfies Record<string, Normalisation>;

/**
 * Reads a normalisation from a manifest, which may name it ("unit", "[0,1]", "[-1,1]", "imagenet")
 * or spell it out as {scale, offset} or {mean, std} (both on the 0..1 scale).
 */
export function parseNormalisation(value: unknown): Normalisation {
  if (typeof value === 'string') {
    const key = value.toLowerCase().replace(/\s+/g, '');
    if (['unit', '[0,1]', '0-1', '0..1', 'zero-one', 'div255', 'x/255'].includes(key)) return NORMALISATIONS.unit;
    if (['symmetric', '[-1,1]', '-1-1', '-1..1', 'minus-one-one', 'tf'].includes(key)) return NORMALISATIONS.symmetric;
    if (['imagenet', 'torch', 'imagenet-mean-std'].includes(key)) return NORMALISATIONS.imagenet;
    throw new Error(`Unknown normalisation "${value}"`);
  }
  if (value && typeof value === 'object') {
    const v = value as Record<string, unknown>;
    const triple = (x: unknown): [number, number, number] | undefined => {
      if (typeof x === 'number') return [x, x, x];
      if (Array.isArray(x) && x.length === 3 && x.every((n) => typeof n === 'number' && Number.isFinite(n))) {
        return x as [number, number, number];
      }
      return undefined;
    };
    if (typeof v.name === 'string' && !('scale' in v) && !('mean' in v)) return parseNormalisation(v.name);
    const scale = triple(v.scale);
    const offset = triple(v.offset ?? 0);
    if (scale && offset) return { name: typeof v.name === 'string' ? v.name : 'custom', scale, offset };
    const mean = triple(v.mean);
    const std = triple(v.std);
    if (mean && std && std.every((s) => s > 0)) {
      return {
        name: typeof v.name === 'string' ? v.name : 'mean-std',
        scale: [0, 1, 2].map((c) => 1 / (255 * std[c])) as [number, number, number],
        offset: [0, 1, 2].map((c) => -mean[c] / std[c]) as [number, number, number],
      };
    }
  }
  throw new Error(`Cannot read normalisation ${JSON.stringify(value)}`);
}

export interface SourceImageInfo {
  format: DecodableFormat;
  /** Size after EXIF orientation, first frame only; 0 when decoded with sourceInfo: false. */
  width: number;
  height: number;
}

export interface PaperRgb {
  /** 256 × 256 × 3 bytes, row-major RGB, sRGB 8-bit. */
  data: Uint8Array;
  size: typeof PAPER_SIZE;
  source: SourceImageInfo;
}

export interface ModelInputOptions {
  inputSize: number;
  normalisation: Normalisation;
  /** Mirror left-right (the paper's training augmentation). */
  flip?: boolean;
}

export type PreprocessOptions = ModelInputOptions & DecodeLimits;

/** Formats this pipeline decodes; anything else with a recognisable signature is UNSUPPORTED_FORMAT. */
export type DecodableFormat = 'jpeg' | 'png' | 'webp' | 'gif' | 'tiff' | 'avif';

type SniffedFormat =
  | { kind: 'decodable'; format: DecodableFormat }
  | { kind: 'unsupported'; format: string }
  | { kind: 'unknown' };

function startsWith(buf: Uint8Array, bytes: number[], at = 0): boolean {
  if (buf.length < at + bytes.length) return false;
  for (let i = 0; i < bytes.length; i++) if (buf[at + i] !== bytes[i]) return false;
  return true;
}
const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));

/** Identifies the container from its first bytes, not from the file name (names lie in evidence). */
export function sniffImageFormat(buf: Uint8Array): SniffedFormat {
  if (startsWith(buf, [0xff, 0xd8, 0xff])) return { kind: 'decodable', format: 'jpeg' };
  if (startsWith(buf, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return { kind: 'decodable', format: 'png' };
  if (startsWith(buf, ascii('GIF87a')) || startsWith(buf, ascii('GIF89a'))) return { kind: 'decodable', format: 'gif' };
  if (startsWith(buf, ascii('RIFF')) && startsWith(buf, ascii('WEBP'), 8)) return { kind: 'decodable', format: 'webp' };
  if (startsWith(buf, [0x49, 0x49, 0x2a, 0x00]) || startsWith(buf, [0x4d, 0x4d, 0x00, 0x2a])) {
    return { kind: 'decodable', format: 'tiff' };
  }
  if (startsWith(buf, ascii('ftyp'), 4)) {
    const brand = String.fromCharCode(...buf.subarray(8, 12));
    if (brand === 'avif' || brand === 'avis') return { kind: 'decodable', format: 'avif' };
    if (['heic', 'heix', 'hevc', 'hevx', 'mif1', 'msf1', 'heim', 'heis'].includes(brand)) {
      return { kind: 'unsupported', format: 'heic' };
    }
    return { kind: 'unsupported', format: `ISO media (${brand.trim()})` };
  }
  if (startsWith(buf, [0x49, 0x49, 0x2b, 0x00]) || startsWith(buf, [0x4d, 0x4d, 0x00, 0x2b])) {
    return { kind: 'unsupported', format: 'BigTIFF' };
  }
  if (startsWith(buf, ascii('BM'))) return { kind: 'unsupported', format: 'BMP' };
  if (startsWith(buf, [0x00, 0x00, 0x01, 0x00])) return { kind: 'unsupported', format: 'ICO' };
  if (startsWith(buf, ascii('8BPS'))) return { kind: 'unsupported', format: 'PSD' };
  if (startsWith(buf, [0xff, 0x0a]) || startsWith(buf, [0, 0, 0, 0x0c, 0x4a, 0x58, 0x4c, 0x20])) {
    return { kind: 'unsupported', format: 'JPEG XL' };
  }
  if (startsWith(buf, [0, 0, 0, 0x0c, 0x6a, 0x50, 0x20, 0x20]) || startsWith(buf, [0xff, 0x4f, 0xff, 0x51])) {
    return { kind: 'unsupported', format: 'JPEG 2000' };
  }
  if (startsWith(buf, ascii('%PDF'))) return { kind: 'unsupported', format: 'PDF' };
  if (buf.length >= 2 && buf[0] === 0x50 && buf[1] >= 0x31 && buf[1] <= 0x37 && (buf[2] === 0x0a || buf[2] === 0x20 || buf[2] === 0x0d)) {
    return { kind: 'unsupported', format: 'Netpbm' };
  }
  // Vector drawings are rendered, not photographed: there is no camera or generator signal to judge.
  const head = Buffer.from(buf.subarray(0, 512)).toString('latin1').trimStart().toLowerCase();
  if (head.startsWith('<svg') || (head.startsWith('<?xml') && head.includes('<svg'))) return { kind: 'unsupported', format: 'SVG' };
  return { kind: 'unknown' };
}

const JPEG_EOI = Buffer.from([0xff, 0xd9]);
const PNG_IEND = Buffer.from('IEND', 'latin1');

/** Whether the container's end marker is missing: sharp reports truncated PNGs only as "read error". */
function looksTruncated(buf: Uint8Array, format: DecodableFormat): boolean {
  const n = buf.length;
  switch (format) {
    case 'jpeg':
      // Searched over the whole file: motion photos append megabytes of video after the EOI marker.
      return Buffer.from(buf.buffer, buf.byteOffset, n).lastIndexOf(JPEG_EOI) < 0;
    case 'png':
      return Buffer.from(buf.buffer, buf.byteOffset, n).lastIndexOf(PNG_IEND) < 0;
    case 'gif':
      return buf[n - 1] !== 0x3b;
    case 'webp': {
      const declared = n >= 8 ? Buffer.from(buf.buffer, buf.byteOffset, n).readUInt32LE(4) + 8 : Infinity;
      return declared > n;
    }
    default:
      return false;
  }
}

export function classifyDecodeError(err: unknown, buf: Uint8Array, format: DecodableFormat): ImageInputError {
  const message = err instanceof Error ? err.message : String(err);
  if (/pixel limit/i.test(message)) {
    return new ImageInputError('TOO_MANY_PIXELS', `The image declares more pixels than the limit allows (decompression bomb guard): ${message}`);
  }
  if (/premature end|truncat|unexpected end|end of (file|stream|data)|not enough data/i.test(message) || looksTruncated(buf, format)) {
    return new ImageInputError('TRUNCATED', `The ${format.toUpperCase()} data ends early (truncated file): ${message}`);
  }
  if (/unsupported image format/i.test(message) && format === 'avif') {
    return new ImageInputError('UNSUPPORTED_FORMAT', `This build cannot decode ${format}: ${message}`);
  }
  return new ImageInputError('CORRUPT', `The ${format.toUpperCase()} data is damaged and cannot be decoded: ${message}`);
}

/** Reads a file into memory after checking it exists, is a regular file, is not empty and not too big. */
export async function readImageFile(
  filePath: string,
  limits: DecodeLimits = {},
  /** Called with the size before the bytes are read (a memory budget can wait here). */
  reserve?: (bytes: number) => Promise<void>,
  /** Refuse a symbolic link at the last path step (the caller resolved links it means to follow). */
  open: { noFollow?: boolean; displayPath?: string } = {},
): Promise<Buffer> {
  const maxFileBytes = limits.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  const shown = open.displayPath ?? filePath;
  let handle: fs.FileHandle;
  try {
    // Non-blocking: a FIFO swapped in after the folder was listed must not hang the open. The type is
    // checked on the opened descriptor, not by a stat before it, so nothing can change in between.
    handle = await fs.open(filePath, READ_FLAGS | (open.noFollow ? O_NOFOLLOW : 0));
  } catch (e) {
    throw fileSystemError(e, shown);
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new ImageInputError('NOT_A_FILE', `${shown} is not a regular file (${describeFileType(stat)})`);
    if (stat.size === 0) throw new ImageInputError('EMPTY_FILE', 'The file is empty (0 bytes)');
    if (stat.size > maxFileBytes) {
      throw new ImageInputError('TOO_LARGE', `The file is ${stat.size} bytes; the limit is ${maxFileBytes} bytes`);
    }
    await reserve?.(stat.size);
    const buf = Buffer.allocUnsafe(stat.size);
    let read = 0;
    while (read < stat.size) {
      const { bytesRead } = await handle.read(buf, read, stat.size - read, read);
      if (bytesRead === 0) break;
      read += bytesRead;
    }
    if (read === 0) throw new ImageInputError('EMPTY_FILE', 'The file is empty (0 bytes)');
    return read === stat.size ? buf : buf.subarray(0, read);
  } catch (e) {
    throw e instanceof ImageInputError ? e : fileSystemError(e, shown);
  } finally {
    await handle.close();
  }
}

const O_NOFOLLOW = fsConstants.O_NOFOLLOW ?? 0;
const READ_FLAGS = fsConstants.O_RDONLY | (process.platform === 'win32' ? 0 : (fsConstants.O_NONBLOCK ?? 0));

/** What a non-regular file is, in words an examiner reads in an error line. */
export function describeFileType(stat: { isDirectory(): boolean; isFIFO(): boolean; isSocket(): boolean; isSymbolicLink(): boolean; isBlockDevice(): boolean; isCharacterDevice(): boolean }): string {
  if (stat.isDirectory()) return 'a directory';
  if (stat.isFIFO()) return 'a FIFO (named pipe)';
  if (stat.isSocket()) return 'a socket';
  if (stat.isSymbolicLink()) return 'a symbolic link';
  if (stat.isBlockDevice() || stat.isCharacterDevice()) return 'a device';
  return 'not a file';
}

export function fileSystemError(e: unknown, filePath: string): ImageInputError {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return new ImageInputError('NOT_FOUND', `No such file: ${filePath}`);
  if (code === 'EACCES' || code === 'EPERM') return new ImageInputError('PERMISSION_DENIED', `Permission denied: ${filePath}`);
  if (code === 'EISDIR') return new ImageInputError('NOT_A_FILE', `${filePath} is a directory`);
  if (code === 'ELOOP') return new ImageInputError('NOT_A_FILE', `${filePath} is a symbolic link where a file was expected; it was not followed`);
  if (code === 'ENXIO') return new ImageInputError('NOT_A_FILE', `${filePath} is not a regular file (a socket or a device without a driver)`);
  return new ImageInputError('READ_FAILED', `Cannot read ${filePath}: ${(e as Error)?.message ?? e}`);
}

/**
 * Decodes an image to the paper's 256×256 sRGB 8-bit RGB: EXIF orientation applied, first frame of
 * animated files, alpha flattened onto WHITE (how viewers and browsers show transparent images, so a
 * transparent PNG looks to the model as it looks to the examiner), grey / CMYK / 16-bit converted to
 * 3-channel sRGB, then stretched to 256×256 regardless of aspect ratio as in the paper.
 * Truncated and damaged files are errors, never partially decoded results.
 */
export async function decodeToPaperRgb(input: string | Buffer, limits: DecodeLimits = {}): Promise<PaperRgb> {
  const buf = typeof input === 'string' ? await readImageFile(input, limits) : input;
  if (buf.length === 0) throw new ImageInputError('EMPTY_FILE', 'The image data is empty (0 bytes)');
  const maxFileBytes = limits.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  if (buf.length > maxFileBytes) {
    throw new ImageInputError('TOO_LARGE', `The image data is ${buf.length} bytes; the limit is ${maxFileBytes} bytes`);
  }
  const sniffed = sniffImageFormat(buf);
  if (sniffed.kind === 'unknown') {
    throw new ImageInputError('NOT_AN_IMAGE', 'The content is not a recognised image format (checked by its signature, not its name)');
  }
  if (sniffed.kind === 'unsupported') {
    throw new ImageInputError('UNSUPPORTED_FORMAT', `${sniffed.format} images are not supported (supported: JPEG, PNG, WebP, GIF, TIFF, AVIF)`);
  }
  const format = sniffed.format;
  let decoded: { data: Buffer; info: OutputInfo };
  let width = 0;
  let height = 0;
  try {
    const image = sharp(buf, {
      limitInputPixels: limits.maxPixels ?? DEFAULT_MAX_PIXELS,
      failOn: 'truncated',
      autoOrient: true,
      pages: 1,
      page: 0,
      sequentialRead: true,
    });
    decoded = await image
      .flatten({ background: { r: 255, g: 255, b: 255 } })
      .toColourspace('srgb')
      .resize(PAPER_SIZE, PAPER_SIZE, { fit: 'fill' })
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (limits.sourceInfo !== false) {
      const meta = await image.metadata();
      width = meta.autoOrient?.width ?? meta.width ?? 0;
      height = meta.autoOrient?.height ?? meta.pageHeight ?? meta.height ?? 0;
    }
  } catch (e) {
    throw classifyDecodeError(e, buf, format);
  }
  const { data, info } = decoded;
  if (info.width !== PAPER_SIZE || info.height !== PAPER_SIZE || info.channels !== 3 || data.length !== PAPER_SIZE * PAPER_SIZE * 3) {
    throw new ImageInputError('CORRUPT', `Decoder produced ${info.width}×${info.height}×${info.channels}, expected 256×256×3`);
  }
  // libpng decodes a PNG cut after its last image data without complaint; the missing IEND still
  // shows the file is incomplete. (libjpeg already fails a JPEG without its EOI marker.)
  if (format === 'png' && looksTruncated(buf, format)) {
    throw new ImageInputError('TRUNCATED', 'The PNG file has no IEND chunk (truncated file)');
  }
  return {
    data: new Uint8Array(data.buffer, data.byteOffset, data.length),
    size: PAPER_SIZE,
    source: { format, width, height },
  };
}

/**
 * 256×256 RGB bytes → the backbone's NHWC float input: bilinear resize (half-pixel centres, as
 * tf.image.resizeBilinear with halfPixelCenters and ONNX Resize "half_pixel"), optional left-right
 * flip, normalisation. Writes into `out` at `offset` when given, so a batch is filled in place.
 */
export function toModelInput(
  rgb: Uint8Array,
  options: ModelInputOptions,
  out?: Float32Array,
  offset = 0,
): Float32Array {
  const src = PAPER_SIZE;
  if (rgb.length !== src * src * 3) throw new Error(`toModelInput expects ${src}×${src}×3 bytes, got ${rgb.length}`);
  const dst = options.inputSize;
  if (!Number.isInteger(dst) || dst < 1 || dst > 4096) throw new Error(`Invalid input size ${dst}`);
  const target = out ?? new Float32Array(dst * dst * 3);
  if (target.length < offset + dst * dst * 3) throw new Error('Output buffer too small for one image');
  const [s0, s1, s2] = options.normalisation.scale;
  const [o0, o1, o2] = options.normalisation.offset;
  const flip = options.flip === true;

  if (dst === src) {
    for (let y = 0; y < dst; y++) {
      for (let x = 0; x < dst; x++) {
        const si = (y * src + (flip ? src - 1 - x : x)) * 3;
        const di = offset + (y * dst + x) * 3;
        target[di] = rgb[si] * s0 + o0;
        target[di + 1] = rgb[si + 1] * s1 + o1;
        target[di + 2] = rgb[si + 2] * s2 + o2;
      }
    }
    return target;
  }

  // Per-column taps computed once; rows reuse them.
  const ratio = src / dst;
  const x0s = new Int32Array(dst);
  const x1s = new Int32Array(dst);
  const wxs = new Float32Array(dst);
  for (let x = 0; x < dst; x++) {
    const sx = Math.min(Math.max((x + 0.5) * ratio - 0.5, 0), src - 1);
    const x0 = Math.floor(sx);
    const col = flip ? dst - 1 - x : x;
    x0s[col] = x0 * 3;
    x1s[col] = Math.min(x0 + 1, src - 1) * 3;
    wxs[col] = sx - x0;
  }
  for (let y = 0; y < dst; y++) {
    const sy = Math.min(Math.max((y + 0.5) * ratio - 0.5, 0), src - 1);
    const y0 = Math.floor(sy);
    const wy = sy - y0;
    const r0 = y0 * src * 3;
    const r1 = Math.min(y0 + 1, src - 1) * src * 3;
    let di = offset + y * dst * 3;
    for (let x = 0; x < dst; x++, di += 3) {
      const a = r0 + x0s[x];
      const b = r0 + x1s[x];
      const c = r1 + x0s[x];
      const d = r1 + x1s[x];
      const wx = wxs[x];
      const w00 = (1 - wx) * (1 - wy);
      const w01 = wx * (1 - wy);
      const w10 = (1 - wx) * wy;
      const w11 = wx * wy;
      target[di] = (rgb[a] * w00 + rgb[b] * w01 + rgb[c] * w10 + rgb[d] * w11) * s0 + o0;
      target[di + 1] = (rgb[a + 1] * w00 + rgb[b + 1] * w01 + rgb[c + 1] * w10 + rgb[d + 1] * w11) * s1 + o1;
      target[di + 2] = (rgb[a + 2] * w00 + rgb[b + 2] * w01 + rgb[c + 2] * w10 + rgb[d + 2] * w11) * s2 + o2;
    }
  }
  return target;
}

/** Decode + preprocess one image to a [1, inputSize, inputSize, 3] NHWC Float32Array. */
export async function preprocessImage(input: string | Buffer, options: PreprocessOptions): Promise<Float32Array> {
  const rgb = await decodeToPaperRgb(input, options);
  return toModelInput(rgb.data, options);
}
