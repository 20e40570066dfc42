import { Worker } from 'node:worker_threads';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { JobState } from '../../shared/api-contract';

type JobKind = JobState['kind'];

/** How long a worker that has answered may take to end on its own before it is terminated. */
const WORKER_EXIT_GRACE_MS = 5_000;

/** The worker entry: the TypeScript source under tsx, or the bundled .js next to this file. */
function workerEntry(): { url: URL; execArgv: string[] } {
  const js = new URL('./job-worker.js', import.meta.url);
  if (fs.existsSync(fileURLToPath(js))) return { url: js, execArgv: process.execArgv };
  return { url: new URL('./job-worker-dev.mjs', import.meta.url), execArgv: [] };
}

/** Runs long tasks off the main thread, one worker each, with progress events and cancel. */
export class JobManager {
  private readonly jobs = new Map<string, { state: JobState; worker?: Worker; exited: Promise<void> }>();
  private readonly listeners = new Set<(job: JobState) => void>();

  onUpdate(listener: (job: JobState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  start(kind: JobKind, payload: unknown): string {
    const id = crypto.randomUUID();
    const { url, execArgv } = workerEntry();
    const worker = new Worker(url, { workerData: { kind, payload }, execArgv });
    const state: JobState = { id, kind, status: 'running', progress: { done: 0, total: null } };
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    const entry: { state: JobState; worker?: Worker; exited: Promise<void> } = { state, worker, exited };
    this.jobs.set(id, entry);
    worker.on('message', (msg: any) => {
      if (msg.type === 'progress') state.progress = { done: msg.done, total: msg.total, message: msg.message, detail: msg.detail };
      else if (msg.type === 'done') Object.assign(state, { status: 'done', result: msg.result });
      else if (msg.type === 'cancelled') state.status = 'cancelled';
      else if (msg.type === 'failed') Object.assign(state, { status: 'failed', error: msg.error });
      if (msg.type !== 'progress') {
        // The worker ends itself once it has answered; one that does not is stopped, so no job's
        // thread outlives it.
        setTimeout(() => void entry.worker?.terminate(), WORKER_EXIT_GRACE_MS).unref();
      }
      this.emit(state);
    });
    worker.on('error', (e) => {
      Object.assign(state, { status: 'failed', error: { code: 'WORKER_CRASHED', message: e.message } });
      this.emit(state);
    });
    worker.on('exit', () => {
      entry.worker = undefined;
      if (state.status === 'running') {
        Object.assign(state, { status: 'failed', error: { code: 'WORKER_EXITED', message: 'The worker stopped before finishing.' } });
        this.emit(state);
      }
    });
    this.emit(state);
    return id;
  }

  get(id: string): JobState | undefined {
    return this.jobs.get(id)?.state;
  }

  list(): JobState[] {
    return [...this.jobs.values()].map((j) => j.state);
  }

  cancel(id: string): boolean {
    const job = this.jobs.get(id);
    if (!job?.worker || job.state.status !== 'running') return false;
    job.worker.postMessage({ type: 'cancel' });
    return true;
  }

  /** Workers still alive: finished jobs have none. */
  liveWorkers(): number {
    return [...this.jobs.values()].filter((j) => j.worker).length;
  }

  /** Resolves once the job's worker thread has ended. */
  async waitForExit(id: string): Promise<void> {
    await this.jobs.get(id)?.exited;
  }

  /** Waits for a job to leave the running state (used by the CLI and tests). */
  waitFor(id: string): Promise<JobState> {
    return new Promise((resolve, reject) => {
      const job = this.jobs.get(id);
      if (!job) return reject(new Error(`No job ${id}`));
      if (job.state.status !== 'running') return resolve(job.state);
      const off = this.onUpdate((s) => {
        if (s.id === id && s.status !== 'running') {
          off();
          resolve(s);
        }
      });
    });
  }

  async dispose(): Promise<void> {
    await Promise.all([...this.jobs.values()].map((j) => j.worker?.terminate()));
  }

  private emit(state: JobState): void {
    const snapshot = structuredClone(state);
    for (const l of this.listeners) l(snapshot);
  }
}
