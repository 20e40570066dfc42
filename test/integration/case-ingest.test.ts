import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { CaseStore, isCaseStoreError, type IngestProgress } from '../../electron/services/case-store';
import { datasetImages, sha256OfFile, snapshotTree, stageImages, tempDir } from '../fixtures/case-store/case-fixtures';

function openStore() {
  return CaseStore.open(tempDir('case-data'));
}

describe('ingest', () => {
  it('copies files and nested folders under their hash, read-only, with exact metadata; originals untouched', async () => {
    const images = datasetImages(6);
    const src = stageImages(images.slice(0, 4));
    fs.mkdirSync(path.join(src, 'nested', 'deeper'), { recursive: true });
    fs.copyFileSync(images[4], path.join(src, 'nested', 'deeper', 'inner.png'));
    const photo = datasetImages(300, 'real').find((f) => f.endsWith('.jpg'))!;
    const before = { ...snapshotTree(src), photo: sha256OfFile(photo) };

    const store = openStore();
    try {
      const c = store.createCase({ caseNumber: 'ING-1', title: 'ingest', examiner: 'ann' });
      const progress: IngestProgress[] = [];
      const result = await store.ingest(c.id, [src, photo], { actor: 'ann', onProgress: (p) => progress.push(p) });
      expect(result.failed).toEqual([]);
      expect(result.duplicates).toEqual([]);
      expect(result.added).toHaveLength(6);

      const inner = result.added.find((e) => e.originalName === 'inner.png')!;
      expect(inner.originalPath).toBe(path.join(src, 'nested', 'deeper', 'inner.png'));
      const jpeg = result.added.find((e) => e.originalPath === photo)!;
      const meta = await sharp(photo).metadata();
      expect(jpeg).toMatchObject({ mimeType: 'image/jpeg', width: meta.width, height: meta.height, sizeBytes: fs.statSync(photo).size });
      expect(jpeg.storedPath).toBe(`evidence/${sha256OfFile(photo)}.jpg`);

      for (const e of result.added) {
        const stored = store.evidenceFilePath(e);
        expect(sha256OfFile(stored)).toBe(e.sha256);
        expect(sha256OfFile(e.originalPath)).toBe(e.sha256);
        expect(fs.statSync(stored).mode & 0o777).toBe(0o444);
        expect(e.mimeType).toMatch(/^image\/(png|jpeg)$/);
      }
      expect(progress[0].phase).toBe('scanning');
      const last = progress[progress.length - 1];
      expect(last).toMatchObject({ phase: 'done', filesDone: 6, filesTotal: 6 });
      expect(last.bytesDone).toBe(last.bytesTotal);
      const copying = progress.filter((p) => p.phase === 'copying').map((p) => p.filesDone);
      expect(copying).toEqual([...copying].sort((a, b) => a - b));

      const audit = store.auditLog(c.id);
      expect(audit.filter((a) => a.action === 'evidence.ingested').map((a) => a.details.evidenceId).sort()).toEqual(
        result.added.map((e) => e.id).sort(),
      );
      expect({ ...snapshotTree(src), photo: sha256OfFile(photo) }).toEqual(before);
      // No temporary copies remain in the case folder.
      expect(fs.readdirSync(path.join(store.dataDir, 'cases', c.id, '.partial'))).toEqual([]);
    } finally {
      store.close();
    }
  });

  it('recognises the same content as a duplicate, within a batch, on a rerun, but not across cases', async () => {
    const [a, b] = datasetImages(2);
    const src = stageImages([a, b]);
    fs.copyFileSync(a, path.join(src, 'same-content-other-name.png'));
    const store = openStore();
    try {
      const c = store.createCase({ caseNumber: 'DUP-1', title: 'dups', examiner: 'ann' });
      const first = await store.ingest(c.id, [src], { actor: 'ann' });
      expect(first.added).toHaveLength(2);
      expect(first.duplicates).toHaveLength(1);
      expect(first.duplicates[0].sha256).toBe(sha256OfFile(a));
      expect(first.duplicates[0].evidenceId).toBe(first.added.find((e) => e.sha256 === sha256OfFile(a))!.id);

      const again = await store.ingest(c.id, [src, a], { actor: 'ann' });
      expect(again.added).toEqual([]);
      expect(again.duplicates).toHaveLength(4);
      expect(store.listEvidence(c.id)).toHaveLength(2);
      expect(fs.readdirSync(path.join(store.dataDir, 'cases', c.id, 'evidence'))).toHaveLength(2);
      expect(store.auditLog(c.id).filter((e) => e.action === 'evidence.duplicate')).toHaveLength(5);

      const other = store.createCase({ caseNumber: 'DUP-2', title: 'other', examiner: 'bob' });
      expect((await store.ingest(other.id, [a], { actor: 'bob' })).added).toHaveLength(1);
    } finally {
      store.close();
    }
  });

  it('reports each bad input clearly and carries on with the rest, hostile names included', async () => {
    const images = datasetImages(5);
    const src = tempDir('case-hostile');
    const hostileNames = ['line\nbreak.png', '-rf --all.png', 'ünïcødé 画像 .png', `${'x'.repeat(240)}.png`, "quote'\"$(touch pwned).png"];
    hostileNames.forEach((name, i) => fs.copyFileSync(images[i], path.join(src, name)));
    fs.writeFileSync(path.join(src, 'notes.txt'), 'not an image');
    fs.writeFileSync(path.join(src, 'fake.png'), 'PNG? no.');
    fs.writeFileSync(path.join(src, 'drawing.svg'), '<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>');
    fs.symlinkSync(images[0], path.join(src, 'link-to-image.png'));
    fs.symlinkSync('/etc', path.join(src, 'link-to-dir'));
    execFileSync('mkfifo', [path.join(src, 'pipe.png')]);
    const missing = path.join(src, 'does-not-exist.png');
    // A name that is not UTF-8 (bytes ff fe), which Linux allows and JavaScript strings cannot carry.
    fs.copyFileSync(images[0], Buffer.concat([Buffer.from(path.join(src, 'latin1-')), Buffer.from([0xff, 0xfe]), Buffer.from('.png')]));
    const before = snapshotTree(src);

    const store = openStore();
    try {
      const c = store.createCase({ caseNumber: 'BAD-1', title: 'bad inputs', examiner: 'ann' });
      // An empty argument must not mean "the working directory".
      const result = await store.ingest(c.id, [src, missing, '', 'nul\0byte.png'], { actor: 'ann' });
      expect(result.added.map((e) => e.originalName).sort()).toEqual([...hostileNames].sort());
      const byName = Object.fromEntries(result.failed.map((f) => [path.basename(f.path), f.code]));
      expect(byName).toEqual({
        'notes.txt': 'NOT_AN_IMAGE',
        'fake.png': 'NOT_AN_IMAGE',
        'drawing.svg': 'UNSUPPORTED_IMAGE_FORMAT',
        'link-to-image.png': 'SOURCE_IS_SYMLINK',
        'link-to-dir': 'SOURCE_IS_SYMLINK',
        'pipe.png': 'SOURCE_NOT_REGULAR_FILE',
        'does-not-exist.png': 'SOURCE_NOT_FOUND',
        'latin1-\ufffd\ufffd.png': 'SOURCE_UNREADABLE',
        '': 'INVALID_ARGUMENT',
        'nul\0byte.png': 'INVALID_ARGUMENT',
      });
      expect(result.failed.find((f) => f.path.includes('latin1'))!.message).toMatch(/not valid UTF-8 \(hex [0-9a-f]*fffe/);
      // Every refusal is on the record: of files that were read, and of what the scan turned away.
      expect(store.auditLog(c.id).filter((e) => e.action === 'evidence.refused')).toHaveLength(result.failed.length);
      expect(fs.existsSync(path.join(process.cwd(), 'pwned'))).toBe(false);
      expect(snapshotTree(src)).toEqual(before);
      expect((await store.verifyCase(c.id)).ok).toBe(true);
    } finally {
      store.close();
    }
  });

  it('stops between files when cancelled, leaving whole records only; a rerun completes the set', async () => {
    const images = datasetImages(12);
    const src = stageImages(images);
    const store = openStore();
    try {
      const c = store.createCase({ caseNumber: 'CAN-1', title: 'cancel', examiner: 'ann' });
      const controller = new AbortController();
      const result = await store.ingest(c.id, [src], {
        actor: 'ann',
        signal: controller.signal,
        onProgress: (p) => {
          if (p.phase === 'copying' && p.filesDone === 4) controller.abort();
        },
      });
      expect(result.cancelled).toBe(true);
      expect(result.added.length).toBeGreaterThanOrEqual(4);
      expect(result.added.length).toBeLessThan(12);
      expect(store.listEvidence(c.id)).toHaveLength(result.added.length);
      expect(fs.readdirSync(path.join(store.dataDir, 'cases', c.id, '.partial'))).toEqual([]);
      const report = await store.verifyCase(c.id);
      expect(report.ok).toBe(true);
      expect(report.unrecordedFiles).toEqual([]);

      const rerun = await store.ingest(c.id, [src], { actor: 'ann' });
      expect(rerun.added.length + rerun.duplicates.length).toBe(12);
      expect(new Set(store.listEvidence(c.id).map((e) => e.sha256)).size).toBe(12);
      expect(store.listEvidence(c.id)).toHaveLength(12);
    } finally {
      store.close();
    }
  });

  it('refuses to ingest into a closed case, and evidence rows cannot be rewritten', async () => {
    const store = openStore();
    try {
      const c = store.createCase({ caseNumber: 'CLO-1', title: 'closed', examiner: 'ann' });
      await store.ingest(c.id, [datasetImages(1)[0]], { actor: 'ann' });
      store.closeCase(c.id, 'ann');
      await expect(store.ingest(c.id, [datasetImages(2)[1]], { actor: 'ann' })).rejects.toMatchObject({ code: 'CASE_CLOSED' });
      const raw = new (await import('better-sqlite3')).default(store.dbFile);
      expect(() => raw.prepare(`UPDATE evidence SET sha256 = ?`).run('0'.repeat(64))).toThrow(/immutable/);
      expect(() => raw.prepare(`DELETE FROM evidence`).run()).toThrow(/immutable/);
      raw.close();
      expect(() => store.createCase({ caseNumber: 'CLO-1', title: 'again', examiner: 'x' })).toThrow(/already in use/);
      expect(() => store.createCase({ caseNumber: ' ', title: 't', examiner: 'x' })).toThrow(/Invalid case/);
    } finally {
      store.close();
    }
  });
});

describe('analyses and explanations', () => {
  it('records which model and provider said what, with a stored heatmap', async () => {
    const store = openStore();
    try {
      const c = store.createCase({ caseNumber: 'AN-1', title: 'analyses', examiner: 'ann' });
      const [evidence] = (await store.ingest(c.id, [datasetImages(1)[0]], { actor: 'ann' })).added;
      const model = { id: 'mobilenet-v2-head', sha256: 'ab'.repeat(32) };
      store.registerModel({ ...model, name: 'MobileNetV2 + head', card: { trainedOn: 'paper subset' } }, 'ann');
      const analysis = store.recordAnalysis({
        evidenceId: evidence.id,
        model,
        provider: 'cpu',
        pSynthetic: 0.93,
        verdict: 'synthetic',
        threshold: 0.5,
        durationMs: 12.5,
        actor: 'ann',
      });
      expect(store.listAnalyses(c.id)).toEqual([analysis]);
      expect(analysis).toMatchObject({ model, provider: 'cpu', pSynthetic: 0.93, verdict: 'synthetic' });

      const heatmap = await sharp({ create: { width: 16, height: 16, channels: 3, background: '#f00' } }).png().toBuffer();
      const explanation = await store.recordExplanation({
        analysisId: analysis.id,
        method: 'grad-cam',
        parameters: { layer: 'out_relu', target: 'synthetic' },
        heatmap,
        actor: 'ann',
      });
      expect(explanation.heatmapPath).toMatch(/^explanations\/[0-9a-f]{64}\.png$/);
      const stored = path.join(store.dataDir, 'cases', c.id, explanation.heatmapPath!);
      expect(fs.readFileSync(stored).equals(heatmap)).toBe(true);
      expect(fs.statSync(stored).mode & 0o777).toBe(0o444);
      expect(store.listExplanations(c.id)).toEqual([explanation]);
      const actions = store.auditLog(c.id).map((e) => e.action);
      expect(actions).toEqual(['case.created', 'evidence.ingested', 'analysis.recorded', 'explanation.recorded']);
      expect(store.auditLog('global').map((e) => e.action)).toEqual(['model.registered']);
      expect((await store.verifyCase(c.id)).ok).toBe(true);

      const bad = (over: Record<string, unknown>) => () =>
        store.recordAnalysis({ evidenceId: evidence.id, model, provider: 'cpu', pSynthetic: 0.5, verdict: 'real', threshold: 0.5, durationMs: 1, actor: 'ann', ...over } as never);
      expect(bad({ pSynthetic: 1.5 })).toThrow(/pSynthetic/);
      expect(bad({ pSynthetic: Number.NaN })).toThrow(/pSynthetic/);
      expect(bad({ model: { id: 'm', sha256: 'nothex' } })).toThrow(/model\.sha256/);
      expect(bad({ evidenceId: 'nope' })).toThrow(expect.objectContaining({ code: 'EVIDENCE_NOT_FOUND' }));
      await expect(
        store.recordExplanation({ analysisId: analysis.id, method: 'lime', parameters: {}, heatmap: Buffer.from('not an image'), actor: 'ann' }),
      ).rejects.toSatisfy((e: unknown) => isCaseStoreError(e, 'NOT_AN_IMAGE'));
      expect(store.listAnalyses(c.id)).toHaveLength(1);
    } finally {
      store.close();
    }
  });
});
