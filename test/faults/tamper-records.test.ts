// Tampering with every table and stored file kind, as someone with the data folder and the sqlite3
// shell could: drop the guarding triggers, edit, and leave. Verify must name what changed, on the store
// (`case verify`, `case verify --global`) and inside an exported archive whose manifest was recomputed.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCaseCommand } from '../../electron/cli/case-command';
import { CaseStore, isCaseStoreError, type VerifyIssue } from '../../electron/services/case-store';
import { canonicalJson } from '../../electron/services/case-store/canonical-json';
import { listTarMembers, readTarMember } from '../../electron/services/case-store/tar-archive';
import { datasetImages, tempDir } from '../fixtures/case-store/case-fixtures';
import { writeCraftedTar, type CraftedMember } from '../fixtures/case-store/craft-tar';
import { faultLedger } from './fault-ledger';

let baseDir: string;
let caseId: string;
let closedCaseId: string;
let evidenceIds: string[];
let analysisId: string;
let explanationId: string;
let heatmapPath: string;
let unreadableId: string;
let findingId: string;
let reportId: string;
let reportPath: string;
let archiveMembers: CraftedMember[];
const ledger = faultLedger('tamper');

beforeAll(async () => {
  baseDir = tempDir('faults-tamper-base');
  const store = CaseStore.open(baseDir);
  try {
    const c = store.createCase({ caseNumber: 'T-1', title: 'tamper', examiner: 'ann', agency: 'Lab 1' });
    caseId = c.id;
    evidenceIds = (await store.ingest(c.id, datasetImages(3), { actor: 'ann' })).added.map((e) => e.id);
    analysisId = store.recordAnalysis({
      evidenceId: evidenceIds[0],
      model: { id: 'det', sha256: 'ef'.repeat(32) },
      provider: 'cpu',
      pSynthetic: 0.8,
      verdict: 'synthetic',
      threshold: 0.5,
      durationMs: 4,
      actor: 'ann',
    }).id;
    store.registerModel({ id: 'det', sha256: 'ef'.repeat(32), name: 'detector', card: { version: 1 } }, 'ann');
    store.setSetting('engine.provider', 'cpu', 'ann');
    const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#00f' } }).png().toBuffer();
    const x = await store.recordExplanation({ analysisId, method: 'gradcam', parameters: { layer: 'block_12_add' }, heatmap: png, actor: 'ann' });
    explanationId = x.id;
    heatmapPath = x.heatmapPath!;
    store.addNote({ caseId, evidenceId: evidenceIds[1], body: 'from the USB stick', author: 'ann' });
    store.tagEvidence(evidenceIds[2], 'priority', 'ann');
    // The workspace's edits: a description given later, and a file kept although its pixels do not decode.
    store.updateCase(caseId, { description: 'seized phone, camera roll', agency: 'Lab 2' }, 'ann');
    const cut = path.join(tempDir('faults-tamper-cut'), 'cut.png');
    fs.writeFileSync(cut, fs.readFileSync(datasetImages(5)[4]).subarray(0, 500));
    const unreadable = (await store.ingest(caseId, [cut], { actor: 'ann' })).added[0];
    expect(unreadable.unreadableReason).toBeTruthy();
    unreadableId = unreadable.id;
    findingId = store.recordProvenanceFinding({
      evidenceId: evidenceIds[0],
      conclusion: 'generator-traces',
      headline: 'Likely generated: generator chunk',
      c2paState: 'absent',
      report: { finding: { conclusion: 'generator-traces', headline: 'Likely generated: generator chunk' }, c2pa: { state: 'absent' } },
      readerVersions: { exifr: '7.1.3' },
      images: { spectrum: 'ab'.repeat(32), ela: null },
      actor: 'ann',
    }).id;
    const report = await store.recordReport({
      id: crypto.randomUUID(),
      caseId,
      pageCount: 2,
      outputPath: null,
      evidenceIds: [evidenceIds[0]],
      exportedAt: '2026-02-01T00:00:00.000Z',
      exportedBy: 'ann',
      auditHead: { index: 0, hash: store.auditLog(caseId)[0].hash },
      verifyOk: true,
      signed: false,
      bytes: Buffer.from('%PDF-1.3\n% the bytes of an issued report, for the tamper cases\n'),
    });
    reportId = report.id;
    reportPath = report.storedPath;
    const closed = store.createCase({ caseNumber: 'T-2', title: 'closed one', examiner: 'bob' });
    // Closed, reopened and closed again: the row's closedAt is the last close.
    store.closeCase(closed.id, 'bob');
    store.reopenCase(closed.id, 'bob');
    closedCaseId = store.closeCase(closed.id, 'bob').id;
    const archive = path.join(tempDir('faults-tamper-archive'), 'case.tar');
    await store.exportCase(caseId, archive, { actor: 'ann' });
    archiveMembers = [];
    for (const m of await listTarMembers(archive)) archiveMembers.push({ name: m.name, data: await readTarMember(archive, m, 1 << 26) });
  } finally {
    store.close();
  }
});

