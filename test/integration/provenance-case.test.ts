// Provenance findings in a real case store, through the API handlers both transports share: the
// stored copy is inspected, the latest real classifier verdict is weighed in, the finding is recorded
// with its reader versions and hashed into the case's audit chain, verify re-hashes it, and archives
// carry it. Migration 0005-provenance runs on a database of the previous version.
import { describe, expect, it } from 'vitest';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { CaseStore } from '../../electron/services/case-store';
import { openWritableDatabase, getSchemaVersion } from '../../electron/services/case-store/case-db';
import { LATEST_SCHEMA_VERSION, migrateDatabase } from '../../electron/services/case-store/migrations';
import { canonicalJson } from '../../electron/services/case-store/canonical-json';
import { createApiServices, invokeHandler } from '../../electron/services/api-handlers';
import { apiContract } from '../../electron/shared/api-contract';
import { analyzeFiles, isAnalyzeFailure } from '../../electron/services/engine/analyze';
import { summarizeStoredProvenanceFinding } from '../../electron/services/provenance';
import { sha256OfFile, tempDir } from '../fixtures/case-store/case-fixtures';
import { exportCaseReport } from '../../electron/services/report/case-report';
import { pdfText } from '../support/pdf-tools';

const FIXTURES = path.resolve('../shared/fixtures/provenance');
const TITAN = path.join(FIXTURES, 'c2pa-ts__amazon-titan-g1.png');
const CANON = path.join(FIXTURES, 'exif-samples__Canon_40D.jpg');

describe('migration 0005-provenance', () => {
  it('runs on a database of the previous version and makes findings immutable', () => {
    const file = path.join(tempDir('prov-mig'), 'cases.sqlite');
    const db = openWritableDatabase(file);
    expect(migrateDatabase(db, LATEST_SCHEMA_VERSION - 1)).toBe(LATEST_SCHEMA_VERSION - 1);
    expect(migrateDatabase(db)).toBe(LATEST_SCHEMA_VERSION);
    expect(getSchemaVersion(db)).toBe(LATEST_SCHEMA_VERSION);
    const cols = (db.prepare(`PRAGMA table_info(provenance_findings)`).all() as { name: string }[]).map((c) => c.name);
    expect(cols).toEqual(['id', 'evidence_id', 'conclusion', 'headline', 'c2pa_state', 'report', 'report_sha256', 'reader_versions', 'images', 'created_at', 'created_by']);
    db.close();
  });
});

