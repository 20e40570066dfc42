// `case export` killed with SIGKILL: an archive under its final name must always have its case.exported
// entry, with the archive's own sha256; a killed export leaves at most a `.partial` file beside it.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CaseStore } from '../../electron/services/case-store';
import { datasetImages, tempDir } from '../fixtures/case-store/case-fixtures';
import { killWhen, startCaseCli } from './kill-helpers';

let baseDir: string;
let caseId: string;

beforeAll(async () => {
  baseDir = tempDir('faults-export-base');
  const store = CaseStore.open(baseDir);
  try {
    const c = store.createCase({ caseNumber: 'E-1', title: 'export', examiner: 'ann' });
    caseId = c.id;
    await store.ingest(c.id, datasetImages(60, 'real'), { actor: 'ann' });
  } finally {
    store.close();
  }
}, 300_000);

function sha256(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

describe('a killed export', () => {
  it('never leaves an archive under its final name without its audit entry', async () => {
    const dataDir = tempDir('faults-export');
    fs.cpSync(baseDir, dataDir, { recursive: true });
    const outDir = tempDir('faults-export-out');
    const target = path.join(outDir, 'case.tar');
    const child = startCaseCli(dataDir, ['export', caseId, '--out', target]);
    // The moment the final name appears is the moment the old code had not yet written its entry.
    await killWhen(child, () => fs.existsSync(target));
    const store = CaseStore.open(dataDir);
    try {
      const exported = store.auditLog(caseId).filter((e) => e.action === 'case.exported');
      expect(fs.existsSync(target), 'the export published its archive').toBe(true);
      expect(exported.map((e) => e.details)).toEqual([expect.objectContaining({ file: target, sha256: sha256(target) })]);
      expect((await store.verifyCase(caseId)).ok).toBe(true);
    } finally {
      store.close();
    }
  });

  it('killed while writing leaves only a .partial file and no entry', async () => {
    const dataDir = tempDir('faults-export');
    fs.cpSync(baseDir, dataDir, { recursive: true });
    const outDir = tempDir('faults-export-out');
    const target = path.join(outDir, 'case.tar');
    const child = startCaseCli(dataDir, ['export', caseId, '--out', target]);
    const killed = await killWhen(child, () => fs.readdirSync(outDir).some((n) => n.endsWith('.partial') && fs.statSync(path.join(outDir, n)).size > 1 << 20));
    expect(killed).toBe(true);
    expect(fs.existsSync(target)).toBe(false);
    const store = CaseStore.open(dataDir);
    try {
      expect(store.auditLog(caseId).filter((e) => e.action === 'case.exported')).toEqual([]);
      expect((await store.verifyCase(caseId)).ok).toBe(true);
      // A fresh export then succeeds and is audited.
      const result = await store.exportCase(caseId, target, { actor: 'ann' });
      expect(result.sha256).toBe(sha256(target));
      expect(store.auditLog(caseId).at(-1)).toMatchObject({ action: 'case.exported', details: { sha256: result.sha256 } });
    } finally {
      store.close();
    }
  });
});
