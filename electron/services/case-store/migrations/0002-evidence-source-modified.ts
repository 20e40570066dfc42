// The original's modification time at ingest: examiners compare it with EXIF dates and the seizure record.
import type { Migration } from './migration';

export const migration0002EvidenceSourceModified: Migration = {
  version: 2,
  name: 'evidence-source-modified',
  up(db) {
    // Evidence ingested before this version keeps NULL: the time was never observed, so none is invented.
    db.exec(`ALTER TABLE evidence ADD COLUMN source_modified_at TEXT;`);
  },
};
