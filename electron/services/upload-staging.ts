// Files that reach the services as bytes (the browser's file picker and drag and drop) are staged
// here first, then ingested exactly as a path import: the same hashing, read-only copy and audit.
// A staged file is the server's own temporary copy, never evidence; it is removed after the import.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { UUID_PATTERN } from './case-store/evidence-files';

export const DEFAULT_MAX_UPLOAD_BYTES = 2 * 1024 ** 3;

export class UploadError extends Error {
  constructor(
    readonly code: 'UPLOAD_TOO_LARGE' | 'UPLOAD_NOT_FOUND' | 'INVALID_REQUEST' | 'UPLOAD_INTERRUPTED',
    message: string,
  ) {
    super(message);
  }
}

export function uploadsDir(dataDir: string): string {
  return path.join(dataDir, 'uploads');
}

/** A name as a browser gives it, reduced to a plain file name (no folders, no control characters). */
export function cleanUploadName(name: string): string {
  // eslint-disable-next-line no-control-regex
  const base = name.replace(/[\u0000-\u001f\u007f]/g, '').split(/[\\/]/).pop()!.trim();
  if (!base || base === '.' || base === '..') throw new UploadError('INVALID_REQUEST', 'An uploaded file needs a name.');
  return base.slice(0, 255);
}

/** Streams one upload to disk under a random id (temp name, fsync, rename); refuses more than maxBytes. */
export async function stageUpload(
  dataDir: string,
  rawName: string,
  body: Readable,
  maxBytes = DEFAULT_MAX_UPLOAD_BYTES,
): Promise<{ uploadId: string; name: string; sizeBytes: number; sha256: string }> {
  const name = cleanUploadName(rawName);
  const dir = uploadsDir(dataDir);
  await fs.promises.mkdir(dir, { recursive: true });
  const uploadId = crypto.randomUUID();
  const temp = path.join(dir, `${uploadId}.part`);
  const handle = await fs.promises.open(temp, 'wx', 0o600);
  const hash = crypto.createHash('sha256');
  let size = 0;
  let finished = false;
  try {
    for await (const chunk of body) {
      const buf = chunk as Buffer;
      size += buf.length;
      if (size > maxBytes) throw new UploadError('UPLOAD_TOO_LARGE', `${name} is larger than the upload limit of ${maxBytes} bytes.`);
      hash.update(buf);
      await handle.write(buf);
    }
    await handle.sync();
    finished = true;
  } catch (e) {
    if (e instanceof UploadError) throw e;
    throw new UploadError('UPLOAD_INTERRUPTED', `The upload of ${name} was interrupted: ${(e as Error).message}`);
  } finally {
    await handle.close();
    if (!finished) await fs.promises.rm(temp, { force: true });
  }
  await fs.promises.writeFile(path.join(dir, `${uploadId}.json`), JSON.stringify({ name, sizeBytes: size, at: new Date().toISOString() }), { mode: 0o600 });
  await fs.promises.rename(temp, path.join(dir, uploadId));
  return { uploadId, name, sizeBytes: size, sha256: hash.digest('hex') };
}

/** The staged files of the given ids, keyed by their path, with the names the examiner's files had. */
export function resolveUploads(dataDir: string, uploadIds: readonly string[]): Map<string, { originalName: string }> {
  const dir = uploadsDir(dataDir);
  const found = new Map<string, { originalName: string }>();
  for (const id of uploadIds) {
    if (!UUID_PATTERN.test(id)) throw new UploadError('INVALID_REQUEST', `Not an upload id: ${JSON.stringify(id)}`);
    const file = path.join(dir, id);
    let meta: { name?: unknown };
    try {
      meta = JSON.parse(fs.readFileSync(path.join(dir, `${id}.json`), 'utf8'));
    } catch {
      throw new UploadError('UPLOAD_NOT_FOUND', `Upload ${id} is not (or no longer) staged; upload the file again.`);
    }
    if (!fs.existsSync(file)) throw new UploadError('UPLOAD_NOT_FOUND', `Upload ${id} is not (or no longer) staged; upload the file again.`);
    found.set(file, { originalName: typeof meta.name === 'string' ? meta.name : id });
  }
  return found;
}

export async function removeStagedUploads(dataDir: string, uploadIds: readonly string[]): Promise<void> {
  const dir = uploadsDir(dataDir);
  for (const id of uploadIds) {
    if (!UUID_PATTERN.test(id)) continue;
    await fs.promises.rm(path.join(dir, id), { force: true });
    await fs.promises.rm(path.join(dir, `${id}.json`), { force: true });
  }
}

/** Staged files an interrupted session never imported: removed when the services start, after a day. */
export function removeStaleUploads(dataDir: string, olderThanMs = 24 * 3600 * 1000, now = Date.now()): string[] {
  const dir = uploadsDir(dataDir);
  const removed: string[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return removed;
  }
  for (const name of names) {
    const file = path.join(dir, name);
    try {
      if (now - fs.statSync(file).mtimeMs > olderThanMs) {
        fs.rmSync(file, { force: true });
        removed.push(name);
      }
    } catch {
      // Removed meanwhile by an import that finished.
    }
  }
  return removed;
}
