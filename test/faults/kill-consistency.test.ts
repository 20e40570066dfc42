// kill -9 at random moments of ingest, analysis, explanation, export and archive import, each in its own
// process started through the CLI's code. After every kill the store must open, verify clean (case and
// global chain), hold only whole records, have left originals byte-identical, and finish the work when
// it is run again. The moments are drawn from a seeded generator (the seed is printed) over the span an
// uninterrupted run of the same operation took in this session.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CaseStore } from '../../electron/services/case-store';
import { createRng } from '../../electron/services/common/seeded-random';
import { datasetImages, snapshotTree, stageImages, tempDir } from '../fixtures/case-store/case-fixtures';
import { faultLedger, NIGHTLY } from './fault-ledger';
import { killAfter, runToEnd, startCaseCli, startExplain } from './kill-helpers';

const KILLS_PER_OPERATION = NIGHTLY ? 12 : 2;
const SEED = Number(process.env.FAULTS_SEED ?? Date.now() % 100_000);
const rng = createRng(SEED);
const ledger = faultLedger('kill-9');

let sourceDir: string;
let sourceSnapshot: Record<string, string>;
/** A store with one case holding the source files, analysed: the starting point of the later operations. */
let analysedDir: string;
let caseId: string;
let archive: string;

function copyOf(dir: string): string {
  const out = tempDir('faults-kill');
  fs.cpSync(dir, out, { recursive: true });
  return out;
}

/** What must hold after any kill. */
async function consistent(dataDir: string, id: string | undefined): Promise<CaseStore> {
  const store = CaseStore.open(dataDir);
  try {
    expect(store.verifyGlobal().issues).toEqual([]);
    if (id && store.findCase(id)) {
      const report = await store.verifyCase(id);
      expect(report.issues).toEqual([]);
    }
    expect(fs.readdirSync(path.join(dataDir, 'cases')).filter((n) => n.startsWith('.import-'))).toEqual([]);
    expect(snapshotTree(sourceDir)).toEqual(sourceSnapshot);
    return store;
  } catch (e) {
    store.close();
    throw e;
  }
}

/** Random moments over [0.05, 1.1] of an uninterrupted run's span, so some land after the work is done. */
function moments(spanMs: number): number[] {
  return Array.from({ length: KILLS_PER_OPERATION }, () => Math.round(spanMs * (0.05 + 1.05 * rng())));
}

beforeAll(async () => {
  console.log(`kill -9 suite: seed ${SEED} (FAULTS_SEED=${SEED} repeats these moments), ${KILLS_PER_OPERATION} kills per operation`);
  sourceDir = stageImages(datasetImages(24, 'real'), 'faults-kill-src');
  sourceSnapshot = snapshotTree(sourceDir);
  analysedDir = tempDir('faults-kill-base');
  const store = CaseStore.open(analysedDir);
  try {
    caseId = store.createCase({ caseNumber: 'K-1', title: 'kills', examiner: 'ann' }).id;
  } finally {
    store.close();
  }
  const ingest = await runToEnd(startCaseCli(analysedDir, ['import', caseId, sourceDir]));
  expect(ingest.code, ingest.stderr).toBe(0);
  spans.ingest = ingest.ms;
  const analyse = await runToEnd(startCaseCli(analysedDir, ['analyze', caseId]));
  expect(analyse.code, analyse.stderr).toBe(0);
  spans.analyze = analyse.ms;
  archive = path.join(tempDir('faults-kill-archive'), 'case.tar');
  const exported = await runToEnd(startCaseCli(copyOf(analysedDir), ['export', caseId, '--out', archive]));
  expect(exported.code, exported.stderr).toBe(0);
  spans.export = exported.ms;
  const imported = await runToEnd(startCaseCli(tempDir('faults-kill-import'), ['import-archive', archive]));
  expect(imported.code, imported.stderr).toBe(0);
  spans.import = imported.ms;
  const s = CaseStore.open(analysedDir);
  try {
    firstEvidence = s.listEvidence(caseId)[0].id;
  } finally {
    s.close();
  }
  const explained = await runToEnd(startExplain(copyOf(analysedDir), firstEvidence));
  expect(explained.code, explained.stderr).toBe(0);
  spans.explain = explained.ms;
}, 600_000);

const spans: Record<string, number> = {};
let firstEvidence: string;

