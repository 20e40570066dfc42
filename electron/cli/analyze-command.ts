// `npm run cli -- analyze <file|dir>... [--json] [--model <id>] [--threshold <t>] [--batch <n>] [--provider <p>]`
// One line per file. Exit 0 when at least one file was analysed, 1 when none could be, 2 for usage errors.
import { INPUT_MODES, type InputMode } from '../services/engine/multi-crop';
import { analyzeFiles, AnalyzeError, isAnalyzeFailure, type AnalyzeResult, type AnalyzeSummary } from '../services/engine/analyze';
import { DetectorSessionError } from '../services/engine/detector-session';
import { isProviderPreference, unknownProviderMessage, type ProviderPreference } from '../services/engine/execution-providers';
import { ModelRegistryError } from '../services/engine/model-registry';

export interface AnalyzeCommandContext {
  dataDir: string;
  json: boolean;
  print(obj: unknown): void;
  printError(obj: unknown): void;
}

export const ANALYZE_USAGE = [
  'Usage: npm run cli -- analyze <file|dir>... [--json] [--model <id>] [--threshold <t>] [--input-mode resize|crops] [--batch <n>] [--provider <p>]',
  '',
  'Says for each image whether it is a real photograph or AI-generated. Folders are searched recursively.',
  '  --json            one JSON object per line: {path, sha256, pSynthetic, verdict, threshold, inconclusiveBand, inputMode, crops, model, provider, ms}',
  '                    verdict is "synthetic", "real" or "inconclusive" (pSynthetic inside the model card\'s band below the threshold)',
  '                    or {path, error: {code, message}} for a file that cannot be analysed',
  '  --model <id>      the detector to use (default: the default model)',
  '  --threshold <t>   decision threshold in [0, 1] (default: the model card\'s, chosen on validation data; drops the inconclusive band)',
  '  --input-mode <m>  crops: score 256×256 windows at native resolution and average their logits; resize: the paper\'s',
  '                    whole-image stretch to 256×256 (default: the model card\'s)',
  '  --batch <n>       images per inference batch, 1-256 (default 8)',
  '  --provider <p>    auto | cpu | cuda | dml | coreml | webgpu (default auto; falls back to cpu)',
  '',
  'Exit status: 0 when at least one file was analysed, 1 when none could be, 2 for a usage error.',
].join('\n');

interface ParsedArgs {
  inputs: string[];
  json: boolean;
  help: boolean;
  modelId?: string;
  threshold?: number;
  batchSize?: number;
  provider?: ProviderPreference;
  inputMode?: InputMode;
}

export function parseAnalyzeArgs(argv: readonly string[]): ParsedArgs | { error: string } {
  const out: ParsedArgs = { inputs: [], json: false, help: false };
  const takeValue = (i: number, flag: string): string | { error: string } => {
    const v = argv[i + 1];
    if (v === undefined || (v.startsWith('--') && v.length > 2)) return { error: `${flag} needs a value` };
    return v;
  };
  let onlyPaths = false;
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i];
    if (onlyPaths || !arg.startsWith('--')) {
      out.inputs.push(arg);
      continue;
    }
    if (arg === '--') {
      onlyPaths = true;
      continue;
    }
    let inline: string | undefined;
    const eq = arg.indexOf('=');
    if (eq > 0) {
      inline = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    if (arg === '--json') out.json = true;
    else if (arg === '--help') out.help = true;
    else if (['--model', '--threshold', '--batch', '--provider', '--input-mode'].includes(arg)) {
      let value: string;
      if (inline !== undefined) value = inline;
      else {
        const v = takeValue(i, arg);
        if (typeof v !== 'string') return v;
        value = v;
        i++;
      }
      if (arg === '--model') out.modelId = value;
      else if (arg === '--input-mode') {
        if (!(INPUT_MODES as readonly string[]).includes(value)) return { error: `--input-mode must be ${INPUT_MODES.join(' or ')}, got "${value}"` };
        out.inputMode = value as InputMode;
      }
      else if (arg === '--threshold') {
        const t = Number(value);
        if (value.trim() === '' || !Number.isFinite(t) || t < 0 || t > 1) return { error: `--threshold must be a number from 0 to 1, got "${value}"` };
        out.threshold = t;
      } else if (arg === '--batch') {
        const n = Number(value);
        if (!/^\d+$/.test(value) || n < 1 || n > 256) return { error: `--batch must be an integer from 1 to 256, got "${value}"` };
        out.batchSize = n;
      } else {
        if (!isProviderPreference(value)) return { error: unknownProviderMessage(value) };
        out.provider = value;
      }
    } else return { error: `Unknown option ${arg}` };
  }
  return out;
}

function formatText(r: AnalyzeResult): string {
  if (isAnalyzeFailure(r)) return `error      ${r.error.code.padEnd(18)} ${r.path}: ${r.error.message}`;
  return `${r.verdict.padEnd(10)} p=${r.pSynthetic.toFixed(4)}  ${r.path}`;
}

export async function runAnalyzeCommand(argv: readonly string[], ctx: AnalyzeCommandContext): Promise<number> {
  const parsed = parseAnalyzeArgs(argv);
  if ('error' in parsed) {
    ctx.printError(`${parsed.error}\n\n${ANALYZE_USAGE}`);
    return 2;
  }
  if (parsed.help) {
    ctx.print(ANALYZE_USAGE);
    return 0;
  }
  if (parsed.inputs.length === 0) {
    ctx.printError(`analyze needs at least one file or folder\n\n${ANALYZE_USAGE}`);
    return 2;
  }
  const json = ctx.json || parsed.json;
  let summary: AnalyzeSummary | undefined;
  try {
    const run = analyzeFiles(parsed.inputs, {
      dataDir: ctx.dataDir,
      modelId: parsed.modelId,
      threshold: parsed.threshold,
      inputMode: parsed.inputMode,
      batchSize: parsed.batchSize,
      provider: parsed.provider,
      onReady: ({ session }) => {
        if (session.providerNote && !json) ctx.printError(`note: ${session.providerNote}`);
      },
    });
    for (;;) {
      const next = await run.next();
      if (next.done) {
        summary = next.value;
        break;
      }
      const r = next.value;
      // JSON lines all go to stdout so a pipeline sees every file; text errors go to stderr.
      if (json) ctx.print(r);
      else if (isAnalyzeFailure(r)) ctx.printError(formatText(r));
      else ctx.print(formatText(r));
    }
  } catch (e) {
    if (e instanceof ModelRegistryError || e instanceof DetectorSessionError || e instanceof AnalyzeError) {
      const error = { code: e.code, message: e.message };
      ctx.printError(json ? { error } : `${e.code}: ${e.message}`);
      return e instanceof AnalyzeError ? 2 : 1;
    }
    throw e;
  }
  const s = summary!;
  const line = `${s.analysed} analysed, ${s.failed} failed, model ${s.model.id} on ${s.provider}, ${s.seconds.toFixed(1)} s`;
  if (json) ctx.printError({ summary: s });
  else ctx.printError(line);
  return s.analysed > 0 ? 0 : 1;
}
