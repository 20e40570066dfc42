// Every reader is bounded: by bytes it will look at and by how many structures it will walk, so a
// hostile file ends as "unreadable: why" instead of a stall or an out-of-memory crash.
export const PROVENANCE_LIMITS = {
  /** Whole-file cap for inspection (evidence larger than this is reported, not read). */
  maxFileBytes: 512 * 1024 * 1024,
  /** JPEG markers, PNG chunks and JUMBF boxes walked per file. */
  maxStructures: 20_000,
  /** Total XMP text handed to the XMP reader. */
  maxXmpBytes: 4 * 1024 * 1024,
  /** Decompressed size of one PNG zTXt/iTXt chunk. */
  maxInflatedTextBytes: 8 * 1024 * 1024,
  /** TIFF IFDs followed (IFD0, IFD1, Exif, GPS, Interop and any chain). */
  maxIfds: 64,
  maxIfdEntries: 4096,
  /** JUMBF nesting depth and size handed to the C2PA validator. */
  maxJumbfDepth: 32,
  maxJumbfBytes: 64 * 1024 * 1024,
  /** Wall-clock budget of the asynchronous C2PA validation. */
  c2paValidationMs: 20_000,
  /** Pixels decoded for the forensic views (sharp's limitInputPixels). */
  maxInputPixels: 268_402_689,
} as const;

/** A reader that gave up: which one and why, in words an examiner can act on. */
export interface UnreadableNote {
  reader: string;
  why: string;
}

export const EXCERPT_CHARS = 160;

/** Printable excerpt of bytes: text where it is text, \xNN elsewhere. */
export function excerptBytes(bytes: Uint8Array, max = EXCERPT_CHARS): string {
  let out = '';
  for (let i = 0; i < bytes.length && out.length < max; i++) {
    const b = bytes[i];
    if (b >= 0x20 && b < 0x7f) out += String.fromCharCode(b);
    else if (b === 0x0a) out += '\\n';
    else out += `\\x${b.toString(16).padStart(2, '0')}`;
  }
  return out.length > max ? out.slice(0, max) : out;
}

/** Finds an ASCII needle in bytes; -1 when absent. Bounded by the haystack itself. */
export function indexOfAscii(hay: Uint8Array, needle: string, from = 0, to = hay.length): number {
  const n = Buffer.from(needle, 'latin1');
  const buf = Buffer.from(hay.buffer, hay.byteOffset, Math.min(to, hay.length));
  return buf.indexOf(n, from);
}
