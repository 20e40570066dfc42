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
let dataDir: string;

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'forensics-e2e-'));
  serve = await startServeProcess(dataDir);
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  serve?.child.kill('SIGTERM');
});

describe('renderer in Chromium over the browser transport', () => {
  it('shows data that came from a real service call', async () => {
    const page = await browser.newPage();
    const cspViolations: string[] = [];
    page.on('console', (m) => m.type() === 'error' && cspViolations.push(m.text()));
    await page.goto(serve.launchUrl);
    // The token is taken out of the address bar once read.
    await page.getByTestId('status-line').filter({ hasText: 'http' }).waitFor();
    expect(page.url()).not.toContain('token=');
    await page.getByRole('button', { name: 'Settings' }).click();
    await expect.poll(() => page.getByTestId('data-dir').textContent()).toBe(dataDir);
    const version = JSON.parse(fs.readFileSync('package.json', 'utf8')).version;
    expect(await page.getByTestId('app-version').textContent()).toBe(version);
    const providers = await page.getByTestId('providers').textContent();
    expect(providers).toContain('cpu');
    for (const name of ['Cases', 'Evidence', 'Reports']) {
      await page.getByRole('button', { name }).click();
      await expect.poll(() => page.getByRole('heading', { level: 2 }).textContent()).toBe(name);
    }
    // A reload keeps working: the token lives in this tab's session storage.
    await page.reload();
    await page.getByRole('button', { name: 'Settings' }).click();
    await expect.poll(() => page.getByTestId('data-dir').textContent()).toBe(dataDir);
    expect(cspViolations.filter((t) => /Content Security Policy/i.test(t))).toEqual([]);
  });

  it('chooses the execution provider in Settings and keeps the choice across a reload', async () => {
    const page = await browser.newPage();
    await page.goto(serve.launchUrl);
    await page.getByRole('button', { name: 'Settings' }).click();
    const select = page.getByLabel('Execution provider', { exact: true });
    await expect.poll(() => select.inputValue()).toBe('auto');
    // DirectML exists only on Windows: the list says so next to it.
    expect(await select.locator('option[value="dml"]').textContent()).toContain('falls back to CPU');
    await select.selectOption('cpu');
    await expect.poll(() => page.getByTestId('provider-preference-status').textContent()).toBe('Saved: new analyses ask for cpu.');
    await page.reload();
    await page.getByRole('button', { name: 'Settings' }).click();
    await expect.poll(() => page.getByLabel('Execution provider', { exact: true }).inputValue()).toBe('cpu');
    await page.getByLabel('Execution provider', { exact: true }).selectOption('auto');
    await expect.poll(() => page.getByTestId('provider-preference-status').textContent()).toBe('Saved: new analyses ask for auto.');
  });

  it('creates a case and ingests a real photograph through a background job', async () => {
    const sharedReal = path.resolve(process.cwd(), '..', 'shared', 'datasets', 'real');
    const photo = path.join(sharedReal, fs.readdirSync(sharedReal).find((f) => f.endsWith('.png'))!);
    const before = fs.readFileSync(photo);
    const page = await browser.newPage();
    await page.goto(serve.launchUrl);
    await page.getByLabel('Case number').fill('E2E-001');
    await page.getByLabel('Title').fill('Browser transport case');
    await page.getByLabel('Examiner').fill('Examiner E2E');
    await page.getByRole('button', { name: 'Create case' }).click();
    await page.getByRole('heading', { name: 'Evidence' }).waitFor();
    await page.getByLabel('Paths to ingest').fill(photo);
    await page.getByRole('button', { name: 'Ingest' }).click();
    await expect.poll(() => page.getByTestId('job-status').textContent(), { timeout: 60_000 }).toMatch(/^done/);
    const sha = (await import('node:crypto')).createHash('sha256').update(before).digest('hex');
    await expect.poll(() => page.getByTestId('evidence').textContent()).toContain(sha);
    expect(fs.readFileSync(photo).equals(before)).toBe(true);
    // The case list shows the count that the store recorded.
    await page.getByRole('button', { name: 'Cases' }).click();
    await expect.poll(() => page.getByTestId('cases').textContent()).toContain('E2E-001');
    // A duplicate case number is refused with the store's message, not a crash.
    await page.getByLabel('Case number').fill('E2E-001');
    await page.getByLabel('Title').fill('again');
    await page.getByLabel('Examiner').fill('x');
    await page.getByRole('button', { name: 'Create case' }).click();
    await expect.poll(() => page.getByRole('alert').first().textContent()).toMatch(/E2E-001/);
  });

  it('retrains a detector from Settings, then analyses evidence and shows five explanations side by side', async () => {
    const { buildDataset } = await import('../../electron/services/dataset/build-dataset');
    const datasetDir = path.join(dataDir, '..', path.basename(dataDir) + '-dataset');
    const sources = path.resolve(process.cwd(), '..', 'shared', 'datasets');
    await buildDataset({ sourcesDir: sources, outDir: datasetDir, seed: 5, limitPerGenerator: 1, limitReal: 24 });

    const page = await browser.newPage();
    await page.goto(serve.launchUrl);
    await page.getByRole('button', { name: 'Settings' }).click();
    await page.getByLabel('Dataset folder').fill(datasetDir);
    await page.getByLabel('Epochs').fill('4');
    await page.getByLabel('Use as the default detector').check();
    await page.getByRole('button', { name: 'Start training' }).click();
    await expect.poll(() => page.getByTestId('training-status').textContent(), { timeout: 240_000, interval: 1000 }).toMatch(/^(done|failed|cancelled)/);
    expect(await page.getByTestId('training-status').textContent()).toMatch(/^done.*registered /);

    await page.getByRole('button', { name: 'Cases' }).click();
    await page.getByLabel('Case number').fill('E2E-002');
    await page.getByLabel('Title').fill('Analysis case');
    await page.getByLabel('Examiner').fill('Examiner E2E');
    await page.getByRole('button', { name: 'Create case' }).click();
    const manifest = fs.readFileSync(path.join(sources, 'MANIFEST.csv'), 'utf8').trim().split('\n').slice(1);
    const files = ['real', 'synthetic'].map((label) => path.join(sources, manifest.filter((l) => l.split(',')[1] === label).at(-3)!.split(',')[0].split('#')[0]));
    await page.getByLabel('Paths to ingest').fill(files.join('\n'));
    await page.getByRole('button', { name: 'Ingest' }).click();
    await expect.poll(() => page.getByTestId('job-status').textContent(), { timeout: 60_000 }).toMatch(/^done/);
    await page.getByRole('button', { name: 'Analyze new evidence' }).click();
    await expect.poll(async () => (await page.getByTestId('verdict').allTextContents()).join(','), { timeout: 120_000 }).toMatch(/^(real|synthetic|inconclusive),(real|synthetic|inconclusive)$/);
    // No accelerator on this machine: the view says the analysis ran on the CPU, and why.
    await expect.poll(() => page.getByTestId('provider-note').textContent()).toMatch(/^Execution provider: no accelerator available, using cpu \(/);

    await page.getByRole('button', { name: 'Why?' }).first().click();
    await page.getByRole('button', { name: 'Explain with all five methods' }).click();
    await expect.poll(() => page.getByTestId('explain-status').textContent(), { timeout: 240_000, interval: 1000 }).toMatch(/^(done|failed)/);
    expect(await page.getByTestId('explain-status').textContent()).toMatch(/^done/);
    const heatmaps = page.getByTestId('heatmaps').getByRole('img');
    await expect.poll(() => heatmaps.count()).toBe(5);
    for (const name of ['GradCAM', 'AblationCAM', 'LayerCAM', 'Faster ScoreCAM', 'LIME']) {
      const img = page.getByRole('img', { name: `${name} heatmap` });
      // Decoded, not a broken image.
      expect(await img.evaluate((el) => (el as HTMLImageElement).naturalWidth)).toBeGreaterThan(0);
    }
    if (process.env.E2E_SCREENSHOT) await page.screenshot({ path: process.env.E2E_SCREENSHOT, fullPage: true });
  });

  it('shows a clear error, not data, when opened without the token', async () => {
    const page = await browser.newPage();
    await page.goto(serve.url + '/');
    await page.getByRole('button', { name: 'Settings' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('Missing or wrong API token');
  });
});
