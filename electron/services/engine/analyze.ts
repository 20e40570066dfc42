// `analyze`: files and folders in, one result per file out, streamed. Folders are walked lazily, files
// are read and decoded a bounded number at a time on libuv threads, and decoded images are batched
// for inference. onnxruntime-node runs a session synchronously on the main thread. With a GPU
// provider the decodes of the next batch run on libuv threads while a batch runs. On the CPU they do
// not: the session's intra-op threads already use every core, and a decode that preempts one of them
// stalls each parallel section until that thread runs again, so files are decoded in groups with all
// cores between batches instead, at every batch size (MobileNetV2 on 2 cores, 256×256 PNGs, batch
// 8: 81–83 → 90–108 images/s; batch 1, medians of four runs with 6 decodes at once: 92 → 97). One
// sharp decode keeps only about half a core busy, because it hands the image back and forth between a
// libuv thread and a libvips worker, so a group runs three decodes per core at once (decodes alone on
// 2 cores: 2 at once kept the cores 74–81% busy, 6 at once 92–96%).
import { webcrypto } from 'node:crypto';
import type { Dirent } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { getDetectorSession, providerReport, type DetectorSession } from './detector-session';
import { defaultIntraOpThreads, type ProviderName, type ProviderPreference } from './execution-providers';
import { ModelRegistry, type RegisteredModel } from './model-registry';
import { aggregateCropScores, decodeNativeCrops, DEFAULT_MAX_CROPS, INPUT_MODES, type CropAggregate, type InputMode } from './multi-crop';
import { calibrateScore, inferenceOf, operatingPointOf, verdictFor, type InconclusiveBand, type Verdict } from './operating-point';
import {
  ImageInputError,
  decodeToPaperRgb,
  describeFileType,
  fileSystemError,
  readImageFile,
  PAPER_SIZE,
  type DecodeLimits,
  type ImageErrorCode,
  type PaperRgb,
} from './preprocess';

export interface AnalyzeSuccess {
  path: string;
  sha256: string;
  /** Calibrated when the model card carries a calibration. */
  pSynthetic: number;
  /** "inconclusive" inside the card's band, just below the threshold. */
  verdict: Verdict;
  threshold: number;
  inconclusiveBand?: InconclusiveBand;
  /** How the file was read: the paper's whole-image resize, or windows at native resolution. */
  inputMode: InputMode;
  /** Windows scored, in crops mode. */
  crops?: number;
  model: { id: string; sha256: string };
  provider: ProviderName;
  /**
   * Wall-clock milliseconds attributed to this file: the time from the previous batch's results to
   * this batch's, divided among its files (decodes overlap, so per-file timers would double count).
   */
  ms: number;
}

export interface AnalyzeFailure {
  path: string;
  error: { code: ImageErrorCode | 'CANCELLED' | 'INTERNAL'; message: string };
}

export type AnalyzeResult = AnalyzeSuccess | AnalyzeFailure;

export function isAnalyzeFailure(r: AnalyzeResult): r is AnalyzeFailure {
  return 'error' in r;
}

export interface AnalyzeSummary {
  analysed: number;
  failed: number;
  model: { id: string; sha256: string };
  provider: ProviderName;
  /** Why the preferred provider was not used, if it was not. */
  providerNote?: string;
  seconds: number;
}

export interface AnalyzeOptions extends DecodeLimits {
  dataDir: string;
  repoRoot?: string;
  /** Shares one registry (and its knowledge of models) across calls. */
  registry?: ModelRegistry;
  modelId?: string;
  /** Overrides the model card's decision threshold (and drops its inconclusive band). */
  threshold?: number;
  /** Overrides the card's input mode: 'resize' (the paper) or 'crops' (native-resolution windows). */
  inputMode?: InputMode;
  maxCrops?: number;
  cropAggregate?: CropAggregate;
  batchSize?: number;
  provider?: ProviderPreference;
  /** Files read ahead of inference; memory is bounded by this and by maxInFlightBytes. */
  decodeConcurrency?: number;
  /**
   * Images decoded at the same moment. Default: three per core, on every core with the CPU provider
   * (decoding happens between batches) and on all but one beside a GPU provider (decoding overlaps
   * inference, and the main thread feeds the device).
   */
  decodeThreads?: number;
  maxInFlightBytes?: number;
  signal?: AbortSignal;
  onResult?: (result: AnalyzeResult) => void;
  /** Called once the model and session are ready, before any file is read. */
  onReady?: (info: { model: RegisteredModel; session: DetectorSession }) => void;
}

