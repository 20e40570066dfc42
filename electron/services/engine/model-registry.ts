// Where detector models live and which one answers a question. A model is a fused ONNX file plus a
// model card; results cite the card's id and the file's sha256, so a model whose file does not hash to
// its card is refused. A model without a trained head is never used: numbers from a random head would
// look like evidence and are not.
//
// Layout:
//   <dataDir>/models/<id>/detector.onnx + model-card.json   models trained or imported by the user
//   <dataDir>/models/default-model.json                      {"id"}: the user's choice of default
//   <repo>/models/default/model-card.json (+ head weights)   the shipped default (committed)
//   <repo>/models/backbones/default-detector.onnx            the shipped default fused at install
//                                                            (or <dataDir>/models/_shipped/ when the
//                                                            install folder is read-only)
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { findRepoRoot } from '../app/app-info';
import { getDetectorSession, hashFileCached, sha256Hex } from './detector-session';
import { buildDetectorOnnx, type DetectorOptions, type HeadInput } from '../onnx-graphs';
import { inferenceOf } from './operating-point';
import { parseNormalisation, type Normalisation } from './preprocess';

export type ModelRegistryErrorCode =
  | 'NO_TRAINED_MODEL'
  | 'MODEL_NOT_FOUND'
  | 'INVALID_MODEL_ID'
  | 'INVALID_MODEL_CARD'
  | 'MODEL_SHA_MISMATCH'
  | 'MODEL_EXISTS'
  | 'INVALID_MODEL'
  | 'DEFAULT_BUILD_FAILED';

export class ModelRegistryError extends Error {
  constructor(
    readonly code: ModelRegistryErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ModelRegistryError';
  }
}

const sha256Schema = z.string().regex(/^[0-9a-f]{64}$/i, 'a 64-hex-digit sha256');
const modelIdSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$/, 'letters, digits, ".", "_" or "-" (max 80)');

export const modelCardSchema = z
  .object({
    id: modelIdSchema,
    name: z.string().optional(),
    createdAt: z.string().optional(),
    /** False for a head that was never fitted; such a model is listed but never analyses. */
    trained: z.boolean().default(true),
    backbone: z
      .object({
        name: z.string().min(1),
        inputSize: z.number().int().positive(),
        normalisation: z.unknown(),
        featureLayer: z.string().optional(),
        featureShape: z.array(z.number().int()).optional(),
        sha256: sha256Schema.optional(),
        /** The pooled maps the head reads, concatenated in this order (more than one: "taps"). */
        featureLayers: z.array(z.object({ key: z.string().optional(), output: z.string(), pooling: z.enum(['none', 'mean', 'mean-std']) }).passthrough()).optional(),
      })
      .passthrough(),
    head: z
      .object({
        inputDim: z.number().int().positive(),
        hiddenUnits: z.number().int().positive(),
        dropout: z.number().min(0).max(1).optional(),
        layers: z.array(z.string()).optional(),
        /** Head weights beside the card (the shipped default is fused from them at install). */
        file: z.string().optional(),
        sha256: sha256Schema.optional(),
      })
      .passthrough(),
    trainingData: z.object({ summary: z.string() }).passthrough(),
    metrics: z.record(z.unknown()).default({}),
    /** p(synthetic) at or above it reads "synthetic"; chosen on validation data. */
    threshold: z.number().min(0).max(1),
    /** sha256 of the fused detector ONNX file. */
    sha256: sha256Schema,
  })
  .passthrough();

export type ModelCard = z.output<typeof modelCardSchema>;
export type ModelCardInput = z.input<typeof modelCardSchema>;
/** A card before registration: the registry fills in sha256 (and createdAt). */
export type ModelCardDraft = z.input<ReturnType<typeof modelCardSchema.partial<{ sha256: true }>>>;

export interface RegisteredModel {
  id: string;
  source: 'user' | 'shipped';
  card: ModelCard;
  cardPath: string;
  /** Where the fused detector is (or will be, for a shipped default not fused yet). */
  detectorPath: string;
  normalisation: Normalisation;
  /** Present when the model cannot be used now, with the reason. */
  problem?: { code: ModelRegistryErrorCode; message: string };
}

export interface ModelRegistryOptions {
  dataDir: string;
  /** Repository / install root that holds models/default and models/backbones. */
  repoRoot?: string;
}

export const DETECTOR_FILE = 'detector.onnx';
export const MODEL_CARD_FILE = 'model-card.json';
export const DEFAULT_POINTER_FILE = 'default-model.json';
export const SHIPPED_DETECTOR_FILE = 'default-detector.onnx';

