// `npm run cli -- explain <image> [--methods gradcam,ablationcam,layercam,scorecam,lime] --out <dir>
//   [--model <id>] [--provider <p>] [--target decision|synthetic|real] [--json] ...`
// Writes <dir>/<method>.png (overlay) and <dir>/<method>.heatmap.json (the float map) and prints one
// line per method: {"method","ms","peak":{"x","y"},"map"}, peak in the image's own pixels.
import path from 'node:path';
import { ImageInputError } from '../services/engine/preprocess';
import { ModelRegistryError } from '../services/engine/model-registry';
import { DetectorSessionError, providerReport } from '../services/engine/detector-session';
import { ExplainError } from '../services/explainers/explain-errors';
import { explainImage, parseMethods, type MethodOptions } from '../services/explainers/explain-image';
import { EXPLAIN_METHODS, type ExplainMethod, type ExplainTarget } from '../services/explainers/explain-types';
import { ExplanationCache } from '../services/explainers/explanation-cache';
import type { ColormapName } from '../services/explainers/colormap';
import { openRegisteredModel, releaseExplainerSessions } from '../services/explainers/registered-model';
import { isProviderPreference, PROVIDER_NAMES, unknownProviderMessage, type ProviderPreference } from '../services/engine/execution-providers';

export interface ExplainCommandContext {
  dataDir: string;
  json: boolean;
  print(obj: unknown): void;
  printError(obj: unknown): void;
}

export const EXPLAIN_USAGE = [
  'Usage: npm run cli -- explain <image> --out <dir> [options]',
  '',
  'Shows which parts of an image drove the detector\'s decision, one overlay per method.',
  `  --methods <list>    comma-separated, from ${EXPLAIN_METHODS.join(', ')} (default: all)`,
  '  --out <dir>         where <method>.png and <method>.heatmap.json are written (required)',
  '  --model <id>        the detector (default: the default model)',
  `  --provider <p>      execution provider of the detector: auto (default), ${PROVIDER_NAMES.join(', ')}`,
  '  --target <t>        decision (default: the class the detector chose), synthetic or real',
  '  --opacity <a>       heatmap opacity in [0,1] (default 0.5)',
  '  --colormap <name>   jet or turbo (default jet)',
  '  --layer <name>      LayerCAM layer (default: the shallowest layer the backbone exposes)',
  '  --topk <k>          Faster Score-CAM channels (default 32)',
  '  --samples <n>       LIME samples (default 1000)',
  '  --segments <n>      LIME superpixels (default 64)',
  '  --seed <n>          LIME seed (default 0; the same seed gives the same explanation)',
  '  --no-cache          recompute even when a cached explanation exists',
  '  --json              one JSON object per line',
  '',
  'Each line: {"method","ms","peak":{"x","y"},"map"} plus target, pSynthetic, flat, forwardPasses, cached,',
  'and provider (and providerNote) when the map was computed in this run.',
  'Exit status: 0 when every method succeeded, 1 on a failure, 2 for a usage error.',
].join('\n');

interface ParsedExplainArgs {
  image?: string;
  outDir?: string;
  methods: ExplainMethod[];
  modelId?: string;
  provider?: ProviderPreference;
  target: ExplainTarget | 'decision';
  opacity?: number;
  colormap?: ColormapName;
  methodOptions: MethodOptions;
  cache: boolean;
  help: boolean;
}

function number(flag: string, v: string, integer: boolean): number | { error: string } {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n))) return { error: `${flag} needs ${integer ? 'an integer' : 'a number'}, got "${v}"` };
  return n;
}

