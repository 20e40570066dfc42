// The model lab in Chromium over the browser transport, on the real services: labelled folders of
// ../shared/datasets read in place (a few images each), a dataset built as a job, 2 epochs of training
// whose loss chart grows point by point while the job runs, the eight metrics and a drawn ROC chart,
// the new (weak) model made active only through the warning and an explicit confirmation, one image
// analysed with it (its id on the verdict), then the shipped default made active again.
// Screenshots go to test-results/model-lab-*.png.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../support/chromium';
import { startServeProcess } from '../support/serve-process';

const shared = path.resolve(process.cwd(), '..', 'shared', 'datasets');
const shots = path.resolve(process.cwd(), 'test-results');

let browser: Browser;
let serve: { child: ChildProcess; url: string; launchUrl: string };
let dataDir: string;

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'forensics-e2e-lab-'));
  serve = await startServeProcess(dataDir);
  browser = await launchChromium();
  fs.mkdirSync(shots, { recursive: true });
});
afterAll(async () => {
  await browser?.close();
  serve?.child.kill('SIGTERM');
});

/** Pixels of a chart's canvas that are drawn in roughly this colour (the canvas background is transparent). */
async function drawnPixels(page: Page, testId: string, rgb: [number, number, number]): Promise<number> {
  return page.getByTestId(testId).locator('canvas').first().evaluate((canvas, [r, g, b]) => {
    const c = canvas as HTMLCanvasElement;
    const data = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < data.length; i += 4) {
      if (data[i + 3] > 200 && Math.abs(data[i] - r) < 40 && Math.abs(data[i + 1] - g) < 40 && Math.abs(data[i + 2] - b) < 40) n++;
    }
    return n;
  }, rgb);
}