export function parseModelCard(value: unknown, where: string): ModelCard {
  const parsed = modelCardSchema.safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(card)'}: ${i.message}`).join('; ');
    throw new ModelRegistryError('INVALID_MODEL_CARD', `Model card ${where} is invalid: ${issues}`);
  }
  try {
    parseNormalisation(parsed.data.backbone.normalisation);
  } catch (e) {
    throw new ModelRegistryError('INVALID_MODEL_CARD', `Model card ${where}: ${(e as Error).message}`);
  }
  return parsed.data;
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ModelRegistryError('INVALID_MODEL_CARD', `Cannot read ${file}: ${(e as Error).message}`);
  }
}

async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  await fsp.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  await fsp.writeFile(tmp, data);
  await fsp.rename(tmp, file);
}

export class ModelRegistry {
  readonly dataDir: string;
  readonly repoRoot: string;
  readonly modelsDir: string;

  constructor(options: ModelRegistryOptions) {
    this.dataDir = path.resolve(options.dataDir);
    this.repoRoot = path.resolve(options.repoRoot ?? findRepoRoot());
    this.modelsDir = path.join(this.dataDir, 'models');
  }

  get shippedCardPath(): string {
    return path.join(this.repoRoot, 'models', 'default', MODEL_CARD_FILE);
  }

  /** The shipped default's fused file: beside the backbones, or in the data dir when that is read-only. */
  shippedDetectorCandidates(): string[] {
    return [
      path.join(this.repoRoot, 'models', 'backbones', SHIPPED_DETECTOR_FILE),
      path.join(this.modelsDir, '_shipped', SHIPPED_DETECTOR_FILE),
    ];
  }

  private userModel(id: string): RegisteredModel | undefined {
    const dir = path.join(this.modelsDir, id);
    const cardPath = path.join(dir, MODEL_CARD_FILE);
    if (!fs.existsSync(cardPath)) return undefined;
    const card = parseModelCard(readJson(cardPath), cardPath);
    if (card.id !== id) {
      throw new ModelRegistryError('INVALID_MODEL_CARD', `Model card ${cardPath} names id "${card.id}" but lives in folder "${id}"`);
    }
    const detectorPath = path.join(dir, DETECTOR_FILE);
    return {
      id,
      source: 'user',
      card,
      cardPath,
      detectorPath,
      normalisation: parseNormalisation(card.backbone.normalisation),
      ...this.problemOf(card, detectorPath),
    };
  }

  private shippedModel(): RegisteredModel | undefined {
    const cardPath = this.shippedCardPath;
    if (!fs.existsSync(cardPath)) return undefined;
    const card = parseModelCard(readJson(cardPath), cardPath);
    const candidates = this.shippedDetectorCandidates();
    const detectorPath = candidates.find((p) => fs.existsSync(p)) ?? candidates[0];
    const { problem } = this.problemOf(card, detectorPath);
    // A missing fused file is not a problem yet: resolve() fuses it from the committed head.
    const fusable = problem?.code === 'MODEL_NOT_FOUND' && card.head.file !== undefined;
    return {
      id: card.id,
      source: 'shipped',
      card,
      cardPath,
      detectorPath,
      normalisation: parseNormalisation(card.backbone.normalisation),
      ...(problem && !fusable ? { problem } : {}),
    };
  }

  private problemOf(card: ModelCard, detectorPath: string): Pick<RegisteredModel, 'problem'> {
    if (!card.trained) {
      return { problem: { code: 'NO_TRAINED_MODEL', message: `Model ${card.id} has no trained head; train one with \`npm run train\`` } };
    }
    if (!fs.existsSync(detectorPath)) {
      return { problem: { code: 'MODEL_NOT_FOUND', message: `Model ${card.id}: ${detectorPath} is missing` } };
    }
    return {};
  }

