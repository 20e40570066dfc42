// Cases, evidence, analyses and the append-only, hash-chained audit log.
import type { Migration } from './migration';

export const GENESIS_HASH = '0'.repeat(64);

export const migration0001Initial: Migration = {
  version: 1,
  name: 'initial',
  up(db) {
    db.exec(`
      CREATE TABLE cases (
        id TEXT PRIMARY KEY,
        case_number TEXT NOT NULL UNIQUE,
        title TEXT NOT NULL,
        examiner TEXT NOT NULL,
        agency TEXT,
        created_at TEXT NOT NULL,
        closed_at TEXT
      ) STRICT;

      -- stored_path is relative to the case folder, so an exported case can land anywhere.
      CREATE TABLE evidence (
        id TEXT PRIMARY KEY,
        case_id TEXT NOT NULL REFERENCES cases(id),
        original_path TEXT NOT NULL,
        original_name TEXT NOT NULL,
        stored_path TEXT NOT NULL,
        sha256 TEXT NOT NULL CHECK (length(sha256) = 64),
        size_bytes INTEGER NOT NULL CHECK (size_bytes >= 0),
        mime_type TEXT NOT NULL,
        width INTEGER,
        height INTEGER,
        ingested_at TEXT NOT NULL,
        ingested_by TEXT NOT NULL,
        UNIQUE (case_id, sha256)
      ) STRICT;
      CREATE INDEX evidence_by_case ON evidence(case_id);

      CREATE TABLE analyses (
        id TEXT PRIMARY KEY,
        evidence_id TEXT NOT NULL REFERENCES evidence(id),
        model_id TEXT NOT NULL,
        model_sha256 TEXT NOT NULL,
        provider TEXT NOT NULL,
        p_synthetic REAL NOT NULL CHECK (p_synthetic >= 0 AND p_synthetic <= 1),
        verdict TEXT NOT NULL,
        threshold REAL NOT NULL,
        duration_ms REAL NOT NULL CHECK (duration_ms >= 0),
        created_at TEXT NOT NULL,
        created_by TEXT NOT NULL
      ) STRICT;
      CREATE INDEX analyses_by_evidence ON analyses(evidence_id);

      CREATE TABLE explanations (
        id TEXT PRIMARY KEY,
        analysis_id TEXT NOT NULL REFERENCES analyses(id),
        method TEXT NOT NULL,
        parameters TEXT NOT NULL,
        heatmap_path TEXT,
        heatmap_sha256 TEXT,
        created_at TEXT NOT NULL,
        created_by TEXT NOT NULL
      ) STRICT;
      CREATE INDEX explanations_by_analysis ON explanations(analysis_id);

      CREATE TABLE notes (
        id TEXT PRIMARY KEY,
        case_id TEXT NOT NULL REFERENCES cases(id),
        evidence_id TEXT REFERENCES evidence(id),
        body TEXT NOT NULL,
        author TEXT NOT NULL,
        created_at TEXT NOT NULL
      ) STRICT;
      CREATE INDEX notes_by_case ON notes(case_id);

      CREATE TABLE tags (
        evidence_id TEXT NOT NULL REFERENCES evidence(id),
        tag TEXT NOT NULL,
        created_at TEXT NOT NULL,
        created_by TEXT NOT NULL,
        PRIMARY KEY (evidence_id, tag)
      ) STRICT;

      CREATE TABLE models (
        id TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        name TEXT NOT NULL,
        card TEXT NOT NULL,
        registered_at TEXT NOT NULL,
        PRIMARY KEY (id, sha256)
      ) STRICT;

      CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        updated_at TEXT NOT NULL
      ) STRICT;

      -- One hash chain per case (chain = case id) plus 'global'; per-case chains travel whole in an export.
      CREATE TABLE audit_log (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        chain TEXT NOT NULL,
        chain_index INTEGER NOT NULL CHECK (chain_index >= 0),
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        details TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL,
        UNIQUE (chain, chain_index)
      ) STRICT;

      -- The last entry of each chain, kept apart so that cutting entries off the end is still detectable.
      CREATE TABLE audit_heads (
        chain TEXT PRIMARY KEY,
        last_index INTEGER NOT NULL,
        last_hash TEXT NOT NULL
      ) STRICT;

      CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
      BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
      CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
      BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;

      -- An entry must extend its chain: next index, previous hash. Forks are refused by the database itself.
      CREATE TRIGGER audit_log_extends_chain BEFORE INSERT ON audit_log
      WHEN NEW.chain_index <> COALESCE((SELECT last_index FROM audit_heads WHERE chain = NEW.chain), -1) + 1
        OR NEW.prev_hash <> COALESCE((SELECT last_hash FROM audit_heads WHERE chain = NEW.chain), '${GENESIS_HASH}')
      BEGIN SELECT RAISE(ABORT, 'audit entry does not extend its chain'); END;

      CREATE TRIGGER audit_log_moves_head AFTER INSERT ON audit_log
      BEGIN
        INSERT OR IGNORE INTO audit_heads (chain, last_index, last_hash) VALUES (NEW.chain, -1, '');
        UPDATE audit_heads SET last_index = NEW.chain_index, last_hash = NEW.hash WHERE chain = NEW.chain;
      END;

      CREATE TRIGGER audit_heads_no_delete BEFORE DELETE ON audit_heads
      BEGIN SELECT RAISE(ABORT, 'audit_heads is append-only'); END;
      CREATE TRIGGER audit_heads_forward_only BEFORE UPDATE ON audit_heads
      WHEN NEW.chain <> OLD.chain OR NEW.last_index <> OLD.last_index + 1
      BEGIN SELECT RAISE(ABORT, 'audit_heads only moves forward'); END;

      -- Evidence and analyses are facts on the record: never rewritten, never removed.
      CREATE TRIGGER evidence_no_update BEFORE UPDATE ON evidence
      BEGIN SELECT RAISE(ABORT, 'evidence rows are immutable'); END;
      CREATE TRIGGER evidence_no_delete BEFORE DELETE ON evidence
      BEGIN SELECT RAISE(ABORT, 'evidence rows are immutable'); END;
      CREATE TRIGGER analyses_no_update BEFORE UPDATE ON analyses
      BEGIN SELECT RAISE(ABORT, 'analyses are immutable'); END;
      CREATE TRIGGER analyses_no_delete BEFORE DELETE ON analyses
      BEGIN SELECT RAISE(ABORT, 'analyses are immutable'); END;
      CREATE TRIGGER explanations_no_update BEFORE UPDATE ON explanations
      BEGIN SELECT RAISE(ABORT, 'explanations are immutable'); END;
      CREATE TRIGGER explanations_no_delete BEFORE DELETE ON explanations
      BEGIN SELECT RAISE(ABORT, 'explanations are immutable'); END;
    `);
  },
};