function copyOfStore(): string {
  const dir = tempDir('faults-tamper');
  fs.cpSync(baseDir, dir, { recursive: true });
  return dir;
}

/** Every guard off, as a forger would begin. */
const DROP_GUARDS = ['evidence', 'analyses', 'explanations', 'reports', 'provenance']
  .flatMap((t) => [`DROP TRIGGER ${t}_no_update;`, `DROP TRIGGER ${t}_no_delete;`])
  .join(' ');

function tamper(dataDir: string, sql: string): void {
  const raw = new Database(path.join(dataDir, 'cases.sqlite'));
  try {
    raw.exec(sql);
  } finally {
    raw.close();
  }
}

async function cli(dataDir: string, argv: string[]): Promise<{ code: number; out: any[]; err: unknown[] }> {
  const out: any[] = [];
  const err: unknown[] = [];
  const code = await runCaseCommand(argv, { dataDir, json: true, print: (o) => out.push(o), printError: (o) => err.push(o) });
  return { code, out, err };
}

interface TamperCase {
  name: string;
  sql?: () => string;
  files?: (dataDir: string) => void | Promise<void>;
  /** Which verify: a case's or the global chain's. */
  target?: 'case' | 'closed-case' | 'global';
  expected: () => Partial<VerifyIssue> & { kind: string };
}

const u = (table: string, set: string, where = '1') => () => `${DROP_GUARDS} UPDATE ${table} SET ${set} WHERE ${where};`;

