// The Reports screen in Chromium over the browser transport: export a PDF report of a real, analysed
// case (all evidence, then one selected item), find each in the list with its sha256, and download it.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../support/chromium';
import { startServeProcess, repoRoot } from '../support/serve-process';
import { CaseStore } from '../../electron/services/case-store';
import { analyzeCaseEvidence } from '../../electron/services/case-analysis';
import { datasetImages } from '../fixtures/case-store/case-fixtures';
import { pdfText } from '../support/pdf-tools';

let browser: Browser;
let serve: { child: ChildProcess; url: string; launchUrl: string };
let dataDir: string;
let caseId: string;

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'forensics-e2e-reports-'));
  // The case is built with the real store and the shipped default detector; the UI under test is Reports.
  const store = CaseStore.open(dataDir);
  try {
    caseId = store.createCase({ caseNumber: 'E2E-REP-1', title: 'Reports screen', examiner: 'Examiner E2E' }).id;
    await store.ingest(caseId, [datasetImages(1, 'real')[0], datasetImages(1, 'gan')[0]], { actor: 'Examiner E2E' });
    expect((await analyzeCaseEvidence(store, caseId, { dataDir, actor: 'Examiner E2E' })).failed).toEqual([]);
  } finally {
    store.close();
  }
  serve = await startServeProcess(dataDir);
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  serve?.child.kill('SIGTERM');
});

describe('Reports screen', () => {
  it('exports a report of the case, lists it with its sha256, and downloads the very bytes that were issued', async () => {
    const page = await browser.newPage({ acceptDownloads: true });
    await page.goto(serve.launchUrl);
    await page.getByRole('button', { name: 'Reports' }).click();
    await expect.poll(() => page.getByLabel('Case', { exact: true }).inputValue()).toBe(caseId);
    await expect.poll(() => page.getByText('No report has been exported for this case yet.').count()).toBe(1);

    await page.getByRole('button', { name: 'Export PDF report' }).click();
    await expect.poll(() => page.getByTestId('report-job-status').textContent(), { timeout: 60_000 }).toMatch(/^(done|failed|cancelled)/);
    expect(await page.getByTestId('report-job-status').textContent()).toBe('done · 2/2 evidence items laid out');

    const store = CaseStore.open(dataDir);
    let issued;
    try {
      issued = store.listReports(caseId);
      expect(issued).toHaveLength(1);
      // The audit chain's newest entry records the same hash the screen shows.
      expect(store.auditLog(caseId).at(-1)!.details).toMatchObject({ reportId: issued[0].id, sha256: issued[0].sha256 });
    } finally {
      store.close();
    }
    const row = page.locator(`tr[data-report-id="${issued[0].id}"]`);
    await expect.poll(() => row.textContent()).toContain(issued[0].sha256);
    expect(await row.textContent()).toContain('passed');

    const [download] = await Promise.all([page.waitForEvent('download'), row.getByRole('button', { name: 'Download' }).click()]);
    expect(download.suggestedFilename()).toMatch(/^report-E2E-REP-1-\d{4}-\d{2}-\d{2}-[0-9a-f]{8}\.pdf$/);
    const saved = path.join(dataDir, '..', `${path.basename(dataDir)}-download.pdf`);
    await download.saveAs(saved);
    expect(crypto.createHash('sha256').update(fs.readFileSync(saved)).digest('hex')).toBe(issued[0].sha256);
    expect(pdfText(saved)).toContain('E2E-REP-1');

    // One selected item: a second report, listed first.
    await page.getByLabel('Selected evidence').check();
    const boxes = page.getByRole('group', { name: 'Evidence to include' }).getByRole('checkbox');
    await expect.poll(() => boxes.count()).toBe(2);
    await boxes.nth(1).check();
    await page.getByRole('button', { name: 'Export PDF report' }).click();
    await expect.poll(() => page.getByTestId('report-job-status').textContent(), { timeout: 60_000 }).toBe('done · 1/1 evidence items laid out');
    await expect.poll(() => page.getByTestId('reports').locator('tbody tr').count()).toBe(2);
    expect(await page.getByTestId('reports').locator('tbody tr').first().locator('td').nth(2).textContent()).toBe('1');

    fs.mkdirSync(path.join(repoRoot, 'test-results'), { recursive: true });
    await page.screenshot({ path: path.join(repoRoot, 'test-results', 'reports-screen.png'), fullPage: true });
  });
});
