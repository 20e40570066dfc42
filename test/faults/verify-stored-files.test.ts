// `case verify` against whatever a file system can put where a stored file was: a symbolic link, a
// folder, a FIFO, a file no one may read. Each is a reported issue and the rest of the case is still
// verified; the command prints a report and exits 1, never a stack trace.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCaseCommand } from '../../electron/cli/case-command';
import { CaseStore, type VerifyIssue, type VerifyReport } from '../../electron/services/case-store';
import { datasetImages, repoRoot, tempDir } from '../fixtures/case-store/case-fixtures';

let baseDir: string;
let caseId: string;
let evidenceIds: string[];
let heatmapPath: string;

beforeAll(async () => {
  baseDir = tempDir('faults-verify-base');
  const store = CaseStore.open(baseDir);
  try {
    const c = store.createCase({ caseNumber: 'FV-1', title: 'stored files', examiner: 'ann' });
    caseId = c.id;
    evidenceIds = (await store.ingest(c.id, datasetImages(5), { actor: 'ann' })).added.map((e) => e.id);
    const a = store.recordAnalysis({
      evidenceId: evidenceIds[0],
      model: { id: 'm', sha256: 'cd'.repeat(32) },
      provider: 'cpu',
      pSynthetic: 0.2,
      verdict: 'real',
      threshold: 0.5,
      durationMs: 3,
      actor: 'ann',
    });
    const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#f00' } }).png().toBuffer();
    heatmapPath = (await store.recordExplanation({ analysisId: a.id, method: 'gradcam', parameters: { layer: 'x' }, heatmap: png, actor: 'ann' })).heatmapPath!;
  } finally {
    store.close();
  }
});

function copyOfCase(): string {
  const dir = tempDir('faults-verify');
  fs.cpSync(baseDir, dir, { recursive: true });
  return dir;
}

function storedFiles(dataDir: string): { evidence: string[]; heatmap: string } {
  const store = CaseStore.open(dataDir);
  try {
    return {
      evidence: evidenceIds.map((id) => store.evidenceFilePath(store.getEvidence(id))),
      heatmap: path.join(dataDir, 'cases', caseId, heatmapPath),
    };
  } finally {
    store.close();
  }
}

/** Replaces a read-only stored file with something else at the same path. */
function replace(file: string, make: (file: string) => void): void {
  fs.chmodSync(file, 0o644);
  const saved = `${file}.moved`;
  fs.renameSync(file, saved);
  make(file);
}

async function verifyByCli(dataDir: string): Promise<{ code: number; report: VerifyReport; errors: unknown[] }> {
  const printed: unknown[] = [];
  const errors: unknown[] = [];
  const code = await runCaseCommand(['verify', caseId], { dataDir, json: true, print: (o) => printed.push(o), printError: (o) => errors.push(o) });
  return { code, report: printed[0] as VerifyReport, errors };
}

describe('verify with hostile stored files', () => {
  it('reports a link, a folder and a FIFO in place of stored files and still verifies the rest', async () => {
    const dir = copyOfCase();
    const files = storedFiles(dir);
    replace(files.evidence[0], (f) => fs.symlinkSync(`${f}.moved`, f));
    replace(files.evidence[1], (f) => fs.mkdirSync(f));
    replace(files.evidence[2], (f) => execFileSync('mkfifo', [f]));
    replace(files.heatmap, (f) => fs.symlinkSync(`${f}.moved`, f));
    const { code, report, errors } = await verifyByCli(dir);
    expect(code).toBe(1);
    expect(errors).toEqual([]);
    expect(report.ok).toBe(false);
    expect(report.evidenceChecked).toBe(5);
    const found = (id: string) => report.issues.find((i: VerifyIssue) => 'evidenceId' in i && i.evidenceId === id && i.kind === 'evidence-unreadable');
    expect(found(evidenceIds[0])).toMatchObject({ found: 'symbolic-link' });
    expect(found(evidenceIds[1])).toMatchObject({ found: 'directory' });
    expect(found(evidenceIds[2])).toMatchObject({ found: 'special-file' });
    expect(report.issues).toContainEqual(expect.objectContaining({ kind: 'heatmap-unreadable', found: 'symbolic-link' }));
    // The untouched files were hashed: nothing is reported about them.
    expect(report.issues.filter((i) => 'evidenceId' in i && [evidenceIds[3], evidenceIds[4]].includes(i.evidenceId))).toEqual([]);
    expect(report.bytesHashed).toBe(fs.statSync(files.evidence[3]).size + fs.statSync(files.evidence[4]).size);
  });

  it('reports a stored file made unreadable (chmod 000): by its mode bits as root, as permission denied for another user', async () => {
    const dir = copyOfCase();
    const files = storedFiles(dir);
    fs.chmodSync(files.evidence[3], 0o000);
    // Root reads through any mode, so the store's own mode bits (it writes 0444) are what shows it.
    const { code, report } = await verifyByCli(dir);
    expect(code).toBe(1);
    expect(report.issues).toEqual([expect.objectContaining({ kind: 'evidence-mode-changed', evidenceId: evidenceIds[3], expectedMode: '0444', actualMode: '0000' })]);

    // As an ordinary user (uid 65534, owning the data folder), the open itself is refused.
    if (process.getuid?.() !== 0) return;
    execFileSync('chown', ['-R', '65534:65534', dir]);
    const run = spawnSync(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'electron/cli/cli-main.ts'), 'case', 'verify', caseId, '--data-dir', dir, '--json'], {
      cwd: repoRoot,
      uid: 65534,
      gid: 65534,
      encoding: 'utf8',
      env: { ...process.env, HOME: dir },
    });
    expect(run.stderr).not.toMatch(/at .*\.ts:\d+/);
    expect(run.status).toBe(1);
    const asUser = JSON.parse(run.stdout.trim().split('\n')[0]) as VerifyReport;
    expect(asUser.issues).toContainEqual(expect.objectContaining({ kind: 'evidence-unreadable', evidenceId: evidenceIds[3], found: 'permission-denied' }));
    expect(asUser.evidenceChecked).toBe(5);
  });
});
