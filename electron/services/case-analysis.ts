// Runs the detector over a case's stored evidence copies (never the originals) in batches and
// records each verdict with the exact model and provider that produced it.
import type { CaseStore } from './case-store';
import { analyzeFiles, isAnalyzeFailure } from './engine/analyze';
import { providerReport } from './engine/detector-session';
import type { ProviderName, ProviderPreference } from './engine/execution-providers';

export interface CaseAnalysisOptions {
  dataDir: string;
  actor: string;
  /** Skip evidence that already has an analysis. */
  onlyMissing?: boolean;
  /** Only these evidence files (the examiner's selection). */
  evidenceIds?: readonly string[];
  modelId?: string;
  /** The execution provider asked for (the examiner's setting); cpu when it cannot be used. */
  provider?: ProviderPreference;
  signal?: AbortSignal;
  onProgress?(done: number, total: number, name?: string): void;
}

export async function analyzeCaseEvidence(store: CaseStore, caseId: string, options: CaseAnalysisOptions) {
  const c = store.getCase(caseId);
  const wanted = options.evidenceIds && new Set(options.evidenceIds);
  const pending = store
    .listEvidence(c.id)
    .filter((e) => !wanted || wanted.has(e.id))
    .filter((e) => !options.onlyMissing || store.listAnalysesForEvidence(e.id).length === 0);
  const byPath = new Map(pending.map((e) => [store.evidenceFilePath(e), e]));
  const recorded: Array<{ evidenceId: string; originalName: string; pSynthetic: number; verdict: string }> = [];
  const failed: Array<{ evidenceId: string; originalName: string; code: string; message: string }> = [];
  let done = 0;
  // Which provider ran, and why not the one asked for: the examiner sees it with the job's result.
  let engine: { provider: ProviderName; providerNote?: string } | undefined;
  options.onProgress?.(0, pending.length);
  if (pending.length === 0) return { caseId: c.id, recorded, failed };
  const analysis = analyzeFiles([...byPath.keys()], {
    dataDir: options.dataDir,
    modelId: options.modelId,
    provider: options.provider,
    signal: options.signal,
    onReady: ({ session }) => (engine = providerReport(session)),
  });
  for await (const result of analysis) {
    const evidence = byPath.get(result.path);
    if (!evidence) continue;
    done++;
    if (isAnalyzeFailure(result)) {
      if (result.error.code === 'CANCELLED') continue;
      failed.push({ evidenceId: evidence.id, originalName: evidence.originalName, ...result.error });
      // A failure is a fact of the case as much as a verdict: the audit chain keeps it.
      store.recordAnalysisFailure({ evidenceId: evidence.id, code: result.error.code, message: result.error.message, actor: options.actor });
    } else {
      store.recordAnalysis({
        evidenceId: evidence.id,
        model: result.model,
        provider: result.provider,
        pSynthetic: result.pSynthetic,
        verdict: result.verdict,
        threshold: result.threshold,
        durationMs: result.ms,
        actor: options.actor,
      });
      recorded.push({ evidenceId: evidence.id, originalName: evidence.originalName, pSynthetic: result.pSynthetic, verdict: result.verdict });
    }
    options.onProgress?.(done, pending.length, evidence.originalName);
  }
  return { caseId: c.id, recorded, failed, ...engine };
}
