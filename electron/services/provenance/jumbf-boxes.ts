// Finds C2PA JUMBF wherever it can sit (JPEG APP11, PNG caBX, otherwise a bounded byte scan for a
// 'jumb' superbox labelled c2pa) and checks the box tree itself, so a corrupt box gets a reason
// even before the C2PA library sees it.
import type { JpegStructure } from './jpeg-structure';
import type { PngStructure } from './png-chunks';
import { indexOfAscii, PROVENANCE_LIMITS } from './provenance-limits';

export interface JumbfBox {
  type: string;
  /** Offset in the JUMBF stream (not in the file). */
  offset: number;
  length: number;
  label?: string;
  children?: JumbfBox[];
}

export interface JumbfLocation {
  container: 'jpeg-app11' | 'png-caBX' | 'byte-scan';
  /** File offsets of the segments or chunk that carry it. */
  fileOffsets: number[];
  bytes: Uint8Array;
}

export interface JumbfInspection {
  location: JumbfLocation;
  /** The top-level box, when the tree parses. */
  root: JumbfBox | null;
  /** Labels of the manifests in the store (children of the c2pa superbox). */
  manifestLabels: string[];
  problem?: string;
}

function u32(b: Uint8Array, p: number): number {
  return ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;
}
function ascii(b: Uint8Array, p: number, n: number): string {
  return Buffer.from(b.buffer, b.byteOffset + p, n).toString('latin1');
}

/** JPEG: APP11 segments "JP" + En + Z, concatenated per box instance (En) in sequence order (Z). */
export function findJpegJumbf(bytes: Uint8Array, jpeg: JpegStructure): JumbfLocation | null {
  const parts = new Map<number, { z: number; data: Uint8Array; offset: number }[]>();
  for (const s of jpeg.segments) {
    if (s.marker !== 0xeb || s.dataLength < 16) continue;
    const d = bytes.subarray(s.dataOffset, s.dataOffset + s.dataLength);
    if (d[0] !== 0x4a || d[1] !== 0x50) continue;
    const en = (d[2] << 8) | d[3];
    const z = u32(d, 4);
    const list = parts.get(en) ?? [];
    list.push({ z, data: d, offset: s.offset });
    parts.set(en, list);
  }
  for (const list of parts.values()) {
    list.sort((a, b) => a.z - b.z);
    // The first segment carries the box header; later ones repeat it (8 bytes, 16 with XLBox).
    for (let k = 0; k < list.length; k++) {
      const d = list[k].data;
      list[k].data = k === 0 ? d.subarray(8) : d.subarray(8 + (u32(d, 8) === 1 ? 16 : 8));
    }
    const first = list[0];
    if (ascii(first.data, 4, 4) !== 'jumb') continue;
    const total = list.reduce((n, p) => n + p.data.length, 0);
    if (total > PROVENANCE_LIMITS.maxJumbfBytes) continue;
    const merged = new Uint8Array(total);
    let at = 0;
    for (const p of list) {
      merged.set(p.data, at);
      at += p.data.length;
    }
    return { container: 'jpeg-app11', fileOffsets: list.map((p) => p.offset), bytes: merged };
  }
  return null;
}

export function findPngJumbf(bytes: Uint8Array, png: PngStructure): JumbfLocation | null {
  const c = png.chunks.find((x) => x.type === 'caBX');
  if (!c) return null;
  return { container: 'png-caBX', fileOffsets: [c.offset], bytes: bytes.subarray(c.dataOffset, c.dataOffset + c.dataLength) };
}

/** Other containers (WebP, HEIF, ...): a 'jumb' box whose description box is labelled c2pa. */
export function scanForJumbf(bytes: Uint8Array): JumbfLocation | null {
  let from = 0;
  for (let tries = 0; tries < 1000; tries++) {
    const i = indexOfAscii(bytes, 'jumb', from);
    if (i < 4) {
      if (i < 0) return null;
      from = i + 4;
      continue;
    }
    const start = i - 4;
    const len = u32(bytes, start);
    if (len >= 16 && ascii(bytes, i + 4, 4) === 'jumd') {
      const end = Math.min(bytes.length, start + len);
      return { container: 'byte-scan', fileOffsets: [start], bytes: bytes.subarray(start, end) };
    }
    from = i + 4;
  }
  return null;
}

/** Parses the box tree with bounds, depth and count limits; throws Error(why) on a corrupt box. */
export function parseJumbfTree(stream: Uint8Array): JumbfBox {
  let count = 0;
  const parse = (p: number, end: number, depth: number): JumbfBox => {
    if (++count > PROVENANCE_LIMITS.maxStructures) throw new Error(`more than ${PROVENANCE_LIMITS.maxStructures} JUMBF boxes`);
    if (depth > PROVENANCE_LIMITS.maxJumbfDepth) throw new Error(`JUMBF boxes nested deeper than ${PROVENANCE_LIMITS.maxJumbfDepth}`);
    if (p + 8 > end) throw new Error(`JUMBF box header at offset ${p} is cut off`);
    let len = u32(stream, p);
    const type = ascii(stream, p + 4, 4);
    let header = 8;
    if (len === 1) {
      if (p + 16 > end) throw new Error(`JUMBF box at offset ${p} has a cut-off extended length`);
      const hi = u32(stream, p + 8);
      if (hi !== 0) throw new Error(`JUMBF box at offset ${p} declares more than 4 GiB`);
      len = u32(stream, p + 12);
      header = 16;
    } else if (len === 0) len = end - p;
    if (len < header || p + len > end) {
      throw new Error(`JUMBF box '${type.replace(/[^\x20-\x7e]/g, '?')}' at offset ${p} declares ${len} bytes, past the end of its container (${end - p} left)`);
    }
    const box: JumbfBox = { type, offset: p, length: len };
    if (type === 'jumb') {
      box.children = [];
      let q = p + header;
      while (q < p + len) {
        const child = parse(q, p + len, depth + 1);
        box.children.push(child);
        q += child.length;
      }
      const desc = box.children[0];
      if (!desc || desc.type !== 'jumd') throw new Error(`JUMBF superbox at offset ${p} does not start with a description box`);
      box.label = desc.label;
    } else if (type === 'jumd') {
      // 16-byte content type UUID, toggles, then a NUL-terminated label when toggle bit 1 is set.
      const body = p + header;
      if (body + 17 > p + len) throw new Error(`JUMBF description box at offset ${p} is too short`);
      const toggles = stream[body + 16];
      if (toggles & 0x02) {
        const labelEnd = stream.indexOf(0, body + 17);
        if (labelEnd < 0 || labelEnd >= p + len) throw new Error(`JUMBF label at offset ${body + 17} is not terminated`);
        box.label = Buffer.from(stream.buffer, stream.byteOffset + body + 17, labelEnd - body - 17).toString('utf8');
      }
    }
    return box;
  };
  return parse(0, stream.length, 0);
}

export function inspectJumbf(location: JumbfLocation): JumbfInspection {
  try {
    const root = parseJumbfTree(location.bytes);
    const manifestLabels = (root.children ?? []).filter((c) => c.type === 'jumb').map((c) => c.label ?? '(unlabelled)');
    if (root.label !== 'c2pa') {
      return { location, root, manifestLabels, problem: `JUMBF superbox is labelled ${JSON.stringify(root.label ?? null)}, not "c2pa"` };
    }
    return { location, root, manifestLabels };
  } catch (e) {
    return { location, root: null, manifestLabels: [], problem: (e as Error).message };
  }
}
