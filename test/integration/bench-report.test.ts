// The report benchmark as a user runs it (`npm run bench -- report`), kept small: two real items analysed
// and explained (LIME with few samples). It checks what the result is made of, never how fast it was.
import { describe, expect, it } from 'vitest';
import { runReportBench } from '../../electron/cli/bench-report';

function capture() {
  const printed: unknown[] = [];
  const errors: unknown[] = [];
  return { io: { print: (o: unknown) => printed.push(o), printError: (o: unknown) => errors.push(o) }, printed, errors };
}

describe('npm run bench -- report', () => {
  it('prints the full export time, the bound with pre-encoded images, and their ratio', async () => {
    const { io, printed } = capture();
    expect(await runReportBench(['--evidence', '2', '--lime-samples', '8', '--repeats', '1'], io)).toBe(0);
    const [row] = printed as Array<Record<string, number> & { parts: Record<string, number> }>;
    expect(row).toMatchObject({ bench: 'report', evidence: 2, explanationsPerItem: 5, limeSamples: 8, repeats: 1 });
    expect(row.pages).toBeGreaterThanOrEqual(6);
    expect(row.fullSeconds).toBeGreaterThan(0);
    expect(row.boundSeconds).toBeGreaterThan(0);
    expect(row.ratio).toBeCloseTo(row.fullSeconds / row.boundSeconds, 1);
    const parts = row.parts.collectAndVerifySeconds + row.parts.layoutWithImagesAndWriteSeconds;
    expect(parts).toBeCloseTo(row.fullSeconds, 1);
    expect(row.imagesAloneSeconds).toBeGreaterThan(0);
  }, 180_000);

  it('refuses a bad option with its usage line', async () => {
    const { io, errors } = capture();
    expect(await runReportBench(['--evidence', '0'], io)).toBe(2);
    expect(String(errors[0])).toMatch(/^Usage: npm run bench -- report/);
  });
});
