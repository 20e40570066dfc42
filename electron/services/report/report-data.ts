// What a case report says, gathered from the store at export time into one plain snapshot: the layout
// reads only this, so the same case state and export time give the same PDF bytes.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { AnalysisRecord, AuditEntry, CaseRecord, CaseStore, EvidenceRecord, ExplanationRecord, NoteRecord, TagRecord, VerifyReport } from '../case-store';
import { CaseStoreError } from '../case-store';
import { casePaths } from '../case-store/evidence-files';
import { ModelRegistry } from '../engine/model-registry';
import { readPackageInfo } from '../app/app-info';
import { summarizeStoredProvenanceFinding } from '../provenance/finding-summary';

/** Order and captions of the five panels; the report shows them side by side in this order. */
export const REPORT_PANELS = [
  { method: 'gradcam', caption: 'GradCAM' },
  { method: 'ablationcam', caption: 'AblationCAM' },
  { method: 'layercam', caption: 'LayerCAM' },
  { method: 'scorecam', caption: 'Faster ScoreCAM' },
  { method: 'lime', caption: 'LIME' },
] as const;

/** Provenance findings (metadata, generator signatures, content credentials, spectrum, ELA) for one item. */
export interface ProvenanceSummary {
  title: string;
  lines: string[];
}

export interface ReportExtras {
  /** Notes that are not (yet) in the store, by evidence id; `case` for the case as a whole. */
  notes?: Record<string, Array<{ author: string; createdAt: string; body: string }>>;
  /** Provenance summaries by evidence id, when another service produced them. */
  provenance?: Record<string, ProvenanceSummary[]>;
}

export type StoredFileCheck =
  | { ok: true }
  | { ok: false; problem: 'missing' }
  | { ok: false; problem: 'modified'; actualSha256: string; actualSize: number };

export interface ReportPanel {
  method: string;
  caption: string;
  explanation: ExplanationRecord | null;
  /** The overlay file, when verify found it intact; its bytes are read (and hashed again) when laid out. */
  overlayFile: string | null;
  problem?: string;
}

export interface ReportItem {
  evidence: EvidenceRecord;
  check: StoredFileCheck;
  /** The stored copy when it passed its hash check; its bytes are read and hashed again when laid out. */
  imageFile: string | null;
  analysis: AnalysisRecord | null;
  /** Explained target class of the latest analysis, from its explanations' parameters. */
  target: string | null;
  panels: ReportPanel[];
  notes: Array<{ author: string; createdAt: string; body: string }>;
  tags: string[];
  provenance: ProvenanceSummary[];
}

export interface ReportModel {
  id: string;
  sha256: string;
  card: Record<string, unknown> | null;
  cardSource: 'case store' | 'model registry' | null;
}

export interface ReportSnapshot {
  reportId: string;
  exportedAt: string;
  timeZone: string;
  exportedBy: string;
  tool: { name: string; version: string };
  case: CaseRecord;
  /** True when the report covers only some of the case's evidence. */
  selection: boolean;
  items: ReportItem[];
  caseNotes: Array<{ author: string; createdAt: string; body: string }>;
  models: ReportModel[];
  providers: string[];
  audit: AuditEntry[];
  verify: VerifyReport;
}

export interface CollectOptions {
  dataDir: string;
  exportedAt: string;
  timeZone: string;
  actor: string;
  evidenceIds?: readonly string[];
  extras?: ReportExtras;
  signal?: AbortSignal;
}

