import { describe, it, expect, beforeAll } from 'vitest';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { CaseStore, isCaseStoreError, type CaseStoreErrorCode } from '../../electron/services/case-store';
import { listTarMembers, readTarMember } from '../../electron/services/case-store/tar-archive';
import { canonicalJson } from '../../electron/services/case-store/canonical-json';
import { datasetImages, sha256OfFile, tempDir } from '../fixtures/case-store/case-fixtures';
import { writeCraftedTar, type CraftedMember } from '../fixtures/case-store/craft-tar';

let sourceDir: string;
let caseId: string;
let archive: string;
let archiveMembers: CraftedMember[];
let originalsBefore: string[];

beforeAll(async () => {
  originalsBefore = datasetImages(3).map(sha256OfFile);
  sourceDir = tempDir('case-export-src');
  const store = CaseStore.open(sourceDir);
  try {
    const c = store.createCase({ caseNumber: 'EXP-1', title: 'portable', examiner: 'ann', agency: 'Lab 3' });
    caseId = c.id;
    const { added } = await store.ingest(c.id, datasetImages(3), { actor: 'ann' });
    const a = store.recordAnalysis({
      evidenceId: added[0].id,
      model: { id: 'det', sha256: 'ef'.repeat(32) },
      provider: 'cpu',
      pSynthetic: 0.81,
      verdict: 'synthetic',
      threshold: 0.5,
      durationMs: 4,
      actor: 'ann',
    });
    store.registerModel({ id: 'det', sha256: 'ef'.repeat(32), name: 'detector', card: { version: 1 } }, 'ann');
    const heatmap = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#00f' } }).png().toBuffer();
    await store.recordExplanation({ analysisId: a.id, method: 'grad-cam', parameters: { layer: 'out_relu' }, heatmap, actor: 'ann' });
    store.addNote({ caseId: c.id, evidenceId: added[1].id, body: 'from the USB stick', author: 'ann' });
    store.tagEvidence(added[2].id, 'priority', 'ann');
    archive = path.join(tempDir('case-archive'), 'case.tar');
    const result = await store.exportCase(c.id, archive, { actor: 'ann' });
    expect(result.sha256).toBe(sha256OfFile(archive));
    const exported = store.auditLog(c.id).at(-1)!;
    expect(exported.action).toBe('case.exported');
    expect(exported.details.sha256).toBe(result.sha256);
  } finally {
    store.close();
  }
  archiveMembers = [];
  for (const m of await listTarMembers(archive)) {
    archiveMembers.push({ name: m.name, data: await readTarMember(archive, m, 1 << 26) });
  }
});

/** Everything under a folder, to show a refused import wrote nothing. */
function listing(dir: string): string[] {
  return fs.existsSync(dir) ? fs.readdirSync(dir, { recursive: true }).map(String).sort() : [];
}