const STORE_CASES: TamperCase[] = [
  { name: 'case title', sql: u('cases', "title = 'other'"), expected: () => ({ kind: 'case-row-altered', fields: ['title'] }) },
  { name: 'case examiner', sql: u('cases', "examiner = 'mallory'"), expected: () => ({ kind: 'case-row-altered', fields: ['examiner'] }) },
  { name: 'case agency', sql: u('cases', "agency = 'Lab 9'"), expected: () => ({ kind: 'case-row-altered', fields: ['agency'] }) },
  { name: 'case number', sql: () => `UPDATE cases SET case_number = 'T-9' WHERE id = '${caseId}'`, expected: () => ({ kind: 'case-row-altered', fields: ['caseNumber'] }) },
  { name: 'case created_at', sql: u('cases', "created_at = '2020-01-01T00:00:00.000Z'"), expected: () => ({ kind: 'case-row-altered', fields: ['createdAt'] }) },
  { name: 'open case given a closed_at', sql: () => `UPDATE cases SET closed_at = '2030-01-01T00:00:00.000Z' WHERE id = '${caseId}'`, expected: () => ({ kind: 'case-row-altered', fields: ['closedAt'] }) },
  {
    name: 'closed case closed_at moved',
    target: 'closed-case',
    sql: () => `UPDATE cases SET closed_at = '2030-01-01T00:00:00.000Z' WHERE id = '${closedCaseId}'`,
    expected: () => ({ kind: 'case-row-altered', fields: ['closedAt'] }),
  },
  { name: 'closed case reopened', target: 'closed-case', sql: () => `UPDATE cases SET closed_at = NULL WHERE id = '${closedCaseId}'`, expected: () => ({ kind: 'case-row-altered', fields: ['closedAt'] }) },
  { name: 'case description', sql: () => `UPDATE cases SET description = 'a laptop' WHERE id = '${caseId}'`, expected: () => ({ kind: 'case-row-altered', fields: ['description'] }) },
  { name: 'case updated_at', sql: () => `UPDATE cases SET updated_at = '2020-01-01T00:00:00.000Z' WHERE id = '${caseId}'`, expected: () => ({ kind: 'case-row-altered', fields: ['updatedAt'] }) },
  { name: 'case agency back to its first value', sql: () => `UPDATE cases SET agency = 'Lab 1' WHERE id = '${caseId}'`, expected: () => ({ kind: 'case-row-altered', fields: ['agency'] }) },
  {
    name: 'evidence unreadable_reason cleared',
    sql: () => `${DROP_GUARDS} UPDATE evidence SET unreadable_reason = NULL WHERE id = '${unreadableId}';`,
    expected: () => ({ kind: 'evidence-row-altered', evidenceId: unreadableId, fields: ['unreadableReason'] }),
  },
  {
    name: 'evidence given an unreadable_reason',
    sql: () => `${DROP_GUARDS} UPDATE evidence SET unreadable_reason = 'TRUNCATED' WHERE id = '${evidenceIds[0]}';`,
    expected: () => ({ kind: 'evidence-row-altered', evidenceId: evidenceIds[0], fields: ['unreadableReason'] }),
  },
  { name: 'evidence ingested_by', sql: u('evidence', "ingested_by = 'mallory'"), expected: () => ({ kind: 'evidence-row-altered', fields: ['ingestedBy'] }) },
  { name: 'evidence ingested_at', sql: u('evidence', "ingested_at = '2020-01-01T00:00:00.000Z'"), expected: () => ({ kind: 'evidence-row-altered', fields: ['ingestedAt'] }) },
  { name: 'evidence mime_type', sql: u('evidence', "mime_type = 'image/gif'"), expected: () => ({ kind: 'evidence-row-altered', fields: ['mimeType'] }) },
  { name: 'evidence width', sql: u('evidence', 'width = 1'), expected: () => ({ kind: 'evidence-row-altered', fields: ['width'] }) },
  { name: 'evidence original_path', sql: u('evidence', "original_path = '/elsewhere.png'"), expected: () => ({ kind: 'evidence-row-altered', fields: ['originalPath'] }) },
  { name: 'evidence source_modified_at', sql: u('evidence', "source_modified_at = '2001-01-01T00:00:00.000Z'"), expected: () => ({ kind: 'evidence-row-altered', fields: ['sourceModifiedAt'] }) },
  { name: 'analysis created_by', sql: u('analyses', "created_by = 'mallory'"), expected: () => ({ kind: 'analysis-row-altered', fields: ['createdBy'] }) },
  { name: 'analysis created_at', sql: u('analyses', "created_at = '2020-01-01T00:00:00.000Z'"), expected: () => ({ kind: 'analysis-row-altered', fields: ['createdAt'] }) },
  { name: 'analysis verdict', sql: u('analyses', "p_synthetic = 0.1, verdict = 'real'"), expected: () => ({ kind: 'analysis-row-altered', fields: ['pSynthetic', 'verdict'] }) },
  { name: 'analysis model', sql: u('analyses', "model_sha256 = '" + '00'.repeat(32) + "'"), expected: () => ({ kind: 'analysis-row-altered', fields: ['model'] }) },
  { name: 'explanation method', sql: u('explanations', "method = 'lime'"), expected: () => ({ kind: 'explanation-row-altered', explanationId, fields: ['method'] }) },
  { name: 'explanation parameters', sql: u('explanations', `parameters = '{"layer":"conv1"}'`), expected: () => ({ kind: 'explanation-row-altered', fields: ['parameters'] }) },
  { name: 'explanation parameters not JSON', sql: u('explanations', "parameters = '{not json'"), expected: () => ({ kind: 'explanation-row-altered', fields: ['parameters'] }) },
  { name: 'explanation created_by', sql: u('explanations', "created_by = 'mallory'"), expected: () => ({ kind: 'explanation-row-altered', fields: ['createdBy'] }) },
  { name: 'explanation row deleted', sql: () => `${DROP_GUARDS} DELETE FROM explanations;`, expected: () => ({ kind: 'explanation-row-missing', explanationId }) },
  {
    name: 'explanation row added without an entry',
    sql: () =>
      `INSERT INTO explanations (id, analysis_id, method, parameters, heatmap_path, heatmap_sha256, created_at, created_by)
       VALUES ('${crypto.randomUUID()}', '${analysisId}', 'gradcam', '{}', NULL, NULL, '2026-01-01T00:00:00.000Z', 'mallory')`,
    expected: () => ({ kind: 'explanation-row-unaudited' }),
  },
  {
    name: 'heatmap replaced, path and hash updated',
    files: async (dir) => {
      const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#f00' } }).png().toBuffer();
      const sha = crypto.createHash('sha256').update(png).digest('hex');
      const target = path.join(dir, 'cases', caseId, 'explanations', `${sha}.png`);
      fs.writeFileSync(target, png);
      fs.chmodSync(target, 0o444);
      tamper(dir, `${DROP_GUARDS} UPDATE explanations SET heatmap_path = 'explanations/${sha}.png', heatmap_sha256 = '${sha}';`);
    },
    expected: () => ({ kind: 'explanation-row-altered', explanationId, fields: ['heatmapPath', 'heatmapSha256'] }),
  },
  {
    name: 'heatmap file bytes changed',
    files: (dir) => {
      const file = path.join(dir, 'cases', caseId, heatmapPath);
      fs.chmodSync(file, 0o644);
      fs.appendFileSync(file, Buffer.from([0]));
      fs.chmodSync(file, 0o444);
    },
    expected: () => ({ kind: 'heatmap-modified', explanationId }),
  },
  {
    name: 'evidence file swapped, mode restored',
    files: (dir) => {
      const file = fs.readdirSync(path.join(dir, 'cases', caseId, 'evidence')).map((n) => path.join(dir, 'cases', caseId, 'evidence', n))[0];
      fs.chmodSync(file, 0o644);
      fs.writeFileSync(file, fs.readFileSync(datasetImages(4)[3]));
      fs.chmodSync(file, 0o444);
    },
    expected: () => ({ kind: 'evidence-modified' }),
  },
  { name: 'note body', sql: () => `UPDATE notes SET body = 'found at the scene'`, expected: () => ({ kind: 'note-row-altered', fields: ['body'] }) },
  { name: 'note deleted', sql: () => `DELETE FROM notes`, expected: () => ({ kind: 'note-row-missing' }) },
  {
    name: 'tag added without an entry',
    sql: () => `INSERT INTO tags (evidence_id, tag, created_at, created_by) VALUES ('${evidenceIds[0]}', 'cleared', '2026-01-01T00:00:00.000Z', 'mallory')`,
    expected: () => ({ kind: 'tag-row-unaudited', tag: 'cleared' }),
  },
  { name: 'tag removed without an entry', sql: () => `DELETE FROM tags`, expected: () => ({ kind: 'tag-row-missing', tag: 'priority' }) },
  {
    name: 'provenance headline',
    sql: () => `${DROP_GUARDS} UPDATE provenance_findings SET headline = 'Camera original';`,
    expected: () => ({ kind: 'provenance-row-altered', findingId, fields: ['headline'] }),
  },
  {
    name: 'provenance report edited, stored hash kept',
    sql: () => `${DROP_GUARDS} UPDATE provenance_findings SET report = json_set(report, '$.finding.conclusion', 'camera-original');`,
    expected: () => ({ kind: 'provenance-row-altered', findingId, fields: ['reportSha256'] }),
  },
  {
    name: 'provenance created_by',
    sql: () => `${DROP_GUARDS} UPDATE provenance_findings SET created_by = 'mallory';`,
    expected: () => ({ kind: 'provenance-row-altered', findingId, fields: ['createdBy'] }),
  },
  { name: 'provenance row deleted', sql: () => `${DROP_GUARDS} DELETE FROM provenance_findings;`, expected: () => ({ kind: 'provenance-row-missing', findingId }) },
  { name: 'report verify_ok flipped', sql: () => `${DROP_GUARDS} UPDATE reports SET verify_ok = 0;`, expected: () => ({ kind: 'report-row-altered', reportId, fields: ['verifyOk'] }) },
  { name: 'report exported_by', sql: () => `${DROP_GUARDS} UPDATE reports SET exported_by = 'mallory';`, expected: () => ({ kind: 'report-row-altered', reportId, fields: ['exportedBy'] }) },
  { name: 'report row deleted', sql: () => `${DROP_GUARDS} DELETE FROM reports;`, expected: () => ({ kind: 'report-row-missing', reportId }) },
  {
    name: 'report row added without an entry',
    sql: () =>
      `INSERT INTO reports (id, case_id, sha256, size_bytes, page_count, stored_path, output_path, evidence_ids, exported_at, exported_by, audit_head_index, audit_head_hash, verify_ok, signed)
       VALUES ('${crypto.randomUUID()}', '${caseId}', '${'cd'.repeat(32)}', 10, 1, 'reports/x.pdf', NULL, '[]', '2026-01-01T00:00:00.000Z', 'mallory', NULL, NULL, 1, 0)`,
    expected: () => ({ kind: 'report-row-unaudited' }),
  },
  {
    name: 'report file bytes changed, mode restored',
    files: (dir) => {
      const file = path.join(dir, 'cases', caseId, ...reportPath.split('/'));
      fs.chmodSync(file, 0o644);
      fs.appendFileSync(file, '% appended\n');
      fs.chmodSync(file, 0o444);
    },
    expected: () => ({ kind: 'report-modified', reportId }),
  },
  { name: 'report file removed', files: (dir) => fs.rmSync(path.join(dir, 'cases', caseId, ...reportPath.split('/'))), expected: () => ({ kind: 'report-missing', reportId }) },
  {
    name: 'closed case: an earlier close time put back',
    target: 'closed-case',
    sql: () => `UPDATE cases SET closed_at = (SELECT at FROM audit_log WHERE chain = '${closedCaseId}' AND action = 'case.closed' ORDER BY chain_index LIMIT 1) WHERE id = '${closedCaseId}'`,
    expected: () => ({ kind: 'case-row-altered', fields: ['closedAt'] }),
  },
  { name: 'a guard trigger dropped, nothing else', sql: () => 'DROP TRIGGER audit_log_no_delete;', expected: () => ({ kind: 'schema-altered', missing: ['trigger audit_log_no_delete'] }) },
  {
    name: 'a trigger added that rewrites verdicts',
    sql: () => `CREATE TRIGGER flip AFTER INSERT ON analyses BEGIN SELECT 1; END;`,
    expected: () => ({ kind: 'schema-altered', unexpected: ['trigger flip'] }),
  },
  { name: 'a trigger replaced by a weaker one', sql: () => `DROP TRIGGER evidence_no_delete; CREATE TRIGGER evidence_no_delete BEFORE DELETE ON evidence BEGIN SELECT 1; END;`, expected: () => ({ kind: 'schema-altered', changed: ['trigger evidence_no_delete'] }) },
  { name: 'global: a setting changed', target: 'global', sql: () => `UPDATE settings SET value = '"webgpu"'`, expected: () => ({ kind: 'setting-row-altered', key: 'engine.provider' }) },
  {
    name: 'global: a setting added without an entry',
    target: 'global',
    sql: () => `INSERT INTO settings (key, value, updated_at) VALUES ('x', '1', '2026-01-01T00:00:00.000Z')`,
    expected: () => ({ kind: 'setting-row-unaudited', key: 'x' }),
  },
  { name: 'global: a model card changed', target: 'global', sql: () => `UPDATE models SET card = '{"version":2}'`, expected: () => ({ kind: 'model-row-altered', modelId: 'det', fields: ['card'] }) },
  { name: 'global: a model removed', target: 'global', sql: () => `DELETE FROM models`, expected: () => ({ kind: 'model-row-missing', modelId: 'det' }) },
  {
    name: 'global: a whole case removed (rows, entries, head, folder)',
    target: 'global',
    sql: () =>
      `${DROP_GUARDS} DROP TRIGGER audit_log_no_delete; DROP TRIGGER audit_heads_no_delete; PRAGMA foreign_keys = OFF;
       DELETE FROM audit_log WHERE chain = '${closedCaseId}'; DELETE FROM audit_heads WHERE chain = '${closedCaseId}';
       DELETE FROM cases WHERE id = '${closedCaseId}';`,
    files: (dir) => fs.rmSync(path.join(dir, 'cases', closedCaseId), { recursive: true, force: true }),
    expected: () => ({ kind: 'audit-sequence-gap' }),
  },
  {
    name: 'global: an audit entry edited',
    target: 'global',
    sql: () => `DROP TRIGGER audit_log_no_update; UPDATE audit_log SET actor = 'mallory' WHERE chain = 'global'`,
    expected: () => ({ kind: 'audit-entry-altered', chain: 'global' }),
  },
];

