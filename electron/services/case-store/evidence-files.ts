// File-level custody: read originals without ever opening them for writing, write copies through a
// temporary file that is flushed, re-hashed and made read-only before it takes its final name.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import sharp, { type Metadata } from 'sharp';
import { CaseStoreError } from './case-store-error';

const CHUNK_BYTES = 1 << 20;
// Absent on Windows; there a symlink is caught by the lstat before the open.
const O_NOFOLLOW = fs.constants.O_NOFOLLOW ?? 0;
// A FIFO swapped in after the scan must not block the open.
const O_NONBLOCK = process.platform === 'win32' ? 0 : (fs.constants.O_NONBLOCK ?? 0);
export const READ_ONLY_ORIGINAL = fs.constants.O_RDONLY | O_NOFOLLOW | O_NONBLOCK;

export const SHA256_PATTERN = /^[0-9a-f]{64}$/;
export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export interface CasePaths {
  root: string;
  evidenceDir: string;
  explanationsDir: string;
  partialDir: string;
  ingestLock: string;
}

export function casesRoot(dataDir: string): string {
  return path.join(dataDir, 'cases');
}

export function casePaths(dataDir: string, caseId: string): CasePaths {
  // The id becomes a folder name; only the ids this store generates are allowed.
  if (!UUID_PATTERN.test(caseId)) throw new CaseStoreError('INVALID_ARGUMENT', `Not a case id: ${JSON.stringify(caseId)}`);
  const root = path.join(casesRoot(dataDir), caseId);
  return {
    root,
    evidenceDir: path.join(root, 'evidence'),
    explanationsDir: path.join(root, 'explanations'),
    partialDir: path.join(root, '.partial'),
    ingestLock: path.join(root, 'ingest.lock'),
  };
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CaseStoreError('CANCELLED', 'The operation was cancelled.');
}

/** sha256 and size of a file, read through a read-only, no-follow descriptor. */
export async function hashFile(file: string, signal?: AbortSignal): Promise<{ sha256: string; size: number }> {
  const handle = await fs.promises.open(file, READ_ONLY_ORIGINAL);
  try {
    // Checked on the descriptor: a FIFO or device read would block or never end, a folder cannot be read.
    const st = await handle.stat();
    if (st.isDirectory()) throw Object.assign(new Error(`${file} is a directory`), { code: 'EISDIR' });
    if (!st.isFile()) throw new CaseStoreError('SOURCE_NOT_REGULAR_FILE', `${file} is not a regular file (a FIFO, socket or device).`, { path: file });
    const hash = crypto.createHash('sha256');
    const buf = Buffer.allocUnsafe(CHUNK_BYTES);
    let size = 0;
    for (;;) {
      throwIfAborted(signal);
      const { bytesRead } = await handle.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      hash.update(buf.subarray(0, bytesRead));
      size += bytesRead;
    }
    return { sha256: hash.digest('hex'), size };
  } finally {
    await handle.close();
  }
}

export interface CopiedFile {
  tempPath: string;
  sha256: string;
  size: number;
  sourceModifiedAt: string;
}

/**
 * Copies `source` (opened read-only) to a new file in `tempDir`, hashing the bytes as they are read,
 * and flushes the copy to disk. Refuses anything that is not a regular file or that changes meanwhile.
 */
export async function copyToTemp(
  source: string,
  tempDir: string,
  signal?: AbortSignal,
  onBytes?: (n: number) => void,
): Promise<CopiedFile> {
  let input: fs.promises.FileHandle;
  try {
    input = await fs.promises.open(source, READ_ONLY_ORIGINAL);
  } catch (e) {
    throw sourceOpenError(source, e as NodeJS.ErrnoException);
  }
  const tempPath = path.join(tempDir, `${crypto.randomUUID()}.part`);
  let output: fs.promises.FileHandle | undefined;
  try {
    const before = await input.stat();
    if (!before.isFile()) {
      throw new CaseStoreError('SOURCE_NOT_REGULAR_FILE', `${source} is not a regular file.`, { path: source });
    }
    output = await fs.promises.open(tempPath, 'wx', 0o600);
    const hash = crypto.createHash('sha256');
    const buf = Buffer.allocUnsafe(CHUNK_BYTES);
    let size = 0;
    for (;;) {
      throwIfAborted(signal);
      const { bytesRead } = await input.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      const chunk = buf.subarray(0, bytesRead);
      hash.update(chunk);
      await output.write(chunk, 0, bytesRead);
      size += bytesRead;
      onBytes?.(bytesRead);
    }
    const after = await input.stat();
    if (after.size !== before.size || after.mtimeMs !== before.mtimeMs || size !== before.size) {
      throw new CaseStoreError('SOURCE_CHANGED_DURING_COPY', `${source} changed while it was being copied.`, {
        path: source,
      });
    }
    await output.sync();
    await output.close();
    output = undefined;
    return { tempPath, sha256: hash.digest('hex'), size, sourceModifiedAt: before.mtime.toISOString() };
  } catch (e) {
    await output?.close().catch(() => undefined);
    await removeFileIfPresent(tempPath);
    throw e;
  } finally {
    await input.close();
  }
}