async function expectRefused(file: string, code: CaseStoreErrorCode, mustNotExist: (dataDir: string) => string[] = () => []): Promise<void> {
  const dataDir = tempDir('case-import');
  const store = CaseStore.open(dataDir);
  try {
    const before = listing(dataDir);
    const error = await store.importCaseArchive(file, { actor: 'bob' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isCaseStoreError(error) ? error.code : error).toBe(code);
    expect(store.listCases()).toEqual([]);
    expect(listing(dataDir)).toEqual(before);
  } finally {
    store.close();
  }
  for (const p of mustNotExist(dataDir)) expect(fs.existsSync(p), p).toBe(false);
}

function variant(members: CraftedMember[]): string {
  return writeCraftedTar(path.join(tempDir('case-hostile-archive'), 'a.tar'), members);
}

describe('export and import of a case', () => {
  it('moves a case to another store intact: rows, files, heatmap, audit chain; then verifies it', async () => {
    const targetDir = tempDir('case-import');
    const archiveBefore = sha256OfFile(archive);
    const store = CaseStore.open(targetDir);
    const origin = CaseStore.open(sourceDir);
    try {
      const result = await store.importCaseArchive(archive, { actor: 'bob' });
      expect(result.verify.issues).toEqual([]);
      expect(result.verify.ok).toBe(true);
      expect(result).toMatchObject({ caseId, caseNumber: 'EXP-1', evidence: 3, archiveSha256: archiveBefore });
      expect(store.getCase(caseId)).toEqual(origin.getCase(caseId));
      expect(store.listEvidence(caseId)).toEqual(origin.listEvidence(caseId));
      expect(store.listAnalyses(caseId)).toEqual(origin.listAnalyses(caseId));
      expect(store.listExplanations(caseId)).toEqual(origin.listExplanations(caseId));
      expect(store.listNotes(caseId)).toEqual(origin.listNotes(caseId));
      expect(store.listTags(caseId)).toEqual(origin.listTags(caseId));
      expect(store.listModels().map((m) => m.id)).toEqual(['det']);
      const originChain = origin.auditLog(caseId).map(({ seq: _s, ...e }) => e);
      const importedChain = store.auditLog(caseId).map(({ seq: _s, ...e }) => e);
      // The exported chain ends before its own "case.exported" entry; the import appends "case.imported".
      expect(importedChain.slice(0, -1)).toEqual(originChain.slice(0, -1));
      expect(importedChain.at(-1)).toMatchObject({ action: 'case.imported', actor: 'bob', details: { sha256: archiveBefore } });
      for (const e of store.listEvidence(caseId)) {
        const file = store.evidenceFilePath(e);
        expect(sha256OfFile(file)).toBe(e.sha256);
        expect(fs.statSync(file).mode & 0o777).toBe(0o444);
      }
      expect(sha256OfFile(archive)).toBe(archiveBefore);

      await expect(store.importCaseArchive(archive, { actor: 'bob' })).rejects.toMatchObject({ code: 'CASE_EXISTS' });
    } finally {
      store.close();
      origin.close();
    }
  });

  it('never overwrites an existing file, and refuses to export a case that fails verification unless forced', async () => {
    const dir = tempDir('case-export');
    fs.cpSync(sourceDir, dir, { recursive: true });
    const store = CaseStore.open(dir);
    try {
      await expect(store.exportCase(caseId, archive, { actor: 'ann' })).rejects.toMatchObject({ code: 'OUTPUT_EXISTS' });
      const file = store.evidenceFilePath(store.listEvidence(caseId)[0]);
      fs.chmodSync(file, 0o644);
      fs.appendFileSync(file, 'x');
      const out = path.join(dir, 'damaged.tar');
      await expect(store.exportCase(caseId, out, { actor: 'ann' })).rejects.toMatchObject({ code: 'ARCHIVE_HASH_MISMATCH' });
      expect(fs.existsSync(out)).toBe(false);
      expect(fs.readdirSync(dir).filter((n) => n.includes('.partial'))).toEqual([]);
    } finally {
      store.close();
    }
  });
});

describe('a hostile or damaged archive is refused without writing anything', () => {
  it('refuses a member that climbs out with ../', async () => {
    const name = `evil-${crypto.randomUUID()}.txt`;
    await expectRefused(variant([...archiveMembers, { name: `../../../${name}`, data: 'pwned' }]), 'ARCHIVE_HOSTILE_PATH', (dataDir) => [
      // Where the member would land from the staging folder, the case folder or the data folder.
      path.join(dataDir, name),
      path.join(path.dirname(dataDir), name),
      path.resolve(dataDir, 'cases', name),
    ]);
  });

  it('refuses an absolute member path', async () => {
    const target = path.join(tempDir('case-abs'), 'evil.txt');
    await expectRefused(variant([{ name: target, data: 'pwned' }, ...archiveMembers]), 'ARCHIVE_HOSTILE_PATH', () => [target]);
  });

  it('refuses an evidence member that is a symlink, and one that is a hard link', async () => {
    const evidenceName = archiveMembers.find((m) => m.name.startsWith('evidence/'))!.name;
    const withLink = archiveMembers.map((m) => (m.name === evidenceName ? { name: m.name, type: '2', linkName: '/etc/passwd' } : m));
    await expectRefused(variant(withLink), 'ARCHIVE_LINK_MEMBER');
    const withHardLink = archiveMembers.map((m) => (m.name === evidenceName ? { name: m.name, type: '1', linkName: 'case.json' } : m));
    await expectRefused(variant(withHardLink), 'ARCHIVE_LINK_MEMBER');
  });

  it('refuses a device member', async () => {
    await expectRefused(variant([...archiveMembers, { name: 'evidence/null', type: '3' }]), 'ARCHIVE_SPECIAL_MEMBER');
  });

  it('refuses a member a case archive never holds', async () => {
    await expectRefused(variant([...archiveMembers, { name: 'autorun.sh', data: 'rm -rf /' }]), 'ARCHIVE_INVALID');
  });

  it('refuses an evidence file whose bytes do not match the manifest', async () => {
    const altered = archiveMembers.map((m) => {
      if (!m.name.startsWith('evidence/')) return m;
      const data = Buffer.from(m.data as Uint8Array);
      data[data.length - 1] ^= 1;
      return { ...m, data };
    });
    await expectRefused(variant(altered), 'ARCHIVE_HASH_MISMATCH');
  });

  it('refuses a case whose id would be a path, even with a consistent manifest', async () => {
    await expectRefused(variant(rewriteCaseJson((data) => ({ ...data, case: { ...data.case, id: '../../escape' } }))), 'ARCHIVE_INVALID');
  });

  it('refuses rows the audit chain does not vouch for, even with a consistent manifest', async () => {
    const forged = rewriteCaseJson((data) => ({
      ...data,
      analyses: data.analyses.map((a: Record<string, unknown>) => ({ ...a, pSynthetic: 0.01, verdict: 'real' })),
    }));
    await expectRefused(variant(forged), 'ARCHIVE_AUDIT_BROKEN');
  });
});

/** Rewrites case.json and fixes up the manifest hash, as a forger would. */
function rewriteCaseJson(edit: (data: any) => unknown): CraftedMember[] {
  const caseJson = archiveMembers.find((m) => m.name === 'case.json')!;
  const newJson = Buffer.from(canonicalJson(edit(JSON.parse(Buffer.from(caseJson.data as Uint8Array).toString('utf8')))));
  const manifestMember = archiveMembers.find((m) => m.name === 'manifest.json')!;
  const manifest = JSON.parse(Buffer.from(manifestMember.data as Uint8Array).toString('utf8'));
  for (const f of manifest.files) {
    if (f.path === 'case.json') {
      f.sha256 = crypto.createHash('sha256').update(newJson).digest('hex');
      f.size = newJson.length;
    }
  }
  return archiveMembers.map((m) =>
    m.name === 'case.json' ? { name: m.name, data: newJson } : m.name === 'manifest.json' ? { name: m.name, data: JSON.stringify(manifest) } : m,
  );
}

describe('originals', () => {
  it('are byte-identical after ingest, export and import', () => {
    expect(datasetImages(3).map(sha256OfFile)).toEqual(originalsBefore);
  });
});
