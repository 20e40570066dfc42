// The model registry as the lab offers it: list with cards, activate (explicit, audited, a warning
// for a model that fails its own evaluation), delete a non-active model, export and import a model
// file verified by hash. Every change lands in the case store's global audit chain. The registry
// decides which model new analyses use; verdicts already recorded keep the model id and sha256 that
// produced them, and the card of every model ever activated or deleted is kept in the case store.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import type { CaseStore } from '../case-store';
import { sha256Hex } from '../engine/detector-session';
import { ModelRegistry, ModelRegistryError, modelCardSchema, parseModelCard, type ModelCard, type RegisteredModel } from '../engine/model-registry';
import { assessModelQuality, type ModelQuality } from './model-quality';

export class ModelLabError extends Error {
  constructor(
    readonly code: 'MODEL_WEAK' | 'MODEL_ACTIVE' | 'INVALID_MODEL_FILE' | 'MODEL_SHA_MISMATCH' | 'BAD_PATH' | 'FILE_EXISTS',
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'ModelLabError';
  }
}

export interface LabModel {
  id: string;
  source: 'user' | 'shipped';
  active: boolean;
  card: ModelCard;
  quality: ModelQuality;
  problem?: { code: string; message: string };
}

export interface ModelLabContext {
  dataDir: string;
  store: CaseStore;
  actor: string;
  repoRoot?: string;
}

const registryOf = (ctx: Pick<ModelLabContext, 'dataDir' | 'repoRoot'>) => new ModelRegistry({ dataDir: ctx.dataDir, repoRoot: ctx.repoRoot });

export async function listLabModels(ctx: Pick<ModelLabContext, 'dataDir' | 'repoRoot'>): Promise<LabModel[]> {
  const registry = registryOf(ctx);
  const all = await registry.list();
  const active = await registry.active();
  return all.map((m) => ({
    id: m.id,
    source: m.source,
    active: m.id === active?.id,
    card: m.card,
    quality: assessModelQuality(m.card),
    ...(m.problem ? { problem: m.problem } : {}),
  }));
}

/** Keeps the card of a model that verdicts may cite in the case store (idempotent). */
function keepCard(store: CaseStore, model: RegisteredModel, actor: string): void {
  store.registerModel({ id: model.id, sha256: model.card.sha256.toLowerCase(), name: model.card.name ?? model.id, card: model.card as Record<string, unknown> }, actor);
}

/**
 * Makes a model the one new analyses use. A model below the quality floors (or never evaluated)
 * needs confirmWeak: true; the audit entry records that the examiner confirmed it and why it was weak.
 */
export async function activateModel(ctx: ModelLabContext, request: { id: string; confirmWeak?: boolean }) {
  const registry = registryOf(ctx);
  const before = await registry.active();
  // Hash-checked: a model whose file does not match its card cannot become active.
  const model = await registry.resolve(request.id);
  const quality = assessModelQuality(model.card);
  if (quality.weak && request.confirmWeak !== true) {
    throw new ModelLabError(
      'MODEL_WEAK',
      `${model.id} fails its own evaluation: ${quality.reasons.join('; ')}. Activating it needs an explicit confirmation (confirmWeak).`,
      { reasons: quality.reasons, floors: quality.floors },
    );
  }
  const from = before ? { id: before.id, sha256: before.card.sha256.toLowerCase() } : null;
  await registry.setDefault(model.id);
  try {
    keepCard(ctx.store, model, ctx.actor);
    ctx.store.recordModelEvent(
      'model.activated',
      {
        from,
        to: { id: model.id, sha256: model.card.sha256.toLowerCase() },
        weak: quality.weak,
        ...(quality.weak ? { weakReasons: quality.reasons, confirmedWeak: true } : {}),
        threshold: model.card.threshold,
      },
      ctx.actor,
    );
  } catch (e) {
    // Not audited, so not done: put the previous choice back.
    if (from) await registry.setDefault(from.id).catch(() => undefined);
    throw e;
  }
  return { active: { id: model.id, sha256: model.card.sha256.toLowerCase() }, previous: from, weak: quality.weak, reasons: quality.reasons };
}

export async function deleteModel(ctx: ModelLabContext, request: { id: string }) {
  const registry = registryOf(ctx);
  const active = await registry.active();
  if (active?.id === request.id) {
    throw new ModelLabError('MODEL_ACTIVE', `${request.id} is the active detector; make another model active before deleting it`);
  }
  const model = (await registry.list()).find((m) => m.id === request.id);
  if (!model) throw new ModelRegistryError('MODEL_NOT_FOUND', `No model with id "${request.id}"`);
  if (model.source === 'shipped') throw new ModelRegistryError('MODEL_EXISTS', `${request.id} is the shipped default; it cannot be deleted`);
  keepCard(ctx.store, model, ctx.actor);
  await registry.remove(request.id);
  ctx.store.recordModelEvent('model.deleted', { id: model.id, sha256: model.card.sha256.toLowerCase() }, ctx.actor);
  return { deleted: model.id };
}