/** Same case, same chain head, same selection, same export time: same id, so the same bytes. */
export function reportIdFor(caseId: string, auditHeadHash: string | null, evidenceIds: readonly string[], exportedAt: string): string {
  const h = crypto.createHash('sha256').update(JSON.stringify([caseId, auditHeadHash, [...evidenceIds], exportedAt])).digest('hex');
  // UUID-shaped, version 8 (application-defined), so it fits wherever the store's ids go.
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${((parseInt(h[16], 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export async function collectReportSnapshot(store: CaseStore, caseRef: string, options: CollectOptions): Promise<ReportSnapshot> {
  const kase = store.getCase(caseRef);
  const allEvidence = store.listEvidence(kase.id);
  let evidence = allEvidence;
  if (options.evidenceIds?.length) {
    const wanted = [...new Set(options.evidenceIds)];
    const byId = new Map(allEvidence.map((e) => [e.id, e]));
    const missing = wanted.filter((id) => !byId.has(id));
    if (missing.length) {
      throw new CaseStoreError('EVIDENCE_NOT_FOUND', `Case ${kase.caseNumber} holds no evidence with id ${missing.map((m) => JSON.stringify(m)).join(', ')}.`, { evidenceIds: missing });
    }
    const keep = new Set(wanted);
    evidence = allEvidence.filter((e) => keep.has(e.id));
  }
  const verify = await store.verifyCase(kase.id, { signal: options.signal });
  const audit = store.auditLog(kase.id);
  const analyses = store.listAnalyses(kase.id);
  const explanations = store.listExplanations(kase.id);
  const notes = store.listNotes(kase.id);
  const tags = store.listTags(kase.id);
  const caseRoot = casePaths(options.dataDir, kase.id).root;

  const badEvidence = new Map<string, StoredFileCheck>();
  const badHeatmaps = new Map<string, string>();
  for (const issue of verify.issues) {
    // A link, folder or unreadable file where the copy was: the page says "missing or unreadable".
    if (issue.kind === 'evidence-missing' || issue.kind === 'evidence-unreadable') badEvidence.set(issue.evidenceId, { ok: false, problem: 'missing' });
    if (issue.kind === 'evidence-modified') badEvidence.set(issue.evidenceId, { ok: false, problem: 'modified', actualSha256: issue.actualSha256, actualSize: issue.actualSize });
    if (issue.kind === 'heatmap-missing') badHeatmaps.set(issue.explanationId, 'the overlay file is missing');
    if (issue.kind === 'heatmap-modified') badHeatmaps.set(issue.explanationId, 'the overlay file no longer matches its recorded sha256');
    if (issue.kind === 'heatmap-unreadable') badHeatmaps.set(issue.explanationId, `the overlay file cannot be read (${issue.found})`);
  }

  const extraNotes = options.extras?.notes ?? {};
  // The newest recorded provenance finding of each item (oldest first in the store), summarised as the viewer shows it.
  const latestProvenance = new Map(store.listCaseProvenanceFindings(kase.id).map((f) => [f.evidenceId, f]));
  const storedProvenance = (evidenceId: string): ProvenanceSummary[] => {
    const f = latestProvenance.get(evidenceId);
    if (!f) return [];
    const lines = summarizeStoredProvenanceFinding(f).split('\n').filter((l) => l.trim());
    lines.push(`Recorded ${f.createdAt} by ${f.createdBy}; finding sha256 ${f.reportSha256}.`);
    return [{ title: `Provenance finding: ${f.conclusion}`, lines }];
  };
  const items: ReportItem[] = [];
  for (const e of evidence) {
    if (options.signal?.aborted) throw new CaseStoreError('CANCELLED', 'The report export was cancelled.');
    const analysis = analyses.filter((a) => a.evidenceId === e.id).at(-1) ?? null;
    const check = badEvidence.get(e.id) ?? { ok: true };
    const newestByMethod = new Map<string, ExplanationRecord>();
    if (analysis) for (const x of explanations) if (x.analysisId === analysis.id) newestByMethod.set(x.method, x);
    const panels: ReportPanel[] = REPORT_PANELS.map(({ method, caption }) => {
      const x = newestByMethod.get(method) ?? null;
      if (!x) return { method, caption, explanation: null, overlayFile: null };
      if (!x.heatmapPath || !x.heatmapSha256) return { method, caption, explanation: x, overlayFile: null, problem: 'no overlay was recorded' };
      const known = badHeatmaps.get(x.id);
      if (known) return { method, caption, explanation: x, overlayFile: null, problem: known };
      return { method, caption, explanation: x, overlayFile: path.join(caseRoot, ...x.heatmapPath.split('/')) };
    });
    const targets = [...newestByMethod.values()].map((x) => x.parameters.target).filter((t): t is string => typeof t === 'string');
    items.push({
      evidence: e,
      check,
      imageFile: check.ok ? store.evidenceFilePath(e) : null,
      analysis,
      target: targets[0] ?? null,
      panels,
      notes: [...notes.filter((n) => n.evidenceId === e.id).map(noteView), ...(extraNotes[e.id] ?? [])],
      tags: tags.filter((t: TagRecord) => t.evidenceId === e.id).map((t) => t.tag),
      provenance: [...storedProvenance(e.id), ...(options.extras?.provenance?.[e.id] ?? [])],
    });
  }

  const usedModels = new Map<string, { id: string; sha256: string }>();
  for (const it of items) if (it.analysis) usedModels.set(`${it.analysis.model.id}\u0000${it.analysis.model.sha256}`, it.analysis.model);
  const models = await findModelCards(store, options.dataDir, [...usedModels.values()]);
  const providers = new Set<string>();
  for (const it of items) {
    if (it.analysis) providers.add(it.analysis.provider);
    for (const p of it.panels) {
      const prov = p.explanation?.parameters.provider;
      if (typeof prov === 'string') providers.add(prov);
    }
  }
  const pkg = readPackageInfo();
  return {
    reportId: reportIdFor(kase.id, verify.auditHead?.hash ?? null, evidence.map((e) => e.id), options.exportedAt),
    exportedAt: options.exportedAt,
    timeZone: options.timeZone,
    exportedBy: options.actor,
    tool: { name: pkg.productName, version: pkg.version },
    case: kase,
    selection: evidence.length !== allEvidence.length,
    items,
    caseNotes: [...notes.filter((n) => n.evidenceId === null).map(noteView), ...(extraNotes.case ?? [])],
    models,
    providers: [...providers].sort(),
    audit,
    // The report states its own export time, not the wall clock of the check.
    verify: { ...verify, verifiedAt: options.exportedAt },
  };
}

const noteView = (n: NoteRecord) => ({ author: n.author, createdAt: n.createdAt, body: n.body });

/** A file's bytes only if they still hash to what the record says: what the report embeds, or nothing. */
export async function readVerified(file: string, sha256: string): Promise<Buffer | null> {
  let bytes: Buffer;
  try {
    bytes = await fs.promises.readFile(file);
  } catch {
    return null;
  }
  return crypto.createHash('sha256').update(bytes).digest('hex') === sha256 ? bytes : null;
}

/** The card of each model at export time: as registered in the store, else as the registry has it now. */
async function findModelCards(store: CaseStore, dataDir: string, used: Array<{ id: string; sha256: string }>): Promise<ReportModel[]> {
  const registered = store.listModels();
  let registry: Awaited<ReturnType<ModelRegistry['list']>> = [];
  try {
    registry = await new ModelRegistry({ dataDir }).list();
  } catch {
    registry = [];
  }
  return used
    .sort((a, b) => a.id.localeCompare(b.id) || a.sha256.localeCompare(b.sha256))
    .map((m) => {
      const inStore = registered.find((r) => r.id === m.id && r.sha256 === m.sha256);
      if (inStore) return { ...m, card: inStore.card, cardSource: 'case store' as const };
      const inRegistry = registry.find((r) => r.id === m.id && r.card.sha256 === m.sha256);
      if (inRegistry) return { ...m, card: inRegistry.card as Record<string, unknown>, cardSource: 'model registry' as const };
      return { ...m, card: null, cardSource: null };
    });
}
