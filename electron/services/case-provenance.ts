// Provenance of one evidence file in a case: inspect the stored (read-only) copy, weigh the latest
// classifier verdict in, record the finding with its reader versions in the case store (audited),
// and hand back the forensic view images. The views are not stored: they are recomputed on demand
// and checked against the sha256 recorded with the finding.
import crypto from 'node:crypto';
import type { CaseStore, ProvenanceFindingRecord } from './case-store';
import { inspectImageFile, summarizeStoredProvenanceFinding, type ProvenanceImages } from './provenance';
import { provenanceReportSchema, type ProvenanceFindingInfo } from '../shared/api-contract';

export interface ProvenanceImageView {
  kind: 'spectrum' | 'ela' | 'noise';
  sha256: string;
  dataUrl: string;
  /** Whether the bytes equal those recorded with the latest finding (null: no finding to compare). */
  matchesRecord: boolean | null;
}

const VIEW_KINDS = ['spectrum', 'ela', 'noise'] as const;

function imageHashes(images: ProvenanceImages): Record<string, string | null> {
  return Object.fromEntries(VIEW_KINDS.map((k) => [k, images[k] ? crypto.createHash('sha256').update(images[k]!).digest('hex') : null]));
}

function imageViews(images: ProvenanceImages, recorded: Record<string, string | null> | null): ProvenanceImageView[] {
  const hashes = imageHashes(images);
  return VIEW_KINDS.filter((k) => images[k]).map((k) => ({
    kind: k,
    sha256: hashes[k]!,
    dataUrl: `data:image/png;base64,${images[k]!.toString('base64')}`,
    matchesRecord: recorded ? recorded[k] === hashes[k] : null,
  }));
}

function classifierFor(store: CaseStore, evidenceId: string) {
  const analysis = store.listAnalysesForEvidence(evidenceId).at(-1);
  return analysis ? { verdict: analysis.verdict, pSynthetic: analysis.pSynthetic, threshold: analysis.threshold, modelId: analysis.model.id } : null;
}

export type ProvenanceFindingView = ProvenanceFindingInfo & { images: Record<string, string | null> };

/** The stored record as the API serves it; parsing checks that what was stored is what the panel reads. */
export function toFindingView(record: ProvenanceFindingRecord): ProvenanceFindingView {
  const report = provenanceReportSchema.parse(record.report);
  return { ...record, report, summary: summarizeStoredProvenanceFinding(record) };
}

export async function inspectEvidenceProvenance(
  store: CaseStore,
  evidenceId: string,
  options: { actor: string; elaQuality?: number },
): Promise<{ finding: ProvenanceFindingView; images: ProvenanceImageView[] }> {
  const evidence = store.getEvidence(evidenceId);
  const { report, images } = await inspectImageFile(store.evidenceFilePath(evidence), {
    elaQuality: options.elaQuality,
    classifier: classifierFor(store, evidence.id),
  });
  report.file.name = evidence.originalName;
  const hashes = imageHashes(images);
  const record = store.recordProvenanceFinding({
    evidenceId: evidence.id,
    conclusion: report.finding.conclusion,
    headline: report.finding.headline,
    c2paState: report.c2pa.state,
    // Through JSON once: drops undefined fields so the stored canonical form is exactly what is read back.
    report: JSON.parse(JSON.stringify(report)) as Record<string, unknown>,
    readerVersions: report.readerVersions,
    images: hashes,
    actor: options.actor,
  });
  return { finding: toFindingView(record), images: imageViews(images, hashes) };
}

export function listEvidenceProvenance(store: CaseStore, evidenceId: string): ProvenanceFindingView[] {
  return store.listProvenanceFindings(evidenceId).map(toFindingView);
}

/** Recomputes the view images of the latest finding (same ELA quality) and says whether they match it. */
export async function evidenceProvenanceViews(store: CaseStore, evidenceId: string, options: { elaQuality?: number } = {}): Promise<ProvenanceImageView[]> {
  const evidence = store.getEvidence(evidenceId);
  const latest = store.listProvenanceFindings(evidence.id).at(-1) ?? null;
  const recordedQuality = (latest?.report as { views?: { ela?: { quality?: number } } } | undefined)?.views?.ela?.quality;
  const elaQuality = options.elaQuality ?? recordedQuality;
  const { images } = await inspectImageFile(store.evidenceFilePath(evidence), { elaQuality, classifier: null });
  const comparable = latest && (options.elaQuality === undefined || options.elaQuality === recordedQuality) ? latest.images : null;
  return imageViews(images, comparable);
}
