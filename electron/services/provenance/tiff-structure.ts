// A structural check of the EXIF (TIFF) block before exifr reads it: every IFD and sub-IFD pointer
// is followed once, with bounds checks, a visited set (an IFD that points back is a loop) and
// count limits. exifr itself does not follow IFD chains, but a forged block still deserves a reason.
import { PROVENANCE_LIMITS, type UnreadableNote } from './provenance-limits';

export interface TiffCheck {
  ifds: { name: string; offset: number; entries: number }[];
  /** The vendor MakerNote (tag 0x927C), which exifr leaves out: where it is and how it starts. */
  makerNote: { fileOffset: number; length: number; head: string } | null;
  problems: UnreadableNote[];
}

const SUB_IFD_TAGS: Record<number, string> = { 0x8769: 'Exif', 0x8825: 'GPS', 0xa005: 'Interop' };

/** `tiff` is the TIFF block (starting with II* or MM*); `fileOffset` is where it sits in the file. */
export function checkTiffStructure(tiff: Uint8Array, fileOffset: number): TiffCheck {
  const out: TiffCheck = { ifds: [], makerNote: null, problems: [] };
  const fail = (why: string) => out.problems.push({ reader: 'exif', why });
  if (tiff.length < 8) {
    fail(`EXIF block at offset ${fileOffset} is ${tiff.length} bytes, too short for a TIFF header`);
    return out;
  }
  const le = tiff[0] === 0x49 && tiff[1] === 0x49;
  const be = tiff[0] === 0x4d && tiff[1] === 0x4d;
  if (!le && !be) {
    fail(`EXIF block at offset ${fileOffset} has no TIFF byte-order mark`);
    return out;
  }
  const view = new DataView(tiff.buffer, tiff.byteOffset, tiff.byteLength);
  const u16 = (p: number) => view.getUint16(p, le);
  const u32 = (p: number) => view.getUint32(p, le);
  if (u16(2) !== 42) {
    fail(`EXIF block at offset ${fileOffset} has a bad TIFF magic number`);
    return out;
  }
  const visited = new Set<number>();
  const queue: { name: string; offset: number }[] = [{ name: 'IFD0', offset: u32(4) }];
  let chainIndex = 0;
  while (queue.length) {
    const { name, offset } = queue.shift()!;
    if (offset === 0) continue;
    if (visited.has(offset)) {
      fail(`IFD loop: ${name} points back to the IFD at TIFF offset ${offset} (file offset ${fileOffset + offset})`);
      continue;
    }
    if (visited.size >= PROVENANCE_LIMITS.maxIfds) {
      fail(`more than ${PROVENANCE_LIMITS.maxIfds} IFDs`);
      break;
    }
    visited.add(offset);
    if (offset + 2 > tiff.length) {
      fail(`${name} at TIFF offset ${offset} lies past the end of the EXIF block (${tiff.length} bytes): truncated`);
      continue;
    }
    const count = u16(offset);
    if (count > PROVENANCE_LIMITS.maxIfdEntries) {
      fail(`${name} declares ${count} entries (limit ${PROVENANCE_LIMITS.maxIfdEntries})`);
      continue;
    }
    const end = offset + 2 + count * 12;
    if (end + 4 > tiff.length) {
      fail(`${name} at TIFF offset ${offset} (${count} entries) runs past the end of the EXIF block: truncated`);
      continue;
    }
    out.ifds.push({ name, offset, entries: count });
    for (let i = 0; i < count; i++) {
      const e = offset + 2 + i * 12;
      const tag = u16(e);
      const sub = SUB_IFD_TAGS[tag];
      if (sub) queue.push({ name: sub, offset: u32(e + 8) });
      if (tag === 0x927c && name === 'Exif') {
        const length = u32(e + 4);
        const at = length > 4 ? u32(e + 8) : e + 8;
        if (at + length <= tiff.length) {
          const head = Buffer.from(tiff.buffer, tiff.byteOffset + at, Math.min(16, length)).toString('latin1').replace(/[^\x20-\x7e]/g, '.');
          out.makerNote = { fileOffset: fileOffset + at, length, head };
        }
      }
    }
    if (name.startsWith('IFD') || name === 'IFD0') {
      const next = u32(end);
      chainIndex++;
      if (next) queue.push({ name: `IFD${chainIndex}`, offset: next });
    }
  }
  return out;
}
