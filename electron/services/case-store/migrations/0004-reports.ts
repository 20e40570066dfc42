// Every PDF case report this store issued, by content hash, so `report verify` can say whether a PDF
// in front of a reviewer is one of them and unchanged.
// Version 3 on this branch (migrations 0001 and 0002 only); renumbered to 4 when 0003 (notes/tags) lands.
import type { Migration } from './migration';

export const migration0004Reports: Migration = {
  version: 4,
  name: 'reports',
  up(db) {
    db.exec(`
      CREATE TABLE reports (
        id TEXT PRIMARY KEY,
        case_id TEXT NOT NULL REFERENCES cases(id),
        sha256 TEXT NOT NULL CHECK (length(sha256) = 64),
        size_bytes INTEGER NOT NULL CHECK (size_bytes > 0),
        page_count INTEGER NOT NULL CHECK (page_count > 0),
        -- Relative to the case folder: the copy the store keeps (reports/<id>.pdf).
        stored_path TEXT NOT NULL,
        -- Where else it was written (the CLI's --out), as given; NULL when only the store has it.
        output_path TEXT,
        evidence_ids TEXT NOT NULL,
        exported_at TEXT NOT NULL,
        exported_by TEXT NOT NULL,
        audit_head_index INTEGER,
        audit_head_hash TEXT,
        verify_ok INTEGER NOT NULL CHECK (verify_ok IN (0, 1)),
        signed INTEGER NOT NULL CHECK (signed IN (0, 1))
      ) STRICT;
      CREATE INDEX reports_by_case ON reports(case_id);
      CREATE INDEX reports_by_sha256 ON reports(sha256);

      CREATE TRIGGER reports_no_update BEFORE UPDATE ON reports
      BEGIN SELECT RAISE(ABORT, 'reports are immutable'); END;
      CREATE TRIGGER reports_no_delete BEFORE DELETE ON reports
      BEGIN SELECT RAISE(ABORT, 'reports are immutable'); END;
    `);
  },
};
