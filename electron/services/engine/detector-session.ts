// onnxruntime sessions for detector models: created once per (model sha256, provider preference) and
// reused by every analysis in the process, because creating one costs far more than a batch.
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import ort from 'onnxruntime-node';
import { withPaperRgbInput } from '../onnx-graphs';
import {
  defaultIntraOpThreads,
  describeFallback,
  firstLine,
  planProviders,
  recordProviderFailure,
  type ProviderName,
  type ProviderPreference,
} from './execution-providers';

export class DetectorSessionError extends Error {
  constructor(
    readonly code: 'MODEL_NOT_FOUND' | 'MODEL_INVALID' | 'MODEL_SHA_MISMATCH' | 'SESSION_FAILED',
    message: string,
  ) {
    super(message);
    this.name = 'DetectorSessionError';
  }
}

export interface SessionOptionsInput {
  preference?: ProviderPreference;
  intraOpThreads?: number;
  /** When known (model card), the file must hash to it: the result cites this hash. */
  expectedSha256?: string;
  /**
   * Take the decoder's 256×256 RGB bytes (uint8) and do the resize and normalisation in the graph
   * (withPaperRgbInput), with this normalisation. The file and its hash stay those of the model.
   */
  paperRgb?: { normalisation: { scale: readonly number[]; offset: readonly number[] } };
}

/** What one image of a batch is: floats in the model's own input, or the decoder's RGB bytes. */
export type ImageBatch = Float32Array | Uint8Array;

export interface DetectorSession {
  readonly session: ort.InferenceSession;
  readonly modelPath: string;
  readonly modelSha256: string;
  readonly provider: ProviderName;
  /** Why the preferred provider was not used; undefined when it was. */
  readonly providerNote?: string;
  readonly inputName: string;
  /** NHWC [N, H, W, 3]; H = W = inputSize (256 for a paperRgb session). */
  readonly inputSize: number;
  /** float32: normalised model input; uint8: the decoder's RGB bytes (paperRgb sessions). */
  readonly inputType: 'float32' | 'uint8';
  readonly outputNames: readonly string[];
  /** Runs N images packed NHWC in `batch` (Uint8Array for paperRgb sessions); returns p(synthetic) per image. */
  predict(batch: ImageBatch, n: number): Promise<Float32Array>;
  /** Runs and returns every named output (p_synthetic and the feature map, for explainers). */
  runOutputs(batch: ImageBatch, n: number, outputs?: readonly string[]): Promise<Record<string, ort.Tensor>>;
}

/** Which provider a session runs on, and why not the one asked for (only when it is not). */
export function providerReport(session: Pick<DetectorSession, 'provider' | 'providerNote'>): { provider: ProviderName; providerNote?: string } {
  return { provider: session.provider, ...(session.providerNote ? { providerNote: session.providerNote } : {}) };
}

export const P_SYNTHETIC_OUTPUT = 'p_synthetic';
export const FEATURES_OUTPUT = 'features';

const sessions = new Map<string, Promise<DetectorSession>>();
/** Hash per model path, valid while size and mtime are unchanged. */
const fileHashes = new Map<string, { size: number; mtimeMs: number; sha: string }>();

export function sha256Hex(data: Uint8Array): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}

async function readModel(modelPath: string): Promise<Buffer> {
  try {
    return await fs.readFile(modelPath);
  } catch (e) {
    throw new DetectorSessionError('MODEL_NOT_FOUND', `Cannot read model ${modelPath}: ${(e as Error).message}`);
  }
}

function sessionOptions(provider: ProviderName, intraOpThreads: number): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: provider === 'cpu' ? ['cpu'] : [provider, 'cpu'],
    intraOpNumThreads: intraOpThreads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
    // Idle intra-op threads sleep instead of spinning: between runs the CPU belongs to the image
    // decoders on libuv threads, which is what lets decoding overlap inference on a small machine.
    extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
  };
}

function readInputSize(session: ort.InferenceSession, inputName: string): number {
  const meta = session.inputMetadata.find((m) => m.name === inputName);
  if (!meta || !meta.isTensor) throw new DetectorSessionError('MODEL_INVALID', `Model input ${inputName} is not a tensor`);
  const shape = meta.shape;
  const h = shape[1];
  const w = shape[2];
  const c = shape[3];
  if (shape.length !== 4 || typeof h !== 'number' || h !== w || c !== 3) {
    throw new DetectorSessionError('MODEL_INVALID', `Model input ${inputName} must be NHWC [N, S, S, 3], found [${shape.join(', ')}]`);
  }
  return h;
}

