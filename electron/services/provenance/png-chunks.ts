// A bounded walk of PNG chunks with their offsets: text chunks (where generators write their
// settings), caBX (C2PA), eXIf, iCCP. CRCs are checked; a bad chunk is reported and the walk stops.
import zlib from 'node:zlib';
import { PROVENANCE_LIMITS, type UnreadableNote } from './provenance-limits';

export interface PngChunk {
  type: string;
  /** Offset of the chunk's length field. */
  offset: number;
  dataOffset: number;
  dataLength: number;
  crcOk: boolean;
}

export interface PngTextChunk {
  type: 'tEXt' | 'iTXt' | 'zTXt';
  keyword: string;
  text: string;
  offset: number;
  /** Where the text starts in the file (compressed text: the compressed stream). */
  textOffset: number;
  compressed: boolean;
  /** Length of the whole (decompressed) text; `text` is cut at the text limit when longer. */
  fullLength: number;
}

export interface PngStructure {
  chunks: PngChunk[];
  texts: PngTextChunk[];
  width: number | null;
  height: number | null;
  problems: UnreadableNote[];
}

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

export function isPng(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && SIGNATURE.every((b, i) => bytes[i] === b);
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(bytes: Uint8Array, start: number, end: number): number {
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function u32(b: Uint8Array, p: number): number {
  return ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;
}

export function readPngStructure(bytes: Uint8Array): PngStructure {
  const out: PngStructure = { chunks: [], texts: [], width: null, height: null, problems: [] };
  let pos = 8;
  while (pos < bytes.length) {
    if (out.chunks.length >= PROVENANCE_LIMITS.maxStructures) {
      out.problems.push({ reader: 'png', why: `more than ${PROVENANCE_LIMITS.maxStructures} PNG chunks` });
      break;
    }
    if (pos + 12 > bytes.length) {
      out.problems.push({ reader: 'png', why: `chunk header at offset ${pos} is cut off (file ends at ${bytes.length})` });
      break;
    }
    const len = u32(bytes, pos);
    const type = Buffer.from(bytes.buffer, bytes.byteOffset + pos + 4, 4).toString('latin1');
    if (!/^[A-Za-z]{4}$/.test(type)) {
      out.problems.push({ reader: 'png', why: `malformed chunk type at offset ${pos + 4}` });
      break;
    }
    if (len > 0x7fffffff || pos + 12 + len > bytes.length) {
      out.problems.push({ reader: 'png', why: `chunk ${type} at offset ${pos} declares ${len} bytes, past the end of the file` });
      break;
    }
    const dataOffset = pos + 8;
    const crcOk = crc32(bytes, pos + 4, dataOffset + len) === u32(bytes, dataOffset + len);
    const chunk: PngChunk = { type, offset: pos, dataOffset, dataLength: len, crcOk };
    out.chunks.push(chunk);
    if (!crcOk) out.problems.push({ reader: 'png', why: `chunk ${type} at offset ${pos} fails its CRC (damaged or edited)` });
    if (type === 'IHDR' && len >= 8) {
      out.width = u32(bytes, dataOffset);
      out.height = u32(bytes, dataOffset + 4);
    }
    if (type === 'tEXt' || type === 'iTXt' || type === 'zTXt') {
      const text = decodeTextChunk(bytes, chunk);
      if ('why' in text) out.problems.push(text);
      else out.texts.push(text);
    }
    pos = dataOffset + len + 4;
    if (type === 'IEND') break;
  }
  return out;
}

function inflateBounded(data: Uint8Array): Buffer {
  return zlib.inflateSync(data, { maxOutputLength: PROVENANCE_LIMITS.maxInflatedTextBytes });
}

// Uncompressed text is kept up to the same limit as inflated text; its full length is still reported.
function cut(body: Buffer, encoding: 'latin1' | 'utf8'): string {
  return body.subarray(0, PROVENANCE_LIMITS.maxInflatedTextBytes).toString(encoding);
}

function decodeTextChunk(bytes: Uint8Array, c: PngChunk): PngTextChunk | UnreadableNote {
  const data = Buffer.from(bytes.buffer, bytes.byteOffset + c.dataOffset, c.dataLength);
  const nul = data.indexOf(0);
  const bad = (why: string): UnreadableNote => ({ reader: 'png-text', why: `${c.type} chunk at offset ${c.offset}: ${why}` });
  if (nul < 1 || nul > 79) return bad('keyword missing or longer than 79 bytes');
  const keyword = data.subarray(0, nul).toString('latin1');
  const base = { type: c.type as PngTextChunk['type'], keyword, offset: c.offset };
  try {
    if (c.type === 'tEXt') {
      const body = data.subarray(nul + 1);
      return { ...base, text: cut(body, 'latin1'), textOffset: c.dataOffset + nul + 1, compressed: false, fullLength: body.length };
    }
    if (c.type === 'zTXt') {
      if (data[nul + 1] !== 0) return bad('unknown compression method');
      const body = inflateBounded(data.subarray(nul + 2));
      return { ...base, text: body.toString('latin1'), textOffset: c.dataOffset + nul + 2, compressed: true, fullLength: body.length };
    }
    // iTXt: keyword\0 flag method language\0 translated\0 text
    const flag = data[nul + 1];
    const lang = data.indexOf(0, nul + 3);
    const trans = lang < 0 ? -1 : data.indexOf(0, lang + 1);
    if (lang < 0 || trans < 0) return bad('language or translated keyword not terminated');
    const body = data.subarray(trans + 1);
    const decoded = flag ? inflateBounded(body) : body;
    return { ...base, text: cut(decoded, 'utf8'), textOffset: c.dataOffset + trans + 1, compressed: Boolean(flag), fullLength: decoded.length };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ERR_BUFFER_TOO_LARGE' || /larger than|maxOutputLength/i.test(err.message)) {
      return bad(`text inflates past the ${PROVENANCE_LIMITS.maxInflatedTextBytes}-byte limit`);
    }
    return bad(`compressed text does not inflate (${err.message})`);
  }
}