describe('verify catches edits to every table and stored file kind', () => {
  it('passes the untouched store, case and global chain alike', async () => {
    const dir = copyOfStore();
    for (const argv of [['verify', caseId], ['verify', closedCaseId], ['verify', '--global']]) {
      const r = await cli(dir, argv);
      expect(r.out[0].issues).toEqual([]);
      expect(r.code).toBe(0);
    }
  });

  it.each(STORE_CASES.map((c) => [c.name, c] as const))('%s', async (name, c) => {
    ledger.tried(name);
    const dir = copyOfStore();
    if (c.sql) tamper(dir, c.sql());
    await c.files?.(dir);
    const argv = c.target === 'global' ? ['verify', '--global'] : ['verify', c.target === 'closed-case' ? closedCaseId : caseId];
    const r = await cli(dir, argv);
    expect(r.code).toBe(1);
    expect(r.out[0].ok).toBe(false);
    expect(r.out[0].issues).toContainEqual(expect.objectContaining(c.expected()));
    ledger.held(name);
  });
});

/** Rewrites case.json and fixes up the manifest hash, as a forger would. */
function forgeArchive(edit: (data: any) => unknown): string {
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
  const members = archiveMembers.map((m) =>
    m.name === 'case.json' ? { name: m.name, data: newJson } : m.name === 'manifest.json' ? { name: m.name, data: JSON.stringify(manifest) } : m,
  );
  return writeCraftedTar(path.join(tempDir('faults-forged'), 'forged.tar'), members);
}

