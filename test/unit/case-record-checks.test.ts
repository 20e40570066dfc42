// The provenance and report record checks on hand-built rows and entries: a finding recorded before its
// entry carried the headline, and report entries from before a case was imported.
import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../electron/services/case-store/canonical-json';
import { checkCaseRecords, type AuditedEntry, type CaseRecords } from '../../electron/services/case-store/record-checks';
import type { ProvenanceFindingRecord } from '../../electron/services/case-store/provenance-queries';
import type { ReportRecord } from '../../electron/services/case-store/case-queries';

const caseId = crypto.randomUUID();
const at = '2026-03-01T10:00:00.000Z';
const kase = { id: caseId, caseNumber: 'R-1', title: 't', examiner: 'ann', agency: null, createdAt: at, closedAt: null, description: null, updatedAt: null };
let index = 0;
const entry = (action: string, details: Record<string, unknown>, when = at): AuditedEntry =>
  ({ chain: caseId, index: index++, at: when, actor: 'ann', action, details, prevHash: '', hash: '' }) as unknown as AuditedEntry;

const report = { finding: { conclusion: 'generator-traces', headline: 'Likely generated: generator chunk' } };
const finding: ProvenanceFindingRecord = {
  id: crypto.randomUUID(),
  evidenceId: crypto.randomUUID(),
  conclusion: 'generator-traces',
  headline: report.finding.headline,
  c2paState: 'absent',
  report,
  reportSha256: crypto.createHash('sha256').update(canonicalJson(report), 'utf8').digest('hex'),
  readerVersions: { exifr: '7' },
  images: { ela: null },
  createdAt: at,
  createdBy: 'ann',
};
// An entry as written before the headline joined it.
const olderEntryDetails = {
  findingId: finding.id,
  evidenceId: finding.evidenceId,
  conclusion: finding.conclusion,
  c2paState: finding.c2paState,
  reportSha256: finding.reportSha256,
  readerVersions: finding.readerVersions,
  images: finding.images,
};

function records(over: Partial<CaseRecords>): CaseRecords {
  return { case: kase, evidence: [], analyses: [], explanations: [], notes: [], tags: [], ...over };
}

describe('provenance check', () => {
  it('vouches for an older finding’s headline through the report its entry hashes', () => {
    index = 0;
    const audit = [entry('case.created', { ...kase }), entry('provenance.recorded', olderEntryDetails)];
    expect(checkCaseRecords(records({ provenance: [finding] }), audit)).toEqual([]);
    expect(checkCaseRecords(records({ provenance: [{ ...finding, headline: 'Camera original' }] }), audit)).toEqual([
      { kind: 'provenance-row-altered', findingId: finding.id, fields: ['headline'] },
    ]);
  });

  it('names a headline changed together with the report, against an older entry, as the report hash', () => {
    index = 0;
    const audit = [entry('case.created', { ...kase }), entry('provenance.recorded', olderEntryDetails)];
    const forged = { finding: { ...report.finding, headline: 'Camera original' } };
    const issues = checkCaseRecords(records({ provenance: [{ ...finding, headline: 'Camera original', report: forged }] }), audit);
    expect(issues).toEqual([{ kind: 'provenance-row-altered', findingId: finding.id, fields: expect.arrayContaining(['reportSha256', 'headline']) }]);
  });
});

describe('report check', () => {
  const issued: ReportRecord = {
    id: crypto.randomUUID(),
    caseId,
    sha256: 'ab'.repeat(32),
    sizeBytes: 10,
    pageCount: 1,
    storedPath: 'reports/x.pdf',
    outputPath: null,
    evidenceIds: [],
    exportedAt: at,
    exportedBy: 'ann',
    auditHead: null,
    verifyOk: true,
    signed: false,
  };
  const exported = (r: ReportRecord) => entry('report.exported', { reportId: r.id, ...r, id: undefined, caseId: undefined, exportedBy: undefined });

  it('expects rows only for reports issued after the case was imported; archives (no reports field) are not checked', () => {
    index = 0;
    const before = { ...issued, id: crypto.randomUUID() };
    const audit = [entry('case.created', { ...kase }), exported(before), entry('case.imported', { file: 'a.tar' }), exported(issued)];
    expect(checkCaseRecords(records({ reports: [issued] }), audit)).toEqual([]);
    expect(checkCaseRecords(records({}), audit)).toEqual([]);
    expect(checkCaseRecords(records({ reports: [] }), audit)).toEqual([{ kind: 'report-row-missing', reportId: issued.id, auditIndex: 3 }]);
    // A row for the report of the exporting store, planted after the import: no entry after the import vouches for it.
    expect(checkCaseRecords(records({ reports: [issued, before] }), audit)).toEqual([{ kind: 'report-row-unaudited', reportId: before.id }]);
  });
});
