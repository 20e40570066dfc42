import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { describe, it, expect } from 'vitest';
import { computePrCurve, computeRocCurve, computeAveragePrecision, computeRocAuc, MetricsInputError } from '../../electron/services/evaluation/metrics';
import { buildRocSvg, renderPrCurvePng, renderRocCurvePng } from '../../electron/services/evaluation/curve-images';

// A small but non-trivial scored set: 40 images, overlapping score ranges.
const labels = Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? 1 : 0));
const scores = labels.map((y, i) => (y === 1 ? 0.35 + ((i * 37) % 60) / 100 : 0.05 + ((i * 53) % 55) / 100));

async function pixelStats(png: Buffer) {
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  let curvePixels = 0;
  let darkPixels = 0;
  for (let i = 0; i < data.length; i += 3) {
    const [r, g, b] = [data[i], data[i + 1], data[i + 2]];
    if (b > 150 && r < 90 && g < 140) curvePixels++;
    if (r < 80 && g < 80 && b < 80) darkPixels++;
  }
  return { info, curvePixels, darkPixels };
}

describe('curve images', () => {
  it('renders a ROC curve PNG file of the requested size with axes, text and the curve', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'roc-png-'));
    const file = path.join(dir, 'roc.png');
    const auc = computeRocAuc(labels, scores);
    const out = await renderRocCurvePng(computeRocCurve(labels, scores), { file, width: 640, height: 560, auc, title: 'Test split' });
    expect(out.file).toBe(file);
    const meta = await sharp(fs.readFileSync(file)).metadata();
    expect(meta.format).toBe('png');
    expect([meta.width, meta.height]).toEqual([640, 560]);
    const stats = await pixelStats(out.png);
    expect(stats.info.channels).toBe(3);
    // The blue curve and the dark frame/text are both drawn: not a blank white image.
    expect(stats.curvePixels).toBeGreaterThan(500);
    expect(stats.darkPixels).toBeGreaterThan(1000);
    expect(fs.readdirSync(dir)).toEqual(['roc.png']);
    fs.rmSync(dir, { recursive: true, force: true });
    expect(buildRocSvg(computeRocCurve(labels, scores), { auc })).toContain(`AUC = ${auc!.toFixed(4)}`);
  });

  it('renders a PR curve PNG with AP in the title', async () => {
    const ap = computeAveragePrecision(labels, scores);
    const out = await renderPrCurvePng(computePrCurve(labels, scores), { width: 800, height: 600, ap, positiveRate: 0.5 });
    expect([out.width, out.height]).toEqual([800, 600]);
    expect(out.file).toBeUndefined();
    const stats = await pixelStats(out.png);
    expect(stats.curvePixels).toBeGreaterThan(500);
  });

  it('refuses points outside the unit square and silly sizes', async () => {
    await expect(renderRocCurvePng([{ fpr: 0, tpr: 0, threshold: 1 }, { fpr: 2, tpr: 1, threshold: 0 }])).rejects.toBeInstanceOf(MetricsInputError);
    await expect(renderRocCurvePng(computeRocCurve(labels, scores), { width: 10 })).rejects.toThrow(/width/);
  });
});