const mapAll = (key: string, change: Record<string, unknown>) => (d: any) => ({ ...d, [key]: d[key].map((r: object) => ({ ...r, ...change })) });

const ARCHIVE_CASES: [string, (d: any) => unknown][] = [
  ['case title', (d) => ({ ...d, case: { ...d.case, title: 'other' } })],
  ['case examiner', (d) => ({ ...d, case: { ...d.case, examiner: 'mallory' } })],
  ['case created_at', (d) => ({ ...d, case: { ...d.case, createdAt: '2020-01-01T00:00:00.000Z' } })],
  ['case closed_at', (d) => ({ ...d, case: { ...d.case, closedAt: '2030-01-01T00:00:00.000Z' } })],
  ['evidence ingestedBy', mapAll('evidence', { ingestedBy: 'mallory' })],
  ['evidence ingestedAt', mapAll('evidence', { ingestedAt: '2020-01-01T00:00:00.000Z' })],
  ['analysis createdBy', mapAll('analyses', { createdBy: 'mallory' })],
  ['analysis createdAt', mapAll('analyses', { createdAt: '2020-01-01T00:00:00.000Z' })],
  ['explanation method', mapAll('explanations', { method: 'lime' })],
  ['explanation parameters', mapAll('explanations', { parameters: { layer: 'conv1' } })],
  ['explanation removed', (d) => ({ ...d, explanations: [] })],
  ['note body', mapAll('notes', { body: 'found at the scene' })],
  ['case description', (d) => ({ ...d, case: { ...d.case, description: 'a laptop' } })],
  ['case updatedAt', (d) => ({ ...d, case: { ...d.case, updatedAt: '2020-01-01T00:00:00.000Z' } })],
  ['evidence unreadableReason cleared', mapAll('evidence', { unreadableReason: null })],
  ['provenance headline', mapAll('provenance', { headline: 'Camera original' })],
  ['provenance report edited', mapAll('provenance', { report: { finding: { conclusion: 'camera-original' } } })],
  ['provenance removed', (d) => ({ ...d, provenance: [] })],
  ['tag removed', (d) => ({ ...d, tags: [] })],
];