export function parseExplainArgs(argv: readonly string[]): ParsedExplainArgs | { error: string } {
  const out: ParsedExplainArgs = { methods: [...EXPLAIN_METHODS], target: 'decision', methodOptions: {}, cache: true, help: false };
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i];
    if (!arg.startsWith('--') || arg === '--') {
      if (arg !== '--') positional.push(arg);
      else positional.push(...argv.slice(i + 1));
      if (arg === '--') break;
      continue;
    }
    let value: string | undefined;
    const eq = arg.indexOf('=');
    if (eq > 0) {
      value = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    const flagsWithoutValue = ['--help', '--no-cache', '--json'];
    if (!flagsWithoutValue.includes(arg) && value === undefined) {
      value = argv[++i];
      if (value === undefined) return { error: `${arg} needs a value` };
    }
    const v = value ?? '';
    switch (arg) {
      case '--help':
        out.help = true;
        break;
      case '--json':
        break;
      case '--no-cache':
        out.cache = false;
        break;
      case '--out':
        out.outDir = v;
        break;
      case '--model':
        out.modelId = v;
        break;
      case '--provider':
        if (!isProviderPreference(v)) return { error: unknownProviderMessage(v) };
        out.provider = v;
        break;
      case '--methods':
        try {
          out.methods = parseMethods(v);
        } catch (e) {
          return { error: (e as Error).message };
        }
        break;
      case '--target':
        if (v === 'decision') out.target = 'decision';
        else if (v === 'synthetic' || v === 'real') out.target = { class: v };
        else return { error: `--target must be decision, synthetic or real, got "${v}"` };
        break;
      case '--opacity': {
        const n = number(arg, v, false);
        if (typeof n !== 'number') return n;
        if (n < 0 || n > 1) return { error: `--opacity must be in [0,1], got ${n}` };
        out.opacity = n;
        break;
      }
      case '--colormap':
        if (v !== 'jet' && v !== 'turbo') return { error: `--colormap must be jet or turbo, got "${v}"` };
        out.colormap = v;
        break;
      case '--layer':
        out.methodOptions.layercam = { layer: v };
        break;
      case '--topk': {
        const n = number(arg, v, true);
        if (typeof n !== 'number') return n;
        out.methodOptions.scorecam = { ...out.methodOptions.scorecam, topK: n };
        break;
      }
      case '--samples':
      case '--segments':
      case '--seed': {
        const n = number(arg, v, true);
        if (typeof n !== 'number') return n;
        out.methodOptions.lime = { ...out.methodOptions.lime, [arg.slice(2)]: n };
        break;
      }
      default:
        return { error: `Unknown option ${arg}` };
    }
  }
  if (out.help) return out;
  if (positional.length !== 1) return { error: positional.length === 0 ? 'Give one image to explain' : `Give one image, got ${positional.length}` };
  out.image = positional[0];
  if (!out.outDir) return { error: '--out <dir> is required' };
  return out;
}

function errorBody(e: unknown): { code: string; message: string } | undefined {
  if (e instanceof ExplainError || e instanceof ImageInputError || e instanceof ModelRegistryError || e instanceof DetectorSessionError) {
    return { code: e.code, message: e.message };
  }
  return undefined;
}

export async function runExplainCommand(argv: string[], ctx: ExplainCommandContext): Promise<number> {
  const parsed = parseExplainArgs(argv);
  if ('error' in parsed) {
    ctx.printError(ctx.json ? { error: { code: 'USAGE', message: parsed.error } } : `${parsed.error}\n\n${EXPLAIN_USAGE}`);
    return 2;
  }
  if (parsed.help) {
    ctx.print(EXPLAIN_USAGE);
    return 0;
  }
  let failed = false;
  let opened: Awaited<ReturnType<typeof openRegisteredModel>> | undefined;
  try {
    opened = await openRegisteredModel({ dataDir: ctx.dataDir, modelId: parsed.modelId, session: { preference: parsed.provider } });
    const engine = providerReport(opened);
    if (!ctx.json && opened.providerNote) ctx.printError(`note: ${opened.providerNote}`);
    const model = opened.model;
    const result = await explainImage(path.resolve(parsed.image!), {
      model: opened.model,
      normalisation: opened.normalisation,
      methods: parsed.methods,
      target: parsed.target,
      threshold: opened.threshold,
      calibration: opened.calibration,
      methodOptions: parsed.methodOptions,
      overlay: { opacity: parsed.opacity, colormap: parsed.colormap },
      outDir: path.resolve(parsed.outDir!),
      cache: parsed.cache ? new ExplanationCache(path.join(ctx.dataDir, 'cache', 'explanations')) : undefined,
      onResult: (r) =>
        ctx.print(
          ctx.json
            ? {
                method: r.method,
                ms: Math.round(r.ms * 10) / 10,
                peak: r.peak,
                map: r.map,
                heatmap: r.heatmap,
                target: r.target.class,
                pSynthetic: r.pSynthetic,
                flat: r.flat,
                forwardPasses: r.forwardPasses,
                cached: r.cached,
                model: { id: model.id, sha256: model.sha256 },
                // A cached map was computed by an earlier run, on whatever provider that run had.
                ...(r.cached ? {} : engine),
              }
            : `${r.method.padEnd(12)} ${r.cached ? 'cached' : `${Math.round(r.ms)} ms`.padStart(9)}  p(${r.target.class}) explained, p(synthetic) = ${r.pSynthetic.toFixed(3)}  peak (${r.peak.x}, ${r.peak.y})${r.flat ? ' [flat: no evidence]' : ''}  ${r.forwardPasses} passes  → ${r.map}`,
        ),
    });
    if (result.results.length !== parsed.methods.length) failed = true;
  } catch (e) {
    const body = errorBody(e);
    if (!body) throw e;
    ctx.printError(ctx.json ? { error: body } : `${body.code}: ${body.message}`);
    failed = true;
  } finally {
    await opened?.model.dispose();
    await releaseExplainerSessions();
  }
  return failed ? 1 : 0;
}
