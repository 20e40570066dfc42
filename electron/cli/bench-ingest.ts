// `npm run bench -- ingest [--files n] [--size-mb m]`: case-store ingest and verify rates next to sha256sum.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { benchIngest } from '../services/case-store/ingest-benchmark';
import type { CliContext } from './cli-context';
import { benchOptionReader } from './bench-support';

export async function runIngestBench(argv: string[], io: Pick<CliContext, 'print' | 'printError'>): Promise<number> {
  const opt = benchOptionReader(argv);
  const flag = (name: string, fallback: number) => Number(opt(name) ?? fallback);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'forensics-bench-ingest-'));
  try {
    io.print(await benchIngest({ files: flag('--files', 1000), sizeMB: flag('--size-mb', 1), dir }));
    return 0;
  } catch (e) {
    // Bad --files/--size-mb values come back as typed store errors: a usage error, not a crash.
    io.printError(`${(e as Error).message}\nUsage: npm run bench -- ingest [--files <n>] [--size-mb <m>]`);
    return 2;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