describe('an archive with a recomputed manifest is refused when its rows were edited', () => {
  it('imports the untouched archive, whose chain names a report it does not carry, and verifies it clean', async () => {
    const dataDir = tempDir('faults-import-clean');
    const store = CaseStore.open(dataDir);
    try {
      const imported = await store.importCaseArchive(forgeArchive((d) => d), { actor: 'eve' });
      expect(imported.verify.issues).toEqual([]);
      expect(store.listReports(imported.caseId)).toEqual([]);
      expect(store.auditLog(imported.caseId).map((e) => e.action)).toContain('report.exported');
      expect(store.listCaseProvenanceFindings(imported.caseId).map((f) => f.id)).toEqual([findingId]);
      expect(store.getCase(imported.caseId)).toMatchObject({ description: 'seized phone, camera roll', agency: 'Lab 2' });
    } finally {
      store.close();
    }
  });

  it.each(ARCHIVE_CASES)('%s', async (name, edit) => {
    ledger.tried(`archive ${name}`);
    const dataDir = tempDir('faults-import');
    const store = CaseStore.open(dataDir);
    try {
      const refusal = await store.importCaseArchive(forgeArchive(edit), { actor: 'eve' }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isCaseStoreError(refusal, 'ARCHIVE_AUDIT_BROKEN'), String(refusal)).toBe(true);
      expect(store.listCases()).toEqual([]);
      expect(fs.readdirSync(path.join(dataDir, 'cases'))).toEqual([]);
    } finally {
      store.close();
    }
    ledger.held(`archive ${name}`);
  });
});

