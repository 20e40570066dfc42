// The report through the API contract: a report.export job with progress (items laid out / total) and
// cancel, reports.list with hashes, and reports.file handing out the issued bytes only while they match.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createApiServices, invokeHandler, type ApiServices } from '../../electron/services/api-handlers';
import { validateApiRequest } from '../../electron/shared/validate-request';
import type { JobState } from '../../electron/shared/api-contract';
import { CaseStore } from '../../electron/services/case-store';
import { datasetImages, tempDir } from '../fixtures/case-store/case-fixtures';
import { pdfText } from '../support/pdf-tools';

let services: ApiServices;
let dataDir: string;
const events: JobState[] = [];

async function waitForJob(jobId: string): Promise<JobState> {
  for (;;) {
    const state = await services.handlers['jobs.get']({ jobId });
    if (state.status !== 'running') return state;
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(() => {
  dataDir = path.join(tempDir('report-api'), 'data');
  services = createApiServices({ dataDir });
  services.onEvent((e) => events.push(e.job));
});
afterAll(async () => services?.dispose());

describe('report API', () => {
  it('exports a report as a job with per-item progress, lists it with its hash and hands out its bytes', async () => {
    const kase = await services.handlers['cases.create']({ caseNumber: 'API-R-1', title: 'Report over the API', examiner: 'Ann Examiner' });
    const ingest = await waitForJob((await services.handlers['jobs.start']({ kind: 'evidence.import', caseId: kase.id, paths: datasetImages(3, 'gan') })).jobId);
    expect(ingest.status).toBe('done');
    expect(await services.handlers['reports.list']({ caseId: kase.id })).toEqual([]);

    const { jobId } = await services.handlers['jobs.start']({ kind: 'report.export', caseId: kase.id });
    const job = await waitForJob(jobId);
    expect(job.error).toBeUndefined();
    expect(job.status).toBe('done');
    const progress = events.filter((e) => e.id === jobId && e.status === 'running').map((e) => e.progress);
    expect(progress.at(-1)).toMatchObject({ done: 3, total: 3 });
    expect(progress.every((p) => p.total === null || p.total === 3)).toBe(true);

    const [listed] = await services.handlers['reports.list']({ caseId: kase.id });
    expect(listed).toMatchObject({ id: (job.result as { reportId: string }).reportId, caseId: kase.id, pageCount: expect.any(Number), verifyOk: true, signed: false });
    expect(listed.evidenceIds).toHaveLength(3);
    expect(listed.fileName).toMatch(/^report-API-R-1-\d{4}-\d{2}-\d{2}-[0-9a-f]{8}\.pdf$/);
    const file = await services.handlers['reports.file']({ reportId: listed.id });
    const bytes = Buffer.from(file.pdfBase64, 'base64');
    expect(crypto.createHash('sha256').update(bytes).digest('hex')).toBe(listed.sha256);
    expect(file.sizeBytes).toBe(bytes.length);
    const pdf = path.join(tempDir('report-api-out'), file.fileName);
    fs.writeFileSync(pdf, bytes);
    expect(pdfText(pdf)).toContain('API-R-1');

    // A subset of the evidence; an unknown evidence id fails the job with the store's message.
    const evidence = await services.handlers['evidence.list']({ caseId: kase.id });
    const subset = await waitForJob((await services.handlers['jobs.start']({ kind: 'report.export', caseId: kase.id, evidenceIds: [evidence[1].id] })).jobId);
    expect(subset.status).toBe('done');
    expect((await services.handlers['reports.list']({ caseId: kase.id })).at(-1)!.evidenceIds).toEqual([evidence[1].id]);
    const bad = await waitForJob((await services.handlers['jobs.start']({ kind: 'report.export', caseId: kase.id, evidenceIds: ['nope'] })).jobId);
    expect(bad).toMatchObject({ status: 'failed', error: { code: 'EVIDENCE_NOT_FOUND' } });

    // The store's copy altered on disk: not handed out, with the reason.
    const store = CaseStore.open(dataDir);
    try {
      const stored = store.reportFilePath(store.findReport(listed.id)!);
      fs.chmodSync(stored, 0o644);
      fs.appendFileSync(stored, '%');
    } finally {
      store.close();
    }
    const refused = await invokeHandler(services, 'reports.file', { reportId: listed.id });
    expect(refused).toMatchObject({ ok: false, error: { message: expect.stringMatching(/no longer matches the sha256 recorded/) } });
    expect(await invokeHandler(services, 'reports.file', { reportId: crypto.randomUUID() })).toMatchObject({ ok: false, error: { code: 'REPORT_NOT_FOUND' } });
  });

  it('cancels a report export: the job says cancelled and no report is recorded', async () => {
    const kase = await services.handlers['cases.create']({ caseNumber: 'API-R-2', title: 'Cancelled report', examiner: 'Ann Examiner' });
    const files = [...datasetImages(30, 'gan'), ...datasetImages(10, 'real')];
    expect((await waitForJob((await services.handlers['jobs.start']({ kind: 'evidence.import', caseId: kase.id, paths: files })).jobId)).status).toBe('done');
    const { jobId } = await services.handlers['jobs.start']({ kind: 'report.export', caseId: kase.id });
    // Cancel once the first item is laid out.
    await new Promise<void>((resolve) => {
      const off = services.onEvent((e) => {
        if (e.job.id === jobId && (e.job.progress.done >= 1 || e.job.status !== 'running')) {
          off();
          resolve();
        }
      });
    });
    expect((await services.handlers['jobs.cancel']({ jobId })).cancelled).toBe(true);
    expect((await waitForJob(jobId)).status).toBe('cancelled');
    expect(await services.handlers['reports.list']({ caseId: kase.id })).toEqual([]);
  });

  it('validates report requests at the contract', () => {
    expect(validateApiRequest('jobs.start', { kind: 'report.export' }).ok).toBe(false);
    expect(validateApiRequest('jobs.start', { kind: 'report.export', caseId: 'c', evidenceIds: [] }).ok).toBe(false);
    expect(validateApiRequest('jobs.start', { kind: 'report.export', caseId: 'c', out: '/etc/passwd' }).ok).toBe(false);
    expect(validateApiRequest('reports.file', { reportId: '' }).ok).toBe(false);
    expect(validateApiRequest('reports.list', { caseId: 'x' }).ok).toBe(true);
  });
});