  /** Every model the registry knows, shipped default first; unreadable cards are skipped with a problem entry. */
  async list(): Promise<RegisteredModel[]> {
    const out: RegisteredModel[] = [];
    const shipped = this.shippedModel();
    if (shipped) out.push(shipped);
    let entries: fs.Dirent[] = [];
    try {
      entries = await fsp.readdir(this.modelsDir, { withFileTypes: true });
    } catch {
      entries = [];
    }
    for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      if (!e.isDirectory() || !modelIdSchema.safeParse(e.name).success) continue;
      try {
        const m = this.userModel(e.name);
        if (m) out.push(m);
      } catch (err) {
        if (!(err instanceof ModelRegistryError)) throw err;
      }
    }
    return out;
  }

  private readDefaultPointer(): string | undefined {
    const file = path.join(this.modelsDir, DEFAULT_POINTER_FILE);
    if (!fs.existsSync(file)) return undefined;
    const v = readJson(file) as { id?: unknown };
    return typeof v?.id === 'string' ? v.id : undefined;
  }

  /** The model new analyses use when none is named: the user's choice, else the shipped default, else the newest. */
  private selectActive(all: readonly RegisteredModel[]): RegisteredModel | undefined {
    const pointer = this.readDefaultPointer();
    const usable = all.filter((m) => !m.problem);
    return (
      (pointer ? usable.find((m) => m.id === pointer) : undefined) ??
      usable.find((m) => m.source === 'shipped') ??
      usable.filter((m) => m.source === 'user').sort((a, b) => (b.card.createdAt ?? '').localeCompare(a.card.createdAt ?? ''))[0]
    );
  }

  /** The active model (without hashing its file; resolve() does that before it runs). */
  async active(): Promise<RegisteredModel | undefined> {
    return this.selectActive(await this.list());
  }

  /** Deletes a user model's folder. The caller refuses the active one; the shipped default is never deleted. */
  async remove(id: string): Promise<RegisteredModel> {
    if (!modelIdSchema.safeParse(id).success) throw new ModelRegistryError('INVALID_MODEL_ID', `"${id}" is not a valid model id`);
    if (this.shippedModel()?.id === id) throw new ModelRegistryError('MODEL_EXISTS', `"${id}" is the shipped default; it cannot be deleted`);
    const model = this.userModel(id);
    if (!model) throw new ModelRegistryError('MODEL_NOT_FOUND', `No model with id "${id}"`);
    const dir = path.dirname(model.cardPath);
    // The card goes first, so an interrupted delete leaves an unlisted folder, never a half model.
    await fsp.rm(model.cardPath, { force: true });
    await fsp.rm(dir, { recursive: true, force: true });
    if (this.readDefaultPointer() === id) await fsp.rm(path.join(this.modelsDir, DEFAULT_POINTER_FILE), { force: true });
    return model;
  }

  async setDefault(id: string): Promise<void> {
    const model = (await this.list()).find((m) => m.id === id);
    if (!model) throw new ModelRegistryError('MODEL_NOT_FOUND', `No model with id "${id}"`);
    await writeFileAtomic(path.join(this.modelsDir, DEFAULT_POINTER_FILE), JSON.stringify({ id }, null, 2) + '\n');
  }

  /**
   * The model to analyse with, ready to run: the named one, else the user's default, else the shipped
   * default, else the newest trained user model. Throws NO_TRAINED_MODEL when there is none.
   * The detector file is hashed and must match its card.
   */
  async resolve(modelId?: string): Promise<RegisteredModel & { problem?: undefined }> {
    let model: RegisteredModel | undefined;
    if (modelId !== undefined) {
      if (!modelIdSchema.safeParse(modelId).success) {
        throw new ModelRegistryError('INVALID_MODEL_ID', `"${modelId}" is not a valid model id`);
      }
      const shipped = this.shippedModel();
      model = shipped?.id === modelId ? shipped : this.userModel(modelId);
      if (!model) throw new ModelRegistryError('MODEL_NOT_FOUND', `No model with id "${modelId}" (see \`npm run cli -- models\`)`);
    } else {
      const all = await this.list();
      model = this.selectActive(all);
      if (!model) {
        const reasons = all.map((m) => `${m.id}: ${m.problem?.message ?? 'unusable'}`).join('; ');
        throw new ModelRegistryError(
          'NO_TRAINED_MODEL',
          `No trained detector is installed, so there is nothing to analyse with (a random head would print meaningless numbers). ` +
            `Train one with \`npm run train\` or build the shipped default at install.${reasons ? ` Known models: ${reasons}` : ''}`,
        );
      }
    }
    if (model.problem) throw new ModelRegistryError(model.problem.code, model.problem.message);
    if (model.source === 'shipped' && !fs.existsSync(model.detectorPath)) {
      model = { ...model, detectorPath: await this.fuseShippedDefault(model) };
    }
    const { sha } = await hashFileCached(model.detectorPath);
    if (sha !== model.card.sha256.toLowerCase()) {
      throw new ModelRegistryError(
        'MODEL_SHA_MISMATCH',
        `Model ${model.id}: ${model.detectorPath} hashes to ${sha} but its card says ${model.card.sha256}; refusing to use it`,
      );
    }
    return model as RegisteredModel & { problem?: undefined };
  }

  /** Fuses the committed default head with its backbone on first use (normally done at install). */
  private async fuseShippedDefault(model: RegisteredModel): Promise<string> {
    const card = model.card;
    const headFile = path.resolve(path.dirname(model.cardPath), card.head.file ?? '');
    const backbonePath = path.join(this.repoRoot, 'models', 'backbones', `${card.backbone.name}.onnx`);
    if (!fs.existsSync(headFile) || !fs.existsSync(backbonePath)) {
      throw new ModelRegistryError(
        'DEFAULT_BUILD_FAILED',
        `The shipped default ${card.id} is not built and cannot be built: ${!fs.existsSync(backbonePath) ? `backbone ${backbonePath} is missing (run the backbone build)` : `head weights ${headFile} are missing`}`,
      );
    }
    const backboneBytes = await fsp.readFile(backbonePath);
    if (card.backbone.sha256 && sha256Hex(backboneBytes) !== card.backbone.sha256.toLowerCase()) {
      throw new ModelRegistryError(
        'DEFAULT_BUILD_FAILED',
        `Backbone ${backbonePath} is not the one the default head was trained on (sha256 differs from the card); retrain the head`,
      );
    }
    const headBytes = await fsp.readFile(headFile);
    if (card.head.sha256 && sha256Hex(headBytes) !== card.head.sha256.toLowerCase()) {
      throw new ModelRegistryError('DEFAULT_BUILD_FAILED', `Head weights ${headFile} do not hash to the sha256 the card records`);
    }
    let bytes: Uint8Array;
    try {
      const head = readHeadWeightsFile(headFile);
      // The head reads the pooled map of the card's feature layer, which may be an earlier layer.
      bytes = buildDetectorOnnx(new Uint8Array(backboneBytes), head, detectorOptionsOfCard(card));
    } catch (e) {
      throw new ModelRegistryError('DEFAULT_BUILD_FAILED', `Could not fuse the shipped default ${card.id}: ${(e as Error).message}`);
    }
    const sha = sha256Hex(bytes);
    if (sha !== card.sha256.toLowerCase()) {
      throw new ModelRegistryError(
        'MODEL_SHA_MISMATCH',
        `Fusing the shipped default ${card.id} gave sha256 ${sha}, but its card says ${card.sha256}; the backbone or head differs from the one it was trained with`,
      );
    }
    for (const target of this.shippedDetectorCandidates()) {
      try {
        await writeFileAtomic(target, bytes);
        return target;
      } catch {
        // Read-only install folder: try the data dir next.
      }
    }
    throw new ModelRegistryError('DEFAULT_BUILD_FAILED', `Could not write the fused default detector anywhere`);
  }

  /**
   * Adds a trained detector as a new model: copies the ONNX into <dataDir>/models/<id>/, computes its
   * sha256 into the card and writes the card last, so a half-written model is never listed as usable.
   */
  async register(input: {
    detector: Uint8Array | string;
    card: ModelCardDraft;
    setDefault?: boolean;
    overwrite?: boolean;
  }): Promise<RegisteredModel> {
    const id = input.card.id;
    if (!modelIdSchema.safeParse(id).success) throw new ModelRegistryError('INVALID_MODEL_ID', `"${id}" is not a valid model id`);
    const shipped = this.shippedModel();
    if (shipped?.id === id) throw new ModelRegistryError('MODEL_EXISTS', `"${id}" is the shipped default's id`);
    const dir = path.join(this.modelsDir, id);
    if (fs.existsSync(path.join(dir, MODEL_CARD_FILE)) && !input.overwrite) {
      throw new ModelRegistryError('MODEL_EXISTS', `A model with id "${id}" already exists`);
    }
    const bytes = typeof input.detector === 'string' ? await fsp.readFile(input.detector) : input.detector;
    const sha = sha256Hex(bytes);
    if (input.card.sha256 && input.card.sha256.toLowerCase() !== sha) {
      throw new ModelRegistryError('MODEL_SHA_MISMATCH', `The card says sha256 ${input.card.sha256} but the detector hashes to ${sha}`);
    }
    const card = parseModelCard({ createdAt: new Date().toISOString(), ...input.card, sha256: sha }, `for ${id}`);
    await fsp.rm(path.join(dir, MODEL_CARD_FILE), { force: true });
    await writeFileAtomic(path.join(dir, DETECTOR_FILE), bytes);
    try {
      // Refuse a file onnxruntime cannot run, or whose input size disagrees with the card.
      const session = await getDetectorSession(path.join(dir, DETECTOR_FILE), { expectedSha256: sha });
      if (session.inputSize !== card.backbone.inputSize) {
        throw new Error(`the detector takes ${session.inputSize} px images but the card says ${card.backbone.inputSize}`);
      }
    } catch (e) {
      await fsp.rm(dir, { recursive: true, force: true });
      throw new ModelRegistryError('INVALID_MODEL', `Cannot register ${id}: ${(e as Error).message}`);
    }
    await writeFileAtomic(path.join(dir, MODEL_CARD_FILE), JSON.stringify(card, null, 2) + '\n');
    if (input.setDefault) await this.setDefault(id);
    const model = this.userModel(id);
    if (!model) throw new ModelRegistryError('MODEL_NOT_FOUND', `Model ${id} vanished while registering`);
    return model;
  }
}