/** A changed value of the same type, different in meaning (JSON is changed semantically, not in spacing). */
function mutate(value: unknown, declared: string): unknown {
  if (value === null) return declared === 'INTEGER' || declared === 'REAL' ? 1 : 'x';
  if (typeof value === 'number') return Number.isInteger(value) && declared !== 'REAL' ? value + 1 : value > 0.99 ? value - 0.001 : value + 0.001;
  const text = String(value);
  try {
    const parsed = JSON.parse(text) as unknown;
    if (parsed !== null && typeof parsed === 'object') return JSON.stringify(Array.isArray(parsed) ? [...parsed, 1] : { ...parsed, tampered: 1 });
    return JSON.stringify([parsed]);
  } catch {
    // not JSON
  }
  if (/^[0-9a-f]{64}$/.test(text)) return text.slice(0, -1) + (text.endsWith('0') ? '1' : '0');
  if (/^\d{4}-\d\d-\d\dT/.test(text)) return `1999${text.slice(4)}`;
  return `${text}x`;
}

/** Every column of every row kind the app writes, one at a time: which row of which table, verified how. */
const COLUMN_TARGETS: { table: string; label?: string; where: () => string; verify: 'case' | 'global' }[] = [
  { table: 'cases', where: () => `id = '${caseId}'`, verify: 'case' },
  { table: 'evidence', where: () => `id = '${evidenceIds[1]}'`, verify: 'case' },
  { table: 'analyses', where: () => `id = '${analysisId}'`, verify: 'case' },
  { table: 'explanations', where: () => `id = '${explanationId}'`, verify: 'case' },
  { table: 'notes', where: () => `case_id = '${caseId}'`, verify: 'case' },
  { table: 'tags', where: () => `evidence_id = '${evidenceIds[2]}'`, verify: 'case' },
  { table: 'evidence', label: 'evidence (unreadable)', where: () => `id = '${unreadableId}'`, verify: 'case' },
  { table: 'provenance_findings', where: () => `id = '${findingId}'`, verify: 'case' },
  { table: 'reports', where: () => `id = '${reportId}'`, verify: 'case' },
  { table: 'audit_log', where: () => `chain = '${caseId}' AND chain_index = 1`, verify: 'case' },
  { table: 'audit_heads', where: () => `chain = '${caseId}'`, verify: 'case' },
  { table: 'models', where: () => `id = 'det'`, verify: 'global' },
  { table: 'settings', where: () => `key = 'engine.provider'`, verify: 'global' },
  { table: 'audit_log', where: () => `chain = 'global' AND chain_index = 0`, verify: 'global' },
];

