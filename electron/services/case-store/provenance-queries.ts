// SQL of the provenance findings table (migration 0005-provenance).
import type { ReadableDB, WritableDB } from './case-db';
import { canonicalJson } from './canonical-json';

export interface ProvenanceFindingRecord {
  id: string;
  evidenceId: string;
  conclusion: string;
  headline: string;
  c2paState: string;
  /** The full provenance report (see electron/services/provenance/inspect-image.ts). */
  report: Record<string, unknown>;
  reportSha256: string;
  readerVersions: Record<string, string>;
  /** View name -> sha256 of its PNG (null when not computed). */
  images: Record<string, string | null>;
  createdAt: string;
  createdBy: string;
}

interface Row {
  id: string;
  evidence_id: string;
  conclusion: string;
  headline: string;
  c2pa_state: string;
  report: string;
  report_sha256: string;
  reader_versions: string;
  images: string;
  created_at: string;
  created_by: string;
}

const toRecord = (r: Row): ProvenanceFindingRecord => ({
  id: r.id,
  evidenceId: r.evidence_id,
  conclusion: r.conclusion,
  headline: r.headline,
  c2paState: r.c2pa_state,
  report: JSON.parse(r.report) as Record<string, unknown>,
  reportSha256: r.report_sha256,
  readerVersions: JSON.parse(r.reader_versions) as Record<string, string>,
  images: JSON.parse(r.images) as Record<string, string | null>,
  createdAt: r.created_at,
  createdBy: r.created_by,
});

/** `reportJson` is the canonical JSON whose sha256 is `reportSha256`. */
export function insertProvenanceFinding(db: WritableDB, f: ProvenanceFindingRecord, reportJson: string): void {
  db.prepare(
    `INSERT INTO provenance_findings (id, evidence_id, conclusion, headline, c2pa_state, report, report_sha256, reader_versions, images, created_at, created_by)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(
    f.id,
    f.evidenceId,
    f.conclusion,
    f.headline,
    f.c2paState,
    reportJson,
    f.reportSha256,
    canonicalJson(f.readerVersions),
    canonicalJson(f.images),
    f.createdAt,
    f.createdBy,
  );
}

export function listProvenanceFindingsForEvidence(db: ReadableDB, evidenceId: string): ProvenanceFindingRecord[] {
  return (db.prepare(`SELECT * FROM provenance_findings WHERE evidence_id = ? ORDER BY created_at, id`).all(evidenceId) as Row[]).map(toRecord);
}

export function listProvenanceFindingsForCase(db: ReadableDB, caseId: string): ProvenanceFindingRecord[] {
  return (
    db
      .prepare(
        `SELECT p.* FROM provenance_findings p JOIN evidence e ON e.id = p.evidence_id WHERE e.case_id = ? ORDER BY p.created_at, p.id`,
      )
      .all(caseId) as Row[]
  ).map(toRecord);
}