describe('provenance of case evidence through the API', () => {
  it('inspects, records with reader versions, audits, verifies, lists, recomputes views and travels in archives', async () => {
    const dataDir = tempDir('prov-case');
    const before = [sha256OfFile(TITAN), sha256OfFile(CANON)];
    const store = CaseStore.open(dataDir);
    const c = store.createCase({ caseNumber: 'P-1', title: 'provenance', examiner: 'ann' });
    const ingest = await store.ingest(c.id, [TITAN, CANON], { actor: 'ann' });
    expect(ingest.added).toHaveLength(2);
    const titan = ingest.added.find((e) => e.originalName.endsWith('.png'))!;
    // A real verdict from the shipped detector on the stored copy, recorded as any analysis is.
    for await (const r of analyzeFiles([store.evidenceFilePath(titan)], { dataDir })) {
      if (isAnalyzeFailure(r)) throw new Error(r.error.message);
      store.recordAnalysis({ evidenceId: titan.id, model: r.model, provider: r.provider, pSynthetic: r.pSynthetic, verdict: r.verdict, threshold: r.threshold, durationMs: r.ms, actor: 'ann' });
    }
    const analysis = store.listAnalysesForEvidence(titan.id)[0];
    store.close();

    const services = createApiServices({ dataDir });
    try {
      const res = await invokeHandler(services, 'provenance.inspect', { evidenceId: titan.id });
      expect(res.ok).toBe(true);
      const value = apiContract['provenance.inspect'].response.parse((res as { value: unknown }).value);
      const f = value.finding;
      expect(f.conclusion).toBe('synthetic');
      expect(f.c2paState).toBe('valid-signature-untrusted-signer');
      expect(f.readerVersions).toMatchObject({ provenance: '1', exifr: expect.any(String), '@trustnxt/c2pa-ts': expect.any(String) });
      expect(f.report.classifier).toMatchObject({ verdict: analysis.verdict, modelId: analysis.model.id });
      // The classifier's verdict is a witness; if it says real, the disagreement is stated.
      if (analysis.verdict === 'real') expect(f.report.finding.disagreement).toMatch(/outranks the classifier/);
      expect(f.summary).toMatch(/^Provenance: AI-generated/);
      expect(f.summary).toContain('Content credentials: C2PA manifest with a valid signature');
      expect(value.images.map((i) => i.kind)).toEqual(['spectrum', 'ela', 'noise']);
      expect(value.images.every((i) => i.dataUrl.startsWith('data:image/png;base64,') && i.matchesRecord === true)).toBe(true);

      const listed = await services.handlers['provenance.list']({ evidenceId: titan.id });
      expect(listed.map((x) => x.id)).toEqual([f.id]);
      const views = await services.handlers['provenance.views']({ evidenceId: titan.id });
      // Recomputed from the stored copy, byte-identical to what the finding recorded.
      expect(views.images.map((i) => [i.kind, i.matchesRecord])).toEqual([['spectrum', true], ['ela', true], ['noise', true]]);
      const other = await services.handlers['provenance.views']({ evidenceId: titan.id, elaQuality: 75 });
      expect(other.images.find((i) => i.kind === 'ela')!.matchesRecord).toBeNull();

      const missing = await invokeHandler(services, 'provenance.inspect', { evidenceId: 'no-such-id' });
      expect(missing).toMatchObject({ ok: false, error: { code: 'EVIDENCE_NOT_FOUND' } });
      expect(apiContract['provenance.inspect'].request.safeParse({ evidenceId: titan.id, elaQuality: 101 }).success).toBe(false);
    } finally {
      await services.dispose();
    }

    const reopened = CaseStore.open(dataDir);
    try {
      const [finding] = reopened.listProvenanceFindings(titan.id);
      const entry = reopened.auditLog(c.id).find((e) => e.action === 'provenance.recorded')!;
      expect(entry.details).toMatchObject({ findingId: finding.id, evidenceId: titan.id, conclusion: 'synthetic', reportSha256: finding.reportSha256, readerVersions: finding.readerVersions });
      expect(crypto.createHash('sha256').update(canonicalJson(finding.report)).digest('hex')).toBe(finding.reportSha256);
      expect(summarizeStoredProvenanceFinding(finding).split('\n').length).toBeLessThanOrEqual(12);
      expect((await reopened.verifyCase(c.id)).ok).toBe(true);

      // The PDF report carries the recorded finding on the item's page, with its hash.
      const pdf = path.join(tempDir('prov-report'), 'report.pdf');
      await exportCaseReport(reopened, c.id, { dataDir, actor: 'ann', outFile: pdf });
      const page = pdfText(pdf).split('\f').find((p) => p.includes(titan.sha256.slice(0, 16)) && p.includes('Provenance finding'));
      expect(page, 'no page of the report shows the provenance finding').toBeDefined();
      expect(page!.replace(/\s+/g, ' ')).toContain('Provenance finding: synthetic');
      expect(pdfText(pdf).replace(/\s+/g, '')).toContain(`findingsha256${finding.reportSha256}`);

      const archive = path.join(tempDir('prov-arc'), 'case.tar');
      await reopened.exportCase(c.id, archive, { actor: 'ann' });
      const otherDir = tempDir('prov-import');
      const target = CaseStore.open(otherDir);
      try {
        const imported = await target.importCaseArchive(archive, { actor: 'bob' });
        expect(imported.verify.ok).toBe(true);
        expect(target.listProvenanceFindings(titan.id).map((x) => x.reportSha256)).toEqual([finding.reportSha256]);
      } finally {
        target.close();
      }
    } finally {
      reopened.close();
    }

    // Rows cannot be changed; one changed behind the triggers' back is caught by verify.
    const raw = new Database(path.join(dataDir, 'cases.sqlite'));
    expect(() => raw.prepare(`UPDATE provenance_findings SET conclusion = 'camera-capture'`).run()).toThrow(/immutable/);
    expect(() => raw.prepare(`DELETE FROM provenance_findings`).run()).toThrow(/immutable/);
    raw.exec(`DROP TRIGGER provenance_no_update`);
    raw.prepare(`UPDATE provenance_findings SET report = replace(report, 'trainedAlgorithmicMedia', 'digitalCapture')`).run();
    raw.close();
    const check = CaseStore.open(dataDir);
    try {
      const report = await check.verifyCase(c.id);
      expect(report.issues).toContainEqual(expect.objectContaining({ kind: 'provenance-row-altered', fields: ['reportSha256'] }));
    } finally {
      check.close();
    }
    // The originals were only read.
    expect([sha256OfFile(TITAN), sha256OfFile(CANON)]).toEqual(before);
    expect(fs.existsSync(TITAN)).toBe(true);
  });
});
