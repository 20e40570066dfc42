// The workspace's service side through the real HTTP transport: uploads ingested like path imports,
// bad files each with their own sentence, a truncated PNG kept but marked unreadable and its failed
// analysis audited, the case's examiner as the actor, case edits, notes, history, thumbnails, and
// explanations reused instead of recorded twice. Real images, the real default detector, a real SQLite file.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { createApiServices, type ApiServices } from '../../electron/services/api-handlers';
import { startHttpServer, type RunningServer } from '../../electron/server/http-server';
import { thumbnailCachePath } from '../../electron/services/evidence-images';
import { removeStaleUploads, uploadsDir } from '../../electron/services/upload-staging';
import type { JobState } from '../../electron/shared/api-contract';

const sources = path.resolve(import.meta.dirname, '../../../shared/datasets');
let services: ApiServices;
let server: RunningServer;
let dataDir: string;

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'forensics-workspace-'));
  const rendererDir = fs.mkdtempSync(path.join(os.tmpdir(), 'forensics-renderer-'));
  fs.writeFileSync(path.join(rendererDir, 'index.html'), '<!doctype html><title>t</title>');
  services = createApiServices({ dataDir });
  server = await startHttpServer({ services, rendererDir, maxUploadBytes: 20 * 1024 * 1024 });
});
afterAll(async () => {
  await server?.close();
  await services?.dispose();
});