describe('kill -9 at random moments', () => {
  it('during ingest: whole records only, and a re-run ingests the rest', { timeout: 600_000 }, async () => {
    for (const ms of moments(spans.ingest)) {
      const name = `ingest at ${ms} ms`;
      ledger.tried(name);
      const dir = tempDir('faults-kill-ingest');
      const s0 = CaseStore.open(dir);
      const id = s0.createCase({ caseNumber: 'K-1', title: 'kills', examiner: 'ann' }).id;
      s0.close();
      await killAfter(startCaseCli(dir, ['import', id, sourceDir]), ms);
      (await consistent(dir, id)).close();
      const rerun = await runToEnd(startCaseCli(dir, ['import', id, sourceDir]));
      expect(rerun.code, rerun.stderr).toBe(0);
      const store = await consistent(dir, id);
      try {
        expect(store.listEvidence(id).length).toBe(24);
        expect(fs.readdirSync(path.join(dir, 'cases', id, '.partial'))).toEqual([]);
      } finally {
        store.close();
      }
      ledger.held(name);
    }
  });

  it('during analysis: every recorded verdict audited, and --missing finishes the rest', { timeout: 600_000 }, async () => {
    for (const ms of moments(spans.analyze)) {
      const name = `analysis at ${ms} ms`;
      ledger.tried(name);
      const dir = copyOf(analysedDir);
      // Start from no analyses: a fresh case with the same evidence.
      const store0 = CaseStore.open(dir);
      const id = store0.createCase({ caseNumber: `K-A-${ms}`, title: 'analysis kill', examiner: 'ann' }).id;
      await store0.ingest(id, [sourceDir], { actor: 'ann' });
      store0.close();
      await killAfter(startCaseCli(dir, ['analyze', id]), ms);
      (await consistent(dir, id)).close();
      const rerun = await runToEnd(startCaseCli(dir, ['analyze', id, '--missing']));
      expect(rerun.code, rerun.stderr).toBe(0);
      const store = await consistent(dir, id);
      try {
        const analysed = new Set(store.listAnalyses(id).map((a) => a.evidenceId));
        expect(store.listEvidence(id).filter((e) => !analysed.has(e.id))).toEqual([]);
      } finally {
        store.close();
      }
      ledger.held(name);
    }
  });

  it('during explanation: heatmaps recorded whole or not at all, and a re-run records them', { timeout: 600_000 }, async () => {
    for (const ms of moments(spans.explain)) {
      const name = `explanation at ${ms} ms`;
      ledger.tried(name);
      const dir = copyOf(analysedDir);
      await killAfter(startExplain(dir, firstEvidence), ms);
      // Every explanation row recorded before the kill has its heatmap with its hash (verify checks it).
      (await consistent(dir, caseId)).close();
      const rerun = await runToEnd(startExplain(dir, firstEvidence));
      expect(rerun.code, rerun.stderr).toBe(0);
      const after = await consistent(dir, caseId);
      try {
        expect(new Set(after.listExplanations(caseId).map((x) => x.method))).toEqual(new Set(['gradcam', 'ablationcam', 'layercam', 'scorecam']));
      } finally {
        after.close();
      }
      ledger.held(name);
    }
  });

  it('during export: an archive under its final name always has its entry, and a re-run exports', { timeout: 600_000 }, async () => {
    for (const ms of moments(spans.export)) {
      const name = `export at ${ms} ms`;
      ledger.tried(name);
      const dir = copyOf(analysedDir);
      const target = path.join(tempDir('faults-kill-out'), 'case.tar');
      await killAfter(startCaseCli(dir, ['export', caseId, '--out', target]), ms);
      const store = await consistent(dir, caseId);
      try {
        const entries = store.auditLog(caseId).filter((e) => e.action === 'case.exported');
        if (fs.existsSync(target)) {
          const sha = crypto.createHash('sha256').update(fs.readFileSync(target)).digest('hex');
          expect(entries.map((e) => e.details.sha256)).toEqual([sha]);
        } else {
          const result = await store.exportCase(caseId, target, { actor: 'ann' });
          expect(result.sha256).toBe(crypto.createHash('sha256').update(fs.readFileSync(target)).digest('hex'));
        }
      } finally {
        store.close();
      }
      ledger.held(name);
    }
  });

  it('during archive import: the case is there whole or not at all, and a re-run imports it', { timeout: 600_000 }, async () => {
    for (const ms of moments(spans.import)) {
      const name = `archive import at ${ms} ms`;
      ledger.tried(name);
      const dir = tempDir('faults-kill-import');
      await killAfter(startCaseCli(dir, ['import-archive', archive]), ms);
      const store = await consistent(dir, caseId);
      try {
        if (!store.findCase(caseId)) {
          const imported = await store.importCaseArchive(archive, { actor: 'ann' });
          expect(imported.verify.issues).toEqual([]);
        }
        expect(store.listEvidence(caseId).length).toBe(24);
        expect((await store.verifyCase(caseId)).ok).toBe(true);
      } finally {
        store.close();
      }
      ledger.held(name);
    }
  });
});
