// Inspects one image file: metadata, generator traces, content credentials and the forensic views,
// combined into one finding. The file is opened read-only and read once; every reader is bounded
// (provenance-limits.ts) and a reader that fails adds "unreadable: why" instead of stopping the rest.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { isJpeg, readJpegStructure, type JpegStructure } from './jpeg-structure';
import { isPng, readPngStructure, type PngStructure } from './png-chunks';
import { readImageMetadata, type MetadataSummary } from './image-metadata';
import { estimateJpegQuality, type QuantisationEstimate } from './jpeg-quantisation';
import { findGeneratorSignatures, type GeneratorSignature } from './generator-signatures';
import { findJpegJumbf, findPngJumbf, inspectJumbf, scanForJumbf, type JumbfInspection } from './jumbf-boxes';
import { manifestReferenceInXmp, readC2pa, type C2paSummary } from './c2pa-manifest';
import { computeForensicViews, type SpectrumData } from './forensic-views';
import { combineFindings, type ClassifierWitness, type CombinedFinding } from './combine-findings';
import { PROVENANCE_LIMITS, type UnreadableNote } from './provenance-limits';
import { readerVersions } from './reader-versions';

export interface ProvenanceReport {
  file: { name: string | null; sha256: string; sizeBytes: number; format: 'jpeg' | 'png' | 'other'; width: number | null; height: number | null };
  metadata: Omit<MetadataSummary, 'xmpPackets'> | null;
  quantisation: QuantisationEstimate | null;
  signatures: GeneratorSignature[];
  c2pa: C2paSummary;
  views: {
    width: number;
    height: number;
    spectrum: SpectrumData | null;
    spectrumNote?: string;
    ela: { quality: number; meanError: number; maxError: number; amplification: number };
  } | null;
  unreadable: UnreadableNote[];
  finding: CombinedFinding;
  classifier: ClassifierWitness | null;
  readerVersions: Record<string, string>;
  inspectedAt: string;
}

export interface ProvenanceImages {
  spectrum: Buffer | null;
  ela: Buffer | null;
  noise: Buffer | null;
}

export interface InspectResult {
  report: ProvenanceReport;
  images: ProvenanceImages;
}

export interface InspectOptions {
  /** JPEG quality of the ELA re-save (default 90). */
  elaQuality?: number;
  /** The detector's verdict on the same file, when there is one. */
  classifier?: ClassifierWitness | null;
  /** Skip the pixel views (metadata only). */
  skipViews?: boolean;
}

/** Reads the file through a read-only descriptor: evidence originals are never opened for writing. */
export async function readEvidenceBytes(file: string): Promise<Uint8Array> {
  const handle = await fs.promises.open(file, 'r');
  try {
    const { size } = await handle.stat();
    if (size > PROVENANCE_LIMITS.maxFileBytes) {
      throw Object.assign(new Error(`${file} is ${size} bytes, over the ${PROVENANCE_LIMITS.maxFileBytes}-byte inspection limit`), { code: 'FILE_TOO_LARGE' });
    }
    const buf = Buffer.alloc(size);
    let read = 0;
    while (read < size) {
      const { bytesRead } = await handle.read(buf, read, size - read, read);
      if (bytesRead === 0) break;
      read += bytesRead;
    }
    return buf.subarray(0, read);
  } finally {
    await handle.close();
  }
}

function guard<T>(reader: string, problems: UnreadableNote[], fn: () => T, fallback: T): T {
  try {
    return fn();
  } catch (e) {
    problems.push({ reader, why: (e as Error).message });
    return fallback;
  }
}

export async function inspectImageBytes(bytes: Uint8Array, name: string | null, options: InspectOptions = {}): Promise<InspectResult> {
  const problems: UnreadableNote[] = [];
  const format = isJpeg(bytes) ? 'jpeg' : isPng(bytes) ? 'png' : 'other';
  const jpeg: JpegStructure | null = format === 'jpeg' ? guard('jpeg', problems, () => readJpegStructure(bytes), null) : null;
  const png: PngStructure | null = format === 'png' ? guard('png', problems, () => readPngStructure(bytes), null) : null;
  problems.push(...(jpeg?.problems ?? []), ...(png?.problems ?? []));

  let metadata: MetadataSummary | null = null;
  try {
    metadata = await readImageMetadata(bytes, jpeg, png, problems);
  } catch (e) {
    problems.push({ reader: 'metadata', why: (e as Error).message });
  }
  const quantisation = jpeg ? guard('jpeg-dqt', problems, () => estimateJpegQuality(jpeg.quantTables), null) : null;
  const signatures = metadata ? guard('signatures', problems, () => findGeneratorSignatures(bytes, png, metadata!), []) : [];

  const jumbf: JumbfInspection | null = guard(
    'jumbf',
    problems,
    () => {
      const loc = (jpeg && findJpegJumbf(bytes, jpeg)) || (png && findPngJumbf(bytes, png)) || scanForJumbf(bytes);
      return loc ? inspectJumbf(loc) : null;
    },
    null,
  );
  if (jumbf?.problem) problems.push({ reader: 'jumbf', why: jumbf.problem });
  let c2pa: C2paSummary;
  try {
    c2pa = await readC2pa(bytes, jumbf, metadata ? manifestReferenceInXmp(metadata.xmpPackets) : undefined);
  } catch (e) {
    c2pa = { state: 'present-not-validated', statement: `C2PA manifest present, not validated: ${(e as Error).message}`, manifestLabels: [], actions: [], ingredients: [], failures: [], passed: [], problem: (e as Error).message };
  }

  let views: ProvenanceReport['views'] = null;
  let images: ProvenanceImages = { spectrum: null, ela: null, noise: null };
  if (!options.skipViews) {
    try {
      const v = await computeForensicViews(bytes, { elaQuality: options.elaQuality, isJpeg: format === 'jpeg' });
      views = { width: v.width, height: v.height, spectrum: v.spectrum, spectrumNote: v.spectrumNote, ela: v.ela };
      images = v.images;
    } catch (e) {
      problems.push({ reader: 'pixels', why: `the image does not decode: ${(e as Error).message}` });
    }
  }

  const finding = combineFindings({
    c2pa,
    signatures,
    metadata,
    quantisation,
    spectrum: views?.spectrum ?? null,
    unreadable: problems,
    classifier: options.classifier ?? null,
  });
  const { xmpPackets: _x, ...metadataForReport } = metadata ?? ({ xmpPackets: [] } as unknown as MetadataSummary);
  return {
    report: {
      file: {
        name,
        sha256: crypto.createHash('sha256').update(bytes).digest('hex'),
        sizeBytes: bytes.length,
        format,
        width: jpeg?.width ?? png?.width ?? views?.width ?? null,
        height: jpeg?.height ?? png?.height ?? views?.height ?? null,
      },
      metadata: metadata ? metadataForReport : null,
      quantisation,
      signatures,
      c2pa,
      views,
      unreadable: problems,
      finding,
      classifier: options.classifier ?? null,
      readerVersions: readerVersions(),
      inspectedAt: new Date().toISOString(),
    },
    images,
  };
}

export async function inspectImageFile(file: string, options: InspectOptions = {}): Promise<InspectResult> {
  const bytes = await readEvidenceBytes(file);
  const name = file.split(/[\\/]/).pop() ?? null;
  return inspectImageBytes(bytes, name, options);
}