async function call(method: string, body: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${server.url}/api/call/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${server.token}` },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}
async function ok(method: string, body: unknown): Promise<any> {
  const r = await call(method, body);
  if (!r.json.ok) throw new Error(`${method}: ${JSON.stringify(r.json.error)}`);
  return r.json.value;
}
async function upload(name: string, bytes: Buffer, token = server.token) {
  const res = await fetch(`${server.url}/api/upload?name=${encodeURIComponent(name)}`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream', authorization: `Bearer ${token}` },
    body: new Uint8Array(bytes),
  });
  return { status: res.status, json: (await res.json()) as any };
}
async function runJob(request: unknown): Promise<JobState> {
  const { jobId } = await ok('jobs.start', request);
  for (;;) {
    const state = await ok('jobs.get', { jobId });
    if (state.status !== 'running') return state;
    await new Promise((r) => setTimeout(r, 100));
  }
}

const realFile = path.join(sources, 'real', fs.readdirSync(path.join(sources, 'real')).find((f) => f.endsWith('.png'))!);

describe('workspace API over the browser transport', () => {
  let caseId: string;
  let goodId: string;
  let truncatedId: string;

  it('creates a case in the examiner’s name, edits, closes and reopens it, each audited', async () => {
    const c = await ok('cases.create', { caseNumber: 'WS-1', title: 'Workspace', examiner: 'Dana Examiner', description: 'seized phone' });
    caseId = c.id;
    expect(c.description).toBe('seized phone');
    const edited = await ok('cases.update', { caseId, title: 'Workspace (edited)', agency: 'Unit 7' });
    expect(edited.title).toBe('Workspace (edited)');
    expect(edited.agency).toBe('Unit 7');
    expect((await ok('cases.close', { caseId })).closedAt).not.toBeNull();
    expect((await ok('cases.reopen', { caseId })).closedAt).toBeNull();
    const audit = await ok('audit.list', { caseId });
    expect(audit.map((e: any) => e.action)).toEqual(['case.created', 'case.updated', 'case.closed', 'case.reopened']);
    expect(new Set(audit.map((e: any) => e.actor))).toEqual(new Set(['Dana Examiner']));
    expect(audit[1].details.changes.title).toEqual({ from: 'Workspace', to: 'Workspace (edited)' });
  });

  it('refuses an upload without the token and one over the size limit', async () => {
    expect((await upload('x.png', Buffer.from('x'), 'wrong')).status).toBe(401);
    const big = await upload('big.png', Buffer.alloc(21 * 1024 * 1024));
    expect(big.status).toBe(413);
    expect(big.json.error.code).toBe('UPLOAD_TOO_LARGE');
  });

  it('ingests uploads as a path import would, with one sentence per bad file and the truncated PNG kept as unreadable', async () => {
    const good = fs.readFileSync(realFile);
    const staged = [
      await upload('photo.png', good),
      await upload('empty.png', Buffer.alloc(0)),
      await upload('notes.png', Buffer.from('this is a text file, not a picture\n'.repeat(20))),
      await upload('photo-copy.png', good),
      await upload('cut.png', good.subarray(0, 500)),
    ];
    for (const s of staged) expect(s.json.ok).toBe(true);
    expect(staged[0].json.value.sha256).toBe(crypto.createHash('sha256').update(good).digest('hex'));
    const job = await runJob({ kind: 'evidence.import', caseId, uploadIds: staged.map((s) => s.json.value.uploadId) });
    expect(job.status).toBe('done');
    const result = job.result as any;
    expect(result.addedItems.map((a: any) => a.name).sort()).toEqual(['cut.png', 'photo.png']);
    const cut = result.addedItems.find((a: any) => a.name === 'cut.png');
    expect(cut.unreadableReason).toMatch(/TRUNCATED|CORRUPT/);
    expect(result.addedItems.find((a: any) => a.name === 'photo.png').unreadableReason).toBeNull();
    expect(result.failed.map((f: any) => f.code).sort()).toEqual(['EMPTY_FILE', 'NOT_AN_IMAGE']);
    expect(result.failed.find((f: any) => f.code === 'EMPTY_FILE').message).toBe('(uploaded) empty.png is empty (0 bytes); there is nothing to keep as evidence.');
    // Never the server's staging path in what the examiner reads.
    for (const f of result.failed) expect(f.message).not.toContain(dataDir);
    expect(result.duplicateItems).toEqual([expect.objectContaining({ path: '(uploaded) photo-copy.png', existingName: 'photo.png' })]);
    // The staging folder is emptied once the import is done.
    expect(fs.readdirSync(path.join(dataDir, 'uploads'))).toEqual([]);

    const evidence = await ok('evidence.list', { caseId });
    goodId = evidence.find((e: any) => e.originalName === 'photo.png').id;
    truncatedId = evidence.find((e: any) => e.originalName === 'cut.png').id;
    expect(evidence.find((e: any) => e.id === truncatedId).unreadableReason).toMatch(/truncated|damaged/i);
    const audit = await ok('audit.list', { caseId });
    const ingested = audit.filter((e: any) => e.action === 'evidence.ingested');
    expect(ingested.length).toBe(2);
    for (const e of ingested) {
      expect(e.actor).toBe('Dana Examiner');
      expect(e.details.origin).toBe('upload');
      expect(e.details.originalPathKnown).toBe(false);
      expect(e.details.originalPath).toMatch(/^\(uploaded\) /);
    }
    expect(audit.filter((e: any) => e.action === 'evidence.refused').length).toBe(2);
    expect(audit.filter((e: any) => e.action === 'evidence.duplicate').length).toBe(1);
    // The chain and the stored copies still verify with the new fields.
    const verified = await ok('audit.verify', { caseId });
    expect(verified.issues).toEqual([]);
    expect(verified.ok).toBe(true);
  });

  it('removes staged uploads that an interrupted session never imported, after a day', async () => {
    const fresh = (await upload('fresh.png', Buffer.from('x'))).json.value.uploadId;
    const old = (await upload('old.png', Buffer.from('y'))).json.value.uploadId;
    const dayAgo = new Date(Date.now() - 25 * 3600 * 1000);
    for (const f of [old, `${old}.json`]) fs.utimesSync(path.join(uploadsDir(dataDir), f), dayAgo, dayAgo);
    expect(removeStaleUploads(dataDir).sort()).toEqual([old, `${old}.json`].sort());
    expect(fs.readdirSync(uploadsDir(dataDir)).sort()).toEqual([fresh, `${fresh}.json`].sort());
    const gone = await call('jobs.start', { kind: 'evidence.import', caseId, uploadIds: [old] });
    expect(gone.status).toBe(200);
    const { jobId } = gone.json.value;
    let state: any;
    do {
      await new Promise((r) => setTimeout(r, 100));
      state = await ok('jobs.get', { jobId });
    } while (state.status === 'running');
    expect(state.status).toBe('failed');
    expect(state.error.message).toContain('upload the file again');
    fs.rmSync(path.join(uploadsDir(dataDir), fresh));
    fs.rmSync(path.join(uploadsDir(dataDir), `${fresh}.json`));
  });

  it('refuses a relative path and an import with nothing in it, in words', async () => {
    const rel = await call('jobs.start', { kind: 'evidence.import', caseId, paths: ['photos/a.jpg'] });
    expect(rel.status).toBe(422);
    expect(rel.json.error.code).toBe('RELATIVE_PATH');
    expect(rel.json.error.message).toContain('"photos/a.jpg" is not a full path');
    const none = await call('jobs.start', { kind: 'evidence.import', caseId });
    expect(none.json.error.message).toBe('Choose at least one file or folder to import.');
    // The browser transport has no native dialog, and says what to use instead.
    const dialog = await call('dialog.openEvidence', {});
    expect(dialog.json.error.code).toBe('NOT_AVAILABLE');
    expect(dialog.json.error.message).toContain('file picker');
  });

  it('serves a thumbnail generated once and cached under the data folder, and the original at full size', async () => {
    const thumb = await ok('evidence.thumbnail', { evidenceId: goodId });
    expect(thumb.dataUrl).toMatch(/^data:image\/webp;base64,/);
    expect(Math.max(thumb.width, thumb.height)).toBeLessThanOrEqual(256);
    const evidence = (await ok('evidence.list', { caseId })).find((e: any) => e.id === goodId);
    const cached = thumbnailCachePath(dataDir, evidence.sha256);
    const mtime = fs.statSync(cached).mtimeMs;
    await ok('evidence.thumbnail', { evidenceId: goodId });
    expect(fs.statSync(cached).mtimeMs).toBe(mtime);
    const original = await ok('evidence.original', { evidenceId: goodId });
    expect(original.width).toBe(evidence.width);
    expect(Buffer.from(original.dataUrl.split(',')[1], 'base64').equals(fs.readFileSync(realFile))).toBe(true);
    const bad = await ok('evidence.thumbnail', { evidenceId: truncatedId });
    expect(bad.dataUrl).toBeNull();
    expect(bad.problem).toMatch(/cannot be decoded/);
  });

  it('records the truncated file’s failed analysis in the audit chain, with its reason, and the good one’s verdict', async () => {
    const job = await runJob({ kind: 'analysis.run', caseId, onlyMissing: true });
    expect(job.status).toBe('done');
    const result = job.result as any;
    expect(result.recorded.map((r: any) => r.evidenceId)).toEqual([goodId]);
    expect(result.failed).toEqual([expect.objectContaining({ evidenceId: truncatedId, code: 'TRUNCATED' })]);
    const failedEntries = (await ok('audit.list', { caseId })).filter((e: any) => e.action === 'analysis.failed');
    expect(failedEntries).toEqual([expect.objectContaining({ actor: 'Dana Examiner', details: expect.objectContaining({ evidenceId: truncatedId, code: 'TRUNCATED' }) })]);
    const history = await ok('evidence.history', { evidenceId: truncatedId });
    expect(history.map((e: any) => e.action)).toEqual(['evidence.ingested', 'analysis.failed']);
  });

  it('saves a note in the examiner’s name and shows it in the item’s history; tags too', async () => {
    const note = await ok('notes.add', { evidenceId: goodId, body: 'Background looks\nre-touched.' });
    expect(note.author).toBe('Dana Examiner');
    expect((await ok('notes.list', { evidenceId: goodId })).map((n: any) => n.body)).toEqual(['Background looks\nre-touched.']);
    await ok('tags.add', { evidenceId: goodId, tag: 'priority' });
    expect(await ok('tags.list', { caseId })).toEqual([{ evidenceId: goodId, tag: 'priority' }]);
    const history = await ok('evidence.history', { evidenceId: goodId });
    expect(history.map((e: any) => e.action)).toEqual(['evidence.ingested', 'evidence.duplicate', 'analysis.recorded', 'note.added', 'tag.added']);
  });

  it('reuses a recorded explanation for the same request and computes only the method whose parameters changed', async () => {
    const first = await runJob({ kind: 'explanation.run', evidenceId: goodId, methods: ['gradcam'] });
    expect(first.status).toBe('done');
    const again = await runJob({ kind: 'explanation.run', evidenceId: goodId, methods: ['gradcam'] });
    expect((again.result as any).explanations).toEqual([{ id: (first.result as any).explanations[0].id, method: 'gradcam', reused: true }]);
    // The layers the model offers travel with the result (the viewer's layer list).
    expect((first.result as any).layersOffered).toContain('out_relu');
    // Another target class is another request: that method alone is computed again.
    const other = await runJob({ kind: 'explanation.run', evidenceId: goodId, methods: ['gradcam'], parameters: { target: 'real' } });
    expect((other.result as any).explanations[0].reused).toBe(false);
    const audit = await ok('audit.list', { caseId });
    expect(audit.filter((e: any) => e.action === 'explanation.recorded').length).toBe(2);
    const listed = await ok('explanations.list', { evidenceId: goodId });
    expect(listed.map((e: any) => [e.method, e.parameters.target])).toEqual([['gradcam', 'real']]);
  });

  it('records each method as soon as it is done, and a cancel keeps only the finished ones', async () => {
    const before = (await ok('audit.list', { caseId })).filter((e: any) => e.action === 'explanation.recorded').length;
    const { jobId } = await ok('jobs.start', { kind: 'explanation.run', evidenceId: goodId, parameters: { target: 'synthetic' } });
    // Wait for the first method's record while the job still runs.
    let first: any;
    for (;;) {
      const state = await ok('jobs.get', { jobId });
      if (state.status !== 'running') throw new Error(`the job ended (${state.status}) before it could be watched`);
      if (state.progress.detail?.recordedId) {
        first = state;
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    const listed = await ok('explanations.list', { evidenceId: goodId });
    expect(listed.map((e: any) => e.id)).toContain(first.progress.detail.recordedId);
    expect((await ok('jobs.cancel', { jobId })).cancelled).toBe(true);
    let state: any;
    do {
      await new Promise((r) => setTimeout(r, 100));
      state = await ok('jobs.get', { jobId });
    } while (state.status === 'running');
    expect(state.status).toBe('cancelled');
    const after = (await ok('audit.list', { caseId })).filter((e: any) => e.action === 'explanation.recorded').length;
    expect(after - before).toBeGreaterThanOrEqual(1);
    expect(after - before).toBeLessThan(5);
  });
});
