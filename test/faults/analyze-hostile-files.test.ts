// Hostile files under `analyze`, on the shipped default detector: a FIFO swapped in while the run is
// going must not block it, and FIFOs, sockets and links met while walking a folder each get a line.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { analyzeFiles, isAnalyzeFailure, type AnalyzeResult } from '../../electron/services/engine/analyze';
import { releaseDetectorSessions } from '../../electron/services/engine/detector-session';
import { ModelRegistry } from '../../electron/services/engine/model-registry';
import { makeBadInputs } from '../fixtures/bad-inputs/make-bad-inputs';
import { datasetImages, repoRoot, stageImages, tempDir } from '../fixtures/case-store/case-fixtures';
import { faultLedger } from './fault-ledger';

const dataDir = tempDir('faults-analyze-data');
const registry = new ModelRegistry({ dataDir, repoRoot });
const ledger = faultLedger('hostile-files');

afterAll(async () => {
  await releaseDetectorSessions();
});

/**
 * Watches a FIFO for a reader stuck in a blocking open(): a writer's non-blocking open succeeds only
 * while some process holds the read end, and it wakes that reader with end-of-file, so a hang becomes
 * a failed assertion instead of a test that never returns. It starts after a grace period that a
 * healthy run of a few dozen images never needs.
 */
function watchForBlockedReader(fifo: string, graceMs: number): { stop(): void; found(): boolean } {
  let found = false;
  let timer: NodeJS.Timeout | undefined;
  const poll = () => {
    try {
      const fd = fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
      found = true;
      fs.closeSync(fd);
    } catch {
      // ENXIO: nobody holds the read end; ENOENT: not swapped in yet.
    }
    timer = setTimeout(poll, 200);
  };
  timer = setTimeout(poll, graceMs);
  return { stop: () => clearTimeout(timer), found: () => found };
}

describe('analyze with hostile files', () => {
  it('reports a file swapped for a FIFO mid-run and every good file of the run, without blocking', async () => {
    const images = datasetImages(12);
    const dir = stageImages(images, 'faults-fifo-swap');
    const victim = path.join(dir, path.basename(images[images.length - 1]));
    const watch = watchForBlockedReader(victim, 10_000);
    const results: AnalyzeResult[] = [];
    let swapped = false;
    try {
      // One file in flight at a time, so the swap lands after the folder was listed and before the open.
      for await (const r of analyzeFiles([dir], { dataDir, registry, batchSize: 1, decodeConcurrency: 1, decodeThreads: 1 })) {
        results.push(r);
        if (!swapped) {
          swapped = true;
          fs.rmSync(victim);
          execFileSync('mkfifo', [victim]);
        }
      }
    } finally {
      watch.stop();
    }
    expect(watch.found(), 'analyze blocked in open() on the FIFO').toBe(false);
    expect(results.map((r) => r.path)).toEqual(images.map((f) => path.join(dir, path.basename(f))));
    const last = results[results.length - 1];
    expect(isAnalyzeFailure(last) && last.error).toMatchObject({ code: 'NOT_A_FILE', message: expect.stringMatching(/not a regular file/) });
    expect(results.slice(0, -1).every((r) => !isAnalyzeFailure(r))).toBe(true);
  });

  it.each([
    ['a directory', (f: string) => fs.mkdirSync(f), 'NOT_A_FILE', /directory/],
    ['a symbolic link', (f: string) => fs.symlinkSync(datasetImages(1)[0], f), 'NOT_A_FILE', /symbolic link/],
    ['nothing (deleted)', () => undefined, 'NOT_FOUND', /No such file/],
    ['an empty file', (f: string) => fs.writeFileSync(f, ''), 'EMPTY_FILE', /empty/],
    ['half of itself', (f: string) => fs.writeFileSync(f, fs.readFileSync(datasetImages(12)[11]).subarray(0, 2000)), 'TRUNCATED', /./],
  ] as const)('reports a file swapped mid-run for %s, and every other file', async (what, make, code, message) => {
    ledger.tried(`analyze swap for ${what}`);
    const images = datasetImages(12);
    const dir = stageImages(images, 'faults-swap');
    const victim = path.join(dir, path.basename(images[images.length - 1]));
    const results: AnalyzeResult[] = [];
    for await (const r of analyzeFiles([dir], { dataDir, registry, batchSize: 1, decodeConcurrency: 1, decodeThreads: 1 })) {
      results.push(r);
      if (results.length === 1) {
        fs.rmSync(victim);
        make(victim);
      }
    }
    expect(results.map((r) => r.path)).toEqual(images.map((f) => path.join(dir, path.basename(f))));
    expect((results.at(-1) as { error?: unknown }).error).toMatchObject({ code, message: expect.stringMatching(message) });
    expect(results.slice(0, -1).every((r) => !isAnalyzeFailure(r))).toBe(true);
    ledger.held(`analyze swap for ${what}`);
  });

  it('gives every file of the bad-input corpus its stated outcome', async () => {
    const dir = tempDir('faults-corpus');
    const cases = await makeBadInputs(dir);
    const results = new Map<string, AnalyzeResult>();
    for await (const r of analyzeFiles([dir], { dataDir, registry })) results.set(path.basename(r.path), r);
    for (const c of cases) {
      ledger.tried(`corpus ${c.file}`);
      const r = results.get(c.file)!;
      if (c.expect === 'ok') expect(isAnalyzeFailure(r), `${c.file}: ${JSON.stringify(r)}`).toBe(false);
      else expect(isAnalyzeFailure(r) && r.error.code, c.file).toBe(c.expect);
      ledger.held(`corpus ${c.file}`);
    }
  });

  it('gives a FIFO, a socket and a dangling link met while walking a folder their own error lines', async () => {
    const images = datasetImages(2);
    const dir = stageImages(images, 'faults-special');
    execFileSync('mkfifo', [path.join(dir, 'a-pipe.png')]);
    const socketPath = path.join(dir, 'b-socket.png');
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    fs.symlinkSync(path.join(dir, 'nowhere.png'), path.join(dir, 'c-dangling.png'));
    fs.symlinkSync(path.join(dir, path.basename(images[0])), path.join(dir, 'd-link.png'));
    const results: AnalyzeResult[] = [];
    try {
      for await (const r of analyzeFiles([dir], { dataDir, registry })) results.push(r);
    } finally {
      server.close();
    }
    const byName = new Map(results.map((r) => [path.basename(r.path), r]));
    expect([...byName.keys()].sort()).toEqual(['a-pipe.png', 'b-socket.png', 'c-dangling.png', 'd-link.png', ...images.map((f) => path.basename(f))].sort());
    expect((byName.get('a-pipe.png') as { error: unknown }).error).toMatchObject({ code: 'NOT_A_FILE', message: expect.stringMatching(/FIFO/) });
    expect((byName.get('b-socket.png') as { error: unknown }).error).toMatchObject({ code: 'NOT_A_FILE', message: expect.stringMatching(/socket/) });
    expect((byName.get('c-dangling.png') as { error: unknown }).error).toMatchObject({ code: 'NOT_FOUND' });
    // A link to an image in the folder is followed (analyze reads, it never stores): same hash as its target.
    const link = byName.get('d-link.png')!;
    const target = byName.get(path.basename(images[0]))!;
    expect(isAnalyzeFailure(link)).toBe(false);
    expect((link as { sha256: string }).sha256).toBe((target as { sha256: string }).sha256);
  });
});
