// EXIF, XMP, IPTC and ICC through exifr (a maintained reader), after the structural checks in this
// folder have decided what is safe to hand it. GPS is shown to the examiner and never sent anywhere.
import exifr from 'exifr';
import sharp from 'sharp';
import { appSegmentsWithPrefix, type JpegStructure } from './jpeg-structure';
import type { PngStructure } from './png-chunks';
import { checkTiffStructure } from './tiff-structure';
import { PROVENANCE_LIMITS, type UnreadableNote } from './provenance-limits';
import { pearsonCorrelation } from '../common/pearson';

export interface MetadataRow {
  group: string;
  name: string;
  value: string;
}

export interface ThumbnailCheck {
  offset: number | null;
  length: number;
  width: number | null;
  height: number | null;
  /** Pearson correlation of 16×16 grey downscales of thumbnail and image (1 = same picture). */
  similarity: number | null;
  matchesImage: boolean | null;
  note?: string;
}

export interface MetadataSummary {
  /** Blocks found: exif, gps, xmp, iptc, icc, jfif, ... */
  blocks: string[];
  make: string | null;
  model: string | null;
  lens: string | null;
  captureTime: string | null;
  captureOffset: string | null;
  software: string | null;
  creatorTool: string | null;
  gps: { latitude: number; longitude: number; altitude: number | null } | null;
  orientation: number | null;
  iccProfile: string | null;
  thumbnail: ThumbnailCheck | null;
  /** XMP packets as text (bounded), for the signature scan. */
  xmpPackets: { offset: number; text: string }[];
  /** Total XMP bytes found (also when over the limit and not parsed). */
  xmpBytes: number;
  rows: MetadataRow[];
}

const XMP_ID = 'http://ns.adobe.com/xap/1.0/\0';
const XMP_EXT_ID = 'http://ns.adobe.com/xmp/extension/\0';
const MAX_ROWS = 600;
const MAX_VALUE_CHARS = 300;

function str(v: unknown): string | null {
  if (v === undefined || v === null) return null;
  const s = String(v).replace(/\0+$/, '').trim();
  return s ? s : null;
}

function formatValue(v: unknown): string {
  if (v instanceof Uint8Array) {
    const head = Buffer.from(v.subarray(0, 16)).toString('latin1').replace(/[^\x20-\x7e]/g, '.');
    return `(${v.length} bytes) ${head}`;
  }
  if (Array.isArray(v)) return v.map(formatValue).join(', ').slice(0, MAX_VALUE_CHARS);
  if (v && typeof v === 'object') return JSON.stringify(v).slice(0, MAX_VALUE_CHARS);
  return String(v).replace(/\0/g, '').slice(0, MAX_VALUE_CHARS);
}

function dmsToDegrees(dms: unknown, ref: unknown): number | null {
  if (!Array.isArray(dms) || dms.length < 1) return null;
  const [d, m = 0, s = 0] = dms.map(Number);
  if (![d, m, s].every(Number.isFinite)) return null;
  const deg = d + m / 60 + s / 3600;
  return ref === 'S' || ref === 'W' ? -deg : deg;
}

/** XMP packets and their file offsets, bounded; too much XMP is a reason, not a read. */
function collectXmp(
  bytes: Uint8Array,
  jpeg: JpegStructure | null,
  png: PngStructure | null,
  problems: UnreadableNote[],
): { packets: { offset: number; text: string }[]; total: number } {
  const found: { offset: number; start: number; end: number; text?: string; fullLength?: number }[] = [];
  if (jpeg) {
    for (const s of appSegmentsWithPrefix(bytes, jpeg, 0xe1, XMP_ID)) {
      found.push({ offset: s.offset, start: s.dataOffset + XMP_ID.length, end: s.dataOffset + s.dataLength });
    }
    for (const s of appSegmentsWithPrefix(bytes, jpeg, 0xe1, XMP_EXT_ID)) {
      // GUID (32) + full length (4) + chunk offset (4) precede each extended chunk.
      found.push({ offset: s.offset, start: s.dataOffset + XMP_EXT_ID.length + 40, end: s.dataOffset + s.dataLength });
    }
  }
  if (png) {
    for (const t of png.texts) if (t.keyword === 'XML:com.adobe.xmp') found.push({ offset: t.offset, start: 0, end: 0, text: t.text, fullLength: t.fullLength });
  }
  const total = found.reduce((n, f) => n + (f.fullLength !== undefined ? f.fullLength : Math.max(0, f.end - f.start)), 0);
  if (total > PROVENANCE_LIMITS.maxXmpBytes) {
    problems.push({
      reader: 'xmp',
      why: `XMP is ${total} bytes in ${found.length} block(s), over the ${PROVENANCE_LIMITS.maxXmpBytes}-byte limit; not parsed`,
    });
    return { packets: [], total };
  }
  return {
    packets: found.map((f) => ({ offset: f.offset, text: f.text ?? Buffer.from(bytes.buffer, bytes.byteOffset + f.start, f.end - f.start).toString('utf8') })),
    total,
  };
}

