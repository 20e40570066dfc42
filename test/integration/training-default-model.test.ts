// The shipped default: the committed head fused with the backbone rebuilt at install must reproduce
// the detector its model card certifies, byte for byte, and score real images.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { findRepoRoot } from '../../electron/services/app/app-info';
import { decodeToPaperRgb, toModelInput, parseNormalisation } from '../../electron/services/engine/preprocess';
import { buildDefaultDetector } from '../../models/default/build-default-detector';

const repoRoot = findRepoRoot();
const card = JSON.parse(fs.readFileSync(path.join(repoRoot, 'models/default/model-card.json'), 'utf8'));
const backboneBuilt = fs.existsSync(path.join(repoRoot, 'models/backbones', `${card.backbone.name}.onnx`));

describe.skipIf(!backboneBuilt)('shipped default detector', () => {
  it('is recreated from the committed head with the sha256 its card certifies, and separates a real photo from a GAN tile', async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'default-detector-'));
    try {
      const out = path.join(tmp, 'default-detector.onnx');
      const r = buildDefaultDetector({ force: true, outFile: out });
      expect(r.sha256).toBe(card.sha256);
      expect(crypto.createHash('sha256').update(fs.readFileSync(out)).digest('hex')).toBe(card.sha256);
      // The operating point comes from held-out real collections, not the random validation split.
      expect(card.thresholdSelection.chosenOn).toMatch(/held-out real collections/);
      expect(card.thresholdSelection.targetFpr).toBeLessThanOrEqual(0.05);
      expect(card.inconclusiveBand.high).toBe(card.threshold);
      expect(card.inconclusiveBand.low).toBeLessThanOrEqual(card.threshold);
      expect(card.calibration.method).toBe('platt');
      expect(card.metrics.crossedHoldOut.folds.length).toBeGreaterThanOrEqual(16);
      expect(card.metrics.crossedHoldOut.byGenerator.length).toBeGreaterThan(30);
      expect(card.metrics.crossedHoldOut.byRealSource.length).toBe(8);
      const session = await ort.InferenceSession.create(out);
      const shared = path.resolve(repoRoot, '../shared/datasets');
      const manifest = fs.readFileSync(path.join(shared, 'MANIFEST.csv'), 'utf8').split('\n');
      const pick = (pred: (cols: string[]) => boolean) => path.join(shared, manifest.map((l) => l.split(',')).find(pred)![0].split('#')[0]);
      const inputs = [pick((c) => c[0].includes('skimage__chelsea')), pick((c) => c[3] === 'stylegan-ffhq')];
      const size = card.backbone.inputSize as number;
      const x = new Float32Array(inputs.length * size * size * 3);
      for (const [i, f] of inputs.entries()) {
        toModelInput((await decodeToPaperRgb(f)).data, { inputSize: size, normalisation: parseNormalisation(card.backbone.normalisation) }, x, i * size * size * 3);
      }
      const res = await session.run({ image: new ort.Tensor('float32', x, [inputs.length, size, size, 3]) });
      const p = Array.from(res.p_synthetic.data as Float32Array);
      expect(p.every((v) => v >= 0 && v <= 1)).toBe(true);
      // A StyleGAN face (every face generator scored LOGO ROC-AUC 1.0) against a photograph of a cat.
      expect(p[1]).toBeGreaterThan(p[0]);
      expect(res.features.dims.slice(1)).toEqual(card.backbone.featureShape);
      await session.release();
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
