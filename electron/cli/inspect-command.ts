// `npm run cli -- inspect <image>... [--json] [--out <dir>] [--ela-quality <q>] [--analyze]`
// Provenance and classic forensics for image files outside any case: metadata, generator traces,
// content credentials (C2PA), spectrum peaks, ELA, and one combined finding. Files are only read.
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { inspectImageFile, summarizeProvenanceFinding, type ClassifierWitness } from '../services/provenance';

export interface InspectCommandContext {
  dataDir: string;
  json: boolean;
  print(obj: unknown): void;
  printError(obj: unknown): void;
}

export const INSPECT_USAGE = [
  'Usage: npm run cli -- inspect <image>... [--json] [--out <dir>] [--ela-quality <q>] [--analyze]',
  '',
  'What the file says about itself and what the classic forensic views show, combined into one finding:',
  'EXIF/XMP/IPTC/ICC metadata, JPEG quantisation tables, AI generator traces (with byte offsets),',
  'C2PA content credentials (validated with @trustnxt/c2pa-ts; signers are not checked against a trust list),',
  'spectral peaks of the noise residual, error level analysis. GPS is printed, never sent anywhere.',
  '  --json             one JSON object per file: the whole report, or {path, error:{code,message}}',
  '  --out <dir>        also write <dir>/<name>.spectrum.png, .ela.png and .noise.png',
  '  --ela-quality <q>  JPEG quality of the ELA re-save, 50-100 (default 90)',
  '  --analyze          also run the default detector and weigh its verdict in',
  '',
  'Exit status: 0 when every file was inspected, 1 when one could not be read, 2 for a usage error.',
].join('\n');

interface InspectArgs {
  inputs: string[];
  outDir?: string;
  elaQuality?: number;
  analyze: boolean;
  help: boolean;
}

export function parseInspectArgs(argv: readonly string[]): InspectArgs | { error: string } {
  const out: InspectArgs = { inputs: [], analyze: false, help: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') out.help = true;
    else if (a === '--analyze') out.analyze = true;
    else if (a === '--out') {
      out.outDir = argv[++i];
      if (!out.outDir) return { error: '--out needs a folder' };
    } else if (a === '--ela-quality') {
      const q = Number(argv[++i]);
      if (!Number.isInteger(q) || q < 50 || q > 100) return { error: '--ela-quality must be an integer from 50 to 100' };
      out.elaQuality = q;
    } else if (a.startsWith('--')) return { error: `Unknown option ${a}` };
    else out.inputs.push(a);
  }
  if (!out.help && out.inputs.length === 0) return { error: 'inspect needs at least one image' };
  return out;
}

/** Temp name, fsync, rename: an interrupted run never leaves a half-written view. */
function writeAtomically(file: string, bytes: Buffer): void {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${crypto.randomUUID()}.part`);
  const fd = fs.openSync(temp, 'wx', 0o644);
  try {
    fs.writeSync(fd, bytes);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(temp, file);
}

async function classifierFor(file: string, dataDir: string): Promise<ClassifierWitness | null> {
  const { analyzeFiles, isAnalyzeFailure } = await import('../services/engine/analyze');
  for await (const r of analyzeFiles([file], { dataDir })) {
    if (isAnalyzeFailure(r)) return null;
    return { verdict: r.verdict, pSynthetic: r.pSynthetic, threshold: r.threshold, modelId: r.model.id };
  }
  return null;
}

export async function runInspectCommand(argv: readonly string[], ctx: InspectCommandContext): Promise<number> {
  const args = parseInspectArgs(argv);
  if ('error' in args) {
    ctx.printError(`${args.error}\n\n${INSPECT_USAGE}`);
    return 2;
  }
  if (args.help) {
    ctx.print(INSPECT_USAGE);
    return 0;
  }
  if (args.outDir) fs.mkdirSync(args.outDir, { recursive: true });
  let failed = 0;
  for (const input of args.inputs) {
    try {
      const classifier = args.analyze ? await classifierFor(input, ctx.dataDir) : null;
      const { report, images } = await inspectImageFile(input, { elaQuality: args.elaQuality, classifier });
      const written: string[] = [];
      if (args.outDir) {
        const base = path.basename(input).replace(/[^\w.-]+/g, '_');
        for (const [kind, bytes] of Object.entries(images)) {
          if (!bytes) continue;
          const file = path.join(args.outDir, `${base}.${kind}.png`);
          writeAtomically(file, bytes);
          written.push(file);
        }
      }
      if (ctx.json) ctx.print({ path: input, ...report, images: written });
      else ctx.print(`${input}\n${summarizeProvenanceFinding(report, 40).replace(/^/gm, '  ')}${written.length ? `\n  Views: ${written.join(', ')}` : ''}`);
    } catch (e) {
      failed++;
      const err = e as NodeJS.ErrnoException;
      const code = err.code === 'ENOENT' ? 'FILE_NOT_FOUND' : (err.code ?? 'INSPECT_FAILED');
      ctx.printError(ctx.json ? { path: input, error: { code, message: err.message } } : `${input}: ${err.message}`);
    }
  }
  return failed ? 1 : 0;
}
