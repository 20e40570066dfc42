// Long-running tasks that run inside a worker thread. Each task reports progress and checks
// the abort signal between units of work, so cancel takes effect promptly.
import fs from 'node:fs';
import crypto from 'node:crypto';
import { CaseStore } from '../case-store';
import { analyzeCaseEvidence } from '../case-analysis';
import { explainEvidence } from '../case-explanation';

export interface TaskContext {
  signal: AbortSignal;
  progress(done: number, total: number | null, message?: string): void;
}

export type TaskFn = (payload: any, ctx: TaskContext) => Promise<unknown>;

async function sha256File(file: string, signal: AbortSignal): Promise<string> {
  const hash = crypto.createHash('sha256');
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20, signal })) hash.update(chunk as Buffer);
  return hash.digest('hex');
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
    }
  },

  async 'explanation.run'(payload: { dataDir: string; evidenceId: string; actor: string; methods?: any[] }, ctx) {
    const store = CaseStore.open(payload.dataDir);
    try {
      return await explainEvidence(store, payload.evidenceId, { ...payload, signal: ctx.signal, onProgress: ctx.progress });
    } finally {
      store.close();
    }
  },
};
