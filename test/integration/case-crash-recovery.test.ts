import { describe, it, expect } from 'vitest';
import { spawn } from 'node:child_process';
import Database from 'better-sqlite3';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CaseStore } from '../../electron/services/case-store';
import { datasetImages, datasetsDir, repoRoot, sha256OfFile, snapshotTree, stageImages, tempDir } from '../fixtures/case-store/case-fixtures';

const childScript = path.join(repoRoot, 'test/fixtures/case-store/ingest-child.ts');
const sourceDir = path.join(datasetsDir, 'real');

function countEvidence(dbFile: string): number {
  const db = new Database(dbFile, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT COUNT(*) AS n FROM evidence').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

/** Starts an ingest in a separate process and SIGKILLs it once `killAfter` rows are committed. */
async function ingestAndKill(dataDir: string, caseId: string, killAfter: number): Promise<{ signal: string | null; stderr: string }> {
  // node itself, not npx: a SIGKILL must hit the process that writes, not a wrapper.
  const child = spawn(process.execPath, ['--import', 'tsx', childScript, dataDir, caseId, sourceDir], {
    cwd: repoRoot,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<{ signal: string | null }>((resolve) => child.on('exit', (_code, signal) => resolve({ signal })));
  let finished = false;
  void exited.then(() => (finished = true));
  const dbFile = path.join(dataDir, 'cases.sqlite');
  while (!finished && countEvidence(dbFile) < killAfter) await sleep(20);
  child.kill('SIGKILL');
  const { signal } = await exited;
  return { signal, stderr };
}

describe('a batch ingest killed with SIGKILL', () => {
  it('leaves a consistent database with whole records only, and a rerun completes the set exactly once', async () => {
    const originals = snapshotTree(sourceDir);
    const total = Object.keys(originals).length;
    const distinct = new Set(Object.values(originals)).size;
    const dataDir = tempDir('case-crash');
    const setup = CaseStore.open(dataDir);
    const caseId = setup.createCase({ caseNumber: 'CRASH-1', title: 'killed ingest', examiner: 'ann' }).id;
    setup.close();

    const seen: number[] = [];
    for (const killAfter of [25, 90]) {
      const { signal, stderr } = await ingestAndKill(dataDir, caseId, killAfter);
      expect(signal, `the child finished before it could be killed: ${stderr}`).toBe('SIGKILL');

      const raw = new Database(path.join(dataDir, 'cases.sqlite'), { readonly: true });
      expect(raw.pragma('integrity_check', { simple: true })).toBe('ok');
      expect(raw.pragma('foreign_key_check')).toEqual([]);
      raw.close();

      const store = CaseStore.open(dataDir);
      try {
        const report = await store.verifyCase(caseId);
        // Every recorded item is whole: file present and matching, row vouched for by the chain.
        expect(report.issues).toEqual([]);
        const evidence = store.listEvidence(caseId);
        expect(evidence.length).toBeGreaterThanOrEqual(killAfter);
        expect(evidence.length).toBeLessThan(distinct);
        expect(new Set(evidence.map((e) => e.sha256)).size).toBe(evidence.length);
        seen.push(evidence.length);
      } finally {
        store.close();
      }
    }
    expect(seen[1]).toBeGreaterThan(seen[0]);

    const store = CaseStore.open(dataDir);
    try {
      const rerun = await store.ingest(caseId, [sourceDir], { actor: 'ann' });
      expect(rerun.failed).toEqual([]);
      expect(rerun.cancelled).toBe(false);
      expect(rerun.added.length + rerun.duplicates.length).toBe(total);
      const evidence = store.listEvidence(caseId);
      expect(evidence).toHaveLength(distinct);
      expect(new Set(evidence.map((e) => e.sha256))).toEqual(new Set(Object.values(originals)));
      const report = await store.verifyCase(caseId);
      expect(report.issues).toEqual([]);
      expect(report.unrecordedFiles).toEqual([]);
      expect(fs.readdirSync(path.join(dataDir, 'cases', caseId, 'evidence'))).toHaveLength(distinct);
      expect(fs.readdirSync(path.join(dataDir, 'cases', caseId, '.partial'))).toEqual([]);
    } finally {
      store.close();
    }
    expect(snapshotTree(sourceDir)).toEqual(originals);
  });
});

describe('leftovers of an interrupted ingest', () => {
  it('are cleared on the next ingest and put on the record; a stale lock of a dead process is taken over', async () => {
    const images = datasetImages(3);
    const dataDir = tempDir('case-leftovers');
    const store = CaseStore.open(dataDir);
    try {
      const c = store.createCase({ caseNumber: 'LEFT-1', title: 'leftovers', examiner: 'ann' });
      const caseDir = path.join(dataDir, 'cases', c.id);
      // What a kill between "copy renamed into place" and "row committed" leaves, plus a half-written copy.
      const orphanName = `${sha256OfFile(images[0])}.png`;
      fs.copyFileSync(images[0], path.join(caseDir, 'evidence', orphanName));
      fs.chmodSync(path.join(caseDir, 'evidence', orphanName), 0o444);
      fs.mkdirSync(path.join(caseDir, '.partial'), { recursive: true });
      fs.writeFileSync(path.join(caseDir, '.partial', 'dead.part'), 'half');
      fs.writeFileSync(path.join(caseDir, 'ingest.lock'), JSON.stringify({ pid: 2 ** 22 + 1, host: os.hostname() }));

      const before = await store.verifyCase(c.id);
      expect(before.ok).toBe(true);
      expect(before.unrecordedFiles).toEqual([`evidence/${orphanName}`]);

      const result = await store.ingest(c.id, [stageImages(images.slice(0, 2))], { actor: 'ann' });
      expect(result.orphansRemoved).toEqual([`evidence/${orphanName}`]);
      expect(result.added.map((e) => e.sha256).sort()).toEqual(images.slice(0, 2).map(sha256OfFile).sort());
      expect(fs.readdirSync(path.join(caseDir, '.partial'))).toEqual([]);
      expect(fs.existsSync(path.join(caseDir, 'ingest.lock'))).toBe(false);
      const removal = store.auditLog(c.id).find((e) => e.action === 'ingest.leftovers-removed');
      expect(removal?.details.files).toEqual([`evidence/${orphanName}`]);
      const after = await store.verifyCase(c.id);
      expect(after.ok).toBe(true);
      expect(after.unrecordedFiles).toEqual([]);

      // A lock held by a live process is respected.
      fs.writeFileSync(path.join(caseDir, 'ingest.lock'), JSON.stringify({ pid: process.pid, host: os.hostname() }));
      await expect(store.ingest(c.id, [images[2]], { actor: 'ann' })).rejects.toMatchObject({ code: 'INGEST_LOCKED' });
      fs.rmSync(path.join(caseDir, 'ingest.lock'));
    } finally {
      store.close();
    }
  });
});
