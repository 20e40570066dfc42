// The split plan over the whole shared dataset (no pixels written): sources and README groups never
// cross splits, every split has both classes in balance, and the plan is a function of the seed.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { planDataset, type DatasetPlan } from '../../electron/services/dataset/build-dataset';
import { DatasetBuildError } from '../../electron/services/dataset/dataset-errors';
import {
  parseSourceManifest,
  REAL_SOURCES,
  realSourceOf,
  SOURCE_GROUPS,
  sourceKeyOf,
  sourceGroupOf,
  unmatchedGroupMembers,
} from '../../electron/services/dataset/source-manifest';
import { allocateRealCrops } from '../../electron/services/dataset/split-plan';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const sourcesDir = path.resolve(repoRoot, '../shared/datasets');
const outDir = path.join(repoRoot, 'never-written-by-plan');

function splitsBy(plan: DatasetPlan, key: (item: DatasetPlan['items'][number]) => string): Map<string, Set<string>> {
  const map = new Map<string, Set<string>>();
  for (const item of plan.items) {
    const k = key(item);
    map.set(k, (map.get(k) ?? new Set()).add(item.split));
  }
  return map;
}

describe('dataset split plan on ../shared/datasets', () => {
  let plan: DatasetPlan;
  beforeAll(async () => {
    plan = await planDataset({ sourcesDir, outDir, seed: 11 });
  });

  it('matches every README group member to a manifest row', () => {
    const rows = parseSourceManifest(fs.readFileSync(path.join(sourcesDir, 'MANIFEST.csv'), 'utf8'));
    expect(rows).toHaveLength(1519);
    expect(unmatchedGroupMembers(rows)).toEqual([]);
  });

  it('keeps identities, crops of one photo, sequences and one model\'s seeds in one split', () => {
    const splitsOf = (re: RegExp) => new Set(plan.items.filter((i) => re.test(i.sourceKey)).map((i) => i.split));
    const together: Array<[string, RegExp, number]> = [
      ['deepface celebrities with facenet, InstantID musk and PhotoMaker scarlett', /serengil\/deepface@|facenet-pytorch@|InstantID@.*musk_resize|PhotoMaker@.*scarlett/, 48],
      ['face_recognition identities', /ageitgey\/face_recognition@/, 19],
      ['Solvay 1927 crops and photo', /Solvay_conference_1927/, 3],
      ['GoPro sequences', /HINet@.*GOPR0384|DeblurGANv2@.*000027/, 2],
      ['SICE 0-199', /Zero-DCE_extension@.*train_data\/(7|57|107|157|32|112|192)\.jpg$/, 7],
      ['StyleGAN2 config-e and config-f seeds', /awesome-pretrained-stylegan2@.*FFHQ config-[ef]\)\//, 2],
      ['Obama StyleGAN2 models', /awesome-pretrained-stylegan2@.*obama|low-shot-comparison/, 2],
      ['ComfyUI prompts', /ComfyUI_examples@/, 18],
      ['LoRA Kiriko', /cloneofsimo\/lora@.*(lora_pti_example|lora_with_clip_4x4|lora_some_tweaks|lora_just_)/, 5],
      ['YOLOP dash-cam', /hustvl\/YOLOP@/, 6],
    ];
    for (const [name, re, sources] of together) {
      expect(new Set(plan.items.filter((i) => re.test(i.sourceKey)).map((i) => i.sourceKey)).size, name).toBe(sources);
      expect(splitsOf(re).size, name).toBe(1);
    }
  });

  it('puts every real photograph in a named collection for leave-one-real-source-out', () => {
    const rows = parseSourceManifest(fs.readFileSync(path.join(sourcesDir, 'MANIFEST.csv'), 'utf8')).filter((r) => r.label === 'real');
    const counts: Record<string, number> = {};
    for (const r of rows) {
      const s = realSourceOf(sourceKeyOf(r.source));
      counts[s] = (counts[s] ?? 0) + 1;
    }
    expect(counts).toEqual({ 'debian-photos': 41, wallpapers: 25, 'kodak-cbsd68': 92, 'sun-hays': 80, 'low-light': 132, faces: 156, degraded: 83, everyday: 134 });
    expect(Object.keys(counts).sort()).toEqual([...REAL_SOURCES].sort());
  });

  it('never puts one source in two splits', () => {
    const crossing = [...splitsBy(plan, (i) => i.sourceKey)].filter(([, splits]) => splits.size > 1);
    expect(crossing).toEqual([]);
  });

  it('keeps every README group in one split', () => {
    const bySplitUnit = splitsBy(plan, (i) => sourceGroupOf(i.sourceKey)?.name ?? `source:${i.sourceKey}`);
    for (const group of SOURCE_GROUPS) {
      const splits = bySplitUnit.get(group.name);
      expect(splits, group.name).toBeDefined();
      expect(splits!.size, group.name).toBe(1);
    }
    // The DICM exposure triple is three sources that must land together.
    const dicm = plan.items.filter((i) => /DICM\/1[234]\.jpg$/.test(i.sourceKey));
    expect(new Set(dicm.map((i) => i.sourceKey)).size).toBe(3);
    expect(new Set(dicm.map((i) => i.split)).size).toBe(1);
  });

  it('gives every split both classes, roughly balanced, with generator-balanced weights', () => {
    const syntheticRows = plan.rows.filter((r) => r.label === 'synthetic').length;
    expect(plan.items.filter((i) => i.label === 'synthetic')).toHaveLength(syntheticRows);
    for (const split of ['train', 'val', 'test'] as const) {
      const items = plan.items.filter((i) => i.split === split);
      const real = items.filter((i) => i.label === 'real');
      const synthetic = items.filter((i) => i.label === 'synthetic');
      expect(real.length, split).toBeGreaterThan(20);
      expect(synthetic.length, split).toBeGreaterThan(20);
      expect(real.length / synthetic.length, split).toBeGreaterThan(0.8);
      expect(real.length / synthetic.length, split).toBeLessThan(1.25);
      // Each generator's weights add up to the same total; real and synthetic totals are equal.
      const totals = new Map<string, number>();
      for (const i of synthetic) totals.set(i.generator, (totals.get(i.generator) ?? 0) + i.sampleWeight);
      const values = [...totals.values()];
      for (const v of values) expect(v).toBeCloseTo(values[0], 9);
      const realTotal = real.reduce((s, i) => s + i.sampleWeight, 0);
      expect(realTotal).toBeCloseTo(items.length / 2, 6);
      expect(values.reduce((s, v) => s + v, 0)).toBeCloseTo(items.length / 2, 6);
    }
    // The shared set is mostly sheets of one generator; still, val and test must hold several.
    const generatorsIn = (split: string) => new Set(plan.items.filter((i) => i.split === split && i.label === 'synthetic').map((i) => i.generator)).size;
    expect(generatorsIn('val')).toBeGreaterThanOrEqual(5);
    expect(generatorsIn('test')).toBeGreaterThanOrEqual(5);
  });

  it('gives large photos more crops, one pipeline for both classes', () => {
    const cropsPerSource = new Map<string, { n: number; area: number; label: string }>();
    for (const i of plan.items) {
      const c = cropsPerSource.get(i.originalPath) ?? { n: 0, area: i.sourceWidth * i.sourceHeight, label: i.label };
      c.n++;
      cropsPerSource.set(i.originalPath, c);
    }
    const real = [...cropsPerSource.values()].filter((c) => c.label === 'real');
    const big = real.filter((c) => c.area > 1500 * 1000);
    const small = real.filter((c) => c.area < 500 * 400);
    const mean = (xs: { n: number }[]) => xs.reduce((s, c) => s + c.n, 0) / xs.length;
    expect(mean(big)).toBeGreaterThan(mean(small));
    expect([...cropsPerSource.values()].filter((c) => c.label === 'synthetic').every((c) => c.n === 1)).toBe(true);
    // Same short-side range and the same augmentation rates for both classes.
    for (const label of ['real', 'synthetic']) {
      const items = plan.items.filter((i) => i.label === label);
      expect(items.every((i) => i.resize.shortSide >= 256 && i.resize.shortSide <= 384)).toBe(true);
      const jpegRate = items.filter((i) => i.augmentation.jpegQuality !== null).length / items.length;
      expect(jpegRate, label).toBeGreaterThan(0.4);
      expect(jpegRate, label).toBeLessThan(0.6);
    }
  });

  it('is a function of the seed', async () => {
    const again = await planDataset({ sourcesDir, outDir, seed: 11 });
    expect(again.items).toEqual(plan.items);
    const other = await planDataset({ sourcesDir, outDir, seed: 12 });
    expect(other.items.map((i) => i.id)).not.toEqual(plan.items.map((i) => i.id));
    expect(fs.existsSync(outDir)).toBe(false);
  });

  it('shares real crops by size within caps', () => {
    const photo = (w: number, h: number) => ({ row: {} as never, width: w, height: h });
    const photos = [photo(2048, 1536), photo(481, 321), photo(200, 200)];
    // sqrt(area) shares of 9: 6.75, 1.49, 0.76 → floors 6, 1, 1 (at least one each), the spare one to the largest remainder.
    expect(allocateRealCrops(photos, 9, 8)).toEqual([7, 1, 1]);
    // Caps: 8 at most, 481×321 about one per 256×256 of area (2), 200×200 exactly 1; the total falls short.
    expect(allocateRealCrops(photos, 12, 8)).toEqual([8, 2, 1]);
    expect(allocateRealCrops([photo(2048, 1536)], 30, 8)).toEqual([8]);
  });

  it('rejects bad options and a missing manifest with typed errors', async () => {
    await expect(planDataset({ sourcesDir, outDir, seed: -1 })).rejects.toMatchObject({ code: 'BAD_OPTIONS' });
    await expect(planDataset({ sourcesDir, outDir, seed: 1, fractions: { val: 0.6, test: 0.6 } })).rejects.toMatchObject({ code: 'BAD_OPTIONS' });
    await expect(planDataset({ sourcesDir: path.join(sourcesDir, 'real'), outDir, seed: 1 })).rejects.toBeInstanceOf(DatasetBuildError);
    await expect(planDataset({ sourcesDir: path.join(sourcesDir, 'real'), outDir, seed: 1 })).rejects.toMatchObject({ code: 'SOURCES_NOT_FOUND' });
    expect(() => parseSourceManifest('path,label\nx,y\n')).toThrow(/header/);
  });
});
