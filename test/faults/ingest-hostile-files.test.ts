// Hostile files under `case import`: the bad-input corpus, a FIFO, a socket, links, a folder link and a
// file no one may read. Each is either ingested whole or refused with a code and an evidence.refused
// entry; originals stay byte-identical and the case verifies.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCaseCommand } from '../../electron/cli/case-command';
import { CaseStore } from '../../electron/services/case-store';
import { makeBadInputs } from '../fixtures/bad-inputs/make-bad-inputs';
import { datasetImages, repoRoot, snapshotTree, tempDir } from '../fixtures/case-store/case-fixtures';
import { faultLedger } from './fault-ledger';

const ledger = faultLedger('hostile-ingest');

// What ingest says about the corpus: it admits any raster image it can identify (analysis judges the
// pixels later) and refuses the rest; an empty file gets its own code (the workspace's one sentence per bad file).
const INGEST_EXPECT: Record<string, string> = {
  'empty.jpg': 'EMPTY_FILE',
  'random-bytes.jpg': 'NOT_AN_IMAGE',
  'notes.txt': 'NOT_AN_IMAGE',
  'drawing.bmp': 'NOT_AN_IMAGE',
  'vector.svg': 'UNSUPPORTED_IMAGE_FORMAT',
};

describe('case import with hostile files', () => {
  it('ingests or refuses each with a code, audits every refusal, and leaves the originals alone', async () => {
    const src = tempDir('faults-ingest-src');
    const corpus = await makeBadInputs(src);
    execFileSync('mkfifo', [path.join(src, 'pipe.png')]);
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(path.join(src, 'socket.png'), r));
    fs.symlinkSync(datasetImages(1)[0], path.join(src, 'link.png'));
    fs.symlinkSync('/etc', path.join(src, 'link-dir'));
    const before = snapshotTree(src);
    const dataDir = tempDir('faults-ingest');
    const out: any[] = [];
    try {
      const ctx = { dataDir, json: true, print: (o: unknown) => out.push(o), printError: () => undefined };
      await runCaseCommand(['create', '--number', 'H-1', '--title', 'hostile', '--examiner', 'ann'], ctx);
      const id = out[0].id as string;
      out.length = 0;
      expect(await runCaseCommand(['import', id, src], ctx)).toBe(1);
      const result = out[0] as { added: { originalPath: string }[]; failed: { path: string; code: string }[] };
      const refused = new Map(result.failed.map((f) => [path.basename(f.path), f.code]));
      const added = new Set(result.added.map((a) => path.basename(a.originalPath)));
      for (const c of corpus) {
        ledger.tried(`ingest ${c.file}`);
        const expected = INGEST_EXPECT[c.file];
        if (expected) expect(refused.get(c.file), c.file).toBe(expected);
        else expect(added.has(c.file) || refused.has(c.file), c.file).toBe(true);
        ledger.held(`ingest ${c.file}`);
      }
      for (const [name, code] of [
        ['pipe.png', 'SOURCE_NOT_REGULAR_FILE'],
        ['socket.png', 'SOURCE_NOT_REGULAR_FILE'],
        ['link.png', 'SOURCE_IS_SYMLINK'],
        ['link-dir', 'SOURCE_IS_SYMLINK'],
      ]) {
        ledger.tried(`ingest ${name}`);
        expect(refused.get(name), name).toBe(code);
        ledger.held(`ingest ${name}`);
      }
      const store = CaseStore.open(dataDir);
      try {
        const refusals = store.auditLog(id).filter((e) => e.action === 'evidence.refused');
        expect(refusals.length).toBe(result.failed.length);
        expect((await store.verifyCase(id)).issues).toEqual([]);
      } finally {
        store.close();
      }
    } finally {
      server.close();
    }
    expect(snapshotTree(src)).toEqual(before);
  });

  it('refuses a file its user may not read (run as uid 65534), and ingests the rest', async () => {
    ledger.tried('ingest permission denied');
    if (process.getuid?.() !== 0) return;
    const src = tempDir('faults-ingest-perm');
    const images = datasetImages(2);
    for (const f of images) fs.copyFileSync(f, path.join(src, path.basename(f)));
    fs.chmodSync(path.join(src, path.basename(images[0])), 0o000);
    fs.chmodSync(src, 0o755);
    const dataDir = tempDir('faults-ingest-perm-data');
    const store = CaseStore.open(dataDir);
    const id = store.createCase({ caseNumber: 'P-1', title: 'perm', examiner: 'ann' }).id;
    store.close();
    execFileSync('chown', ['-R', '65534:65534', dataDir]);
    const run = spawnSync(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'electron/cli/cli-main.ts'), 'case', 'import', id, src, '--data-dir', dataDir, '--json'], {
      cwd: repoRoot,
      uid: 65534,
      gid: 65534,
      encoding: 'utf8',
      env: { ...process.env, HOME: dataDir },
    });
    expect(run.status, run.stderr).toBe(1);
    const result = JSON.parse(run.stdout.trim().split('\n')[0]) as { added: unknown[]; failed: { path: string; code: string }[] };
    expect(result.failed).toEqual([expect.objectContaining({ path: path.join(src, path.basename(images[0])), code: 'SOURCE_UNREADABLE' })]);
    expect(result.added.length).toBe(1);
    ledger.held('ingest permission denied');
  });
});