async function createDetectorSession(modelPath: string, fileBytes: Buffer, sha: string, options: SessionOptionsInput): Promise<DetectorSession> {
  let bytes: Uint8Array = fileBytes;
  if (options.paperRgb) {
    try {
      bytes = withPaperRgbInput(fileBytes, options.paperRgb);
    } catch (e) {
      throw new DetectorSessionError('MODEL_INVALID', `Cannot add the image input to ${modelPath}: ${(e as Error).message}`);
    }
  }
  const preference = options.preference ?? 'auto';
  const threads = options.intraOpThreads ?? defaultIntraOpThreads();
  const plan = planProviders(preference);
  // Platform mismatches (DirectML off Windows...) are not worth reporting; missing libraries are.
  const attempts: { name: ProviderName; reason: string }[] = plan.skipped.filter(
    (s) => s.name === preference || (preference === 'auto' && !/only on|does not offer/.test(s.reason)),
  );
  let session: ort.InferenceSession | undefined;
  let provider: ProviderName = 'cpu';
  for (const name of plan.order) {
    try {
      session = await ort.InferenceSession.create(bytes, sessionOptions(name, threads));
      provider = name;
      break;
    } catch (e) {
      const reason = firstLine((e as Error).message ?? String(e));
      if (name === 'cpu') throw new DetectorSessionError('SESSION_FAILED', `onnxruntime could not load ${modelPath}: ${reason}`);
      recordProviderFailure(name, reason);
      attempts.push({ name, reason });
    }
  }
  if (!session) throw new DetectorSessionError('SESSION_FAILED', `No execution provider could load ${modelPath}`);
  const s = session;
  const inputName = s.inputNames[0];
  const inputSize = readInputSize(s, inputName);
  if (!s.outputNames.includes(P_SYNTHETIC_OUTPUT)) {
    await s.release();
    throw new DetectorSessionError('MODEL_INVALID', `Model ${modelPath} has no "${P_SYNTHETIC_OUTPUT}" output (outputs: ${s.outputNames.join(', ')})`);
  }
  const inputType = options.paperRgb ? 'uint8' : 'float32';
  const imageValues = inputSize * inputSize * 3;
  const tensorFor = (batch: ImageBatch, n: number) => {
    if ((inputType === 'uint8') !== batch instanceof Uint8Array) {
      throw new Error(`This session takes ${inputType === 'uint8' ? 'RGB bytes (Uint8Array)' : 'model input floats (Float32Array)'}`);
    }
    if (!Number.isInteger(n) || n < 1 || batch.length < n * imageValues) {
      throw new Error(`Batch of ${n} needs ${n * imageValues} values, got ${batch.length}`);
    }
    const data = batch.length === n * imageValues ? batch : batch.subarray(0, n * imageValues);
    return data instanceof Uint8Array
      ? new ort.Tensor('uint8', data, [n, inputSize, inputSize, 3])
      : new ort.Tensor('float32', data, [n, inputSize, inputSize, 3]);
  };
  const runOutputs = async (batch: ImageBatch, n: number, outputs: readonly string[] = s.outputNames) => {
    const result = await s.run({ [inputName]: tensorFor(batch, n) }, outputs as string[]);
    return result as Record<string, ort.Tensor>;
  };
  return {
    session: s,
    modelPath,
    modelSha256: sha,
    provider,
    providerNote: describeFallback(preference, provider, attempts),
    inputName,
    inputSize,
    inputType,
    outputNames: s.outputNames,
    runOutputs,
    async predict(batch, n) {
      const out = (await runOutputs(batch, n, [P_SYNTHETIC_OUTPUT]))[P_SYNTHETIC_OUTPUT];
      const data = out.data as Float32Array;
      if (data.length !== n) throw new DetectorSessionError('MODEL_INVALID', `${P_SYNTHETIC_OUTPUT} has ${data.length} values for ${n} images`);
      return data;
    },
  };
}

/**
 * The shared session for a model file. The file is hashed on first use; a model card's hash that does
 * not match is refused, because results cite the hash of the model that produced them.
 */
/**
 * sha256 of a file, remembered per path while its size and mtime are unchanged, so resolving a
 * 90 MB model for every file of a case does not re-read it each time.
 */
export async function hashFileCached(filePath: string): Promise<{ sha: string; bytes?: Buffer }> {
  let stat: import('node:fs').Stats;
  try {
    stat = await fs.stat(filePath);
  } catch (e) {
    throw new DetectorSessionError('MODEL_NOT_FOUND', `Cannot read model ${filePath}: ${(e as Error).message}`);
  }
  const known = fileHashes.get(filePath);
  if (known && known.size === stat.size && known.mtimeMs === stat.mtimeMs) return { sha: known.sha };
  const bytes = await readModel(filePath);
  const sha = sha256Hex(bytes);
  fileHashes.set(filePath, { size: stat.size, mtimeMs: stat.mtimeMs, sha });
  return { sha, bytes };
}

export async function getDetectorSession(modelPath: string, options: SessionOptionsInput = {}): Promise<DetectorSession> {
  const { sha, bytes } = await hashFileCached(modelPath);
  if (options.expectedSha256 && options.expectedSha256.toLowerCase() !== sha) {
    throw new DetectorSessionError(
      'MODEL_SHA_MISMATCH',
      `Model ${modelPath} hashes to ${sha}, but its card says ${options.expectedSha256}; refusing to run a model that differs from its card`,
    );
  }
  const paperKey = options.paperRgb ? `rgb(${[...options.paperRgb.normalisation.scale, ...options.paperRgb.normalisation.offset].join(',')})` : 'float';
  const key = `${sha}:${options.preference ?? 'auto'}:${options.intraOpThreads ?? 'default'}:${paperKey}`;
  let pending = sessions.get(key);
  if (!pending) {
    const loaded = bytes ?? (await readModel(modelPath));
    if (sha256Hex(loaded) !== sha) {
      // Changed within the same mtime tick: forget and start over.
      fileHashes.delete(modelPath);
      return getDetectorSession(modelPath, options);
    }
    pending = createDetectorSession(modelPath, loaded, sha, options);
    sessions.set(key, pending);
    pending.catch(() => sessions.delete(key));
  }
  return pending;
}

/** Releases every cached session (app shutdown, tests). */
export async function releaseDetectorSessions(): Promise<void> {
  const all = [...sessions.values()];
  sessions.clear();
  await Promise.all(all.map(async (p) => (await p.catch(() => undefined))?.session.release()));
}
