import { describe, it, expect, beforeAll } from 'vitest';
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { CaseStore, type VerifyReport } from '../../electron/services/case-store';
import { datasetImages, tempDir } from '../fixtures/case-store/case-fixtures';

// One case is built once; every scenario tampers with its own copy of the data folder.
let baseDir: string;
let caseId: string;
let evidenceIds: string[];

beforeAll(async () => {
  baseDir = tempDir('case-verify-base');
  const store = CaseStore.open(baseDir);
  try {
    const c = store.createCase({ caseNumber: 'VER-1', title: 'verify', examiner: 'ann' });
    caseId = c.id;
    const result = await store.ingest(c.id, datasetImages(4), { actor: 'ann' });
    evidenceIds = result.added.map((e) => e.id);
    store.recordAnalysis({
      evidenceId: evidenceIds[0],
      model: { id: 'm', sha256: 'cd'.repeat(32) },
      provider: 'cpu',
      pSynthetic: 0.2,
      verdict: 'real',
      threshold: 0.5,
      durationMs: 3,
      actor: 'ann',
    });
  } finally {
    store.close();
  }
});

/** Audit chain of the case: 0 case.created, 1-4 evidence.ingested, 5 analysis.recorded. */
function copyOfCase(): string {
  const dir = tempDir('case-verify');
  fs.cpSync(baseDir, dir, { recursive: true });
  return dir;
}

/** Writes through a raw connection, as someone with file access could, dropping triggers first. */
function tamper(dataDir: string, sql: string): void {
  const raw = new Database(path.join(dataDir, 'cases.sqlite'));
  try {
    raw.exec(sql);
  } finally {
    raw.close();
  }
}

async function verify(dataDir: string): Promise<VerifyReport> {
  const store = CaseStore.open(dataDir);
  try {
    return await store.verifyCase(caseId);
  } finally {
    store.close();
  }
}

function storedFile(dataDir: string, evidenceId: string): string {
  const store = CaseStore.open(dataDir);
  try {
    return store.evidenceFilePath(store.getEvidence(evidenceId));
  } finally {
    store.close();
  }
}

describe('verify', () => {
  it('passes an untouched case and names the audit head it vouches for', async () => {
    const report = await verify(copyOfCase());
    expect(report.issues).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.evidenceChecked).toBe(4);
    expect(report.auditEntriesChecked).toBe(6);
    expect(report.auditHead).toEqual({ index: 5, hash: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(report.bytesHashed).toBe(datasetImages(4).reduce((n, f) => n + fs.statSync(f).size, 0));
  });

  it('detects an audit entry changed behind the triggers, at its index', async () => {
    const dir = copyOfCase();
    tamper(dir, `DROP TRIGGER audit_log_no_update; UPDATE audit_log SET actor = 'mallory' WHERE chain = '${caseId}' AND chain_index = 2;`);
    const report = await verify(dir);
    expect(report.ok).toBe(false);
    expect(report.issues).toEqual([
      // The trigger dropped to make the edit is itself reported.
      expect.objectContaining({ kind: 'schema-altered', missing: ['trigger audit_log_no_update'] }),
      expect.objectContaining({ kind: 'audit-entry-altered', chain: caseId, index: 2 }),
      // Entry 2 vouched for evidence ingested by ann; the row and the edited entry now disagree.
      { kind: 'evidence-row-altered', evidenceId: evidenceIds[1], fields: ['ingestedBy'] },
    ]);
  });

  it('detects a deleted audit entry, the broken link after it and the row it vouched for', async () => {
    const dir = copyOfCase();
    tamper(dir, `DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE chain = '${caseId}' AND chain_index = 3;`);
    const report = await verify(dir);
    expect(report.ok).toBe(false);
    expect(report.issues).toContainEqual({ kind: 'audit-entry-missing', chain: caseId, index: 3 });
    expect(report.issues).toContainEqual(expect.objectContaining({ kind: 'audit-link-broken', index: 4 }));
    expect(report.issues).toContainEqual({ kind: 'evidence-row-unaudited', evidenceId: evidenceIds[2] });
  });

  it('detects the newest audit entry cut off the end', async () => {
    const dir = copyOfCase();
    tamper(dir, `DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE chain = '${caseId}' AND chain_index = 5;`);
    const report = await verify(dir);
    expect(report.issues).toContainEqual(expect.objectContaining({ kind: 'audit-head-mismatch', headIndex: 5, lastIndex: 4 }));
    expect(report.issues).toContainEqual({ kind: 'audit-entry-missing', chain: caseId, index: 5 });
    expect(report.issues).toContainEqual(expect.objectContaining({ kind: 'audit-sequence-rewound' }));
  });

  it('detects a modified evidence file and says which one, with both hashes', async () => {
    const dir = copyOfCase();
    const file = storedFile(dir, evidenceIds[1]);
    fs.chmodSync(file, 0o644);
    fs.appendFileSync(file, Buffer.from([0]));
    const report = await verify(dir);
    expect(report.ok).toBe(false);
    expect(report.issues).toEqual([
      expect.objectContaining({
        kind: 'evidence-modified',
        evidenceId: evidenceIds[1],
        storedPath: expect.stringMatching(/^evidence\//),
        actualSize: fs.statSync(file).size,
        expectedSize: fs.statSync(file).size - 1,
      }),
      // Writing needed a chmod first: the store keeps stored files read-only, and verify says so.
      expect.objectContaining({ kind: 'evidence-mode-changed', evidenceId: evidenceIds[1], expectedMode: '0444', actualMode: '0644' }),
    ]);
    const issue = report.issues[0] as { expectedSha256: string; actualSha256: string };
    expect(issue.expectedSha256).not.toBe(issue.actualSha256);
  });

  it('detects a missing evidence file', async () => {
    const dir = copyOfCase();
    fs.rmSync(storedFile(dir, evidenceIds[3]));
    const report = await verify(dir);
    expect(report.issues).toEqual([expect.objectContaining({ kind: 'evidence-missing', evidenceId: evidenceIds[3] })]);
  });

  it('detects an evidence row and an analysis rewritten to agree with a swapped file', async () => {
    const dir = copyOfCase();
    tamper(
      dir,
      `DROP TRIGGER evidence_no_update; UPDATE evidence SET original_name = 'innocent.png' WHERE id = '${evidenceIds[0]}';
       DROP TRIGGER analyses_no_update; UPDATE analyses SET p_synthetic = 0.99, verdict = 'synthetic';`,
    );
    const report = await verify(dir);
    expect(report.issues).toContainEqual({ kind: 'evidence-row-altered', evidenceId: evidenceIds[0], fields: ['originalName'] });
    expect(report.issues).toContainEqual(
      expect.objectContaining({ kind: 'analysis-row-altered', fields: ['pSynthetic', 'verdict'] }),
    );
  });
});
