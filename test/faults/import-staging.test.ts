// A `case import-archive` killed with SIGKILL while it extracts leaves a staging folder of evidence that
// no row claims. Opening the store removes it, and so does the next import; both say so in the global chain.
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CaseStore } from '../../electron/services/case-store';
import { datasetImages, tempDir } from '../fixtures/case-store/case-fixtures';
import { killWhen, startCaseCli } from './kill-helpers';

let archive: string;

beforeAll(async () => {
  const src = tempDir('faults-staging-src');
  const store = CaseStore.open(src);
  try {
    const c = store.createCase({ caseNumber: 'S-1', title: 'staging', examiner: 'ann' });
    await store.ingest(c.id, datasetImages(60, 'real'), { actor: 'ann' });
    archive = path.join(tempDir('faults-staging-archive'), 'case.tar');
    await store.exportCase(c.id, archive, { actor: 'ann' });
  } finally {
    store.close();
  }
}, 300_000);

function stagingFolders(dataDir: string): string[] {
  const root = path.join(dataDir, 'cases');
  return fs.existsSync(root) ? fs.readdirSync(root).filter((n) => n.startsWith('.import-')) : [];
}

/** Kills an import once its staging folder holds extracted evidence; retries if the import won the race. */
async function killedImport(dataDir: string): Promise<string[]> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const child = startCaseCli(dataDir, ['import-archive', archive]);
    const killed = await killWhen(child, () =>
      stagingFolders(dataDir).some((n) => {
        const evidence = path.join(dataDir, 'cases', n, 'evidence');
        return fs.existsSync(evidence) && fs.readdirSync(evidence).length >= 3;
      }),
    );
    if (killed) return stagingFolders(dataDir);
    // The import finished first: start over in an empty folder.
    fs.rmSync(dataDir, { recursive: true, force: true });
    fs.mkdirSync(dataDir);
  }
  throw new Error('the import finished before it could be killed five times in a row');
}

describe('staging folders of a killed archive import', () => {
  it('are removed when the store next opens, and the removal is audited', async () => {
    const dataDir = tempDir('faults-staging');
    const left = (await killedImport(dataDir)).filter((n) => !n.endsWith('.owner'));
    expect(left.length).toBe(1);
    const store = CaseStore.open(dataDir);
    try {
      expect(stagingFolders(dataDir)).toEqual([]);
      expect(store.abandonedImportsRemoved).toEqual([`cases/${left[0]}`]);
      const entry = store.auditLog('global').find((e) => e.action === 'import.staging-removed');
      expect(entry?.details.folders).toEqual([{ folder: `cases/${left[0]}`, bytes: expect.any(Number) }]);
      expect((entry!.details.folders as { bytes: number }[])[0].bytes).toBeGreaterThan(0);
      expect(store.listCases()).toEqual([]);
      expect(store.verifyGlobal().ok).toBe(true);
      // The import then runs to the end.
      const imported = await store.importCaseArchive(archive, { actor: 'ann' });
      expect(imported.verify.ok).toBe(true);
      expect(stagingFolders(dataDir)).toEqual([]);
    } finally {
      store.close();
    }
  });

  it('are removed by the next import in a store that was already open', async () => {
    const dataDir = tempDir('faults-staging');
    const store = CaseStore.open(dataDir);
    try {
      const left = (await killedImport(dataDir)).filter((n) => !n.endsWith('.owner'));
      expect(left.length).toBe(1);
      const imported = await store.importCaseArchive(archive, { actor: 'ann' });
      expect(imported.verify.ok).toBe(true);
      expect(stagingFolders(dataDir)).toEqual([]);
      expect(store.auditLog('global').filter((e) => e.action === 'import.staging-removed').map((e) => e.details.folders)).toEqual([
        [{ folder: `cases/${left[0]}`, bytes: expect.any(Number) }],
      ]);
    } finally {
      store.close();
    }
  });

  it('leave alone the staging folder of an import that is still running', async () => {
    const dataDir = tempDir('faults-staging');
    const child = startCaseCli(dataDir, ['import-archive', archive]);
    let seen: string[] = [];
    let removedWhileRunning: string[] | undefined;
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    // Open a second store while the first import extracts: it must not take that import's folder away.
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        seen = stagingFolders(dataDir).filter((n) => !n.endsWith('.owner'));
        if (seen.length && fs.existsSync(path.join(dataDir, 'cases', seen[0], 'evidence'))) {
          clearInterval(timer);
          const other = CaseStore.open(dataDir);
          removedWhileRunning = other.abandonedImportsRemoved;
          other.close();
          resolve();
        }
      }, 1);
      void exited.then(() => {
        clearInterval(timer);
        resolve();
      });
    });
    expect(await exited).toBe(0);
    if (removedWhileRunning !== undefined) expect(removedWhileRunning).toEqual([]);
    const store = CaseStore.open(dataDir);
    try {
      expect(store.listCases().map((c) => c.caseNumber)).toEqual(['S-1']);
    } finally {
      store.close();
    }
  });
});
