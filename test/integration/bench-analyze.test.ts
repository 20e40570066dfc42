// The analyze benchmark as a user runs it (`npm run bench -- analyze`), on the real MobileNetV2
// backbone and real 256×256 PNG and JPEG files, kept small. It checks what the table is made of
// (paired repeats, medians, the range around the median), never how fast anything was: timings
// belong to the benchmark, not to tests.
import { afterAll, describe, expect, it } from 'vitest';
import { runAnalyzeBench, type AnalyzeBenchRow } from '../../electron/cli/bench-analyze';
import { releaseDetectorSessions } from '../../electron/services/engine/detector-session';

afterAll(() => releaseDetectorSessions());

function capture() {
  const printed: unknown[] = [];
  const errors: unknown[] = [];
  return { io: { print: (o: unknown) => printed.push(o), printError: (o: unknown) => errors.push(o) }, printed, errors };
}

describe('npm run bench -- analyze', () => {
  it('prints one row per input format with paired-repeat medians of pipeline and raw session.run', async () => {
    const { io, printed, errors } = capture();
    const code = await runAnalyzeBench(['--backbones', 'mobilenet_v2', '--batches', '2', '--images', '4', '--repeats', '3', '--json'], io);
    expect(errors).toEqual([]);
    expect(code).toBe(0);
    const rows = printed as AnalyzeBenchRow[];
    expect(rows.map((r) => r.format)).toEqual(['png', 'jpeg']);
    for (const r of rows) {
      expect(r).toMatchObject({ backbone: 'mobilenet_v2', batch: 2, images: 4, repeats: 3, provider: 'cpu' });
      for (const v of [r.pipelineImagesPerSecond, r.rawImagesPerSecond, r.rawFloatImagesPerSecond, r.pipelineCpuMsPerImage, r.rawCpuMsPerImage]) {
        expect(v).toBeGreaterThan(0);
      }
      // The median of three paired ratios lies within their range.
      expect(r.ratioRange[0]).toBeLessThanOrEqual(r.ratio);
      expect(r.ratio).toBeLessThanOrEqual(r.ratioRange[1]);
      expect(r.ratio).toBeGreaterThan(0);
    }
  }, 120_000);

  it('refuses a bad option with its usage line and a non-zero status', async () => {
    const { io, errors } = capture();
    expect(await runAnalyzeBench(['--repeats', '0'], io)).toBe(2);
    expect(String(errors[0])).toMatch(/^Usage: npm run bench -- analyze/);
  });
});
