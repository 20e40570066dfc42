// The shipped default reads each image with its mirror (its card's inference.mirror). A verdict and
// its explanations must then not depend on which way round the evidence is: the score of a mirrored
// file is the score of the file, and each feature-map explanation of the mirrored file is the
// explanation of the file, mirrored. The explainers' "decision" target compares the calibrated score
// with the card's threshold, as the verdict does.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { explainImage, resolveTarget } from '../../electron/services/explainers/explain-image';
import { prepareExplainInput } from '../../electron/services/explainers/explain-input';
import { openRegisteredModel, releaseExplainerSessions, type ExplainableRegisteredModel } from '../../electron/services/explainers/registered-model';
import { releaseDetectorSessions } from '../../electron/services/engine/detector-session';

const repoRoot = path.resolve(import.meta.dirname, '../..');
const photo = path.resolve(repoRoot, '../shared/datasets/real/Zelex-images__kodak__kodim05.png');

let opened: ExplainableRegisteredModel;
let dataDir: string;
beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'explain-mirrored-'));
  opened = await openRegisteredModel({ dataDir, repoRoot });
});
afterAll(async () => {
  await opened?.model.dispose();
  await releaseExplainerSessions();
  await releaseDetectorSessions();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe('the mirrored default detector', () => {
  it('gives a file and its mirror the same score, and mirrored feature-map explanations', async () => {
    expect(opened.model.mirrored).toBe(true);
    const bytes = fs.readFileSync(photo);
    const mirroredBytes = await sharp(bytes).flop().png().toBuffer();
    const options = { model: opened.model, normalisation: opened.normalisation, threshold: opened.threshold, calibration: opened.calibration, methods: ['gradcam', 'ablationcam', 'layercam'] as const };
    const a = await explainImage(await prepareExplainInput(bytes, { inputSize: opened.model.inputSize, normalisation: opened.normalisation }), { ...options, methods: [...options.methods] });
    const b = await explainImage(await prepareExplainInput(mirroredBytes, { inputSize: opened.model.inputSize, normalisation: opened.normalisation }), { ...options, methods: [...options.methods] });
    expect(Math.abs(a.pSynthetic - b.pSynthetic)).toBeLessThanOrEqual(1e-6);
    expect(b.target).toEqual(a.target);
    const { width } = (await sharp(bytes).metadata()) as { width: number };
    for (const [i, ra] of a.results.entries()) {
      const rb = b.results[i];
      expect(ra.params.views).toBe('image+mirror');
      // Two detector passes per method: the image and its mirror.
      expect(ra.forwardPasses).toBe(2);
      const { height: h, width: w, data } = ra.explanation.map;
      expect(ra.flat).toBe(false);
      let maxDiff = 0;
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) maxDiff = Math.max(maxDiff, Math.abs(data[y * w + x] - rb.explanation.map.data[y * w + (w - 1 - x)]));
      expect(maxDiff, ra.method).toBeLessThanOrEqual(1e-4);
      // The peak moves to the mirrored column (up to one map cell, where two cells tie).
      expect(Math.abs(rb.peak.x - (width - 1 - ra.peak.x)), ra.method).toBeLessThanOrEqual(Math.ceil(width / w));
    }
  });

  it('chooses the decision target on the calibrated score', async () => {
    const input = await prepareExplainInput(photo, { inputSize: opened.model.inputSize, normalisation: opened.normalisation });
    const raw = (await resolveTarget(opened.model, input, 'decision', 0.5)).pSynthetic;
    // A raw score just above the threshold stays below it once a calibration pulls every score down.
    const at = Math.max(raw - 1e-3, 1e-6);
    expect((await resolveTarget(opened.model, input, 'decision', at)).target.class).toBe('synthetic');
    expect((await resolveTarget(opened.model, input, 'decision', at, { method: 'platt', a: 1, b: -5 })).target.class).toBe('real');
    expect((await resolveTarget(opened.model, input, 'decision', 0.999, { method: 'platt', a: 1, b: 20 })).target.class).toBe('synthetic');
  });
});
