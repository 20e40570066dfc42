// The multi-crop input mode and the three-way verdict, on real images with the shipped default:
// a file's crops-mode score is the mean logit of its windows scored one by one, a 256×256 file is
// one window (the same score as the paper's resize), small files are enlarged to one window's side,
// and a card's inconclusive band turns the scores inside it into "inconclusive" verdicts.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAnalyzeCommand } from '../../electron/cli/analyze-command';
import { analyzeFiles, isAnalyzeFailure, type AnalyzeResult, type AnalyzeSuccess } from '../../electron/services/engine/analyze';
import { releaseDetectorSessions } from '../../electron/services/engine/detector-session';
import { ModelRegistry } from '../../electron/services/engine/model-registry';
import { aggregateCropScores, cropBoxes, decodeNativeCrops } from '../../electron/services/engine/multi-crop';
import { verdictFor } from '../../electron/services/engine/operating-point';
import { makeBadInputs } from '../fixtures/bad-inputs/make-bad-inputs';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const shared = path.resolve(repoRoot, '../shared/datasets');
const FILES = [
  'real/mate-backgrounds__Aqua.jpg', // large wallpaper
  'real/KAIR__real_faces__face_03.png', // small face crop, enlarged to a 256 short side
  'real/FUnIE-GAN__test_A__1.jpg', // 256×256: one window
  'synthetic/gan/PyTorch-GAN__bicyclegan__r0c1.png', // 128×128 tile
].map((f) => path.join(shared, f));

let work: string;
let dataDir: string;
let registry: ModelRegistry;

async function collectAll(inputs: string[], options: Partial<Parameters<typeof analyzeFiles>[1]> = {}): Promise<AnalyzeResult[]> {
  const out: AnalyzeResult[] = [];
  const it = analyzeFiles(inputs, { dataDir, repoRoot, registry, ...options });
  for (;;) {
    const r = await it.next();
    if (r.done) break;
    out.push(r.value);
  }
  return out;
}

async function collect(inputs: string[], options: Partial<Parameters<typeof analyzeFiles>[1]> = {}): Promise<AnalyzeSuccess[]> {
  const out = await collectAll(inputs, options);
  for (const r of out) expect(isAnalyzeFailure(r), JSON.stringify(r)).toBe(false);
  return out as AnalyzeSuccess[];
}

beforeAll(() => {
  for (const f of FILES) expect(fs.existsSync(f), f).toBe(true);
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'analyze-crops-'));
  dataDir = path.join(work, 'data');
  registry = new ModelRegistry({ dataDir, repoRoot });
});

