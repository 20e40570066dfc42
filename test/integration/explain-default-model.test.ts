// The shipped default detector (built at install from the committed head) must be explainable by all
// five methods: its head sits on a mid-level feature map, so no deeper layer may be offered to LayerCAM.
import { describe, it, expect } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { runExplainCommand } from '../../electron/cli/explain-command';

const repoRoot = path.resolve(import.meta.dirname, '../..');
const photo = path.resolve(repoRoot, '../shared/datasets/real/Zelex-images__kodak__kodim05.png');

describe('explain with the shipped default detector', () => {
  it('writes all five overlays at the image aspect ratio with peaks inside the image', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'explain-default-'));
    const out = path.join(dataDir, 'out');
    const lines: any[] = [];
    const errors: unknown[] = [];
    const code = await runExplainCommand([photo, '--out', out], {
      dataDir,
      json: true,
      print: (o) => lines.push(o),
      printError: (o) => errors.push(o),
    });
    expect(errors).toEqual([]);
    expect(code).toBe(0);
    expect(lines.map((l) => l.method)).toEqual(['gradcam', 'ablationcam', 'layercam', 'scorecam', 'lime']);
    const { width, height } = await sharp(photo).metadata();
    for (const l of lines) {
      expect(l.peak.x).toBeGreaterThanOrEqual(0);
      expect(l.peak.x).toBeLessThan(width!);
      expect(l.peak.y).toBeLessThan(height!);
      const overlay = await sharp(l.map).metadata();
      expect(Math.abs(overlay.width! / overlay.height! - width! / height!)).toBeLessThan(0.02);
      // Computed in this run (a fresh data dir has no cache), so each line names its provider.
      expect(l).toMatchObject({ cached: false, provider: 'cpu' });
    }
  });

  it('refuses an execution provider it does not know, before any work', async () => {
    const errors: unknown[] = [];
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'explain-default-'));
    const out = path.join(dataDir, 'out');
    const code = await runExplainCommand([photo, '--out', out, '--provider', 'tpu'], {
      dataDir,
      json: true,
      print: () => undefined,
      printError: (o) => errors.push(o),
    });
    expect(code).toBe(2);
    expect(errors).toEqual([{ error: { code: 'USAGE', message: '--provider must be one of auto, cuda, dml, coreml, webgpu, cpu, got "tpu"' } }]);
    expect(fs.existsSync(out)).toBe(false);
  });
});
