// `npm run cli -- inspect`: the real CLI entry on real fixture files, JSON and text, views written
// atomically, a missing file and a usage error with their exit codes.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot, tsxBin } from '../support/serve-process';

const cli = (args: string[]) => spawnSync(tsxBin, [path.join(repoRoot, 'electron/cli/cli-main.ts'), ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 300_000 });
const FIX = path.resolve(repoRoot, '../shared/fixtures/provenance');

describe('cli inspect', () => {
  it('prints one JSON report per file and writes the three views', () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'inspect-cli-'));
    const out = path.join(dataDir, 'views');
    const files = ['sd-parsers__automatic1111_cropped.png', 'c2pa-rs__XCA.jpg', 'exif-samples__gps_DSCN0010.jpg'].map((f) => path.join(FIX, f));
    const r = cli(['inspect', ...files, '--json', '--out', out, '--data-dir', dataDir]);
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.path)).toEqual(files);
    expect(lines[0].finding.conclusion).toBe('synthetic');
    expect(lines[0].signatures[0].generator).toMatch(/AUTOMATIC1111/);
    expect(lines[1].c2pa).toMatchObject({ state: 'invalid', failures: expect.arrayContaining(['assertion.dataHash.mismatch']) });
    expect(lines[2].metadata.gps.latitude).toBeCloseTo(43.4675, 3);
    const written = fs.readdirSync(out).sort();
    expect(written).toEqual(
      expect.arrayContaining(['c2pa-rs__XCA.jpg.ela.png', 'c2pa-rs__XCA.jpg.noise.png', 'c2pa-rs__XCA.jpg.spectrum.png', 'exif-samples__gps_DSCN0010.jpg.ela.png']),
    );
    // The 1x1 A1111 crop has no spectrum (too small), and no temp files are left behind.
    expect(written).not.toContain('sd-parsers__automatic1111_cropped.png.spectrum.png');
    expect(written.filter((f) => f.endsWith('.part'))).toEqual([]);
  });

  it('prints a readable summary without --json; a missing file exits 1, a bad option 2', () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'inspect-cli-'));
    const text = cli(['inspect', path.join(FIX, 'c2pa-ts__amazon-titan-g1.png'), '--data-dir', dataDir]);
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(/Provenance: AI-generated or computer-generated: C2PA manifest \(validated; signer not checked against a trust list\) declares trainedAlgorithmicMedia/);
    expect(text.stdout).toMatch(/Readers: provenance 1, exifr \d/);
    const missing = cli(['inspect', path.join(dataDir, 'nope.jpg'), '--json', '--data-dir', dataDir]);
    expect(missing.status).toBe(1);
    expect(JSON.parse(missing.stderr.trim().split('\n').pop()!).error.code).toBe('FILE_NOT_FOUND');
    const bad = cli(['inspect', '--ela-quality', '7', path.join(FIX, 'c2pa-rs__C.jpg'), '--data-dir', dataDir]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--ela-quality must be an integer from 50 to 100');
  });
});
