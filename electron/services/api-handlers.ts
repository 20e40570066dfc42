// The service side of the API contract: one handler per method, shared by both transports.
import os from 'node:os';
import path from 'node:path';
import type { ApiEvent, ApiMethod, ApiRequest, ApiResponse } from '../shared/api-contract';
import { ApiCallError } from '../shared/api-contract';
import { listExecutionProviders, readPackageInfo } from './app/app-info';
import { ensureDataDir } from './app/data-dir';
import { JobManager } from './jobs/job-manager';
import { CaseStore } from './case-store';
import { listEvidenceExplanations } from './case-explanation';
import { evidenceProvenanceViews, inspectEvidenceProvenance, listEvidenceProvenance } from './case-provenance';
import { readProviderPreference, readSettings, updateSettings } from './app/engine-settings';
import { evidenceOriginal, evidenceThumbnail } from './evidence-images';
import { removeStaleUploads } from './upload-staging';
import { readIssuedReport, reportInfo } from './report/report-files';
import { createModelLabHandlers } from './model-lab/model-lab-handlers';

export type ApiHandlers = { [M in ApiMethod]: (request: ApiRequest<M>) => Promise<ApiResponse<M>> };

export interface ApiServices {
  readonly dataDir: string;
  readonly handlers: ApiHandlers;
  onEvent(listener: (event: ApiEvent) => void): () => void;
  dispose(): Promise<void>;
}

/** What only the desktop shell can do (native dialogs); absent under the browser transport. */
export interface NativeShell {
  openEvidenceDialog(): Promise<string[]>;
}

/** The audit entries of a case that concern one evidence file: its own, its analyses' and their explanations'. */
function evidenceHistory(store: CaseStore, evidenceId: string) {
  const evidence = store.getEvidence(evidenceId);
  const analysisIds = new Set(store.listAnalysesForEvidence(evidence.id).map((a) => a.id));
  return store.auditLog(evidence.caseId).filter((e) => {
    const d = e.details;
    return d.evidenceId === evidence.id || (typeof d.analysisId === 'string' && analysisIds.has(d.analysisId)) || (e.action === 'evidence.duplicate' && d.sha256 === evidence.sha256);
  });
}

const auditEntryOut = (e: { index: number; at: string; actor: string; action: string; details: Record<string, unknown>; prevHash: string; hash: string }) => ({
  index: e.index,
  at: e.at,
  actor: e.actor,
  action: e.action,
  details: e.details,
  prevHash: e.prevHash,
  hash: e.hash,
});

