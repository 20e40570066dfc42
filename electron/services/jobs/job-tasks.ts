// Long-running tasks that run inside a worker thread. Each task reports progress and checks
// the abort signal between units of work, so cancel takes effect promptly.
import fs from 'node:fs';
import crypto from 'node:crypto';
import { CaseStore } from '../case-store';
import { analyzeCaseEvidence } from '../case-analysis';
import { explainEvidence } from '../case-explanation';
import { removeStagedUploads, resolveUploads } from '../upload-staging';
import { exportCaseReport } from '../report/case-report';
import { releaseDetectorSessions } from '../engine/detector-session';
import { releaseExplainerSessions } from '../explainers/registered-model';

export interface TaskContext {
  signal: AbortSignal;
  progress(done: number, total: number | null, message?: string, detail?: Record<string, unknown>): void;
}

export type TaskFn = (payload: any, ctx: TaskContext) => Promise<unknown>;

async function sha256File(file: string, signal: AbortSignal): Promise<string> {
  const hash = crypto.createHash('sha256');
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20, signal })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * onnxruntime sessions are native: their memory and intra-op threads are not freed with the worker's
 * isolate, so every session a job opened is released before the job's worker ends.
 */
async function releaseNativeSessions(): Promise<void> {
  await releaseDetectorSessions();
  await releaseExplainerSessions();
}