function sourceOpenError(source: string, e: NodeJS.ErrnoException): CaseStoreError {
  if (e.code === 'ENOENT') return new CaseStoreError('SOURCE_NOT_FOUND', `${source} does not exist.`, { path: source });
  if (e.code === 'ELOOP') {
    return new CaseStoreError('SOURCE_IS_SYMLINK', `${source} is a symbolic link; links are not followed.`, {
      path: source,
    });
  }
  return new CaseStoreError('SOURCE_UNREADABLE', `${source} cannot be read: ${e.message}`, {
    path: source,
    errno: e.code,
  });
}

export interface ImageFacts {
  mimeType: string;
  ext: string;
  width: number | null;
  height: number | null;
}

const RASTER_FORMATS: Record<string, { mimeType: string; ext: string }> = {
  jpeg: { mimeType: 'image/jpeg', ext: 'jpg' },
  png: { mimeType: 'image/png', ext: 'png' },
  webp: { mimeType: 'image/webp', ext: 'webp' },
  gif: { mimeType: 'image/gif', ext: 'gif' },
  tiff: { mimeType: 'image/tiff', ext: 'tif' },
};

export const EVIDENCE_EXTENSIONS = ['jpg', 'png', 'webp', 'gif', 'tif', 'avif', 'heic'] as const;

/**
 * Identifies the image by its content, never by its name. Only raster photo formats are evidence here:
 * SVG, PDF and the like are refused, as is anything sharp cannot parse.
 */
export async function identifyImage(file: string, displayPath: string): Promise<ImageFacts> {
  let meta: Metadata;
  try {
    meta = await sharp(file, { limitInputPixels: false }).metadata();
  } catch {
    throw new CaseStoreError('NOT_AN_IMAGE', `${displayPath} is not an image this workstation can read.`, {
      path: displayPath,
    });
  }
  const format = String(meta.format ?? '');
  let kind = RASTER_FORMATS[format];
  if (format === 'heif') {
    kind = meta.compression === 'av1' ? { mimeType: 'image/avif', ext: 'avif' } : { mimeType: 'image/heic', ext: 'heic' };
  }
  if (!kind) {
    throw new CaseStoreError(
      'UNSUPPORTED_IMAGE_FORMAT',
      `${displayPath} is ${format || 'an unknown format'}; evidence must be JPEG, PNG, WebP, GIF, TIFF, AVIF or HEIC.`,
      { path: displayPath, format },
    );
  }
  return { ...kind, width: meta.width ?? null, height: meta.height ?? null };
}

export async function fsyncDir(dir: string): Promise<void> {
  // Windows cannot open a directory for fsync; NTFS journals the rename itself.
  if (process.platform === 'win32') return;
  const handle = await fs.promises.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export async function removeFileIfPresent(file: string): Promise<boolean> {
  try {
    // A read-only file cannot be unlinked on Windows.
    await fs.promises.chmod(file, 0o600).catch(() => undefined);
    await fs.promises.unlink(file);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}

/** Removes a folder this store wrote, read-only files included. */
export async function removeTree(dir: string): Promise<void> {
  await makeTreeWritable(dir);
  await fs.promises.rm(dir, { recursive: true, force: true });
}

async function makeTreeWritable(dir: string): Promise<void> {
  let entries: fs.Dirent[];
  try {
    entries = await fs.promises.readdir(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const entry of entries) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) await makeTreeWritable(p);
    else if (entry.isFile()) await fs.promises.chmod(p, 0o600).catch(() => undefined);
  }
}

/**
 * Moves a verified temporary copy to its content-addressed name. If that name is already taken by an
 * identical file (a copy left by an interrupted run), the existing file is kept.
 */
export async function placeVerifiedCopy(tempPath: string, finalPath: string, sha256: string): Promise<void> {
  await fs.promises.chmod(tempPath, 0o444);
  const existing = await hashFile(finalPath).catch(() => undefined);
  if (existing?.sha256 === sha256) {
    await removeFileIfPresent(tempPath);
    await fs.promises.chmod(finalPath, 0o444);
  } else {
    if (existing) await removeFileIfPresent(finalPath);
    await fs.promises.rename(tempPath, finalPath);
  }
  await fsyncDir(path.dirname(finalPath));
}
