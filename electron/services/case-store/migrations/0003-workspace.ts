// The examiner's workspace: a case description and edits, and evidence kept although it cannot be decoded.
import type { Migration } from './migration';

export const migration0003Workspace: Migration = {
  version: 3,
  name: 'workspace',
  up(db) {
    // unreadable_reason is set once, at ingest, when the file's header parses but its pixels do not
    // decode (a truncated PNG): the file is still evidence, but no analysis can read it.
    db.exec(`
      ALTER TABLE cases ADD COLUMN description TEXT;
      ALTER TABLE cases ADD COLUMN updated_at TEXT;
      ALTER TABLE evidence ADD COLUMN unreadable_reason TEXT;
    `);
  },
};