export class AnalyzeError extends Error {
  constructor(
    readonly code: 'INVALID_OPTIONS',
    message: string,
  ) {
    super(message);
    this.name = 'AnalyzeError';
  }
}

export const DEFAULT_BATCH_SIZE = 8;
/** Decodes at once per core: one sharp decode leaves its core about half idle. */
const DECODES_PER_CORE = 3;
/** More would only queue behind libuv's four threads and hold more images in memory. */
const MAX_DECODES = 24;
export const MAX_BATCH_SIZE = 256;

/** `open` is where a followed link leads (opened with no-follow, so a link swapped in later is refused). */
type WalkEntry = { path: string; open?: string } | { path: string; error: AnalyzeFailure['error'] };

function notAFile(p: string, stat: Parameters<typeof describeFileType>[0]): WalkEntry {
  return { path: p, error: { code: 'NOT_A_FILE', message: `${p} is ${describeFileType(stat)}, not a regular file; it was not read` } };
}

/**
 * Expands files and folders into files, depth-first, each folder's entries in name order. Only one
 * listing per open folder level is held, so a tree of 10,000 files is never materialised at once.
 * Symbolic links are followed (to folders once: cycles are cut by real path); FIFOs, sockets and
 * devices each yield an error entry.
 */
export async function* walkInputs(inputs: readonly string[], signal?: AbortSignal): AsyncGenerator<WalkEntry> {
  const seenDirs = new Set<string>();
  async function* walkDir(dir: string): AsyncGenerator<WalkEntry> {
    let real: string;
    try {
      real = await fs.realpath(dir);
    } catch (e) {
      yield { path: dir, error: toFailure(fileSystemError(e, dir)) };
      return;
    }
    if (seenDirs.has(real)) return;
    seenDirs.add(real);
    let entries: { name: string; entry: Dirent<Buffer> }[];
    try {
      // Names as bytes: one that is not UTF-8 cannot be opened through a JavaScript string, and must be
      // reported as such, not as "no such file".
      entries = (await fs.readdir(dir, { withFileTypes: true, encoding: 'buffer' }))
        .map((entry) => ({ name: entry.name.toString('utf8'), entry }))
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    } catch (e) {
      yield { path: dir, error: toFailure(fileSystemError(e, dir)) };
      return;
    }
    for (const { name, entry } of entries) {
      if (signal?.aborted) return;
      const child = path.join(dir, name);
      if (!Buffer.from(name, 'utf8').equals(entry.name)) {
        yield {
          path: child,
          error: {
            code: 'UNREADABLE_NAME',
            message: `A file in ${dir} has a name that is not valid UTF-8 (hex ${entry.name.toString('hex')}); it cannot be opened by name here. Rename it or analyse a renamed copy.`,
          },
        };
        continue;
      }
      // The listing's types spare a stat per file (each is an event-loop turn, and turns are scarce
      // while inference holds the main thread); only links and unknown types need one.
      if (entry.isDirectory()) yield* walkDir(child);
      else if (entry.isFile()) yield { path: child };
      else if (entry.isFIFO() || entry.isSocket() || entry.isBlockDevice() || entry.isCharacterDevice()) {
        // Not evidence images, and reading a FIFO would block: each gets its own line, none vanishes.
        yield notAFile(child, entry);
      } else yield* resolveEntry(child);
    }
  }
  // A link (or an entry of unknown type) is followed to what it names now.
  async function* resolveEntry(p: string): AsyncGenerator<WalkEntry> {
    let stat;
    let real: string;
    try {
      stat = await fs.stat(p);
      real = await fs.realpath(p);
    } catch (e) {
      yield { path: p, error: toFailure(fileSystemError(e, p)) };
      return;
    }
    if (stat.isDirectory()) yield* walkDir(p);
    else if (stat.isFile()) yield real === p ? { path: p } : { path: p, open: real };
    else yield notAFile(p, stat);
  }
  for (const input of inputs) {
    if (signal?.aborted) return;
    yield* resolveEntry(path.resolve(input));
  }
}

function toFailure(e: unknown): AnalyzeFailure['error'] {
  if (e instanceof ImageInputError) return { code: e.code, message: e.message };
  return { code: 'INTERNAL', message: (e as Error)?.message ?? String(e) };
}

async function sha256Async(data: Uint8Array): Promise<string> {
  // WebCrypto digests on a libuv thread, so hashing a large file does not stall inference.
  const digest = await webcrypto.subtle.digest('SHA-256', data);
  return Buffer.from(digest).toString('hex');
}

