// The examiner's workspace end to end in Chromium, through the browser transport, on the real
// services and the real default detector: create a case, upload three real images with the file
// picker, analyse, open one, see the five explanations beside the original, zoom and pan them
// together, change the opacity, write a note and find it in the item's history, verify the audit
// trail. Screenshots of each screen go to test-results/ and are checked to be non-blank.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import sharp from 'sharp';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../support/chromium';
import { startServeProcess } from '../support/serve-process';

const datasets = path.resolve(process.cwd(), '..', 'shared', 'datasets');
const IMAGES = ['real/CodeFormer__cropped_faces__0143.png', 'real/FUnIE-GAN__test_A__19.jpg', 'synthetic/diffusion/score_sde_pytorch__church__t3.jpg'].map((f) =>
  path.join(datasets, f),
);
const SHOTS = path.resolve('test-results', 'workspace');
const EXAMINER = 'Dana Examiner';
const METHOD_LABELS = ['GradCAM', 'AblationCAM', 'LayerCAM', 'Faster ScoreCAM', 'LIME'];

let browser: Browser;
let serve: { child: ChildProcess; url: string; launchUrl: string };
let dataDir: string;
let page: Page;
const badResponses: string[] = [];

/** A screenshot saved as an artifact and checked to show something (not one flat colour). */
async function screenshot(name: string) {
  const file = path.join(SHOTS, `${name}.png`);
  await page.screenshot({ path: file });
  const stats = await sharp(file).stats();
  const spread = Math.max(...stats.channels.map((c) => c.stdev));
  expect(spread, `${name}.png is blank`).toBeGreaterThan(10);
}

/** Draws an <img> into a canvas and returns the spread of its pixel values (0 for a blank image). */
const imageSpread = (selector: string) =>
  page.locator(selector).evaluate((el) => {
    const img = el as HTMLImageElement;
    const c = document.createElement('canvas');
    c.width = Math.min(256, img.naturalWidth);
    c.height = Math.min(256, img.naturalHeight);
    const g = c.getContext('2d')!;
    g.drawImage(img, 0, 0, c.width, c.height);
    const d = g.getImageData(0, 0, c.width, c.height).data;
    let sum = 0;
    let sq = 0;
    const n = d.length / 4;
    for (let i = 0; i < d.length; i += 4) {
      const v = (d[i] + d[i + 1] + d[i + 2]) / 3;
      sum += v;
      sq += v * v;
    }
    return Math.sqrt(sq / n - (sum / n) ** 2);
  });

const transforms = () => page.locator('.viewport').evaluateAll((els) => els.map((e) => e.getAttribute('data-transform')));

beforeAll(async () => {
  fs.mkdirSync(SHOTS, { recursive: true });
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'forensics-workspace-e2e-'));
  serve = await startServeProcess(dataDir);
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  // A request for "no case" must never be sent (it used to go out as caseId:"" and fail twice).
  page.on('request', (r) => r.url().includes('/api/') && /"(caseId|evidenceId)":""/.test(r.postData() ?? '') && badResponses.push(`${r.url()} ${r.postData()}`));
});
afterAll(async () => {
  await browser?.close();
  serve?.child.kill('SIGTERM');
});

