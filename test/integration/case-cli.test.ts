import { describe, it, expect } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { analyzeFiles, isAnalyzeFailure } from '../../electron/services/engine/analyze';
import { runCaseCommand, type AnalyzeFileResult, type CaseCommandContext } from '../../electron/cli/case-command';
import { datasetImages, sha256OfFile, stageImages, tempDir } from '../fixtures/case-store/case-fixtures';
import { updateSettings } from '../../electron/services/app/engine-settings';
import { CaseStore } from '../../electron/services/case-store';
import type { ProviderPreference } from '../../electron/services/engine/execution-providers';

interface Captured {
  out: unknown[];
  err: unknown[];
}

function context(dataDir: string, extra: Partial<CaseCommandContext> = {}): CaseCommandContext & Captured {
  const out: unknown[] = [];
  const err: unknown[] = [];
  return { dataDir, json: true, out, err, print: (o) => out.push(o), printError: (o) => err.push(o), ...extra };
}

// The real engine with the shipped default detector (fused at install), on the stored copies; it
// remembers which execution provider each call asked for.
const providersAsked: ProviderPreference[] = [];
async function realDetector(file: string, provider: ProviderPreference): Promise<AnalyzeFileResult> {
  providersAsked.push(provider);
  for await (const r of analyzeFiles([file], { dataDir: tempDir('case-cli-models'), provider })) {
    if (isAnalyzeFailure(r)) throw new Error(r.error.message);
    return r;
  }
  throw new Error(`no result for ${file}`);
}

