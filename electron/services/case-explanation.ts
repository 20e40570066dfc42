// Explains the latest analysis of one evidence file with the very model that produced it, and
// records each heatmap against that analysis (stored read-only in the case folder, audited).
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { CaseStore } from './case-store';
import { casePaths } from './case-store/evidence-files';
import { explainImage } from './explainers/explain-image';
import { prepareExplainInput } from './explainers/explain-input';
import { canonicalJson } from './case-store/canonical-json';
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

/** What the examiner may set per method; anything left out takes the explainer's default. */
export interface ExplainRequestOptions {
  /** Which class to explain; by default the class the detector decided. */
  target?: 'synthetic' | 'real';
  gradcam?: { layer?: string };
  layercam?: { layer?: string };
  scorecam?: { topK?: number };
  lime?: { samples?: number; segments?: number };
}

/** The part of a request that decides one method's result: two equal keys give the same heatmap. */
export function explainRequestKey(method: string, options: ExplainRequestOptions = {}): string {
  const perMethod = (options as Record<string, unknown>)[method] ?? {};
  const cleaned = Object.fromEntries(Object.entries(perMethod as Record<string, unknown>).filter(([, v]) => v !== undefined && v !== ''));
  return canonicalJson({ method, target: options.target ?? 'decision', options: cleaned });
}

export async function explainEvidence(
  store: CaseStore,
  evidenceId: string,
  options: {
    dataDir: string;
    actor: string;
    methods?: ExplainMethod[];
    parameters?: ExplainRequestOptions;
    /** Compute again even when an explanation with the same request is recorded. */
    force?: boolean;
    /** The execution provider the detector's session asks for (the examiner's setting). */
    provider?: ProviderPreference;
    signal?: AbortSignal;
    onProgress?(done: number, total: number, method?: string, detail?: Record<string, unknown>): void;
  },
) {
  const evidence = store.getEvidence(evidenceId);
  const analysis = store.listAnalysesForEvidence(evidence.id).at(-1);
  if (!analysis) throw new CaseExplanationError('NO_ANALYSIS', `Evidence ${evidence.originalName} has not been analysed yet; analyse it first.`);
  const methods = options.methods ?? [...EXPLAIN_METHODS];
  const requested = options.parameters ?? {};
  // Reuse what is on record for the same request instead of adding duplicates.
  const onRecord = new Map<string, { id: string; method: string }>();
  for (const e of store.listExplanations(evidence.caseId)) {
    if (e.analysisId !== analysis.id) continue;
    const key = typeof e.parameters.requestKey === 'string' ? e.parameters.requestKey : explainRequestKey(e.method);
    onRecord.set(key, { id: e.id, method: e.method });
  }
  const reused = options.force ? [] : methods.filter((m) => onRecord.has(explainRequestKey(m, requested)));
  const toCompute = methods.filter((m) => !reused.includes(m));
  const recorded: Array<{ id: string; method: string; reused: boolean }> = reused.map((m) => ({ ...onRecord.get(explainRequestKey(m, requested))!, reused: true }));
  let done = reused.length;
  options.onProgress?.(done, methods.length, undefined, { reused });
  if (toCompute.length === 0) return { evidenceId: evidence.id, analysisId: analysis.id, explanations: recorded };

  const opened = await openRegisteredModel({ dataDir: options.dataDir, modelId: analysis.model.id, session: { preference: options.provider } });
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'forensics-explain-'));
  try {
    if (opened.model.sha256 !== analysis.model.sha256) {
      throw new CaseExplanationError(
        'MODEL_CHANGED',
        `Model ${analysis.model.id} on this machine (sha256 ${opened.model.sha256.slice(0, 12)}…) is not the one that analysed this evidence (${analysis.model.sha256.slice(0, 12)}…).`,
      );
    }
    const layersOffered = [opened.model.featureLayer, ...opened.model.shallowLayers];
    const input = await prepareExplainInput(store.evidenceFilePath(evidence), { inputSize: opened.model.inputSize, normalisation: opened.normalisation });
    // One method at a time, each recorded as soon as it is done, so the viewer shows it at once and a
    // cancel between methods keeps what was finished.
    for (const method of toCompute) {
      if (options.signal?.aborted) break;
      const result = await explainImage(input, {
        model: opened.model,
        normalisation: opened.normalisation,
        methods: [method],
        threshold: analysis.threshold,
        calibration: opened.calibration,
        target: requested.target ? { class: requested.target } : 'decision',
        methodOptions: { [method]: (requested as Record<string, unknown>)[method] ?? {} },
        outDir,
      });
      if (options.signal?.aborted) break;
      const r = result.results[0];
      const record = await store.recordExplanation({
        analysisId: analysis.id,
        method: r.method,
        parameters: {
          ...r.params,
          target: r.target.class,
          peak: r.peak,
          forwardPasses: r.forwardPasses,
          ms: Math.round(r.ms),
          provider: opened.provider,
          requestKey: explainRequestKey(method, requested),
          layersOffered,
        },
        heatmap: { path: r.map! },
        actor: options.actor,
      });
      recorded.push({ id: record.id, method: record.method, reused: false });
      options.onProgress?.(++done, methods.length, method, { recordedId: record.id, method });
    }
    return { evidenceId: evidence.id, analysisId: analysis.id, explanations: recorded, layersOffered };
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
