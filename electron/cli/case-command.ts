// `npm run cli -- case <subcommand>`: the case store from a shell, so the whole custody flow can be scripted.
import os from 'node:os';
import { readProviderPreference } from '../services/app/engine-settings';
import { CaseStore, databaseDamaged, isCaseStoreError, type EvidenceRecord } from '../services/case-store';
import { isProviderPreference, unknownProviderMessage, type ProviderPreference } from '../services/engine/execution-providers';

export interface AnalyzeFileResult {
  pSynthetic: number;
  verdict: string;
  threshold: number;
  model: { id: string; sha256: string };
  provider: string;
  ms: number;
}

export interface CaseCommandContext {
  dataDir: string;
  json: boolean;
  print(obj: unknown): void;
  printError(obj: unknown): void;
  /** The detector; `case analyze` needs it and says so when the host did not provide one. */
  analyzeFile?: (file: string, provider: ProviderPreference) => Promise<AnalyzeFileResult>;
  /** Cancels a running import or verify (the CLI wires Ctrl-C to it). */
  signal?: AbortSignal;
}

export const CASE_USAGE = [
  'Usage: npm run cli -- case <subcommand> [options]',
  '',
  '  create --number <n> --title <t> --examiner <e> [--agency <a>]   open a case; prints its id',
  '  list                                                             all cases with evidence counts',
  '  show <case>                                                      one case, its evidence and analyses',
  '  import <case> <file|dir>...                                      copy evidence in (exit 1 if any file was refused)',
  '  analyze <case> [--missing] [--provider <p>]                      run the detector on every stored item',
  '                                                                   (provider: the Settings choice unless given)',
  '  verify <case>                                                    re-hash files, walk the audit chain, compare every row',
  '                                                                   with its audit entry and the schema (exit 1 on any mismatch)',
  '  verify --global                                                  the global chain: settings, models, the schema',
  '  audit <case|global>                                              print the audit log',
  '  export <case> --out <file> [--force]                             write a portable case archive',
  '  import-archive <file>                                            import and verify a case archive',
  '',
  '<case> is a case id or a case number. --actor <name> sets who is recorded (default: the OS user).',
].join('\n');

class UsageError extends Error {}

function engineErrorCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown })?.code;
  return typeof code === 'string' && /^[A-Z][A-Z0-9_]*$/.test(code) ? code : undefined;
}

interface ParsedArgs {
  positional: string[];
  flags: Map<string, string | true>;
}

const VALUE_FLAGS = new Set(['number', 'title', 'examiner', 'agency', 'out', 'actor', 'provider']);
const BOOLEAN_FLAGS = new Set(['missing', 'force', 'help', 'global']);

function parseArgs(argv: readonly string[]): ParsedArgs {
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('--')) {
      positional.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = a.slice(2, eq === -1 ? undefined : eq);
    if (BOOLEAN_FLAGS.has(name)) flags.set(name, true);
    else if (VALUE_FLAGS.has(name)) {
      const value = eq === -1 ? argv[++i] : a.slice(eq + 1);
      if (value === undefined) throw new UsageError(`--${name} needs a value.`);
      flags.set(name, value);
    } else throw new UsageError(`Unknown option --${name}.`);
  }
  return { positional, flags };
}

function flag(args: ParsedArgs, name: string, required: true): string;
function flag(args: ParsedArgs, name: string, required?: false): string | undefined;
function flag(args: ParsedArgs, name: string, required = false): string | undefined {
  const v = args.flags.get(name);
  if (typeof v === 'string') return v;
  if (required) throw new UsageError(`--${name} is required.`);
  return undefined;
}

function defaultActor(): string {
  try {
    return os.userInfo().username || 'unknown';
  } catch {
    return 'unknown';
  }
}

const evidenceSummary = (e: EvidenceRecord) => ({
  id: e.id,
  sha256: e.sha256,
  originalPath: e.originalPath,
  storedPath: e.storedPath,
  mimeType: e.mimeType,
  width: e.width,
  height: e.height,
  sizeBytes: e.sizeBytes,
});