/** Counts bytes of files being held in memory, so a folder of huge TIFFs cannot exhaust memory. */
class ByteBudget {
  private used = 0;
  private waiters: (() => void)[] = [];
  constructor(private readonly limit: number) {}
  async acquire(n: number): Promise<void> {
    // One file larger than the whole budget still runs, alone.
    while (this.used > 0 && this.used + n > this.limit) await new Promise<void>((r) => this.waiters.push(r));
    this.used += n;
  }
  release(n: number): void {
    this.used -= n;
    const w = this.waiters;
    this.waiters = [];
    for (const r of w) r();
  }
}

type Decoded =
  | { path: string; ok: true; rgb: PaperRgb; sha256: string; crops?: Uint8Array[] }
  | { path: string; ok: false; error: AnalyzeFailure['error'] };

/** At most `limit` holders at once; the rest wait in order. */
class Semaphore {
  private active = 0;
  private waiters: (() => void)[] = [];
  constructor(private readonly limit: number) {}
  async run<T>(task: () => Promise<T>): Promise<T> {
    while (this.active >= this.limit) await new Promise<void>((r) => this.waiters.push(r));
    this.active++;
    try {
      return await task();
    } finally {
      this.active--;
      this.waiters.shift()?.();
    }
  }
}

const cancelledBeforeDecode = new Error('The run was cancelled before this file was decoded');

interface ReadMode {
  inputMode: InputMode;
  maxCrops: number;
  aggregate: CropAggregate;
}

/** One file's input images: the stretched 256×256 (resize) or its native windows (crops). */
async function decodeForMode(buf: Buffer, limits: DecodeLimits, mode?: ReadMode): Promise<{ rgb: PaperRgb; crops?: Uint8Array[] }> {
  if (mode?.inputMode !== 'crops') return { rgb: await decodeToPaperRgb(buf, { ...limits, sourceInfo: false }) };
  const c = await decodeNativeCrops(buf, limits, mode.maxCrops);
  // A PNG cut after its image data decodes without complaint; decodeToPaperRgb's check catches it.
  if (sniffIsPng(buf) && !pngHasEnd(buf)) throw new ImageInputError('TRUNCATED', 'The PNG file has no IEND chunk (truncated file)');
  return { rgb: { data: c.crops[0], size: PAPER_SIZE, source: { format: 'png', width: c.width, height: c.height } } as PaperRgb, crops: c.crops };
}

const sniffIsPng = (b: Uint8Array) => b.length > 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47;
function pngHasEnd(b: Uint8Array): boolean {
  const tail = Buffer.from(b.subarray(Math.max(0, b.length - 64))).toString('latin1');
  return tail.includes('IEND');
}

/** Raw p(synthetic) per decoded file: one session run over every window, then each file's windows aggregated. */
async function scoreDecoded(session: DetectorSession, items: readonly Extract<Decoded, { ok: true }>[], buffer: Uint8Array, aggregate: CropAggregate): Promise<number[]> {
  const imageBytes = PAPER_SIZE * PAPER_SIZE * 3;
  const images = items.map((d) => d.crops ?? [d.rgb.data]);
  const total = images.reduce((s, l) => s + l.length, 0);
  const buf = buffer.length >= total * imageBytes ? buffer : new Uint8Array(total * imageBytes);
  let k = 0;
  for (const list of images) for (const img of list) buf.set(img, k++ * imageBytes);
  const scores = await session.predict(buf, total);
  const out: number[] = [];
  k = 0;
  for (const list of images) {
    const own = Array.from(scores.slice(k, k + list.length));
    k += list.length;
    out.push(list.length === 1 ? own[0] : own.some((p) => !(p >= 0 && p <= 1)) ? NaN : aggregateCropScores(own, aggregate));
  }
  return out;
}

async function decodeOne(
  filePath: string,
  openPath: string,
  limits: DecodeLimits,
  budget: ByteBudget,
  decoders: Semaphore,
  signal?: AbortSignal,
  mode?: ReadMode,
): Promise<Decoded> {
  let reserved = 0;
  try {
    const buf = await readImageFile(
      openPath,
      limits,
      async (size) => {
        reserved = size;
        await budget.acquire(size);
      },
      { noFollow: true, displayPath: filePath },
    );
    const [sha256, decoded] = await Promise.all([
      sha256Async(buf),
      decoders.run(() => {
        // A group queues many files behind a few decoders: once cancelled, only the running ones finish.
        if (signal?.aborted) throw cancelledBeforeDecode;
        return decodeForMode(buf, limits, mode);
      }),
    ]);
    return { path: filePath, ok: true, rgb: decoded.rgb, crops: decoded.crops, sha256 };
  } catch (e) {
    if (e === cancelledBeforeDecode) return { path: filePath, ok: false, error: { code: 'CANCELLED', message: cancelledBeforeDecode.message } };
    const err = e instanceof ImageInputError ? e : (e as NodeJS.ErrnoException)?.code ? fileSystemError(e, filePath) : e;
    return { path: filePath, ok: false, error: toFailure(err) };
  } finally {
    if (reserved > 0) budget.release(reserved);
  }
}

