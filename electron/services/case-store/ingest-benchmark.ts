// `npm run bench -- ingest`: how fast evidence goes in and is verified, next to plain sha256sum,
// which is the floor for anything that must read every byte.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import crypto from 'node:crypto';
import sharp from 'sharp';
import { CaseStore } from './case-store';
import { CaseStoreError } from './case-store-error';

const execFileAsync = promisify(execFile);

export interface RateMeasurement {
  seconds: number;
  filesPerSecond: number;
  mbPerSecond: number;
}

export interface IngestBenchmarkResult {
  files: number;
  totalMB: number;
  ingest: RateMeasurement;
  verify: RateMeasurement;
  /** null where the sha256sum tool is not installed. */
  sha256sum: RateMeasurement | null;
  dir: string;
}

const rate = (files: number, bytes: number, ms: number): RateMeasurement => ({
  seconds: ms / 1000,
  filesPerSecond: files / (ms / 1000),
  mbPerSecond: bytes / 1e6 / (ms / 1000),
});

/**
 * Writes `files` distinct PNGs of about `sizeMB` each under `dir/source` (uncompressed noise, so the
 * size is what was asked), ingests them into a fresh store under `dir/data`, verifies the case, and
 * times `sha256sum` over the same files.
 */
export async function benchIngest(options: { files: number; sizeMB: number; dir: string }): Promise<IngestBenchmarkResult> {
  const { files, sizeMB } = options;
  if (!Number.isInteger(files) || files < 1 || !(sizeMB > 0)) {
    throw new CaseStoreError('INVALID_ARGUMENT', 'benchIngest needs files >= 1 and sizeMB > 0.');
  }
  const dir = path.resolve(options.dir);
  const sourceDir = path.join(dir, 'source');
  const dataDir = path.join(dir, 'data');
  fs.mkdirSync(sourceDir, { recursive: true });
  if (fs.existsSync(dataDir)) throw new CaseStoreError('OUTPUT_EXISTS', `${dataDir} exists; give benchIngest an empty folder.`);

  const side = Math.max(8, Math.round(Math.sqrt((sizeMB * 1e6) / 3)));
  const pixels = Buffer.allocUnsafe(side * side * 3);
  const sourceFiles: string[] = [];
  let totalBytes = 0;
  for (let i = 0; i < files; i++) {
    crypto.randomFillSync(pixels);
    const file = path.join(sourceDir, `bench-${String(i).padStart(5, '0')}.png`);
    await sharp(pixels, { raw: { width: side, height: side, channels: 3 } }).png({ compressionLevel: 0 }).toFile(file);
    totalBytes += fs.statSync(file).size;
    sourceFiles.push(file);
  }

  const store = CaseStore.open(dataDir);
  try {
    const c = store.createCase({ caseNumber: `BENCH-${Date.now()}`, title: 'ingest benchmark', examiner: 'bench' });
    let t = performance.now();
    const result = await store.ingest(c.id, [sourceDir], { actor: 'bench' });
    const ingestMs = performance.now() - t;
    if (result.added.length !== files) {
      throw new CaseStoreError('COPY_MISMATCH', `Benchmark ingest stored ${result.added.length} of ${files} files.`, {
        failed: result.failed.slice(0, 5),
      });
    }
    t = performance.now();
    const report = await store.verifyCase(c.id);
    const verifyMs = performance.now() - t;
    if (!report.ok) throw new CaseStoreError('COPY_MISMATCH', 'Benchmark case failed verification.', { issues: report.issues.slice(0, 5) });

    let sha256sum: RateMeasurement | null = null;
    try {
      t = performance.now();
      for (let i = 0; i < sourceFiles.length; i += 200) {
        await execFileAsync('sha256sum', sourceFiles.slice(i, i + 200), { maxBuffer: 64 << 20 });
      }
      sha256sum = rate(files, totalBytes, performance.now() - t);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    return {
      files,
      totalMB: totalBytes / 1e6,
      ingest: rate(files, totalBytes, ingestMs),
      verify: rate(files, report.bytesHashed, verifyMs),
      sha256sum,
      dir,
    };
  } finally {
    store.close();
  }
}
