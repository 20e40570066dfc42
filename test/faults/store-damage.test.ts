// A damaged, truncated or deleted case database; evidence the engine refuses for a stated reason; a
// file name that is not UTF-8. Each gets one sentence with a stable code, and nothing is written.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCaseCommand } from '../../electron/cli/case-command';
import { cliCommands } from '../../electron/cli/cli-commands';
import { CaseStore } from '../../electron/services/case-store';
import { analyzeFiles, type AnalyzeResult } from '../../electron/services/engine/analyze';
import { datasetImages, tempDir } from '../fixtures/case-store/case-fixtures';
import { makeBadInputs } from '../fixtures/bad-inputs/make-bad-inputs';
import { faultLedger } from './fault-ledger';

let baseDir: string;
let caseId: string;
const ledger = faultLedger('store-damage');

beforeAll(async () => {
  baseDir = tempDir('faults-damage-base');
  const store = CaseStore.open(baseDir);
  try {
    const c = store.createCase({ caseNumber: 'D-1', title: 'damage', examiner: 'ann' });
    caseId = c.id;
    await store.ingest(c.id, datasetImages(3), { actor: 'ann' });
  } finally {
    store.close();
  }
});

function copyOfStore(): string {
  const dir = tempDir('faults-damage');
  fs.cpSync(baseDir, dir, { recursive: true });
  return dir;
}

const sha = (file: string) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');

async function caseCli(dataDir: string, argv: string[]) {
  const out: unknown[] = [];
  const err: any[] = [];
  let thrown: unknown;
  const code = await runCaseCommand(argv, { dataDir, json: true, print: (o) => out.push(o), printError: (o) => err.push(o) }).catch((e: unknown) => {
    thrown = e;
    return -1;
  });
  return { code, out, err, thrown };
}

const DAMAGE: [string, (db: string) => void][] = [
  ['header overwritten', (db) => {
    const fd = fs.openSync(db, 'r+');
    fs.writeSync(fd, Buffer.alloc(100, 0x41), 0, 100, 0);
    fs.closeSync(fd);
  }],
  ['truncated to half', (db) => fs.truncateSync(db, Math.floor(fs.statSync(db).size / 2))],
  ['a page in the middle scrambled', (db) => {
    const fd = fs.openSync(db, 'r+');
    const size = fs.statSync(db).size;
    fs.writeSync(fd, crypto.randomBytes(4096), 0, 4096, Math.floor(size / 4096 / 2) * 4096);
    fs.closeSync(fd);
  }],
];

describe('a damaged case database', () => {
  it.each(DAMAGE)('%s: one sentence, exit 1, and the file left exactly as it was', async (name, damage) => {
    ledger.tried(`database ${name}`);
    const dir = copyOfStore();
    const db = path.join(dir, 'cases.sqlite');
    damage(db);
    const before = sha(db);
    for (const argv of [['list'], ['verify', caseId], ['create', '--number', 'X', '--title', 't', '--examiner', 'e']]) {
      const r = await caseCli(dir, argv);
      expect(r.thrown, `${argv[0]} threw instead of answering`).toBeUndefined();
      expect(r.code).toBe(1);
      expect(r.err).toEqual([expect.objectContaining({ error: 'DATABASE_CORRUPT', message: expect.stringContaining(db) })]);
    }
    expect(sha(db)).toBe(before);
    expect(fs.existsSync(`${db}-wal`) ? fs.statSync(`${db}-wal`).size : 0).toBe(0);
    ledger.held(`database ${name}`);
  });
});

describe('a deleted case database', () => {
  it.each([
    ['deleted', (db: string) => fs.rmSync(db)],
    ['emptied', (db: string) => fs.truncateSync(db, 0)],
  ] as const)('%s while case folders remain: says where it was expected and does not recreate it', async (name, damage) => {
    ledger.tried(`database ${name}`);
    const dir = copyOfStore();
    const db = path.join(dir, 'cases.sqlite');
    damage(db);
    const r = await caseCli(dir, ['show', caseId]);
    expect(r.code).toBe(1);
    expect(r.err).toEqual([expect.objectContaining({ error: 'DATABASE_MISSING', message: expect.stringContaining(db) })]);
    expect(fs.statSync(db, { throwIfNoEntry: false })?.size ?? 0).toBe(0);
    ledger.held(`database ${name}`);
  });

  it('a first run in an empty folder still creates the store', async () => {
    const dir = tempDir('faults-first-run');
    const r = await caseCli(dir, ['list']);
    expect(r.code).toBe(0);
    expect(fs.existsSync(path.join(dir, 'cases.sqlite'))).toBe(true);
    expect(() => CaseStore.open(dir).close()).not.toThrow();
  });
});

describe('the engine\'s reasons and odd names', () => {
  it('case analyze keeps the engine\'s reason code for each stored file it refuses', async () => {
    ledger.tried('case analyze reasons');
    const dataDir = tempDir('faults-reasons');
    const corpus = tempDir('faults-reasons-corpus');
    const cases = await makeBadInputs(corpus);
    const store = CaseStore.open(dataDir);
    let id: string;
    let ingested: Map<string, string>;
    try {
      id = store.createCase({ caseNumber: 'R-1', title: 'reasons', examiner: 'ann' }).id;
      const result = await store.ingest(id, cases.map((c) => path.join(corpus, c.file)), { actor: 'ann' });
      ingested = new Map(result.added.map((e) => [e.originalName, e.id]));
    } finally {
      store.close();
    }
    const out: any[] = [];
    const code = await cliCommands.case.run(['analyze', id], { dataDir, json: true, print: (o) => out.push(o), printError: () => undefined });
    const failed = new Map<string, string>(out[0].failed.map((f: { originalName: string; error: string }) => [f.originalName, f.error]));
    const refusedByEngine = cases.filter((c) => c.expect !== 'ok' && ingested.has(c.file));
    // Ingest admits some files the engine refuses (a decompression bomb's header is a valid image).
    expect(refusedByEngine.length).toBeGreaterThan(0);
    expect(code).toBe(1);
    for (const c of refusedByEngine) expect(failed.get(c.file), c.file).toBe(c.expect);
    expect([...failed.values()]).not.toContain('ANALYSIS_FAILED');
    ledger.held('case analyze reasons');
  });

  it('analyze reports a file whose name is not UTF-8 as such, not as "No such file"', async () => {
    ledger.tried('non-UTF-8 name');
    const dir = tempDir('faults-names');
    const bytes = Buffer.concat([Buffer.from(dir + path.sep), Buffer.from([0x66, 0xff, 0xfe, 0x2e, 0x70, 0x6e, 0x67])]);
    fs.writeFileSync(bytes, fs.readFileSync(datasetImages(1)[0]));
    const results: AnalyzeResult[] = [];
    for await (const r of analyzeFiles([dir], { dataDir: tempDir('faults-names-data') })) results.push(r);
    expect(results).toEqual([
      { path: expect.any(String), error: { code: 'UNREADABLE_NAME', message: expect.stringContaining('66fffe2e706e67') } },
    ]);
    expect((results[0] as { error: { message: string } }).error.message).not.toMatch(/No such file/);
    ledger.held('non-UTF-8 name');
  });
});