afterAll(async () => {
  await releaseDetectorSessions();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe('multi-crop input', () => {
  it('scores a file as the mean logit of its native windows, each scored on its own', async () => {
    const crops = await collect(FILES, { inputMode: 'crops' });
    for (const [i, file] of FILES.entries()) {
      const c = await decodeNativeCrops(fs.readFileSync(file));
      expect(Math.min(c.width, c.height)).toBeGreaterThanOrEqual(256);
      expect(c.crops).toHaveLength(cropBoxes(c.width, c.height).length);
      expect(crops[i]).toMatchObject({ inputMode: 'crops', crops: c.crops.length });
      // Each window as its own 256×256 PNG through the paper's resize (an identity at 256).
      const windowFiles = await Promise.all(
        c.crops.map(async (crop, k) => {
          const f = path.join(work, `w${i}-${k}.png`);
          await sharp(Buffer.from(crop), { raw: { width: 256, height: 256, channels: 3 } }).png().toFile(f);
          return f;
        }),
      );
      const one = await collect(windowFiles, { inputMode: 'resize' });
      // Calibration is affine in the logit, so averaging calibrated logits is calibrating the average.
      expect(crops[i].pSynthetic).toBeCloseTo(aggregateCropScores(one.map((r) => r.pSynthetic), 'mean-logit'), 5);
    }
    const wallpaper = await decodeNativeCrops(fs.readFileSync(FILES[0]));
    expect(wallpaper.crops).toHaveLength(5);
    // The 256×256 file is one window: the same score as the resize mode.
    const resize = await collect([FILES[2]], { inputMode: 'resize' });
    expect(crops[2].crops).toBe(1);
    expect(crops[2].pSynthetic).toBeCloseTo(resize[0].pSynthetic, 5);
    expect(resize[0].inputMode).toBe('resize');
  });

  it('cuts windows at a chosen short side (the training scale) from large and small files alike, and refuses a bad one', async () => {
    for (const f of [FILES[0], FILES[3]]) {
      const c = await decodeNativeCrops(fs.readFileSync(f), {}, 5, 320);
      expect(Math.min(c.width, c.height)).toBe(320);
      const meta = await sharp(f).metadata();
      // The aspect ratio is kept (to a pixel of rounding).
      expect(Math.abs(Math.max(c.width, c.height) - Math.round((Math.max(meta.width!, meta.height!) / Math.min(meta.width!, meta.height!)) * 320))).toBeLessThanOrEqual(1);
      expect(c.crops.length).toBe(cropBoxes(c.width, c.height).length);
      for (const crop of c.crops) expect(crop.length).toBe(256 * 256 * 3);
    }
    await expect(decodeNativeCrops(fs.readFileSync(FILES[0]), {}, 5, 100)).rejects.toThrow(RangeError);
  });

  it('reports every bad input in crops mode with the code the resize mode gives', async () => {
    const badDir = path.join(work, 'bad-inputs');
    const cases = await makeBadInputs(badDir);
    const byName = new Map((await collectAll([badDir], { inputMode: 'crops', batchSize: 3 })).map((r) => [path.basename(r.path), r]));
    for (const c of cases) {
      const r = byName.get(c.file);
      expect(r, c.file).toBeDefined();
      expect(isAnalyzeFailure(r!) ? r.error.code : 'ok', c.file).toBe(c.expect);
    }
  });

  it('gives verdicts by the card\'s threshold and inconclusive band', async () => {
    const results = await collect(FILES);
    // The shipped default reads files the paper's way: the folds chose it over multi-crop.
    expect(results.every((r) => r.inputMode === 'resize')).toBe(true);
    const card = (await registry.resolve()).card as { threshold: number; inconclusiveBand?: { low: number; high: number } };
    for (const r of results) {
      expect(r.threshold).toBe(card.threshold);
      expect(r.verdict).toBe(verdictFor(r.pSynthetic, { threshold: card.threshold, band: card.inconclusiveBand }));
      expect(r.inconclusiveBand).toEqual(card.inconclusiveBand ? { low: card.inconclusiveBand.low, high: card.inconclusiveBand.high } : undefined);
    }
  });

  it('says "inconclusive" inside a band, in results and in the CLI\'s JSON lines', async () => {
    const shipped = await registry.resolve();
    await registry.register({
      detector: fs.readFileSync(shipped.detectorPath),
      card: { ...(shipped.card as Record<string, unknown>), id: 'wide-band', threshold: 0.9999, inconclusiveBand: { low: 0.0001, high: 0.9999 } } as never,
    });
    const results = await collect(FILES, { modelId: 'wide-band' });
    for (const r of results) expect(r.verdict).toBe(r.pSynthetic >= 0.9999 ? 'synthetic' : r.pSynthetic >= 0.0001 ? 'inconclusive' : 'real');
    expect(results.filter((r) => r.verdict === 'inconclusive').length).toBeGreaterThan(0);
    // An explicit threshold drops the band: two verdicts again.
    const overridden = await collect(FILES, { modelId: 'wide-band', threshold: 0.5 });
    for (const r of overridden) {
      expect(r.verdict).toBe(r.pSynthetic >= 0.5 ? 'synthetic' : 'real');
      expect(r.inconclusiveBand).toBeUndefined();
    }
    const lines: string[] = [];
    const code = await runAnalyzeCommand([FILES[0], FILES[2], '--json', '--model', 'wide-band', '--input-mode', 'resize'], {
      dataDir,
      json: true,
      print: (o) => lines.push(typeof o === 'string' ? o : JSON.stringify(o)),
      printError: () => {},
    });
    expect(code).toBe(0);
    const parsed = lines.map((l) => JSON.parse(l) as AnalyzeSuccess);
    expect(parsed).toHaveLength(2);
    for (const p of parsed) {
      expect(p.inputMode).toBe('resize');
      expect(p.inconclusiveBand).toEqual({ low: 0.0001, high: 0.9999 });
      expect(['inconclusive', 'real', 'synthetic']).toContain(p.verdict);
    }
    const bad: string[] = [];
    expect(await runAnalyzeCommand([FILES[0], '--input-mode', 'tiles'], { dataDir, json: false, print: () => {}, printError: (o) => bad.push(String(o)) })).toBe(2);
    expect(bad[0]).toMatch(/--input-mode must be resize or crops/);
  });
});
