// Long-running tasks that run inside a worker thread. Each task reports progress and checks
// the abort signal between units of work, so cancel takes effect promptly.
import fs from 'node:fs';
import crypto from 'node:crypto';
import { CaseStore } from '../case-store';
import { analyzeCaseEvidence } from '../case-analysis';
import { explainEvidence } from '../case-explanation';
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

  async 'evidence.import'(payload: { dataDir: string; caseId: string; paths: string[]; actor: string }, ctx) {
    const store = CaseStore.open(payload.dataDir);
    try {
      const result = await store.ingest(payload.caseId, payload.paths, {
        actor: payload.actor,
        signal: ctx.signal,
        onProgress: (p) => ctx.progress(p.filesDone, p.filesTotal, p.currentPath),
      });
      return { added: result.added.length, duplicates: result.duplicates.length, failed: result.failed, cancelled: result.cancelled };
    } finally {
      store.close();
    }
  },

  async 'analysis.run'(payload: { dataDir: string; caseId: string; actor: string; onlyMissing?: boolean; modelId?: string }, ctx) {
    const store = CaseStore.open(payload.dataDir);
    try {
      return await analyzeCaseEvidence(store, payload.caseId, { ...payload, signal: ctx.signal, onProgress: ctx.progress });
    } finally {
      store.close();
      await releaseNativeSessions();
    }
  },

  async 'explanation.run'(payload: { dataDir: string; evidenceId: string; actor: string; methods?: any[] }, ctx) {
    const store = CaseStore.open(payload.dataDir);
    try {
      return await explainEvidence(store, payload.evidenceId, { ...payload, signal: ctx.signal, onProgress: ctx.progress });
    } finally {
      store.close();
      await releaseNativeSessions();
    }
  },

  async 'training.run'(payload: Record<string, any> & { dataDir: string; datasetDir: string; backbone: string }, ctx) {
    const { trainDetector } = await import('../training/train-detector');
    const { kind: _kind, actor: _actor, ...options } = payload;
    const result = await trainDetector(options as Parameters<typeof trainDetector>[0], {
      signal: ctx.signal,
      onProgress(p) {
        if (p.kind === 'epoch' || p.kind === 'batch') {
          const msg = `epoch ${p.epoch}/${p.epochs} loss ${p.loss.toFixed(4)}${p.valLoss !== undefined ? ` val ${p.valLoss.toFixed(4)}` : ''} lr ${p.learningRate}`;
          ctx.progress(p.epoch, p.epochs, msg, { ...p });
        } else if (p.kind === 'features') ctx.progress(p.done, p.total, `features (${p.view})`, { ...p });
        else if (p.kind === 'fold') ctx.progress(p.index, p.total, `leave-one-${p.by}-out: ${p.heldOut} ROC-AUC ${p.rocAuc ?? 'n/a'}`, { ...p });
        else if (p.kind === 'stage') ctx.progress(0, null, p.message, { ...p });
      },
    });
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
};