describe('model lab in Chromium over the browser transport', () => {
  it('builds a dataset from folders, trains with a live chart, evaluates, activates with a warning, analyses, and goes back', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const consoleErrors: string[] = [];
    page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
    await page.goto(serve.launchUrl);
    await page.getByRole('button', { name: 'Settings' }).click();

    // 1. Data. Bad input first: a synthetic folder inside the real one is refused with its reason.
    await page.getByLabel('Real folder 1').fill(path.join(shared, 'synthetic'));
    await page.getByLabel('Synthetic folder 1', { exact: true }).fill(path.join(shared, 'synthetic', 'gan'));
    await page.getByRole('button', { name: 'Build dataset' }).click();
    await expect.poll(() => page.getByTestId('dataset-status').textContent(), { timeout: 60_000 }).toBe(
      `failed · The synthetic folder ${path.join(shared, 'synthetic', 'gan')} is inside the real folder ${path.join(shared, 'synthetic')}: its images would be used twice and under both labels (OVERLAPPING_FOLDERS)`,
    );
    expect(await page.getByTestId('dataset-summary').count()).toBe(0);

    // One real and two synthetic folders, five images each, read in place.
    await page.getByLabel('Real folder 1').fill(path.join(shared, 'real'));
    await page.getByLabel('Synthetic folder 1', { exact: true }).fill(path.join(shared, 'synthetic', 'gan'));
    await page.getByLabel('Generator of synthetic folder 1').fill('gan-folder');
    await page.getByRole('button', { name: 'Add synthetic folder' }).click();
    await page.getByLabel('Synthetic folder 2', { exact: true }).fill(path.join(shared, 'synthetic', 'diffusion'));
    await page.getByLabel('Generator of synthetic folder 2').fill('diffusion-folder');
    await page.getByLabel('Images per folder').fill('5');
    await page.getByRole('button', { name: 'Build dataset' }).click();
    await expect.poll(() => page.getByTestId('dataset-status').textContent(), { timeout: 120_000 }).toMatch(/^done/);
    const generators = await page.getByTestId('dataset-generators').textContent();
    expect(generators).toContain('gan-folder');
    expect(generators).toContain('diffusion-folder');
    for (const [i, split] of ['train', 'val', 'test'].entries()) {
      const cells = await page.getByTestId('dataset-splits').locator('tbody tr').nth(i).locator('td').allTextContents();
      expect(cells[0]).toBe(split);
      // Both classes in every split: a model trained here can be evaluated.
      expect(Number(cells[1])).toBeGreaterThan(0);
      expect(Number(cells[2])).toBeGreaterThan(0);
    }
    await page.getByTestId('dataset-summary').screenshot({ path: path.join(shots, 'model-lab-1-dataset.png') });

    // 2. Training: 2 epochs, batches of 8. Record the loss chart's point count at every DOM change.
    await page.getByLabel('Epochs').fill('2');
    await page.getByLabel('Batch size').fill('8');
    // Scored as the shipped default is: every image with its mirror.
    await page.getByLabel('Mirrored scoring').check();
    await page.evaluate(() => {
      const w = window as unknown as { __loss: Array<{ points: number; status: string }> };
      w.__loss = [];
      new MutationObserver(() => {
        const chart = document.querySelector('[data-testid="loss-chart"]');
        const status = document.querySelector('[data-testid="training-status"]')?.textContent ?? '';
        const points = Number(chart?.getAttribute('data-points') ?? 0);
        if (chart && (w.__loss.length === 0 || w.__loss.at(-1)!.points !== points)) w.__loss.push({ points, status });
      }).observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true });
    });
    await page.getByRole('button', { name: 'Start training' }).click();
    await expect.poll(() => page.getByTestId('training-status').textContent(), { timeout: 240_000, interval: 500 }).toMatch(/^(done|failed|cancelled)/);
    const status = (await page.getByTestId('training-status').textContent())!;
    expect(status).toMatch(/^done · elapsed .* · registered (\S+) \(not active\)$/);
    const modelId = /registered (\S+) \(not active\)/.exec(status)![1];
    const seen = await page.evaluate(() => (window as unknown as { __loss: Array<{ points: number; status: string }> }).__loss);
    // The chart grew one step at a time while the job was still running.
    const whileRunning = seen.filter((s) => s.status.startsWith('running'));
    expect(whileRunning.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < seen.length; i++) expect(seen[i].points).toBeGreaterThan(seen[i - 1].points);
    expect(await page.getByTestId('epoch-table').locator('tbody tr').count()).toBe(2);
    expect(await drawnPixels(page, 'loss-chart', [247, 118, 142])).toBeGreaterThan(20);
    await page.locator('section[aria-labelledby="lab-train-title"]').screenshot({ path: path.join(shots, 'model-lab-2-training.png') });

    // 3. Evaluation of the new model on its test split runs by itself after training.
    const evaluation = page.getByTestId('evaluation');
    await evaluation.waitFor({ timeout: 120_000 });
    expect(await evaluation.textContent()).toContain(modelId);
    const headers = await page.getByTestId('metrics').locator('thead th').allTextContents();
    expect(headers.slice(1)).toEqual(['Precision', 'Recall', 'F1', 'Accuracy', 'AP', 'ROC-AUC', 'FPR', 'FNR']);
    const values = await page.getByTestId('metrics').locator('tbody td').allTextContents();
    expect(values).toHaveLength(8);
    for (const v of values) expect(v).toMatch(/^(\d\.\d{3}|n\/a)$/);
    expect(await drawnPixels(page, 'roc-chart', [122, 162, 247])).toBeGreaterThan(100);
    expect(await page.getByTestId('roc-chart').locator('.lab-chart-description').textContent()).toMatch(/^ROC curve through \d+ points, area under it /);
    await page.getByTestId('per-generator').waitFor();
    await evaluation.screenshot({ path: path.join(shots, 'model-lab-3-evaluation.png') });

    // 3b. Another operating point on the validation ROC, saved as a new model version.
    await page.getByLabel('Model for the threshold').selectOption(modelId);
    await page.getByRole('button', { name: 'Show validation ROC' }).click();
    await page.getByTestId('threshold-roc').waitFor({ timeout: 120_000 });
    expect(await drawnPixels(page, 'threshold-roc', [122, 162, 247])).toBeGreaterThan(100);
    // Recall 100 % is reachable on any validation ROC (its last point), whatever this tiny model learnt.
    await page.getByLabel('Operating point', { exact: true }).selectOption('min-recall');
    await page.getByLabel('Operating point value').fill('100');
    await page.getByLabel('New model id').fill(`${modelId}-r100`);
    await page.getByRole('button', { name: 'Save as new model version' }).click();
    await expect.poll(() => page.getByTestId('threshold-message').textContent(), { timeout: 120_000 }).toMatch(new RegExp(`^Saved ${modelId}-r100: threshold \\d\\.\\d{3}, .* ${modelId} is unchanged\\.$`));
    await expect.poll(() => page.locator(`tr[data-model="${modelId}-r100"]`).count()).toBe(1);
    // The new model's card says how it scores a file.
    await page.locator(`tr[data-model="${modelId}"]`).getByRole('button', { name: 'Card' }).click();
    expect(await page.getByTestId('model-scoring').textContent()).toBe('the whole image resized to 224 px (the paper), each view averaged with its left-right mirror');
    await page.locator(`tr[data-model="${modelId}"]`).getByRole('button', { name: 'Card' }).click();
    await page.locator('section[aria-labelledby="lab-threshold-title"]').screenshot({ path: path.join(shots, 'model-lab-3b-threshold.png') });

    // 4. Activation: a weak model needs the warning and an explicit "Activate anyway".
    const row = page.locator(`tr[data-model="${modelId}"]`);
    await row.getByRole('button', { name: 'Make active' }).click();
    const dialog = page.getByRole('alertdialog');
    await expect.poll(() => dialog.getByTestId('weak-warning').textContent()).toMatch(/Warning: this model fails its own evaluation\..*test split is too small to trust/);
    await dialog.screenshot({ path: path.join(shots, 'model-lab-4-weak-warning.png') });
    await dialog.getByRole('button', { name: 'Activate anyway' }).click();
    await expect.poll(() => page.getByTestId('registry-message').textContent()).toMatch(new RegExp(`^${modelId} is now the active detector \\(was default-mobilenet-v2\\)`));
    await expect.poll(() => page.getByTestId('active-model').textContent()).toContain(modelId);

    // 5. One image analysed in a case: the verdict names the new model.
    await page.getByRole('button', { name: 'Cases' }).click();
    await page.getByLabel('Case number').fill('LAB-E2E-1');
    await page.getByLabel('Title').fill('Model lab case');
    await page.getByLabel('Examiner', { exact: true }).fill('Examiner E2E');
    await page.getByRole('button', { name: 'Create case' }).click();
    await page.getByRole('heading', { name: 'Evidence' }).waitFor();
    const photoName = fs.readdirSync(path.join(shared, 'real')).filter((f) => f.endsWith('.png')).sort().at(-1)!;
    await page.getByLabel('Paths to ingest').fill(path.join(shared, 'real', photoName));
    await page.getByRole('button', { name: 'Ingest' }).click();
    await expect.poll(() => page.getByTestId('job-status').textContent(), { timeout: 60_000 }).toBe('Import finished: 1 file added.');
    await page.getByRole('button', { name: 'Analyze new evidence' }).click();
    await expect.poll(() => page.getByTestId('analysis-status').textContent(), { timeout: 120_000, interval: 500 }).toBe('Analysis finished: 1 verdict recorded.');
    // The threshold note and the viewer's verdict facts name the model that produced the verdict.
    expect(await page.getByTestId('threshold-note').textContent()).toContain(`(${modelId})`);
    // Whatever verdict strings exist, the badge holds a word from the service.
    expect(await page.locator('.tile-verdict [data-verdict]').first().getAttribute('data-verdict')).toMatch(/^[a-z]+$/);
    await page.getByRole('button', { name: `Open ${photoName}` }).click();
    await page.getByTestId('viewer').waitFor();
    const facts = await page.getByTestId('verdict-facts').textContent();
    expect(facts).toContain(modelId);
    expect(facts).toContain('cpu');
    await page.screenshot({ path: path.join(shots, 'model-lab-5-verdict.png'), fullPage: true });

    // 6. The way back: the shipped default, whose warning says its misses are mostly inconclusive.
    await page.getByRole('button', { name: 'Close' }).click();
    await expect.poll(() => page.getByTestId('viewer').count()).toBe(0);
    await page.getByRole('button', { name: 'Settings' }).click();
    await page.getByRole('button', { name: 'Go back to the shipped default' }).click();
    await expect.poll(() => page.getByRole('alertdialog').getByTestId('weak-warning').textContent()).toMatch(/inconclusive band/);
    await page.getByRole('alertdialog').getByRole('button', { name: 'Activate anyway' }).click();
    await expect.poll(() => page.getByTestId('active-model').textContent()).toBe('Active: default-mobilenet-v2');
    await page.locator('section[aria-labelledby="lab-registry-title"]').screenshot({ path: path.join(shots, 'model-lab-6-registry.png') });
    expect(consoleErrors).toEqual([]);
  }, 420_000);
});
