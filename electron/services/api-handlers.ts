// The service side of the API contract: one handler per method, shared by both transports.
import os from 'node:os';
import type { ApiEvent, ApiMethod, ApiRequest, ApiResponse } from '../shared/api-contract';
import { ApiCallError } from '../shared/api-contract';
import { listExecutionProviders, readPackageInfo } from './app/app-info';
import { ensureDataDir } from './app/data-dir';
import { JobManager } from './jobs/job-manager';
import { CaseStore } from './case-store';
import { listEvidenceExplanations } from './case-explanation';
import { readProviderPreference, readSettings, updateSettings } from './app/engine-settings';
import { createModelLabHandlers } from './model-lab/model-lab-handlers';

export type ApiHandlers = { [M in ApiMethod]: (request: ApiRequest<M>) => Promise<ApiResponse<M>> };

export interface ApiServices {
  readonly dataDir: string;
  readonly handlers: ApiHandlers;
  onEvent(listener: (event: ApiEvent) => void): () => void;
  dispose(): Promise<void>;
}

export function createApiServices(options: { dataDir: string }): ApiServices {
  const dataDir = ensureDataDir(options.dataDir);
  const jobs = new JobManager();
  // Opened on first use so that `info` and the shell work even before any case exists.
  let store: CaseStore | undefined;
  const caseStore = () => (store ??= CaseStore.open(dataDir));
  const actor = os.userInfo().username;
  const listeners = new Set<(event: ApiEvent) => void>();
  jobs.onUpdate((job) => listeners.forEach((l) => l({ type: 'job', job })));

  const handlers: ApiHandlers = {
    async 'app.info'() {
      const pkg = readPackageInfo();
      return {
        name: pkg.productName,
        version: pkg.version,
        dataDir,
        platform: `${os.platform()}-${os.arch()}`,
        node: process.versions.node,
        providers: listExecutionProviders(),
      };
    },
    async 'engine.providers'() {
      return listExecutionProviders();
    },
    async 'settings.get'() {
      return readSettings(caseStore());
    },
    async 'settings.update'(request) {
      return updateSettings(caseStore(), request, actor);
    },
    async 'cases.list'() {
      return caseStore().listCases();
    },
    async 'cases.create'(request) {
      return caseStore().createCase(request, actor);
    },
    async 'evidence.list'({ caseId }) {
      const s = caseStore();
      return s.listEvidence(s.getCase(caseId).id);
    },
    async 'analyses.list'({ caseId }) {
      const s = caseStore();
      return s.listAnalyses(s.getCase(caseId).id);
    },
    async 'explanations.list'({ evidenceId }) {
      return listEvidenceExplanations(caseStore(), dataDir, evidenceId);
    },
    async 'jobs.start'(request) {
      // Fail fast on an unknown case or evidence rather than inside the worker.
      if ('caseId' in request) caseStore().getCase(request.caseId);
      if ('evidenceId' in request) caseStore().getEvidence(request.evidenceId);
      // Workers open their own connections; they need to know where the data lives and who acts, and
      // the detector jobs which execution provider the examiner asked for.
      const provider = request.kind === 'analysis.run' || request.kind === 'explanation.run' ? { provider: readProviderPreference(caseStore()) } : {};
      return { jobId: jobs.start(request.kind, { ...request, ...provider, dataDir, actor }) };
    },
    ...createModelLabHandlers({ dataDir, caseStore, actor }),
    async 'jobs.get'({ jobId }) {
      const job = jobs.get(jobId);
      if (!job) throw new ApiCallError('NOT_FOUND', `No job with id ${jobId}.`);
      return job;
    },
    async 'jobs.list'() {
      return jobs.list();
    },
    async 'jobs.cancel'({ jobId }) {
      return { cancelled: jobs.cancel(jobId) };
    },
  };

  return {
    dataDir,
    handlers,
    onEvent(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async dispose() {
      await jobs.dispose();
      store?.close();
    },
  };
}

/** Calls a handler with an already validated request and turns any failure into a typed error payload. */
export async function invokeHandler(services: ApiServices, method: ApiMethod, request: unknown) {
  try {
    const value = await (services.handlers[method] as (r: unknown) => Promise<unknown>)(request);
    return { ok: true as const, value };
  } catch (e) {
    const err = e as Error & { code?: string };
    const code = e instanceof ApiCallError ? e.code : (err.code ?? 'INTERNAL');
    // Store and engine errors carry their own codes (CASE_NOT_FOUND, DUPLICATE_CASE_NUMBER, ...).
    return { ok: false as const, error: { code, message: err.message } };
  }
}
