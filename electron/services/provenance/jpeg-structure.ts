// A bounded walk of JPEG markers up to the start of scan, with the offset of every segment, so
// each metadata finding can point at its bytes. DQT tables are parsed here (exifr does not).
import { PROVENANCE_LIMITS, type UnreadableNote } from './provenance-limits';

export interface JpegSegment {
  marker: number;
  /** Offset of the 0xFF marker byte in the file. */
  offset: number;
  /** Offset and length of the payload (after the 2-byte length field). */
  dataOffset: number;
  dataLength: number;
}

export interface QuantTable {
  id: number;
  precision: 8 | 16;
  /** 64 values in natural (row-major) order. */
  values: number[];
  offset: number;
}

export interface JpegStructure {
  segments: JpegSegment[];
  quantTables: QuantTable[];
  width: number | null;
  height: number | null;
  /** Offset of the first SOS marker, if reached. */
  scanOffset: number | null;
  problems: UnreadableNote[];
}

// Zigzag index k holds natural index ZIGZAG[k].
export const ZIGZAG = [
  0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28, 35, 42, 49,
  56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
];

export function isJpeg(bytes: Uint8Array): boolean {
  return bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
}

const SOF_MARKERS = new Set([0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf]);

export function readJpegStructure(bytes: Uint8Array): JpegStructure {
  const out: JpegStructure = { segments: [], quantTables: [], width: null, height: null, scanOffset: null, problems: [] };
  let pos = 2;
  let walked = 0;
  while (pos < bytes.length) {
    if (++walked > PROVENANCE_LIMITS.maxStructures) {
      out.problems.push({ reader: 'jpeg', why: `more than ${PROVENANCE_LIMITS.maxStructures} JPEG segments before the image data` });
      break;
    }
    if (bytes[pos] !== 0xff) {
      out.problems.push({ reader: 'jpeg', why: `expected a JPEG marker at offset ${pos}, found 0x${bytes[pos].toString(16)}` });
      break;
    }
    // Fill bytes (0xFF padding) are allowed between segments.
    while (pos < bytes.length && bytes[pos] === 0xff) pos++;
    if (pos >= bytes.length) break;
    const marker = bytes[pos];
    const markerOffset = pos - 1;
    pos++;
    if (marker === 0xd9) break;
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) continue;
    if (pos + 2 > bytes.length) {
      out.problems.push({ reader: 'jpeg', why: `segment 0xFF${marker.toString(16)} at offset ${markerOffset} is cut off` });
      break;
    }
    const len = (bytes[pos] << 8) | bytes[pos + 1];
    if (len < 2 || pos + len > bytes.length) {
      out.problems.push({
        reader: 'jpeg',
        why: `segment 0xFF${marker.toString(16).toUpperCase()} at offset ${markerOffset} declares ${len} bytes, past the end of the file`,
      });
      break;
    }
    const seg: JpegSegment = { marker, offset: markerOffset, dataOffset: pos + 2, dataLength: len - 2 };
    out.segments.push(seg);
    if (marker === 0xdb) parseDqt(bytes, seg, out);
    if (SOF_MARKERS.has(marker) && seg.dataLength >= 5) {
      out.height = (bytes[seg.dataOffset + 1] << 8) | bytes[seg.dataOffset + 2];
      out.width = (bytes[seg.dataOffset + 3] << 8) | bytes[seg.dataOffset + 4];
    }
    pos += len;
    if (marker === 0xda) {
      out.scanOffset = markerOffset;
      break;
    }
  }
  return out;
}

function parseDqt(bytes: Uint8Array, seg: JpegSegment, out: JpegStructure): void {
  let p = seg.dataOffset;
  const end = seg.dataOffset + seg.dataLength;
  while (p < end) {
    const pq = bytes[p] >> 4;
    const id = bytes[p] & 0x0f;
    const size = pq ? 128 : 64;
    if (p + 1 + size > end || id > 3 || pq > 1) {
      out.problems.push({ reader: 'jpeg-dqt', why: `malformed quantisation table at offset ${p}` });
      return;
    }
    const values = new Array<number>(64);
    for (let k = 0; k < 64; k++) {
      const v = pq ? (bytes[p + 1 + 2 * k] << 8) | bytes[p + 2 + 2 * k] : bytes[p + 1 + k];
      values[ZIGZAG[k]] = v;
    }
    out.quantTables.push({ id, precision: pq ? 16 : 8, values, offset: p });
    p += 1 + size;
  }
}

/** APPn payloads that start with a given identifier (e.g. "Exif\0\0", "http://ns.adobe.com/xap/1.0/\0"). */
export function appSegmentsWithPrefix(bytes: Uint8Array, structure: JpegStructure, marker: number, prefix: string): JpegSegment[] {
  const p = Buffer.from(prefix, 'latin1');
  return structure.segments.filter(
    (s) => s.marker === marker && s.dataLength >= p.length && Buffer.from(bytes.buffer, bytes.byteOffset + s.dataOffset, p.length).equals(p),
  );
}