async function grey16(input: Uint8Array): Promise<Float64Array> {
  const raw = await sharp(input, { limitInputPixels: PROVENANCE_LIMITS.maxInputPixels })
    .greyscale()
    .resize(16, 16, { fit: 'fill' })
    .removeAlpha()
    .raw()
    .toBuffer();
  return Float64Array.from(raw);
}

// Below this a thumbnail is treated as another picture: recompression and resizing keep
// correlation of the same picture well above it (the fixtures' camera thumbnails: 0.9 and up).
export const THUMBNAIL_MATCH_THRESHOLD = 0.7;

async function checkThumbnail(bytes: Uint8Array, thumb: Uint8Array, offset: number | null): Promise<ThumbnailCheck> {
  try {
    const meta = await sharp(thumb, { limitInputPixels: PROVENANCE_LIMITS.maxInputPixels }).metadata();
    const [a, b] = await Promise.all([grey16(thumb), grey16(bytes)]);
    const similarity = Math.round(pearsonCorrelation(a, b, 1) * 1000) / 1000;
    const main = await sharp(bytes, { limitInputPixels: PROVENANCE_LIMITS.maxInputPixels }).metadata();
    const ratio = (w?: number, h?: number) => (w && h ? w / h : null);
    const rt = ratio(meta.width, meta.height);
    const ri = ratio(main.width, main.height);
    // Thumbnails are often letterboxed to 160x120, so only a large aspect difference is worth saying.
    const note = rt && ri && Math.abs(Math.log(rt / ri)) > 0.35 ? `thumbnail aspect ratio ${rt.toFixed(2)}, image ${ri.toFixed(2)}: cropped or replaced after the thumbnail was written` : undefined;
    return {
      note,
      offset,
      length: thumb.length,
      width: meta.width ?? null,
      height: meta.height ?? null,
      similarity,
      matchesImage: similarity >= THUMBNAIL_MATCH_THRESHOLD,
    };
  } catch (e) {
    return { offset, length: thumb.length, width: null, height: null, similarity: null, matchesImage: null, note: `thumbnail does not decode: ${(e as Error).message}` };
  }
}