/**
 * Analyses files and folders, yielding one result per file in input order (folders in name order),
 * and calling onResult for each. A file that cannot be analysed yields an error result and the run
 * goes on. Throws (before any result) when no trained model is available or options are invalid.
 * The generator's return value is a summary.
 */
export async function* analyzeFiles(inputs: readonly string[], options: AnalyzeOptions): AsyncGenerator<AnalyzeResult, AnalyzeSummary> {
  const started = performance.now();
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH_SIZE) {
    throw new AnalyzeError('INVALID_OPTIONS', `batch size must be an integer from 1 to ${MAX_BATCH_SIZE}, got ${options.batchSize}`);
  }
  if (options.threshold !== undefined && !(options.threshold >= 0 && options.threshold <= 1)) {
    throw new AnalyzeError('INVALID_OPTIONS', `threshold must be between 0 and 1, got ${options.threshold}`);
  }
  const registry = options.registry ?? new ModelRegistry({ dataDir: options.dataDir, repoRoot: options.repoRoot });
  const model = await registry.resolve(options.modelId);
  // The decoded 256×256 bytes go straight in; resize and normalisation run in the graph.
  const session = await getDetectorSession(model.detectorPath, {
    preference: options.provider,
    expectedSha256: model.card.sha256,
    paperRgb: { normalisation: model.normalisation },
  });
  options.onReady?.({ model, session });

  const operatingPoint = operatingPointOf(model.card, options.threshold);
  const threshold = operatingPoint.threshold;
  const cardInference = inferenceOf(model.card);
  const inputMode = options.inputMode ?? cardInference.inputMode;
  if (!(INPUT_MODES as readonly string[]).includes(inputMode)) throw new AnalyzeError('INVALID_OPTIONS', `input mode must be one of ${INPUT_MODES.join(', ')}, got ${inputMode}`);
  const readMode: ReadMode = {
    inputMode,
    maxCrops: options.maxCrops ?? cardInference.maxCrops ?? DEFAULT_MAX_CROPS,
    aggregate: options.cropAggregate ?? cardInference.aggregate ?? 'mean-logit',
  };
  const modelRef = { id: model.id, sha256: session.modelSha256 };
  const imageBytes = PAPER_SIZE * PAPER_SIZE * 3;
  const batchBuffer = new Uint8Array(batchSize * imageBytes * (inputMode === 'crops' ? readMode.maxCrops : 1));
  const limits: DecodeLimits = { maxPixels: options.maxPixels, maxFileBytes: options.maxFileBytes };
  // Enough files in flight to fill the next batch while the current one runs. A file needs several
  // event-loop turns (open, stat, read, close, hash, decode) and a synchronous session.run allows one
  // turn per batch, so even batch 1 needs a deep queue to keep up.
  const decodeBetweenBatches = session.provider === 'cpu';
  const decodingCores = decodeBetweenBatches ? defaultIntraOpThreads() : Math.max(1, defaultIntraOpThreads() - 1);
  const threads = Math.max(1, options.decodeThreads ?? Math.min(MAX_DECODES, DECODES_PER_CORE * decodingCores));
  // Between batches: a group of whole batches, decoded by every thread at once.
  const group = Math.ceil(Math.max(batchSize, 4 * threads) / batchSize) * batchSize;
  const concurrency = Math.max(1, options.decodeConcurrency ?? (decodeBetweenBatches ? group : Math.min(64, Math.max(16, 2 * batchSize, 2 * threads))));
  const budget = new ByteBudget(options.maxInFlightBytes ?? 512 * 1024 * 1024);
  const decoders = new Semaphore(threads);
  const counts = { analysed: 0, failed: 0 };
  let lastBatchEnd = performance.now();

  // Results wait here in input order until their batch has run.
  const ordered: ({ done: AnalyzeResult } | { slot: number; decoded: Extract<Decoded, { ok: true }> })[] = [];
  const batchItems: Extract<Decoded, { ok: true }>[] = [];

  const walker = walkInputs(inputs, options.signal);
  const inFlight: Promise<Decoded>[] = [];
  let walkDone = false;
  const refill = async () => {
    while (!walkDone && inFlight.length < concurrency && !options.signal?.aborted) {
      const next = await walker.next();
      if (next.done) {
        walkDone = true;
        break;
      }
      const entry = next.value;
      inFlight.push(
        'error' in entry
          ? Promise.resolve({ path: entry.path, ok: false, error: entry.error })
          : decodeOne(entry.path, entry.open ?? entry.path, limits, budget, decoders, options.signal, readMode),
      );
    }
  };

  function* emit(result: AnalyzeResult): Generator<AnalyzeResult> {
    if (isAnalyzeFailure(result)) counts.failed++;
    else counts.analysed++;
    options.onResult?.(result);
    yield result;
  }

  async function runBatch(): Promise<Map<number, AnalyzeResult>> {
    const n = batchItems.length;
    const out = new Map<number, AnalyzeResult>();
    if (n === 0) return out;
    const scores = await scoreDecoded(session, batchItems, batchBuffer, readMode.aggregate);
    const now = performance.now();
    const share = (now - lastBatchEnd) / n;
    lastBatchEnd = now;
    for (let i = 0; i < n; i++) {
      const d = batchItems[i];
      const p = calibrateScore(scores[i], operatingPoint.calibration);
      if (!(p >= 0 && p <= 1)) {
        // A NaN would otherwise read as "real": never let a broken number become a verdict.
        out.set(i, { path: d.path, error: { code: 'INTERNAL', message: `The model produced an invalid score (${p}) for this image` } });
        continue;
      }
      out.set(i, {
        path: d.path,
        sha256: d.sha256,
        pSynthetic: p,
        verdict: verdictFor(p, operatingPoint),
        threshold,
        ...(operatingPoint.band ? { inconclusiveBand: operatingPoint.band } : {}),
        inputMode,
        ...(d.crops ? { crops: d.crops.length } : {}),
        model: modelRef,
        provider: session.provider,
        ms: Math.round(share * 100) / 100,
      });
    }
    batchItems.length = 0;
    return out;
  }

  async function* flush(): AsyncGenerator<AnalyzeResult> {
    let scored: Map<number, AnalyzeResult> | undefined;
    let failure: AnalyzeFailure['error'] | undefined;
    try {
      scored = await runBatch();
    } catch (e) {
      // An inference failure fails this batch's files, not the run.
      failure = { code: 'INTERNAL', message: `Inference failed: ${(e as Error).message}` };
      batchItems.length = 0;
    }
    for (const item of ordered.splice(0)) {
      if ('done' in item) yield* emit(item.done);
      else yield* emit(scored?.get(item.slot) ?? { path: item.decoded.path, error: failure! });
    }
  }

  try {
    await refill();
    while (inFlight.length > 0) {
      const decoded = await inFlight.shift()!;
      if (options.signal?.aborted) break;
      if (decoded.ok) {
        ordered.push({ slot: batchItems.length, decoded });
        batchItems.push(decoded);
      } else {
        ordered.push({ done: { path: decoded.path, error: decoded.error } });
      }
      // Beside a GPU, start the next decodes before a batch blocks the main thread.
      if (!decodeBetweenBatches) await refill();
      if (batchItems.length === batchSize) {
        // On the CPU, let the group's decodes finish first: nothing decodes while a batch runs.
        if (decodeBetweenBatches) await Promise.allSettled(inFlight);
        yield* flush();
      } else if (batchItems.length === 0) for (const item of ordered.splice(0)) yield* emit((item as { done: AnalyzeResult }).done);
      if (decodeBetweenBatches && inFlight.length === 0) await refill();
    }
    if (!options.signal?.aborted) yield* flush();
  } finally {
    await walker.return(undefined);
    // Let abandoned decodes settle so no work outlives the run.
    await Promise.allSettled(inFlight);
  }
  return {
    ...counts,
    model: modelRef,
    ...providerReport(session),
    seconds: (performance.now() - started) / 1000,
  };
}

/** Runs analyzeFiles to the end, delivering results only through onResult. */
export async function analyzeAll(inputs: readonly string[], options: AnalyzeOptions): Promise<AnalyzeSummary> {
  const it = analyzeFiles(inputs, options);
  for (;;) {
    const r = await it.next();
    if (r.done) return r.value;
  }
}
