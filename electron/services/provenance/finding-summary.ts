// A stored provenance finding as a few short lines of plain text, for the PDF case report.
import type { ProvenanceReport } from './inspect-image';

/** Plain text (no markup), one statement per line, at most `maxLines` lines. */
export function summarizeProvenanceFinding(report: Pick<ProvenanceReport, 'finding' | 'c2pa' | 'signatures' | 'metadata' | 'quantisation' | 'views' | 'unreadable' | 'readerVersions'>, maxLines = 12): string {
  const f = report.finding;
  const lines: string[] = [`Provenance: ${f.headline}`];
  const classifier = f.witnesses.find((w) => w.source === 'classifier');
  if (classifier) lines.push(`Classifier: ${classifier.statement}`);
  lines.push(`Content credentials: ${report.c2pa.statement}`);
  if (report.signatures.length) lines.push(`Generator traces: ${report.signatures.map((s) => `${s.generator} (${s.kind}, offset ${s.proof.offset})`).join('; ')}`);
  const m = report.metadata;
  if (m && (m.make || m.model)) lines.push(`Camera EXIF (weak, easily forged): ${[m.make, m.model].filter(Boolean).join(' ')}${m.captureTime ? `, ${m.captureTime}${m.captureOffset ?? ''}` : ''}`);
  if (m?.software) lines.push(`Software: ${m.software}`);
  if (m?.gps) lines.push(`GPS in file: ${m.gps.latitude.toFixed(5)}, ${m.gps.longitude.toFixed(5)}`);
  if (m?.thumbnail) lines.push(`EXIF thumbnail: ${m.thumbnail.matchesImage === false ? 'shows another picture' : m.thumbnail.matchesImage ? 'matches the image' : 'not compared'}`);
  if (report.quantisation) lines.push(`JPEG tables: ${report.quantisation.interpretation}`);
  const peaks = report.views?.spectrum?.peaks.filter((p) => !p.note?.includes('JPEG')) ?? [];
  if (report.views) lines.push(`Spectrum: ${peaks.length ? `${peaks.length} periodic peak(s), strongest at (${peaks[0].fx.toFixed(3)}, ${peaks[0].fy.toFixed(3)}) cycles/pixel` : 'no periodic peaks beyond the JPEG grid'}; ELA at quality ${report.views.ela.quality}: mean error ${report.views.ela.meanError}`);
  if (f.disagreement) lines.push(`Disagreement: ${f.disagreement}`);
  for (const w of f.weighing) lines.push(`Weighing: ${w}`);
  if (report.unreadable.length) lines.push(`Unreadable: ${report.unreadable.map((u) => `${u.reader}: ${u.why}`).join('; ')}`);
  lines.push(`Readers: ${Object.entries(report.readerVersions).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  if (lines.length <= maxLines) return lines.join('\n');
  return [...lines.slice(0, maxLines - 1), lines[lines.length - 1]].join('\n');
}

/** The same for a finding as the case store returns it (`CaseStore.listProvenanceFindings`). */
export function summarizeStoredProvenanceFinding(record: { report: Record<string, unknown> }, maxLines = 12): string {
  return summarizeProvenanceFinding(record.report as unknown as ProvenanceReport, maxLines);
}
