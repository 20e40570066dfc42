// The provenance panel in Chromium over the browser transport: ingest a real C2PA-signed PNG from the
// fixtures, inspect it from the evidence view, and see the finding, the credentials and the views.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../support/chromium';
import { startServeProcess } from '../support/serve-process';

let browser: Browser;
let serve: { child: ChildProcess; url: string; launchUrl: string };

beforeAll(async () => {
  serve = await startServeProcess(fs.mkdtempSync(path.join(os.tmpdir(), 'forensics-e2e-prov-')));
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  serve?.child.kill('SIGTERM');
});

describe('provenance panel', () => {
  it('inspects a C2PA-signed generator PNG: synthetic per validated manifest, with spectrum, ELA and noise views', async () => {
    const titan = path.resolve('../shared/fixtures/provenance/c2pa-ts__amazon-titan-g1.png');
    const page = await browser.newPage();
    const consoleErrors: string[] = [];
    page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
    await page.goto(serve.launchUrl);
    await page.getByLabel('Case number').fill('PROV-E2E');
    await page.getByLabel('Title').fill('Provenance panel');
    await page.getByLabel('Examiner', { exact: true }).fill('Examiner E2E');
    await page.getByRole('button', { name: 'Create case' }).click();
    await page.getByRole('heading', { name: 'Evidence' }).waitFor();
    await page.getByLabel('Paths to ingest').fill(titan);
    await page.getByRole('button', { name: 'Ingest' }).click();
    await expect.poll(() => page.getByTestId('job-status').textContent(), { timeout: 60_000 }).toBe('Import finished: 1 file added.');
    // The provenance panel lives in the evidence viewer, beside the verdict and the explanations.
    await page.getByRole('button', { name: `Open ${path.basename(titan)}` }).click();
    await page.getByTestId('viewer').waitFor();
    const panel = page.getByTestId('provenance-panel');
    await panel.getByText('Not inspected yet.').waitFor();
    await panel.getByRole('button', { name: 'Inspect provenance' }).click();
    await expect.poll(() => panel.getByTestId('provenance-finding').textContent(), { timeout: 120_000 }).toMatch(/^synthetic: C2PA manifest \(validated; signer not checked against a trust list\) declares trainedAlgorithmicMedia/);
    expect(await panel.getByTestId('provenance-c2pa').textContent()).toContain('Claim generator: Amazon Bedrock');
    for (const alt of ['Log spectrum of the noise residual', 'Error level analysis', 'Noise residual']) {
      const img = panel.getByRole('img', { name: alt, exact: true });
      await expect.poll(() => img.evaluate((el) => (el as HTMLImageElement).naturalWidth), { timeout: 30_000 }).toBeGreaterThan(0);
    }
    expect(await panel.getByTestId('radial-plot').count()).toBe(1);
    // Reopening (the view remounts) shows the recorded finding and recomputed views without inspecting again.
    // Leaving and re-opening the item shows the recorded finding without inspecting again.
    await page.keyboard.press('Escape');
    await expect.poll(() => page.getByTestId('viewer').count()).toBe(0);
    await page.getByRole('button', { name: 'Cases', exact: true }).click();
    await page.getByRole('button', { name: 'Evidence', exact: true }).click();
    await page.getByRole('button', { name: `Open ${path.basename(titan)}` }).click();
    await page.getByTestId('viewer').waitFor();
    await expect.poll(() => page.getByTestId('provenance-finding').textContent(), { timeout: 60_000 }).toMatch(/^synthetic/);
    await expect.poll(() => page.getByRole('img', { name: 'Error level analysis', exact: true }).count(), { timeout: 60_000 }).toBe(1);
    expect(consoleErrors.filter((t) => /Content Security Policy/i.test(t))).toEqual([]);
  });
});
