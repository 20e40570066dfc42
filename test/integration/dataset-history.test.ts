// Source-history matching on the whole of ../shared/datasets: without it, how much an item was
// enlarged and whether its source was a JPEG tell the classes apart before any pixel is looked at
// (the shortcut a detector learns instead of generation traces). With it, neither does.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { buildDataset, planDataset } from '../../electron/services/dataset/build-dataset';
import { parseDatasetArgs } from '../../electron/services/dataset/dataset-command';
import { computeRocAuc } from '../../electron/services/evaluation/metrics';
import fs from 'node:fs';
import os from 'node:os';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const sourcesDir = path.resolve(repoRoot, '../shared/datasets');

type Planned = Awaited<ReturnType<typeof planDataset>>['items'][number];

const nativeSide = (i: Planned) => i.history?.nativeShortSide ?? Math.min(i.sourceWidth, i.sourceHeight);
const enlargement = (i: Planned) => i.resize.shortSide / nativeSide(i);
const jpegHistory = (i: Planned) => (/\.jpe?g$/i.test(i.originalPath) || i.history?.jpegQuality ? 1 : 0);
const aucOf = (items: Planned[], score: (i: Planned) => number) =>
  computeRocAuc(
    items.map((i) => i.target),
    items.map(score),
  ) as number;

describe('source-history matching (dataset pipeline 2)', () => {
  it('takes away the enlargement and JPEG cues that separate the unmatched classes', async () => {
    const unmatched = (await planDataset({ sourcesDir, outDir: '/nonexistent-out', seed: 1, matchSourceHistory: false })).items;
    const matched = (await planDataset({ sourcesDir, outDir: '/nonexistent-out', seed: 1 })).items;
    expect(matched.length).toBe(unmatched.length);

    // Unmatched: enlargement alone ranks synthetic above real most of the time; JPEG history the other way.
    // The premise: without matching, enlargement alone separates the classes well above chance
    // (0.81 on the 836-image set, 0.74 on the 1,519-image one), and JPEG history the other way (0.22, 0.30).
    expect(aucOf(unmatched, enlargement)).toBeGreaterThan(0.7);
    expect(aucOf(unmatched, jpegHistory)).toBeLessThan(0.35);
    // Matched: both cues are close to chance.
    expect(Math.abs(aucOf(matched, enlargement) - 0.5)).toBeLessThan(0.08);
    expect(Math.abs(aucOf(matched, jpegHistory) - 0.5)).toBeLessThan(0.1);

    // Native sizes are only ever reduced, to a size some source of the other class has.
    const sidesOf = (label: string) => new Set(unmatched.filter((i) => i.label === label).map((i) => Math.min(i.sourceWidth, i.sourceHeight)));
    for (const item of matched) {
      const side = item.history?.nativeShortSide;
      if (side === null || side === undefined) continue;
      expect(side).toBeLessThan(Math.min(item.sourceWidth, item.sourceHeight));
      expect(sidesOf(item.label === 'real' ? 'synthetic' : 'real').has(side)).toBe(true);
    }
    // JPEG history is added only to sources that are not JPEG already.
    for (const item of matched) if (item.history?.jpegQuality) expect(/\.jpe?g$/i.test(item.originalPath)).toBe(false);
    // Splits and crops do not move when matching is switched on (its draws come last).
    expect(matched.map((i) => [i.split, i.originalPath, i.crop.left, i.crop.top, i.resize.shortSide])).toEqual(
      unmatched.map((i) => [i.split, i.originalPath, i.crop.left, i.crop.top, i.resize.shortSide]),
    );
  });

  it('renders a matched item from the reduced, JPEG-encoded source', async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'dataset-history-'));
    try {
      const built = await buildDataset({ sourcesDir, outDir: out, seed: 3, limitPerGenerator: 1, limitReal: 12 });
      const reduced = built.manifest.items.filter((i) => i.history?.nativeShortSide);
      expect(reduced.length).toBeGreaterThan(0);
      for (const item of built.manifest.items) {
        const meta = await sharp(path.join(out, item.file)).metadata();
        expect([meta.width, meta.height, meta.channels]).toEqual([256, 256, 3]);
      }
      // The same plan without its history gives different pixels: the history was applied.
      const item = reduced[0];
      const plain = await buildDataset({ sourcesDir, outDir: path.join(out, 'plain'), seed: 3, limitPerGenerator: 1, limitReal: 12, matchSourceHistory: false });
      const twin = plain.manifest.items.find((i) => i.originalPath === item.originalPath && i.cropIndex === item.cropIndex);
      expect(twin).toBeDefined();
      expect(twin?.sha256).not.toBe(item.sha256);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });

  it('gives each synthetic file several crops, in one split, with their own draws, when asked', async () => {
    const items = (await planDataset({ sourcesDir, outDir: '/nonexistent-out', seed: 1, cropsPerSyntheticImage: 3, maxCropsPerRealImage: 16 })).items;
    const synthetic = items.filter((i) => i.label === 'synthetic');
    const bySource = new Map<string, typeof synthetic>();
    for (const i of synthetic) bySource.set(i.originalPath, [...(bySource.get(i.originalPath) ?? []), i]);
    expect([...bySource.values()].every((list) => list.length === 3)).toBe(true);
    for (const list of bySource.values()) {
      expect(new Set(list.map((i) => i.split)).size).toBe(1);
      expect(new Set(list.map((i) => i.id)).size).toBe(3);
    }
    // Real crops balance the synthetic ones in every split (within the per-photo caps).
    for (const split of ['train', 'val', 'test'] as const) {
      const real = items.filter((i) => i.split === split && i.label === 'real').length;
      const synth = items.filter((i) => i.split === split && i.label === 'synthetic').length;
      expect(Math.abs(real - synth) / synth).toBeLessThan(0.05);
    }
    expect(parseDatasetArgs(['--sources', 's', '--out', 'o', '--crops-per-synthetic', '3', '--no-history-matching'])).toMatchObject({
      options: { cropsPerSyntheticImage: 3, matchSourceHistory: false },
    });
    await expect(planDataset({ sourcesDir, outDir: '/nonexistent-out', seed: 1, cropsPerSyntheticImage: 0 })).rejects.toMatchObject({ code: 'BAD_OPTIONS' });
  });
});