export const MODEL_FILE_FORMAT = 'ai-image-forensics/model';
const MAX_MODEL_FILE_BYTES = 600 * 1024 * 1024;

const modelFileSchema = z.object({
  format: z.literal(MODEL_FILE_FORMAT),
  version: z.literal(1),
  card: z.record(z.unknown()),
  /** The fused detector ONNX, base64. */
  detector: z.string().min(1),
  /** Head weights JSON beside the card, when the model has them. */
  headWeights: z.string().optional(),
  exportedAt: z.string().optional(),
  exportedBy: z.string().optional(),
});

function checkTargetPath(file: string, what: string): string {
  if (typeof file !== 'string' || !path.isAbsolute(file)) throw new ModelLabError('BAD_PATH', `The ${what} must be an absolute path, got "${file}"`);
  return path.resolve(file);
}

/** One file with the card and the detector; import checks the detector against the card's sha256. */
export async function exportModel(ctx: ModelLabContext, request: { id: string; file: string; overwrite?: boolean }) {
  const target = checkTargetPath(request.file, 'export file');
  if (fs.existsSync(target) && !request.overwrite) throw new ModelLabError('FILE_EXISTS', `${target} already exists; choose another name`);
  const registry = registryOf(ctx);
  const model = await registry.resolve(request.id);
  const detector = await fsp.readFile(model.detectorPath);
  const headFile = path.join(path.dirname(model.cardPath), model.source === 'shipped' ? (model.card.head.file ?? 'head-weights.json') : 'head-weights.json');
  const body = {
    format: MODEL_FILE_FORMAT,
    version: 1 as const,
    card: model.card,
    detector: detector.toString('base64'),
    ...(fs.existsSync(headFile) ? { headWeights: await fsp.readFile(headFile, 'utf8') } : {}),
    exportedAt: new Date().toISOString(),
    exportedBy: ctx.actor,
  };
  const text = JSON.stringify(body);
  await fsp.mkdir(path.dirname(target), { recursive: true });
  const tmp = `${target}.${process.pid}.${Date.now()}.tmp`;
  const handle = await fsp.open(tmp, 'w');
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fsp.rename(tmp, target);
  const fileSha256 = sha256Hex(Buffer.from(text));
  ctx.store.recordModelEvent('model.exported', { id: model.id, sha256: model.card.sha256.toLowerCase(), file: target, fileSha256 }, ctx.actor);
  return { file: target, bytes: Buffer.byteLength(text), fileSha256 };
}

export async function importModel(ctx: ModelLabContext, request: { file: string; id?: string }) {
  const source = checkTargetPath(request.file, 'model file');
  let stat;
  try {
    stat = await fsp.stat(source);
  } catch {
    throw new ModelLabError('INVALID_MODEL_FILE', `${source} does not exist`);
  }
  if (!stat.isFile()) throw new ModelLabError('INVALID_MODEL_FILE', `${source} is not a file`);
  if (stat.size > MAX_MODEL_FILE_BYTES) throw new ModelLabError('INVALID_MODEL_FILE', `${source} is ${stat.size} bytes; a model file is at most ${MAX_MODEL_FILE_BYTES}`);
  const text = await fsp.readFile(source, 'utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ModelLabError('INVALID_MODEL_FILE', `${source} is not a model file exported by this app (not JSON: ${(e as Error).message})`);
  }
  const parsed = modelFileSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ModelLabError('INVALID_MODEL_FILE', `${source} is not a model file exported by this app (${issue.path.join('.') || 'file'}: ${issue.message})`);
  }
  const cardIn = parseModelCard({ ...parsed.data.card, ...(request.id ? { id: request.id } : {}) }, `in ${path.basename(source)}`);
  const detector = Buffer.from(parsed.data.detector, 'base64');
  const sha = sha256Hex(detector);
  if (sha !== cardIn.sha256.toLowerCase()) {
    throw new ModelLabError(
      'MODEL_SHA_MISMATCH',
      `Refused: the detector in ${path.basename(source)} hashes to ${sha}, but its card says ${cardIn.sha256}. The file was altered or damaged; nothing was imported.`,
    );
  }
  const registry = registryOf(ctx);
  const { createdAt: _keepOriginal, ...rest } = cardIn;
  const card = modelCardSchema.parse({
    ...rest,
    createdAt: cardIn.createdAt,
    importedFrom: { file: source, fileSha256: sha256Hex(Buffer.from(text)), at: new Date().toISOString(), by: ctx.actor },
  });
  const model = await registry.register({ detector, card });
  if (parsed.data.headWeights) await fsp.writeFile(path.join(path.dirname(model.cardPath), 'head-weights.json'), parsed.data.headWeights);
  keepCard(ctx.store, model, ctx.actor);
  ctx.store.recordModelEvent('model.imported', { id: model.id, sha256: sha, file: source }, ctx.actor);
  return { id: model.id, sha256: sha };
}