export const jobTasks: Record<string, TaskFn> = {
  async 'files.hash'(payload: { paths: string[] }, ctx) {
    const results: Array<{ path: string; sha256?: string; error?: string }> = [];
    ctx.progress(0, payload.paths.length);
    for (const [i, p] of payload.paths.entries()) {
      if (ctx.signal.aborted) break;
      try {
        results.push({ path: p, sha256: await sha256File(p, ctx.signal) });
      } catch (e) {
        if (ctx.signal.aborted) break;
        results.push({ path: p, error: (e as Error).message });
      }
      ctx.progress(i + 1, payload.paths.length, p);
    }
    return { files: results };
  },

  async 'evidence.import'(payload: { dataDir: string; caseId: string; paths?: string[]; uploadIds?: string[]; actor: string }, ctx) {
    const store = CaseStore.open(payload.dataDir);
    const uploadIds = payload.uploadIds ?? [];
    try {
      const uploads = resolveUploads(payload.dataDir, uploadIds);
      const result = await store.ingest(payload.caseId, [...(payload.paths ?? []), ...uploads.keys()], {
        actor: payload.actor,
        signal: ctx.signal,
        uploads,
        onProgress: (p) => ctx.progress(p.filesDone, p.filesTotal, p.currentPath && (uploads.get(p.currentPath)?.originalName ?? p.currentPath)),
      });
      return {
        added: result.added.length,
        duplicates: result.duplicates.length,
        failed: result.failed,
        cancelled: result.cancelled,
        addedItems: result.added.map((e) => ({ evidenceId: e.id, name: e.originalName, unreadableReason: e.unreadableReason ?? null })),
        duplicateItems: result.duplicates.map((d) => ({ path: d.path, evidenceId: d.evidenceId, existingName: d.existingName ?? null })),
      };
    } finally {
      store.close();
      // Staged bytes are the server's temporary copies: the evidence is now the case's read-only copy.
      await removeStagedUploads(payload.dataDir, uploadIds);
    }
  },

  async 'analysis.run'(payload: { dataDir: string; caseId: string; actor: string; onlyMissing?: boolean; evidenceIds?: string[]; modelId?: string }, ctx) {
    const store = CaseStore.open(payload.dataDir);
    try {
      return await analyzeCaseEvidence(store, payload.caseId, { ...payload, signal: ctx.signal, onProgress: ctx.progress });
    } finally {
      store.close();
      await releaseNativeSessions();
    }
  },

  async 'explanation.run'(payload: { dataDir: string; evidenceId: string; actor: string; methods?: any[]; parameters?: Record<string, any>; force?: boolean }, ctx) {
    const store = CaseStore.open(payload.dataDir);
    try {
      return await explainEvidence(store, payload.evidenceId, { ...payload, signal: ctx.signal, onProgress: ctx.progress });
    } finally {
      store.close();
      await releaseNativeSessions();
    }
  },

  async 'report.export'(payload: { dataDir: string; caseId: string; actor: string; evidenceIds?: string[] }, ctx) {
    const store = CaseStore.open(payload.dataDir);
    try {
      // Progress is evidence items laid out of the total; the store keeps the issued copy.
      const result = await exportCaseReport(store, payload.caseId, {
        dataDir: payload.dataDir,
        actor: payload.actor,
        evidenceIds: payload.evidenceIds,
        signal: ctx.signal,
        onProgress: (done, total, name) => ctx.progress(done, total, name),
      });
      return { reportId: result.report.id, sha256: result.report.sha256, pageCount: result.report.pageCount, failedHashCheck: result.failedHashCheck };
    } finally {
      store.close();
    }
  },

  async 'training.run'(payload: Record<string, any> & { dataDir: string; datasetDir: string; backbone: string; actor: string }, ctx) {
    const { trainDetector } = await import('../training/train-detector');
    // A trained model is registered but never made active here (that is models.activate, audited).
    const { kind: _kind, actor, setDefault: _never, unfreeze, ...options } = payload;
    const onProgress = (p: any) => {
      if (p.kind === 'epoch' || p.kind === 'batch') {
        const msg = `${p.member ? `head ${p.member}/${p.members}, ` : ''}epoch ${p.epoch}/${p.epochs} loss ${p.loss.toFixed(4)}${p.valLoss !== undefined ? ` val ${p.valLoss.toFixed(4)}` : ''} lr ${p.learningRate}`;
        ctx.progress(p.epoch, p.epochs, msg, { ...p });
      } else if (p.kind === 'features') ctx.progress(p.done, p.total, `features (${p.view})`, { ...p });
      else if (p.kind === 'fold') ctx.progress(p.index, p.total, `leave-one-${p.by}-out: ${p.heldOut} ROC-AUC ${p.rocAuc ?? 'n/a'}`, { ...p });
      else if (p.kind === 'stage') ctx.progress(0, null, p.message, { ...p });
    };
    if (unfreeze !== undefined && unfreeze !== 0) {
      if ((options.ensemble ?? 1) > 1) throw new Error('an ensemble of heads is trained on frozen features; it does not combine with fine-tuning');
      // The fine-tuned network's threshold is chosen on single-pass validation scores.
      if (options.mirror) throw new Error('mirrored scoring is offered for frozen heads; a fine-tuned network is scored one pass per image');
      // The compiled training graph in onnxruntime (resumable, same provider choice as analysis).
      const { fineTuneDetector } = await import('../training/onnx-fine-tune');
      const tuned = await fineTuneDetector(
        {
          datasetDir: options.datasetDir,
          dataDir: payload.dataDir,
          backbone: options.backbone,
          unfreeze,
          epochs: options.epochs,
          batchSize: options.batchSize,
          headLearningRate: options.learningRate,
          optimizer: options.optimizer,
          seed: options.seed,
          excludeModalities: options.excludeModalities,
          excludeGenerators: options.excludeGenerators,
          modelId: options.modelId,
        },
        { signal: ctx.signal, onProgress },
      );
      await discardIfCancelled(payload.dataDir, tuned.modelId, ctx.signal);
      return JSON.parse(JSON.stringify({ modelId: tuned.modelId, fineTuned: tuned.summary }, (_k, v) => (ArrayBuffer.isView(v) ? undefined : v)));
    }
    const result = await trainDetector({ ...(options as Parameters<typeof trainDetector>[0]), createdBy: actor }, { signal: ctx.signal, onProgress });
    await discardIfCancelled(payload.dataDir, result.modelId, ctx.signal);
    // The head weights and detector bytes stay on disk with the registered model; the job reports numbers.
    const summary = {
      modelId: result.modelId,
      threshold: result.threshold,
      val: result.val.metrics,
      test: result.test.metrics,
      leaveOneOut: result.leaveOneOut,
      seconds: result.seconds,
    };
    return JSON.parse(JSON.stringify(summary, (_k, v) => (ArrayBuffer.isView(v) ? undefined : v)));
  },

  async 'dataset.build'(payload: { dataDir: string; source: any; seed?: number }, ctx) {
    const { buildLabDataset } = await import('../model-lab/lab-datasets');
    return buildLabDataset(payload.dataDir, { source: payload.source, seed: payload.seed }, {
      signal: ctx.signal,
      onProgress: (phase, done, total, message) => ctx.progress(done, total, message, { phase }),
    });
  },

  async 'evaluation.run'(payload: { dataDir: string; modelId?: string; datasetDir?: string; split: 'train' | 'val' | 'test' }, ctx) {
    const { evaluateForLab } = await import('../model-lab/lab-evaluation');
    return evaluateForLab(payload, { signal: ctx.signal, onProgress: (done, total) => ctx.progress(done, total, `scored ${done}/${total} images`) });
  },

  async 'model.threshold'(payload: { dataDir: string; actor: string; modelId: string; point: any; datasetDir?: string; newId?: string }, ctx) {
    const { saveThresholdVersion } = await import('../model-lab/lab-evaluation');
    const store = CaseStore.open(payload.dataDir);
    try {
      return await saveThresholdVersion({ ...payload, store }, { signal: ctx.signal, onProgress: (done, total, message) => ctx.progress(done, total, message) });
    } finally {
      store.close();
    }
  },
};

/** A run whose cancel arrived after its model was registered keeps no usable model behind. */
async function discardIfCancelled(dataDir: string, modelId: string | undefined, signal: AbortSignal): Promise<void> {
  if (!signal.aborted || !modelId) return;
  const { ModelRegistry } = await import('../engine/model-registry');
  await new ModelRegistry({ dataDir }).remove(modelId).catch(() => undefined);
}
