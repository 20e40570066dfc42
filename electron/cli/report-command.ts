// `npm run cli -- report <case> --out <file.pdf> [--evidence <id>...]` and `report verify <file.pdf>`.
import fs from 'node:fs';
import os from 'node:os';
import { CaseStore, isCaseStoreError } from '../services/case-store';
import { exportCaseReport, verifyReportFile } from '../services/report/case-report';
import type { CliContext } from './cli-context';

export const REPORT_USAGE = [
  'Usage: npm run cli -- report <case> --out <file.pdf> [--evidence <id>...] [--at <iso time>] [--time-zone <IANA zone>] [--actor <name>]',
  '                     [--sign <cert.p12> [--passphrase-env <VAR>] [--reason <text>] [--location <text>]]',
  '       npm run cli -- report verify <file.pdf>',
  '',
  '  report <case>    writes the PDF case report (all evidence, or the --evidence ids), keeps a copy in the',
  '                   case folder and records its sha256 in the case\'s audit chain; --at fixes the export',
  '                   time the report states (same case state + same time = same bytes)',
  '  --sign           signs the PDF with a PKCS#12 certificate; its passphrase is read from the environment',
  '                   variable named by --passphrase-env (never from the command line)',
  '  report verify    exit 0 when the file is a report this store issued, unchanged; 1 otherwise',
].join('\n');

class UsageError extends Error {}

function parse(argv: readonly string[]) {
  const positional: string[] = [];
  const evidence: string[] = [];
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--evidence') {
      // Takes every following value up to the next option, and may be repeated; commas split too.
      let took = 0;
      while (i + 1 < argv.length && !argv[i + 1].startsWith('--')) {
        evidence.push(...argv[++i].split(',').filter(Boolean));
        took++;
      }
      if (!took) throw new UsageError('--evidence needs at least one evidence id.');
    } else if (a.startsWith('--evidence=')) evidence.push(...a.slice('--evidence='.length).split(',').filter(Boolean));
    else if (['--out', '--at', '--time-zone', '--actor', '--sign', '--passphrase-env', '--reason', '--location'].includes(a)) {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value.`);
      flags.set(a.slice(2), v);
    } else if (a.startsWith('--')) throw new UsageError(`Unknown option ${a}.`);
    else positional.push(a);
  }
  return { positional, evidence, flags };
}

function defaultActor(): string {
  try {
    return os.userInfo().username || 'unknown';
  } catch {
    return 'unknown';
  }
}

export async function runReportCommand(argv: string[], ctx: CliContext & { signal?: AbortSignal }): Promise<number> {
  let store: CaseStore | undefined;
  try {
    const { positional, evidence, flags } = parse(argv);
    if (!positional.length) throw new UsageError('report needs a case id or number, or "verify <file.pdf>".');
    if (positional[0] === 'verify') {
      const file = positional[1];
      if (!file || positional.length > 2) throw new UsageError('report verify needs exactly one PDF file.');
      store = CaseStore.open(ctx.dataDir);
      const verdict = await verifyReportFile(store, file);
      if (ctx.json) ctx.print(verdict);
      else if (verdict.status === 'issued') {
        ctx.print(
          `OK: report ${verdict.report.id} of case ${verdict.caseNumber}, exported ${verdict.report.exportedAt} by ${verdict.report.exportedBy}, unchanged (sha256 ${verdict.sha256}).` +
            (verdict.storedCopyIntact ? '' : ' Note: the store\'s own copy of it is missing or altered; run "case verify".'),
        );
      } else ctx.printError(`NOT VERIFIED (${verdict.status}): ${verdict.message}`);
      return verdict.ok ? 0 : 1;
    }
    if (positional.length > 1) throw new UsageError(`Unexpected argument ${JSON.stringify(positional[1])}.`);
    const out = flags.get('out');
    if (!out) throw new UsageError('--out <file.pdf> is required.');
    const p12File = flags.get('sign');
    let sign: Parameters<typeof exportCaseReport>[2]['sign'];
    if (p12File) {
      let p12: Buffer;
      try {
        p12 = fs.readFileSync(p12File);
      } catch (e) {
        throw new UsageError(`Cannot read the certificate ${p12File}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}.`);
      }
      const envName = flags.get('passphrase-env');
      if (envName && process.env[envName] === undefined) throw new UsageError(`The environment variable ${envName} (--passphrase-env) is not set.`);
      const actor = flags.get('actor') ?? defaultActor();
      sign = { p12, passphrase: envName ? process.env[envName] : '', name: actor, reason: flags.get('reason') ?? 'Forensic case report', location: flags.get('location') ?? os.hostname(), contactInfo: actor };
    } else if (flags.has('passphrase-env')) throw new UsageError('--passphrase-env goes with --sign <cert.p12>.');
    store = CaseStore.open(ctx.dataDir);
    let lastShown = -1;
    const result = await exportCaseReport(store, positional[0], {
      dataDir: ctx.dataDir,
      actor: flags.get('actor') ?? defaultActor(),
      outFile: out,
      exportedAt: flags.get('at'),
      timeZone: flags.get('time-zone'),
      evidenceIds: evidence.length ? evidence : undefined,
      sign,
      signal: ctx.signal,
      onProgress: (done, total) => {
        if (ctx.json || !total) return;
        const step = Math.floor((done / total) * 10);
        if (step !== lastShown) {
          lastShown = step;
          ctx.printError(`  ${done}/${total} evidence items laid out`);
        }
      },
    });
    ctx.print({
      reportId: result.report.id,
      caseId: result.report.caseId,
      file: result.outFile,
      storedCopy: result.file,
      sha256: result.report.sha256,
      sizeBytes: result.report.sizeBytes,
      pages: result.report.pageCount,
      evidence: result.report.evidenceIds.length,
      auditHead: result.report.auditHead,
      verifyOk: result.report.verifyOk,
      signed: result.report.signed,
      failedHashCheck: result.failedHashCheck,
    });
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      ctx.printError({ error: 'USAGE', message: e.message });
      if (!ctx.json) ctx.printError(REPORT_USAGE);
      return 2;
    }
    if (isCaseStoreError(e)) {
      ctx.printError({ error: e.code, message: e.message, details: e.details });
      return e.code === 'CANCELLED' ? 130 : 1;
    }
    throw e;
  } finally {
    store?.close();
  }
}