/** The head format the fusion consumes (kernels row-major [in, out], as in Keras). */
export interface HeadWeightsLike {
  inputDim: number;
  dense1: { kernel: Float32Array; bias: Float32Array; units: number };
  bn: { gamma: Float32Array; beta: Float32Array; movingMean: Float32Array; movingVariance: Float32Array; epsilon: number };
  dense2: { kernel: Float32Array; bias: Float32Array };
}

/** Reads head weights stored as JSON, each array either a number list or base64 of little-endian float32. */
export function readHeadWeightsFile(file: string): HeadWeightsLike {
  const raw = readJson(file) as { inputDim?: unknown; dense1?: Record<string, unknown>; bn?: Record<string, unknown>; dense2?: Record<string, unknown> };
  const floats = (v: unknown, name: string): Float32Array => {
    if (Array.isArray(v)) return Float32Array.from(v as number[]);
    if (typeof v === 'string') {
      const b = Buffer.from(v, 'base64');
      if (b.length % 4 !== 0) throw new Error(`${name}: base64 length is not a multiple of 4 bytes`);
      const out = new Float32Array(b.length / 4);
      for (let i = 0; i < out.length; i++) out[i] = b.readFloatLE(i * 4);
      return out;
    }
    throw new Error(`${file}: ${name} is missing`);
  };
  const d1 = raw.dense1 ?? {};
  const bn = raw.bn ?? {};
  const d2 = raw.dense2 ?? {};
  const bias1 = floats(d1.bias, 'dense1.bias');
  const units = typeof d1.units === 'number' ? d1.units : bias1.length;
  const kernel1 = floats(d1.kernel, 'dense1.kernel');
  return {
    inputDim: typeof raw.inputDim === 'number' ? raw.inputDim : kernel1.length / units,
    dense1: { kernel: kernel1, bias: bias1, units },
    bn: {
      gamma: floats(bn.gamma, 'bn.gamma'),
      beta: floats(bn.beta, 'bn.beta'),
      movingMean: floats(bn.movingMean, 'bn.movingMean'),
      movingVariance: floats(bn.movingVariance, 'bn.movingVariance'),
      epsilon: typeof bn.epsilon === 'number' ? bn.epsilon : 1e-3,
    },
    dense2: { kernel: floats(d2.kernel, 'dense2.kernel'), bias: floats(d2.bias, 'dense2.bias') },
  };
}

/** The head's inputs when it reads several pooled maps (a "taps" model); undefined for one map. */
export function headInputsOfCard(backbone: ModelCard['backbone']): HeadInput[] | undefined {
  const layers = backbone.featureLayers;
  if (!layers || layers.length < 2) return undefined;
  return layers.map((l) => {
    if (l.pooling === 'none') throw new ModelRegistryError('INVALID_MODEL_CARD', `the head's input ${l.output} is not a pooled map (pooling none); such a head cannot be fused`);
    return { output: l.output, pooling: l.pooling };
  });
}

/** How the card's head is fused with its backbone: which map it reads, and whether it reads more. */
export function detectorOptionsOfCard(card: Pick<ModelCard, 'backbone'> & { inference?: unknown }): DetectorOptions {
  const { backbone } = card;
  const headInputs = headInputsOfCard(backbone);
  const { mirror } = inferenceOf(card);
  return { ...(backbone.featureLayer ? { featureOutput: backbone.featureLayer } : {}), ...(headInputs ? { headInputs } : {}), ...(mirror ? { mirror } : {}) };
}
