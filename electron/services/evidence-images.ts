// Pictures of evidence for the renderer, always through the API (never file:// from the renderer):
// a thumbnail generated once with sharp and cached under the data folder by content hash, and the
// stored copy itself at full resolution (converted to PNG only when a browser cannot show its format).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import type { CaseStore } from './case-store';

export const THUMBNAIL_SIDE = 256;
const BROWSER_FORMATS = new Set(['image/jpeg', 'image/png', 'image/webp', 'image/gif', 'image/avif']);
const MAX_PIXELS = 180_000_000;

export type ImageOrProblem = { dataUrl: string; width: number; height: number; problem?: undefined } | { dataUrl: null; problem: string };

export function thumbnailCachePath(dataDir: string, sha256: string): string {
  return path.join(dataDir, 'thumbnails', `${sha256}-${THUMBNAIL_SIDE}.webp`);
}

/** Returns the cached thumbnail, generating it on first request (written to a temp name, then renamed). */
export async function evidenceThumbnail(store: CaseStore, dataDir: string, evidenceId: string): Promise<ImageOrProblem> {
  const evidence = store.getEvidence(evidenceId);
  const cached = thumbnailCachePath(dataDir, evidence.sha256);
  let bytes: Buffer | undefined;
  try {
    bytes = await fs.promises.readFile(cached);
  } catch {
    // Not generated yet.
  }
  if (!bytes) {
    try {
      bytes = await sharp(store.evidenceFilePath(evidence), { autoOrient: true, pages: 1, limitInputPixels: MAX_PIXELS })
        .resize(THUMBNAIL_SIDE, THUMBNAIL_SIDE, { fit: 'inside', withoutEnlargement: true })
        .webp({ quality: 80 })
        .toBuffer();
    } catch (e) {
      return { dataUrl: null, problem: `No thumbnail: the image cannot be decoded (${(e as Error).message}).` };
    }
    await fs.promises.mkdir(path.dirname(cached), { recursive: true });
    const temp = `${cached}.${crypto.randomUUID()}.part`;
    await fs.promises.writeFile(temp, bytes);
    await fs.promises.rename(temp, cached);
  }
  const meta = await sharp(bytes).metadata();
  return { dataUrl: `data:image/webp;base64,${bytes.toString('base64')}`, width: meta.width ?? 0, height: meta.height ?? 0 };
}

/** The stored copy at full resolution, for the viewer. */
export async function evidenceOriginal(store: CaseStore, evidenceId: string): Promise<ImageOrProblem> {
  const evidence = store.getEvidence(evidenceId);
  const file = store.evidenceFilePath(evidence);
  try {
    if (BROWSER_FORMATS.has(evidence.mimeType) && !evidence.unreadableReason) {
      const bytes = await fs.promises.readFile(file);
      return { dataUrl: `data:${evidence.mimeType};base64,${bytes.toString('base64')}`, width: evidence.width ?? 0, height: evidence.height ?? 0 };
    }
    const { data, info } = await sharp(file, { autoOrient: true, pages: 1, limitInputPixels: MAX_PIXELS }).png().toBuffer({ resolveWithObject: true });
    return { dataUrl: `data:image/png;base64,${data.toString('base64')}`, width: info.width, height: info.height };
  } catch (e) {
    return { dataUrl: null, problem: `The stored copy cannot be shown: ${(e as Error).message}` };
  }
}
