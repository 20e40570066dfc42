// `npm run bench -- inspect`: provenance inspection throughput next to analyze throughput on the
// same files, with the runtime's bound measured in the same run: decoding each file to RGB with
// sharp (which every pixel view needs first). Figures are medians over repeats.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { benchOptionReader } from './bench-support';
import type { BenchIo } from './bench-analyze';
import { findRepoRoot } from '../services/app/app-info';
import { inspectImageFile } from '../services/provenance';
import { analyzeFiles, isAnalyzeFailure } from '../services/engine/analyze';

const USAGE = 'Usage: npm run bench -- inspect [--files <dir>] [--limit <n>] [--repeats <n>] [--json]';

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function timed(run: () => Promise<void>, n: number): Promise<{ perSecond: number; cpuMsPerImage: number }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await run();
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(c0);
  return { perSecond: n / seconds, cpuMsPerImage: (cpu.user + cpu.system) / 1000 / n };
}

/** The provenance fixtures (real third-party files of many sizes) plus real dataset photographs. */
function defaultFiles(repoRoot: string, limit: number): string[] {
  const dirs = [path.resolve(repoRoot, '../shared/fixtures/provenance'), path.resolve(repoRoot, '../shared/datasets/real')];
  const files: string[] = [];
  for (const dir of dirs) {
    if (!fs.existsSync(dir)) continue;
    for (const f of fs.readdirSync(dir).sort()) if (/\.(jpe?g|png)$/i.test(f)) files.push(path.join(dir, f));
  }
  return files.slice(0, limit);
}

export async function runInspectBench(argv: string[], io: BenchIo & { dataDir: string }): Promise<number> {
  const opt = benchOptionReader(argv);
  if (argv.includes('--help')) {
    io.print(USAGE);
    return 0;
  }
  const limit = Number(opt('--limit') ?? 48);
  const repeats = Number(opt('--repeats') ?? 3);
  if (!Number.isInteger(limit) || limit < 1 || !Number.isInteger(repeats) || repeats < 1) {
    io.printError(USAGE);
    return 2;
  }
  const repoRoot = findRepoRoot();
  const dir = opt('--files');
  const files = dir ? fs.readdirSync(dir).filter((f) => /\.(jpe?g|png)$/i.test(f)).map((f) => path.join(dir, f)).slice(0, limit) : defaultFiles(repoRoot, limit);
  if (!files.length) {
    io.printError('No JPEG or PNG files to benchmark.');
    return 2;
  }
  const megapixels = (await Promise.all(files.map(async (f) => sharp(f).metadata().then((m) => ((m.width ?? 0) * (m.height ?? 0)) / 1e6).catch(() => 0)))).reduce((a, b) => a + b, 0);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-inspect-'));
  const rows: Record<string, { perSecond: number; cpuMsPerImage: number }[]> = { decode: [], inspect: [], metadataOnly: [], analyze: [] };
  try {
    for (let r = 0; r < repeats; r++) {
      rows.decode.push(await timed(async () => {
        for (const f of files) await sharp(f, { failOn: 'none' }).rotate().removeAlpha().raw().toBuffer().catch(() => undefined);
      }, files.length));
      rows.inspect.push(await timed(async () => {
        for (const f of files) await inspectImageFile(f);
      }, files.length));
      rows.metadataOnly.push(await timed(async () => {
        for (const f of files) await inspectImageFile(f, { skipViews: true });
      }, files.length));
      rows.analyze.push(await timed(async () => {
        for await (const res of analyzeFiles(files, { dataDir })) if (isAnalyzeFailure(res)) void res;
      }, files.length));
    }
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  const m = (k: string) => ({
    imagesPerSecond: Math.round(median(rows[k].map((x) => x.perSecond)) * 100) / 100,
    cpuMsPerImage: Math.round(median(rows[k].map((x) => x.cpuMsPerImage))),
  });
  const decode = m('decode');
  const inspect = m('inspect');
  const metadataOnly = m('metadataOnly');
  const analyze = m('analyze');
  const result = {
    files: files.length,
    megapixels: Math.round(megapixels * 10) / 10,
    repeats,
    decode,
    inspect,
    metadataOnly,
    analyze,
    /** inspect / decode: how close the full inspection runs to decoding alone. */
    inspectToDecode: Math.round((inspect.imagesPerSecond / decode.imagesPerSecond) * 1000) / 1000,
    /** inspect / analyze on the same files. */
    inspectToAnalyze: Math.round((inspect.imagesPerSecond / analyze.imagesPerSecond) * 1000) / 1000,
    cpus: os.cpus().length,
  };
  io.print(io.json ? result : JSON.stringify(result, null, 2));
  return 0;
}
