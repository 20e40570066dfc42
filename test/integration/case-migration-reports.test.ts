// Migration "reports" (0004-reports.ts): from the version before it, with a case in it, to a store that
// records issued reports in an immutable table and still verifies.
import { describe, it, expect } from 'vitest';
import crypto from 'node:crypto';
import path from 'node:path';
import { getSchemaVersion, openWritableDatabase } from '../../electron/services/case-store/case-db';
import { migrateDatabase } from '../../electron/services/case-store/migrations';
import { migration0004Reports } from '../../electron/services/case-store/migrations/0004-reports';
import { appendAuditEntry } from '../../electron/services/case-store/audit-log';
import { CaseStore } from '../../electron/services/case-store';
import { tempDir } from '../fixtures/case-store/case-fixtures';

describe('migration reports', () => {
  it('adds the reports table to a database with data; report rows cannot be changed or removed', async () => {
    const dataDir = tempDir('case-mig-reports');
    const db = openWritableDatabase(path.join(dataDir, 'cases.sqlite'));
    const before = migration0004Reports.version - 1;
    migrateDatabase(db, before);
    const caseId = crypto.randomUUID();
    db.transaction(() => {
      // What the version before this one recorded for a new case: the row and an entry that vouches for every field.
      const record = { id: caseId, caseNumber: 'MIG-R', title: 'old case', examiner: 'ann', agency: null, createdAt: '2024-01-01T00:00:00.000Z', closedAt: null };
      db.prepare(
        `INSERT INTO cases (id, case_number, title, examiner, agency, created_at, closed_at) VALUES (@id, @caseNumber, @title, @examiner, @agency, @createdAt, @closedAt)`,
      ).run(record);
      appendAuditEntry(db, { chain: caseId, actor: 'ann', action: 'case.created', at: record.createdAt, details: record });
    })();
    expect(getSchemaVersion(db)).toBe(before);
    db.close();

    const store = CaseStore.open(dataDir);
    try {
      expect(store.schemaVersion).toBeGreaterThanOrEqual(migration0004Reports.version);
      expect(store.listReports(caseId)).toEqual([]);
      const bytes = Buffer.from('%PDF-1.3\n% not a real report, only a row to test the table\n');
      const r = await store.recordReport({
        id: crypto.randomUUID(),
        caseId,
        pageCount: 1,
        outputPath: null,
        evidenceIds: [],
        exportedAt: '2024-02-01T00:00:00.000Z',
        exportedBy: 'ann',
        auditHead: { index: 0, hash: store.auditLog(caseId)[0].hash },
        verifyOk: true,
        signed: false,
        bytes,
      });
      expect(store.findReportsBySha256(crypto.createHash('sha256').update(bytes).digest('hex')).map((x) => x.id)).toEqual([r.id]);
      expect(store.auditLog(caseId).map((e) => e.action)).toEqual(['case.created', 'report.exported']);
      expect((await store.verifyCase(caseId)).ok).toBe(true);
      const raw = openWritableDatabase(store.dbFile);
      try {
        expect(() => raw.prepare(`UPDATE reports SET sha256 = ? WHERE id = ?`).run('0'.repeat(64), r.id)).toThrow(/immutable/);
        expect(() => raw.prepare(`DELETE FROM reports`).run()).toThrow(/immutable/);
      } finally {
        raw.close();
      }
    } finally {
      store.close();
    }
  });
});