/** Columns no audit entry vouches for, said plainly (README: what verify cannot prove). */
const NOT_VOUCHED = new Set(['settings.updated_at', 'audit_log.seq']);

function columnCases(): { name: string; table: string; column: string; where: string; verify: 'case' | 'global' }[] {
  const raw = new Database(path.join(baseDir, 'cases.sqlite'), { readonly: true });
  try {
    return COLUMN_TARGETS.flatMap((t) =>
      (raw.prepare(`PRAGMA table_info(${t.table})`).all() as { name: string }[])
        .filter((c) => !NOT_VOUCHED.has(`${t.table}.${c.name}`))
        .map((c) => ({ name: `${t.label ?? t.table}.${c.name} (${t.verify})`, table: t.table, column: c.name, where: t.where(), verify: t.verify })),
    );
  } finally {
    raw.close();
  }
}

describe('every column of every table, changed alone, fails verify', () => {
  it('each column, one at a time', async () => {
    const cases = columnCases();
    expect(cases.length).toBeGreaterThan(60);
    const missed: string[] = [];
    for (const c of cases) {
      ledger.tried(`column ${c.name}`);
      const dir = copyOfStore();
      const raw = new Database(path.join(dir, 'cases.sqlite'));
      try {
        raw.pragma('foreign_keys = OFF');
        raw.exec(`${DROP_GUARDS} DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_heads_forward_only;`);
        const row = raw.prepare(`SELECT ${c.column} AS v, typeof(${c.column}) AS t FROM ${c.table} WHERE ${c.where}`).get() as { v: unknown; t: string };
        const declared = (raw.prepare(`PRAGMA table_info(${c.table})`).all() as { name: string; type: string }[]).find((x) => x.name === c.column)!.type;
        const update = raw.prepare(`UPDATE ${c.table} SET ${c.column} = ? WHERE ${c.where}`);
        try {
          update.run(mutate(row.v, declared));
        } catch (e) {
          const message = (e as Error).message;
          // A flag column's CHECK allows 0 and 1 only: the other one.
          if (/CHECK constraint failed: \w+ IN \(0, 1\)/.test(message) && (row.v === 0 || row.v === 1)) update.run(1 - row.v);
          // A value taken by another row (an index): move it clear of every other row instead.
          else if (/UNIQUE/.test(message) && typeof row.v === 'number') update.run(row.v + 1000);
          else throw e;
        }
        // Put the guards back, so the schema check alone cannot be what catches the edit.
        const fresh = new Database(path.join(baseDir, 'cases.sqlite'), { readonly: true });
        const triggers = fresh.prepare(`SELECT sql FROM sqlite_master WHERE type = 'trigger'`).all() as { sql: string }[];
        fresh.close();
        for (const t of triggers) raw.exec(t.sql.replace(/^CREATE TRIGGER/, 'CREATE TRIGGER IF NOT EXISTS'));
      } finally {
        raw.close();
      }
      const runs = c.verify === 'global' ? [['verify', '--global']] : [['verify', caseId], ['verify', 'T-1']];
      let detected = false;
      for (const argv of runs) {
        const r = await cli(dir, argv);
        if (r.code === 0) {
          detected = false;
          break;
        }
        detected = true;
      }
      if (detected) ledger.held(`column ${c.name}`);
      else missed.push(c.name);
    }
    expect(missed).toEqual([]);
  });
});