/** Runs one `case` subcommand; argv starts at the subcommand (a leading "case" is tolerated). */
export async function runCaseCommand(argv: string[], ctx: CaseCommandContext): Promise<number> {
  const rest = argv[0] === 'case' ? argv.slice(1) : argv;
  const [sub, ...tail] = rest;
  let args: ParsedArgs;
  try {
    args = parseArgs(tail);
  } catch (e) {
    ctx.printError({ error: 'USAGE', message: (e as Error).message });
    return 2;
  }
  if (!sub || sub === 'help' || args.flags.has('help')) {
    ctx.print(CASE_USAGE);
    return sub ? 0 : 2;
  }
  const actor = flag(args, 'actor') ?? defaultActor();
  let store: CaseStore | undefined;
  // Without a host-provided signal, Ctrl-C cancels an import or verify cleanly: no half-recorded file remains.
  const interrupt = new AbortController();
  const onSigint = () => interrupt.abort();
  const signal = ctx.signal ?? interrupt.signal;
  if (!ctx.signal && (sub === 'import' || sub === 'verify')) process.once('SIGINT', onSigint);
  try {
    const needCase = (): string => {
      const c = args.positional[0];
      if (!c) throw new UsageError(`case ${sub} needs a case id or number.`);
      return c;
    };
    const open = () => (store ??= CaseStore.open(ctx.dataDir));
    switch (sub) {
      case 'create': {
        const c = open().createCase(
          {
            caseNumber: flag(args, 'number', true),
            title: flag(args, 'title', true),
            examiner: flag(args, 'examiner', true),
            agency: flag(args, 'agency'),
          },
          flag(args, 'actor'),
        );
        ctx.print(c);
        return 0;
      }
      case 'list': {
        const cases = open().listCases();
        if (ctx.json) ctx.print({ cases });
        else if (!cases.length) ctx.print('No cases.');
        else
          for (const c of cases) {
            ctx.print(`${c.id}  ${c.caseNumber}  ${c.title}  (${c.evidenceCount} evidence${c.closedAt ? ', closed' : ''})`);
          }
        return 0;
      }
      case 'show': {
        const s = open();
        const c = s.getCase(needCase());
        ctx.print({
          ...c,
          evidence: s.listEvidence(c.id).map(evidenceSummary),
          analyses: s.listAnalyses(c.id),
          notes: s.listNotes(c.id),
          tags: s.listTags(c.id),
        });
        return 0;
      }
      case 'import': {
        const caseRef = needCase();
        const inputs = args.positional.slice(1);
        if (!inputs.length) throw new UsageError('case import needs at least one file or folder.');
        const s = open();
        let lastShown = -1;
        const result = await s.ingest(caseRef, inputs, {
          actor,
          signal,
          onProgress: (p) => {
            // Progress goes to stderr in text mode only, about every 5%, so JSON output stays one object.
            if (ctx.json || p.phase !== 'copying' || !p.filesTotal) return;
            const pct = Math.floor((p.filesDone / p.filesTotal) * 20);
            if (pct !== lastShown) {
              lastShown = pct;
              ctx.printError(`  ${p.filesDone}/${p.filesTotal} files`);
            }
          },
        });
        ctx.print({
          caseId: result.caseId,
          added: result.added.map(evidenceSummary),
          duplicates: result.duplicates,
          failed: result.failed,
          orphansRemoved: result.orphansRemoved,
          cancelled: result.cancelled,
        });
        if (result.cancelled) return 130;
        return result.failed.length ? 1 : 0;
      }
      case 'analyze': {
        if (!ctx.analyzeFile) {
          ctx.printError({
            error: 'NO_DETECTOR',
            message: 'No detector is available to this command (analyzeFile was not provided); nothing was analysed.',
          });
          return 1;
        }
        const s = open();
        const c = s.getCase(needCase());
        const onlyMissing = args.flags.has('missing');
        const asked = flag(args, 'provider');
        if (asked !== undefined && !isProviderPreference(asked)) throw new UsageError(`${unknownProviderMessage(asked)}.`);
        const provider = asked ?? readProviderPreference(s);
        const results: unknown[] = [];
        const failed: unknown[] = [];
        for (const e of s.listEvidence(c.id)) {
          if (onlyMissing && s.listAnalysesForEvidence(e.id).length) continue;
          try {
            const r = await ctx.analyzeFile(s.evidenceFilePath(e), provider);
            const a = s.recordAnalysis({
              evidenceId: e.id,
              model: r.model,
              provider: r.provider,
              pSynthetic: r.pSynthetic,
              verdict: r.verdict,
              threshold: r.threshold,
              durationMs: r.ms,
              actor,
            });
            results.push({ originalName: e.originalName, ...a });
          } catch (err) {
            failed.push({
              evidenceId: e.id,
              originalName: e.originalName,
              // The engine's reason (TRUNCATED, TOO_MANY_PIXELS...) is what an examiner acts on.
              error: isCaseStoreError(err) ? err.code : engineErrorCode(err) ?? 'ANALYSIS_FAILED',
              message: (err as Error).message,
            });
          }
        }
        ctx.print({ caseId: c.id, analyses: results, failed });
        return failed.length ? 1 : 0;
      }
      case 'verify': {
        if (args.flags.has('global') || args.positional[0] === 'global') {
          const report = open().verifyGlobal();
          ctx.print(report);
          if (!report.ok && !ctx.json) ctx.printError(`The global chain: ${report.issues.length} mismatch(es).`);
          return report.ok ? 0 : 1;
        }
        const report = await open().verifyCase(needCase(), { signal });
        ctx.print(report);
        if (!report.ok && !ctx.json) ctx.printError(`Case ${report.caseId}: ${report.issues.length} mismatch(es).`);
        return report.ok ? 0 : 1;
      }
      case 'audit': {
        ctx.print({ entries: open().auditLog(needCase()) });
        return 0;
      }
      case 'export': {
        const result = await open().exportCase(needCase(), flag(args, 'out', true), {
          actor,
          allowUnverified: args.flags.has('force'),
        });
        ctx.print(result);
        return 0;
      }
      case 'import-archive': {
        const file = args.positional[0];
        if (!file) throw new UsageError('case import-archive needs an archive file.');
        const result = await open().importCaseArchive(file, { actor });
        ctx.print(result);
        return result.verify.ok ? 0 : 1;
      }
      default:
        throw new UsageError(`Unknown case subcommand "${sub}".`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      ctx.printError({ error: 'USAGE', message: e.message });
      if (!ctx.json) ctx.printError(CASE_USAGE);
      return 2;
    }
    if (isCaseStoreError(e)) {
      ctx.printError({ error: e.code, message: e.message, details: e.details });
      return 1;
    }
    // A database that fails after it opened (a page damaged since): a sentence, not a stack trace.
    const damaged = databaseDamaged(store?.dbFile ?? ctx.dataDir, e);
    if (isCaseStoreError(damaged)) {
      ctx.printError({ error: damaged.code, message: damaged.message, details: damaged.details });
      return 1;
    }
    throw e;
  } finally {
    process.off('SIGINT', onSigint);
    store?.close();
  }
}