describe('case CLI', () => {
  it('scripts the whole flow: create, import, analyze, verify, export, import-archive', async () => {
    const dataDir = tempDir('case-cli');
    let ctx = context(dataDir);
    expect(await runCaseCommand(['create', '--number', '2024-001', '--title', 'Fake photo', '--examiner', 'ann', '--agency', 'Lab'], ctx)).toBe(0);
    const created = ctx.out[0] as { id: string; caseNumber: string; agency: string };
    expect(created).toMatchObject({ id: expect.stringMatching(/^[0-9a-f-]{36}$/), caseNumber: '2024-001', agency: 'Lab' });

    ctx = context(dataDir);
    expect(await runCaseCommand(['case', 'list'], ctx)).toBe(0);
    expect(ctx.out[0]).toMatchObject({ cases: [{ id: created.id, evidenceCount: 0 }] });

    const src = stageImages(datasetImages(3));
    fs.writeFileSync(path.join(src, 'readme.txt'), 'not evidence');
    ctx = context(dataDir);
    // Exit 1 says "something was refused"; the images still went in.
    expect(await runCaseCommand(['import', '2024-001', src, '--actor', 'ann'], ctx)).toBe(1);
    const imported = ctx.out[0] as { added: { sha256: string }[]; failed: { code: string }[] };
    expect(imported.added).toHaveLength(3);
    expect(imported.failed).toEqual([expect.objectContaining({ code: 'NOT_AN_IMAGE' })]);

    ctx = context(dataDir);
    expect(await runCaseCommand(['analyze', created.id], ctx)).toBe(1);
    expect(ctx.err[0]).toMatchObject({ error: 'NO_DETECTOR' });

    ctx = context(dataDir, { analyzeFile: realDetector });
    expect(await runCaseCommand(['analyze', created.id], ctx)).toBe(0);
    const analyses = (ctx.out[0] as { analyses: { model: { id: string }; pSynthetic: number }[] }).analyses;
    expect(analyses).toHaveLength(3);
    expect(analyses.every((a) => a.model.id === 'default-mobilenet-v2' && a.pSynthetic >= 0 && a.pSynthetic <= 1)).toBe(true);
    ctx = context(dataDir, { analyzeFile: realDetector });
    expect(await runCaseCommand(['analyze', created.id, '--missing'], ctx)).toBe(0);
    expect((ctx.out[0] as { analyses: unknown[] }).analyses).toEqual([]);

    ctx = context(dataDir);
    expect(await runCaseCommand(['verify', created.id], ctx)).toBe(0);
    expect(ctx.out[0]).toMatchObject({ ok: true, evidenceChecked: 3 });

    const archive = path.join(tempDir('case-cli-out'), 'case.tar');
    ctx = context(dataDir);
    expect(await runCaseCommand(['export', created.id, '--out', archive], ctx)).toBe(0);
    expect(ctx.out[0]).toMatchObject({ file: archive, sha256: sha256OfFile(archive) });

    const otherDir = tempDir('case-cli-other');
    ctx = context(otherDir);
    expect(await runCaseCommand(['import-archive', archive], ctx)).toBe(0);
    expect(ctx.out[0]).toMatchObject({ caseId: created.id, evidence: 3, verify: { ok: true } });
    ctx = context(otherDir);
    expect(await runCaseCommand(['show', '2024-001'], ctx)).toBe(0);
    expect((ctx.out[0] as { analyses: unknown[] }).analyses).toHaveLength(3);

    ctx = context(otherDir);
    expect(await runCaseCommand(['audit', created.id], ctx)).toBe(0);
    const actions = (ctx.out[0] as { entries: { action: string }[] }).entries.map((e) => e.action);
    expect(actions[0]).toBe('case.created');
    expect(actions.at(-1)).toBe('case.imported');
  });

  it('analyses with the provider chosen in Settings unless --provider says otherwise', async () => {
    const dataDir = tempDir('case-cli');
    let ctx = context(dataDir);
    await runCaseCommand(['create', '--number', 'P-1', '--title', 't', '--examiner', 'ann'], ctx);
    const id = (ctx.out[0] as { id: string }).id;
    await runCaseCommand(['import', id, stageImages(datasetImages(1)), '--actor', 'ann'], context(dataDir));
    const store = CaseStore.open(dataDir);
    try {
      updateSettings(store, { providerPreference: 'cpu' }, 'ann');
    } finally {
      store.close();
    }

    providersAsked.length = 0;
    ctx = context(dataDir, { analyzeFile: realDetector });
    expect(await runCaseCommand(['analyze', id], ctx)).toBe(0);
    // CoreML exists only on macOS: the real engine falls back to the CPU and records that.
    ctx = context(dataDir, { analyzeFile: realDetector });
    expect(await runCaseCommand(['analyze', id, '--provider', 'coreml'], ctx)).toBe(0);
    expect(providersAsked).toEqual(['cpu', 'coreml']);
    expect((ctx.out[0] as { analyses: { provider: string }[] }).analyses).toEqual([expect.objectContaining({ provider: 'cpu' })]);

    ctx = context(dataDir, { analyzeFile: realDetector });
    expect(await runCaseCommand(['analyze', id, '--provider', 'tpu'], ctx)).toBe(2);
    expect(JSON.stringify(ctx.err)).toContain('--provider must be one of auto, cuda, dml, coreml, webgpu, cpu');
  });

  it('verify exits 1 and names the changed file', async () => {
    const dataDir = tempDir('case-cli');
    let ctx = context(dataDir);
    await runCaseCommand(['create', '--number', 'V-1', '--title', 't', '--examiner', 'ann'], ctx);
    const id = (ctx.out[0] as { id: string }).id;
    ctx = context(dataDir);
    await runCaseCommand(['import', id, datasetImages(1)[0]], ctx);
    const stored = (ctx.out[0] as { added: { storedPath: string; id: string }[] }).added[0];
    const file = path.join(dataDir, 'cases', id, stored.storedPath);
    fs.chmodSync(file, 0o644);
    fs.writeFileSync(file, 'replaced');
    ctx = context(dataDir);
    expect(await runCaseCommand(['verify', id], ctx)).toBe(1);
    expect(ctx.out[0]).toMatchObject({ ok: false, issues: [{ kind: 'evidence-modified', evidenceId: stored.id }, { kind: 'evidence-mode-changed', evidenceId: stored.id }] });
  });

  it('answers usage mistakes with exit 2 and unknown cases with a typed error', async () => {
    const dataDir = tempDir('case-cli');
    const cases: [string[], number, string][] = [
      [[], 2, ''],
      [['create', '--number', 'x'], 2, '--title is required'],
      [['create', '--bogus'], 2, 'Unknown option --bogus'],
      [['frobnicate'], 2, 'Unknown case subcommand'],
      [['import', 'x'], 2, 'at least one file'],
      [['verify', 'no-such-case'], 1, 'CASE_NOT_FOUND'],
      [['export', 'no-such-case', '--out', path.join(dataDir, 'x.tar')], 1, 'CASE_NOT_FOUND'],
      [['import-archive', path.join(dataDir, 'missing.tar')], 1, 'SOURCE_NOT_FOUND'],
    ];
    for (const [argv, code, text] of cases) {
      const ctx = context(dataDir);
      expect(await runCaseCommand(argv, ctx), argv.join(' ')).toBe(code);
      expect(JSON.stringify([...ctx.err, ...ctx.out])).toContain(text);
    }
  });
});
