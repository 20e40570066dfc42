// `npm run bench -- ingest [--files n] [--size-mb m]`: case-store ingest and verify rates next to sha256sum.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { benchIngest } from '../services/case-store/ingest-benchmark';
import type { CliContext } from './cli-context';

export async function runIngestBench(argv: string[], io: Pick<CliContext, 'print' | 'printError'>): Promise<number> {
  const flag = (name: string, fallback: number) => {
    const i = argv.indexOf(name);
    return i >= 0 ? Number(argv[i + 1]) : fallback;
  };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'forensics-bench-ingest-'));
  try {
    io.print(await benchIngest({ files: flag('--files', 1000), sizeMB: flag('--size-mb', 1), dir }));
    return 0;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
