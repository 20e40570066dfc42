// Builds a subset of ../shared/datasets for real (sharp, PNG files on disk) and checks the result.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDataset, type BuildDatasetOptions, type BuildDatasetResult } from '../../electron/services/dataset/build-dataset';
import { runDatasetCommand } from '../../electron/services/dataset/dataset-command';
import { readDatasetManifest } from '../../electron/services/dataset/dataset-manifest';
import { listHoldoutGroups, makeHoldoutSplit } from '../../electron/services/dataset/holdout-splits';
import { sourceGroupOf } from '../../electron/services/dataset/source-manifest';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const sourcesDir = path.resolve(repoRoot, '../shared/datasets');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dataset-build-'));
const subset = { limitPerGenerator: 2, limitReal: 24 } satisfies Partial<BuildDatasetOptions>;
const dirA = path.join(tmp, 'a');
const dirB = path.join(tmp, 'b');

const sha256 = (buf: Buffer) => createHash('sha256').update(buf).digest('hex');

describe('buildDataset on a subset of ../shared/datasets', () => {
  let first: BuildDatasetResult;
  let second: BuildDatasetResult;
  beforeAll(async () => {
    first = await buildDataset({ sourcesDir, outDir: dirA, seed: 5, ...subset });
    second = await buildDataset({ sourcesDir, outDir: dirB, seed: 5, ...subset });
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('writes every listed item as a 256×256 8-bit RGB PNG with the recorded hash', async () => {
    const manifest = await readDatasetManifest(dirA);
    expect(manifest.items.length).toBe(first.items);
    expect(first.written).toBe(first.items);
    for (const item of manifest.items) {
      expect(item.file).toBe(`images/${item.split}/${item.id}.png`);
      const bytes = fs.readFileSync(path.join(dirA, item.file));
      expect(sha256(bytes)).toBe(item.sha256);
      const meta = await sharp(bytes).metadata();
      expect([meta.format, meta.width, meta.height, meta.channels, meta.depth]).toEqual(['png', 256, 256, 3, 'uchar']);
    }
    // Not blank: a real photo crop has texture.
    const realItem = manifest.items.find((i) => i.label === 'real')!;
    const stats = await sharp(path.join(dirA, realItem.file)).stats();
    expect(Math.max(...stats.channels.map((c) => c.stdev))).toBeGreaterThan(5);
  });

  it('keeps sources and README groups in one split and both classes in every split', () => {
    const items = first.manifest.items;
    const splitsOf = (key: (i: (typeof items)[number]) => string) => {
      const map = new Map<string, Set<string>>();
      for (const i of items) map.set(key(i), (map.get(key(i)) ?? new Set()).add(i.split));
      return [...map.values()];
    };
    expect(splitsOf((i) => i.sourceKey).every((s) => s.size === 1)).toBe(true);
    expect(splitsOf((i) => sourceGroupOf(i.sourceKey)?.name ?? i.sourceKey).every((s) => s.size === 1)).toBe(true);
    expect(splitsOf((i) => i.splitUnit).every((s) => s.size === 1)).toBe(true);
    for (const split of ['train', 'val', 'test'] as const) {
      expect(first.counts[split].real, split).toBeGreaterThan(0);
      expect(first.counts[split].synthetic, split).toBeGreaterThan(0);
      expect(first.counts[split].real).toBeGreaterThanOrEqual(Math.min(first.counts[split].synthetic, 24 * 0.5));
    }
    // The subset honours its limits.
    const perGenerator = new Map<string, number>();
    for (const i of items.filter((x) => x.label === 'synthetic')) perGenerator.set(i.generator, (perGenerator.get(i.generator) ?? 0) + 1);
    expect(Math.max(...perGenerator.values())).toBeLessThanOrEqual(2);
    expect(new Set(items.filter((x) => x.label === 'real').map((x) => x.originalPath)).size).toBeLessThanOrEqual(24);
  });

  it('is deterministic: the same seed gives the same manifest and the same pixels', () => {
    expect(fs.readFileSync(path.join(dirB, 'manifest.json'), 'utf8')).toBe(fs.readFileSync(path.join(dirA, 'manifest.json'), 'utf8'));
    expect(second.manifest.items.map((i) => i.sha256)).toEqual(first.manifest.items.map((i) => i.sha256));
  });

  it('reuses existing files on a re-run and cleans up after an interrupted one', async () => {
    const item = first.manifest.items[0];
    const file = path.join(dirA, item.file);
    const before = fs.statSync(file).mtimeMs;
    const leftover = path.join(dirA, 'images', 'train', `.${item.id}.png.999.dead.tmp`);
    fs.writeFileSync(leftover, 'half a file');
    // A file that an earlier run filed under another split is moved, not re-rendered.
    const moved = first.manifest.items.find((i) => i.split === 'test')!;
    fs.renameSync(path.join(dirA, moved.file), path.join(dirA, 'images', 'val', `${moved.id}.png`));
    const again = await buildDataset({ sourcesDir, outDir: dirA, seed: 5, ...subset });
    expect(again.written).toBe(0);
    expect(again.reused).toBe(first.items);
    expect(fs.statSync(file).mtimeMs).toBe(before);
    expect(fs.existsSync(leftover)).toBe(false);
    expect(fs.existsSync(path.join(dirA, moved.file))).toBe(true);
    expect(again.manifest).toEqual(first.manifest);
  });

  it('makes leave-one-generator-out and leave-one-modality-out splits', () => {
    const items = first.manifest.items;
    const groups = listHoldoutGroups(items);
    expect(groups.modalities.map((m) => m.name)).toEqual(['diffusion', 'gan', 'gan-i2i', 'gan-t2i']);
    expect(groups.generators.length).toBeGreaterThan(30);
    const gen = makeHoldoutSplit(items, { generator: 'stylegan-ffhq' });
    expect(gen.test.filter((i) => i.generator === 'stylegan-ffhq')).toHaveLength(items.filter((i) => i.generator === 'stylegan-ffhq').length);
    expect([...gen.train, ...gen.val].some((i) => i.generator === 'stylegan-ffhq')).toBe(false);
    expect(gen.test.some((i) => i.label === 'real')).toBe(true);
    expect(gen.test.filter((i) => i.label === 'synthetic').every((i) => i.generator === 'stylegan-ffhq')).toBe(true);
    const mod = makeHoldoutSplit(items, { modality: 'gan-i2i' });
    expect([...mod.train, ...mod.val].some((i) => i.modality === 'gan-i2i')).toBe(false);
    expect(mod.test.filter((i) => i.label === 'synthetic').every((i) => i.modality === 'gan-i2i')).toBe(true);
    expect(mod.train.length + mod.val.length + mod.test.length + mod.excluded.length).toBe(items.length);
    // Weights are recomputed for the new splits: real and synthetic halves of the test set.
    const realWeight = mod.test.filter((i) => i.label === 'real').reduce((s, i) => s + i.sampleWeight, 0);
    expect(realWeight).toBeCloseTo(mod.test.length / 2, 6);
    expect(() => makeHoldoutSplit(items, { generator: 'no-such-generator' })).toThrow(/no-such-generator/);
  });

  it('runs as a command with --json and reports typed errors', async () => {
    const printed: unknown[] = [];
    const io = { print: (o: unknown) => printed.push(o), json: false };
    const code = await runDatasetCommand(
      ['--sources', sourcesDir, '--out', dirA, '--seed', '5', '--limit-per-generator', '2', '--limit-real=24', '--json'],
      io,
    );
    expect(code).toBe(0);
    expect(printed).toHaveLength(1);
    expect(printed[0]).toMatchObject({ items: first.items, written: 0, reused: first.items, seed: 5 });

    printed.length = 0;
    expect(await runDatasetCommand(['--out', dirA], { ...io, json: true })).toBe(2);
    expect(printed[0]).toMatchObject({ error: { code: 'USAGE' } });

    printed.length = 0;
    expect(await runDatasetCommand(['--sources', path.join(tmp, 'missing'), '--out', path.join(tmp, 'c')], io)).toBe(1);
    expect(String(printed[0])).toMatch(/SOURCES_NOT_FOUND/);
  });

  it('stops with CANCELLED when its signal is aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(buildDataset({ sourcesDir, outDir: path.join(tmp, 'cancelled'), seed: 5, ...subset, signal: controller.signal })).rejects.toMatchObject({
      code: 'CANCELLED',
    });
  });
});