export function createApiServices(options: { dataDir: string; nativeShell?: NativeShell }): ApiServices {
  const dataDir = ensureDataDir(options.dataDir);
  removeStaleUploads(dataDir);
  const jobs = new JobManager();
  // Opened on first use so that `info` and the shell work even before any case exists.
  let store: CaseStore | undefined;
  const caseStore = () => (store ??= CaseStore.open(dataDir));
  // Who acts on the machine as a whole (settings, models); a case's own actions are its examiner's.
  const actor = os.userInfo().username;
  const caseActor = (caseId: string) => caseStore().getCase(caseId).examiner;
  const evidenceActor = (evidenceId: string) => caseActor(caseStore().getEvidence(evidenceId).caseId);
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
      // The examiner named on the case is who created it, not the account the server runs under.
      return caseStore().createCase(request, request.examiner);
    },
    async 'cases.update'({ caseId, ...edit }) {
      const c = caseStore().getCase(caseId);
      // Recorded as the examiner the case had when the edit was made.
      return caseStore().updateCase(c.id, edit, c.examiner);
    },
    async 'cases.close'({ caseId }) {
      return caseStore().closeCase(caseId, caseActor(caseId));
    },
    async 'cases.reopen'({ caseId }) {
      return caseStore().reopenCase(caseId, caseActor(caseId));
    },
    async 'evidence.thumbnail'({ evidenceId }) {
      return evidenceThumbnail(caseStore(), dataDir, evidenceId);
    },
    async 'evidence.original'({ evidenceId }) {
      return evidenceOriginal(caseStore(), evidenceId);
    },
    async 'evidence.history'({ evidenceId }) {
      return evidenceHistory(caseStore(), evidenceId).map(auditEntryOut);
    },
    async 'notes.list'({ evidenceId }) {
      const s = caseStore();
      const e = s.getEvidence(evidenceId);
      return s
        .listNotes(e.caseId)
        .filter((n) => n.evidenceId === e.id)
        .map((n) => ({ id: n.id, body: n.body, author: n.author, createdAt: n.createdAt }));
    },
    async 'notes.add'({ evidenceId, body }) {
      const s = caseStore();
      const e = s.getEvidence(evidenceId);
      const n = s.addNote({ caseId: e.caseId, evidenceId: e.id, body, author: caseActor(e.caseId) });
      return { id: n.id, body: n.body, author: n.author, createdAt: n.createdAt };
    },
    async 'tags.list'({ caseId }) {
      return caseStore()
        .listTags(caseId)
        .map((t) => ({ evidenceId: t.evidenceId, tag: t.tag }));
    },
    async 'tags.add'({ evidenceId, tag }) {
      caseStore().tagEvidence(evidenceId, tag, evidenceActor(evidenceId));
      return { ok: true };
    },
    async 'tags.remove'({ evidenceId, tag }) {
      return { ok: caseStore().untagEvidence(evidenceId, tag, evidenceActor(evidenceId)) };
    },
    async 'audit.list'({ caseId }) {
      return caseStore().auditLog(caseId).map(auditEntryOut);
    },
    async 'audit.verify'({ caseId }) {
      const r = await caseStore().verifyCase(caseId);
      return {
        ok: r.ok,
        verifiedAt: r.verifiedAt,
        evidenceChecked: r.evidenceChecked,
        auditEntriesChecked: r.auditEntriesChecked,
        auditHead: r.auditHead,
        issues: r.issues.map((i) => ({ ...i }) as Record<string, unknown>),
      };
    },
    async 'dialog.openEvidence'() {
      if (!options.nativeShell) {
        throw new ApiCallError('NOT_AVAILABLE', 'The native open dialog exists only in the desktop app; choose files with the file picker or drop them on the grid.');
      }
      return { paths: await options.nativeShell.openEvidenceDialog() };
    },
    async 'evidence.list'({ caseId }) {
      const s = caseStore();
      return s.listEvidence(s.getCase(caseId).id);
    },
    async 'analyses.list'({ caseId }) {
      const s = caseStore();
      return s.listAnalyses(s.getCase(caseId).id);
    },
    async 'analyses.failures'({ caseId }) {
      const s = caseStore();
      const latest = new Map<string, { evidenceId: string; code: string; message: string; at: string }>();
      for (const e of s.auditLog(caseId)) {
        const id = e.details.evidenceId;
        if (typeof id !== 'string') continue;
        if (e.action === 'analysis.failed') latest.set(id, { evidenceId: id, code: String(e.details.code), message: String(e.details.message), at: e.at });
        else if (e.action === 'analysis.recorded') latest.delete(id);
      }
      return [...latest.values()];
    },
    async 'explanations.list'({ evidenceId }) {
      return listEvidenceExplanations(caseStore(), dataDir, evidenceId);
    },
    async 'reports.list'({ caseId }) {
      return caseStore().listReports(caseId).map((r) => reportInfo(caseStore(), r));
    },
    async 'reports.file'({ reportId }) {
      const file = readIssuedReport(caseStore(), reportId);
      return { fileName: file.fileName, sha256: file.sha256, sizeBytes: file.bytes.byteLength, pdfBase64: file.bytes.toString('base64') };
    },
    async 'provenance.inspect'({ evidenceId, elaQuality }) {
      return inspectEvidenceProvenance(caseStore(), evidenceId, { actor, elaQuality });
    },
    async 'provenance.list'({ evidenceId }) {
      return listEvidenceProvenance(caseStore(), evidenceId);
    },
    async 'provenance.views'({ evidenceId, elaQuality }) {
      return { images: await evidenceProvenanceViews(caseStore(), evidenceId, { elaQuality }) };
    },
    async 'jobs.start'(request) {
      // Fail fast on an unknown case or evidence rather than inside the worker.
      if ('caseId' in request) caseStore().getCase(request.caseId);
      if ('evidenceId' in request) caseStore().getEvidence(request.evidenceId);
      if (request.kind === 'evidence.import') {
        if (!request.paths?.length && !request.uploadIds?.length) throw new ApiCallError('INVALID_REQUEST', 'Choose at least one file or folder to import.');
        // A relative path would silently mean "relative to wherever the server was started".
        const relative = (request.paths ?? []).filter((p) => !path.isAbsolute(p));
        if (relative.length) {
          throw new ApiCallError(
            'RELATIVE_PATH',
            `${relative.length === 1 ? `"${relative[0]}" is` : `${relative.length} paths are`} not a full path; give the full path from the root (for example /home/examiner/evidence/photo.jpg).`,
            { relative },
          );
        }
      }
      // Workers open their own connections; they need to know where the data lives and who acts, and
      // the detector jobs which execution provider the examiner asked for.
      const provider = request.kind === 'analysis.run' || request.kind === 'explanation.run' ? { provider: readProviderPreference(caseStore()) } : {};
      // Case work is done in the name of the case's examiner; machine-wide work (training) in the account's.
      const who = 'caseId' in request ? caseActor(request.caseId) : 'evidenceId' in request ? evidenceActor(request.evidenceId) : actor;
      return { jobId: jobs.start(request.kind, { ...request, ...provider, dataDir, actor: who }) };
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
    const details = e instanceof ApiCallError ? e.details : undefined;
    return { ok: false as const, error: { code, message: err.message, ...(details !== undefined ? { details } : {}) } };
  }
}
