import { describe, it, expect } from 'vitest';
import Database from 'better-sqlite3';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
  getSchemaVersion,
  openReadableDatabase,
  openWritableDatabase,
} from '../../electron/services/case-store/case-db';
import { LATEST_SCHEMA_VERSION, migrateDatabase } from '../../electron/services/case-store/migrations';
import { appendAuditEntry, listAuditEntries, verifyAuditChain } from '../../electron/services/case-store/audit-log';
import { CaseStore, isCaseStoreError } from '../../electron/services/case-store';
import { datasetImages, sha256OfFile, tempDir } from '../fixtures/case-store/case-fixtures';

const tableNames = (db: Database.Database) =>
  (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`).all() as { name: string }[]).map((r) => r.name);

describe('migration 0001-initial (from an empty database)', () => {
  it('creates the schema, records version 1, and the audit log is append-only', () => {
    const file = path.join(tempDir('case-mig'), 'cases.sqlite');
    const db = openWritableDatabase(file);
    // An empty file that some earlier tool created: version 0, one foreign table that must survive.
    db.exec(`CREATE TABLE unrelated (x TEXT); INSERT INTO unrelated VALUES ('kept');`);
    expect(getSchemaVersion(db)).toBe(0);
    expect(migrateDatabase(db, 1)).toBe(1);
    expect(tableNames(db)).toEqual(
      expect.arrayContaining(['cases', 'evidence', 'analyses', 'explanations', 'notes', 'tags', 'models', 'settings', 'audit_log', 'audit_heads']),
    );
    expect(db.prepare('SELECT x FROM unrelated').get()).toEqual({ x: 'kept' });

    db.transaction(() => {
      appendAuditEntry(db, { chain: 'global', actor: 'ann', action: 'first', details: { n: 1 } });
      appendAuditEntry(db, { chain: 'global', actor: 'ann', action: 'second', details: { n: 2 } });
    })();
    expect(() => db.prepare(`UPDATE audit_log SET actor = 'mallory' WHERE chain_index = 0`).run()).toThrow(/append-only/);
    expect(() => db.prepare('DELETE FROM audit_log').run()).toThrow(/append-only/);
    expect(() => db.prepare('DELETE FROM audit_heads').run()).toThrow(/append-only/);
    // A second entry claiming index 1 would fork the chain; the database refuses it.
    expect(() =>
      db
        .prepare(`INSERT INTO audit_log (chain, chain_index, at, actor, action, details, prev_hash, hash) VALUES ('global', 1, 'x', 'm', 'fork', '{}', ?, ?)`)
        .run('0'.repeat(64), 'f'.repeat(64)),
    ).toThrow(/does not extend its chain/);
    expect(verifyAuditChain(db, 'global')).toEqual([]);
    expect(listAuditEntries(db, 'global').map((e) => e.action)).toEqual(['first', 'second']);
    db.close();
  });

  it('opens with WAL, foreign keys and a busy timeout; the read half cannot write', () => {
    const dataDir = tempDir('case-mig');
    const store = CaseStore.open(dataDir);
    store.close();
    const db = openWritableDatabase(path.join(dataDir, 'cases.sqlite'));
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(db.pragma('busy_timeout', { simple: true })).toBeGreaterThan(0);
    expect(() => db.prepare(`INSERT INTO evidence (id, case_id, original_path, original_name, stored_path, sha256, size_bytes, mime_type, ingested_at, ingested_by)
      VALUES ('e', 'no-such-case', 'p', 'n', 's', ?, 1, 'image/png', 't', 'a')`).run('a'.repeat(64))).toThrow(/FOREIGN KEY/);
    const reader = openReadableDatabase(path.join(dataDir, 'cases.sqlite'));
    expect(() => reader.prepare(`INSERT INTO settings VALUES ('k', '1', 't')`).run()).toThrow(/readonly/i);
    reader.close();
    db.close();
  });

  it('refuses a database written by a newer app instead of misreading it', () => {
    const dataDir = tempDir('case-mig');
    const db = new Database(path.join(dataDir, 'cases.sqlite'));
    db.pragma('user_version = 99');
    db.close();
    try {
      CaseStore.open(dataDir);
      expect.unreachable('a newer database was opened');
    } catch (e) {
      expect(isCaseStoreError(e, 'DATABASE_NEWER_THAN_APP')).toBe(true);
    }
  });
});

describe('migration 0002-evidence-source-modified (from version 1 with data)', () => {
  it('adds the source time column, keeps every row, and the case still verifies', async () => {
    const dataDir = tempDir('case-mig');
    const file = path.join(dataDir, 'cases.sqlite');
    const db = openWritableDatabase(file);
    migrateDatabase(db, 1);

    // A version-1 case with one stored image, written the way version 1 wrote it.
    const caseId = crypto.randomUUID();
    const evidenceId = crypto.randomUUID();
    const image = datasetImages(1)[0];
    const sha256 = sha256OfFile(image);
    const storedPath = `evidence/${sha256}.png`;
    fs.mkdirSync(path.join(dataDir, 'cases', caseId, 'evidence'), { recursive: true });
    fs.copyFileSync(image, path.join(dataDir, 'cases', caseId, storedPath));
    fs.chmodSync(path.join(dataDir, 'cases', caseId, storedPath), 0o444);
    const size = fs.statSync(image).size;
    db.transaction(() => {
      db.prepare(`INSERT INTO cases VALUES (?, 'V1-7', 'old case', 'ann', NULL, '2024-01-01T00:00:00.000Z', NULL)`).run(caseId);
      // Version 1 recorded the whole case row, at its creation time (verify compares every field).
      appendAuditEntry(db, {
        chain: caseId,
        actor: 'ann',
        action: 'case.created',
        at: '2024-01-01T00:00:00.000Z',
        details: { id: caseId, caseNumber: 'V1-7', title: 'old case', examiner: 'ann', agency: null, createdAt: '2024-01-01T00:00:00.000Z', closedAt: null },
      });
      db.prepare(
        `INSERT INTO evidence (id, case_id, original_path, original_name, stored_path, sha256, size_bytes, mime_type, width, height, ingested_at, ingested_by)
         VALUES (?, ?, ?, ?, ?, ?, ?, 'image/png', 128, 128, '2024-01-01T00:00:01.000Z', 'ann')`,
      ).run(evidenceId, caseId, image, path.basename(image), storedPath, sha256, size);
      appendAuditEntry(db, {
        chain: caseId,
        actor: 'ann',
        action: 'evidence.ingested',
        at: '2024-01-01T00:00:01.000Z',
        details: {
          evidenceId,
          sha256,
          sizeBytes: size,
          storedPath,
          originalPath: image,
          originalName: path.basename(image),
          mimeType: 'image/png',
          width: 128,
          height: 128,
        },
      });
      const note = { id: crypto.randomUUID(), caseId, evidenceId, body: 'seized from laptop', author: 'ann', createdAt: '2024-01-01T00:00:02.000Z' };
      db.prepare(`INSERT INTO notes VALUES (?, ?, ?, ?, ?, ?)`).run(note.id, caseId, evidenceId, note.body, note.author, note.createdAt);
      appendAuditEntry(db, { chain: caseId, actor: 'ann', action: 'note.added', at: note.createdAt, details: { ...note } });
    })();
    expect(getSchemaVersion(db)).toBe(1);
    db.close();

    const store = CaseStore.open(dataDir);
    try {
      expect(store.schemaVersion).toBe(LATEST_SCHEMA_VERSION);
      expect(LATEST_SCHEMA_VERSION).toBeGreaterThanOrEqual(2);
      const [evidence] = store.listEvidence(caseId);
      // 0002 and 0003 invent nothing for old rows: no source time, no decode verdict, no description.
      expect(evidence).toMatchObject({ id: evidenceId, sha256, sizeBytes: size, sourceModifiedAt: null, unreadableReason: null });
      expect(store.getCase(caseId)).toMatchObject({ description: null, updatedAt: null });
      expect(store.listNotes(caseId).map((n) => n.body)).toEqual(['seized from laptop']);
      const report = await store.verifyCase(caseId);
      expect(report.issues).toEqual([]);
      expect(report.ok).toBe(true);
      expect(report.auditEntriesChecked).toBe(3);

      // New ingests fill the new column.
      const more = await store.ingest(caseId, [datasetImages(2)[1]], { actor: 'bob' });
      expect(more.added[0].sourceModifiedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
      expect((await store.verifyCase(caseId)).ok).toBe(true);
    } finally {
      store.close();
    }
  });
});