describe('the examiner’s workspace in Chromium', () => {
  it('recovers when the launch URL is opened in a tab that shows the app without a token', async () => {
    await page.goto(serve.url + '/');
    await page.getByRole('button', { name: 'Cases', exact: true }).click();
    await expect.poll(() => page.getByRole('alert').first().textContent()).toContain('Missing or wrong API token');
    // Only the fragment changes: the page must pick the token up without a reload.
    await page.goto(serve.launchUrl);
    await page.getByTestId('status-line').filter({ hasText: 'http' }).waitFor();
    await expect.poll(() => page.getByRole('alert').count()).toBe(0);
  });

  it('says no case is open instead of asking the server with an empty case id', async () => {
    await page.getByRole('button', { name: 'Evidence', exact: true }).click();
    await page.getByText('No case is open').waitFor();
    await expect.poll(() => page.getByTestId('open-case').textContent()).toContain('No case open');
    expect(badResponses).toEqual([]);
  });

  it('creates a case; a blank case number is explained in a sentence, not validator text', async () => {
    await page.getByRole('button', { name: 'Cases', exact: true }).click();
    await page.getByLabel('Case number').fill('   ');
    await page.getByLabel('Title').fill('Seized phone');
    await page.getByLabel('Examiner', { exact: true }).fill(EXAMINER);
    await page.getByRole('button', { name: 'Create case' }).click();
    await expect.poll(() => page.getByRole('alert').first().locator('span').first().textContent()).toBe('The case number is required.');
    await page.getByLabel('Case number').fill('WS-2026-001');
    await page.getByRole('button', { name: 'Create case' }).click();
    await page.getByRole('heading', { name: 'Evidence', level: 2 }).waitFor();
    await expect.poll(() => page.getByTestId('open-case').textContent()).toContain('WS-2026-001');
    expect(await page.getByTestId('evidence-case').textContent()).toContain('WS-2026-001');
  });

  it('uploads three real images with the file picker and shows their thumbnails', async () => {
    await page.getByLabel('Choose evidence files').setInputFiles(IMAGES);
    await expect.poll(() => page.getByTestId('job-status').textContent(), { timeout: 60_000 }).toBe('Import finished: 3 files added.');
    await expect.poll(() => page.getByTestId('evidence-tile').count()).toBe(3);
    const thumbs = page.getByRole('img', { name: /^Thumbnail of / });
    await expect.poll(() => thumbs.count()).toBe(3);
    for (const t of await thumbs.all()) await expect.poll(() => t.evaluate((el) => (el as HTMLImageElement).naturalWidth)).toBeGreaterThan(0);
    // Nothing scrolls off a 1400 px window.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(1400);
    await screenshot('1-evidence-grid');
  });

  it('analyses the new evidence and shows verdicts with the decision threshold', async () => {
    await page.getByRole('button', { name: 'Analyze new evidence' }).click();
    await expect.poll(() => page.getByTestId('analysis-status').textContent(), { timeout: 120_000, interval: 500 }).toBe('Analysis finished: 3 verdicts recorded.');
    const verdicts = await page.locator('.tile-verdict .badge').allTextContents();
    expect(verdicts.length).toBe(3);
    for (const v of verdicts) expect(v).not.toBe('not analysed');
    expect(await page.getByTestId('threshold-note').textContent()).toMatch(/^Decision threshold: p\(synthetic\) ≥ 0\.\d+ \(default-mobilenet-v2\) reads synthetic$/);
  }, 180000);

  it('opens an item and shows all five explanations beside the original, non-blank', async () => {
    await page.getByRole('button', { name: `Open ${path.basename(IMAGES[0])}` }).click();
    await page.getByTestId('viewer').waitFor();
    await page.getByRole('button', { name: 'Explain with all five methods' }).click();
    // Panels fill in as each method finishes, before the job ends.
    await expect.poll(() => page.getByRole('img', { name: /heatmap$/ }).count(), { timeout: 240_000, interval: 500 }).toBeGreaterThanOrEqual(1);
    await expect.poll(() => page.getByTestId('explain-status').textContent(), { timeout: 300_000, interval: 1000 }).toMatch(/^(done|failed|cancelled)/);
    expect(await page.getByTestId('explain-status').textContent()).toBe('done: 5 computed, 0 reused from the record');
    expect(await imageSpread('[data-testid="panel-1"] img')).toBeGreaterThan(5);
    for (const label of METHOD_LABELS) {
      const img = page.getByRole('img', { name: `${label} heatmap` });
      await expect.poll(() => img.evaluate((el) => (el as HTMLImageElement).naturalWidth)).toBeGreaterThan(0);
      expect(await imageSpread(`img[alt="${label} heatmap"]`), `${label} heatmap is blank`).toBeGreaterThan(5);
    }
    // The verdict facts name the threshold, model, its sha256 and the provider.
    const facts = await page.getByTestId('verdict-facts').textContent();
    expect(facts).toMatch(/Threshold0\.\d+/);
    expect(facts).toContain('default-mobilenet-v2');
    expect(facts).toMatch(/[0-9a-f]{64}/);
    expect(facts).toContain('cpu');
    await screenshot('2-viewer-explanations');
  }, 420000);

  it('zooms and pans the original and every explanation panel by one shared transform', async () => {
    const before = await transforms();
    expect(before.length).toBe(6);
    expect(new Set(before).size).toBe(1);
    await page.getByRole('button', { name: 'Zoom in' }).click();
    const zoomed = await transforms();
    expect(new Set(zoomed).size).toBe(1);
    expect(zoomed[0]).not.toBe(before[0]);
    // The wheel over the original moves the others the same way.
    const box = (await page.getByTestId('panel-1').locator('.viewport').boundingBox())!;
    await page.mouse.move(box.x + box.width / 3, box.y + box.height / 3);
    await page.mouse.wheel(0, -300);
    await expect.poll(async () => (await transforms())[0]).not.toBe(zoomed[0]);
    const wheeled = await transforms();
    expect(new Set(wheeled).size).toBe(1);
    // Dragging an explanation panel pans all six.
    const lime = (await page.getByTestId('panel-6').locator('.viewport').boundingBox())!;
    await page.mouse.move(lime.x + 50, lime.y + 50);
    await page.mouse.down();
    await page.mouse.move(lime.x + 90, lime.y + 70, { steps: 4 });
    await page.mouse.up();
    const panned = await transforms();
    expect(new Set(panned).size).toBe(1);
    expect(panned[0]).not.toBe(wheeled[0]);
    const scale = (t: string | null) => Number(/scale\(([\d.]+)\)/.exec(t ?? '')![1]);
    expect(scale(panned[0])).toBeGreaterThan(scale(before[0]));
    await page.getByRole('button', { name: 'Fit' }).click();
    expect((await transforms())[0]).toBe(before[0]);
    // 1–6 focus a panel; + and − zoom from the keyboard.
    await page.keyboard.press('4');
    expect(await page.evaluate(() => document.activeElement?.closest('figure')?.getAttribute('data-testid'))).toBe('panel-4');
    await page.keyboard.press('+');
    const keyed = await transforms();
    expect(new Set(keyed).size).toBe(1);
    expect(scale(keyed[0])).toBeGreaterThan(scale(before[0]));
    await page.keyboard.press('0');
    expect((await transforms())[0]).toBe(before[0]);
  });

  it('changes the heatmap opacity in every panel', async () => {
    await page.getByLabel('Heatmap opacity').fill('0.35');
    const opacities = await page.locator('img.overlay').evaluateAll((els) => els.map((e) => (e as HTMLElement).style.opacity));
    expect(opacities).toEqual(['0.35', '0.35', '0.35', '0.35', '0.35']);
  });

  it('reuses the recorded explanations when asked again instead of adding duplicates', async () => {
    await page.getByRole('button', { name: 'Explain with all five methods' }).click();
    await expect.poll(() => page.getByTestId('explain-status').textContent(), { timeout: 60_000 }).toBe('done: 0 computed, 5 reused from the record');
  });

  it('recomputes one method with new parameters and leaves the others alone', async () => {
    await page.getByText('Per-method parameters').click();
    await page.getByLabel('ScoreCAM k').fill('8');
    await page.getByRole('button', { name: 'Recompute Faster ScoreCAM' }).click();
    await expect.poll(() => page.getByTestId('explain-status').textContent(), { timeout: 120_000, interval: 500 }).toBe('done: 1 computed, 0 reused from the record');
    await expect.poll(() => page.getByRole('group', { name: 'Faster ScoreCAM parameters' }).textContent()).toContain('topK 8');
    expect(await imageSpread('img[alt="Faster ScoreCAM heatmap"]')).toBeGreaterThan(5);
    await page.getByText('Per-method parameters').click();
  }, 180_000);

  it('saves a note in the examiner’s name and shows it in the item’s history', async () => {
    await page.getByLabel('New note').fill('Ear outline looks smeared;\ncompare with the seized original.');
    await page.getByRole('button', { name: 'Save note' }).click();
    await expect.poll(() => page.getByTestId('notes').textContent()).toContain('compare with the seized original.');
    expect(await page.getByTestId('notes').textContent()).toContain(EXAMINER);
    await expect.poll(() => page.getByTestId('history').textContent()).toContain('note: Ear outline looks smeared;');
    const history = await page.getByTestId('history').textContent();
    expect(history).toContain('ingested (uploaded; original path unknown)');
    expect(history).toMatch(/analysed: \w+, p\(synthetic\) 0\.\d{4}/);
    // Every entry is in the examiner's name, not the account the server runs under.
    if (os.userInfo().username !== EXAMINER) expect(history).not.toContain(os.userInfo().username);
    await screenshot('3-viewer-note-history');
    await page.keyboard.press('Escape');
    await expect.poll(() => page.getByTestId('viewer').count()).toBe(0);
  });

  it('shows the audit trail in the examiner’s name and verifies it', async () => {
    await page.getByRole('button', { name: 'Audit trail', exact: true }).click();
    const table = page.getByTestId('audit-table');
    await expect.poll(() => table.locator('tbody tr').count()).toBeGreaterThan(10);
    const actions = await table.locator('tbody tr td:nth-child(4)').allTextContents();
    // Five, plus the one ScoreCAM recomputed with k = 8; asking again added none.
    expect(actions.filter((a) => a === 'explanation.recorded').length).toBe(6);
    expect(actions).toContain('note.added');
    expect(new Set(await table.locator('tbody tr td:nth-child(3)').allTextContents())).toEqual(new Set([EXAMINER]));
    await page.getByRole('button', { name: 'Verify now' }).click();
    await expect.poll(() => page.getByTestId('verify-result').textContent(), { timeout: 60_000 }).toMatch(/^Verified .*: the chain of \d+ entries is intact and all 3 stored files match their hashes\./);
    const download = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Export CSV' }).click();
    const csv = fs.readFileSync((await (await download).path())!, 'utf8');
    expect(csv.split('\r\n')[0]).toBe('index,at,actor,action,details,prev_hash,hash');
    expect(csv).toContain('note.added');
    await screenshot('4-audit-trail');
  });

  it('gives a corrupt file, a zero-byte file and a duplicate their own messages and imports the rest', async () => {
    const bad = fs.mkdtempSync(path.join(os.tmpdir(), 'forensics-bad-upload-'));
    fs.writeFileSync(path.join(bad, 'corrupt.jpg'), Buffer.from('not a jpeg at all\n'.repeat(40)));
    fs.writeFileSync(path.join(bad, 'empty.png'), Buffer.alloc(0));
    // A PNG cut after 500 bytes: its header parses, its pixels do not. It is evidence all the same.
    fs.writeFileSync(path.join(bad, 'cut.png'), fs.readFileSync(IMAGES[0]).subarray(0, 500));
    const good = path.join(datasets, 'real', 'ResShift__RealSet65__dog1.jpeg');
    await page.getByRole('button', { name: 'Evidence', exact: true }).click();
    await page.getByLabel('Choose evidence files').setInputFiles([path.join(bad, 'corrupt.jpg'), path.join(bad, 'empty.png'), IMAGES[1], good, path.join(bad, 'cut.png')]);
    await expect.poll(() => page.getByTestId('job-status').textContent(), { timeout: 60_000 }).toBe('Import finished: 2 files added, 4 to look at below.');
    const messages = await page.getByTestId('import-messages').locator('li').allTextContents();
    expect(messages).toEqual(
      expect.arrayContaining([
        'corrupt.jpg is not an image this workstation can read.',
        'empty.png is empty (0 bytes); it was not added.',
        `${path.basename(IMAGES[1])} is a duplicate of ${path.basename(IMAGES[1])} already in this case; it was not added again.`,
      ]),
    );
    expect(messages.find((m) => m.startsWith('cut.png'))).toMatch(/^cut\.png was kept as evidence but its pixels cannot be decoded \((TRUNCATED|CORRUPT): .+\); it cannot be analysed\.$/);
    expect(messages.length).toBe(4);
    await expect.poll(() => page.getByTestId('evidence-tile').count()).toBe(5);
    await expect.poll(() => page.getByRole('gridcell', { name: /^cut\.png/ }).textContent()).toContain('unreadable');
    // Its analysis fails, and says so, in the list and on its tile (and in the audit chain: see the API test).
    await page.getByRole('button', { name: 'Analyze new evidence' }).click();
    await expect.poll(() => page.getByTestId('analysis-status').textContent(), { timeout: 120_000, interval: 500 }).toBe('Analysis finished: 1 verdict recorded, 1 could not be analysed.');
    expect(await page.getByTestId('analysis-messages').textContent()).toMatch(/^cut\.png could not be analysed: .*truncated/i);
    await expect.poll(() => page.getByRole('gridcell', { name: /^cut\.png/ }).textContent()).toContain('analysis failed');
    await screenshot('5-import-messages');
  }, 180_000);

  it('imports a file dropped on the grid', async () => {
    const file = path.join(datasets, 'real', 'DFDNet__TestWhole__test5.jpg');
    const b64 = fs.readFileSync(file).toString('base64');
    await page.getByTestId('evidence-grid').evaluate(
      (grid, { b64, name }) => {
        const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        const dt = new DataTransfer();
        dt.items.add(new File([bytes], name, { type: 'image/jpeg' }));
        grid.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
        grid.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
      },
      { b64, name: path.basename(file) },
    );
    await expect.poll(() => page.getByTestId('job-status').textContent(), { timeout: 60_000 }).toBe('Import finished: 1 file added.');
    await expect.poll(() => page.getByTestId('evidence-tile').count()).toBe(6);
  });

  it('moves in the grid with the arrows, opens with Enter, closes with Esc, and lists the shortcuts', async () => {
    await page.getByTestId('evidence-tile').first().focus();
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.getByTestId('viewer').getAttribute('aria-label')).toBe(`Viewer: ${path.basename(IMAGES[1])}`);
    await page.keyboard.press('Escape');
    await expect.poll(() => page.getByTestId('viewer').count()).toBe(0);
    await page.keyboard.press('?');
    await expect.poll(() => page.getByRole('dialog', { name: 'Keyboard shortcuts' }).textContent()).toContain('Focus a viewer panel');
    await page.keyboard.press('Escape');
    await expect.poll(() => page.getByRole('dialog').count()).toBe(0);
    await page.getByRole('button', { name: 'Cases', exact: true }).click();
    await expect.poll(() => page.getByTestId('cases').textContent()).toContain('WS-2026-001');
    await screenshot('0-cases');
    await page.getByRole('button', { name: 'Switch to the light theme' }).click();
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe('light');
    await screenshot('0-cases-light');
  });

  it('says the services cannot be reached, in a sentence, when the server is gone', async () => {
    serve.child.kill('SIGTERM');
    await new Promise((r) => serve.child.once('exit', r));
    await page.getByRole('button', { name: 'Edit case WS-2026-001' }).click();
    await page.getByRole('button', { name: 'Save changes' }).click();
    await expect.poll(() => page.getByRole('alert').first().locator('span').first().textContent()).toBe(
      'The forensic services cannot be reached. Is `npm run serve` still running?',
    );
    expect(badResponses).toEqual([]);
  });
});
