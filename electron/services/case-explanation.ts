// Explains the latest analysis of one evidence file with the very model that produced it, and
// records each heatmap against that analysis (stored read-only in the case folder, audited).
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { CaseStore } from './case-store';
import { casePaths } from './case-store/evidence-files';
import { explainImage } from './explainers/explain-image';
import { EXPLAIN_METHODS, type ExplainMethod } from './explainers/explain-types';
import { openRegisteredModel, releaseExplainerSessions } from './explainers/registered-model';
import type { ProviderPreference } from './engine/execution-providers';



export class CaseExplanationError extends Error {
  constructor(
    readonly code: 'NO_ANALYSIS' | 'MODEL_CHANGED',
    message: string,
  ) {
    super(message);
  }
}

export async function explainEvidence(
  store: CaseStore,
  evidenceId: string,
  options: {
    dataDir: string;
    actor: string;
    methods?: ExplainMethod[];
    /** The execution provider the detector's session asks for (the examiner's setting). */
    provider?: ProviderPreference;
    signal?: AbortSignal;
    onProgress?(done: number, total: number, method?: string): void;
  },
) {
  const evidence = store.getEvidence(evidenceId);
  const analysis = store.listAnalysesForEvidence(evidence.id).at(-1);
  if (!analysis) throw new CaseExplanationError('NO_ANALYSIS', `Evidence ${evidence.originalName} has not been analysed yet; analyse it first.`);
  const methods = options.methods ?? [...EXPLAIN_METHODS];
  const opened = await openRegisteredModel({ dataDir: options.dataDir, modelId: analysis.model.id, session: { preference: options.provider } });
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'forensics-explain-'));
  try {
    if (opened.model.sha256 !== analysis.model.sha256) {
      throw new CaseExplanationError(
        'MODEL_CHANGED',
        `Model ${analysis.model.id} on this machine (sha256 ${opened.model.sha256.slice(0, 12)}…) is not the one that analysed this evidence (${analysis.model.sha256.slice(0, 12)}…).`,
      );
    }
    const recorded = [];
    let done = 0;
    options.onProgress?.(0, methods.length);
    const result = await explainImage(store.evidenceFilePath(evidence), {
      model: opened.model,
      normalisation: opened.normalisation,
      methods,
      threshold: analysis.threshold,
      outDir,
      onResult: (r) => options.onProgress?.(++done, methods.length, r.method),
    });
    for (const r of result.results) {
      if (options.signal?.aborted) break;
      recorded.push(
        await store.recordExplanation({
          analysisId: analysis.id,
          method: r.method,
          parameters: { ...r.params, target: r.target.class, peak: r.peak, forwardPasses: r.forwardPasses, ms: Math.round(r.ms), provider: opened.provider },
          heatmap: { path: r.map! },
          actor: options.actor,
        }),
      );
    }
    return { evidenceId: evidence.id, analysisId: analysis.id, explanations: recorded.map((e) => ({ id: e.id, method: e.method })) };
  } finally {
    fs.rmSync(outDir, { recursive: true, force: true });
    await opened.model.dispose();
    await releaseExplainerSessions();
  }
}

/** The recorded explanations of an evidence file's latest analysis, with each overlay as a data URL. */
export function listEvidenceExplanations(store: CaseStore, dataDir: string, evidenceId: string) {
  const evidence = store.getEvidence(evidenceId);
  const analysis = store.listAnalysesForEvidence(evidence.id).at(-1);
  if (!analysis) return [];
  const root = casePaths(dataDir, evidence.caseId).root;
  const newestByMethod = new Map(
    store
      .listExplanations(evidence.caseId)
      .filter((e) => e.analysisId === analysis.id)
      .map((e) => [e.method, e]),
  );
  return [...newestByMethod.values()].map((e) => {
    const base = { id: e.id, method: e.method, parameters: e.parameters, createdAt: e.createdAt };
    if (!e.heatmapPath) return { ...base, overlay: null };
    // The case folder can be damaged outside the app: say so for this overlay, keep the others.
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(path.join(root, ...e.heatmapPath.split('/')));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return { ...base, overlay: null, overlayProblem: `The overlay file ${e.heatmapPath} cannot be read (${code ?? (err as Error).message}); run "case verify".` };
    }
    if (e.heatmapSha256 && createHash('sha256').update(bytes).digest('hex') !== e.heatmapSha256) {
      return { ...base, overlay: null, overlayProblem: `The overlay file ${e.heatmapPath} no longer matches its recorded sha256; run "case verify".` };
    }
    return { ...base, overlay: `data:image/png;base64,${bytes.toString('base64')}` };
  });
}