export async function readImageMetadata(
  bytes: Uint8Array,
  jpeg: JpegStructure | null,
  png: PngStructure | null,
  problems: UnreadableNote[],
): Promise<MetadataSummary> {
  const xmp = collectXmp(bytes, jpeg, png, problems);
  let tiffFileOffset: number | null = null;
  let tiffEnd = 0;
  if (jpeg) {
    const exifSeg = appSegmentsWithPrefix(bytes, jpeg, 0xe1, 'Exif\0\0')[0];
    if (exifSeg) {
      tiffFileOffset = exifSeg.dataOffset + 6;
      tiffEnd = exifSeg.dataOffset + exifSeg.dataLength;
    }
  } else if (png) {
    const c = png.chunks.find((x) => x.type === 'eXIf');
    if (c) {
      tiffFileOffset = c.dataOffset;
      tiffEnd = c.dataOffset + c.dataLength;
    }
  }
  const tiffCheck = tiffFileOffset === null ? null : checkTiffStructure(bytes.subarray(tiffFileOffset, tiffEnd), tiffFileOffset);
  if (tiffCheck) problems.push(...tiffCheck.problems);
  const tiffBroken = problems.some((p) => p.reader === 'exif');
  let parsed: Record<string, any> = {};
  try {
    parsed =
      (await exifr.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), {
        tiff: !tiffBroken,
        ifd1: !tiffBroken,
        exif: !tiffBroken,
        gps: !tiffBroken,
        interop: false,
        // exifr does not decode vendor notes; tiff-structure.ts reports where it is and how it starts.
        makerNote: false,
        userComment: false,
        xmp: xmp.packets.length > 0,
        iptc: true,
        icc: true,
        jfif: true,
        ihdr: true,
        mergeOutput: false,
        multiSegment: true,
        reviveValues: false,
        translateValues: false,
        sanitize: true,
      })) ?? {};
  } catch (e) {
    problems.push({ reader: 'exifr', why: (e as Error).message });
  }
  const errors = (parsed as { errors?: unknown[] }).errors;
  if (Array.isArray(errors)) for (const err of errors) problems.push({ reader: 'exifr', why: String((err as Error)?.message ?? err) });

  const ifd0 = parsed.ifd0 ?? {};
  const exif = parsed.exif ?? {};
  const gps = parsed.gps;
  const xmpNs = parsed.xmp ?? parsed.xap ?? {};
  const rows: MetadataRow[] = [];
  for (const [group, block] of Object.entries(parsed)) {
    if (group === 'errors' || !block || typeof block !== 'object') continue;
    for (const [name, value] of Object.entries(block as Record<string, unknown>)) {
      if (value === undefined || rows.length >= MAX_ROWS) continue;
      rows.push({ group, name, value: formatValue(value) });
    }
  }
  if (tiffCheck?.makerNote && !rows.some((r) => r.name === 'MakerNote')) {
    const mn = tiffCheck.makerNote;
    rows.push({ group: 'exif', name: 'MakerNote', value: `(${mn.length} bytes) ${mn.head} at offset ${mn.fileOffset}` });
  }
  const lat = gps ? (typeof gps.latitude === 'number' ? gps.latitude : dmsToDegrees(gps.GPSLatitude, gps.GPSLatitudeRef)) : null;
  const lon = gps ? (typeof gps.longitude === 'number' ? gps.longitude : dmsToDegrees(gps.GPSLongitude, gps.GPSLongitudeRef)) : null;
  const alt = gps && typeof gps.GPSAltitude === 'number' ? gps.GPSAltitude : null;

  let thumbnail: ThumbnailCheck | null = null;
  const ifd1 = parsed.ifd1;
  if (!tiffBroken && ifd1 && typeof ifd1.ThumbnailOffset === 'number' && typeof ifd1.ThumbnailLength === 'number' && tiffFileOffset !== null) {
    const start = tiffFileOffset + ifd1.ThumbnailOffset;
    const end = start + ifd1.ThumbnailLength;
    if (ifd1.ThumbnailLength > 0 && end <= bytes.length) thumbnail = await checkThumbnail(bytes, bytes.subarray(start, end), start);
    else problems.push({ reader: 'exif-thumbnail', why: `thumbnail at offset ${start} (${ifd1.ThumbnailLength} bytes) lies outside the file` });
  }

  const orientation = typeof ifd0.Orientation === 'number' ? ifd0.Orientation : null;
  return {
    blocks: Object.keys(parsed).filter((k) => k !== 'errors'),
    make: str(ifd0.Make),
    model: str(ifd0.Model),
    lens: str(exif.LensModel) ?? str(exif.LensMake),
    captureTime: str(exif.DateTimeOriginal) ?? str(exif.CreateDate) ?? str(ifd0.ModifyDate),
    captureOffset: str(exif.OffsetTimeOriginal) ?? str(exif.OffsetTime),
    software: str(ifd0.Software) ?? str(parsed.ihdr?.Software),
    creatorTool: str(xmpNs.CreatorTool),
    gps: lat !== null && lon !== null ? { latitude: lat, longitude: lon, altitude: alt } : null,
    orientation,
    iccProfile: str(parsed.icc?.ProfileDescription),
    thumbnail,
    xmpPackets: xmp.packets,
    xmpBytes: xmp.total,
    rows,
  };
}
