// Provenance findings: what the file says about itself (metadata, generator traces, C2PA), the
// forensic views and the combined finding, with the versions of the readers that produced them.
import type { Migration } from './migration';

export const migration0005Provenance: Migration = {
  version: 5,
  name: 'provenance',
  up(db) {
    db.exec(`
      CREATE TABLE provenance_findings (
        id TEXT PRIMARY KEY,
        evidence_id TEXT NOT NULL REFERENCES evidence(id),
        conclusion TEXT NOT NULL,
        headline TEXT NOT NULL,
        c2pa_state TEXT NOT NULL,
        -- The whole report as canonical JSON, and its sha256 (also in the audit entry).
        report TEXT NOT NULL,
        report_sha256 TEXT NOT NULL CHECK (length(report_sha256) = 64),
        reader_versions TEXT NOT NULL,
        -- sha256 of each derived view image (spectrum, ELA, noise): recomputing them must give the same bytes.
        images TEXT NOT NULL,
        created_at TEXT NOT NULL,
        created_by TEXT NOT NULL
      ) STRICT;
      CREATE INDEX provenance_by_evidence ON provenance_findings(evidence_id);

      CREATE TRIGGER provenance_no_update BEFORE UPDATE ON provenance_findings
      BEGIN SELECT RAISE(ABORT, 'provenance findings are immutable'); END;
      CREATE TRIGGER provenance_no_delete BEFORE DELETE ON provenance_findings
      BEGIN SELECT RAISE(ABORT, 'provenance findings are immutable'); END;
    `);
  },
};
